package gslb

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/meridian-gslb/meridian/geo"
)

var (
	locUSEast  = geo.Location{Lat: 39.04, Lon: -77.49, HasCoords: true, Country: "US", Continent: "NA"}
	locEUWest  = geo.Location{Lat: 53.35, Lon: -6.26, HasCoords: true, Country: "IE", Continent: "EU"}
	locAPSouth = geo.Location{Lat: 19.08, Lon: 72.88, HasCoords: true, Country: "IN", Continent: "AS"}
	locLondon  = geo.Location{Lat: 51.51, Lon: -0.13, HasCoords: true, Country: "GB", Continent: "EU"}
	locTokyo   = geo.Location{Lat: 35.68, Lon: 139.69, HasCoords: true, Country: "JP", Continent: "AS"}
	locBoston  = geo.Location{Lat: 42.36, Lon: -71.06, HasCoords: true, Country: "US", Continent: "NA"}
)

// Client networks placed by geo rules, standing in for an mmdb.
var testRules = []geo.Rule{
	{Prefix: netip.MustParsePrefix("81.2.69.0/24"), Location: locLondon},
	{Prefix: netip.MustParsePrefix("202.12.27.0/24"), Location: locTokyo},
	{Prefix: netip.MustParsePrefix("8.8.8.0/24"), Location: locBoston},
	{Prefix: netip.MustParsePrefix("2001:67c:2e8::/48"), Location: locLondon},
	{Prefix: netip.MustParsePrefix("10.0.0.0/8"), Site: "ap-south"},
	{Prefix: netip.MustParsePrefix("172.16.0.0/12"), Location: geo.Location{Country: "DE", Continent: "EU"}},
}

func ips(s ...string) []netip.Addr {
	out := make([]netip.Addr, len(s))
	for i, a := range s {
		out[i] = netip.MustParseAddr(a)
	}
	return out
}

// testState is a small version of the demo: three sites and one service
// per strategy.
func testState() *State {
	st := &State{
		Zones: []Zone{{
			Name:        "gslb.example.",
			SOA:         SOA{MName: "ns1.gslb.example.", RName: "hostmaster.gslb.example."},
			NameServers: []NameServer{{Name: "ns1.gslb.example.", Addresses: ips("127.0.0.1")}},
		}},
		Sites: []Site{
			{Name: "us-east", Location: locUSEast},
			{Name: "eu-west", Location: locEUWest},
			{Name: "ap-south", Location: locAPSouth},
		},
	}
	three := func() []Member {
		return []Member{
			{Site: "us-east", Addresses: ips("192.0.2.10", "2001:db8:1::10"), Weight: 1},
			{Site: "eu-west", Addresses: ips("198.51.100.10", "2001:db8:2::10"), Weight: 1},
			{Site: "ap-south", Addresses: ips("203.0.113.10", "2001:db8:3::10"), Weight: 1},
		}
	}
	st.Services = []Service{
		{Name: "app.gslb.example.", Policy: Policy{Strategy: StrategyGeo}, Members: three()},
		{Name: "www.gslb.example.", Policy: Policy{Strategy: StrategyWeighted, Persistence: Persistence{Enabled: true}}, Members: []Member{
			{Site: "us-east", Addresses: ips("192.0.2.20"), Weight: 3},
			{Site: "eu-west", Addresses: ips("198.51.100.20"), Weight: 1},
		}},
		{Name: "w.gslb.example.", Policy: Policy{Strategy: StrategyWeighted}, Members: []Member{
			{Site: "us-east", Addresses: ips("192.0.2.21"), Weight: 3},
			{Site: "eu-west", Addresses: ips("198.51.100.21"), Weight: 1},
			{Site: "ap-south", Addresses: ips("203.0.113.21"), Weight: 0},
		}},
		{Name: "db.gslb.example.", Policy: Policy{Strategy: StrategyRoundRobin, Down: DownResponse{Type: DownFallback, Addresses: ips("192.0.2.99", "2001:db8::99")}}, Members: []Member{
			{Site: "eu-west", Addresses: ips("198.51.100.30"), Weight: 1, Priority: 1},
			{Site: "us-east", Addresses: ips("192.0.2.30"), Weight: 1, Priority: 2},
		}},
		{Name: "rr.gslb.example.", Policy: Policy{Strategy: StrategyRoundRobin}, Members: three()},
		{Name: "ch.gslb.example.", Policy: Policy{Strategy: StrategyConsistentHash}, Members: three()},
		{Name: "topo.gslb.example.", Policy: Policy{Strategy: StrategyTopology, Topology: []TopologyRule{
			{CIDRs: []netip.Prefix{netip.MustParsePrefix("192.168.0.0/16")}, Sites: []string{"ap-south", "eu-west"}},
			{Continents: []string{"EU"}, Sites: []string{"eu-west", "us-east"}},
			{Countries: []string{"JP"}, Sites: []string{"ap-south"}},
		}}, Members: three()},
		{Name: "edge.gslb.example.", Policy: Policy{Strategy: StrategyGeo}, Members: []Member{
			{Site: "us-east", Hostname: "edge-lb.us-east.example.net.", Weight: 1},
			{Site: "eu-west", Addresses: ips("198.51.100.40"), Weight: 1},
		}},
		{Name: "v4only.gslb.example.", Policy: Policy{Strategy: StrategyGeo}, Members: []Member{
			{Site: "us-east", Addresses: ips("192.0.2.50"), Weight: 1},
		}},
	}
	st.ApplyDefaults()
	return st
}

