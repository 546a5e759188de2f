package gslb

import (
	"cmp"
	"errors"
	"hash/fnv"
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
type Snapshot struct {
	State    *State
	Locator  *geo.Locator
	zones    map[string]*Zone
	services map[string]*service
	sites    map[string]*Site
	// health holds every member's health and override, indexed by
	// member.gi; WithHealth and WithAdmin replace it copy-on-write.
	health     *healthTable
	healthView HealthView
	admin      Admin
}

// service is a Service compiled for lookup: members split by address
// family and grouped by priority, with their site locations resolved.
type service struct {
	*Service
	zone    *Zone
	members []member
	// groups[f] are the priority groups of members that can answer
	// family f (famV4, famV6), lowest priority number first.
	groups [2][]group
}

type member struct {
	*Member
	index int // position in Service.Members
	site  *Site
	pt    geo.Point // the site's location, prepared for distances
	seed  uint64    // stable hash of the member's identity, for rendezvous hashing
	gi    int       // index into Snapshot.health
	// addrs[f] are the member's addresses of family f.
	addrs [2][]netip.Addr
}

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
	if st == nil {
		return nil, errors.New("gslb: nil state")
	}
	s := &Snapshot{
		State:      st,
		Locator:    loc,
		healthView: health,
		zones:      make(map[string]*Zone, len(st.Zones)),
		services:   make(map[string]*service, len(st.Services)),
		sites:      make(map[string]*Site, len(st.Sites)),
	}
	for i := range st.Zones {
		s.zones[st.Zones[i].Name] = &st.Zones[i]
	}
	for i := range st.Sites {
		s.sites[st.Sites[i].Name] = &st.Sites[i]
	}
	n := 0
	for i := range st.Services {
		n += len(st.Services[i].Members)
	}
	s.health = newHealthTable(n)
	gi := 0
	for i := range st.Services {
		svc := s.compile(&st.Services[i], &gi)
		s.services[svc.Name] = svc
	}
	names := make([]string, 0, len(s.services))
	for name := range s.services {
		names = append(names, name)
	}
	// Fill the table in place: nothing shares it yet.
	filled := s.WithHealth(health, names)
	s.health = filled.health
	return s, nil
}

func (s *Snapshot) compile(src *Service, gi *int) *service {
	svc := &service{Service: src, zone: s.Zone(src.Name)}
	svc.members = make([]member, len(src.Members))
	for i := range src.Members {
		m := &src.Members[i]
		cm := member{Member: m, index: i, site: s.sites[m.Site], seed: seedOf(src.Name, m.ID()), gi: *gi}
		*gi++
		if cm.site != nil {
			cm.pt = geo.NewPoint(cm.site.Location)
		}
		for _, a := range m.Addresses {
			f := famOf(a)
			cm.addrs[f] = append(cm.addrs[f], a)
		}
		svc.members[i] = cm
	}
	for f := famV4; f <= famV6; f++ {
		var idx []int
		for i := range svc.members {
			m := &svc.members[i]
			if len(m.addrs[f]) > 0 || m.Hostname != "" {
				idx = append(idx, i)
			}
		}
		slices.SortStableFunc(idx, func(a, b int) int {
			return cmp.Compare(svc.members[a].Priority, svc.members[b].Priority)
		})
		for len(idx) > 0 {
			p := svc.members[idx[0]].Priority
			n := 1
			for n < len(idx) && svc.members[idx[n]].Priority == p {
				n++
			}
			svc.groups[f] = append(svc.groups[f], group{priority: p, members: idx[:n:n]})
			idx = idx[n:]
		}
	}
	return svc
}

func famOf(a netip.Addr) int {
	if a.Is4() {
		return famV4
	}
	return famV6
}

// seedOf hashes a member's identity. It depends only on configuration, so
// two snapshots of the same config hash every client alike.
func seedOf(service, id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(service))
	h.Write([]byte{0})
	h.Write([]byte(id))
	return h.Sum64()
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
	if svc := s.services[name]; svc != nil {
		return svc.Service
	}
	return nil
}

// Site returns the site named name, or nil.
func (s *Snapshot) Site(name string) *Site { return s.sites[name] }

// Generation is the generation of the State behind the snapshot.
func (s *Snapshot) Generation() uint64 { return s.State.Generation }
