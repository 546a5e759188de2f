package health

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/meridian-gslb/meridian/gslb"
)

// BenchmarkNewPlanSharedTarget plans n services whose members share three
// VIPs under one tcp check: three targets, each serving every service.
// The cost must grow linearly with n (issue 10).
func BenchmarkNewPlanSharedTarget(b *testing.B) {
	vips := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")}
	check := &gslb.HealthCheck{Kind: gslb.CheckTCP, Port: 443}
	for _, n := range []int{10_000, 40_000, 100_000} {
		st := &gslb.State{Zones: []gslb.Zone{testZone()}, Sites: []gslb.Site{{Name: "a"}, {Name: "b"}, {Name: "c"}}}
		for i := range n {
			svc := gslb.Service{Name: fmt.Sprintf("app%d.gslb.example.", i), HealthCheck: check}
			for j, site := range []string{"a", "b", "c"} {
				svc.Members = append(svc.Members, gslb.Member{Site: site, Addresses: []netip.Addr{vips[j]}, Weight: 1})
			}
			st.Services = append(st.Services, svc)
		}
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			for b.Loop() {
				p, err := NewPlan(st, PlanOptions{})
				if err != nil || len(p.Targets()) != 3 {
					b.Fatalf("plan: %v, %d targets", err, len(p.Targets()))
				}
			}
		})
	}
}
