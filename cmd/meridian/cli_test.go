package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/test/proctest"
)

// The CLI tests run the real binary, built once per test run with the
// same -ldflags a release uses, and with -race when the tests run with it
// (proctest.BuildMeridian, as for test/e2e), so a data race in a served
// process fails its test.
const (
	testVersion = "v9.9.9-test"
	testCommit  = "abc1234"
)

var build struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// binary builds cmd/meridian (once) and returns its path.
func binary(t *testing.T) string {
	t.Helper()
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "meridian-test-bin-")
		if build.err != nil {
			return
		}
		build.path = filepath.Join(build.dir, "meridian")
		build.err = proctest.BuildMeridian(".", build.path,
			"-ldflags", "-X main.version="+testVersion+" -X main.commit="+testCommit)
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

type result struct {
	code           int
	stdout, stderr string
}

// runBinary runs the binary to completion (killed after a minute: a
// command that hangs fails its test instead of the whole run).
func runBinary(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = env
	stdout, stderr, err := proctest.RunSplit(time.Minute, cmd)
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return result{code, stdout, stderr}
}

func TestCLICheckConfigGood(t *testing.T) {
	r := runBinary(t, proctest.MeridianEnv(), "check-config", goodFixture)
	if r.code != 0 || r.stdout != goodFixture+": OK (2 zones, 3 sites, 4 services)\n" || r.stderr != "" {
		t.Fatalf("exit %d\nstdout %q\nstderr %q", r.code, r.stdout, r.stderr)
	}
	r = runBinary(t, proctest.MeridianEnv(), "check-config", "../../testdata/demo/meridian.yaml")
	if r.code != 0 || !strings.HasSuffix(r.stdout, ": OK (1 zones, 3 sites, 5 services)\n") {
		t.Fatalf("demo: exit %d\nstdout %q\nstderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestCLICheckConfigBroken runs check-config on every file in
// config/testdata/broken: each says, in "# want: " lines, the error lines it must
// print, in order and nothing else (each want is a prefix of its line;
// {{file}} stands for the file's absolute path).
func TestCLICheckConfigBroken(t *testing.T) {
	files, _ := filepath.Glob(fixtures + "/broken/*.yaml")
	if len(files) == 0 {
		t.Fatal("no broken fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			abs, _ := filepath.Abs(f)
			want := wantLines(t, f, abs)
			r := runBinary(t, proctest.MeridianEnv(), "check-config", f)
			if r.code != 1 || r.stdout != "" {
				t.Fatalf("exit %d, stdout %q, want exit 1 and nothing on stdout", r.code, r.stdout)
			}
			got := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
			if len(got) != len(want) {
				t.Fatalf("got %d lines, want %d:\n%s", len(got), len(want), r.stderr)
			}
			for i := range want {
				if !strings.HasPrefix(got[i], want[i]) {
					t.Errorf("line %d:\n got  %s\n want %s...", i+1, got[i], want[i])
				}
			}
		})
	}
}

func wantLines(t *testing.T, file, abs string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, line := range strings.Split(string(b), "\n") {
		if w, ok := strings.CutPrefix(line, "# want: "); ok {
			want = append(want, strings.ReplaceAll(strings.TrimSpace(w), "{{file}}", abs))
		}
	}
	if len(want) == 0 {
		t.Fatalf("%s has no # want: lines", file)
	}
	return want
}

func TestCLICheckConfigSeesEnvironment(t *testing.T) {
	r := runBinary(t, proctest.MeridianEnv("MERIDIAN_LOG_LEVEL=chatty"), "check-config", goodFixture)
	if r.code != 1 || !strings.HasPrefix(r.stderr, `log.level: unknown level "chatty"`) {
		t.Fatalf("exit %d\nstderr %q", r.code, r.stderr)
	}
}

func TestCLIUsage(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string // substring
		stderr string // substring
	}{
		{nil, 2, "", "Usage:\n  meridian COMMAND"},
		{[]string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{[]string{"help"}, 0, "check-config", ""},
		{[]string{"-h"}, 0, "explain", ""},
		{[]string{"help", "serve"}, 0, "Usage: meridian serve", ""},
		{[]string{"serve", "-h"}, 0, "--ready-file", ""},
		{[]string{"check-config", "--help"}, 0, "Usage: meridian check-config FILE", ""},
		{[]string{"explain", "-h"}, 0, "--client", ""},
		{[]string{"version", "-h"}, 0, "Usage: meridian version", ""},
		{[]string{"check-config"}, 2, "", "want exactly one FILE"},
		{[]string{"check-config", "a.yaml", "b.yaml"}, 2, "", "want exactly one FILE, got 2"},
		{[]string{"check-config", "--bogus", "a.yaml"}, 2, "", "unknown flag: --bogus"},
		{[]string{"serve"}, 2, "", "no configuration: give --config FILE or set MERIDIAN_CONFIG"},
		{[]string{"serve", "--config", goodFixture, "extra"}, 2, "", "unexpected arguments"},
		{[]string{"explain", "app.example."}, 2, "", "--client: required"},
		{[]string{"explain", "app.example.", "--client", "1.2.3"}, 2, "", `--client: "1.2.3" is not an IP address`},
		{[]string{"explain", "app.example.", "--client", "192.0.2.1", "--type", "MX"}, 2, "", `--type: want A, AAAA or a type number, got "MX"`},
		{[]string{"explain", "--client", "192.0.2.1"}, 2, "", "want exactly one NAME"},
		{[]string{"version", "extra"}, 2, "", "version takes no arguments"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := runBinary(t, proctest.MeridianEnv(), tc.args...)
			if r.code != tc.code || !strings.Contains(r.stdout, tc.stdout) || !strings.Contains(r.stderr, tc.stderr) {
				t.Fatalf("exit %d (want %d)\nstdout %q (want %q)\nstderr %q (want %q)", r.code, tc.code, r.stdout, tc.stdout, r.stderr, tc.stderr)
			}
		})
	}
}

func TestCLIVersion(t *testing.T) {
	r := runBinary(t, proctest.MeridianEnv(), "version")
	want := "meridian " + testVersion + " (commit " + testCommit + ", " + runtime.Version() + ")\n"
	if r.code != 0 || r.stdout != want {
		t.Fatalf("exit %d, stdout %q, want %q", r.code, r.stdout, want)
	}
}

// TestCLIBinaryRace: the binary the tests start is built with -race
// exactly when the tests run with it (go version -m reads the build
// settings the go command recorded).
func TestCLIBinaryRace(t *testing.T) {
	out, err := proctest.Run(time.Minute, exec.Command("go", "version", "-m", binary(t)))
	if err != nil {
		t.Fatalf("go version -m: %v\n%s", err, out)
	}
	if got := strings.Contains(out, "-race=true"); got != proctest.Race {
		t.Errorf("binary built with -race: %v, tests run with -race: %v\n%s", got, proctest.Race, out)
	}
}

func TestCLIServeRefusesBrokenConfig(t *testing.T) {
	r := runBinary(t, proctest.MeridianEnv(), "serve", "--config", fixtures+"/broken/many-errors.yaml",
		"--dns-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0")
	if r.code != 1 || !strings.Contains(r.stderr, "is not a valid configuration:\n") ||
		!strings.Contains(r.stderr, `services[0].members[1].site: unknown site "mars"`) {
		t.Fatalf("exit %d\nstderr %s", r.code, r.stderr)
	}
	// MERIDIAN_CONFIG names the file when --config is not given.
	r = runBinary(t, proctest.MeridianEnv("MERIDIAN_CONFIG="+fixtures+"/broken/unknown-key.yaml"), "serve")
	if r.code != 1 || !strings.Contains(r.stderr, "unknown-key.yaml is not a valid configuration") {
		t.Fatalf("MERIDIAN_CONFIG: exit %d\nstderr %s", r.code, r.stderr)
	}
}
