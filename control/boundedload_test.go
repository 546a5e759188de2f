package control

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/config"
)

// A load that blocks does not hold the reload loop: run returns after the
// bound, refuses to start a second load while the first is stuck, and
// loads again once it has ended.
func TestBoundedLoadGivesUpOnABlockedRead(t *testing.T) {
	release := make(chan struct{})
	calls := 0
	b := boundedLoad{timeout: 50 * time.Millisecond, load: func() (*config.Loaded, error) {
		calls++
		if calls == 1 {
			<-release // a read that does not answer
		}
		return nil, errors.New("loaded")
	}}

	if _, err := b.run(); err == nil || !strings.Contains(err.Error(), "took longer than 50ms") {
		t.Fatalf("first load: err %v, want the bound named", err)
	}
	if _, err := b.run(); !errors.Is(err, errLoadBlocked) {
		t.Fatalf("load while the first is stuck: err %v, want errLoadBlocked", err)
	}
	close(release)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := b.run()
		if err != nil && err.Error() == "loaded" {
			break
		}
		if !errors.Is(err, errLoadBlocked) || time.Now().After(deadline) {
			t.Fatalf("load after the stuck one ended: err %v, want the load's own result", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if calls != 2 {
		t.Fatalf("load ran %d times, want 2 (never while one was stuck)", calls)
	}
}