// health is a test HealthView: members listed are down.
type health map[string]bool

func (h health) MemberUp(service string, m *Member) (bool, bool) {
	down, ok := h[service+" "+m.ID()]
	return !down, ok
}

func snapshot(t testing.TB, st *State, h HealthView) *Snapshot {
	t.Helper()
	if err := st.Validate(); err != nil {
		t.Fatalf("state does not validate: %v", err)
	}
	loc, err := geo.NewLocator(nil, testRules)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSnapshot(st, loc, h)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func q(name string, qtype uint16, client string) Query {
	p := netip.MustParsePrefix(client)
	return Query{Name: name, Type: qtype, Client: p.Addr(), SourcePrefix: p.Bits()}
}

func TestSelectNameResults(t *testing.T) {
	s := snapshot(t, testState(), nil)
	for _, tc := range []struct {
		name   string
		qtype  uint16
		result Result
		rule   Rule
	}{
		{"app.gslb.example.", TypeA, Success, RuleGeoNearest},
		{"example.com.", TypeA, Refused, RuleNotInZone},
		{"gslb.example.com.", TypeA, Refused, RuleNotInZone},
		{"nope.gslb.example.", TypeA, NXDomain, RuleNoService},
		{"app.gslb.example.", 16, NoData, RuleNotAddressType}, // TXT
		{"v4only.gslb.example.", TypeAAAA, NoData, RuleNoFamily},
	} {
		a := Select(s, q(tc.name, tc.qtype, "81.2.69.0/24"))
		if a.Result != tc.result || a.Reason.Rule != tc.rule {
			t.Errorf("%s type %d: got %s/%s, want %s/%s", tc.name, tc.qtype, a.Result, a.Reason.Rule, tc.result, tc.rule)
		}
		if tc.result != Refused && a.Zone == nil {
			t.Errorf("%s: no zone in answer", tc.name)
		}
	}
}

func TestSelectGeo(t *testing.T) {
	s := snapshot(t, testState(), nil)
	for _, tc := range []struct {
		client string
		qtype  uint16
		want   string
		rule   Rule
		scope  uint8
	}{
		{"81.2.69.0/24", TypeA, "198.51.100.10", RuleGeoNearest, 24},
		{"8.8.8.0/24", TypeA, "192.0.2.10", RuleGeoNearest, 24},
		{"202.12.27.0/24", TypeA, "203.0.113.10", RuleGeoNearest, 24},
		{"2001:67c:2e8::/48", TypeAAAA, "2001:db8:2::10", RuleGeoNearest, 48},
		{"10.1.2.0/24", TypeA, "203.0.113.10", RuleGeoSite, 8},        // rule -> site
		{"172.16.5.0/24", TypeA, "198.51.100.10", RuleGeoCountry, 12}, // country-only location, same continent
		{"198.18.0.0/24", TypeA, "", RuleGeoUnlocated, 5},             // not located: any member; 192.0.0.0/5 holds no geo rule
		{"81.2.69.7/32", TypeA, "198.51.100.10", RuleGeoNearest, 24},  // scope is the deciding network
		{"2001:67c:2e8:1::/64", TypeAAAA, "2001:db8:2::10", RuleGeoNearest, 48},
	} {
		a := Select(s, q("app.gslb.example.", tc.qtype, tc.client))
		if a.Result != Success || a.Reason.Rule != tc.rule || a.ScopePrefix != tc.scope {
			t.Errorf("%s: got %s %s scope %d, want success %s scope %d", tc.client, a.Result, a.Reason.Rule, a.ScopePrefix, tc.rule, tc.scope)
		}
		if tc.want != "" && (len(a.Addrs()) != 1 || a.Addrs()[0].String() != tc.want) {
			t.Errorf("%s: answered %v, want [%s]", tc.client, a.Addrs(), tc.want)
		}
		if a.TTL != DefaultTTL {
			t.Errorf("%s: ttl %d", tc.client, a.TTL)
		}
	}
}

func TestSelectGeoFailsOverToNextNearest(t *testing.T) {
	h := health{"app.gslb.example. eu-west/198.51.100.10": true}
	s := snapshot(t, testState(), h)
	a := Select(s, q("app.gslb.example.", TypeA, "81.2.69.0/24"))
	// From London, with eu-west down, us-east (5,900 km) beats ap-south (7,200 km).
	if got := a.Addrs(); len(got) != 1 || got[0].String() != "192.0.2.10" || !a.Degraded || a.Reason.Down != 1 {
		t.Fatalf("got %v degraded=%v reason=%s", got, a.Degraded, a.Reason)
	}
	// A geo rule naming a site that is down: nearest to that site instead.
	h["app.gslb.example. ap-south/203.0.113.10"] = true
	s = snapshot(t, testState(), h)
	a = Select(s, q("app.gslb.example.", TypeA, "10.0.0.0/24"))
	if got := a.Addrs(); len(got) != 1 || got[0].String() != "192.0.2.10" {
		t.Fatalf("site rule with site down: got %v (%s)", got, a.Reason)
	}
}

func TestSelectGeoTieBand(t *testing.T) {
	st := testState()
	// A second site 50 km from us-east: both are equally near within the 100 km band.
	st.Sites = append(st.Sites, Site{Name: "us-east-2", Location: geo.Location{Lat: 39.3, Lon: -76.6, HasCoords: true, Country: "US", Continent: "NA"}})
	st.Services[0].Members = append(st.Services[0].Members, Member{Site: "us-east-2", Addresses: ips("192.0.2.11"), Weight: 1})
	// 200 client networks, all in Boston: the two equally near members
	// share them, and each network always gets the same one (its answer
	// is cached for the whole scope network).
	var rules []geo.Rule
	for i := range 200 {
		rules = append(rules, geo.Rule{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{100, 64, byte(i), 0}), 24), Location: locBoston})
	}
	loc, err := geo.NewLocator(nil, rules)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Validate(); err != nil {
		t.Fatal(err)
	}
	bs, _ := NewSnapshot(st, loc, nil)
	seen := map[string]int{}
	for i := range 200 {
		qq := Query{Name: "app.gslb.example.", Type: TypeA, Client: netip.AddrFrom4([4]byte{100, 64, byte(i), 0}), SourcePrefix: 24}
		a := Select(bs, qq)
		for r := range uint64(5) {
			qq.Rand = r * 977
			if b := Select(bs, qq); b.Addrs()[0] != a.Addrs()[0] || b.ScopePrefix != 24 {
				t.Fatalf("network %d: %v then %v (scope %d)", i, a.Addrs(), b.Addrs(), b.ScopePrefix)
			}
		}
		seen[a.Addrs()[0].String()]++
	}
	if len(seen) != 2 || seen["192.0.2.10"] < 70 || seen["192.0.2.11"] < 70 {
		t.Fatalf("tie band not shared: %v", seen)
	}
	st.Services[0].Policy.GeoTieKm = 1
	s := snapshot(t, st, nil)
	a := Select(s, q("app.gslb.example.", TypeA, "8.8.8.0/24"))
	if got := a.Addrs()[0].String(); got != "192.0.2.11" { // Baltimore is nearer to Boston than Ashburn
		t.Fatalf("tie band 1 km: got %s", got)
	}
}

