package gslb

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/meridian-gslb/meridian/geo"
)

// benchWorld is n services of strategy over the first five of the sites
// below (shared) or five of them each (distinct), on the database that
// MERIDIAN_GEODB names (the fixture without).
func benchWorld(b *testing.B, strategy Strategy, n int, distinct bool) *Snapshot {
	b.Helper()
	path := os.Getenv("MERIDIAN_GEODB")
	if path == "" {
		path = "../testdata/geo/test-city.mmdb"
	}
	db, err := geo.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	loc, err := geo.NewLocator(db, nil)
	if err != nil {
		b.Fatal(err)
	}
	cities := []geo.Location{
		locUSEast, locEUWest, locAPSouth, locTokyo, {Lat: 45.6, Lon: -121.2, HasCoords: true, Country: "US", Continent: "NA"},
		{Lat: 50.11, Lon: 8.68, HasCoords: true, Country: "DE", Continent: "EU"}, {Lat: 1.29, Lon: 103.85, HasCoords: true, Country: "SG", Continent: "AS"},
		{Lat: -33.87, Lon: 151.21, HasCoords: true, Country: "AU", Continent: "OC"}, {Lat: -23.55, Lon: -46.63, HasCoords: true, Country: "BR", Continent: "SA"},
		{Lat: 37.39, Lon: -122.08, HasCoords: true, Country: "US", Continent: "NA"},
	}
	st := &State{Zones: testState().Zones}
	for i := range 20 {
		st.Sites = append(st.Sites, Site{Name: fmt.Sprintf("s%02d", i), Location: cities[i%len(cities)]})
	}
	for k := range n {
		svc := Service{Name: fmt.Sprintf("svc%d.gslb.example.", k), Policy: Policy{Strategy: strategy}}
		if strategy == StrategyTopology {
			svc.Policy.Topology = []TopologyRule{
				{Continents: []string{"EU", "AF"}, Sites: []string{"s01"}},
				{Continents: []string{"AS", "OC"}, Sites: []string{"s02"}},
			}
		}
		for i := range 5 {
			site := i
			if distinct {
				site = (k*7 + i*(1+k%3)) % 20 // five sites, different sets
			}
			svc.Members = append(svc.Members, Member{Site: fmt.Sprintf("s%02d", site), Weight: 1,
				Addresses: ips(fmt.Sprintf("10.%d.%d.%d", k>>8, k&0xff, i))})
		}
		st.Services = append(st.Services, svc)
	}
	st.ApplyDefaults()
	if err := st.Validate(); err != nil {
		b.Fatal(err)
	}
	s, err := NewSnapshot(st, loc, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("database %s", filepath.Base(path))
	return s
}

// BenchmarkCompileDecisions is the cost of compiling what a snapshot's
// services need (issue 11, point 5): time per op, the trees' memory
// (tree-MB) and the heap allocated (B/op). A database's places are read
// once per DB, before the timer (the first compile pays it: the "places"
// sub-benchmark measures it alone).
//
//	MERIDIAN_GEODB=/tmp/geo-real/real.mmdb go test -run '^$' -bench CompileDecisions -benchtime 2x -benchmem ./gslb
func BenchmarkCompileDecisions(b *testing.B) {
	for _, bc := range []struct {
		name     string
		strategy Strategy
		n        int
		distinct bool
	}{
		{"geo/1svc", StrategyGeo, 1, false},
		{"geo/1000svc-same-5-sites", StrategyGeo, 1000, false},
		{"geo/10svc-distinct-5-of-20", StrategyGeo, 10, true},
		{"topology/1svc", StrategyTopology, 1, false},
	} {
		s := benchWorld(b, bc.strategy, bc.n, bc.distinct)
		if bc.name == "geo/1svc" {
			b.Run("places", func(b *testing.B) {
				for b.Loop() {
					b.StopTimer()
					s = benchWorld(b, bc.strategy, bc.n, bc.distinct) // a new DB
					b.StartTimer()
					if _, err := s.CompileDecisions(context.Background(), 0); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		if _, err := s.CompileDecisions(context.Background(), 0); err != nil { // the DB's places
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			var d *Decisions
			for b.Loop() {
				var err error
				if d, err = s.CompileDecisions(context.Background(), 0); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(d.Len()), "decisions")
			b.ReportMetric(float64(d.Bytes)/(1<<20), "tree-MB")
			runtime.KeepAlive(d)
		})
	}
}
