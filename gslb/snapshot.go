package gslb

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"

	"github.com/meridian-gslb/meridian/geo"
)

// HealthView tells the snapshot builder whether a member is up. Known is
// false when nothing has been observed yet: such a member counts as up
// (design: "every member up until health exists").
type HealthView interface {
	MemberUp(service string, m *Member) (up, known bool)
}

// Snapshot is an immutable, indexed view of a State, ready for Select. It
// is built once per change and read without locks by every query.
// Snapshots built one from another (Next) share the compiled services
// that did not change.
type Snapshot struct {
	State    *State
	Locator  *geo.Locator
	zones    map[string]*Zone
	services *SharedMap[*service]
	// places are the sites by name, with their prepared locations.
	places map[string]*place
	// health holds every member's health and override, indexed by
	// member.gi; WithHealth and WithAdmin replace it copy-on-write.
	health *healthTable
	// giEnd is the first health index no member uses; members counts
	// those in use. Next leaves the ranges of removed services unused
	// until a full build packs them again (see compactAt).
	giEnd, members int
	healthView     HealthView
	admin          Admin
	// decisions are the compiled geo and topology decisions by spec key
	// (decision.go), for s.Locator and s.State's sites. Services whose key
	// is missing answer uncompiled until CompileDecisions fills it in.
	decisions map[string]*decision
	// rtt holds the members' round-trip times from this site for the
	// latency strategy (latency.go); WithRTT replaces it.
	rtt rttTable
	// load holds the members' load for load shedding (load.go); WithLoad
	// replaces it. over and sticky are its memories, shared by every
	// snapshot built from this one: the hysteresis state and the
	// persisted networks (sticky.go).
	load   loadTable
	over   *overMemory
	sticky *sticky
}

// service is a Service compiled for lookup: members split by address
// family and grouped by priority, with their site locations resolved. It
// holds its own copy of the Service (members point into its Members), so
// a compiled service that outlives its State, shared by the snapshots
// that Next builds, keeps nothing else of that State alive.
type service struct {
	Service
	zone    *Zone
	members []member
	// groups[f] are the priority groups of members that can answer
	// family f (famV4, famV6), lowest priority number first.
	groups [2][]group
	// spec is the compiled decision a geo or topology service needs (nil
	// for the other strategies), siteIdx each member's site in it, and dec
	// that decision once compiled.
	spec    *decisionSpec
	siteIdx []uint8
	dec     *decision
	// seed is a stable hash of the name: the persistence memory's key.
	seed uint64
}

type member struct {
	*Member
	site *place // never nil: noPlace for a site the State does not have
	seed uint64 // stable hash of the member's identity, for rendezvous hashing
	gi   int32  // index into Snapshot.health
	fam  uint8  // the family of every address, unless split
	// split holds the addresses by family when the member has both,
	// which is rare: the others answer Member.Addresses as they are.
	split *[2][]netip.Addr
}

// addrsOf returns the member's addresses of family f.
func (m *member) addrsOf(f int) []netip.Addr {
	if m.split != nil {
		return m.split[f]
	}
	if int(m.fam) == f {
		return m.Addresses
	}
	return nil
}

// place is a site with its location prepared for distances, shared by
// the members there.
type place struct {
	*Site
	pt geo.Point
	// scale is biasScale(Site.Bias): 0 for an unbiased site.
	scale float64
}

var noPlace = &place{}

type group struct {
	priority int
	members  []int // indexes into service.members
}

const (
	famV4 = 0
	famV6 = 1
)

// NewSnapshot compiles st (which must have passed Validate) with the given
// locator (may be nil: no geo information) and health view (may be nil:
// everything up).
func NewSnapshot(st *State, loc *geo.Locator, health HealthView) (*Snapshot, error) {
	return (*Snapshot)(nil).Next(st, loc, health)
}

