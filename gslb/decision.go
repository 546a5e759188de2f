package gslb

// Compiled placement (issue 11): what the geo and topology strategies
// decide for a client depends only on where the client is and on a few
// parameters of the service (its members' sites, the tie band, the
// topology rules). Services that share those parameters share one
// decision: a geo.Tree over the whole address space whose leaves are the
// order of preference of the sites, every site, so that health, drains,
// weights and priorities stay query-time steps and never recompile. The
// tree's merged prefixes are the ECS scopes to answer.
//
// The uncompiled strategies (select_place.go) stay as the reference: a
// service whose decision is not compiled yet answers through them, and the
// property tests hold the two to the same answers.

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/meridian-gslb/meridian/geo"
)

// maxDecisionSites bounds the sites of one decision: a site's rank is a
// byte. A service with members at more sites answers uncompiled.
const maxDecisionSites = 255

// decisionSpec is what a compiled decision depends on besides the locator
// and the sites' locations: the service's strategy, the sites its members
// are at, and the strategy's parameters. Services with equal keys share a
// decision.
type decisionSpec struct {
	key      string
	strategy Strategy
	tieKm    float64
	topology []TopologyRule
	// sites are the members' sites, sorted; "" stands for a site the
	// State does not have (it has no location and matches no rule).
	sites []string
}

// specOf returns the decision svc's strategy needs and, per member, the
// index of its site in the spec's sites; false when the strategy does not
// depend on the client's place or the service is not compilable.
func (s *Snapshot) specOf(svc *service) (*decisionSpec, []uint8, bool) {
	p := &svc.Policy
	if p.Strategy != StrategyGeo && p.Strategy != StrategyTopology {
		return nil, nil, false
	}
	siteName := func(m *member) string {
		if m.site.Site == nil {
			return ""
		}
		return m.site.Name
	}
	sites := make([]string, 0, 4)
	for i := range svc.members {
		sites = append(sites, siteName(&svc.members[i]))
	}
	slices.Sort(sites)
	sites = slices.Compact(sites)
	if len(sites) > maxDecisionSites {
		return nil, nil, false
	}
	idx := make([]uint8, len(svc.members))
	for i := range svc.members {
		k, _ := slices.BinarySearch(sites, siteName(&svc.members[i]))
		idx[i] = uint8(k)
	}
	spec := &decisionSpec{strategy: p.Strategy, sites: slices.Clip(sites)}
	var b strings.Builder
	b.WriteString(string(p.Strategy))
	if p.Strategy == StrategyGeo {
		spec.tieKm = p.GeoTieKm
		b.WriteString("|tie=")
		b.WriteString(strconv.FormatFloat(p.GeoTieKm, 'g', -1, 64))
	} else {
		spec.topology = p.Topology
		for _, r := range p.Topology {
			fmt.Fprintf(&b, "|%v %q %q %q", r.CIDRs, r.Countries, r.Continents, r.Sites)
		}
	}
	// Names quoted: a site name may hold any character, and {"a,b"}
	// must not key the same decision as {"a", "b"}.
	fmt.Fprintf(&b, "|sites=%q", sites)
	spec.key = b.String()
	return spec, idx, true
}

// decision is one compiled decision: a tree whose leaves index prefs.
type decision struct {
	spec  *decisionSpec
	tree  *geo.Tree
	prefs []preference
}

// preference is the order of the decision's sites for the clients of one
// leaf. rank[site] is the site's tier; among a query's eligible members
// those of the lowest tier r win, together with those up to end[r] (the
// geo tie band). rule[r] is the Rule an answer from tier r reports.
//
// How the client was located (Reason.Located) is not part of it: networks
// that the database places and networks it does not know often get the
// same answer (a topology rule for 0.0.0.0/0), and keeping them apart
// would cut the merged networks, and so the ECS scopes, for nothing that
// a resolver sees. Explain reports it from the locator.
type preference struct {
	rank []uint8 // by index into decisionSpec.sites
	end  []uint8 // by tier
	rule []Rule  // by tier
}

