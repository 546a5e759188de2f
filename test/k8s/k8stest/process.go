package k8stest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// proc is one etcd or kube-apiserver, in a session (and so a process group)
// of its own, with its output appended to a log file.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{}
	err  error // the exit status, set before done is closed
}

// startProc starts args[0] with its output appended to logPath. The process
// is killed if the test binary dies (Pdeathsig), so a test that panics or
// times out leaves no apiserver behind on a shared machine.
func startProc(name, logPath string, args []string) (*proc, error) {
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(lf, "\n===== %s k8stest: starting %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(args, " "))
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.Env = os.Environ()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: lf, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends sig to the process group (its PID: Setsid made it the group
// leader), waits up to grace, then sends SIGKILL and waits for the exit.
func (p *proc) stop(sig syscall.Signal, grace time.Duration) {
	defer p.log.Close()
	if p.exited() {
		return
	}
	pid := p.cmd.Process.Pid
	_ = syscall.Kill(-pid, sig)
	if sig != syscall.SIGKILL {
		select {
		case <-p.done:
		case <-time.After(grace):
			fmt.Fprintf(p.log, "===== %s k8stest: %s did not exit %v after %v; SIGKILL\n", time.Now().Format(time.RFC3339Nano), p.name, sig, grace)
		}
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	<-p.done
	fmt.Fprintf(p.log, "===== %s k8stest: %s stopped (%v)\n", time.Now().Format(time.RFC3339Nano), p.name, p.err)
}

// tail returns the last n lines of a log file (all of them when n <= 0),
// preceded by how many were left out.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	b = bytes.TrimRight(b, "\n")
	if n <= 0 {
		return string(b)
	}
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) <= n {
		return string(b)
	}
	return fmt.Sprintf("(%d earlier lines in %s)\n%s", len(lines)-n, path, bytes.Join(lines[len(lines)-n:], []byte("\n")))
}
