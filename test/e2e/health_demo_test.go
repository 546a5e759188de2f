package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/test/proctest"
)

// TestDemoFailoverWalkthrough runs the failover walk-through that `make
// run` prints (scripts/demo-commands.sh, below "Failover walk-through"),
// line by line against the demo and its backends: curl makes eu-west fail
// and recover and drains it through the admin API; each dig line must
// give its answer, at once ("# -> ") or once the probes have seen the
// change ("# ~> ", polled with a bound).
func TestDemoFailoverWalkthrough(t *testing.T) {
	t.Parallel()
	watchdog(t, 2*time.Minute)
	dig := proctest.RequireTool(t, "dig", "bind9-dnsutils")
	proctest.RequireTool(t, "curl", "curl")
	d := startDemo(t)
	_, walk, ok := strings.Cut(demoCommands(t, d), walkthroughHeader)
	if !ok {
		t.Fatalf("demo-commands.sh prints no %q section", walkthroughHeader)
	}
	var digs, others int
	for _, line := range strings.Split(walk, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "dig "):
			digs++
			runDigLine(t, dig, line)
		case strings.HasPrefix(line, "sleep "):
			if _, err := run(t, 15*time.Second, "bash", "-c", line); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
		case strings.HasPrefix(line, "curl "), strings.HasPrefix(line, meridianBin+" "):
			others++
			out, err := run(t, 15*time.Second, "bash", "-c", line)
			if err != nil {
				t.Fatalf("%s\n  failed: %v\n%s", line, err, out)
			}
			switch {
			case strings.Contains(line, " explain shop."):
				// The load walk-through: eu-west sheds London at 0.95.
				if !strings.Contains(out, "eu-west/198.51.100.50") || !strings.Contains(out, "shed") || !strings.Contains(out, "0.95") {
					t.Errorf("%s\n  want eu-west/198.51.100.50 shed at load 0.95, in:\n%s", line, out)
				}
			case strings.Contains(line, "/api/v1/load"):
				if !strings.Contains(out, `"over": true`) {
					t.Errorf("%s\n  want eu-west over its high watermark in:\n%s", line, out)
				}
			case strings.Contains(line, " explain "):
				if !strings.Contains(out, "eu-west/198.51.100.10") || !strings.Contains(out, "down since") {
					t.Errorf("%s\n  want eu-west/198.51.100.10 down, with the probe error, in:\n%s", line, out)
				}
			case strings.Contains(line, "state=down"):
				if !strings.Contains(out, `"target": "127.10.2.1:`) {
					t.Errorf("%s\n  want eu-west's backend among the down targets, got:\n%s", line, out)
				}
			}
			t.Logf("%s\n%s", line, out)
		}
	}
	if digs < 6 || others < 6 {
		t.Fatalf("the walk-through has %d dig lines and %d other commands; want at least 6 of each:\n%s", digs, others, walk)
	}
}

// runDigLine runs one dig line of demo-commands.sh and checks its answer:
// "# -> ANSWER" at once, "# ~> ANSWER" within hangGuard (alternatives
// separated by " | ").
func runDigLine(t *testing.T, dig, line string) {
	t.Helper()
	cmdPart, want, now := strings.Cut(line, "# -> ")
	if !now {
		var ok bool
		if cmdPart, want, ok = strings.Cut(line, "# ~> "); !ok {
			t.Fatalf("dig line without an expected answer: %s", line)
		}
	}
	alts := strings.Split(strings.TrimSpace(want), " | ")
	args := append(strings.Fields(cmdPart)[1:], "+time=2", "+tries=1")
	deadline := time.Now().Add(hangGuard)
	for polls := 1; ; polls++ {
		got, err := run(t, 15*time.Second, dig, args...)
		got = strings.Join(strings.Fields(got), " ")
		if err == nil && contains(alts, got) {
			t.Logf("%s: %s after %d queries", strings.TrimSpace(cmdPart), got, polls)
			return
		}
		if now || time.Now().After(deadline) {
			t.Fatalf("%s\n  want %q (%s)\n  got  %q after %d queries (err %v)", cmdPart, alts, map[bool]string{true: "at once", false: "within " + hangGuard.String()}[now], got, polls, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
