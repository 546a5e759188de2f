package gslb

import "slices"

// Equality of model values, without reflection: the one rule of
// "unchanged" that incremental publishing (Snapshot.Next,
// State.ValidateChanged, health's Plan.Next) relies on. A new field must
// be compared here too; TestServiceEqualCoversEveryField fails until it is.

// Equal reports whether s and o describe the same service, field by field
// (the HealthCheck by value, not by pointer).
func (s *Service) Equal(o *Service) bool {
	if s == o {
		return true
	}
	return s.Name == o.Name &&
		s.Policy.Equal(&o.Policy) &&
		membersEqual(s.Members, o.Members) &&
		s.HealthCheck.Equal(o.HealthCheck)
}

// membersEqual compares two member lists. Lists in the same memory are
// equal at once: a reload shares every unchanged service with the State
// before it (config.Loader), so at 100k services most comparisons of a
// publish end here rather than walk three members each, three times
// (validation, health plan, snapshot).
func membersEqual(a, b []Member) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] {
		return true
	}
	for i := range a {
		if !a[i].Equal(&b[i]) {
			return false
		}
	}
	return true
}

// Equal reports whether m and o are the same member.
func (m *Member) Equal(o *Member) bool {
	return m.Site == o.Site &&
		slices.Equal(m.Addresses, o.Addresses) &&
		m.Hostname == o.Hostname &&
		m.Weight == o.Weight &&
		m.Priority == o.Priority &&
		m.ProbeAddress == o.ProbeAddress &&
		m.ProbePort == o.ProbePort &&
		m.Unready == o.Unready &&
		m.Capacity == o.Capacity
}

// Equal reports whether p and o pick answers alike.
func (p *Policy) Equal(o *Policy) bool {
	return p.Strategy == o.Strategy &&
		p.TTL == o.TTL &&
		p.DegradedTTL == o.DegradedTTL &&
		p.MinUp == o.MinUp &&
		p.Answers == o.Answers &&
		p.GeoTieKm == o.GeoTieKm &&
		p.LatencyTieMs == o.LatencyTieMs &&
		slices.EqualFunc(p.Topology, o.Topology, func(a, b TopologyRule) bool { return a.Equal(&b) }) &&
		p.HashMask == o.HashMask &&
		p.Persistence == o.Persistence &&
		p.Load == o.Load &&
		p.Down.Type == o.Down.Type &&
		slices.Equal(p.Down.Addresses, o.Down.Addresses)
}

// Equal reports whether r and o match the same clients to the same sites.
func (r *TopologyRule) Equal(o *TopologyRule) bool {
	return slices.Equal(r.CIDRs, o.CIDRs) &&
		slices.Equal(r.Countries, o.Countries) &&
		slices.Equal(r.Continents, o.Continents) &&
		slices.Equal(r.Sites, o.Sites)
}

// Equal reports whether h and o probe alike; two nil checks are equal.
func (h *HealthCheck) Equal(o *HealthCheck) bool {
	if h == nil || o == nil {
		return h == o
	}
	return h.Kind == o.Kind &&
		h.Port == o.Port &&
		h.Interval == o.Interval &&
		h.FastInterval == o.FastInterval &&
		h.Timeout == o.Timeout &&
		h.Rise == o.Rise &&
		h.Fall == o.Fall &&
		h.Jitter == o.Jitter &&
		h.Method == o.Method &&
		h.Path == o.Path &&
		h.Host == o.Host &&
		slices.Equal(h.ExpectStatus, o.ExpectStatus) &&
		h.BodyContains == o.BodyContains &&
		h.LoadFrom == o.LoadFrom &&
		h.SNI == o.SNI &&
		h.TLSSkipVerify == o.TLSSkipVerify &&
		h.CAPEM == o.CAPEM
}

// sameSitesAndZones reports whether a and b have equal zones and sites:
// what every service is compiled and validated against. Zones and sites
// are few, so reflect-free comparison by value is cheap.
func sameSitesAndZones(a, b *State) bool {
	return slices.EqualFunc(a.Zones, b.Zones, zoneEqual) && slices.Equal(a.Sites, b.Sites)
}

func zoneEqual(a, b Zone) bool {
	return a.Name == b.Name && a.SOA == b.SOA && a.NSTTL == b.NSTTL && a.ZoneFile == b.ZoneFile &&
		slices.Equal(a.Records, b.Records) && a.DNSSEC.Equal(b.DNSSEC) &&
		slices.EqualFunc(a.NameServers, b.NameServers, func(x, y NameServer) bool {
			return x.Name == y.Name && slices.Equal(x.Addresses, y.Addresses)
		})
}

// MatchServices pairs each service of next with an Equal service of the
// same name in prev: out[i] is that service's index in prev, or -1 when
// service i is new or changed. It is linear: services usually keep their
// positions, which it tries first; the others are found by name.
func MatchServices(prev, next *State) []int {
	out := make([]int, len(next.Services))
	var byName map[string]int // built only when positions moved
	var pc Pacer
	for i := range next.Services {
		pc.Step()
		s := &next.Services[i]
		j := -1
		if prev != nil && i < len(prev.Services) && prev.Services[i].Name == s.Name {
			j = i
		} else if prev != nil {
			if byName == nil {
				byName = make(map[string]int, len(prev.Services))
				for k := range prev.Services {
					byName[prev.Services[k].Name] = k
				}
			}
			if k, ok := byName[s.Name]; ok {
				j = k
			}
		}
		if j >= 0 && !prev.Services[j].Equal(s) {
			j = -1
		}
		out[i] = j
	}
	return out
}
