package gslb

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// A health change shares the compiled services and every untouched chunk
// of the health table with the previous snapshot.
func TestWithHealthCopiesOnlyWhatChanged(t *testing.T) {
	st := testState()
	// Enough services that the table spans several chunks.
	for i := range 600 {
		st.Services = append(st.Services, Service{
			Name:    fmt.Sprintf("s%d.gslb.example.", i),
			Policy:  st.Services[0].Policy,
			Members: []Member{{Site: "us-east", Addresses: ips(fmt.Sprintf("10.%d.%d.1", i/256, i%256)), Weight: 1}, {Site: "eu-west", Addresses: ips(fmt.Sprintf("10.%d.%d.2", i/256, i%256)), Weight: 1}},
		})
	}
	base := snapshot(t, st, nil)
	if len(base.health.chunks) < 3 {
		t.Fatalf("want several chunks, got %d", len(base.health.chunks))
	}
	h := health{"s599.gslb.example. us-east/10.2.87.1": true}
	next := base.WithHealth(h, []string{"s599.gslb.example."})

	a := Select(next, q("s599.gslb.example.", TypeA, "8.8.8.0/24"))
	if a.Addrs()[0].String() != "10.2.87.2" || !a.Degraded {
		t.Fatalf("after the change: %v degraded=%v", a.Addrs(), a.Degraded)
	}
	if b := Select(base, q("s599.gslb.example.", TypeA, "8.8.8.0/24")); b.Addrs()[0].String() != "10.2.87.1" {
		t.Fatalf("the old snapshot changed: %v", b.Addrs())
	}
	copied := 0
	for i := range base.health.chunks {
		if base.health.chunks[i] != next.health.chunks[i] {
			copied++
		}
	}
	if copied != 1 {
		t.Fatalf("%d chunks copied for one member's change", copied)
	}
	if next.service("s0.gslb.example.") != base.service("s0.gslb.example.") {
		t.Fatal("compiled services were not shared")
	}
	// The health view is read only for the services named.
	if same := base.WithHealth(h, []string{"s0.gslb.example."}); same.health.chunks[len(same.health.chunks)-1] != base.health.chunks[len(base.health.chunks)-1] {
		t.Fatal("a service not named was re-read")
	}
}

func TestAdminOverrides(t *testing.T) {
	h := health{"app.gslb.example. eu-west/198.51.100.10": true}
	base := snapshot(t, testState(), h)
	london := q("app.gslb.example.", TypeA, "81.2.69.0/24")
	boston := q("app.gslb.example.", TypeA, "8.8.8.0/24")

	// Force the probed-down member up: London gets eu-west again.
	s := base.WithAdmin(Admin{Members: map[MemberRef]AdminMode{{"app.gslb.example.", "eu-west/198.51.100.10"}: AdminUp}})
	if a := Select(s, london); a.Addrs()[0].String() != "198.51.100.10" {
		t.Fatalf("forced up: %v", a.Addrs())
	}
	// Drain a whole site: Boston moves off us-east at once.
	s = base.WithAdmin(Admin{Sites: map[string]AdminMode{"us-east": AdminDrain}})
	if a := Select(s, boston); a.Addrs()[0].String() == "192.0.2.10" || !a.Degraded {
		t.Fatalf("drained site still answered: %v", a.Addrs())
	}
	_, tr := Explain(s, boston)
	found := false
	for _, m := range tr.Members {
		if m.Site == "us-east" {
			found = m.Verdict == "drained (admin)" && m.Admin == "drain"
		}
	}
	if !found {
		t.Fatalf("explain does not show the drain: %+v", tr.Members)
	}
	// A member override beats the site override.
	s = base.WithAdmin(Admin{
		Sites:   map[string]AdminMode{"us-east": AdminDrain},
		Members: map[MemberRef]AdminMode{{"app.gslb.example.", "us-east/192.0.2.10"}: AdminNone},
	})
	if a := Select(s, boston); a.Addrs()[0].String() != "192.0.2.10" {
		t.Fatalf("member override did not beat the site: %v", a.Addrs())
	}
	// Undrain: WithAdmin replaces the overrides; health is kept.
	s = s.WithAdmin(Admin{})
	if a := Select(s, london); a.Addrs()[0].String() != "192.0.2.10" {
		t.Fatalf("health lost across WithAdmin: %v", a.Addrs())
	}
	// Overrides survive a health change.
	s = base.WithAdmin(Admin{Sites: map[string]AdminMode{"us-east": AdminDown}}).WithHealth(health{}, []string{"app.gslb.example."})
	if a := Select(s, boston); a.Addrs()[0].String() == "192.0.2.10" {
		t.Fatalf("override lost across WithHealth: %v", a.Addrs())
	}
	mh := s.MemberHealth("app.gslb.example.")
	if len(mh) != 3 || mh[0].Admin != AdminDown || mh[0].Eligible || !mh[1].Up || mh[1].Known {
		t.Fatalf("MemberHealth: %+v", mh)
	}
	if _, ok := ParseAdminMode("drain"); !ok {
		t.Fatal("ParseAdminMode")
	}
}

type detailed struct{ health }

func (d detailed) MemberDetail(service string, m *Member) string {
	if d.health[service+" "+m.ID()] {
		return "connection refused"
	}
	return ""
}

func TestExplainShowsHealthDetail(t *testing.T) {
	s := snapshot(t, testState(), detailed{health{"app.gslb.example. eu-west/198.51.100.10": true}})
	_, tr := Explain(s, Query{Name: "app.gslb.example.", Type: TypeA, Client: netip.MustParseAddr("81.2.69.0"), SourcePrefix: 24})
	for _, m := range tr.Members {
		if m.Site == "eu-west" && (m.Health != "connection refused" || m.Up || !m.HealthKnown) {
			t.Fatalf("eu-west: %+v", m)
		}
	}
}

// Kubernetes readiness is a veto: an unready member is down whatever the
// probes say, and explain says why; an operator's force-up still wins.
func TestUnreadyMemberVeto(t *testing.T) {
	st := testState()
	svc := &st.Services[0]
	svc.Members[0].Unready = true
	snap := snapshot(t, st, nil) // no probes at all: every member would be up
	for _, mh := range snap.MemberHealth(svc.Name) {
		if want := mh.Member != svc.Members[0].ID(); mh.Up != want || !mh.Known && !want {
			t.Errorf("%s: up %v known %v, want up %v", mh.Member, mh.Up, mh.Known, want)
		}
	}
	_, tr := Explain(snap, q(svc.Name, TypeA, "81.2.69.0/24"))
	found := false
	for _, mv := range tr.Members {
		if mv.Member == svc.Members[0].ID() {
			found = true
			if mv.Up || !strings.Contains(mv.Health, "Kubernetes reports no ready endpoint") {
				t.Errorf("explain of the unready member: %+v", mv)
			}
		}
	}
	if !found {
		t.Fatalf("explain lists no %s: %+v", svc.Members[0].ID(), tr.Members)
	}
	forced := snap.WithAdmin(Admin{Members: map[MemberRef]AdminMode{{Service: svc.Name, Member: svc.Members[0].ID()}: AdminUp}})
	for _, mh := range forced.MemberHealth(svc.Name) {
		if mh.Member == svc.Members[0].ID() && !mh.Eligible {
			t.Errorf("force-up does not beat the readiness veto: %+v", mh)
		}
	}
}
