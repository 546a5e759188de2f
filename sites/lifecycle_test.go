package sites

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// The stop sequence runs once, whatever calls it and in whatever order:
// memberlist itself panics on a Leave after its Shutdown, which ended a
// SIGTERM'd meridian with exit code 2.
func TestStopSequence(t *testing.T) {
	t.Run("before Start", func(t *testing.T) {
		n, err := New(testConfig("idle", "idle", RoleFollower))
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Leave(time.Second); !errors.Is(err, ErrNotStarted) {
			t.Errorf("Leave before Start: %v, want ErrNotStarted", err)
		}
		if err := n.Shutdown(); !errors.Is(err, ErrNotStarted) {
			t.Errorf("Shutdown before Start: %v, want ErrNotStarted", err)
		}
	})

	t.Run("Leave twice, then Shutdown", func(t *testing.T) {
		a := startNode(t, "a", "site-a", RoleLeader, nil)
		b := startNode(t, "b", "site-b", RoleFollower, joinTo(a))
		waitMembers(t, a, b)
		if err := b.Leave(5 * time.Second); err != nil {
			t.Fatalf("Leave: %v", err)
		}
		// A nil error means the leave was gossiped before the shutdown.
		waitFor(t, "a to see b go", func() bool { return a.ml.Load().NumMembers() == 1 })
		if err := b.Leave(time.Second); err != nil {
			t.Errorf("second Leave: %v, want nil", err)
		}
		if err := b.Shutdown(); err != nil {
			t.Errorf("Shutdown after Leave: %v, want nil", err)
		}
		if b.ctx.Err() == nil {
			t.Error("the node's loops still run after Leave")
		}
	})

	t.Run("Leave after Shutdown", func(t *testing.T) {
		n := startNode(t, "solo", "solo", RoleLeader, nil)
		if err := n.Shutdown(); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if err := n.Leave(time.Second); err != nil {
			t.Errorf("Leave after Shutdown: %v, want nil", err)
		}
		if err := n.Shutdown(); err != nil {
			t.Errorf("second Shutdown: %v, want nil", err)
		}
	})

	t.Run("context end, then Leave and Shutdown", func(t *testing.T) {
		// What `meridian serve` does on SIGTERM: the signal ends the
		// context given to Start, and the process stops the node too.
		for range 5 {
			ctx, cancel := context.WithCancel(context.Background())
			n, err := New(testConfig("signalled", "site-s", RoleLeader))
			if err != nil {
				t.Fatal(err)
			}
			if err := n.Start(ctx); err != nil {
				t.Fatal(err)
			}
			cancel()
			if err := n.Leave(time.Second); err != nil {
				t.Errorf("Leave after the context ended: %v, want nil", err)
			}
			if err := n.Shutdown(); err != nil {
				t.Errorf("Shutdown after Leave: %v, want nil", err)
			}
		}
	})

	t.Run("concurrent", func(t *testing.T) {
		a := startNode(t, "a", "site-a", RoleLeader, nil)
		b := startNode(t, "b", "site-b", RoleFollower, joinTo(a))
		waitMembers(t, a, b)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if i%2 == 0 {
					errs <- b.Leave(5 * time.Second)
				} else {
					errs <- b.Shutdown()
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("concurrent Leave/Shutdown: %v", err)
			}
		}
		if b.ctx.Err() == nil {
			t.Error("the node's loops still run")
		}
		// Whichever call came first, the peer sees b go.
		waitFor(t, "a to see b go", func() bool { return a.ml.Load().NumMembers() == 1 })
	})
}
