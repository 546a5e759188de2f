package gslb

import "maps"

// Member health and administrative overrides live beside the compiled
// services, in a table of one byte per member split into fixed chunks. A
// health change copies only the chunks it touches into a new Snapshot that
// shares everything else, so its cost follows the change, not the size of
// the configuration (issue #3).

// HealthDetailer is an optional extension of HealthView: a short account
// of a member's health (last probe error, which sites see it down) that
// Explain shows.
type HealthDetailer interface {
	MemberDetail(service string, m *Member) string
}

// AdminMode is an operator's override of a member's health.
type AdminMode uint8

// The overrides. Drain and Down both take the member out of answers at
// once; they differ only in what explain and the API report.
const (
	AdminNone  AdminMode = iota // follow health
	AdminUp                     // answer even if probes say down
	AdminDown                   // never answer
	AdminDrain                  // never answer: being emptied on purpose
)

var adminNames = [...]string{AdminNone: "none", AdminUp: "up", AdminDown: "down", AdminDrain: "drain"}

func (a AdminMode) String() string {
	if int(a) < len(adminNames) {
		return adminNames[a]
	}
	return "unknown"
}

// ParseAdminMode reads "none", "up", "down" or "drain".
func ParseAdminMode(s string) (AdminMode, bool) {
	for i, n := range adminNames {
		if n == s {
			return AdminMode(i), true
		}
	}
	return AdminNone, false
}

// MemberRef names one member of one service.
type MemberRef struct {
	Service string `json:"service"`
	Member  string `json:"member"` // Member.ID()
}

// Admin holds the operator's overrides. A member override beats a site
// override.
type Admin struct {
	Sites   map[string]AdminMode
	Members map[MemberRef]AdminMode
}

func (a *Admin) mode(service string, m *Member) AdminMode {
	if len(a.Members) > 0 {
		if mode, ok := a.Members[MemberRef{service, m.ID()}]; ok {
			return mode
		}
	}
	return a.Sites[m.Site]
}

// Equal reports whether a and o override the same members alike.
func (a *Admin) Equal(o *Admin) bool {
	return maps.Equal(a.Sites, o.Sites) && maps.Equal(a.Members, o.Members)
}

// memberState packs a member's health and override into one byte.
type memberState uint8

const (
	stateUp    memberState = 1 << 0
	stateKnown memberState = 1 << 1
	adminShift             = 2 // two bits of AdminMode
)

func makeState(up, known bool, admin AdminMode) memberState {
	s := memberState(admin) << adminShift
	if up {
		s |= stateUp
	}
	if known {
		s |= stateKnown
	}
	return s
}

func (s memberState) up() bool         { return s&stateUp != 0 }
func (s memberState) known() bool      { return s&stateKnown != 0 }
func (s memberState) admin() AdminMode { return AdminMode(s >> adminShift & 3) }

// eligible: the override decides when there is one, else health.
func (s memberState) eligible() bool {
	switch s.admin() {
	case AdminUp:
		return true
	case AdminDown, AdminDrain:
		return false
	}
	return s.up()
}

func (s memberState) verdict() string {
	switch s.admin() {
	case AdminUp:
		return "eligible (forced up by admin)"
	case AdminDown:
		return "down (admin)"
	case AdminDrain:
		return "drained (admin)"
	}
	if !s.up() {
		return "down"
	}
	return "eligible"
}

const healthChunk = 512

// healthTable is copy-on-write by chunk.
type healthTable struct {
	chunks []*[healthChunk]memberState
}

func newHealthTable(n int) *healthTable {
	t := &healthTable{chunks: make([]*[healthChunk]memberState, (n+healthChunk-1)/healthChunk)}
	for i := range t.chunks {
		t.chunks[i] = new([healthChunk]memberState)
	}
	return t
}

func (t *healthTable) get(i int) memberState { return t.chunks[i/healthChunk][i%healthChunk] }

// healthEdit makes a new table from an old one, copying a chunk the first
// time one of its members changes.
type healthEdit struct {
	t      *healthTable
	copied map[int]bool
	fresh  bool // every chunk is the edit's own (newHealthEdit)
}

// newHealthEdit edits a new table of n members: nothing to copy.
func newHealthEdit(n int) *healthEdit {
	return &healthEdit{t: newHealthTable(n), fresh: true}
}

