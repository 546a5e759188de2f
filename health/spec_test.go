package health

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/gslb"
)

func TestCheckFromSpec(t *testing.T) {
	c, err := CheckFromSpec(&gslb.HealthCheck{Kind: "http", Port: 8080, Interval: time.Second, Fall: 2,
		ExpectStatus: []string{"200", "300-304, 404"}, Jitter: "20%", Path: "/healthz"})
	if err != nil {
		t.Fatal(err)
	}
	want := []StatusRange{{200, 200}, {300, 304}, {404, 404}}
	if len(c.ExpectStatus) != 3 || c.ExpectStatus[1] != want[1] || c.ExpectStatus[2] != want[2] || c.Jitter.Fraction != 0.2 || c.Port != 8080 {
		t.Errorf("got %+v", c)
	}
	_, err = CheckFromSpec(&gslb.HealthCheck{Kind: "http", ExpectStatus: []string{"ok"}, Jitter: "lots"})
	for _, want := range []string{`expect_status[0]: want a code`, `jitter: want a percentage`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want %q", err, want)
		}
	}
}

// TestPlanFromState: with zero PlanOptions a plan probes what the State
// says, a member's ProbePort replacing the check's port, and a service
// whose check does not parse is reported and left unprobed.
func TestPlanFromState(t *testing.T) {
	st := &gslb.State{Services: []gslb.Service{
		{Name: "a.example.", HealthCheck: &gslb.HealthCheck{Kind: "tcp", Port: 443}, Members: []gslb.Member{
			{Site: "x", Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.1")}},
			{Site: "y", Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.2")}, ProbePort: 8443},
		}},
		{Name: "b.example.", HealthCheck: &gslb.HealthCheck{Kind: "http", Jitter: "lots"}, Members: []gslb.Member{
			{Site: "x", Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.3")}},
		}},
		{Name: "c.example.", Members: []gslb.Member{{Site: "x", Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.4")}}}},
	}}
	plan, err := NewPlan(st, PlanOptions{})
	if err == nil || !strings.Contains(err.Error(), "service b.example.: health check: jitter") {
		t.Errorf("error %v", err)
	}
	var got []string
	for _, tg := range plan.Targets() {
		got = append(got, tg.Addr.String())
	}
	if len(got) != 2 {
		t.Fatalf("targets %v, want a's two members only", got)
	}
	if k := plan.MemberKeys("a.example.", "y/192.0.2.2"); len(k) != 1 || !strings.HasPrefix(k[0].String(), "192.0.2.2:8443#") {
		t.Errorf("y's target %v, want its probe port 8443", k)
	}
	if k := plan.MemberKeys("a.example.", "x/192.0.2.1"); len(k) != 1 || !strings.HasPrefix(k[0].String(), "192.0.2.1:443#") {
		t.Errorf("x's target %v", k)
	}
}
