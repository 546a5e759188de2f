package geo

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/test/proctest"
)

// TestFixturesFresh fails when the committed mmdb fixtures differ from what
// testdata/geo/mkmmdb writes now (its output is deterministic), so an edit to
// the generator cannot leave stale files behind. The generator is its own
// module (it needs mmdbwriter from the module cache or proxy); when it cannot
// be built here the test follows proctest's rule for a missing prerequisite:
// a skip locally, a failure under CI. It takes a couple of seconds, so -short
// skips it (not under CI).
func TestFixturesFresh(t *testing.T) {
	proctest.SkipShort(t, "runs the fixture generator")
	gobin, err := exec.LookPath("go")
	if err != nil {
		proctest.Missing(t, "the go command is not in PATH: TestFixturesFresh runs testdata/geo/mkmmdb with it")
	}
	cmd := exec.Command(gobin, "run", ".", "-check")
	cmd.Dir = "../testdata/geo/mkmmdb"
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	out, err := proctest.Run(3*time.Minute, cmd)
	switch {
	case err == nil:
	case strings.Contains(out, "is stale"):
		t.Fatalf("fixtures are stale; regenerate them (see testdata/geo/README.md):\n%s", out)
	default:
		proctest.Missing(t, "cannot run the mmdb fixture generator testdata/geo/mkmmdb (`go run . -check`; it needs github.com/maxmind/mmdbwriter from the module cache or proxy): "+err.Error()+"\n"+out)
	}
}
