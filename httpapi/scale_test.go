package httpapi

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/control"
	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/test/scale"
)

// scaleAPI serves the API over test/scale's configuration: n services x 3
// members over 5 sites, with its shared tcp check (probes go to
// 127.79.0.x:7070, where nothing listens) or, when !shared, each
// member probed at its own loopback address, memberProbe (3n targets:
// keep n small).
//
// config.Load reads the generated file for one service, and the State is
// grown to n by copying that service the way the generator writes the
// others: loading 100k services from YAML takes seconds, and it is the
// API's cost that is measured here, not the loader's.
func scaleAPI(tb testing.TB, n int, shared bool) *API {
	tb.Helper()
	// Probe addresses of this package's own (the generator's default
	// 127.77.0.x may be in use by a scale run), where nothing listens.
	o := scale.Options{Services: 1, Sites: 5, Members: 3, Check: scale.CheckSharedTCP, ProbeBase: netip.MustParseAddr("127.79.0.1")}.Defaults()
	file := filepath.Join(tb.TempDir(), "scale.yaml")
	if err := scale.WriteFile(file, o); err != nil {
		tb.Fatal(err)
	}
	l, err := config.Load(config.Options{File: file})
	if err != nil {
		tb.Fatal(err)
	}
	st := *l.State
	model := st.Services[0]
	if model.HealthCheck == nil {
		tb.Fatalf("scale's shared-tcp service has no health check: %+v", model)
	}
	st.Services = make([]gslb.Service, n)
	for i := range st.Services {
		svc := model
		svc.Name = scale.ServiceName(i)
		svc.Members = make([]gslb.Member, o.Members)
		for k := range svc.Members {
			j := (i + k) % o.Sites
			m := model.Members[0]
			m.Site, m.Addresses, m.ProbeAddress = scale.SiteName(j), []netip.Addr{scale.MemberAddr(i, j)}, netip.Addr{}
			m.ProbeAddress = scale.ProbeAddr(o, j)
			if !shared {
				m.ProbeAddress = memberProbe(i, k)
			}
			svc.Members[k] = m
		}
		st.Services[i] = svc
	}
	l.State = &st
	store := &gslb.Store{}
	pub := control.NewPublisher(store, l.Config.HealthSettings(), slog.New(slog.DiscardHandler))
	tb.Cleanup(pub.Stop)
	if err := pub.PublishConfig(l); err != nil {
		tb.Fatal(err)
	}
	return &API{
		Store: store, Pub: pub, Ready: func() (bool, string) { return true, "" },
		Metrics: promhttp.HandlerFor(prometheus.NewRegistry(), promhttp.HandlerOpts{}),
		Log:     slog.New(slog.DiscardHandler),
	}
}

// memberProbe is where member k of service i is probed when every member
// has its own target: 127.78.0.0 + 3i + k.
func memberProbe(i, k int) netip.Addr {
	n := 3*i + k
	return netip.AddrFrom4([4]byte{127, 78, byte(n >> 8), byte(n)})
}

// apiPages are the requests of BenchmarkAPI and of the no-quadratic test:
// one page of each endpoint, some with filters.
var apiPages = []struct{ name, path string }{
	{name: "services", path: "/api/v1/services"},
	{name: "services-site", path: "/api/v1/services?site=s3&prefix=app1&limit=100"},
	{name: "health", path: "/api/v1/health"},
	{name: "health-service", path: "/api/v1/health?service=APP7.scale.example"},
	{name: "health-site", path: "/api/v1/health?site=s2&limit=100"},
	// Every member is down (nothing listens at the probe addresses), none
	// up: a full page, and an empty one that must not walk the services.
	{name: "health-state-down", path: "/api/v1/health?state=down"},
	{name: "health-state-up", path: "/api/v1/health?state=up"},
	{name: "config", path: "/api/v1/config"},
	{name: "overview", path: "/api/v1/overview"},
	{name: "explain", path: "/api/v1/explain?name=app7.scale.example&client=81.2.69.0/24"},
}