func TestSelectTopology(t *testing.T) {
	h := health{}
	for _, tc := range []struct {
		client string
		down   string
		want   string
		rule   Rule
		scope  uint8
	}{
		{"192.168.7.0/24", "", "203.0.113.10", RuleTopology, 16},
		{"192.168.7.0/24", "ap-south/203.0.113.10", "198.51.100.10", RuleTopology, 16}, // next site of the rule
		{"81.2.69.0/24", "", "198.51.100.10", RuleTopology, 24},                        // continent EU
		{"202.12.27.0/24", "", "203.0.113.10", RuleTopology, 24},                       // country JP
		// No rule matches: every candidate; the scope must not cover the 192.168/16 rule.
		{"192.169.0.0/24", "", "", RuleTopologyDefault, 16},
	} {
		clear(h)
		if tc.down != "" {
			h["topo.gslb.example. "+tc.down] = true
		}
		s := snapshot(t, testState(), h)
		a := Select(s, q("topo.gslb.example.", TypeA, tc.client))
		if a.Reason.Rule != tc.rule || a.ScopePrefix != tc.scope {
			t.Errorf("%s: rule %s scope %d, want %s scope %d", tc.client, a.Reason.Rule, a.ScopePrefix, tc.rule, tc.scope)
		}
		if tc.want != "" && a.Addrs()[0].String() != tc.want {
			t.Errorf("%s (down %q): got %v want %s", tc.client, tc.down, a.Addrs(), tc.want)
		}
	}
}

