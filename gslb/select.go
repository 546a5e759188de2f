package gslb

import (
	"fmt"
	"math"
	"net/netip"
	"slices"

	"github.com/meridian-gslb/meridian/geo"
)

// MaxAddrs is the most addresses one Answer carries. It keeps Answer a
// fixed-size value so Select does not allocate.
const MaxAddrs = 8

// DNS query types Select answers with addresses. Every other type is
// NODATA for a service name.
const (
	TypeA    uint16 = 1
	TypeAAAA uint16 = 28
)

// Query is what Select needs to know about one DNS question.
type Query struct {
	// Name is the canonical (lower case, fully qualified) query name.
	// Select does not keep it, so callers may pass a string that aliases
	// a reused buffer.
	Name string
	Type uint16
	// Client is the address that locates the client: the ECS address when
	// the query carried one with a non-zero source prefix, else the
	// packet's source address.
	Client netip.Addr
	// SourcePrefix is the ECS source prefix length, or the full address
	// length when there was no ECS.
	SourcePrefix int
	// Rand drives the random choices (weighted, roundrobin); the caller
	// supplies it so that Select stays a pure function.
	Rand uint64
}

// Result is the outcome class of a Select, translated to an rcode and
// answer sections by dnsserver.
type Result uint8

// The results.
const (
	Success  Result = iota // addresses or a CNAME target
	NoData                 // the name exists, but has nothing of this type
	NXDomain               // in a zone, but no such service
	Refused                // in no zone we serve
)

func (r Result) String() string {
	switch r {
	case Success:
		return "success"
	case NoData:
		return "nodata"
	case NXDomain:
		return "nxdomain"
	case Refused:
		return "refused"
	}
	return fmt.Sprintf("result(%d)", uint8(r))
}

// Answer is Select's decision. It is a fixed-size value: no allocation.
type Answer struct {
	Result  Result
	Zone    *Zone    // the zone of the name, nil when Refused
	Service *Service // nil unless the name is a service
	// Target is the CNAME target when a hostname member was chosen.
	Target string
	TTL    uint32
	// ScopePrefix is the ECS scope (RFC 7871 section 7.2.1): the length of
	// the client prefix that decided the answer. 0 when the answer does
	// not depend on the client.
	ScopePrefix uint8
	// Site is the site of the first answered member, "" otherwise.
	Site string
	// Degraded is set when members are down, a lower priority group or
	// the down response answered.
	Degraded bool
	Reason   Reason
	n        uint8
	addrs    [MaxAddrs]netip.Addr
}

// Addrs returns the answered addresses, best first.
func (a *Answer) Addrs() []netip.Addr { return a.addrs[:a.n] }

func (a *Answer) add(ip netip.Addr) bool {
	if int(a.n) == MaxAddrs {
		return false
	}
	a.addrs[a.n] = ip
	a.n++
	return true
}

// Rule names the step of the decision order that settled an answer.
type Rule uint8

// The rules, in decision order.
const (
	RuleNotInZone         Rule = iota // no zone: REFUSED
	RuleNoService                     // in the zone, no such service: NXDOMAIN
	RuleNotAddressType                // qtype other than A/AAAA: NODATA
	RuleNoFamily                      // no member of the asked family: NODATA
	RuleGeoNearest                    // nearest site by great-circle distance
	RuleGeoSite                       // a geo rule placed the client at a site
	RuleGeoCountry                    // no coordinates: same country or continent
	RuleGeoUnlocated                  // client not located: every candidate
	RuleTopology                      // a topology rule matched
	RuleTopologyDefault               // no topology rule matched
	RuleWeighted                      // weighted random choice
	RuleRoundRobin                    // rotation
	RuleConsistentHash                // rendezvous hash of the client subnet
	RuleDownNone                      // nothing healthy: NODATA
	RuleDownAll                       // nothing healthy: every member
	RuleDownFallback                  // nothing healthy: fallback addresses
	RuleLatency                       // fastest probes from the answering site
	RuleLatencyUnmeasured             // no round-trip time measured yet: every candidate
)

