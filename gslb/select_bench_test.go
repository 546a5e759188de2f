package gslb

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// Goal: 0 allocs per Select (shared/design.md section 4). The geo and
// topology cases run uncompiled and, with "-compiled", from the compiled
// decisions that serve once they are ready.
func BenchmarkSelect(b *testing.B) {
	s := snapshot(b, testState(), nil)
	compiled := compiledSnapshot(b, s)
	// London with geoproximity biases on two of the three sites: each
	// biased candidate costs an asin and a sine more uncompiled, nothing
	// compiled.
	bst := testState()
	bst.Sites[1].Bias, bst.Sites[2].Bias = 50, -30
	biased := snapshot(b, bst, nil)
	biasedCompiled := compiledSnapshot(b, biased)
	// The latency strategy with every member measured.
	latency := snapshot(b, latencyState(), nil).WithRTT(rttByAddr{"192.0.2.40": 30e6, "198.51.100.40": 8e6, "203.0.113.40": 12e6}, []string{"lat.gslb.example."})
	for _, bc := range []struct {
		name string
		q    Query
	}{
		{"geo", q("app.gslb.example.", TypeA, "81.2.69.0/24")},
		{"geo-located", q("app.gslb.example.", TypeA, "81.2.69.0/24")},
		{"geo-ipv6", q("app.gslb.example.", TypeAAAA, "2001:67c:2e8::/48")},
		{"weighted-persistent", q("www.gslb.example.", TypeA, "81.2.69.0/24")},
		{"topology", q("topo.gslb.example.", TypeA, "81.2.69.0/24")},
		{"roundrobin", q("rr.gslb.example.", TypeA, "81.2.69.0/24")},
		{"consistenthash", q("ch.gslb.example.", TypeA, "81.2.69.0/24")},
		{"nxdomain", q("nope.gslb.example.", TypeA, "81.2.69.0/24")},
		{"geo-compiled", q("app.gslb.example.", TypeA, "81.2.69.0/24")},
		{"geo-located-compiled", q("app.gslb.example.", TypeA, "81.2.69.0/24")},
		{"topology-compiled", q("topo.gslb.example.", TypeA, "81.2.69.0/24")},
		{"geo-located-biased", q("app.gslb.example.", TypeA, "81.2.69.0/24")},
		{"geo-located-biased-compiled", q("app.gslb.example.", TypeA, "81.2.69.0/24")},
		{"latency", q("lat.gslb.example.", TypeA, "81.2.69.0/24")},
	} {
		s := s
		switch {
		case bc.name == "latency":
			s = latency
		case bc.name == "geo-located-biased":
			s = biased
		case bc.name == "geo-located-biased-compiled":
			s = biasedCompiled
		case strings.HasSuffix(bc.name, "-compiled"):
			s = compiled
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			qq := bc.q
			for i := 0; b.Loop(); i++ {
				qq.Rand = uint64(i)
				if !strings.HasPrefix(bc.name, "geo-located") {
					qq.Client = netip.AddrFrom4([4]byte{81, 2, byte(i), 0})
				}
				_ = Select(s, qq)
			}
		})
	}
}

// BenchmarkSelectLoad is a geo service with load shedding against the
// same service without it (issue #12: within 5%, 0 allocs), over London
// networks 100.64.x.0/24: "none" has no load policy; "below-low" has
// signals present and nothing shed (the usual case); "shedding" has the
// nearest site shedding half of the networks; "persistent" adds the
// persistence memory, read and written; "-compiled" from the compiled
// decision.
func BenchmarkSelectLoad(b *testing.B) {
	now := time.Now()
	names := []string{loadSvc}
	for _, bc := range []struct {
		name    string
		persist bool
		off     bool
		euWest  float64
	}{
		{"none", false, true, 0},
		{"below-low", false, false, 0.2},
		{"shedding", false, false, 0.7},
		{"none-persistent", true, true, 0},
		{"persistent-below-low", true, false, 0.2},
		{"persistent-shedding", true, false, 0.7},
	} {
		lp := LoadPolicy{Low: 0.5, High: 0.9, HardLimit: 0.95}
		if bc.off {
			lp = LoadPolicy{}
		}
		ss := loadSnapshotsWith(b, bc.persist, lp)
		for k, s := range ss {
			v := &loadBySite{v: map[string]float64{"eu-west": bc.euWest, "us-east": 0.1, "ap-south": 0.1}, at: now}
			s = s.WithLoad(v, names, now)
			name := bc.name
			if k == 1 {
				name += "-compiled"
			}
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				qq := network(0)
				for i := 0; b.Loop(); i++ {
					qq.Client = netip.AddrFrom4([4]byte{100, 64 + byte(i>>8&63), byte(i), 0})
					_ = Select(s, qq)
				}
			})
		}
	}
}

// BenchmarkWithLoad1000 is the cost of one refresh of 1,000 members' load
// (10 services of 100 members each, every load changed), the work the
// publisher does twice a second while signals change.
func BenchmarkWithLoad1000(b *testing.B) {
	st := testState()
	var names []string
	for k := range 10 {
		svc := Service{Name: fmt.Sprintf("l%d.gslb.example.", k), Policy: Policy{Strategy: StrategyGeo, Load: LoadPolicy{Low: 0.5, High: 0.9}}}
		for i := range 100 {
			svc.Members = append(svc.Members, Member{Site: st.Sites[i%3].Name, Addresses: []netip.Addr{netip.AddrFrom4([4]byte{10, byte(k), byte(i), 1})}, Weight: 1})
		}
		st.Services = append(st.Services, svc)
		names = append(names, svc.Name)
	}
	st.ApplyDefaults()
	s := snapshot(b, st, nil)
	now := time.Now()
	v := &loadByAddr{at: now}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		v.base = float64(i%7) / 10
		s = s.WithLoad(v, names, now)
	}
}

// loadByAddr reports a load per member that depends on its address and
// base, so every refresh changes every member.
type loadByAddr struct {
	base float64
	at   time.Time
}

func (l *loadByAddr) MemberLoad(_ string, m *Member, _ time.Duration, _ time.Time) (LoadSignal, bool) {
	a := m.Addresses[0].As4()
	return LoadSignal{Value: l.base + float64(a[2])/1000, At: l.at, Source: "probe"}, true
}