func TestExcludeScope(t *testing.T) {
	for _, tc := range []struct {
		client, rule string
		scope, want  int
	}{
		{"192.169.0.0", "192.168.0.0/16", 0, 16}, // differs in bit 16 -> /16 excludes the rule
		{"10.0.0.0", "192.168.0.0/16", 0, 1},
		{"10.0.0.0", "192.168.0.0/16", 8, 8},
		{"192.168.0.0", "192.168.0.0/16", 0, 0}, // contains: not this function's job
		{"2001:db8::", "2001:db9::/32", 0, 32},
		{"10.0.0.0", "2001:db9::/32", 5, 5}, // other family
	} {
		got := excludeScope(tc.scope, netip.MustParseAddr(tc.client), netip.MustParsePrefix(tc.rule))
		if got != tc.want {
			t.Errorf("excludeScope(%d, %s, %s) = %d, want %d", tc.scope, tc.client, tc.rule, got, tc.want)
		}
	}
}

// Weights observed over 10,000 selections are within 2 percentage points.
func TestSelectWeightedShares(t *testing.T) {
	s := snapshot(t, testState(), nil)
	r := rand.New(rand.NewPCG(7, 7))
	count := map[string]int{}
	const n = 10000
	for range n {
		qq := q("w.gslb.example.", TypeA, "198.18.0.0/24")
		qq.Rand = r.Uint64()
		a := Select(s, qq)
		count[a.Addrs()[0].String()]++
	}
	if count["203.0.113.21"] != 0 {
		t.Errorf("weight 0 member answered %d times", count["203.0.113.21"])
	}
	if share := float64(count["192.0.2.21"]) / n; share < 0.73 || share > 0.77 {
		t.Errorf("weight 3 of 4 got share %.4f, want 0.75±0.02 (%v)", share, count)
	}
}

