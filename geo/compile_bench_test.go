package geo

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// benchDBs are the fixture and, when MERIDIAN_GEODB names one, a large
// database (testdata/geo/mkmmdb -size kit|real writes them).
func benchDBs(b *testing.B) map[string]*Locator {
	out := map[string]*Locator{}
	paths := []string{cityDB}
	if p := os.Getenv("MERIDIAN_GEODB"); p != "" {
		paths = append(paths, p)
	}
	for _, p := range paths {
		db, err := Open(p)
		if err != nil {
			b.Fatal(err)
		}
		out[filepath.Base(p)], _ = NewLocator(db, nil)
	}
	return out
}

// benchClassifiers stand in for gslb's decisions: by continent, as the
// benchmark kit's topology workload answers, and the order of five sites
// by distance, as a geo service over five sites does.
func benchClassifiers() map[string]Classifier {
	sites := []Point{
		NewPoint(Location{Lat: 39.04, Lon: -77.49, HasCoords: true}), // Ashburn
		NewPoint(Location{Lat: 45.6, Lon: -121.2, HasCoords: true}),  // Oregon
		NewPoint(Location{Lat: 53.35, Lon: -6.26, HasCoords: true}),  // Dublin
		NewPoint(Location{Lat: 50.11, Lon: 8.68, HasCoords: true}),   // Frankfurt
		NewPoint(Location{Lat: 1.29, Lon: 103.85, HasCoords: true}),  // Singapore
	}
	return map[string]Classifier{
		"continent": func(m Match, _ int) uint32 {
			switch m.Location.Continent {
			case "EU", "AF":
				return 1
			case "AS", "OC":
				return 2
			}
			return 0
		},
		"nearest5": func(m Match, _ int) uint32 {
			if !m.Location.HasCoords {
				return 0
			}
			p := NewPoint(m.Location)
			// The order of the five as a number: enough to tell orders apart.
			var order uint32
			used := 0
			for range sites {
				best, bh := -1, 2.0
				for i, s := range sites {
					if used&(1<<i) == 0 {
						if h := p.Haversine(s); h < bh {
							best, bh = i, h
						}
					}
				}
				used |= 1 << best
				order = order*5 + uint32(best)
			}
			return 1 + order
		},
	}
}

// BenchmarkCompile measures one decision's compile: time per op, and the
// tree's size and the heap it left (nodes, tree-MB).
func BenchmarkCompile(b *testing.B) {
	for dbName, l := range benchDBs(b) {
		for name, classify := range benchClassifiers() {
			b.Run(dbName+"/"+name, func(b *testing.B) {
				var t *Tree
				for b.Loop() {
					var err error
					if t, err = l.Compile(context.Background(), nil, classify); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(t.Nodes()), "nodes")
				b.ReportMetric(float64(t.Bytes())/(1<<20), "tree-MB")
			})
		}
	}
}

// BenchmarkTreeLookup is the compiled query-time lookup against Locate on
// the same database and clients: random IPv4 /24s, as a resolver fleet's
// ECS subnets are.
func BenchmarkTreeLookup(b *testing.B) {
	r := rand.New(rand.NewPCG(21, 22))
	v4 := make([]netip.Addr, 1<<16)
	for i := range v4 {
		v4[i] = netip.AddrFrom4([4]byte{byte(r.IntN(224)), byte(r.IntN(256)), byte(r.IntN(256)), 0})
	}
	for dbName, l := range benchDBs(b) {
		for name, classify := range benchClassifiers() {
			t, err := l.Compile(context.Background(), nil, classify)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(dbName+"/"+name+"/compiled", func(b *testing.B) {
				i := 0
				for b.Loop() {
					t.Lookup(v4[i&(len(v4)-1)])
					i++
				}
			})
			runtime.KeepAlive(t)
		}
		b.Run(dbName+"/locate", func(b *testing.B) {
			i := 0
			for b.Loop() {
				l.Locate(v4[i&(len(v4)-1)])
				i++
			}
		})
	}
}
