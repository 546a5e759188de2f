package control

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/sites/kube"
)

// TestVersioning walks the publications of one process and the version
// each serves: the rule of nextVersion, applied by every path, and the
// loaded configuration never stamped.
func TestVersioning(t *testing.T) {
	l, pub := newTestPublisher(t)
	want := func(step string, term, gen uint64) {
		t.Helper()
		_, st := pub.Current()
		if got := st.Version(); got != (gslb.Version{Term: term, Generation: gen}) {
			t.Errorf("after %s: version %s, want %d.%d", step, got, term, gen)
		}
		if snap := pub.store.Load(); snap.State != st {
			t.Errorf("after %s: the snapshot's State is not the one served", step)
		}
	}

	must(t, pub.PublishConfig(l))
	want("the first configuration", 0, 1)
	pub.setTerm(5)
	want("a gossip term", 5, 1)
	must(t, pub.PublishConfig(l))
	want("a reload", 5, 2)
	_, err := pub.publishKube(&kube.Build{Generation: 1})
	must(t, err)
	want("a Kubernetes build", 5, 3)

	// A leader that defers to another leader's newer State serves it with
	// that leader's version, until its own next configuration.
	other := *l.State
	other.Term, other.Generation = 9, 40
	must(t, pub.publishRemote(&other))
	want("another leader's State", 9, 40)
	if _, st := pub.Current(); st != &other {
		t.Errorf("a leader deferring to another leader serves its own State")
	}
	must(t, pub.PublishConfig(l))
	want("a reload after it", 9, 41)
	if _, st := pub.Current(); st == &other || len(st.Services) != len(l.State.Services) {
		t.Errorf("a leader's reload serves the other leader's State still")
	}

	if v := l.State.Version(); v != (gslb.Version{}) {
		t.Errorf("the loaded configuration was stamped %s", v)
	}
}

// TestLeaderTerm: a first publication and one the cluster has outrun take
// the term above what was heard; a reload keeps the term; the Lease's
// term is a floor.
func TestLeaderTerm(t *testing.T) {
	for _, c := range []struct {
		name       string
		cur, floor uint64
		heard      gslb.Version
		gen, want  uint64
	}{
		{"first publication", 0, 0, gslb.Version{}, 1, 1},
		{"first, after a state file", 0, 0, gslb.Version{Term: 4, Generation: 9}, 1, 5},
		{"a reload", 5, 0, gslb.Version{Term: 5, Generation: 2}, 3, 5},
		{"the cluster holds this generation", 5, 0, gslb.Version{Term: 5, Generation: 3}, 3, 6},
		{"another leader's higher term", 5, 0, gslb.Version{Term: 7, Generation: 1}, 3, 8},
		{"the Lease's term", 5, 9, gslb.Version{Term: 5, Generation: 2}, 3, 9},
	} {
		if got := leaderTerm(c.cur, c.floor, c.heard, c.gen); got != c.want {
			t.Errorf("%s: leaderTerm(%d, %d, %s, %d) = %d, want %d", c.name, c.cur, c.floor, c.heard, c.gen, got, c.want)
		}
	}
}

// TestWithKubeCapacity: a built member carries the ready share of its
// endpoints as Capacity and its readiness as Unready; an unmeasured one
// keeps Capacity 0 (all of it).
func TestWithKubeCapacity(t *testing.T) {
	l, _ := newTestPublisher(t)
	const name = "k8s.gslb.example."
	ms := []gslb.Member{
		{Site: "us-east", Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.101")}, Weight: 1},
		{Site: "eu-west", Addresses: []netip.Addr{netip.MustParseAddr("198.51.100.101")}, Weight: 1},
		{Site: "ap-south", Addresses: []netip.Addr{netip.MustParseAddr("203.0.113.101")}, Weight: 1},
		{Site: "ap-south", Addresses: []netip.Addr{netip.MustParseAddr("203.0.113.102")}, Weight: 1},
	}
	ref := func(i int) gslb.MemberRef { return gslb.MemberRef{Service: name, Member: ms[i].ID()} }
	b := &kube.Build{
		Services: []gslb.Service{{Name: name, Policy: gslb.Policy{Strategy: gslb.StrategyWeighted}, Members: ms}},
		// us-east all ready, eu-west 2 of 10, ap-south .101 none
		// ready, .102 third-party-like: no opinion
		Readiness: map[gslb.MemberRef]bool{ref(0): true, ref(1): true, ref(2): false},
		Capacity:  map[gslb.MemberRef]uint16{ref(0): 1000, ref(1): 200},
	}
	st, notes, err := withKube(l.State, b, nil)
	must(t, err)
	if len(notes) > 0 {
		t.Errorf("notes %v", notes)
	}
	i := slices.IndexFunc(st.Services, func(s gslb.Service) bool { return s.Name == name })
	if i < 0 {
		t.Fatalf("%s not served", name)
	}
	svc := &st.Services[i]
	want := map[string]string{
		ms[0].ID(): "unready=false capacity=1000",
		ms[1].ID(): "unready=false capacity=200",
		ms[2].ID(): "unready=true capacity=0",
		ms[3].ID(): "unready=false capacity=0",
	}
	for _, m := range svc.Members {
		if got := fmt.Sprintf("unready=%v capacity=%d", m.Unready, m.Capacity); got != want[m.ID()] {
			t.Errorf("%s: %s, want %s", m.ID(), got, want[m.ID()])
		}
	}
	if ew := svc.Members[slices.IndexFunc(svc.Members, func(m gslb.Member) bool { return m.ID() == ms[1].ID() })].EffectiveWeight(); ew != 200 {
		t.Errorf("eu-west's effective weight %d, want 200 (weight 1 x 0.2, in thousandths)", ew)
	}
	if b.Services[0].Members[1].Capacity != 0 {
		t.Error("withKube changed the build")
	}
}