// narrow is step 4 for a compiled decision: l narrowed to the best tier of
// eligible members, the ECS scope (the compiled network's length), and the
// client's preference.
func (d *decision) narrow(svc *service, q Query, l []int, a *Answer) ([]int, int, *preference) {
	leaf, bits := d.tree.Lookup(q.Client)
	p := &d.prefs[leaf]
	best := uint8(math.MaxUint8)
	for _, i := range l {
		best = min(best, p.rank[svc.siteIdx[i]])
	}
	end := p.end[best]
	a.Reason.Rule = p.rule[best]
	n := 0
	for _, i := range l {
		if r := p.rank[svc.siteIdx[i]]; r >= best && r <= end {
			l[n] = i
			n++
		}
	}
	return l[:n], bits, p
}

// compileDecision compiles spec over s's locator and sites.
func (s *Snapshot) compileDecision(ctx context.Context, spec *decisionSpec) (*decision, error) {
	b := &prefBuilder{s: s, spec: spec, seen: map[string]uint32{}}
	for _, name := range spec.sites {
		pl := s.places[name]
		if pl == nil || name == "" {
			pl = noPlace
		}
		b.pl = append(b.pl, pl)
	}
	if spec.strategy == StrategyTopology {
		for _, r := range spec.topology {
			b.splits = append(b.splits, r.CIDRs...)
		}
	}
	tree, err := s.Locator.Compile(ctx, b.splits, b.classify)
	if err != nil {
		return nil, err
	}
	return &decision{spec: spec, tree: tree, prefs: slices.Clip(b.prefs)}, nil
}

// prefBuilder computes and interns the preferences of one decision. The
// database's every place is classified once (some 800,000 on a GeoIP2
// City-sized file) into few distinct preferences, so each is computed in
// scratch space and copied only when new.
type prefBuilder struct {
	s      *Snapshot
	spec   *decisionSpec
	pl     []*place // by index into spec.sites
	splits []netip.Prefix
	prefs  []preference
	seen   map[string]uint32

	// scratch
	rank, end []uint8
	rule      []Rule
	order     []near
	key       []byte
}

// near is a site and its rank (geoRank) for the client.
type near struct {
	site int
	h    float64
}

func (b *prefBuilder) classify(m geo.Match, split int) uint32 {
	n := len(b.spec.sites)
	b.rank, b.end, b.rule = slices.Grow(b.rank[:0], n)[:n], b.end[:0], b.rule[:0]
	clear(b.rank)
	if b.spec.strategy == StrategyGeo {
		b.geo(m)
	} else {
		b.topology(m, split)
	}
	return b.intern()
}

// intern returns the leaf value of the preference in scratch.
func (b *prefBuilder) intern() uint32 {
	k := append(b.key[:0], b.rank...)
	k = append(k, 0xff)
	k = append(k, b.end...)
	for _, r := range b.rule {
		k = append(k, byte(r))
	}
	b.key = k
	if v, ok := b.seen[string(k)]; ok {
		return v
	}
	v := uint32(len(b.prefs))
	b.prefs = append(b.prefs, preference{rank: slices.Clone(b.rank), end: slices.Clone(b.end), rule: slices.Clone(b.rule)})
	b.seen[string(k)] = v
	return v
}

// tier appends a tier whose members tie with no other tier.
func (b *prefBuilder) tier(r Rule) {
	b.end = append(b.end, uint8(len(b.end)))
	b.rule = append(b.rule, r)
}

