package gslb

import (
	"sync"
	"sync/atomic"
)

// Store publishes Snapshots. Readers call Load on every query: one atomic
// load, no lock. Writers are serialised so that a slow rebuild never
// races a newer one, and subscribers see every snapshot in order.
type Store struct {
	mu   sync.Mutex // serialises writers and subscriber calls
	cur  atomic.Pointer[Snapshot]
	subs []func(*Snapshot)
}

// Load returns the current snapshot, or nil before the first Publish.
func (s *Store) Load() *Snapshot { return s.cur.Load() }

// Publish makes next the current snapshot and tells the subscribers.
func (s *Store) Publish(next *Snapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur.Store(next)
	for _, f := range s.subs {
		f(next)
	}
}

// Update builds the next snapshot from the current one under the writer
// lock. When build returns an error nothing is published.
func (s *Store) Update(build func(cur *Snapshot) (*Snapshot, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next, err := build(s.cur.Load())
	if err != nil {
		return err
	}
	s.cur.Store(next)
	for _, f := range s.subs {
		f(next)
	}
	return nil
}

// Subscribe registers f to be called, under the writer lock, with every
// snapshot published from now on, and at once with the current one if any.
func (s *Store) Subscribe(f func(*Snapshot)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs = append(s.subs, f)
	if cur := s.cur.Load(); cur != nil {
		f(cur)
	}
}
