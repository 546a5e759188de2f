package gslb

// Ordering by where the client is: the geo strategy (nearest site by
// great-circle distance, computed by geo) and the topology strategy
// (rules from client network, country or continent to sites), each
// returning the ECS scope (RFC 7871 section 7.2.1) that decided it.

import (
	"math"
	"net/netip"
	"slices"

	"github.com/meridian-gslb/meridian/geo"
)

// byGeo keeps the nearest members (within the tie band) and returns the
// ECS scope that decided it. "Nearest" is by biased distance: a site's
// Bias scales the distances to it (biasScale, geoRank).
func (s *Snapshot) byGeo(svc *service, q Query, l []int, a *Answer, t *Trace) ([]int, int) {
	m := s.Locator.Locate(q.Client)
	a.Reason.Located = m.Source
	scope := s.locScope(m, q)
	if t != nil {
		t.located(m)
	}
	if m.Site != "" {
		if at, ok := atSite(svc, l, m.Site); ok {
			a.Reason.Rule = RuleGeoSite
			return at, scope
		}
	}
	loc := geoOrigin(s, m) // a rule's site is out: go to what is nearest to it
	switch {
	case loc.HasCoords:
		a.Reason.Rule = RuleGeoNearest
		// Compare haversines (monotonic in distance) so that only the
		// nearest needs the asin, biased sites aside (geoRank); one value
		// per candidate, kept beside the list (on the stack unless the
		// group is large).
		cp := geo.NewPoint(loc)
		var hbuf [32]float64
		hs := hbuf[:0]
		best := math.Inf(1)
		for _, i := range l {
			pl := svc.members[i].site
			h := pl.geoRank(cp.Haversine(pl.pt)) // +Inf without coordinates
			hs = append(hs, h)
			best = min(best, h)
		}
		limit := tieLimit(best, svc.Policy.GeoTieKm)
		n := 0
		for k, i := range l {
			if hs[k] <= limit {
				l[n] = i
				n++
			}
		}
		l = l[:n]
		if t != nil {
			t.distances(svc, cp)
		}
	case loc.Country != "" || loc.Continent != "":
		a.Reason.Rule = RuleGeoCountry
		var ok bool
		if l, ok = keepIfAny(svc, l, func(st *Site) bool { return loc.Country != "" && st.Location.Country == loc.Country }); !ok {
			l, _ = keepIfAny(svc, l, func(st *Site) bool { return loc.Continent != "" && st.Location.Continent == loc.Continent })
		}
	default:
		a.Reason.Rule = RuleGeoUnlocated
	}
	return l, scope
}

// biasScale is what a site's distances are multiplied by for its bias
// (Route 53's geoproximity bias): 1 - bias/100, so +50 halves them and
// -50 makes them 1.5 times as long. 0 stands for an unbiased site, whose
// distances are left as they are.
func biasScale(bias int) float64 {
	if bias == 0 {
		return 0
	}
	return 1 - float64(bias)/100
}

// geoRank is what the geo strategy orders a site by for a client at
// haversine h from it (geo.Point.Haversine: +Inf without coordinates).
// For an unbiased site it is h itself, so a service without biases costs
// no asin but the nearest's. For a biased site it is the biased distance
// put back on the haversine's scale; biased distances beyond half the
// circumference (a negative bias takes them there) continue past 1, in
// proportion, so that the order of ranks is always the order of the
// biased distances. Select and the compiled decisions both rank through
// it, so the two agree to the bit.
func (p *place) geoRank(h float64) float64 {
	if p.scale == 0 {
		return h // inlined: the common case costs a comparison
	}
	return p.biasedRank(h)
}

func (p *place) biasedRank(h float64) float64 {
	if math.IsInf(h, 1) {
		return h
	}
	return geo.KmToRank(p.biasedKm(h))
}

// biasedKm is the biased distance of a client at haversine h (finite)
// from a biased site: what the geo strategy compares, and explain shows.
func (p *place) biasedKm(h float64) float64 { return geo.HaversineToKm(h) * p.scale }

