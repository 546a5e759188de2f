package proctest

import (
	"testing"
	"time"
)

// Poll is how often Eventually and Stays check their condition.
const Poll = 20 * time.Millisecond

// Eventually polls cond until it holds, and fails the test if it does not
// within timeout: the bound only turns a hang into a failure, so it is
// generous.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(Poll)
	}
}

// Stays checks that cond holds, again and again, for d: the negative half
// of a test ("the old answer stays"), run after a positive sync point (the
// change was seen and refused) so that it cannot pass merely because
// nothing happened yet. It fails at the first check that does not hold.
func Stays(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	start := time.Now()
	for {
		if !cond() {
			t.Fatalf("%s stopped holding after %v", what, time.Since(start).Round(time.Millisecond))
		}
		if time.Since(start) >= d {
			return
		}
		time.Sleep(Poll)
	}
}
