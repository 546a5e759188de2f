package gslb

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/geo"
)

// loadBySite is a LoadView: a load per site, read at a fixed time.
type loadBySite struct {
	v  map[string]float64
	at time.Time
}

func (l *loadBySite) MemberLoad(_ string, m *Member, _ time.Duration, _ time.Time) (LoadSignal, bool) {
	v, ok := l.v[m.Site]
	return LoadSignal{Value: v, At: l.at, Source: "probe"}, ok
}

// MemberUp makes it a HealthView too (everything up), for explain.
func (l *loadBySite) MemberUp(string, *Member) (bool, bool) { return true, false }

const loadSvc = "load.gslb.example."

// loadSnapshot is testState with a geo service that sheds between 0.5
// and 0.9, and a locator that puts 100.64.0.0/10 in London (nearest
// eu-west, then us-east, then ap-south).
func loadSnapshot(t testing.TB, persist bool) *Snapshot {
	return loadSnapshots(t, persist)[0]
}

// loadSnapshots are the uncompiled and the compiled snapshot.
func loadSnapshots(t testing.TB, persist bool) [2]*Snapshot {
	return loadSnapshotsWith(t, persist, LoadPolicy{Low: 0.5, High: 0.9, HardLimit: 0.95})
}

// loadSnapshotsWith are loadSnapshots with another load policy (the zero
// policy: no load shedding, for benchmarks to compare).
func loadSnapshotsWith(t testing.TB, persist bool, lp LoadPolicy) [2]*Snapshot {
	t.Helper()
	st := testState()
	st.Services = append(st.Services, Service{Name: loadSvc, Policy: Policy{
		Strategy:    StrategyGeo,
		Persistence: Persistence{Enabled: persist},
		Load:        lp,
	}, Members: []Member{
		{Site: "us-east", Addresses: ips("192.0.2.50"), Weight: 1},
		{Site: "eu-west", Addresses: ips("198.51.100.50"), Weight: 1},
		{Site: "ap-south", Addresses: ips("203.0.113.50"), Weight: 1},
	}})
	st.ApplyDefaults()
	if err := st.Validate(); err != nil {
		t.Fatal(err)
	}
	loc, err := geo.NewLocator(nil, append([]geo.Rule{{Prefix: netip.MustParsePrefix("100.64.0.0/10"), Location: locLondon}}, testRules...))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSnapshot(st, loc, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := compiledSnapshot(t, s)
	c.sticky, c.over = &sticky{}, &overMemory{} // its own memories: the subtests must not share them
	return [2]*Snapshot{s, c}
}

// network is the n-th /24 of 100.64.0.0/10, as a /24 ECS query.
func network(n int) Query {
	return q(loadSvc, TypeA, fmt.Sprintf("100.%d.%d.0/24", 64+n>>8, n&0xff))
}

// shares answers n networks and counts them by site.
func shares(s *Snapshot, n int) map[string]int {
	got := map[string]int{}
	for i := range n {
		got[Select(s, network(i)).Site]++
	}
	return got
}

func TestLoadShedding(t *testing.T) {
	for k, s := range loadSnapshots(t, false) {
		t.Run([]string{"uncompiled", "compiled"}[k], func(t *testing.T) { testLoadShedding(t, s) })
	}
}

func testLoadShedding(t *testing.T, s *Snapshot) {
	now := time.Now()
	v := &loadBySite{v: map[string]float64{"eu-west": 0.2, "us-east": 0.1, "ap-south": 0.1}, at: now}
	names := []string{loadSvc}
	s1 := s.WithLoad(v, names, now)
	if got := shares(s1, 1000); got["eu-west"] != 1000 {
		t.Fatalf("below low: %v, want every London network at eu-west", got)
	}
	if a := Select(s1, network(1)); a.ScopePrefix != 10 {
		t.Errorf("unshed scope /%d, want the locator's /10", a.ScopePrefix)
	}

	// Halfway between the watermarks: about half the networks move to
	// the next nearest, us-east, never to ap-south; the answer's scope is
	// the network the hash decided.
	v.v["eu-west"] = 0.7
	s2 := s1.WithLoad(v, names, now)
	got := shares(s2, 2000)
	if a := Select(s2, network(1)); a.ScopePrefix != 24 {
		t.Errorf("shedding scope /%d, want the hashed /24", a.ScopePrefix)
	}
	if got["eu-west"] < 850 || got["eu-west"] > 1150 || got["ap-south"] != 0 || got["eu-west"]+got["us-east"] != 2000 {
		t.Errorf("load 0.7 of 0.5..0.9: %v, want about half at us-east", got)
	}
	// Monotone: every network moved at 0.7 is still moved at 0.8.
	v.v["eu-west"] = 0.8
	s3 := s2.WithLoad(v, names, now)
	for i := range 2000 {
		if Select(s2, network(i)).Site == "us-east" && Select(s3, network(i)).Site != "us-east" {
			t.Fatalf("network %d moved at 0.7 but not at 0.8", i)
		}
	}

	// At high: every network moves. Back between the watermarks it stays
	// over (hysteresis); below low it comes back.
	v.v["eu-west"] = 0.9
	s4 := s3.WithLoad(v, names, now)
	if got := shares(s4, 500); got["us-east"] != 500 {
		t.Errorf("at high: %v, want all at us-east", got)
	}
	v.v["eu-west"] = 0.6
	s5 := s4.WithLoad(v, names, now)
	if got := shares(s5, 500); got["us-east"] != 500 {
		t.Errorf("0.6 after high (hysteresis): %v, want all still at us-east", got)
	}
	v.v["eu-west"] = 0.4
	s6 := s5.WithLoad(v, names, now)
	if got := shares(s6, 500); got["eu-west"] != 500 {
		t.Errorf("below low again: %v, want all back at eu-west", got)
	}
	if s6.WithLoad(v, names, now) != s6 {
		t.Error("an unchanged refresh made a new snapshot")
	}

	// A reading older than max_age is neutral.
	v.v["eu-west"], v.at = 1, now.Add(-time.Minute)
	if got := shares(s6.WithLoad(v, names, now), 200); got["eu-west"] != 200 {
		t.Errorf("stale overload: %v, want neutral", got)
	}
	v.at = now

	// Everyone overloaded: the least loaded keep the networks; nothing
	// answers NODATA for load.
	v.v = map[string]float64{"eu-west": 2, "us-east": 1.5, "ap-south": 3}
	s7 := s6.WithLoad(v, names, now)
	if got := shares(s7, 300); got["us-east"] != 300 {
		t.Errorf("all over high: %v, want the least loaded (us-east)", got)
	}
}

func TestLoadExplain(t *testing.T) {
	s := loadSnapshot(t, false)
	now := time.Now()
	v := &loadBySite{v: map[string]float64{"eu-west": 0.95}, at: now.Add(-2 * time.Second)}
	s = s.WithLoad(v, []string{loadSvc}, now)
	s.healthView = v // explain reads the source and age from the view
	a, tr := Explain(s, network(7))
	if a.Site != "us-east" {
		t.Fatalf("answered %s, want us-east", a.Site)
	}
	found := false
	for _, m := range tr.Members {
		switch m.Site {
		case "eu-west":
			found = true
			if m.Verdict != "shed" || m.Load == nil || m.Load.Value == nil || *m.Load.Value != 0.95 || m.Load.Source != "probe" ||
				m.Load.AgeSeconds == nil || *m.Load.AgeSeconds < 1.5 || !strings.Contains(m.Load.State, "over the high watermark") {
				t.Errorf("eu-west in explain: %+v %+v", m, m.Load)
			}
		case "us-east":
			if m.Load == nil || m.Load.State != "no signal: neutral" {
				t.Errorf("us-east in explain: %+v", m.Load)
			}
		}
	}
	if !found || !strings.Contains(strings.Join(tr.Steps, "\n"), "sheds this network") {
		t.Errorf("explain steps: %q", tr.Steps)
	}
}

// TestLoadPersistence: with persistence, networks this site answered
// before the load rose stay on their member until the hard limit; new
// networks move; the networks moved come back when the load falls.
func TestLoadPersistence(t *testing.T) {
	for k, s := range loadSnapshots(t, true) {
		t.Run([]string{"uncompiled", "compiled"}[k], func(t *testing.T) { testLoadPersistence(t, s) })
	}
}

func testLoadPersistence(t *testing.T, s *Snapshot) {
	now := time.Now()
	names := []string{loadSvc}
	v := &loadBySite{v: map[string]float64{"eu-west": 0.1}, at: now}
	s = s.WithLoad(v, names, now)
	for i := range 100 { // networks 0..99 are answered, and remembered
		if a := Select(s, network(i)); a.Site != "eu-west" {
			t.Fatalf("network %d at %s before the load", i, a.Site)
		}
	}
	v.v["eu-west"] = 0.92 // over high, under the hard limit 0.95
	s = s.WithLoad(v, names, now)
	for i := range 200 {
		want := "eu-west"
		if i >= 100 {
			want = "us-east"
		}
		if a := Select(s, network(i)); a.Site != want {
			t.Fatalf("over high: network %d at %s, want %s", i, a.Site, want)
		}
	}
	// Explain says why a persisted network stays, and does not remember.
	if _, tr := Explain(s, network(3)); !strings.Contains(strings.Join(tr.Steps, "\n"), "persisted") {
		t.Errorf("explain of a persisted network: %q", tr.Steps)
	}
	v.v["eu-west"] = 0.96 // the hard limit: persisted networks move too
	s = s.WithLoad(v, names, now)
	if got := shares(s, 200); got["us-east"] != 200 {
		t.Errorf("at the hard limit: %v, want all at us-east", got)
	}
	v.v["eu-west"] = 0.3 // below low: all back, the old ones still remembered
	s = s.WithLoad(v, names, now)
	if got := shares(s, 200); got["eu-west"] != 200 {
		t.Errorf("after the load: %v, want all back at eu-west", got)
	}
	// A new snapshot of the same config (a reload) keeps the memory.
	s2, err := s.Next(s.State, s.Locator, nil)
	if err != nil {
		t.Fatal(err)
	}
	v.v["eu-west"] = 0.92
	s2 = s2.WithLoad(v, names, now)
	if a := Select(s2, network(150)); a.Site != "eu-west" {
		t.Errorf("a network remembered before the reload went to %s", a.Site)
	}
}

func TestLoadPolicyValidate(t *testing.T) {
	for _, tc := range []struct {
		l    LoadPolicy
		want string
	}{
		{LoadPolicy{Low: 0.9, High: 0.5}, "load.low: must be below high"},
		{LoadPolicy{Low: 0.2}, "load.high: a load policy needs a high watermark"},
		{LoadPolicy{High: 1, HardLimit: 0.5}, "load.hard_limit: must be at least high"},
		{LoadPolicy{High: 1, Prometheus: "up", MatchOn: "pod"}, "load.match_on: must be site, address or member"},
		{LoadPolicy{High: 1, MatchLabel: "x"}, "load.match_label: is only used with load.prometheus"},
		{LoadPolicy{High: 1, StickyFor: 48 * time.Hour}, "load.sticky_for: must be between"},
	} {
		p := Policy{Load: tc.l}
		p.ApplyDefaults()
		err := p.Validate(nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.l, err, tc.want)
		}
	}
	p := Policy{Load: LoadPolicy{Low: 40, High: 80}}
	p.ApplyDefaults()
	if err := p.Validate(nil); err != nil || p.Load.HardLimit != 120 || p.Load.MaxAge != DefaultLoadMaxAge {
		t.Errorf("defaults: %+v %v", p.Load, err)
	}
}

