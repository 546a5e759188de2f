package proctest

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The tests run real processes (sh, sleep and this test binary itself).

// gone reports whether pid no longer runs (absent, or a zombie nobody
// reaped: containers often have no init that reaps orphans).
func gone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// pid (comm) STATE ...: comm may hold spaces, the state follows the last ')'
	s := string(b)
	return strings.HasPrefix(strings.TrimSpace(s[strings.LastIndex(s, ")")+1:]), "Z")
}

func waitGone(t *testing.T, pid int, what string) {
	t.Helper()
	Eventually(t, 10*time.Second, what+" to end", func() bool { return gone(pid) })
}

// childPid starts sh in a group of its own that starts a sleep and prints
// its pid; it returns both. script is what sh runs after that.
func childPid(t *testing.T, script string) (*Proc, int) {
	t.Helper()
	p := Start(t, "sh", exec.Command("sh", "-c", "sleep 300 & echo child $!"+script))
	line, err := p.WaitLine(10*time.Second, "child ")
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(line), "child "))
	if err != nil {
		t.Fatalf("line %q: %v", line, err)
	}
	return p, pid
}

func TestStopKillsTheWholeGroup(t *testing.T) {
	p, child := childPid(t, "; wait")
	if err := p.Stop(syscall.SIGTERM, 2*time.Second); err == nil {
		t.Errorf("sh killed by SIGTERM exited with status 0")
	}
	waitGone(t, child, "the grandchild sleep")
}

func TestLeaderExitKillsTheRestOfTheGroup(t *testing.T) {
	p, pid := childPid(t, "")
	if err := p.Wait(10 * time.Second); err != nil {
		t.Fatalf("sh: %v", err)
	}
	waitGone(t, pid, "the background sleep of an exited sh")
}

func TestCleanupKillsTheWholeGroup(t *testing.T) {
	var child int
	t.Run("owner", func(t *testing.T) { _, child = childPid(t, "; wait") })
	waitGone(t, child, "the grandchild sleep, after its test's cleanup")
}

// TestParentDeathKills runs this binary as a helper that starts a sleep
// and exits without stopping it: Pdeathsig must kill the sleep.
func TestParentDeathKills(t *testing.T) {
	if os.Getenv("PROCTEST_HELPER") == "orphan" {
		p, err := Launch("sleep", exec.Command("sleep", "300"), nil)
		if err != nil {
			t.Fatal(err)
		}
		os.Stdout.WriteString("orphan " + strconv.Itoa(p.Pid()) + "\n")
		os.Exit(0) // no cleanup: only the parent-death signal can stop it
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestParentDeathKills$")
	cmd.Env = append(os.Environ(), "PROCTEST_HELPER=orphan")
	out, err := Run(30*time.Second, cmd)
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	i := strings.Index(out, "orphan ")
	if i < 0 {
		t.Fatalf("helper printed no pid:\n%s", out)
	}
	pid, err := strconv.Atoi(strings.Fields(out[i:])[1])
	if err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid, "the dead helper's sleep")
}

