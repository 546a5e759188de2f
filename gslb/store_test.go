package gslb

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

// Readers see whole snapshots while writers publish, and subscribers see
// each one in order. Run with -race.
func TestStoreConcurrentPublish(t *testing.T) {
	var s Store
	var seen []uint64
	s.Subscribe(func(sn *Snapshot) { seen = append(seen, sn.Generation()) })
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if sn := s.Load(); sn != nil {
					_ = Select(sn, q("app.gslb.example.", TypeA, "81.2.69.0/24"))
				}
			}
		}()
	}
	for g := uint64(1); g <= 50; g++ {
		st := testState()
		st.Generation = g
		s.Publish(snapshot(t, st, nil))
	}
	err := s.Update(func(cur *Snapshot) (*Snapshot, error) { return nil, errors.New("bad") })
	stop.Store(true)
	wg.Wait()
	if err == nil || s.Load().Generation() != 50 {
		t.Fatalf("failed update replaced the snapshot: err=%v gen=%d", err, s.Load().Generation())
	}
	if len(seen) != 50 || seen[0] != 1 || seen[49] != 50 {
		t.Fatalf("subscriber saw %v", seen)
	}
	var late []uint64
	s.Subscribe(func(sn *Snapshot) { late = append(late, sn.Generation()) })
	if len(late) != 1 || late[0] != 50 {
		t.Fatalf("late subscriber got %v", late)
	}
}