var ruleNames = [...]string{
	RuleNotInZone:         "not-in-zone",
	RuleNoService:         "no-such-name",
	RuleNotAddressType:    "not-address-type",
	RuleNoFamily:          "no-member-of-family",
	RuleGeoNearest:        "geo-nearest",
	RuleGeoSite:           "geo-rule-site",
	RuleGeoCountry:        "geo-country",
	RuleGeoUnlocated:      "geo-unlocated",
	RuleTopology:          "topology",
	RuleTopologyDefault:   "topology-no-match",
	RuleWeighted:          "weighted",
	RuleRoundRobin:        "roundrobin",
	RuleConsistentHash:    "consistent-hash",
	RuleDownNone:          "down-none",
	RuleDownAll:           "down-all",
	RuleLatency:           "latency-fastest",
	RuleLatencyUnmeasured: "latency-unmeasured",
	RuleDownFallback:      "down-fallback",
}

func (r Rule) String() string {
	if int(r) < len(ruleNames) {
		return ruleNames[r]
	}
	return fmt.Sprintf("rule(%d)", uint8(r))
}

// Reason says why Select answered as it did; explain prints it and the
// query log records it.
type Reason struct {
	Rule Rule
	// Persistent is set when site persistence picked among the candidates.
	Persistent bool
	// Priority is the priority group answered; BelowMinUp is set when no
	// group had min_up healthy members and the first group with any was used.
	Priority   int
	BelowMinUp bool
	// Candidates is how many members were eligible in that group, Down
	// how many of the group were left out as unhealthy or drained.
	Candidates int
	Down       int
	// Located is how the client was placed (geo and topology).
	Located geo.Source
}

func (r Reason) String() string {
	s := r.Rule.String()
	switch r.Rule {
	case RuleNotInZone, RuleNoService, RuleNotAddressType, RuleNoFamily, RuleDownNone, RuleDownAll, RuleDownFallback:
		return s
	}
	s = fmt.Sprintf("%s priority=%d candidates=%d down=%d", s, r.Priority, r.Candidates, r.Down)
	if r.Persistent {
		s += " persistent"
	}
	if r.BelowMinUp {
		s += " below-min-up"
	}
	if r.Located != geo.SourceNone {
		s += " located-by=" + r.Located.String()
	}
	return s
}

// Select picks the answer for q from snapshot s, following the decision
// order in shared/design.md. It is pure, lock-free and does not allocate.
func Select(s *Snapshot, q Query) Answer { return s.decide(q, nil) }

// Explain is Select with a trace of every step and every member
// considered. It allocates; use it for the explain API, not for queries.
func Explain(s *Snapshot, q Query) (Answer, *Trace) {
	t := &Trace{}
	a := s.decide(q, t)
	return a, t
}

// filter keeps the member indexes for which f is true, in place.
func filter(l []int, f func(int) bool) []int {
	n := 0
	for _, i := range l {
		if f(i) {
			l[n] = i
			n++
		}
	}
	return l[:n]
}