func TestWaitLine(t *testing.T) {
	p := Start(t, "sh", exec.Command("sh", "-c", "echo starting; sleep 0.2; echo 'level=INFO msg=serving addr=127.0.0.1:5353'; sleep 300"))
	line, err := p.WaitLine(10*time.Second, "msg=serving", "addr=")
	if err != nil || !strings.HasSuffix(line, "addr=127.0.0.1:5353") {
		t.Fatalf("WaitLine: %q, %v", line, err)
	}
	// a line that never comes: the bound ends the wait
	start := time.Now()
	if _, err := p.WaitLine(300*time.Millisecond, "never"); err == nil || !strings.Contains(err.Error(), "after 300ms") {
		t.Errorf("WaitLine for a missing line: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("WaitLine took %v for a 300ms bound", d)
	}
}

func TestWaitEndsWhenTheProcessExits(t *testing.T) {
	p := Start(t, "sh", exec.Command("sh", "-c", "echo bye; exit 3"))
	start := time.Now()
	_, err := p.WaitLine(time.Minute, "never")
	if err == nil || !strings.Contains(err.Error(), "exited (exit status 3)") || !strings.Contains(err.Error(), "bye") {
		t.Fatalf("WaitLine on an exiting process: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("WaitLine noticed the exit after %v", d)
	}
	if _, err := p.WaitFile(filepath.Join(t.TempDir(), "ready"), time.Minute); err == nil || !strings.Contains(err.Error(), "exited") {
		t.Errorf("WaitFile on an exited process: %v", err)
	}
}

func TestWaitFile(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "ready.json")
	p := Start(t, "sh", exec.Command("sh", "-c", `sleep 0.2; echo '{"pid": '$$'}' > "$1.tmp"; mv "$1.tmp" "$1"; sleep 300`, "sh", f))
	b, err := p.WaitFile(f, 10*time.Second)
	if err != nil || !strings.Contains(string(b), `"pid": `+strconv.Itoa(p.Pid())) {
		t.Fatalf("WaitFile: %q, %v", b, err)
	}
}

func TestRunKillsTheGroupAtTheTimeout(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	start := time.Now()
	out, err := Run(500*time.Millisecond, exec.Command("sh", "-c", `sleep 300 & echo $! > "$1"; wait`, "sh", pidFile))
	if err == nil || !strings.Contains(err.Error(), "timed out after 500ms") {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Run returned after %v for a 500ms timeout", d)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	waitGone(t, pid, "the timed-out command's sleep")
	if out, err := Run(10*time.Second, exec.Command("sh", "-c", "echo out; echo err >&2")); err != nil || out != "out\nerr\n" {
		t.Errorf("Run: %q, %v", out, err)
	}
}

func TestPortFreeOn(t *testing.T) {
	ips := []string{"127.0.0.1", "127.0.0.2"}
	port, err := PortFreeOn(ips...)
	if err != nil {
		t.Fatal(err)
	}
	for _, ip := range ips {
		addr := net.JoinHostPort(ip, strconv.Itoa(port))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("tcp %s: %v", addr, err)
		}
		l.Close()
		u, err := net.ListenPacket("udp", addr)
		if err != nil {
			t.Fatalf("udp %s: %v", addr, err)
		}
		u.Close()
	}
	// a port taken on the second address is not chosen
	held, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	taken := held.Addr().(*net.TCPAddr).Port
	for range 20 {
		if p, err := PortFreeOn(ips...); err != nil || p == taken {
			t.Fatalf("PortFreeOn chose %d (%v), taken on 127.0.0.2", p, err)
		}
	}
}

// TestMissingFailsUnderCI runs this binary's helper test with and without
// CI: a missing tool (RequireTool) or data file (RequireFile) skips locally
// and fails, naming what is missing, under CI.
func TestMissingFailsUnderCI(t *testing.T) {
	const tool, file = "no-such-tool-proctest", "/no/such/proctest/file"
	switch os.Getenv("PROCTEST_HELPER") {
	case "missing-tool":
		RequireTool(t, tool, "no-such-package")
		t.Log("RequireTool returned")
		return
	case "missing-file":
		RequireFile(t, file, "no-such-package")
		t.Log("RequireFile returned")
		return
	}
	for _, helper := range []struct{ name, missing string }{{"missing-tool", tool}, {"missing-file", file}} {
		for _, tc := range []struct {
			ci       string
			fail     bool
			contains string
		}{
			{"", false, "--- SKIP"},
			{"false", false, "--- SKIP"},
			{"true", true, "CI is set: a missing prerequisite fails the test"},
			{"1", true, "--- FAIL"},
		} {
			cmd := exec.Command(os.Args[0], "-test.run=^TestMissingFailsUnderCI$", "-test.v")
			cmd.Env = append(os.Environ(), "PROCTEST_HELPER="+helper.name, "CI="+tc.ci)
			out, err := Run(30*time.Second, cmd)
			var ee *exec.ExitError
			failed := errors.As(err, &ee)
			if err != nil && !failed {
				t.Fatal(err)
			}
			if failed != tc.fail || !strings.Contains(out, tc.contains) || !strings.Contains(out, helper.missing+" not found") ||
				!strings.Contains(out, "no-such-package") || strings.Contains(out, "returned") {
				t.Errorf("%s, CI=%q: failed %v (want %v), output lacks %q or what is missing:\n%s", helper.name, tc.ci, failed, tc.fail, tc.contains, out)
			}
		}
	}
}

// TestOptionalToolUnderCI: a missing optional tool is logged locally
// (the test goes on) and fails the test under CI.
func TestOptionalToolUnderCI(t *testing.T) {
	const tool = "no-such-tool-proctest"
	if os.Getenv("PROCTEST_HELPER") == "optional" {
		if p := OptionalTool(t, tool, "no-such-package"); p != "" {
			t.Fatalf("OptionalTool found %s", p)
		}
		t.Log("went on without it")
		return
	}
	for _, ci := range []string{"", "true"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestOptionalToolUnderCI$", "-test.v")
		cmd.Env = append(os.Environ(), "PROCTEST_HELPER=optional", "CI="+ci)
		out, err := Run(30*time.Second, cmd)
		wentOn := strings.Contains(out, "went on without it")
		if !strings.Contains(out, tool+" not found") || (ci == "") != (err == nil && wentOn) {
			t.Errorf("CI=%q: err %v, went on %v; want a pass that goes on locally, a failure under CI, naming the tool:\n%s", ci, err, wentOn, out)
		}
	}
}

func TestStays(t *testing.T) {
	if os.Getenv("PROCTEST_HELPER") == "stays" {
		n := 0
		Stays(t, 5*time.Second, "the counter below 5", func() bool { n++; return n < 5 })
		return
	}
	start := time.Now()
	Stays(t, 200*time.Millisecond, "true", func() bool { return true })
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("Stays returned after %v, want at least 200ms", d)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestStays$")
	cmd.Env = append(os.Environ(), "PROCTEST_HELPER=stays")
	if out, err := Run(30*time.Second, cmd); err == nil || !strings.Contains(out, "the counter below 5 stopped holding") {
		t.Errorf("Stays with a condition that breaks: %v\n%s", err, out)
	}
}
