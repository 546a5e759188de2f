package health

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/gslb"
)

func constCheck(c Check) func(*gslb.Service) (Check, bool) {
	return func(*gslb.Service) (Check, bool) { return c, true }
}

func testZone() gslb.Zone {
	return gslb.Zone{
		Name:        "gslb.example.",
		SOA:         gslb.SOA{MName: "ns1.gslb.example.", RName: "hostmaster.gslb.example."},
		NameServers: []gslb.NameServer{{Name: "ns1.gslb.example.", Addresses: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}},
	}
}

// fiftyServices is fifty services whose only member is the same VIP.
func fiftyServices(vip netip.Addr) *gslb.State {
	st := &gslb.State{Zones: []gslb.Zone{testZone()}, Sites: []gslb.Site{{Name: "us-east"}}}
	for i := range 50 {
		st.Services = append(st.Services, gslb.Service{
			Name:    fmt.Sprintf("app%d.gslb.example.", i),
			Members: []gslb.Member{{Site: "us-east", Addresses: []netip.Addr{vip}, Weight: 1}},
		})
	}
	return st
}

func TestPlan(t *testing.T) {
	t.Parallel()
	vip := netip.MustParseAddr("192.0.2.10")
	st := fiftyServices(vip)

	// One TCP check: one target for fifty services, each member mapped.
	plan, err := NewPlan(st, PlanOptions{Check: constCheck(Check{Kind: KindTCP, Port: 443})})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Targets()) != 1 {
		t.Fatalf("%d targets, want 1", len(plan.Targets()))
	}
	keys := plan.MemberKeys("app7.gslb.example.", "us-east/192.0.2.10")
	if len(keys) != 1 || plan.Targets()[keys[0]].AddrPort() != netip.AddrPortFrom(vip, 443) {
		t.Fatalf("member keys %v", keys)
	}
	if got := plan.Services(keys); len(got) != 50 || got[0] != "app0.gslb.example." {
		t.Errorf("Services = %d names starting %q", len(got), got[0])
	}

	// HTTP without Host: the Host header is each service's name, so each
	// service is its own target.
	plan, err = NewPlan(st, PlanOptions{Check: constCheck(Check{Kind: KindHTTP})})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Targets()) != 50 {
		t.Fatalf("%d HTTP targets, want 50", len(plan.Targets()))
	}
	k := plan.MemberKeys("app3.gslb.example.", "us-east/192.0.2.10")[0]
	if h := plan.Targets()[k].Check.Host; h != "app3.gslb.example" {
		t.Errorf("defaulted Host %q", h)
	}

	// NAT: the member answers 192.0.2.10 but is probed at 10.0.0.10:8443;
	// hostname members and services without a check are not probed.
	st.Services[0].Members = append(st.Services[0].Members, gslb.Member{Site: "eu-west", Hostname: "lb.example.net.", Weight: 1})
	plan, err = NewPlan(st, PlanOptions{
		Check: func(s *gslb.Service) (Check, bool) {
			return Check{Kind: KindTCP, Port: 443}, s.Name == "app0.gslb.example."
		},
		ProbeAddr: func(_ *gslb.Service, _ *gslb.Member, a netip.Addr) netip.AddrPort {
			if a == vip {
				return netip.MustParseAddrPort("10.0.0.10:8443")
			}
			return netip.AddrPortFrom(a, 0)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Targets()) != 1 {
		t.Fatalf("%d targets, want 1", len(plan.Targets()))
	}
	for _, tg := range plan.Targets() {
		if tg.AddrPort().String() != "10.0.0.10:8443" || tg.Check.Port != 8443 {
			t.Errorf("NAT target %s port %d", tg.AddrPort(), tg.Check.Port)
		}
	}
	if keys := plan.MemberKeys("app0.gslb.example.", "eu-west/lb.example.net."); keys != nil {
		t.Errorf("hostname member has targets %v", keys)
	}
	if keys := plan.MemberKeys("app1.gslb.example.", "us-east/192.0.2.10"); keys != nil {
		t.Errorf("unchecked service has targets %v", keys)
	}

	// A bad check is reported with its service; the others are planned.
	plan, err = NewPlan(st, PlanOptions{Check: func(s *gslb.Service) (Check, bool) {
		if s.Name == "app5.gslb.example." {
			return Check{Kind: KindTCP}, true // no port
		}
		return Check{Kind: KindTCP, Port: 80}, true
	}})
	if err == nil || !strings.Contains(err.Error(), "service app5.gslb.example.: health check: port: required for tcp checks") {
		t.Errorf("error %v", err)
	}
	if plan == nil || len(plan.Targets()) != 1 || plan.MemberKeys("app5.gslb.example.", "us-east/192.0.2.10") != nil {
		t.Error("bad check spoiled the plan")
	}
}

func TestView(t *testing.T) {
	t.Parallel()
	st := &gslb.State{
		Zones: []gslb.Zone{testZone()},
		Sites: []gslb.Site{{Name: "a"}, {Name: "b"}},
		Services: []gslb.Service{{
			Name: "app.gslb.example.",
			Members: []gslb.Member{
				{Site: "a", Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")}, Weight: 1},
				{Site: "b", Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.2")}, Weight: 1},
			},
		}},
	}
	plan, err := NewPlan(st, PlanOptions{Check: constCheck(Check{Kind: KindTCP, Port: 80})})
	if err != nil {
		t.Fatal(err)
	}
	obs := NewObservations(ObservationsOptions{})
	t.Cleanup(obs.Close)
	view := NewView(plan, obs)
	a, b := &st.Services[0].Members[0], &st.Services[0].Members[1]
	ka := plan.MemberKeys("app.gslb.example.", a.ID())
	if len(ka) != 2 {
		t.Fatalf("dual-stack member has %d targets", len(ka))
	}
	check := func(m *gslb.Member, wantUp, wantKnown bool) {
		t.Helper()
		if up, known := view.MemberUp("app.gslb.example.", m); up != wantUp || known != wantKnown {
			t.Errorf("%s: (%v, %v), want (%v, %v)", m.ID(), up, known, wantUp, wantKnown)
		}
	}
	check(a, true, false)
	now := time.Now()
	obs.Observe(SourceLocalProbe, ka[0], true, now, "")
	check(a, true, true)
	obs.Observe(SourceLocalProbe, ka[1], false, now, "refused")
	check(a, false, true) // one dead address takes the member down
	check(b, true, false)
	if up, known := view.MemberUp("other.gslb.example.", b); !up || known {
		t.Errorf("unknown service: (%v, %v)", up, known)
	}
	var nilView *View
	if up, known := nilView.MemberUp("app.gslb.example.", a); !up || known {
		t.Error("nil view is not 'all unknown'")
	}
}

// The whole path with real sockets: probes -> Monitor -> Observations ->
// OnChange -> new snapshot -> gslb.Select answers the other member.
func TestFailoverEndToEnd(t *testing.T) {
	primary := startBackend(t, "127.10.9.1", nil)
	backup := startBackend(t, "127.10.9.2", nil)
	// The two backends listen on different ports; the check's port must be
	// one, so probe each member at its own port (as for NAT).
	ports := map[netip.Addr]uint16{
		primary.addrPort().Addr(): primary.addrPort().Port(),
		backup.addrPort().Addr():  backup.addrPort().Port(),
	}
	st := &gslb.State{
		Zones: []gslb.Zone{testZone()},
		Sites: []gslb.Site{{Name: "a"}, {Name: "b"}},
		Services: []gslb.Service{{
			Name:   "shop.gslb.example.",
			Policy: gslb.Policy{Strategy: gslb.StrategyWeighted},
			Members: []gslb.Member{
				{Site: "a", Addresses: []netip.Addr{primary.addrPort().Addr()}, Weight: 1, Priority: 1},
				{Site: "b", Addresses: []netip.Addr{backup.addrPort().Addr()}, Weight: 1, Priority: 2},
			},
		}},
	}
	st.ApplyDefaults()
	if err := st.Validate(); err != nil {
		t.Fatal(err)
	}
	check := fastCheck(KindHTTP)
	plan, err := NewPlan(st, PlanOptions{
		Check: constCheck(check),
		ProbeAddr: func(_ *gslb.Service, _ *gslb.Member, a netip.Addr) netip.AddrPort {
			return netip.AddrPortFrom(a, ports[a])
		},
	})
	if err != nil {
		t.Fatal(err)
	}

	store := &gslb.Store{}
	var obs *Observations
	rebuild := func() {
		if err := store.Update(func(*gslb.Snapshot) (*gslb.Snapshot, error) {
			return gslb.NewSnapshot(st, nil, NewView(plan, obs))
		}); err != nil {
			t.Error(err)
		}
	}
	var rebuilt []string
	obs = NewObservations(ObservationsOptions{OnChange: func(keys []Key) {
		rebuilt = append(rebuilt, plan.Services(keys)...) // only this goroutine touches it until Close
		rebuild()
	}})
	rebuild()
	m := NewMonitor(Options{Observations: obs})
	if err := m.SetTargets(plan.Targets()); err != nil {
		t.Fatal(err)
	}

	answer := func() string {
		a := gslb.Select(store.Load(), gslb.Query{Name: "shop.gslb.example.", Type: 1, Client: netip.MustParseAddr("198.51.100.1"), SourcePrefix: 32})
		return fmt.Sprint(a.Addrs())
	}
	want := fmt.Sprint([]netip.Addr{primary.addrPort().Addr()})
	if got := answer(); got != want {
		t.Fatalf("before probes: %s, want %s", got, want)
	}
	primary.kill()
	want = fmt.Sprint([]netip.Addr{backup.addrPort().Addr()})
	waitFor(t, "failover to the backup", func() bool { return answer() == want })
	primary.revive()
	want = fmt.Sprint([]netip.Addr{primary.addrPort().Addr()})
	waitFor(t, "failback to the primary", func() bool { return answer() == want })
	m.Stop()
	obs.Close()
	if !slices.Contains(rebuilt, "shop.gslb.example.") {
		t.Errorf("OnChange named %v", rebuilt)
	}
}

// A check of kind none probes nothing: no target (no prober, no metric
// series) per member, and the members answer as up, unknown, as without
// a check.
func TestPlanKindNoneHasNoTargets(t *testing.T) {
	t.Parallel()
	st := fiftyServices(netip.MustParseAddr("192.0.2.10"))
	for i := range st.Services {
		st.Services[i].HealthCheck = &gslb.HealthCheck{Kind: gslb.CheckNone}
	}
	p, err := NewPlan(st, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(p.Targets()); n != 0 {
		t.Errorf("kind none: %d targets, want none", n)
	}
	obs := NewObservations(ObservationsOptions{})
	t.Cleanup(obs.Close)
	v := NewView(p, obs)
	m := &st.Services[0].Members[0]
	if up, known := v.MemberUp(st.Services[0].Name, m); !up || known {
		t.Errorf("kind none member: up %v known %v, want up and unknown", up, known)
	}
	if d := v.MemberDetail(st.Services[0].Name, m); d != "not checked" {
		t.Errorf("kind none member detail %q", d)
	}
}