// Weighted persistence: shares still follow weights across many client
// subnets, and each subnet always gets the same member.
func TestSelectPersistenceWeightedShares(t *testing.T) {
	s := snapshot(t, testState(), nil)
	count := map[string]int{}
	const n = 10000
	for i := range n {
		client := fmt.Sprintf("%d.%d.%d.0/24", 1+i%200, (i/200)%256, i%256)
		a1 := Select(s, Query{Name: "www.gslb.example.", Type: TypeA, Client: netip.MustParsePrefix(client).Addr(), SourcePrefix: 24, Rand: uint64(i)})
		a2 := Select(s, Query{Name: "www.gslb.example.", Type: TypeA, Client: netip.MustParsePrefix(client).Addr(), SourcePrefix: 24, Rand: uint64(i * 7919)})
		if a1.Addrs()[0] != a2.Addrs()[0] {
			t.Fatalf("%s: persistence gave %v then %v", client, a1.Addrs(), a2.Addrs())
		}
		if a1.ScopePrefix != 24 || !a1.Reason.Persistent {
			t.Fatalf("%s: scope %d reason %s", client, a1.ScopePrefix, a1.Reason)
		}
		count[a1.Addrs()[0].String()]++
	}
	if share := float64(count["192.0.2.20"]) / n; share < 0.73 || share > 0.77 {
		t.Errorf("persistent weight 3 of 4 got share %.4f (%v)", share, count)
	}
}

// Capacity scales the weights: us-east at weight 3 with a third of its
// capacity weighs as eu-west at weight 1, random draws and persistent
// clients alike; explain shows the capacity.
func TestSelectCapacityScalesWeights(t *testing.T) {
	st := testState()
	for _, name := range []string{"www.gslb.example.", "w.gslb.example."} {
		for i := range st.Services {
			if st.Services[i].Name == name {
				st.Services[i].Members[0].Capacity = 333 // us-east, weight 3
			}
		}
	}
	s := snapshot(t, st, nil)
	r := rand.New(rand.NewPCG(8, 8))
	random, sticky := map[string]int{}, map[string]int{}
	const n = 10000
	for i := range n {
		qq := q("w.gslb.example.", TypeA, "198.18.0.0/24")
		qq.Rand = r.Uint64()
		a := Select(s, qq)
		random[a.Addrs()[0].String()]++
		client := netip.MustParsePrefix(fmt.Sprintf("%d.%d.%d.0/24", 1+i%200, (i/200)%256, i%256)).Addr()
		b := Select(s, Query{Name: "www.gslb.example.", Type: TypeA, Client: client, SourcePrefix: 24})
		sticky[b.Addrs()[0].String()]++
	}
	if share := float64(random["192.0.2.21"]) / n; share < 0.48 || share > 0.52 {
		t.Errorf("weight 3 at capacity 0.333 against weight 1: share %.4f, want 0.50±0.02 (%v)", share, random)
	}
	if share := float64(sticky["192.0.2.20"]) / n; share < 0.48 || share > 0.52 {
		t.Errorf("persistent, weight 3 at capacity 0.333 against weight 1: share %.4f, want 0.50±0.02 (%v)", share, sticky)
	}
	_, tr := Explain(s, q("w.gslb.example.", TypeA, "198.18.0.0/24"))
	if c := tr.Members[0].Capacity; c == nil || *c != 0.333 || tr.Members[1].Capacity != nil {
		t.Errorf("explain capacity: %v, %v", tr.Members[0].Capacity, tr.Members[1].Capacity)
	}
}

