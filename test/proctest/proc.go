package proctest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// StopGrace is how long the cleanup of Start waits after SIGTERM before it
// kills the process group.
const StopGrace = 5 * time.Second

// waitDelay bounds cmd.Wait once the process has exited: a grandchild that
// escaped the group and holds the output pipe open cannot hang the test.
const waitDelay = 5 * time.Second

// Proc is one running subprocess, the leader of its own process group.
type Proc struct {
	Name string
	Cmd  *exec.Cmd
	// Out holds stdout and stderr, unless Launch was given a writer.
	Out *Buffer

	// mu orders signals to the group with its reaping: while the leader
	// is not reaped its pid, and so the group's ID, cannot be reused, so a
	// signal sent under mu before done is closed reaches only this group.
	mu   sync.Mutex
	done chan struct{}
	err  error // the exit status, set before done is closed
}

// Launch starts cmd as the leader of a new process group, with SIGKILL as
// its parent-death signal, its stdout and stderr going to out (a new
// p.Out when out is nil). It does not register a cleanup: use Start in a
// test, or Stop.
//
// Pdeathsig is delivered when the OS thread that forked the child ends.
// The Go runtime ends a thread only when a goroutine locked to it
// (runtime.LockOSThread) returns, which tests do not do, so the signal
// comes when the test binary dies.
func Launch(name string, cmd *exec.Cmd, out io.Writer) (*Proc, error) {
	p := &Proc{Name: name, Cmd: cmd, done: make(chan struct{})}
	if out == nil {
		p.Out = &Buffer{}
		out = p.Out
	}
	cmd.Stdout, cmd.Stderr = out, out
	setGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go p.reap()
	return p, nil
}

// reap waits for the leader's exit, kills what is left of its group (a
// child's children must not outlive it), then reaps it.
func (p *Proc) reap() {
	waitExited(p.Pid())
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
	p.err = p.Cmd.Wait()
	close(p.done)
}

// waitExited blocks until pid has exited, without reaping it (waitid
// with WNOWAIT, as package os does before it reaps).
func waitExited(pid int) {
	const pPID = 1 // P_PID: wait for the process with this ID
	var siginfo [128]byte
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid),
			uintptr(unsafe.Pointer(&siginfo[0])), syscall.WEXITED|syscall.WNOWAIT, 0, 0)
		if errno != syscall.EINTR {
			return
		}
	}
}

// SignalGroup sends sig to the whole process group, unless the leader is
// reaped (its group was killed then, and its ID may be another's by now).
func (p *Proc) SignalGroup(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.Exited() {
		_ = syscall.Kill(-p.Pid(), sig)
	}
}

// setGroup gives cmd a process group of its own and the parent-death
// signal, and, for a command made with a context, makes its cancellation
// kill the whole group.
func setGroup(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if cmd.Cancel != nil {
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	}
	cmd.WaitDelay = waitDelay
}

// Start launches cmd for the test t. When the test ends its process group
// gets SIGTERM, then SIGKILL after StopGrace; its output fails the test
// if it reports a data race (the binaries under test are built with -race
// when the tests are), and is logged if the test failed.
func Start(t testing.TB, name string, cmd *exec.Cmd) *Proc {
	t.Helper()
	p, err := Launch(name, cmd, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.Stop(syscall.SIGTERM, StopGrace)
		out := p.Out.String()
		if strings.Contains(out, "WARNING: DATA RACE") {
			t.Errorf("%s reported a data race:\n%s", name, out)
		} else if t.Failed() {
			t.Logf("%s (%s) output:\n%s", name, strings.Join(cmd.Args, " "), out)
		}
	})
	return p
}

// Pid is the process's ID, which is also its process group's.
func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err is the exit status (nil for exit 0) once Done is closed, nil before.
func (p *Proc) Err() error {
	if !p.Exited() {
		return nil
	}
	return p.err
}

// Signal sends sig to the process alone (not its group): SIGHUP for a
// reload, SIGTERM to test a clean shutdown.
func (p *Proc) Signal(sig syscall.Signal) error { return p.Cmd.Process.Signal(sig) }

// Wait waits up to timeout for the process to exit and returns its exit
// status.
func (p *Proc) Wait(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		return fmt.Errorf("%s still running after %v", p.Name, timeout)
	}
}

// Stop sends sig to the whole process group, waits up to grace for the
// process to exit, then kills the group and waits. The rest of the group
// is killed when the leader exits. It returns the exit status. Stopping an
// exited process is harmless.
func (p *Proc) Stop(sig syscall.Signal, grace time.Duration) error {
	p.SignalGroup(sig)
	if sig != syscall.SIGKILL {
		select {
		case <-p.done:
		case <-time.After(grace):
		}
	}
	p.SignalGroup(syscall.SIGKILL)
	<-p.done
	return p.err
}

// Kill kills the process group at once, as in a crash, and waits.
func (p *Proc) Kill() error { return p.Stop(syscall.SIGKILL, 0) }

// WaitOutput waits up to timeout until cond accepts the output so far (it
// is called again after every write). It fails early when the process
// exits without cond being met. what names the wait in the error.
func (p *Proc) WaitOutput(timeout time.Duration, what string, cond func(out string) bool) error {
	if p.Out == nil {
		return fmt.Errorf("%s: output not captured (Launch was given a writer)", p.Name)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		changed := p.Out.Changed() // before reading: a write in between wakes us
		if cond(p.Out.String()) {
			return nil
		}
		select {
		case <-changed:
		case <-p.done:
			if cond(p.Out.String()) {
				return nil
			}
			return fmt.Errorf("%s exited (%v) before %s:\n%s", p.Name, p.err, what, p.Out.String())
		case <-timer.C:
			return fmt.Errorf("%s: no %s after %v:\n%s", p.Name, what, timeout, p.Out.String())
		}
	}
}

// WaitLine waits up to timeout for a line of output containing every one
// of parts, and returns it.
func (p *Proc) WaitLine(timeout time.Duration, parts ...string) (string, error) {
	var found string
	err := p.WaitOutput(timeout, fmt.Sprintf("line with %q", parts), func(out string) bool {
		for _, line := range strings.Split(out, "\n") {
			if containsAll(line, parts) {
				found = line
				return true
			}
		}
		return false
	})
	return found, err
}

func containsAll(s string, parts []string) bool {
	for _, x := range parts {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}

// WaitFile waits up to timeout for path to exist and be non-empty while
// the process runs, and returns its content. The writer should create it
// atomically (write elsewhere, then rename), as meridian does.
func (p *Proc) WaitFile(path string, timeout time.Duration) ([]byte, error) {
	deadline := time.Now().Add(timeout)
	for {
		b, err := os.ReadFile(path)
		if err == nil && len(b) > 0 {
			return b, nil
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s: no %s after %v:\n%s", p.Name, path, timeout, p.output())
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("%s exited (%v) before writing %s:\n%s", p.Name, p.err, path, p.output())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (p *Proc) output() string {
	if p.Out == nil {
		return "(output in its log file)"
	}
	return p.Out.String()
}
