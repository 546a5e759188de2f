package control

import (
	"log/slog"
	"testing"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/sites/kube"
)

// TestVersioning walks the publications of one process and the version
// each serves: the rule of nextVersion, applied by every path, and the
// loaded configuration never stamped.
func TestVersioning(t *testing.T) {
	l, err := config.Load(config.Options{File: goodFixture})
	must(t, err)
	defer l.Close()
	pub := NewPublisher(&gslb.Store{}, l.Config.HealthSettings(), slog.New(slog.DiscardHandler))
	defer pub.Stop()
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
	_, err = pub.publishKube(&kube.Build{Generation: 1})
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