func (s *Snapshot) decide(q Query, t *Trace) (a Answer) {
	svc := s.service(q.Name)
	if svc == nil {
		a.Zone = s.Zone(q.Name)
		if a.Zone == nil {
			a.Result, a.Reason.Rule = Refused, RuleNotInZone
		} else {
			a.Result, a.Reason.Rule = NXDomain, RuleNoService
		}
		return a
	}
	a.Zone, a.Service, a.TTL = svc.zone, &svc.Service, svc.Policy.TTL
	var f int
	switch q.Type {
	case TypeA:
		f = famV4
	case TypeAAAA:
		f = famV6
	default:
		a.Result, a.Reason.Rule = NoData, RuleNotAddressType
		return a
	}
	if len(svc.groups[f]) == 0 {
		a.Result, a.Reason.Rule = NoData, RuleNoFamily
		return a
	}
	if t != nil {
		t.start(s, svc, q, f)
	}

	// Steps 2 and 3: health, then the first priority group with min_up
	// healthy members; failing that, the first with any.
	// The candidate list lives in this array on the stack; only a group of
	// more than 32 members makes it allocate.
	var buf [32]int
	g, l, down := s.pickGroup(svc, f, buf[:0], svc.Policy.MinUp)
	if g == nil {
		if g, l, down = s.pickGroup(svc, f, buf[:0], 1); g != nil {
			a.Reason.BelowMinUp = true
		}
	}
	if g == nil {
		return s.downResponse(svc, f, a, t)
	}
	a.Reason.Priority, a.Reason.Candidates, a.Reason.Down = g.priority, len(l), down
	a.Degraded = down > 0 || a.Reason.BelowMinUp || g != &svc.groups[f][0]
	if t != nil {
		t.group(g, l, a.Reason.BelowMinUp)
	}

	// Step 3b: load shedding leaves out the members that shed this
	// client's network, so the strategy answers the next best (load.go).
	pol := &svc.Policy
	var so shedOutcome
	var obuf [32]int // the candidates before shedding, when persistence needs them
	if pol.Load.On() && (len(s.load) > 0 || pol.Persistence.Enabled) {
		// The usual case, no candidate loaded and no persistence,
		// costs this one walk.
		if loaded := s.anyLoaded(svc, l); loaded || pol.Persistence.Enabled {
			l, so = s.shed(svc, q, f, l, obuf[:0], loaded, t)
		}
	}

	// Step 4: the strategy narrows the group to equally good members.
	l, scope := s.narrow(svc, q, l, &a, t)
	scope = max(scope, so.scope)

	// Step 5: the first member.
	first, scope := s.pickFirst(svc, q, l, scope, &a, so.net)

	// With load shedding and persistence, a network answered by the
	// member it would have had without any shedding is remembered as
	// persisted there (sticky.go); explain only looks.
	if so.key.ok && t == nil && len(l) > 0 {
		chosen := l[first]
		if !so.shed || s.naturalFirst(svc, q, so.orig, so.net) == chosen {
			s.sticky.remember(so.key, fingerprint(svc.members[chosen].seed))
		}
	}

	// Step 6: count, then the addresses of the chosen members in order.
	count := pol.Answers
	if count == 0 {
		count = 1
		if pol.Strategy == StrategyRoundRobin {
			count = len(l)
		}
	}
	for k := 0; k < len(l) && k < count; k++ {
		m := &svc.members[l[(first+k)%len(l)]]
		if k == 0 {
			a.Site = m.Site
			if m.Hostname != "" {
				a.Target = m.Hostname
				break
			}
		}
		if m.Hostname != "" {
			continue // a CNAME cannot stand beside addresses (RFC 1034 section 3.6.2)
		}
		for _, ip := range m.addrsOf(f) {
			a.add(ip)
		}
	}
	a.ScopePrefix = uint8(scope)
	a.Result = Success
	if a.Degraded && pol.DegradedTTL > 0 {
		a.TTL = pol.DegradedTTL
	}
	if t != nil {
		t.finish(a)
	}
	return a
}

// pickFirst is step 5: the index in l of the first member to answer, by
// rendezvous hashing when the answer must be sticky or depends on the
// client's network, else a weighted random draw (roundrobin rotates); and
// the ECS scope with the hashed network's. nk is the client's network as
// load shedding hashed it, reused when the mask is the same.
func (s *Snapshot) pickFirst(svc *service, q Query, l []int, scope int, a *Answer, nk netKey) (int, int) {
	pol := &svc.Policy
	switch {
	case pol.Strategy == StrategyConsistentHash:
		bits := pol.HashMask.Bits(q.Client)
		return s.hrw(svc, l, nk.under(q.Client, bits)), max(scope, bits)
	case pol.Persistence.Enabled:
		a.Reason.Persistent = true
		bits := pol.Persistence.Mask.Bits(q.Client)
		return s.hrw(svc, l, nk.under(q.Client, bits)), max(scope, bits)
	case pol.Strategy == StrategyRoundRobin:
		return int(q.Rand % uint64(len(l))), scope
	case scope > 0 && len(l) > 1:
		// Geo and topology answers are cached by resolvers for the
		// whole scope network (RFC 7871 section 7.3.1), so a choice
		// among equals must be the same for every address in it: hash
		// the scope network rather than draw at random.
		return s.hrw(svc, l, nk.under(q.Client, scope)), scope
	}
	return s.weightedDraw(svc, l, q.Rand), scope
}

