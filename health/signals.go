package health

import (
	"sync"
	"time"

	"github.com/meridian-gslb/meridian/gslb"
)

// Sources of load signals (gslb.LoadSignal.Source). Another site's probe
// readings come as SourceSite(name).
const (
	SignalProbe      = "probe"
	SignalPrometheus = "prometheus"
)

// Signals is the load store (issue #12): the latest load reading of each
// probe target by source (this site's probe, other sites' probes through
// gossip), and of each service member from Prometheus. It keeps readings
// however old: gslb's WithLoad judges their age against the policy, so an
// expired reading is shown as such rather than forgotten. It is safe for
// concurrent use.
type Signals struct {
	mu      sync.RWMutex
	targets map[Key]map[string]gslb.LoadSignal
	// members are the Prometheus readings by service, then member ID.
	members map[string]map[string]gslb.LoadSignal
	// onLocal, when set, receives this site's probe readings: the gossip
	// shares them. Called without the lock.
	onLocal func(Key, gslb.LoadSignal)
}

// NewSignals returns an empty store.
func NewSignals() *Signals {
	return &Signals{targets: make(map[Key]map[string]gslb.LoadSignal), members: make(map[string]map[string]gslb.LoadSignal)}
}

// OnLocal sets the function that receives this site's own probe readings
// (SignalProbe) after they are stored.
func (s *Signals) OnLocal(f func(Key, gslb.LoadSignal)) {
	s.mu.Lock()
	s.onLocal = f
	s.mu.Unlock()
}

// SetTarget stores sig as its source's latest reading of target k.
func (s *Signals) SetTarget(k Key, sig gslb.LoadSignal) {
	s.mu.Lock()
	bySrc := s.targets[k]
	if bySrc == nil {
		bySrc = make(map[string]gslb.LoadSignal, 1)
		s.targets[k] = bySrc
	}
	bySrc[sig.Source] = sig
	f := s.onLocal
	s.mu.Unlock()
	if f != nil && sig.Source == SignalProbe {
		f(k, sig)
	}
}

// RemoveTarget forgets source's readings of k (the target is no longer
// probed there).
func (s *Signals) RemoveTarget(k Key, source string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if bySrc := s.targets[k]; bySrc != nil {
		delete(bySrc, source)
		if len(bySrc) == 0 {
			delete(s.targets, k)
		}
	}
}

// ForgetSource drops every target reading of source (a site that left).
// Its readings would expire anyway; forgetting them keeps the store from
// growing with departed sites.
func (s *Signals) ForgetSource(source string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, bySrc := range s.targets {
		delete(bySrc, source)
		if len(bySrc) == 0 {
			delete(s.targets, k)
		}
	}
}

// SetMember stores a reading of a service's member (Prometheus).
func (s *Signals) SetMember(service, memberID string, sig gslb.LoadSignal) {
	s.mu.Lock()
	byID := s.members[service]
	if byID == nil {
		byID = make(map[string]gslb.LoadSignal)
		s.members[service] = byID
	}
	byID[memberID] = sig
	s.mu.Unlock()
}

// RetainMembers drops the member readings of service for which keep is
// false (members gone from the query's answer or from the service).
func (s *Signals) RetainMembers(service string, keep func(memberID string) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	byID := s.members[service]
	for id := range byID {
		if !keep(id) {
			delete(byID, id)
		}
	}
	if len(byID) == 0 {
		delete(s.members, service)
	}
}

// Target is the freshest reading of k from any source.
func (s *Signals) Target(k Key) (gslb.LoadSignal, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var best gslb.LoadSignal
	ok := false
	for _, sig := range s.targets[k] {
		if !ok || sig.At.After(best.At) {
			best, ok = sig, true
		}
	}
	return best, ok
}

// Member is the Prometheus reading of a service's member.
func (s *Signals) Member(service, memberID string) (gslb.LoadSignal, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sig, ok := s.members[service][memberID]
	return sig, ok
}

// memberOf is Member for a member itself, without building its ID.
func (s *Signals) memberOf(service string, m *gslb.Member) (gslb.LoadSignal, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	byID := s.members[service]
	if byID == nil {
		return gslb.LoadSignal{}, false
	}
	var buf [64]byte
	sig, ok := byID[string(m.AppendID(buf[:0]))]
	return sig, ok
}

// combineLoad is the member load rule: the highest of its readings (each
// probed address's freshest, and Prometheus'), so a member is as loaded
// as its busiest part. Readings older than maxAge do not count while a
// fresher one does, so an expired source cannot hold a member shed.
func combineLoad(sigs []gslb.LoadSignal, now time.Time, maxAge time.Duration) (gslb.LoadSignal, bool) {
	var best gslb.LoadSignal
	ok, bestFresh := false, false
	for _, sig := range sigs {
		fresh := now.Sub(sig.At) <= maxAge
		switch {
		case !ok, fresh && !bestFresh, fresh == bestFresh && (sig.Value > best.Value || !fresh && sig.At.After(best.At)):
			best, ok, bestFresh = sig, true, fresh
		}
	}
	return best, ok
}
