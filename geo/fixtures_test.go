package geo

import (
	"bytes"
	"os"
	"os/exec"
	"testing"
)

// TestFixturesFresh fails when the committed mmdb fixtures differ from what
// testdata/geo/mkmmdb writes now (its output is deterministic), so an edit to
// the generator cannot leave stale files behind. The generator is its own
// module; when it cannot be built here (no go command, no module cache and
// no network) the test skips rather than fail for a reason unrelated to the
// fixtures. It takes a couple of seconds, so -short skips it.
func TestFixturesFresh(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the fixture generator")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	cmd := exec.Command(gobin, "run", ".", "-check")
	cmd.Dir = "../testdata/geo/mkmmdb"
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	out, err := cmd.CombinedOutput()
	switch {
	case err == nil:
	case bytes.Contains(out, []byte("is stale")):
		t.Fatalf("fixtures are stale; regenerate them (see testdata/geo/README.md):\n%s", out)
	default:
		t.Skipf("cannot run the fixture generator: %v\n%s", err, out)
	}
}
