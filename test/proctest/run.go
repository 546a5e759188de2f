package proctest

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"time"
)

// Run runs cmd to completion, in its own process group, and returns its
// combined output. After timeout the whole group is killed and the error
// says so.
func Run(timeout time.Duration, cmd *exec.Cmd) (string, error) {
	var out bytes.Buffer
	err := runBounded(timeout, cmd, &out, &out)
	return out.String(), err
}

// RunSplit is Run with stdout and stderr apart, for tests of what a
// command prints where.
func RunSplit(timeout time.Duration, cmd *exec.Cmd) (stdout, stderr string, err error) {
	var o, e bytes.Buffer
	err = runBounded(timeout, cmd, &o, &e)
	return o.String(), e.String(), err
}

func runBounded(timeout time.Duration, cmd *exec.Cmd, stdout, stderr *bytes.Buffer) error {
	if cmd.Err != nil {
		return cmd.Err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// exec.CommandContext's context is fixed at creation: rebuild the
	// command around ours, keeping what the caller set.
	c := exec.CommandContext(ctx, cmd.Path)
	c.Args, c.Env, c.Dir, c.Stdin, c.SysProcAttr = cmd.Args, cmd.Env, cmd.Dir, cmd.Stdin, cmd.SysProcAttr
	c.Stdout, c.Stderr = stdout, stderr
	setGroup(c)
	err := c.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s timed out after %v: %w", cmd.Args[0], timeout, ctx.Err())
	}
	return err
}
