package gslb

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/meridian-gslb/meridian/geo"
)

// The compiled decisions are held to the uncompiled strategies, which stay
// as the reference: random sites (some with geoproximity biases),
// services, rules, health and clients,
// the same candidates, Rule and Located both ways, and every address
// inside the compiled scope decided alike.

var (
	decisionDBs = []string{"", "../testdata/geo/test-city.mmdb", "../testdata/demo/demo.mmdb", "../testdata/geo/test-country.mmdb"}
	// clientNets are where random clients come from: the fixtures'
	// networks, the rules' and topology CIDRs below, aliases, anywhere.
	clientNets = []string{
		"8.8.8.0/24", "81.2.69.0/24", "202.12.27.0/24", "1.1.1.0/24", "200.160.0.0/20", "41.0.0.0/16",
		"185.0.0.0/16", "133.0.0.0/16", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "8.0.0.0/6",
		"2001:67c:2e8::/48", "2600::/16", "2400:cb00::/32", "2002::/16", "2001:db8::/32",
		"0.0.0.0/0", "::/0",
	}
	topoCIDRs = []string{"192.168.0.0/16", "192.168.1.0/24", "8.8.0.0/16", "10.0.0.0/8", "2600::/16", "2600:1::/32", "0.0.0.0/1", "81.2.69.128/25"}
	countries = []string{"US", "GB", "JP", "DE", "IE", "AU", "NL", "BR"}
	biases    = []int{MinBias, -50, -10, 10, 50, 80, MaxBias}
	conts     = []string{"NA", "EU", "AS", "OC", "SA", "AF"}
	places    = []geo.Location{
		locUSEast, locEUWest, locAPSouth, locLondon, locTokyo, locBoston,
		{Country: "US", Continent: "NA"}, {Country: "JP"}, {Continent: "EU"}, {},
	}
)

// randomWorld is a State and Locator drawn from r, with a health view.
func randomWorld(t *testing.T, r *rand.Rand) (*State, *geo.Locator, health) {
	t.Helper()
	st := &State{Zones: []Zone{{
		Name:        "gslb.example.",
		SOA:         SOA{MName: "ns1.gslb.example.", RName: "hostmaster.gslb.example."},
		NameServers: []NameServer{{Name: "ns1.gslb.example.", Addresses: ips("127.0.0.1")}},
	}}}
	nSites := 1 + r.IntN(7)
	var names []string
	for i := range nSites {
		name := fmt.Sprintf("s%d", i)
		names = append(names, name)
		site := Site{Name: name, Location: places[r.IntN(len(places))]}
		if r.IntN(2) == 0 { // geoproximity biases, the extremes among them
			site.Bias = biases[r.IntN(len(biases))]
		}
		st.Sites = append(st.Sites, site)
	}
	pickSite := func() string { return names[r.IntN(len(names))] }
	h := health{}
	addr := 0
	for k := range 6 {
		svc := Service{Name: fmt.Sprintf("svc%d.gslb.example.", k)}
		if r.IntN(2) == 0 {
			svc.Policy.Strategy = StrategyGeo
			svc.Policy.GeoTieKm = []float64{0, 1, 300, 2000, 30000}[r.IntN(5)]
		} else {
			svc.Policy.Strategy = StrategyTopology
			for range 1 + r.IntN(4) {
				var tr TopologyRule
				for range r.IntN(3) {
					tr.CIDRs = append(tr.CIDRs, netip.MustParsePrefix(topoCIDRs[r.IntN(len(topoCIDRs))]))
				}
				for range r.IntN(2) {
					tr.Countries = append(tr.Countries, countries[r.IntN(len(countries))])
				}
				for range r.IntN(2) {
					tr.Continents = append(tr.Continents, conts[r.IntN(len(conts))])
				}
				for range 1 + r.IntN(3) {
					tr.Sites = append(tr.Sites, pickSite())
				}
				if len(tr.CIDRs)+len(tr.Countries)+len(tr.Continents) == 0 {
					tr.Continents = []string{conts[r.IntN(len(conts))]}
				}
				tr.CIDRs = slices.Compact(tr.CIDRs)
				svc.Policy.Topology = append(svc.Policy.Topology, tr)
			}
		}
		for range 1 + r.IntN(6) {
			addr++
			m := Member{Site: pickSite(), Weight: uint32(r.IntN(3)), Priority: r.IntN(2),
				Addresses: ips(fmt.Sprintf("192.0.2.%d", addr), fmt.Sprintf("2001:db8::%d", addr))}
			if r.IntN(4) == 0 {
				h[svc.Name+" "+m.ID()] = true
			}
			svc.Members = append(svc.Members, m)
		}
		st.Services = append(st.Services, svc)
	}
	st.ApplyDefaults()
	var db *geo.DB
	if path := decisionDBs[r.IntN(len(decisionDBs))]; path != "" {
		var err error
		if db, err = geo.Open(path); err != nil {
			t.Fatal(err)
		}
	}
	rules := []geo.Rule{
		{Prefix: netip.MustParsePrefix("81.2.69.0/26"), Site: names[0]},
		{Prefix: netip.MustParsePrefix("10.0.0.0/8"), Site: "elsewhere"},
		{Prefix: netip.MustParsePrefix("172.16.0.0/12"), Location: geo.Location{Country: "DE", Continent: "EU"}},
		{Prefix: netip.MustParsePrefix("2001:67c:2e8::/48"), Location: locTokyo},
		{Prefix: netip.MustParsePrefix("8.8.0.0/16"), Location: locBoston},
		{Prefix: netip.MustParsePrefix("8.8.8.0/24"), Site: names[len(names)-1]},
	}
	rules = rules[:r.IntN(len(rules)+1)]
	loc, err := geo.NewLocator(db, rules)
	if err != nil {
		t.Fatal(err)
	}
	return st, loc, h
}