// geo is byGeo's decision for clients located at m, for every site.
func (b *prefBuilder) geo(m geo.Match) {
	rank := b.rank
	first := uint8(0) // the tier the distance order starts at
	if k, ok := slices.BinarySearch(b.spec.sites, m.Site); ok && m.Site != "" {
		// A rule placed the client at a site: its members first, if any is
		// eligible; the rest of the order starts one tier down.
		for i := range rank {
			rank[i] = 1
		}
		rank[k] = 0
		first = 1
		b.tier(RuleGeoSite)
	}
	loc := geoOrigin(b.s, m)
	switch {
	case loc.HasCoords:
		// The sites by biased distance (geoRank: the haversine for an
		// unbiased site, +Inf without coordinates), each its own tier,
		// with the tie band as byGeo computes it. Leaves merge where the
		// order is the same, so the merged networks (the ECS scopes)
		// follow the biased catchments' boundaries.
		cp := geo.NewPoint(loc)
		order := b.order[:0]
		for i := range rank {
			if first == 1 && rank[i] == 0 {
				continue
			}
			order = append(order, near{i, b.pl[i].geoRank(cp.Haversine(b.pl[i].pt))})
		}
		slices.SortStableFunc(order, func(x, y near) int { return cmp.Compare(x.h, y.h) })
		b.order = order
		for k, o := range order {
			rank[o.site] = first + uint8(k)
			limit := tieLimit(o.h, b.spec.tieKm)
			e := k
			for e+1 < len(order) && order[e+1].h <= limit {
				e++
			}
			b.end = append(b.end, first+uint8(e))
			b.rule = append(b.rule, RuleGeoNearest)
		}
	case loc.Country != "" || loc.Continent != "":
		for i := range rank {
			if first == 1 && rank[i] == 0 {
				continue
			}
			st := b.pl[i].Site
			switch {
			case st != nil && loc.Country != "" && st.Location.Country == loc.Country:
				rank[i] = first
			case st != nil && loc.Continent != "" && st.Location.Continent == loc.Continent:
				rank[i] = first + 1
			default:
				rank[i] = first + 2
			}
		}
		b.tier(RuleGeoCountry)
		b.tier(RuleGeoCountry)
		b.tier(RuleGeoCountry)
	default:
		// One tier, after the rule's site if there is one: rank holds
		// that already.
		b.tier(RuleGeoUnlocated)
	}
}

// topology is byTopology's decision for clients located at m inside
// splits[split] (the longest topology CIDR holding them, -1 none).
func (b *prefBuilder) topology(m geo.Match, split int) {
	rank := b.rank
	for _, r := range b.spec.topology {
		hit := false
		if split >= 0 {
			in := b.splits[split]
			hit = slices.ContainsFunc(r.CIDRs, func(p netip.Prefix) bool {
				return p.Bits() <= in.Bits() && p.Contains(in.Addr())
			})
		}
		if !hit && (len(r.Countries) > 0 || len(r.Continents) > 0) {
			hit = containsSet(r.Countries, m.Location.Country) || containsSet(r.Continents, m.Location.Continent)
		}
		if !hit {
			continue
		}
		// The rule's sites in order, each its own tier, then every other
		// site as the default.
		for i := range rank {
			rank[i] = math.MaxUint8
		}
		for _, name := range r.Sites {
			if k, ok := slices.BinarySearch(b.spec.sites, name); ok && name != "" && rank[k] == math.MaxUint8 {
				rank[k] = uint8(len(b.end))
				b.tier(RuleTopology)
			}
		}
		for i := range rank {
			if rank[i] == math.MaxUint8 {
				rank[i] = uint8(len(b.end))
			}
		}
		b.tier(RuleTopologyDefault)
		return
	}
	b.tier(RuleTopologyDefault)
}

// Decisions are compiled decisions for one locator and set of sites,
// ready to be bound to a snapshot's services (WithDecisions).
type Decisions struct {
	locator *geo.Locator
	sites   []Site
	byKey   map[string]*decision
	// Nodes and Bytes add up the compiled trees; Skipped counts the
	// decisions left out because they did not fit the memory limit.
	Nodes, Bytes, Skipped int
}

