package k8stest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/meridian-gslb/meridian/test/proctest"
)

// proc is one etcd or kube-apiserver, started by the shared subprocess
// harness (process group of its own, parent-death signal) with its output
// appended to a log file.
type proc struct {
	*proctest.Proc
	log *os.File
}

// startProc starts args[0] with its output appended to logPath. The
// process is killed if the test binary dies, so a test that panics or
// times out leaves no apiserver behind on a shared machine.
func startProc(name, logPath string, args []string) (*proc, error) {
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(lf, "\n===== %s k8stest: starting %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(args, " "))
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = os.Environ()
	p, err := proctest.Launch(name, cmd, lf)
	if err != nil {
		lf.Close()
		return nil, err
	}
	return &proc{Proc: p, log: lf}, nil
}

// stop sends sig to the process group, waits up to grace, then kills the
// group and waits for the exit; the log file says what happened.
func (p *proc) stop(sig syscall.Signal, grace time.Duration) {
	defer p.log.Close()
	if p.Exited() {
		return
	}
	p.SignalGroup(sig)
	if sig != syscall.SIGKILL {
		select {
		case <-p.Done():
		case <-time.After(grace):
			fmt.Fprintf(p.log, "===== %s k8stest: %s did not exit %v after %v; SIGKILL\n", time.Now().Format(time.RFC3339Nano), p.Name, sig, grace)
		}
	}
	err := p.Kill()
	fmt.Fprintf(p.log, "===== %s k8stest: %s stopped (%v)\n", time.Now().Format(time.RFC3339Nano), p.Name, err)
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
