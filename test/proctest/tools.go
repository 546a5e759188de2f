package proctest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// CI reports whether the tests run under CI (CI set to anything but "",
// "0" or "false"). Under CI no test skips: a missing prerequisite fails.
func CI() bool {
	switch strings.ToLower(os.Getenv("CI")) {
	case "", "0", "false":
		return false
	}
	return true
}

// Missing ends a test whose prerequisite is missing: a skip locally, a
// failure under CI. msg says what is missing and how to get it.
func Missing(t testing.TB, msg string) {
	t.Helper()
	if CI() {
		t.Fatalf("%s [CI is set: a missing prerequisite fails the test]", msg)
	}
	t.Skip(msg)
}

// SkipShort skips a slow test under -short, except under CI, where it runs.
func SkipShort(t testing.TB, why string) {
	t.Helper()
	if !testing.Short() {
		return
	}
	if CI() {
		t.Logf("-short ignored because CI is set (%s)", why)
		return
	}
	t.Skip("-short: " + why)
}

// sbinDirs are searched after PATH: a non-root PATH often lacks them, and
// unbound and ip live there.
var sbinDirs = []string{"/usr/sbin", "/sbin", "/usr/local/sbin"}

// LookTool returns the path of an external program, looking in PATH and
// then the sbin directories, or "".
func LookTool(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range sbinDirs {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// RequireTool returns the path of an external program the test cannot run
// without, or ends the test (Missing) naming the program and its Debian
// package, which scripts/ensure-deps.sh installs.
func RequireTool(t testing.TB, name, debPackage string) string {
	t.Helper()
	if p := LookTool(name); p != "" {
		return p
	}
	Missing(t, missingTool(name, debPackage))
	return ""
}

// OptionalTool returns the path of a program that makes a test stronger
// but not possible: "" locally when it is missing (the test logs it and
// checks less), a failure under CI, where every check runs.
func OptionalTool(t testing.TB, name, debPackage string) string {
	t.Helper()
	if p := LookTool(name); p != "" {
		return p
	}
	if CI() {
		t.Fatalf("%s [CI is set: every check runs]", missingTool(name, debPackage))
	}
	t.Logf("%s; checking less without it", missingTool(name, debPackage))
	return ""
}

// RequireFile returns path, a data file a test reads (the tz database,
// say), or ends the test (Missing) naming the file and the Debian package
// that installs it.
func RequireFile(t testing.TB, path, debPackage string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		Missing(t, missingTool(path, debPackage))
	}
	return path
}

func missingTool(name, debPackage string) string {
	return fmt.Sprintf("%s not found: it comes with the Debian package %s; install it with `make deps` (as root; `make test` does it too)", name, debPackage)
}
