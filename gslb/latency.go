package gslb

import (
	"time"
)

// The latency strategy (issue #12): a query answered at a site gets the
// members that site's probes reach fastest. Resolvers tend to ask the
// authoritative server nearest to them, so the site that answers stands
// in for the client; each site decides from its own measurements, which
// never travel. The round-trip times come from the health monitor (a
// smoothed average of each target's successful probes) through RTTView,
// and sit in the snapshot beside the health table, so Select reads them
// without a lock.

// RTTView is an optional extension of HealthView: the member's smoothed
// probe round-trip time from this site, known once a probe succeeded.
type RTTView interface {
	MemberRTT(service string, m *Member) (time.Duration, bool)
}

// rttTable holds each member's round-trip time in microseconds, indexed
// by member.gi; 0 is not measured. It is immutable: WithRTT makes a new
// one.
type rttTable []uint32

// rttOf is m's round-trip time in microseconds, 0 when not measured.
func (s *Snapshot) rttOf(m *member) uint32 {
	if int(m.gi) < len(s.rtt) {
		return s.rtt[m.gi]
	}
	return 0
}

// WithRTT returns a snapshot that differs from s only in the round-trip
// times of the named services' members, read again from v. Other members
// keep theirs. The table (one word per member) is copied only when a time
// changed; with none changed it returns s itself, so a caller can skip
// publishing.
func (s *Snapshot) WithRTT(v RTTView, services []string) *Snapshot {
	e := tableEdit[uint32]{base: s.rtt, size: s.giEnd}
	s.eachMember(services, func(svc *service, m *member) {
		us := uint32(0)
		if d, ok := v.MemberRTT(svc.Name, m.Member); ok && d > 0 {
			us = uint32(min(max(d.Microseconds(), 1), int64(^uint32(0))))
		}
		if us != s.rttOf(m) {
			e.set(m.gi, us)
		}
	})
	if e.next == nil {
		return s
	}
	next := *s
	next.rtt = e.next
	return &next
}

// tableEdit is a copy-on-write edit of a table indexed by member.gi (the
// round-trip times, the load): the copy is made at the first change, so
// a refresh that changes nothing copies nothing.
type tableEdit[T any] struct {
	base []T
	size int // the snapshot's giEnd
	next []T // nil until the first change
}

func (e *tableEdit[T]) set(gi int32, v T) {
	if e.next == nil {
		e.next = make([]T, e.size)
		copy(e.next, e.base)
	}
	e.next[gi] = v
}

// byLatency is the latency strategy's step 4: the members of l whose
// round-trip time is within the policy's tie band of the fastest measured
// one. Members not measured yet are left out while any is measured; with
// none measured, every candidate stays (a new site answers as weighted
// until its probes have succeeded). The answer does not depend on the
// client, so it has no ECS scope.
func (s *Snapshot) byLatency(svc *service, l []int, a *Answer, t *Trace) []int {
	best := uint32(0)
	for _, i := range l {
		if r := s.rttOf(&svc.members[i]); r > 0 && (best == 0 || r < best) {
			best = r
		}
	}
	if t != nil {
		for _, i := range l {
			if v := t.verdict(svc, i); v != nil {
				if r := s.rttOf(&svc.members[i]); r > 0 {
					ms := float64(r) / 1000
					v.RTTMs = &ms
				}
			}
		}
	}
	if best == 0 {
		a.Reason.Rule = RuleLatencyUnmeasured
		if t != nil {
			t.add("no round-trip time measured from this site yet: every candidate")
		}
		return l
	}
	limit := uint64(best) + uint64(svc.Policy.LatencyTieMs)*1000
	fast := func(i int) bool {
		r := s.rttOf(&svc.members[i])
		return r > 0 && uint64(r) <= limit
	}
	if t != nil {
		for _, i := range l {
			if v := t.verdict(svc, i); v != nil && !fast(i) {
				v.Verdict = "slower"
			}
		}
	}
	l = filter(l, fast)
	a.Reason.Rule = RuleLatency
	if t != nil {
		t.add("fastest from this site: %.1f ms; %d members within %d ms of it", float64(best)/1000, len(l), svc.Policy.LatencyTieMs)
	}
	return l
}