// A capacity above all of it is refused where the State is judged (a
// leader's build, a follower's received state).
func TestCapacityValidation(t *testing.T) {
	st := testState()
	st.Services[1].Members[0].Capacity = FullCapacity + 1
	if err := st.Validate(); err == nil || !strings.Contains(err.Error(), "services[1].members[0].capacity: 1001 thousandths is more than all of it (1000)") {
		t.Errorf("got %v", err)
	}
}

// Two snapshots built independently from the same config give every client
// the same member, and removing one of N members moves only its clients.
func TestPersistenceStableAndMinimalMovement(t *testing.T) {
	build := func(drop string) *Snapshot {
		st := testState()
		svc := &st.Services[5] // ch: consistent hash, three members
		st.Services[0].Policy.Persistence.Enabled = true
		if drop != "" {
			for _, s := range []*Service{svc, &st.Services[0]} {
				s.Members = slices.DeleteFunc(s.Members, func(m Member) bool { return m.Site == drop })
			}
		}
		return snapshot(t, st, nil)
	}
	a, b, without := build(""), build(""), build("eu-west")
	moved, kept := 0, 0
	for i := range 5000 {
		client := netip.AddrFrom4([4]byte{byte(1 + i%223), byte(i / 223), byte(i * 7), 0})
		qq := Query{Name: "ch.gslb.example.", Type: TypeA, Client: client, SourcePrefix: 24}
		x, y, z := Select(a, qq), Select(b, qq), Select(without, qq)
		if x.Addrs()[0] != y.Addrs()[0] {
			t.Fatalf("%s: two builds disagree: %v vs %v", client, x.Addrs(), y.Addrs())
		}
		if x.Site != "eu-west" {
			if z.Addrs()[0] != x.Addrs()[0] {
				t.Fatalf("%s: was on %s, moved to %s when eu-west left", client, x.Site, z.Site)
			}
			kept++
		} else {
			moved++
		}
	}
	if moved < 1300 || moved > 2000 || kept == 0 {
		t.Fatalf("eu-west had %d of 5000 clients, want about a third", moved)
	}
}

func TestConsistentHashScopeAndMask(t *testing.T) {
	s := snapshot(t, testState(), nil)
	base := Select(s, q("ch.gslb.example.", TypeA, "198.18.5.0/24"))
	if base.ScopePrefix != 24 || base.Reason.Rule != RuleConsistentHash {
		t.Fatalf("scope %d rule %s", base.ScopePrefix, base.Reason.Rule)
	}
	for i := range 256 { // every address of the /24 hashes alike
		qq := Query{Name: "ch.gslb.example.", Type: TypeA, Client: netip.AddrFrom4([4]byte{198, 18, 5, byte(i)}), SourcePrefix: 32, Rand: uint64(i)}
		if a := Select(s, qq); a.Addrs()[0] != base.Addrs()[0] {
			t.Fatalf("198.18.5.%d got %v, the /24 got %v", i, a.Addrs(), base.Addrs())
		}
	}
}

func TestSelectRoundRobin(t *testing.T) {
	s := snapshot(t, testState(), nil)
	first := map[string]int{}
	for i := range 3000 {
		qq := q("rr.gslb.example.", TypeAAAA, "198.18.0.0/24")
		qq.Rand = uint64(i)
		a := Select(s, qq)
		if len(a.Addrs()) != 3 || a.ScopePrefix != 0 {
			t.Fatalf("roundrobin answered %v scope %d", a.Addrs(), a.ScopePrefix)
		}
		first[a.Addrs()[0].String()]++
	}
	for ip, n := range first {
		if n != 1000 {
			t.Errorf("%s first %d times of 3000", ip, n)
		}
	}
	st := testState()
	st.Services[4].Policy.Answers = 2
	a := Select(snapshot(t, st, nil), q("rr.gslb.example.", TypeA, "198.18.0.0/24"))
	if len(a.Addrs()) != 2 {
		t.Fatalf("answers=2 gave %v", a.Addrs())
	}
}