// placed is what step 4 made of one query: the candidates kept, sorted,
// and why.
type placed struct {
	members []int
	rule    Rule
	located geo.Source
	scope   int
}

func placeQuery(s *Snapshot, svc *service, q Query, compiled bool) (placed, bool) {
	if !compiled {
		ref := *svc
		ref.dec = nil
		svc = &ref
	}
	f := famV4
	if q.Type == TypeAAAA {
		f = famV6
	}
	var buf [32]int
	g, l, _ := s.pickGroup(svc, f, buf[:0], svc.Policy.MinUp)
	if g == nil {
		g, l, _ = s.pickGroup(svc, f, buf[:0], 1)
	}
	if g == nil {
		return placed{}, false
	}
	var a Answer
	l, scope := s.narrow(svc, q, l, &a, nil)
	l = slices.Clone(l)
	slices.Sort(l)
	return placed{l, a.Reason.Rule, a.Reason.Located, scope}, true
}

func randomClient(r *rand.Rand) netip.Addr {
	p := netip.MustParsePrefix(clientNets[r.IntN(len(clientNets))])
	if b := p.Bits() - 1 - r.IntN(3); b > 0 && r.IntN(3) == 0 {
		p, _ = p.Addr().Prefix(b) // near the network, not only in it
	}
	return randomAddrIn(r, p)
}

func randomAddrIn(r *rand.Rand, p netip.Prefix) netip.Addr {
	b := p.Addr().As16()
	start := 0
	if p.Addr().Is4() {
		start = 96
	}
	for i := start + p.Bits(); i < 128; i++ {
		if r.IntN(2) == 1 {
			b[i/8] |= 0x80 >> (i % 8)
		}
	}
	a := netip.AddrFrom16(b)
	if p.Addr().Is4() {
		a = a.Unmap()
	}
	return a
}