// settle waits until every probe of a scaleAPI with shared targets has
// failed (nothing listens there) and the snapshot says so, then stops the
// probes, so that the pages measured show the same health at every size
// and no health change allocates while they are measured.
func settle(tb testing.TB, a *API, h http.Handler) {
	tb.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var page healthResponse
		rec := serve(tb, h, "/api/v1/health?state=unknown&limit=1")
		if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
			tb.Fatal(err)
		}
		if len(page.Targets) == 0 && len(page.Services) == 0 {
			a.Pub.Stop()
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("probes not all down after a minute: %s", rec.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// serve runs one request through h and fails unless it is a 200.
func serve(tb testing.TB, h http.Handler, path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if rec.Code != http.StatusOK {
		tb.Fatalf("%s: %d %s", path, rec.Code, rec.Body.String())
	}
	return rec
}

// BenchmarkAPI answers one page of each endpoint at 10k, 40k and 100k
// services (make bench: go test -run '^$' -bench BenchmarkAPI -benchmem
// ./httpapi). A page costs the same at every size; the bytes/op column
// is bounded by the page, and the first request after a publish, which
// builds the indexes, is outside the timing.
func BenchmarkAPI(b *testing.B) {
	for _, n := range []int{10_000, 40_000, 100_000} {
		b.Run(fmt.Sprintf("%dk", n/1000), func(b *testing.B) {
			a := scaleAPI(b, n, true)
			h := a.Routes()
			settle(b, a, h)
			for _, p := range apiPages {
				b.Run(p.name, func(b *testing.B) {
					serve(b, h, p.path)
					var rec *httptest.ResponseRecorder
					for b.Loop() {
						rec = serve(b, h, p.path)
					}
					b.ReportMetric(float64(rec.Body.Len()), "body-bytes")
				})
			}
		})
	}
}

// A page costs the same whatever the number of services: the allocations
// (count and bytes) of one page at 40k services stay within 1.2x of those
// at 20k (a walk of every service, or an index rebuilt per request, would
// double them). Only the per-snapshot indexes, built by the first
// request, grow with the services.
func TestPageCostIndependentOfServices(t *testing.T) {
	type cost struct{ allocs, bytes float64 }
	costs := map[int]map[string]cost{}
	for _, n := range []int{20_000, 40_000} {
		a := scaleAPI(t, n, true)
		h := a.Routes()
		settle(t, a, h)
		costs[n] = map[string]cost{}
		for _, p := range apiPages {
			serve(t, h, p.path) // builds the indexes
			// The least of many single requests is the page's own cost:
			// other goroutines allocate now and then, and under the race
			// detector sync.Pool drops items at random, so a request
			// sometimes rebuilds the JSON encoder's ~100 KB buffer.
			c := cost{math.Inf(1), math.Inf(1)}
			for range 20 {
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				serve(t, h, p.path)
				runtime.ReadMemStats(&after)
				c.allocs = min(c.allocs, float64(after.Mallocs-before.Mallocs))
				c.bytes = min(c.bytes, float64(after.TotalAlloc-before.TotalAlloc))
			}
			costs[n][p.name] = c
		}
	}
	for _, p := range apiPages {
		small, big := costs[20_000][p.name], costs[40_000][p.name]
		t.Logf("%s: %.0f allocations, %.0f bytes per page at 20k services; %.0f, %.0f at 40k", p.name, small.allocs, small.bytes, big.allocs, big.bytes)
		// A page's content varies a little with the probes' state (an
		// explain's member details: 100 allocations once, 123 the next),
		// hence the small absolute slack; a page that walked the services
		// would cost thousands more at 40k.
		if big.allocs > 1.2*small.allocs+50 || big.bytes > 1.2*small.bytes+16<<10 {
			t.Errorf("%s: %.0f allocations, %.0f bytes per page at 40k services, %.0f, %.0f at 20k: a page walks the services", p.name, big.allocs, big.bytes, small.allocs, small.bytes)
		}
	}
}

// BenchmarkIndex builds the per-snapshot indexes the pages read: the cost
// of the first request after each publish.
func BenchmarkIndex(b *testing.B) {
	for _, n := range []int{10_000, 40_000, 100_000} {
		b.Run(fmt.Sprintf("%dk", n/1000), func(b *testing.B) {
			a := scaleAPI(b, n, true)
			snap, plan, _ := a.Pub.HealthSnapshot()
			a.Pub.Stop() // no probes, no health changes: the index alone
			b.Run("services", func(b *testing.B) {
				for b.Loop() {
					newServiceIndex(snap.State)
				}
			})
			sx := newServiceIndex(snap.State)
			b.Run("targets", func(b *testing.B) {
				for b.Loop() {
					newTargetIndex(plan, sx)
				}
			})
		})
	}
}