// naturalFirst is the member (an index into svc.members) that steps 4 and
// 5 choose from the candidates l when nothing is shed: what a network
// answered while shedding must be answered with to be remembered. -1 when
// there is none. It reuses l.
func (s *Snapshot) naturalFirst(svc *service, q Query, l []int, nk netKey) int {
	var ref Answer
	l, scope := s.narrow(svc, q, l, &ref, nil)
	if len(l) == 0 {
		return -1
	}
	first, _ := s.pickFirst(svc, q, l, scope, &ref, nk)
	return l[first]
}

// narrow is step 4: the strategy keeps the equally good members of l and
// says which ECS scope decided, compiled when the service's decision is.
func (s *Snapshot) narrow(svc *service, q Query, l []int, a *Answer, t *Trace) ([]int, int) {
	var scope int
	switch pol := &svc.Policy; {
	case svc.dec != nil && q.Client.IsValid():
		var asked []int
		if t != nil {
			asked = slices.Clone(l)
		}
		var p *preference
		l, scope, p = svc.dec.narrow(svc, q, l, a)
		if t != nil {
			// Where the client was located (and the distances) are not
			// compiled (see preference): the uncompiled strategy traces
			// them, then the compiled decision that answered.
			var ref Answer
			s.placeUncompiled(svc, q, asked, &ref, t)
			a.Reason.Located = ref.Reason.Located
			t.compiled(svc.dec, p, q, scope)
		}
	case pol.Strategy == StrategyGeo || pol.Strategy == StrategyTopology:
		l, scope = s.placeUncompiled(svc, q, l, a, t)
	case pol.Strategy == StrategyWeighted:
		a.Reason.Rule = RuleWeighted
	case pol.Strategy == StrategyRoundRobin:
		a.Reason.Rule = RuleRoundRobin
	case pol.Strategy == StrategyConsistentHash:
		a.Reason.Rule = RuleConsistentHash
	case pol.Strategy == StrategyLatency:
		l = s.byLatency(svc, l, a, t)
	}
	return l, scope
}

// placeUncompiled is step 4 for geo and topology without a compiled
// decision: the reference the compiled decisions are held to.
func (s *Snapshot) placeUncompiled(svc *service, q Query, l []int, a *Answer, t *Trace) ([]int, int) {
	if svc.Policy.Strategy == StrategyGeo {
		return s.byGeo(svc, q, l, a, t)
	}
	return s.byTopology(svc, q, l, a, t)
}

// pickGroup returns the first priority group with at least minUp eligible
// (up, not drained) members, those members appended to buf, and how many
// of the group were left out.
func (s *Snapshot) pickGroup(svc *service, f int, buf []int, minUp int) (*group, []int, int) {
	groups := svc.groups[f]
	for gi := range groups {
		g := &groups[gi]
		l := buf[:0]
		for _, i := range g.members {
			m := &svc.members[i]
			if s.state(m).eligible() && m.Weight > 0 {
				l = append(l, i)
			}
		}
		if len(l) >= minUp {
			return g, l, len(g.members) - len(l)
		}
	}
	return nil, nil, 0
}