func TestParseLoadFrom(t *testing.T) {
	for in, want := range map[string]LoadFrom{
		"header:x-load":          {Kind: LoadFromHeader, Name: "X-Load"},
		"json:stats.cpu":         {Kind: LoadFromJSON, Name: "stats.cpu", Path: []string{"stats", "cpu"}},
		" body ":                 {Kind: LoadFromBody},
		"HEADER:X-Weight":        {Kind: LoadFromHeader, Name: "X-Weight"},
		"capacity:header:x-free": {Kind: LoadFromHeader, Name: "X-Free", Capacity: true},
		"Capacity:json:a.b":      {Kind: LoadFromJSON, Name: "a.b", Path: []string{"a", "b"}, Capacity: true},
		"capacity:body":          {Kind: LoadFromBody, Capacity: true},
	} {
		got, err := ParseLoadFrom(in)
		if err != nil || got.Kind != want.Kind || got.Name != want.Name || strings.Join(got.Path, ".") != strings.Join(want.Path, ".") || got.Capacity != want.Capacity {
			t.Errorf("%q: %+v %v", in, got, err)
		}
		// The canonical text reads back as the same.
		if again, err := ParseLoadFrom(got.String()); err != nil || again.String() != got.String() || again.Capacity != got.Capacity {
			t.Errorf("%q: String %q reads back as %+v, %v", in, got.String(), again, err)
		}
	}
	for _, in := range []string{"header:", "header:a b", "json:", "json:a..b", "body:x", "cpu",
		"capacity", "capacity:", "capacity:cpu", "capacity:capacity:body"} {
		if _, err := ParseLoadFrom(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestSelectLoadAllocs(t *testing.T) {
	s := loadSnapshot(t, true)
	now := time.Now()
	s = s.WithLoad(&loadBySite{v: map[string]float64{"eu-west": 0.7}, at: now}, []string{loadSvc}, now)
	qq := network(5)
	if n := testing.AllocsPerRun(200, func() { Select(s, qq) }); n != 0 {
		t.Errorf("Select with load shedding and persistence: %v allocs", n)
	}
}

// TestLoadSpareWeights: with spare_weights, a weighted service gives each
// member a share in proportion to weight x (1 - load/high).
func TestLoadSpareWeights(t *testing.T) {
	st := testState()
	st.Services = append(st.Services, Service{Name: "spare.gslb.example.", Policy: Policy{
		Strategy: StrategyWeighted,
		Load:     LoadPolicy{Low: 0.9, High: 1, SpareWeights: true},
	}, Members: []Member{
		{Site: "us-east", Addresses: ips("192.0.2.60"), Weight: 1},
		{Site: "eu-west", Addresses: ips("198.51.100.60"), Weight: 1},
	}})
	st.ApplyDefaults()
	s := snapshot(t, st, nil)
	now := time.Now()
	count := func(s *Snapshot) map[string]int {
		got := map[string]int{}
		for i := range 6000 {
			qq := q("spare.gslb.example.", TypeA, "81.2.69.0/24")
			qq.Rand = uint64(i) * 0x9e3779b97f4a7c15
			got[Select(s, qq).Site]++
		}
		return got
	}
	if got := count(s); got["us-east"] < 2700 || got["us-east"] > 3300 {
		t.Errorf("no signal: %v, want an even split", got)
	}
	// us-east at 0.8 of high 1: spare 0.2 against eu-west's 1, so 1/6.
	s = s.WithLoad(&loadBySite{v: map[string]float64{"us-east": 0.8, "eu-west": 0}, at: now}, []string{"spare.gslb.example."}, now)
	if got := count(s); got["us-east"] < 800 || got["us-east"] > 1200 {
		t.Errorf("us-east at 0.8: %v, want about 1,000 of 6,000", got)
	}
}

// downAt is a HealthView with one site down.
type downAt string

func (d downAt) MemberUp(_ string, m *Member) (bool, bool) { return m.Site != string(d), true }

// TestLoadPersistenceOnlyHolds: the persistence memory only keeps a
// network from being shed off its member; it never holds one where the
// strategy would not answer it. (Found in review: it did, so a network
// that failed over never came back, and a pinned answer had one member.)
func TestLoadPersistenceOnlyHolds(t *testing.T) {
	names := []string{loadSvc}
	now := time.Now()
	for k, s := range loadSnapshots(t, true) {
		t.Run([]string{"uncompiled", "compiled"}[k], func(t *testing.T) {
			s = s.WithLoad(&loadBySite{v: map[string]float64{"eu-west": 0.1, "us-east": 0.1, "ap-south": 0.1}, at: now}, names, now)
			down := s.WithHealth(downAt("eu-west"), names)
			if got := shares(down, 50); got["us-east"] != 50 {
				t.Fatalf("eu-west down: %v", got)
			}
			if got := shares(down.WithHealth(nil, names), 50); got["eu-west"] != 50 {
				t.Errorf("eu-west back, nothing loaded: %v, want every network back at eu-west", got)
			}
		})
	}

	// answers: 2 with persistence: the second query of a network gets
	// both members too.
	st := testState()
	st.Services = append(st.Services, Service{Name: "two.gslb.example.", Policy: Policy{
		Strategy: StrategyWeighted, Answers: 2, Persistence: Persistence{Enabled: true},
		Load: LoadPolicy{Low: 0.5, High: 0.9},
	}, Members: []Member{{Site: "us-east", Addresses: ips("192.0.2.50"), Weight: 1}, {Site: "eu-west", Addresses: ips("198.51.100.50"), Weight: 1}}})
	st.ApplyDefaults()
	s := snapshot(t, st, nil)
	qq := q("two.gslb.example.", TypeA, "10.1.2.0/24")
	if a, b := Select(s, qq), Select(s, qq); len(a.Addrs()) != 2 || len(b.Addrs()) != 2 {
		t.Errorf("answers 2: first %v, second %v", a.Addrs(), b.Addrs())
	}
}

// TestLoadPersistenceRemembers: a network is remembered at its member
// even while a member it would never get sheds it; the memory is per
// address family; and at the hard limit a network lets go for good,
// rather than coming back while the load hovers there.
func TestLoadPersistenceRemembers(t *testing.T) {
	names := []string{loadSvc}
	now := time.Now()
	s := loadSnapshot(t, true)
	v := &loadBySite{v: map[string]float64{"eu-west": 0.1, "ap-south": 0.7}, at: now} // far ap-south sheds half
	s = s.WithLoad(v, names, now)
	shares(s, 200)
	v.v["eu-west"] = 0.92
	s = s.WithLoad(v, names, now)
	if got := shares(s, 200); got["eu-west"] != 200 {
		t.Errorf("answered at eu-west before its load rose (while ap-south shed): %v, want all kept", got)
	}
	// The hard limit (0.95), then just under it: the networks stay moved.
	for _, l := range []float64{0.951, 0.949, 0.951, 0.949} {
		v.v["eu-west"] = l
		s = s.WithLoad(v, names, now)
		if got := shares(s, 200); got["us-east"] != 200 {
			t.Errorf("load %.3f after the hard limit: %v, want all at us-east", l, got)
		}
	}

	// A and AAAA of the same client network, each its own entry.
	st := testState()
	st.Services = append(st.Services, Service{Name: "fam.gslb.example.", Policy: Policy{
		Strategy: StrategyWeighted, Persistence: Persistence{Enabled: true},
		Load: LoadPolicy{Low: 0.5, High: 0.9, HardLimit: 0.95},
	}, Members: []Member{
		{Site: "us-east", Addresses: ips("192.0.2.71"), Weight: 1},
		{Site: "eu-west", Addresses: ips("198.51.100.71"), Weight: 1},
		{Site: "us-east", Addresses: ips("2001:db8::71"), Weight: 1},
		{Site: "eu-west", Addresses: ips("2001:db8:1::71"), Weight: 1},
	}})
	st.ApplyDefaults()
	fs := snapshot(t, st, nil)
	av := &loadByFirstAddr{at: now}
	for i := range 100 {
		qa := q("fam.gslb.example.", TypeA, fmt.Sprintf("10.9.%d.0/24", i))
		q6 := qa
		q6.Type = TypeAAAA
		a := Select(fs, qa)
		Select(fs, q6)
		av.v = map[string]float64{a.Addrs()[0].String(): 0.92}
		loaded := fs.WithLoad(av, []string{"fam.gslb.example."}, now)
		if b := Select(loaded, qa); b.Addrs()[0] != a.Addrs()[0] {
			t.Fatalf("network %d moved off %s after an AAAA query of the same network", i, a.Addrs()[0])
		}
		av.v = nil
		fs = loaded.WithLoad(av, []string{"fam.gslb.example."}, now)
	}
}

// TestLoadCompiledAgrees: with load present, the compiled decision
// answers as the uncompiled one.
func TestLoadCompiledAgrees(t *testing.T) {
	names := []string{loadSvc}
	now := time.Now()
	for _, persist := range []bool{false, true} {
		ss := loadSnapshots(t, persist)
		for _, loads := range []map[string]float64{
			{"eu-west": 0.7}, {"eu-west": 0.7, "us-east": 0.8},
			{"eu-west": 0.95, "us-east": 0.6, "ap-south": 0.99}, {"eu-west": 2, "us-east": 2, "ap-south": 3},
		} {
			v := &loadBySite{v: loads, at: now}
			a, b := ss[0].WithLoad(v, names, now), ss[1].WithLoad(v, names, now)
			for i := range 1000 {
				if x, y := Select(a, network(i)), Select(b, network(i)); x.Site != y.Site || x.ScopePrefix != y.ScopePrefix {
					t.Fatalf("persistence %v, loads %v, network %d: uncompiled %s /%d, compiled %s /%d", persist, loads, i, x.Site, x.ScopePrefix, y.Site, y.ScopePrefix)
				}
			}
		}
	}
}

// loadByFirstAddr is a load per member's first address.
type loadByFirstAddr struct {
	v  map[string]float64
	at time.Time
}

func (l *loadByFirstAddr) MemberLoad(_ string, m *Member, _ time.Duration, _ time.Time) (LoadSignal, bool) {
	v, ok := l.v[m.Addresses[0].String()]
	return LoadSignal{Value: v, At: l.at, Source: "probe"}, ok
}

// A capacity reading is a load of 1 - capacity; a load is itself.
func TestLoadFromLoad(t *testing.T) {
	load, capacity := LoadFrom{Kind: LoadFromBody}, LoadFrom{Kind: LoadFromBody, Capacity: true}
	for _, tc := range []struct {
		lf      LoadFrom
		in, out float64
	}{{load, 0.25, 0.25}, {load, 42, 42}, {capacity, 0.25, 0.75}, {capacity, 1, 0}, {capacity, 0, 1}} {
		if got, err := tc.lf.Load(tc.in); err != nil || got != tc.out {
			t.Errorf("%s: Load(%v) = %v, %v; want %v", tc.lf, tc.in, got, err, tc.out)
		}
	}
	if _, err := capacity.Load(1.5); err == nil || !strings.Contains(err.Error(), "1.5 is above 1") {
		t.Errorf("capacity 1.5: %v", err)
	}
}