// grow makes the table hold n members at least, with new chunks (all
// unknown) that nothing shares.
func (e *healthEdit) grow(n int) {
	for len(e.t.chunks)*healthChunk < n {
		if !e.fresh {
			e.copied[len(e.t.chunks)] = true
		}
		e.t.chunks = append(e.t.chunks, new([healthChunk]memberState))
	}
}

func (t *healthTable) edit() *healthEdit {
	return &healthEdit{t: &healthTable{chunks: append([]*[healthChunk]memberState(nil), t.chunks...)}, copied: map[int]bool{}}
}

func (e *healthEdit) set(i int, s memberState) {
	c := i / healthChunk
	if e.t.chunks[c][i%healthChunk] == s {
		return
	}
	if !e.fresh && !e.copied[c] {
		cp := *e.t.chunks[c]
		e.t.chunks[c] = &cp
		e.copied[c] = true
	}
	e.t.chunks[c][i%healthChunk] = s
}

// state reads a member's current health and override.
func (s *Snapshot) state(m *member) memberState { return s.health.get(int(m.gi)) }

// WithHealth returns a snapshot that differs from s only in the health of
// the members of the named services, read again from h (nil: all up). It
// shares the compiled services with s, so its cost is proportional to
// those services. Unknown names are ignored.
func (s *Snapshot) WithHealth(h HealthView, services []string) *Snapshot {
	next := *s
	next.healthView = h
	e := s.health.edit()
	s.eachMember(services, func(svc *service, m *member) {
		up, known := memberUp(h, svc.Name, m)
		e.set(int(m.gi), makeState(up, known, s.state(m).admin()))
	})
	next.health = e.t
	return &next
}

// eachMember calls f for every member of the named services; unknown
// names are skipped. The With* refreshes walk their services with it.
func (s *Snapshot) eachMember(services []string, f func(svc *service, m *member)) {
	for _, name := range services {
		if svc := s.service(name); svc != nil {
			for i := range svc.members {
				f(svc, &svc.members[i])
			}
		}
	}
}

// memberUp is the health of m as h (nil: all up) and the member's
// readiness make it.
func memberUp(h HealthView, service string, m *member) (up, known bool) {
	switch {
	case m.Unready:
		// Kubernetes sees no ready endpoint behind it: a veto, whatever
		// the probes say (the VIP may still accept connections from a
		// dead backend's ingress).
		return false, true
	case h != nil:
		if u, k := h.MemberUp(service, m.Member); k {
			return u, true
		}
	}
	return true, false
}

// WithAdmin returns a snapshot with the overrides a applied to every
// member (replacing the previous ones). Overrides are rare operator
// actions, so this walks all members, unless a is what s has already
// (every publish sets them again): then it returns s.
func (s *Snapshot) WithAdmin(a Admin) *Snapshot {
	if s.admin.Equal(&a) {
		return s
	}
	next := *s
	next.admin = a
	e := s.health.edit()
	for _, svc := range s.services.All() {
		for i := range svc.members {
			m := &svc.members[i]
			st := s.state(m)
			e.set(int(m.gi), makeState(st.up(), st.known(), a.mode(svc.Name, m.Member)))
		}
	}
	next.health = e.t
	return &next
}

// Admin returns the overrides in force in this snapshot.
func (s *Snapshot) Admin() Admin { return s.admin }

// MemberHealth is one member's health as the snapshot sees it.
type MemberHealth struct {
	Service  string    `json:"service"`
	Member   string    `json:"member"`
	Site     string    `json:"site"`
	Up       bool      `json:"up"`
	Known    bool      `json:"known"`
	Admin    AdminMode `json:"-"`
	Eligible bool      `json:"eligible"`
}

// MemberHealth reports every member of service name, in config order.
func (s *Snapshot) MemberHealth(name string) []MemberHealth {
	svc := s.service(name)
	if svc == nil {
		return nil
	}
	out := make([]MemberHealth, len(svc.members))
	for i := range svc.members {
		m := &svc.members[i]
		st := s.state(m)
		out[i] = MemberHealth{Service: svc.Name, Member: m.ID(), Site: m.Site, Up: st.up(), Known: st.known(), Admin: st.admin(), Eligible: st.eligible()}
	}
	return out
}
