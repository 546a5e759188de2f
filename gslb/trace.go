package gslb

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/meridian-gslb/meridian/geo"
)

// Trace is the step-by-step account of one decision, for `meridian
// explain` and /api/v1/explain. Only Explain fills one.
type Trace struct {
	Client   string          `json:"client"`
	Located  *LocatedAs      `json:"located,omitempty"`
	Compiled *CompiledAs     `json:"compiled,omitempty"`
	Steps    []string        `json:"steps"`
	Members  []MemberVerdict `json:"members"`
	Answered []string        `json:"answered"`
}

// LocatedAs is where the client was placed.
type LocatedAs struct {
	Source    string  `json:"source"`
	Network   string  `json:"network,omitempty"`
	Site      string  `json:"site,omitempty"`
	Country   string  `json:"country,omitempty"`
	Continent string  `json:"continent,omitempty"`
	Lat       float64 `json:"lat,omitempty"`
	Lon       float64 `json:"lon,omitempty"`
}

// CompiledAs is the compiled decision that placed the client: the merged
// network around it inside which every address gets the same order of
// sites (the ECS scope answered), and that order, best first, with sites
// that tie joined by "=".
type CompiledAs struct {
	Network string   `json:"network"`
	Order   []string `json:"order"`
}

// MemberVerdict is what the decision made of one member.
type MemberVerdict struct {
	Site     string `json:"site"`
	Member   string `json:"member"`
	Priority int    `json:"priority"`
	Weight   uint32 `json:"weight"`
	// Capacity is the share of the member's capacity on offer (0..1) when
	// the control plane measured one; the weight counts scaled by it.
	Capacity    *float64 `json:"capacity,omitempty"`
	Up          bool     `json:"up"`
	HealthKnown bool     `json:"health_known"`
	Admin       string   `json:"admin,omitempty"`  // an operator override in force
	Health      string   `json:"health,omitempty"` // last probe error, per-site views
	DistanceKm  *float64 `json:"distance_km,omitempty"`
	// BiasedKm is DistanceKm as the geo strategy compared it, scaled by
	// the site's bias; absent for an unbiased site.
	BiasedKm *float64 `json:"biased_km,omitempty"`
	// RTTMs is the member's smoothed probe round-trip time from this
	// site, for the latency strategy.
	RTTMs *float64 `json:"rtt_ms,omitempty"`
	// Load is the member's load signal and what it did, for a service
	// with load shedding.
	Load    *LoadVerdict `json:"load,omitempty"`
	Verdict string       `json:"verdict"`
}

// LoadVerdict is a member's load signal in explain.
type LoadVerdict struct {
	Value  *float64 `json:"value,omitempty"`
	Source string   `json:"source,omitempty"`
	// AgeSeconds is how old the reading was when explain ran.
	AgeSeconds *float64 `json:"age_s,omitempty"`
	// State is what the decision made of it: neutral, below low, the
	// share of networks shed, over high.
	State string `json:"state"`
	// Shed is the share of client networks moved off the member (0..1);
	// Over is set from the high watermark until the load is below low.
	Shed float64 `json:"shed"`
	Over bool    `json:"over,omitempty"`
	// Hard is set at or above the hard limit, where persisted networks
	// move too.
	Hard bool `json:"hard_limit_reached,omitempty"`
	// Stale is set when the reading is older than max_age: neutral.
	Stale bool `json:"stale,omitempty"`
}

func (t *Trace) add(format string, args ...any) {
	t.Steps = append(t.Steps, fmt.Sprintf(format, args...))
}

func (t *Trace) start(s *Snapshot, svc *service, q Query, f int) {
	t.Client = fmt.Sprintf("%s/%d", q.Client, q.SourcePrefix)
	fam := "IPv4"
	if f == famV6 {
		fam = "IPv6"
	}
	t.add("service %s: strategy %s, %d members, %d priority groups answer %s", svc.Name, svc.Policy.Strategy, len(svc.members), len(svc.groups[f]), fam)
	for _, g := range svc.groups[f] {
		for _, i := range g.members {
			m := &svc.members[i]
			st := s.state(m)
			v := st.verdict()
			if st.eligible() && m.Weight == 0 {
				v = "drained (weight 0)"
			}
			mv := MemberVerdict{
				Site: m.Site, Member: m.ID(), Priority: m.Priority, Weight: m.Weight,
				Up: st.up(), HealthKnown: st.known(), Verdict: v,
			}
			if st.admin() != AdminNone {
				mv.Admin = st.admin().String()
			}
			if m.Capacity > 0 {
				c := float64(m.Capacity) / FullCapacity
				mv.Capacity = &c
			}
			if d, ok := s.healthView.(HealthDetailer); ok {
				mv.Health = d.MemberDetail(svc.Name, m.Member)
			}
			if svc.Policy.Load.On() {
				mv.Load = s.loadVerdict(svc, m)
			}
			if m.Unready {
				probes := mv.Health
				mv.Health = "down: Kubernetes reports no ready endpoint"
				if probes != "" {
					mv.Health += " (probes: " + probes + ")"
				}
			}
			t.Members = append(t.Members, mv)
		}
	}
}

func (t *Trace) verdict(svc *service, i int) *MemberVerdict {
	id := svc.members[i].ID()
	for k := range t.Members {
		if t.Members[k].Member == id {
			return &t.Members[k]
		}
	}
	return nil
}

