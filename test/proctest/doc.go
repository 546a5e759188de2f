// Package proctest runs subprocesses for tests: the meridian binary, dig,
// unbound, zonemaster-cli, etcd and kube-apiserver all start through it, so
// every child of a test is handled the same way:
//
//   - in a process group of its own (Setpgid), killed as a whole group when
//     the test ends, and the rest of the group killed when the child exits,
//     so a child's children do not outlive it;
//   - with a parent-death signal (Pdeathsig: SIGKILL), so a test binary that
//     panics or times out leaves nothing running on a shared machine;
//   - with its output in a locked Buffer (or a log file) that the test can
//     wait on: WaitOutput for a line, WaitFile for a ready file. A child
//     should listen on port 0 and say where it bound (meridian serve and
//     meridian demo-backends --ready-file), rather than the test picking a
//     "free" port that another process can take before the child binds it.
//
// It also holds the rules every test shares about prerequisites: a missing
// tool or data file skips a test locally and fails it when CI is set
// (RequireTool, RequireFile, Missing; OptionalTool for a tool that only
// makes a test stronger), and -short never skips under CI (SkipShort).
//
// And the small pieces the subprocess tests of several packages need:
// building the binary with -race when the tests run with it
// (BuildMeridian, Race), its environment without MERIDIAN_* settings
// (MeridianEnv), the files a child reads (WriteFile, CopyFile,
// ReplaceFile) and bounded HTTP requests to it (HTTP, HTTPDo).
//
// The package is for tests only (test/presubmit refuses it in non-test
// code) and uses only the standard library.
package proctest