// Len is how many decisions d holds.
func (d *Decisions) Len() int { return len(d.byKey) }

// DecisionStats is how many compiled decisions s holds and the memory of
// their trees.
func (s *Snapshot) DecisionStats() (n, bytes int) {
	for _, d := range s.decisions {
		bytes += d.tree.Bytes()
	}
	return len(s.decisions), bytes
}

// Undecided is how many of s's services wait for a compiled decision,
// and how many distinct decisions they wait for.
func (s *Snapshot) Undecided() (services, decisions int) {
	seen := map[string]bool{}
	for _, svc := range s.services.All() {
		if svc.spec != nil && svc.dec == nil {
			services++
			seen[svc.spec.key] = true
		}
	}
	return services, len(seen)
}

// CompileDecisions compiles the decisions s's services need and s does not
// have, those used by the most services first, while the trees of s and
// the new ones fit in maxBytes (0: no limit); the services of decisions
// that do not fit keep answering uncompiled (Decisions.Skipped). It runs
// off the query path and may take seconds on a large database; ctx stops
// it. Nothing is shared with s but read-only data.
func (s *Snapshot) CompileDecisions(ctx context.Context, maxBytes int) (*Decisions, error) {
	d := &Decisions{locator: s.Locator, sites: s.State.Sites, byKey: map[string]*decision{}}
	type want struct {
		spec     *decisionSpec
		services int
	}
	byKey := map[string]*want{}
	var pc Pacer
	for _, svc := range s.services.All() {
		pc.Step()
		if svc.spec == nil || svc.dec != nil {
			continue
		}
		w := byKey[svc.spec.key]
		if w == nil {
			w = &want{spec: svc.spec}
			byKey[svc.spec.key] = w
		}
		w.services++
	}
	wants := slices.SortedFunc(maps.Values(byKey), func(a, b *want) int {
		return cmp.Or(cmp.Compare(b.services, a.services), cmp.Compare(a.spec.key, b.spec.key))
	})
	_, used := s.DecisionStats()
	for _, w := range wants {
		// A tree's size is known only once compiled: expect the average
		// of those compiled so far, so a full budget costs no compile.
		expect := 0
		if n := len(d.byKey); n > 0 {
			expect = d.Bytes / n
		}
		if maxBytes > 0 && used+d.Bytes+expect >= maxBytes {
			d.Skipped++
			continue
		}
		dec, err := s.compileDecision(ctx, w.spec)
		if err != nil {
			return nil, fmt.Errorf("gslb: compile the decision of %d services (%s): %w", w.services, w.spec.key, err)
		}
		if maxBytes > 0 && used+d.Bytes+dec.tree.Bytes() > maxBytes {
			d.Skipped++
			continue
		}
		d.byKey[w.spec.key] = dec
		d.Nodes += dec.tree.Nodes()
		d.Bytes += dec.tree.Bytes()
	}
	return d, nil
}

// WithDecisions returns s with d's decisions bound to the services that
// wait for them, and decisions no service uses any more dropped. When d
// was compiled for another locator or other sites (s moved on while it
// compiled), s is returned as it is.
func (s *Snapshot) WithDecisions(d *Decisions) *Snapshot {
	if d == nil || !s.Locator.Same(d.locator) || !slices.Equal(s.State.Sites, d.sites) {
		return s
	}
	next := *s
	next.services = s.services.Clone()
	next.decisions = make(map[string]*decision, len(s.decisions)+len(d.byKey))
	var pc Pacer
	for name, svc := range s.services.All() {
		pc.Step()
		if svc.spec == nil {
			continue
		}
		dec := svc.dec
		if dec == nil {
			if dec = d.byKey[svc.spec.key]; dec == nil {
				continue
			}
			bound := *svc
			bound.dec = dec
			next.services.Set(name, &bound)
		}
		next.decisions[svc.spec.key] = dec
	}
	return &next
}