func (t *Trace) group(g *group, eligible []int, belowMinUp bool) {
	if belowMinUp {
		t.add("no priority group has min_up eligible members; using priority %d with %d", g.priority, len(eligible))
	} else {
		t.add("priority group %d chosen with %d eligible members", g.priority, len(eligible))
	}
	for k := range t.Members {
		if t.Members[k].Priority != g.priority && eligibleVerdict(t.Members[k].Verdict) {
			t.Members[k].Verdict = "other priority group"
		}
	}
}

func (t *Trace) located(m geo.Match) {
	l := &LocatedAs{Source: m.Source.String(), Site: m.Site, Country: m.Location.Country, Continent: m.Location.Continent}
	if m.Prefix.IsValid() {
		l.Network = m.Prefix.String()
	}
	if m.Location.HasCoords {
		l.Lat, l.Lon = m.Location.Lat, m.Location.Lon
	}
	t.Located = l
	t.add("client located by %s: network %s site %q country %q continent %q", m.Source, l.Network, m.Site, l.Country, l.Continent)
}

// compiled records the compiled decision that answered: the network
// around the client and p, the order of sites for it.
func (t *Trace) compiled(d *decision, p *preference, q Query, scope int) {
	c := &CompiledAs{}
	if n, err := q.Client.Unmap().Prefix(scope); err == nil {
		c.Network = n.String()
	}
	// Sites by tier; a tie band joins a tier to those up to its end.
	byTier := make([][]string, len(p.end))
	for i, r := range p.rank {
		name := d.spec.sites[i]
		if name == "" {
			name = "(unknown site)"
		}
		byTier[r] = append(byTier[r], name)
	}
	for r, names := range byTier {
		if len(names) == 0 {
			continue
		}
		e := strings.Join(names, " ")
		if p.end[r] > uint8(r) {
			e += fmt.Sprintf(" (ties up to tier %d)", p.end[r])
		}
		c.Order = append(c.Order, fmt.Sprintf("%d: %s [%s]", r, e, p.rule[r]))
	}
	t.Compiled = c
	t.add("compiled decision: network %s, sites by preference %v", c.Network, c.Order)
}

// distances records each member's great-circle distance from the point
// the geo strategy measured from, and the biased distance it compared
// for a biased site.
func (t *Trace) distances(svc *service, from geo.Point) {
	for i := range svc.members {
		if v := t.verdict(svc, i); v != nil {
			pl := svc.members[i].site
			h := from.Haversine(pl.pt)
			d := geo.HaversineToKm(h) // +Inf without coordinates
			v.DistanceKm = &d
			if pl.scale != 0 && !math.IsInf(h, 1) {
				b := pl.biasedKm(h)
				v.BiasedKm = &b
			}
		}
	}
}

func (t *Trace) finish(a Answer) {
	t.add("answer: %s %s ttl=%d scope=/%d (%s)", a.Result, a.answerText(), a.TTL, a.ScopePrefix, a.Reason)
	for _, ip := range a.Addrs() {
		t.Answered = append(t.Answered, ip.String())
	}
	if a.Target != "" {
		t.Answered = append(t.Answered, "CNAME "+a.Target)
	}
	for k := range t.Members {
		v := &t.Members[k]
		if v.Site == a.Site && eligibleVerdict(v.Verdict) && (slices.Contains(t.Answered, "CNAME "+hostOf(v.Member)) || a.Target == "") {
			v.Verdict = "answered"
		}
	}
}

func eligibleVerdict(v string) bool { return strings.HasPrefix(v, "eligible") }

func hostOf(id string) string {
	for i := range id {
		if id[i] == '/' {
			return id[i+1:]
		}
	}
	return id
}

func (a *Answer) answerText() string {
	if a.Target != "" {
		return "CNAME " + a.Target
	}
	return fmt.Sprint(a.Addrs())
}

// loadVerdict is m's load for explain: the table's entry as the decision
// read it, with the reading's source and age when the view has them.
func (s *Snapshot) loadVerdict(svc *service, m *member) *LoadVerdict {
	e := s.loadOf(m)
	lv := &LoadVerdict{State: e.String(), Shed: float64(e.level) / levelAll, Over: e.flags&loadOver != 0, Hard: e.flags&loadHard != 0, Stale: e.flags&loadStale != 0}
	if v, ok := s.healthView.(LoadView); ok {
		if sig, ok := v.MemberLoad(svc.Name, m.Member, svc.Policy.Load.MaxAge, time.Now()); ok {
			val, age := sig.Value, time.Since(sig.At).Seconds()
			lv.Value, lv.AgeSeconds, lv.Source = &val, &age, sig.Source
		}
	}
	return lv
}

// shed records that member i sheds the client's network.
func (t *Trace) shed(svc *service, i int, e loadEntry) {
	if v := t.verdict(svc, i); v != nil {
		v.Verdict = "shed"
	}
	t.add("member %s sheds this network (%s)", svc.members[i].ID(), e)
}

// pinned records that the client's network stays on member i, where this
// site answered it before (load shedding with persistence).
func (t *Trace) pinned(svc *service, i int) {
	t.add("network persisted to member %s, below its hard limit: it stays", svc.members[i].ID())
}
