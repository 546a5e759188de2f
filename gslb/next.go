package gslb

import (
	"errors"

	"github.com/meridian-gslb/meridian/geo"
)

// Next compiles st (which must have passed Validate) into the snapshot
// that follows prev, sharing with prev everything st did not change: a
// service Equal to prev's service of the same name (MatchServices) keeps
// its compiled form and its members' health and overrides as prev holds
// them; only new and changed services are compiled and read from h. So a
// publish that changes a few services costs those services plus a linear
// walk of pointers and comparisons (issue 10: 0.5 s at 100k services for
// a full build).
//
// What prev holds is what a full build would read, provided h gives the
// verdicts prev's were read from, kept current by WithHealth: the caller
// applies every health change to the served snapshot, as Publisher does.
//
// Compiled services point to their zone and to their members' sites, so a
// change of the zones or the sites compiles everything again, as does a
// nil prev (NewSnapshot). The locator is read by queries only: a new one
// recompiles nothing. The overrides (WithAdmin) of prev carry over.
func (prev *Snapshot) Next(st *State, loc *geo.Locator, h HealthView) (*Snapshot, error) {
	if st == nil {
		return nil, errors.New("gslb: nil state")
	}
	s := &Snapshot{
		State:      st,
		Locator:    loc,
		healthView: h,
		zones:      make(map[string]*Zone, len(st.Zones)),
		places:     make(map[string]*place, len(st.Sites)),
	}
	if prev != nil {
		s.over, s.sticky = prev.over, prev.sticky
	} else {
		s.over, s.sticky = &overMemory{}, &sticky{}
	}
	for i := range st.Zones {
		s.zones[st.Zones[i].Name] = &st.Zones[i]
	}
	for i := range st.Sites {
		site := &st.Sites[i]
		s.places[site.Name] = &place{Site: site, pt: geo.NewPoint(site.Location), scale: biasScale(site.Bias)}
	}
	var pc Pacer
	for i := range st.Services {
		pc.Step()
		s.members += len(st.Services[i].Members)
	}
	// Compiled decisions hold for the locator and the sites they were
	// compiled with; the services that hold them are rebuilt otherwise.
	sameSites := prev != nil && sameSitesAndZones(prev.State, st)
	sameDecisions := sameSites && prev.Locator.Same(loc)
	if sameDecisions {
		s.decisions = prev.decisions
	}
	if !sameSites || !sameDecisions && len(prev.decisions) > 0 || prev.giEnd > compactAt(s.members) {
		if prev != nil {
			s.admin = prev.admin
		}
		s.build()
		return s, nil
	}
	s.admin = prev.admin
	s.update(prev, MatchServices(prev.State, st))
	return s, nil
}

// compactAt is how far the health indexes may spread, over members in
// use, before Next packs them with a full build: twice as many, so the
// full build's cost is spread over at least as many changed members.
func compactAt(members int) int { return 2*members + healthChunk }

// build compiles every service of s.State and reads all their health.
func (s *Snapshot) build() {
	st := s.State
	s.services = &SharedMap[*service]{}
	e := newHealthEdit(s.members)
	var pc Pacer
	for i := range st.Services {
		pc.Step()
		svc := s.compile(&st.Services[i], s.giEnd)
		s.giEnd += len(svc.members)
		s.services.Set(svc.Name, svc)
		s.readHealth(e, svc)
	}
	s.health = e.t
}

// update makes s from prev: services matched (match[i] >= 0, see
// MatchServices) are prev's; the others are compiled and read.
func (s *Snapshot) update(prev *Snapshot, match []int) {
	st := s.State
	s.services = prev.services.Clone()
	s.giEnd = prev.giEnd
	e := prev.health.edit()
	kept := make([]bool, len(prev.State.Services))
	var pc Pacer
	for i := range st.Services {
		pc.Step()
		if j := match[i]; j >= 0 {
			kept[j] = true
			continue
		}
		src := &st.Services[i]
		// A changed service takes its old health indexes when its
		// members fit in them: the usual edit (a TTL, a weight) then
		// leaves no hole.
		gi := s.giEnd
		if old, _ := prev.services.Get(src.Name); old != nil && len(old.members) >= len(src.Members) && len(old.members) > 0 {
			gi = int(old.members[0].gi)
		} else {
			s.giEnd += len(src.Members)
			e.grow(s.giEnd)
		}
		svc := s.compile(src, gi)
		s.services.Set(svc.Name, svc)
		s.readHealth(e, svc)
	}
	// Services of prev that st no longer has: their names still map to
	// prev's compiled form, which nothing in st replaced.
	for j, k := range kept {
		pc.Step()
		name := prev.State.Services[j].Name
		if !k {
			if cur, _ := s.services.Get(name); cur == prev.service(name) {
				s.services.Delete(name)
			}
		}
	}
	s.health = e.t
}

// readHealth sets the health of svc's members from s.healthView and
// their overrides from s.admin.
func (s *Snapshot) readHealth(e *healthEdit, svc *service) {
	for i := range svc.members {
		m := &svc.members[i]
		up, known := memberUp(s.healthView, svc.Name, m)
		e.set(int(m.gi), makeState(up, known, s.admin.mode(svc.Name, m.Member)))
	}
}
