package httpapi

import (
	"cmp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/health"
)

// The list endpoints page through indexes built once per published State
// (and health plan), on the first request that needs them, so that one
// page costs the same at 100 services as at 100,000: a binary search to
// the cursor, then the page's own entries.

// serviceIndex orders the services of one State by name (byte order of
// the lower-case name, so a name prefix is one contiguous range) and
// lists each site's services.
type serviceIndex struct {
	state *gslb.State
	// order holds positions in state.Services, sorted by name; a
	// service's rank is its index in order.
	order []int32
	// bySite holds, per site, the ranks of the services with a member
	// there, ascending.
	bySite map[string][]int32
	// unready holds the ranks of the services with a member that
	// Kubernetes marks unready (down whatever the probes say).
	unready []int32
}

func newServiceIndex(st *gslb.State) *serviceIndex {
	x := &serviceIndex{state: st, order: make([]int32, len(st.Services)), bySite: make(map[string][]int32, len(st.Sites))}
	// Sorting the names beside their positions, rather than positions
	// that point into the large Service structs, halves the sort.
	type named struct {
		name string
		pos  int32
	}
	byName := make([]named, len(st.Services))
	for i := range st.Services {
		byName[i] = named{st.Services[i].Name, int32(i)}
	}
	slices.SortFunc(byName, func(a, b named) int { return strings.Compare(a.name, b.name) })
	for r, n := range byName {
		x.order[r] = n.pos
	}
	for rank, pos := range x.order {
		members := st.Services[pos].Members
		if slices.ContainsFunc(members, func(m gslb.Member) bool { return m.Unready }) {
			x.unready = append(x.unready, int32(rank))
		}
		for j := range members {
			site := members[j].Site
			list := x.bySite[site]
			// Members of one service at one site are added together: the
			// rank can only repeat at the end.
			if n := len(list); n == 0 || list[n-1] != int32(rank) {
				x.bySite[site] = append(list, int32(rank))
			}
		}
	}
	return x
}

func (x *serviceIndex) len() int { return len(x.order) }

// service returns the service of rank r.
func (x *serviceIndex) service(r int) *gslb.Service { return &x.state.Services[x.order[r]] }

// after is the first rank whose name sorts after name.
func (x *serviceIndex) after(name string) int {
	return sort.Search(len(x.order), func(r int) bool { return x.service(r).Name > name })
}

// rank is the rank of the service named name, or -1.
func (x *serviceIndex) rank(name string) int {
	r := sort.Search(len(x.order), func(r int) bool { return x.service(r).Name >= name })
	if r < len(x.order) && x.service(r).Name == name {
		return r
	}
	return -1
}

// selection keeps the services that the query's name and site filters
// match, before the cursor is applied.
func (x *serviceIndex) selection(lq *listQuery) selection {
	sel := selection{hi: x.len()}
	if lq.service != "" {
		r := x.rank(lq.service)
		sel.lo, sel.hi = max(r, 0), r+1 // empty when unknown
	}
	if lq.prefix != "" {
		lo := sort.Search(x.len(), func(r int) bool { return x.service(r).Name >= lq.prefix })
		hi := lo + sort.Search(x.len()-lo, func(i int) bool { return !strings.HasPrefix(x.service(lo+i).Name, lq.prefix) })
		sel.lo, sel.hi = max(sel.lo, lo), min(sel.hi, hi)
	}
	if lq.site != "" {
		sel.list = x.bySite[lq.site]
		if sel.list == nil {
			sel.list = []int32{}
		}
	}
	return sel
}

// selection is a set of ranks, ascending: those in [lo, hi) or, when list
// is not nil, those of list in [lo, hi).
type selection struct {
	lo, hi int
	list   []int32
}

// count is how many ranks the selection holds, in O(log n).
func (s selection) count() int {
	if s.hi <= s.lo {
		return 0
	}
	if s.list == nil {
		return s.hi - s.lo
	}
	return s.index(s.hi) - s.index(s.lo)
}

// index is the position in list of the first rank >= r.
func (s selection) index(r int) int {
	i, _ := slices.BinarySearch(s.list, int32(r))
	return i
}

// contains says whether rank r is in s.
func (s selection) contains(r int) bool {
	if r < s.lo || r >= s.hi {
		return false
	}
	if s.list == nil {
		return true
	}
	_, found := slices.BinarySearch(s.list, int32(r))
	return found
}

// from calls yield with each rank of s from rank start on, in order, until
// yield returns false.
func (s selection) from(start int, yield func(r int) bool) {
	start = max(start, s.lo)
	if s.list == nil {
		for r := start; r < s.hi; r++ {
			if !yield(r) {
				return
			}
		}
		return
	}
	for i := s.index(start); i < len(s.list) && int(s.list[i]) < s.hi; i++ {
		if !yield(int(s.list[i])) {
			return
		}
	}
}