// compile compiles src into a service whose members take the health
// indexes from gi on.
func (s *Snapshot) compile(src *Service, gi int) *service {
	svc := &service{Service: *src, zone: s.Zone(src.Name), seed: seedOf(src.Name, &Member{})}
	svc.members = make([]member, len(svc.Members))
	for i := range svc.Members {
		m := &svc.Members[i]
		cm := member{Member: m, site: s.places[m.Site], seed: seedOf(svc.Name, m), gi: int32(gi + i)}
		if cm.site == nil {
			cm.site = noPlace
		}
		cm.fam, cm.split = splitFamilies(m.Addresses)
		svc.members[i] = cm
	}
	// One backing array each for both families' member indexes and
	// groups: fewer, larger allocations at 100k services.
	buf := make([]int, 0, 2*len(svc.members))
	all := make([]group, 0, 2)
	var firstV6 int
	for f := famV4; f <= famV6; f++ {
		if f == famV6 {
			firstV6 = len(all)
		}
		start := len(buf)
		for i := range svc.members {
			m := &svc.members[i]
			if len(m.addrsOf(f)) > 0 || m.Hostname != "" {
				buf = append(buf, i)
			}
		}
		idx := buf[start:len(buf):len(buf)]
		slices.SortStableFunc(idx, func(a, b int) int {
			return cmp.Compare(svc.members[a].Priority, svc.members[b].Priority)
		})
		for len(idx) > 0 {
			p := svc.members[idx[0]].Priority
			n := 1
			for n < len(idx) && svc.members[idx[n]].Priority == p {
				n++
			}
			all = append(all, group{priority: p, members: idx[:n:n]})
			idx = idx[n:]
		}
	}
	if firstV6 > 0 {
		svc.groups[famV4] = all[:firstV6:firstV6]
	}
	if len(all) > firstV6 {
		svc.groups[famV6] = all[firstV6:]
	}
	if spec, idx, ok := s.specOf(svc); ok {
		svc.spec, svc.siteIdx, svc.dec = spec, idx, s.decisions[spec.key]
	}
	return svc
}

// splitFamilies returns the family of addrs, or them split by family
// when they mix both.
func splitFamilies(addrs []netip.Addr) (fam uint8, split *[2][]netip.Addr) {
	if len(addrs) == 0 {
		return 0, nil
	}
	f := famOf(addrs[0])
	if !slices.ContainsFunc(addrs, func(a netip.Addr) bool { return famOf(a) != f }) {
		return uint8(f), nil
	}
	split = new([2][]netip.Addr)
	for _, a := range addrs {
		split[famOf(a)] = append(split[famOf(a)], a)
	}
	return 0, split
}

func famOf(a netip.Addr) int {
	if a.Is4() {
		return famV4
	}
	return famV6
}

// seedOf hashes a member's identity (FNV-1a of the service name, a zero
// byte and Member.ID). It depends only on configuration, so two snapshots
// of the same config hash every client alike. It does not allocate.
func seedOf(service string, m *Member) uint64 {
	const offset64, prime64 = 14695981039346656037, 1099511628211
	h := uint64(offset64)
	add := func(b byte) { h = (h ^ uint64(b)) * prime64 }
	for i := range len(service) {
		add(service[i])
	}
	add(0)
	var buf [64]byte
	for _, b := range m.AppendID(buf[:0]) {
		add(b)
	}
	return h
}

// Zone returns the zone that name (canonical) falls in, the longest match,
// or nil. It does not allocate.
func (s *Snapshot) Zone(name string) *Zone {
	for n := name; ; {
		if z, ok := s.zones[n]; ok {
			return z
		}
		i := strings.IndexByte(n, '.')
		if i < 0 || i == len(n)-1 {
			return s.zones["."]
		}
		n = n[i+1:]
	}
}

// Zones returns the zones in configuration order.
func (s *Snapshot) Zones() []Zone { return s.State.Zones }

// Service returns the service named name (canonical), or nil.
func (s *Snapshot) Service(name string) *Service {
	if svc := s.service(name); svc != nil {
		return &svc.Service
	}
	return nil
}

// service is the compiled service named name, or nil.
func (s *Snapshot) service(name string) *service {
	svc, _ := s.services.Get(name)
	return svc
}

// Site returns the site named name, or nil.
func (s *Snapshot) Site(name string) *Site {
	if p := s.places[name]; p != nil {
		return p.Site
	}
	return nil
}

// Generation is the generation of the State behind the snapshot.
func (s *Snapshot) Generation() uint64 { return s.State.Generation }