func TestPriorityFailoverAndMinUp(t *testing.T) {
	h := health{}
	s := snapshot(t, testState(), h)
	a := Select(s, q("db.gslb.example.", TypeA, "8.8.8.0/24"))
	if a.Addrs()[0].String() != "198.51.100.30" || a.Degraded || a.Reason.Priority != 1 {
		t.Fatalf("healthy: %v degraded=%v %s", a.Addrs(), a.Degraded, a.Reason)
	}
	h["db.gslb.example. eu-west/198.51.100.30"] = true
	s = snapshot(t, testState(), h)
	a = Select(s, q("db.gslb.example.", TypeA, "8.8.8.0/24"))
	if a.Addrs()[0].String() != "192.0.2.30" || !a.Degraded || a.Reason.Priority != 2 {
		t.Fatalf("primary down: %v degraded=%v %s", a.Addrs(), a.Degraded, a.Reason)
	}

	// min_up 2: a group of three with one down is skipped for the next.
	st := testState()
	app := &st.Services[0]
	app.Policy.MinUp = 2
	app.Policy.Strategy = StrategyRoundRobin
	app.Members = append(app.Members, Member{Site: "us-east", Addresses: ips("192.0.2.77"), Weight: 1, Priority: 5})
	h = health{"app.gslb.example. eu-west/198.51.100.10": true, "app.gslb.example. ap-south/203.0.113.10": true}
	a = Select(snapshot(t, st, h), q("app.gslb.example.", TypeA, "8.8.8.0/24"))
	// Group 0 has one healthy, group 5 one: neither meets min_up 2, so the
	// first group with any healthy member answers, flagged below-min-up.
	if !a.Reason.BelowMinUp || a.Reason.Priority != 0 || a.Addrs()[0].String() != "192.0.2.10" {
		t.Fatalf("below min_up: %v %s", a.Addrs(), a.Reason)
	}
	app.Members = append(app.Members, Member{Site: "eu-west", Addresses: ips("198.51.100.77"), Weight: 1, Priority: 5})
	a = Select(snapshot(t, st, h), q("app.gslb.example.", TypeA, "8.8.8.0/24"))
	if a.Reason.BelowMinUp || a.Reason.Priority != 5 || len(a.Addrs()) != 2 {
		t.Fatalf("min_up fallback to group 5: %v %s", a.Addrs(), a.Reason)
	}
}

func TestDownResponses(t *testing.T) {
	allDown := health{}
	for _, m := range testState().Services[0].Members {
		allDown["app.gslb.example. "+m.ID()] = true
	}
	for _, tc := range []struct {
		down   DownResponse
		qtype  uint16
		result Result
		want   []string
		rule   Rule
	}{
		{DownResponse{Type: DownNone}, TypeA, NoData, nil, RuleDownNone},
		{DownResponse{Type: DownAll}, TypeA, Success, []string{"192.0.2.10", "198.51.100.10", "203.0.113.10"}, RuleDownAll},
		{DownResponse{Type: DownAll}, TypeAAAA, Success, []string{"2001:db8:1::10", "2001:db8:2::10", "2001:db8:3::10"}, RuleDownAll},
		{DownResponse{Type: DownFallback, Addresses: ips("192.0.2.99", "2001:db8::99")}, TypeA, Success, []string{"192.0.2.99"}, RuleDownFallback},
		{DownResponse{Type: DownFallback, Addresses: ips("192.0.2.99")}, TypeAAAA, NoData, nil, RuleDownFallback},
	} {
		st := testState()
		st.Services[0].Policy.Down = tc.down
		st.Services[0].Policy.DegradedTTL = 5
		a := Select(snapshot(t, st, allDown), q("app.gslb.example.", tc.qtype, "81.2.69.0/24"))
		var got []string
		for _, ip := range a.Addrs() {
			got = append(got, ip.String())
		}
		slices.Sort(got)
		if a.Result != tc.result || !slices.Equal(got, tc.want) || a.Reason.Rule != tc.rule || a.TTL != 5 || !a.Degraded || a.ScopePrefix != 0 {
			t.Errorf("%s type %d: %s %v %s ttl %d scope %d", tc.down.Type, tc.qtype, a.Result, got, a.Reason.Rule, a.TTL, a.ScopePrefix)
		}
	}
}

