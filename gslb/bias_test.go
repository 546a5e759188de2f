package gslb

import (
	"context"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/meridian-gslb/meridian/geo"
)

// Geoproximity bias (issue 12): Route 53's semantics, a site's distances
// scaled by 1 - bias/100, in the uncompiled and the compiled geo
// decision alike. The places are docs/configuration.md's worked example.

var (
	locStJohns = geo.Location{Lat: 47.56, Lon: -52.71, HasCoords: true, Country: "CA", Continent: "NA"}
	locChicago = geo.Location{Lat: 41.88, Lon: -87.63, HasCoords: true, Country: "US", Continent: "NA"}
	locCairo   = geo.Location{Lat: 30.04, Lon: 31.24, HasCoords: true, Country: "EG", Continent: "AF"}
	locGander  = geo.Location{Lat: 48.95, Lon: -54.61, HasCoords: true, Country: "CA", Continent: "NA"}

	biasRules = []geo.Rule{
		{Prefix: netip.MustParsePrefix("198.18.1.0/24"), Location: locStJohns},
		{Prefix: netip.MustParsePrefix("198.18.2.0/24"), Location: locChicago},
		{Prefix: netip.MustParsePrefix("198.18.3.0/24"), Location: locCairo},
		{Prefix: netip.MustParsePrefix("198.18.4.0/24"), Location: locGander},
	}
	stJohns, chicago, cairo, gander = "198.18.1.0/24", "198.18.2.0/24", "198.18.3.0/24", "198.18.4.0/24"
)

// biasedState is testState with the given biases by site name.
func biasedState(biases map[string]int) *State {
	st := testState()
	for i := range st.Sites {
		st.Sites[i].Bias = biases[st.Sites[i].Name]
	}
	return st
}

