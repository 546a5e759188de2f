package gslb

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"time"
)

// Load shedding (issue #12), after NS1's "Shed Load" filter: each member
// of a service with a load policy has a load signal, a number its backend
// reports through the health probe or Prometheus holds for it. Below the
// low watermark the member takes every client network it would anyway;
// between low and high a growing share of networks is moved off it; at
// high it takes none, and it stays shed until the load falls below low
// again (hysteresis: a member hovering at high does not flap). The moved
// networks go to the next-best members of the same strategy, because the
// shed member is left out before the strategy orders the candidates (geo:
// the next nearest; topology: the rule's next site).
//
// Which networks move is a hash of the network and the member, so the
// moved set only grows with the load, and every site moves the same ones.
// With persistence, a network this site has answered with a member stays
// on it while the member is loaded, until the hard limit (sticky.go).

// LoadPolicy is a service's load shedding; it is off while High is 0.
// The watermarks are in the signal's own unit (a fraction, a percentage,
// requests per second): only their order matters.
type LoadPolicy struct {
	// Low and High are the watermarks: below Low nothing is shed, from
	// High on everything is, until the load is below Low again.
	Low  float64 `json:"low"`
	High float64 `json:"high"`
	// HardLimit is where persistence gives up: a network persisted to a
	// member stays there while the member's load is below it. 0 takes
	// the default, High plus (High - Low).
	HardLimit float64 `json:"hard_limit,omitempty"`
	// SpareWeights scales each member's weight by its spare capacity
	// below High, 1 - load/High (at least 1/1000): among the members the
	// strategy leaves, the less loaded take more of the networks, before
	// any is shed.
	SpareWeights bool `json:"spare_weights,omitempty"`
	// MaxAge is how old a signal may be and still count; an older one is
	// neutral (the member is treated as unloaded). 0 takes
	// DefaultLoadMaxAge.
	MaxAge time.Duration `json:"max_age,omitempty"`
	// StickyFor is how long a persisted network is remembered after its
	// last query. 0 takes DefaultStickyFor.
	StickyFor time.Duration `json:"sticky_for,omitempty"`
	// Prometheus, when set, is a PromQL instant query whose samples are
	// the members' load, matched by MatchLabel to MatchOn.
	Prometheus string `json:"prometheus,omitempty"`
	// MatchLabel is the sample's label that names the member; default
	// "site".
	MatchLabel string `json:"match_label,omitempty"`
	// MatchOn is what of the member the label holds: MatchSite (its site,
	// the default), MatchAddress (one of its addresses, or address:port as
	// Prometheus' instance label has it) or MatchMember (its ID).
	MatchOn string `json:"match_on,omitempty"`
}

// What a Prometheus sample's label is matched to (LoadPolicy.MatchOn).
const (
	MatchSite    = "site"
	MatchAddress = "address"
	MatchMember  = "member"
)

// Load policy defaults.
const (
	// DefaultLoadMaxAge: three of Prometheus' usual 10 s evaluations, or
	// thirty 1 s probes, before a silent source stops counting.
	DefaultLoadMaxAge = 30 * time.Second
	// DefaultStickyFor: a resolver that has not asked for half an hour
	// has let the answer expire long ago.
	DefaultStickyFor = 30 * time.Minute
	// MinLoadMaxAge bounds max_age from below: twice the interval at
	// which gossip refreshes another site's steady reading (5 s), so a
	// reading that only arrives by gossip does not flap between fresh
	// and neutral.
	MinLoadMaxAge = 10 * time.Second
	// MaxStickyFor bounds sticky_for: the memory's clock (sticky.go)
	// counts minutes in 16 bits.
	MaxStickyFor = 24 * time.Hour
)

// LoadServices are the names of st's services with load shedding.
func LoadServices(st *State) []string {
	return st.servicesWhere(func(p *Policy) bool { return p.Load.On() })
}

// LatencyServices are the names of st's services of strategy latency.
func LatencyServices(st *State) []string {
	return st.servicesWhere(func(p *Policy) bool { return p.Strategy == StrategyLatency })
}

// servicesWhere are the names of st's services whose policy has.
func (st *State) servicesWhere(has func(*Policy) bool) []string {
	var names []string
	for i := range st.Services {
		if has(&st.Services[i].Policy) {
			names = append(names, st.Services[i].Name)
		}
	}
	return names
}

// MemberLoadStatus is one member's load as the snapshot holds it, for
// the load API and metrics.
type MemberLoadStatus struct {
	Site   string      `json:"site"`
	Member string      `json:"member"`
	Load   LoadVerdict `json:"load"`
}