func TestHostnameMemberIsCNAME(t *testing.T) {
	s := snapshot(t, testState(), nil)
	a := Select(s, q("edge.gslb.example.", TypeA, "8.8.8.0/24"))
	if a.Result != Success || a.Target != "edge-lb.us-east.example.net." || len(a.Addrs()) != 0 {
		t.Fatalf("US client: %+v", a)
	}
	// The hostname member answers AAAA too (its target may have AAAA).
	a = Select(s, q("edge.gslb.example.", TypeAAAA, "8.8.8.0/24"))
	if a.Target != "edge-lb.us-east.example.net." {
		t.Fatalf("AAAA US client: %+v", a)
	}
	a = Select(s, q("edge.gslb.example.", TypeA, "81.2.69.0/24"))
	if a.Target != "" || a.Addrs()[0].String() != "198.51.100.40" {
		t.Fatalf("EU client: %+v", a)
	}
}

func TestSelectDoesNotAllocate(t *testing.T) {
	s := snapshot(t, testState(), nil)
	for _, qq := range []Query{
		q("app.gslb.example.", TypeA, "81.2.69.0/24"),
		q("www.gslb.example.", TypeA, "81.2.69.0/24"),
		q("topo.gslb.example.", TypeA, "81.2.69.0/24"),
		q("rr.gslb.example.", TypeAAAA, "81.2.69.0/24"),
		q("nope.gslb.example.", TypeA, "81.2.69.0/24"),
	} {
		if n := testing.AllocsPerRun(200, func() { _ = Select(s, qq) }); n != 0 {
			t.Errorf("%s: %v allocs per Select", qq.Name, n)
		}
	}
}

func TestExplainTrace(t *testing.T) {
	h := health{"app.gslb.example. eu-west/198.51.100.10": true}
	s := snapshot(t, testState(), h)
	a, tr := Explain(s, q("app.gslb.example.", TypeA, "81.2.69.0/24"))
	if a.Addrs()[0].String() != "192.0.2.10" {
		t.Fatalf("answer %v", a.Addrs())
	}
	if tr.Located == nil || tr.Located.Network != "81.2.69.0/24" || tr.Located.Source != "rule" {
		t.Fatalf("located: %+v", tr.Located)
	}
	verdicts := map[string]string{}
	for _, m := range tr.Members {
		verdicts[m.Site] = m.Verdict
		if m.DistanceKm == nil {
			t.Errorf("%s: no distance", m.Site)
		}
	}
	if verdicts["eu-west"] != "down" || verdicts["us-east"] != "answered" {
		t.Fatalf("verdicts %v\nsteps %v", verdicts, tr.Steps)
	}
	if len(tr.Steps) < 3 || len(tr.Answered) != 1 {
		t.Fatalf("steps %v answered %v", tr.Steps, tr.Answered)
	}
}

// Sites without coordinates are never nearest, but when no candidate has
// any, geo keeps them all rather than answering nothing.
func TestGeoWithoutSiteCoordinates(t *testing.T) {
	st := testState()
	for i := range st.Sites {
		st.Sites[i].Location = geo.Location{}
	}
	s := snapshot(t, st, nil)
	a := Select(s, q("app.gslb.example.", TypeA, "81.2.69.0/24"))
	if a.Result != Success || len(a.Addrs()) == 0 {
		t.Fatalf("no answer when no site has coordinates: %+v", a)
	}
}