// targetIndex orders the health targets of one plan by key (address, port,
// check: the order of the monitor's status list) and records who uses
// each, so that a page of targets never walks the services.
type targetIndex struct {
	plan     *health.Plan
	services *serviceIndex
	keys     []health.Key // sorted; a target's rank is its index
	rank     map[health.Key]int32
	// users[r] are the members probed through target r, by service rank
	// then member order; serviceCount[r] counts the distinct services.
	users        [][]targetUser
	serviceCount []int32
	// bySite holds, per site, the ranks of the targets that a member at
	// the site uses, ascending.
	bySite map[string][]int32
	// unprobed holds the ranks of the services with a member that has no
	// target, ascending; allUnprobed says every service is (no checks).
	unprobed    []int32
	allUnprobed bool
}

// targetUser is one member of a service: a service rank and an index in
// the service's Members.
type targetUser struct{ service, member int32 }

func compareKeys(a, b health.Key) int {
	return cmp.Or(a.Addr.Compare(b.Addr), cmp.Compare(a.Port, b.Port), slices.Compare(a.Check[:], b.Check[:]))
}

func newTargetIndex(plan *health.Plan, sx *serviceIndex) *targetIndex {
	targets := plan.Targets()
	x := &targetIndex{plan: plan, services: sx, keys: make([]health.Key, 0, len(targets)), rank: make(map[health.Key]int32, len(targets)), bySite: map[string][]int32{}}
	for k := range targets {
		x.keys = append(x.keys, k)
	}
	slices.SortFunc(x.keys, compareKeys)
	for r, k := range x.keys {
		x.rank[k] = int32(r)
	}
	x.users = make([][]targetUser, len(x.keys))
	x.serviceCount = make([]int32, len(x.keys))
	x.allUnprobed = len(targets) == 0
	for sr := range sx.len() {
		if x.allUnprobed {
			break // no checks: no member has a target
		}
		svc := sx.service(sr)
		for j := range svc.Members {
			probed := false
			for _, k := range plan.MemberKeysOf(svc.Name, &svc.Members[j]) {
				r, ok := x.rank[k]
				if !ok {
					continue
				}
				probed = true
				us := x.users[r]
				if n := len(us); n == 0 || us[n-1].service != int32(sr) {
					x.serviceCount[r]++
				}
				x.users[r] = append(us, targetUser{int32(sr), int32(j)})
			}
			if n := len(x.unprobed); !probed && (n == 0 || x.unprobed[n-1] != int32(sr)) {
				x.unprobed = append(x.unprobed, int32(sr))
			}
		}
	}
	var sites []string
	for r, us := range x.users {
		sites = sites[:0]
		for _, u := range us {
			site := sx.service(int(u.service)).Members[u.member].Site
			if !slices.Contains(sites, site) { // a handful of sites per target
				sites = append(sites, site)
				x.bySite[site] = append(x.bySite[site], int32(r))
			}
		}
	}
	return x
}

// after is the first rank whose key sorts after k.
func (x *targetIndex) after(k health.Key) int {
	return sort.Search(len(x.keys), func(r int) bool { return compareKeys(x.keys[r], k) > 0 })
}

// usedWithin says whether a member of a service of rank in [lo, hi) uses
// target r, at site when site is not "". The users are sorted by service
// rank: a binary search finds the first candidate.
func (x *targetIndex) usedWithin(r, lo, hi int, site string) bool {
	us := x.users[r]
	for i := sort.Search(len(us), func(i int) bool { return int(us[i].service) >= lo }); i < len(us) && int(us[i].service) < hi; i++ {
		if site == "" || x.services.service(int(us[i].service)).Members[us[i].member].Site == site {
			return true
		}
	}
	return false
}

// indexCache keeps the indexes of the last published State and plan. A
// publish makes new ones on the next request (the pointers differ); an
// old request racing a publish may build an index it alone uses.
type indexCache struct {
	mu       sync.Mutex // one build at a time: concurrent requests wait for it rather than repeat it
	services atomic.Pointer[serviceIndex]
	targets  atomic.Pointer[targetIndex]
}

func (c *indexCache) servicesOf(st *gslb.State) *serviceIndex {
	if x := c.services.Load(); x != nil && x.state == st {
		return x
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if x := c.services.Load(); x != nil && x.state == st {
		return x
	}
	x := newServiceIndex(st)
	c.services.Store(x)
	return x
}

func (c *indexCache) targetsOf(plan *health.Plan, st *gslb.State) *targetIndex {
	sx := c.servicesOf(st)
	if x := c.targets.Load(); x != nil && x.plan == plan && x.services == sx {
		return x
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if x := c.targets.Load(); x != nil && x.plan == plan && x.services == sx {
		return x
	}
	x := newTargetIndex(plan, sx)
	c.targets.Store(x)
	return x
}
