package health

import (
	"net/netip"
	"slices"
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
	want := []StatusRange{{Low: 200, High: 200}, {Low: 300, High: 304}, {Low: 404, High: 404}}
	if len(c.ExpectStatus) != 3 || c.ExpectStatus[1] != want[1] || c.ExpectStatus[2] != want[2] || c.Jitter.Fraction != 0.2 || c.Port != 8080 {
		t.Errorf("got %+v", c)
	}
	if c.Method != "" || c.Rise != 0 {
		t.Errorf("CheckFromSpec applied defaults: %+v", c)
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
// whose check is refused (which gslb.State.Validate would have refused
// first) is loud: in the error, Refused, the metric and explain's detail.
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
	m := NewMetrics()
	plan, err := NewPlan(st, PlanOptions{Metrics: m})
	if err == nil || !strings.Contains(err.Error(), "service b.example.: health check: jitter") {
		t.Errorf("error %v", err)
	}
	if got := plan.Refused(); !slices.Equal(got, []string{"b.example."}) {
		t.Errorf("Refused = %v", got)
	}
	if v, ok := metricValue(t, registryOf(t, m), "meridian_health_checks_refused", nil, nil); !ok || v != 1 {
		t.Errorf("meridian_health_checks_refused = %v (%v), want 1", v, ok)
	}
	view := NewView(plan, NewObservations(ObservationsOptions{}))
	if d := view.MemberDetail("b.example.", &st.Services[1].Members[0]); !strings.Contains(d, "health check refused: jitter") {
		t.Errorf("refused member detail %q", d)
	}
	if up, known := view.MemberUp("b.example.", &st.Services[1].Members[0]); !up || known {
		t.Errorf("refused member (up %v, known %v), want answered as up", up, known)
	}
	if d := view.MemberDetail("c.example.", &st.Services[2].Members[0]); d != "not checked" {
		t.Errorf("unchecked member detail %q", d)
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

	// Fixed, the service is probed and the gauge falls back to 0.
	st.Services[1].HealthCheck.Jitter = ""
	if plan, err = NewPlan(st, PlanOptions{Metrics: m}); err != nil || len(plan.Targets()) != 3 {
		t.Fatalf("fixed plan: %d targets, %v", len(plan.Targets()), err)
	}
	if v, _ := metricValue(t, registryOf(t, m), "meridian_health_checks_refused", nil, nil); v != 0 {
		t.Errorf("meridian_health_checks_refused = %v after the fix, want 0", v)
	}
}