// MemberLoads are the load of every member of the named service, and its
// policy; nil when the service has no load shedding.
func (s *Snapshot) MemberLoads(name string) ([]MemberLoadStatus, *LoadPolicy) {
	svc := s.service(name)
	if svc == nil || !svc.Policy.Load.On() {
		return nil, nil
	}
	out := make([]MemberLoadStatus, len(svc.members))
	for i := range svc.members {
		m := &svc.members[i]
		out[i] = MemberLoadStatus{Site: m.Site, Member: m.ID(), Load: *s.loadVerdict(svc, m)}
	}
	return out, &svc.Policy.Load
}

// On reports whether the policy sheds load.
func (l *LoadPolicy) On() bool { return l.High > 0 }

// applyDefaults fills the unset fields of an enabled policy.
// configured reports whether any load key was written (On or not).
func (l *LoadPolicy) configured() bool {
	return l.On() || l.Low != 0 || l.Prometheus != "" || l.SpareWeights
}

func (l *LoadPolicy) applyDefaults() {
	if !l.configured() {
		return
	}
	if l.HardLimit == 0 {
		l.HardLimit = l.High + (l.High - l.Low)
	}
	if l.MaxAge == 0 {
		l.MaxAge = DefaultLoadMaxAge
	}
	if l.StickyFor == 0 {
		l.StickyFor = DefaultStickyFor
	}
	if l.Prometheus != "" {
		if l.MatchLabel == "" {
			l.MatchLabel = MatchSite
		}
		l.MatchOn = strings.ToLower(strings.TrimSpace(l.MatchOn))
		if l.MatchOn == "" {
			l.MatchOn = MatchSite
		}
	}
}

// validate reports the problems of a defaulted policy under "load.".
func (l *LoadPolicy) validate(bad func(path, format string, args ...any)) {
	if !l.On() {
		if l.configured() {
			bad("load.high", "a load policy needs a high watermark above 0")
		}
		return
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"low", l.Low}, {"high", l.High}, {"hard_limit", l.HardLimit}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) || f.v < 0 {
			bad("load."+f.name, "must be a number of at least 0, got %v", f.v)
		}
	}
	if l.Low >= l.High {
		bad("load.low", "must be below high (%v), got %v", l.High, l.Low)
	} else if l.HardLimit < l.High { // (the default is derived from the two)
		bad("load.hard_limit", "must be at least high (%v), got %v", l.High, l.HardLimit)
	}
	if l.MaxAge < MinLoadMaxAge {
		bad("load.max_age", "must be at least %s, got %s", MinLoadMaxAge, l.MaxAge)
	}
	if l.StickyFor < time.Minute || l.StickyFor > MaxStickyFor {
		bad("load.sticky_for", "must be between 1m and %s, got %s", MaxStickyFor, l.StickyFor)
	}
	if l.Prometheus != "" {
		if strings.TrimSpace(l.MatchLabel) == "" {
			bad("load.match_label", "must name a label")
		}
		switch l.MatchOn {
		case MatchSite, MatchAddress, MatchMember:
		default:
			bad("load.match_on", "must be %s, %s or %s, got %q", MatchSite, MatchAddress, MatchMember, l.MatchOn)
		}
	} else if l.MatchLabel != "" || l.MatchOn != "" {
		bad("load.match_label", "is only used with load.prometheus")
	}
}

// LoadSignal is one reading of a member's load.
type LoadSignal struct {
	Value  float64
	At     time.Time // when it was read
	Source string    // "probe", "prometheus", "site/<name>" (another site's probe)
}

// LoadView is an optional extension of HealthView: the member's load
// reading at now, combined from its sources (readings older than maxAge
// count only when no other is fresher); the reading may be older than
// maxAge, which WithLoad judges.
type LoadView interface {
	MemberLoad(service string, m *Member, maxAge time.Duration, now time.Time) (LoadSignal, bool)
}

// ShedLevel is the load rule, defined once: the share of client networks
// moved off a member whose load is value, and whether it is over (at or
// above high, and staying so until below low). wasOver is the previous
// reading's Over. The share is 0 below low, grows linearly to 1 at high,
// and is 1 while over.
func (l *LoadPolicy) ShedLevel(value float64, wasOver bool) (share float64, over bool) {
	switch {
	case value >= l.High, wasOver && value >= l.Low:
		return 1, true
	case value <= l.Low:
		return 0, false
	}
	return (value - l.Low) / (l.High - l.Low), false
}

// loadEntry is a member's load as Select reads it: 8 bytes, in a table
// indexed by member.gi like the health table.
type loadEntry struct {
	value float32
	// level is the shed share in 1/65535; levelAll sheds every network.
	level uint16
	// spare is the capacity left below high, in thousandths (at least
	// 1), for spare_weights: set with the entry, not per query.
	spare uint16
	flags uint8
}

const (
	levelAll = math.MaxUint16

	loadKnown uint8 = 1 << iota
	loadStale
	loadOver
	loadHard // at or above the hard limit: persistence gives up
)

