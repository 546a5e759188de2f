package gslb

import (
	"net/netip"
	"strings"
	"testing"
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