// biasWorld is st served uncompiled and compiled, with biasRules.
func biasWorld(t testing.TB, st *State) (uncompiled, compiled *Snapshot) {
	t.Helper()
	if err := st.Validate(); err != nil {
		t.Fatal(err)
	}
	loc, err := geo.NewLocator(nil, biasRules)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSnapshot(st, loc, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, compiledSnapshot(t, s)
}

// TestSelectGeoBias: the catchments move as the documentation's worked
// example says, uncompiled and compiled, and a client far from the
// boundary stays put.
func TestSelectGeoBias(t *testing.T) {
	for _, tc := range []struct {
		name   string
		biases map[string]int
		want   map[string]string // client network -> site
	}{
		// St. John's: 2205.0 km to us-east, 3289.8 km to eu-west.
		{"no bias", nil, map[string]string{stJohns: "us-east", chicago: "us-east", cairo: "eu-west"}},
		// eu-west +50: 3289.8 x 0.5 = 1644.9 < 2205.0. Chicago: 5889.6 x
		// 0.5 = 2944.8, still farther than 913.5.
		{"eu-west +50", map[string]int{"eu-west": 50}, map[string]string{stJohns: "eu-west", chicago: "us-east", cairo: "eu-west"}},
		// The same boundary moved by shrinking us-east instead: 2205.0 x
		// 1.5 = 3307.5 > 3289.8.
		{"us-east -50", map[string]int{"us-east": -50}, map[string]string{stJohns: "eu-west", chicago: "us-east", cairo: "eu-west"}},
		// eu-west -50: Cairo's 3975.0 km become 5962.5, farther than
		// ap-south's 4357.8.
		{"eu-west -50", map[string]int{"eu-west": -50}, map[string]string{stJohns: "us-east", chicago: "us-east", cairo: "ap-south"}},
		// Both biased: 3289.8 x 0.5 = 1644.9 against 2205.0 x 0.8 = 1764.0.
		{"eu-west +50, us-east +20", map[string]int{"eu-west": 50, "us-east": 20}, map[string]string{stJohns: "eu-west", chicago: "us-east"}},
		// +99: distances to eu-west count 1%: 58.9 km from Chicago.
		{"eu-west +99", map[string]int{"eu-west": 99}, map[string]string{stJohns: "eu-west", chicago: "eu-west", cairo: "eu-west"}},
		// -99: us-east's 913.5 km from Chicago count 1817.9, still nearest.
		{"us-east -99", map[string]int{"us-east": -99}, map[string]string{chicago: "us-east", stJohns: "eu-west"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := biasWorld(t, biasedState(tc.biases))
			for client, want := range tc.want {
				for _, snap := range []*Snapshot{s, c} {
					a := Select(snap, q("app.gslb.example.", TypeA, client))
					if a.Result != Success || a.Site != want || a.Reason.Rule != RuleGeoNearest {
						t.Errorf("%s (compiled %v): site %q (%s), want %s", client, snap == c, a.Site, a.Reason.Rule, want)
					}
				}
			}
		})
	}
}

// TestGeoBiasTieBand: the tie band applies to biased distances. Gander
// is 2123.9 km from us-east and 3341.7 km from eu-west; eu-west at +36
// counts 2138.7 km, within the 100 km band of us-east.
func TestGeoBiasTieBand(t *testing.T) {
	for _, tc := range []struct {
		bias  int
		tieKm float64
		want  []int // app's members: 0 us-east, 1 eu-west, 2 ap-south
	}{
		{0, 100, []int{0}},
		{36, 100, []int{0, 1}},
		{36, 10, []int{0}},
		{37, 10, []int{1}}, // 2105.3 km: eu-west is nearest, us-east 18.6 km behind
		{37, 100, []int{0, 1}},
	} {
		st := biasedState(map[string]int{"eu-west": tc.bias})
		st.Services[0].Policy.GeoTieKm = tc.tieKm
		s, c := biasWorld(t, st)
		for _, snap := range []*Snapshot{s, c} {
			got, ok := placeQuery(snap, snap.service("app.gslb.example."), q("app.gslb.example.", TypeA, gander), snap == c)
			if !ok || !slices.Equal(got.members, tc.want) {
				t.Errorf("eu-west bias %d, tie %v km (compiled %v): members %v, want %v", tc.bias, tc.tieKm, snap == c, got.members, tc.want)
			}
		}
	}
}

// TestGeoBiasCompiledScopes: the compiled ECS scope of a biased decision
// covers no network decided otherwise, and with eu-west +50 St. John's
// and Chicago (both North America, now in different catchments) do not
// share one.
func TestGeoBiasCompiledScopes(t *testing.T) {
	_, c := biasWorld(t, biasedState(map[string]int{"eu-west": 50}))
	nets := []string{stJohns, chicago, cairo, gander}
	for _, client := range nets {
		a := Select(c, q("app.gslb.example.", TypeA, client))
		scope, err := netip.MustParsePrefix(client).Addr().Prefix(int(a.ScopePrefix))
		if err != nil {
			t.Fatal(err)
		}
		for _, other := range nets {
			o := netip.MustParsePrefix(other)
			if b := Select(c, q("app.gslb.example.", TypeA, other)); scope.Overlaps(o) && b.Site != a.Site {
				t.Errorf("%s answers %s with scope %s, which holds %s answered %s", client, a.Site, scope, other, b.Site)
			}
		}
	}
}

// TestGeoBiasRecompiles: a bias change is a change of the sites: the next
// snapshot drops the compiled decisions (it answers uncompiled, already
// biased), refuses the decisions compiled for the old biases, and compiles
// new ones. An unchanged bias keeps them.
func TestGeoBiasRecompiles(t *testing.T) {
	_, c := biasWorld(t, biasedState(nil))
	old, err := c.CompileDecisions(context.Background(), 0) // nothing left to compile
	if err != nil {
		t.Fatal(err)
	}
	stale, err := NewSnapshot(c.State, c.Locator, nil)
	if err != nil {
		t.Fatal(err)
	}
	oldAll, err := stale.CompileDecisions(context.Background(), 0)
	if err != nil || old.Len() != 0 || oldAll.Len() == 0 {
		t.Fatalf("compiles: %v, %d, %d", err, old.Len(), oldAll.Len())
	}

	same, err := c.Next(biasedState(nil), c.Locator, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := same.Undecided(); n != 0 {
		t.Errorf("unchanged biases: %d services lost their compiled decisions", n)
	}

	st := biasedState(map[string]int{"eu-west": 50})
	if err := st.Validate(); err != nil {
		t.Fatal(err)
	}
	next, err := c.Next(st, c.Locator, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := next.Undecided(); n == 0 {
		t.Fatal("a bias change kept the compiled decisions")
	}
	if a := Select(next, q("app.gslb.example.", TypeA, stJohns)); a.Site != "eu-west" {
		t.Errorf("uncompiled after the change: St. John's gets %s, want eu-west", a.Site)
	}
	if got := next.WithDecisions(oldAll); got != next {
		t.Error("decisions compiled for the old biases were bound to the new snapshot")
	}
	nc := compiledSnapshot(t, next)
	if a := Select(nc, q("app.gslb.example.", TypeA, stJohns)); a.Site != "eu-west" {
		t.Errorf("compiled after the change: St. John's gets %s, want eu-west", a.Site)
	}
}

// TestGeoRankOrdersBiasedDistances: geoRank orders sites as their biased
// distances do, beyond half the circumference too (a negative bias takes
// distances there), and leaves unbiased sites' haversines untouched.
func TestGeoRankOrdersBiasedDistances(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	bias := func() int { return []int{0, MinBias, MaxBias, -50, 50, r.IntN(199) - 99}[r.IntN(6)] }
	for range 100000 {
		h1, h2 := r.Float64(), r.Float64()
		if r.IntN(10) == 0 {
			h1 = 1 - r.Float64()*1e-3 // near the antipode
		}
		p1, p2 := &place{scale: biasScale(bias())}, &place{scale: biasScale(bias())}
		k1, k2 := p1.geoRank(h1), p2.geoRank(h2)
		km := func(h float64, p *place) float64 {
			d := geo.HaversineToKm(h)
			if p.scale != 0 {
				d *= p.scale
			}
			return d
		}
		d1, d2 := km(h1, p1), km(h2, p2)
		if math.Abs(d1-d2) > 1e-6 && (k1 < k2) != (d1 < d2) {
			t.Fatalf("h %v scale %v (%.3f km, rank %v) vs h %v scale %v (%.3f km, rank %v): ranks out of order",
				h1, p1.scale, d1, k1, h2, p2.scale, d2, k2)
		}
		if back := geo.RankToKm(k1); math.Abs(back-d1) > 1e-6*max(1, d1) {
			t.Fatalf("rankToKm(geoRank) = %v km, want %v", back, d1)
		}
		if p1.scale == 0 && k1 != h1 {
			t.Fatalf("an unbiased rank changed: %v -> %v", h1, k1)
		}
	}
	if k := (&place{scale: biasScale(-50)}).geoRank(math.Inf(1)); !math.IsInf(k, 1) {
		t.Errorf("a site without coordinates ranks %v, want +Inf", k)
	}
}

// TestExplainReportsBiasedDistance: explain shows the distance and the
// biased distance the decision compared.
func TestExplainReportsBiasedDistance(t *testing.T) {
	s, _ := biasWorld(t, biasedState(map[string]int{"eu-west": 50}))
	_, tr := Explain(s, q("app.gslb.example.", TypeA, stJohns))
	for _, v := range tr.Members {
		if v.DistanceKm == nil {
			t.Fatalf("%s: no distance", v.Member)
		}
		switch v.Site {
		case "eu-west":
			if v.BiasedKm == nil || math.Abs(*v.DistanceKm-3289.8) > 0.1 || math.Abs(*v.BiasedKm-1644.9) > 0.1 {
				t.Errorf("eu-west: distance %v, biased %v; want 3289.8 and 1644.9", *v.DistanceKm, v.BiasedKm)
			}
		default:
			if v.BiasedKm != nil {
				t.Errorf("%s is not biased but explain reports %v km biased", v.Site, *v.BiasedKm)
			}
		}
	}
}

// TestSelectGeoBiasDoesNotAllocate: biases keep Select free of
// allocations, compiled or not.
func TestSelectGeoBiasDoesNotAllocate(t *testing.T) {
	s, c := biasWorld(t, biasedState(map[string]int{"eu-west": 50, "ap-south": -30}))
	for _, snap := range []*Snapshot{s, c} {
		for _, client := range []string{stJohns, chicago, cairo} {
			qq := q("app.gslb.example.", TypeA, client)
			if n := testing.AllocsPerRun(200, func() { Select(snap, qq) }); n != 0 {
				t.Errorf("Select(%s) (compiled %v) allocates %.1f times", client, snap == c, n)
			}
		}
	}
}

// TestBiasDocumentedDistances: the distances docs/configuration.md's
// worked example gives ("Geoproximity bias") are the ones Meridian
// computes.
func TestBiasDocumentedDistances(t *testing.T) {
	locMumbai := locAPSouth
	for _, tc := range []struct {
		name string
		a, b geo.Location
		km   float64
	}{
		{"Ashburn-Dublin", locUSEast, locEUWest, 5461.5},
		{"St. John's-Ashburn", locStJohns, locUSEast, 2205.0},
		{"St. John's-Dublin", locStJohns, locEUWest, 3289.8},
		{"Chicago-Ashburn", locChicago, locUSEast, 913.5},
		{"Chicago-Dublin", locChicago, locEUWest, 5889.6},
		{"Cairo-Dublin", locCairo, locEUWest, 3975.0},
		{"Cairo-Mumbai", locCairo, locMumbai, 4357.8},
	} {
		if got := geo.DistanceKm(tc.a, tc.b); math.Abs(got-tc.km) > 0.05 {
			t.Errorf("%s: %.2f km, the documentation says %.1f", tc.name, got, tc.km)
		}
	}
}
