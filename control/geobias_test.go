package control

import (
	"os"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/config"
)

// A site's geoproximity bias is part of what the compiled geo decisions
// depend on: a reload that changes only a bias drops them, serves at once
// uncompiled, and the compiler binds decisions compiled for the new bias.
func TestGeoBiasChangeRecompiles(t *testing.T) {
	l, pub := newTestPublisher(t)
	reg := prometheus.NewRegistry()
	reg.MustRegister(pub.collectors()...)
	must(t, pub.PublishConfig(l))
	compiled := func() bool {
		services, _ := pub.store.Load().Undecided()
		n, _ := pub.store.Load().DecisionStats()
		return services == 0 && n > 0
	}
	eventually(t, "the decisions compiled", compiled)
	before := compiles(t, reg)

	path := fixtureDir(t)
	b, err := os.ReadFile(path)
	must(t, err)
	const site = "  - name: eu-west\n"
	if strings.Count(string(b), site) != 1 {
		t.Fatalf("the fixture has %q %d times, want once", site, strings.Count(string(b), site))
	}
	writeFile(t, path, strings.Replace(string(b), site, site+"    bias: 50\n", 1))
	l2, err := config.Load(config.Options{File: path})
	must(t, err)
	must(t, pub.PublishConfig(l2))
	snap := pub.store.Load()
	if got := snap.Site("eu-west"); got == nil || got.Bias != 50 {
		t.Fatalf("served eu-west: %+v, want bias 50", got)
	}
	eventually(t, "the decisions compiled for the new bias", compiled)
	eventually(t, "a second compile counted", func() bool { return compiles(t, reg) == before+1 })
	if got := pub.store.Load().Site("eu-west"); got == nil || got.Bias != 50 {
		t.Fatalf("compiled snapshot's eu-west: %+v, want bias 50", got)
	}
}