// loadTable is immutable: WithLoad makes a new one.
type loadTable []loadEntry

func (s *Snapshot) loadOf(m *member) loadEntry {
	if int(m.gi) < len(s.load) {
		return s.load[m.gi]
	}
	return loadEntry{}
}

// WithLoad returns a snapshot that differs from s only in the load of the
// named services' members, read again from v at now. The table is copied
// only when an entry changed; with none changed it returns s itself.
// services must be every service with load shedding (LoadServices): the
// hysteresis state, which lives across snapshots, is kept only for the
// members seen.
func (s *Snapshot) WithLoad(v LoadView, services []string, now time.Time) *Snapshot {
	e := tableEdit[loadEntry]{base: s.load, size: s.giEnd}
	s.over.mu.Lock()
	defer s.over.mu.Unlock()
	s.over.gen++
	defer s.over.prune()
	s.eachMember(services, func(svc *service, m *member) {
		pol := &svc.Policy.Load
		if !pol.On() {
			return
		}
		sig, ok := v.MemberLoad(svc.Name, m.Member, pol.MaxAge, now)
		if le := s.over.entry(pol, m.seed, sig, ok, now); le != s.loadOf(m) {
			e.set(m.gi, le)
		}
	})
	if e.next == nil {
		return s
	}
	next := *s
	next.load = e.next
	return &next
}

// overMemory is the hysteresis state of every member with load: whether
// it reached high and has not fallen below low since, by member seed. It
// is shared by a snapshot and those built from it, and only WithLoad
// touches it.
type overMemory struct {
	mu   sync.Mutex
	over map[uint64]uint64 // seed -> the WithLoad call that last saw it over
	gen  uint64            // counts WithLoad calls
}

// prune forgets the members the last WithLoad did not see over: removed
// members and services, and services no longer shedding.
func (o *overMemory) prune() {
	for seed, g := range o.over {
		if g != o.gen {
			delete(o.over, seed)
		}
	}
}

// entry turns a reading into the table's entry, and moves the member's
// hysteresis state.
func (o *overMemory) entry(pol *LoadPolicy, seed uint64, sig LoadSignal, ok bool, now time.Time) loadEntry {
	switch {
	case !ok:
		return loadEntry{}
	case now.Sub(sig.At) > pol.MaxAge:
		return loadEntry{flags: loadStale}
	}
	e := loadEntry{value: float32(sig.Value), flags: loadKnown}
	e.spare = uint16(min(max(1-float64(e.value)/pol.High, 0.001), 1) * 1000)
	_, was := o.over[seed]
	share, over := pol.ShedLevel(sig.Value, was)
	if over {
		if o.over == nil {
			o.over = make(map[uint64]uint64)
		}
		o.over[seed] = o.gen
		e.flags |= loadOver
		e.level = levelAll
	} else {
		e.level = uint16(min(share*levelAll, levelAll-1))
	}
	if sig.Value >= pol.HardLimit {
		e.flags |= loadHard
	}
	return e
}

// weightOf is m's weight as the weighted draw and rendezvous hashing use
// it: EffectiveWeight (weight x capacity), scaled by the spare capacity
// its load leaves when the policy asks for it. A member without a fresh
// signal keeps its weight.
func (s *Snapshot) weightOf(svc *service, m *member) uint64 {
	w := m.EffectiveWeight()
	if !svc.Policy.Load.SpareWeights {
		return w
	}
	e := s.loadOf(m)
	if e.flags&loadKnown == 0 {
		return w
	}
	return max(w*uint64(e.spare)/1000, 1)
}

// shedMask is the client network shedding hashes: persistence's when on,
// else the consistent-hash mask.
func shedMask(pol *Policy) Mask {
	if pol.Persistence.Enabled {
		return pol.Persistence.Mask
	}
	return pol.HashMask
}

// shedsNetwork reports whether e moves the network nk off m.
func shedsNetwork(e loadEntry, m *member, nk netKey) bool {
	switch e.level {
	case 0:
		return false
	case levelAll:
		return true
	}
	// A hash of its own (salted), so that shedding and rendezvous
	// hashing do not move the same networks.
	return uint16(nk.hash(m.seed^0x5bd1e9955bd1e995)>>48) < e.level
}

// shedOutcome is what the load step tells the rest of the decision.
type shedOutcome struct {
	// scope is the ECS scope the step needs: the hashed network when the
	// answer depends on it (a member sheds part of the networks, or this
	// network's memory kept it on its member).
	scope int
	// net is the client's network as the step hashed it, for step 5.
	net netKey
	// key is the network's place in the persistence memory (persistence
	// on), where the answer is remembered if it is the natural one.
	key stickyKey
	// shed is set when a candidate was left out for this network: the
	// answer may not be the one the network would have had, which
	// naturalFirst finds from orig, the candidates before (persistence).
	shed bool
	orig []int
}