// tieLimit is the highest rank within tieKm of the nearest's rank best:
// the tie band applies to biased distances. A site without coordinates
// (+Inf) is within it only when no site has coordinates.
func tieLimit(best, tieKm float64) float64 {
	return geo.KmToRank(geo.RankToKm(best) + tieKm)
}

// geoOrigin is where byGeo measures distances from for a client located
// at m: the rule's site when it names one the State has, else m itself.
func geoOrigin(s *Snapshot, m geo.Match) geo.Location {
	if m.Site != "" {
		if site := s.Site(m.Site); site != nil {
			return site.Location
		}
	}
	return m.Location
}

// locScope is the ECS scope of a geo decision: the network that located the
// client. Without a locator the answer does not depend on the client.
func (s *Snapshot) locScope(m geo.Match, q Query) int {
	switch {
	case s.Locator == nil:
		return 0
	case m.Prefix.IsValid():
		return m.Prefix.Bits()
	default:
		return q.SourcePrefix
	}
}

// atSite narrows l to members at site, if there are any.
func atSite(svc *service, l []int, site string) ([]int, bool) {
	return keepIfAny(svc, l, func(st *Site) bool { return st.Name == site })
}

// keepIfAny narrows l to members whose site matches, unless none does.
func keepIfAny(svc *service, l []int, match func(*Site) bool) ([]int, bool) {
	for _, i := range l {
		if st := svc.members[i].site.Site; st != nil && match(st) {
			return filter(l, func(i int) bool { st := svc.members[i].site.Site; return st != nil && match(st) }), true
		}
	}
	return l, false
}

// byTopology applies the first matching topology rule: its sites in order,
// the first with eligible members wins.
func (s *Snapshot) byTopology(svc *service, q Query, l []int, a *Answer, t *Trace) ([]int, int) {
	var m geo.Match
	located := false
	scope := 0
	for ri := range svc.Policy.Topology {
		r := &svc.Policy.Topology[ri]
		hit := false
		for _, p := range r.CIDRs {
			if p.Contains(q.Client) {
				hit, scope = true, max(scope, p.Bits())
				break
			}
			// An earlier rule's network near the client must not be
			// covered by the scope we return (RFC 7871 section 7.3.1).
			scope = excludeScope(scope, q.Client, p)
		}
		if !hit && (len(r.Countries) > 0 || len(r.Continents) > 0) {
			if !located {
				m, located = s.Locator.Locate(q.Client), true
				a.Reason.Located = m.Source
				if t != nil {
					t.located(m)
				}
			}
			scope = max(scope, s.locScope(m, q))
			hit = containsSet(r.Countries, m.Location.Country) || containsSet(r.Continents, m.Location.Continent)
		}
		if !hit {
			continue
		}
		for _, site := range r.Sites {
			if at, ok := atSite(svc, l, site); ok {
				a.Reason.Rule = RuleTopology
				if t != nil {
					t.add("topology rule %d matched; site %s has eligible members", ri, site)
				}
				return at, scope
			}
		}
		if t != nil {
			t.add("topology rule %d matched but none of its sites %v has an eligible member", ri, r.Sites)
		}
		break
	}
	a.Reason.Rule = RuleTopologyDefault
	return l, scope
}

// excludeScope lengthens scope until client/scope no longer overlaps p,
// when p does not contain client.
func excludeScope(scope int, client netip.Addr, p netip.Prefix) int {
	if p.Addr().Is4() != client.Is4() {
		return scope
	}
	common := commonBits(client, p.Addr())
	if common < p.Bits() && scope <= common {
		return common + 1
	}
	return scope
}

func commonBits(a, b netip.Addr) int {
	x, y := a.As16(), b.As16()
	n := 0
	for i := range x {
		d := x[i] ^ y[i]
		if d == 0 {
			n += 8
			continue
		}
		for d&0x80 == 0 {
			n++
			d <<= 1
		}
		break
	}
	if a.Is4() {
		n -= 96
	}
	return n
}

// containsSet reports whether v is set and in list (Policy.ApplyDefaults
// upper-cases the codes, as geo's are).
func containsSet(list []string, v string) bool {
	return v != "" && slices.Contains(list, v)
}