func compiledSnapshot(t testing.TB, s *Snapshot) *Snapshot {
	t.Helper()
	d, err := s.CompileDecisions(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	c := s.WithDecisions(d)
	if n, _ := c.Undecided(); n != 0 {
		t.Fatalf("%d services still undecided after WithDecisions", n)
	}
	return c
}

func TestCompiledMatchesReference(t *testing.T) {
	worlds, queries := 0, 0
	for seed := range uint64(60) {
		r := rand.New(rand.NewPCG(seed, 7))
		st, loc, h := randomWorld(t, r)
		if err := st.Validate(); err != nil {
			continue // an invalid draw: nothing to compare
		}
		worlds++
		s, err := NewSnapshot(st, loc, h)
		if err != nil {
			t.Fatal(err)
		}
		c := compiledSnapshot(t, s)
		for range 300 {
			client := randomClient(r)
			for _, svc := range c.services.All() {
				qq := Query{Name: svc.Name, Type: TypeA, Client: client, SourcePrefix: 24}
				if r.IntN(2) == 0 {
					qq.Type = TypeAAAA
				}
				got, ok := placeQuery(c, svc, qq, true)
				if !ok {
					continue
				}
				queries++
				want, _ := placeQuery(c, svc, qq, false)
				where := fmt.Sprintf("seed %d, %s, client %s", seed, svc.Name, client)
				if !slices.Equal(got.members, want.members) || got.rule != want.rule {
					t.Fatalf("%s: compiled %+v, reference %+v\npolicy %+v", where, got, want, svc.Policy)
				}
				// Located is not compiled; explain asks the locator.
				if a, _ := Explain(c, qq); a.Reason.Located != want.located && a.Result == Success && a.Reason.Rule >= RuleGeoNearest && a.Reason.Rule <= RuleTopologyDefault {
					t.Fatalf("%s: explain says located by %s, the reference %s", where, a.Reason.Located, want.located)
				}
				// Every address in the compiled scope is decided alike.
				scope, err := client.Prefix(got.scope)
				if err != nil {
					t.Fatalf("%s: scope /%d: %v", where, got.scope, err)
				}
				for range 3 {
					qq.Client = randomAddrIn(r, scope)
					other, _ := placeQuery(c, svc, qq, false)
					if !slices.Equal(other.members, want.members) || other.rule != want.rule {
						t.Fatalf("%s: %s is inside the compiled scope %s but decided %+v, not %+v", where, qq.Client, scope, other, want)
					}
				}
			}
		}
	}
	if worlds < 40 || queries < 10000 {
		t.Fatalf("only %d valid worlds and %d queries compared", worlds, queries)
	}
}

// TestSelectCompiledDoesNotAllocate: the compiled path keeps Select free
// of allocations.
func TestSelectCompiledDoesNotAllocate(t *testing.T) {
	s := compiledSnapshot(t, snapshot(t, testState(), nil))
	for _, qq := range []Query{
		q("app.gslb.example.", TypeA, "81.2.69.160/32"),
		q("app.gslb.example.", TypeAAAA, "2001:67c:2e8::1/128"),
		q("topo.gslb.example.", TypeA, "192.168.1.1/32"),
		q("topo.gslb.example.", TypeA, "202.12.27.0/24"),
	} {
		if s.service(qq.Name).dec == nil {
			t.Fatalf("%s is not compiled", qq.Name)
		}
		if n := testing.AllocsPerRun(200, func() { Select(s, qq) }); n != 0 {
			t.Errorf("Select(%s %s) allocates %.1f times", qq.Name, qq.Client, n)
		}
	}
}

// TestCompileDecisionsBudget: decisions that do not fit the memory limit
// are left out, the most used first in; their services answer uncompiled.
func TestCompileDecisionsBudget(t *testing.T) {
	st := testState()
	// Three geo decisions: app's three sites (one service), and two
	// services each on other site pairs.
	for i, sites := range [][]string{{"us-east", "eu-west"}, {"us-east", "eu-west"}, {"eu-west", "ap-south"}} {
		svc := Service{Name: fmt.Sprintf("pair%d.gslb.example.", i), Policy: Policy{Strategy: StrategyGeo}}
		for k, site := range sites {
			svc.Members = append(svc.Members, Member{Site: site, Weight: 1, Addresses: ips(fmt.Sprintf("192.0.2.%d", 100+2*i+k))})
		}
		st.Services = append(st.Services, svc)
	}
	st.ApplyDefaults()
	s := snapshot(t, st, nil)
	all, err := s.CompileDecisions(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	one := all.Bytes / all.Len()
	d, err := s.CompileDecisions(context.Background(), one+one/2)
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 1 || d.Skipped != all.Len()-1 {
		t.Fatalf("with room for one tree: %d compiled, %d skipped; want 1 and %d", d.Len(), d.Skipped, all.Len()-1)
	}
	c := s.WithDecisions(d)
	if c.service("pair0.gslb.example.").dec == nil || c.service("pair1.gslb.example.").dec == nil {
		t.Error("the decision two services share was not the one compiled")
	}
	if services, decisions := c.Undecided(); services == 0 || decisions != all.Len()-1 {
		t.Errorf("undecided after the budget: %d services, %d decisions", services, decisions)
	}
	// The snapshot's own trees count against the limit.
	if d2, _ := c.CompileDecisions(context.Background(), one+one/2); d2.Len() != 0 {
		t.Errorf("a full budget compiled %d more", d2.Len())
	}
}

// TestDecisionKeysDoNotCollide: site names may hold any character, so
// the key must not be a plain join: {"a,b"} and {"a", "b"} share no
// decision (sharing one would index the other's sites out of range).
func TestDecisionKeysDoNotCollide(t *testing.T) {
	st := testState()
	st.Sites = append(st.Sites, Site{Name: "a"}, Site{Name: "b"}, Site{Name: "a,b"})
	st.Services = append(st.Services,
		Service{Name: "one.gslb.example.", Policy: Policy{Strategy: StrategyGeo}, Members: []Member{
			{Site: "a,b", Weight: 1, Addresses: ips("192.0.2.201")}}},
		Service{Name: "two.gslb.example.", Policy: Policy{Strategy: StrategyGeo}, Members: []Member{
			{Site: "a", Weight: 1, Addresses: ips("192.0.2.202")}, {Site: "b", Weight: 1, Addresses: ips("192.0.2.203")}}})
	st.ApplyDefaults()
	s := snapshot(t, st, nil)
	if a, b := s.service("one.gslb.example.").spec.key, s.service("two.gslb.example.").spec.key; a == b {
		t.Fatalf("both services have the decision key %q", a)
	}
}