// downResponse answers when no member is eligible.
func (s *Snapshot) downResponse(svc *service, f int, a Answer, t *Trace) Answer {
	pol := &svc.Policy
	a.Degraded = true
	if pol.DegradedTTL > 0 {
		a.TTL = pol.DegradedTTL
	}
	switch pol.Down.Type {
	case DownAll:
		a.Reason.Rule = RuleDownAll
		for _, g := range svc.groups[f] {
			for _, i := range g.members {
				m := &svc.members[i]
				if m.Hostname != "" && a.n == 0 && a.Target == "" {
					a.Target, a.Site = m.Hostname, m.Site
				}
				for _, ip := range m.addrsOf(f) {
					a.add(ip)
				}
			}
		}
		if a.n > 0 {
			a.Target = "" // addresses win over a CNAME
		}
	case DownFallback:
		a.Reason.Rule = RuleDownFallback
		for _, ip := range pol.Down.Addresses {
			if famOf(ip) == f {
				a.add(ip)
			}
		}
	default:
		a.Reason.Rule = RuleDownNone
	}
	a.Result = Success
	if a.n == 0 && a.Target == "" {
		a.Result = NoData
	}
	if t != nil {
		t.add("no member is eligible: down response %q", pol.Down.Type)
		t.finish(a)
	}
	return a
}

// weightedDraw picks an index into l with probability proportional to
// the members' weights scaled by their capacity (weightOf).
func (s *Snapshot) weightedDraw(svc *service, l []int, r uint64) int {
	var total uint64
	for _, i := range l {
		total += s.weightOf(svc, &svc.members[i])
	}
	if total == 0 {
		return 0
	}
	x := r % total
	for k, i := range l {
		w := s.weightOf(svc, &svc.members[i])
		if x < w {
			return k
		}
		x -= w
	}
	return 0
}

// hrw is weighted rendezvous hashing (Thaler and Ravishankar; the
// logarithmic method of Schindelhauer and Schomaker): every member scores
// w / -ln(u) (w its weightOf), u a hash of (client subnet, member) in
// (0,1), and the best score wins. Removing a member moves only the clients
// it had, and every site computes the same winner without talking to the
// others.
func (s *Snapshot) hrw(svc *service, l []int, nk netKey) int {
	best, bestScore := 0, math.Inf(-1)
	for k, i := range l {
		m := &svc.members[i]
		h := nk.hash(m.seed)
		u := (float64(h>>11) + 0.5) / (1 << 53)
		score := float64(s.weightOf(svc, m)) / -math.Log(u)
		if score > bestScore {
			best, bestScore = k, score
		}
	}
	return best
}

// netKey is a client network under a mask, as rendezvous hashing, load
// shedding and the persistence memory hash it against a member or a
// service; set is false for no key.
type netKey struct {
	hi, lo uint64
	bits   int
	set    bool
}

// netKeyOf is the network of a under a mask of bits.
func netKeyOf(a netip.Addr, bits int) netKey {
	hi, lo := subnetKey(a, bits)
	return netKey{hi: hi, lo: lo, bits: bits, set: true}
}

// under is nk when it is the network under bits, else that network
// computed: a query's steps share one key when their masks agree.
func (nk netKey) under(a netip.Addr, bits int) netKey {
	if nk.set && nk.bits == bits {
		return nk
	}
	return netKeyOf(a, bits)
}

// hash mixes the network with seed (a member's or a service's, salted
// per use so that the uses do not move the same networks).
func (nk netKey) hash(seed uint64) uint64 { return mix64(nk.hi ^ mix64(nk.lo^seed)) }

// subnetKey is the client subnet under the mask, as two words.
func subnetKey(a netip.Addr, bits int) (hi, lo uint64) {
	if !a.IsValid() {
		return 0, 0
	}
	p, err := a.Prefix(bits)
	if err != nil {
		p = netip.PrefixFrom(a, a.BitLen())
	}
	b := p.Addr().As16()
	for i := 0; i < 8; i++ {
		hi = hi<<8 | uint64(b[i])
		lo = lo<<8 | uint64(b[8+i])
	}
	return hi ^ uint64(bits)<<56, lo
}

// mix64 is the splitmix64 finalizer: a fast, well-spread 64-bit mix.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