// shed is the load step, between health (step 3) and the strategy (step
// 4): it leaves out of l the members that shed this client's network
// (family f). With persistence, the member this site remembers the
// network at keeps it while below its hard limit, as if it did not shed
// it: the memory only ever keeps a network from moving, it never moves
// one. orig is where the candidates before shedding are kept, with
// persistence, when any is left out; loaded says whether any candidate
// sheds any network (anyLoaded): decide calls it only when one does or
// persistence is on.
func (s *Snapshot) shed(svc *service, q Query, f int, l, orig []int, loaded bool, t *Trace) ([]int, shedOutcome) {
	pol := &svc.Policy
	var out shedOutcome
	bits := shedMask(pol).Bits(q.Client)
	out.net = netKeyOf(q.Client, bits)
	if pol.Persistence.Enabled {
		out.key = s.sticky.key(svc, f, out.net)
	}
	if !loaded {
		return l, out // nothing sheds: the natural answer, to remember
	}
	keep := s.persisted(svc, l, out.key, out.net, t)
	if keep >= 0 {
		out.scope = bits
	}
	// One pass decides, per candidate, whether it sheds this network
	// (positions past 64 are decided again in the second).
	var sheds uint64
	shedsAt := func(k, i int, e loadEntry) bool {
		if k < 64 {
			return sheds>>k&1 == 1
		}
		return i != keep && shedsNetwork(e, &svc.members[i], out.net)
	}
	keeps := false
	least := loadEntry{level: levelAll, value: float32(math.Inf(1))}
	for k, i := range l {
		e := s.loadOf(&svc.members[i])
		if e.level < least.level || e.level == least.level && e.value < least.value {
			least = e
		}
		if e.level != 0 && e.level != levelAll {
			out.scope = bits
		}
		sh := i != keep && shedsNetwork(e, &svc.members[i], out.net)
		if sh && k < 64 {
			sheds |= 1 << k
		}
		keeps = keeps || !sh
	}
	if pol.Persistence.Enabled {
		out.orig = append(orig, l...)
	}
	n := 0
	for k, i := range l {
		e := s.loadOf(&svc.members[i])
		// When every candidate sheds this network, the least loaded keep
		// it: load moves traffic between members, it never empties an
		// answer.
		gone := keeps && shedsAt(k, i, e) || !keeps && (e.level != least.level || e.level == levelAll && e.value != least.value)
		if gone {
			if t != nil {
				t.shed(svc, i, e)
			}
			continue
		}
		l[n] = i
		n++
	}
	if !keeps && t != nil {
		t.add("every candidate sheds this network: the least loaded keep it")
	}
	out.shed = n != len(l)
	return l[:n], out
}

// persisted is the member of l (an index into svc.members) that this
// site remembers the network at and that keeps it although it sheds it,
// being below its hard limit; -1 for none. A remembered member at its
// hard limit lets the network go and forgets it, so that it does not
// come back while the load hovers at the limit: it is remembered again
// once it is answered there with nothing shed.
func (s *Snapshot) persisted(svc *service, l []int, k stickyKey, nk netKey, t *Trace) int {
	fp, ok := s.sticky.lookup(k, svc.Policy.Load.StickyFor)
	if !ok {
		return -1
	}
	for _, i := range l {
		m := &svc.members[i]
		if fingerprint(m.seed) != fp {
			continue
		}
		e := s.loadOf(m)
		switch {
		case !shedsNetwork(e, m, nk):
			return -1 // it keeps the network anyway
		case e.flags&loadHard == 0:
			if t != nil {
				t.pinned(svc, i)
			}
			return i
		}
		if t != nil {
			t.add("persisted network's member %s is at its hard limit: moved, and forgotten", m.ID())
		} else {
			s.sticky.forget(k, fp)
		}
		return -1
	}
	return -1
}

// anyLoaded reports whether a member of l sheds any network.
func (s *Snapshot) anyLoaded(svc *service, l []int) bool {
	for _, i := range l {
		if s.loadOf(&svc.members[i]).level != 0 {
			return true
		}
	}
	return false
}

// loadWords are explain's words for an entry.
func (e loadEntry) String() string {
	switch {
	case e.flags&loadStale != 0:
		return "signal too old: neutral"
	case e.flags&loadKnown == 0:
		return "no signal: neutral"
	case e.flags&loadOver != 0:
		return fmt.Sprintf("load %g: over the high watermark, sheds every network", e.value)
	case e.level == 0:
		return fmt.Sprintf("load %g: below the low watermark", e.value)
	}
	return fmt.Sprintf("load %g: sheds %.0f%% of networks", e.value, float64(e.level)*100/levelAll)
}
