package control

import (
	"os"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/gslb"
)

// compiles is how many compiles meridian_geo_compile_seconds has seen.
func compiles(t *testing.T, reg *prometheus.Registry) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	must(t, err)
	for _, mf := range mfs {
		if mf.GetName() == "meridian_geo_compile_seconds" {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatal("no meridian_geo_compile_seconds")
	return 0
}

// A publish serves at once, uncompiled, and the compiler binds the geo
// and topology decisions soon after; a health change and a reload of the
// same locator compile nothing, a new locator compiles again.
func TestGeoDecisionsCompileInBackground(t *testing.T) {
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
	if got := gaugeValue(t, reg, "meridian_geo_undecided_services"); got != 0 {
		t.Errorf("meridian_geo_undecided_services = %v, want 0", got)
	}
	if got := gaugeValue(t, reg, "meridian_geo_decisions"); got != 2 {
		t.Errorf("meridian_geo_decisions = %v, want 2 (the fixture's geo and topology services)", got)
	}
	before := compiles(t, reg)

	// A health change keeps the decisions.
	must(t, pub.store.Update(func(cur *gslb.Snapshot) (*gslb.Snapshot, error) {
		return cur.WithHealth(pub.view, []string{cur.State.Services[0].Name}), nil
	}))
	if !compiled() {
		t.Error("a health change dropped compiled decisions")
	}
	// So does publishing the same configuration again.
	must(t, pub.PublishConfig(l))
	if !compiled() {
		t.Error("republishing the same configuration dropped compiled decisions")
	}

	// Loading the same file again gives a locator that is the Same: the
	// decisions hold. New rules compile again.
	same, err := config.Load(config.Options{File: goodFixture})
	must(t, err)
	must(t, pub.PublishConfig(same))
	if !compiled() {
		t.Error("reloading the same file dropped compiled decisions")
	}
	path := fixtureDir(t)
	b, err := os.ReadFile(path)
	must(t, err)
	writeFile(t, path, strings.Replace(string(b), "geo:\n  rules:\n", "geo:\n  rules:\n    - cidr: 192.0.2.0/24\n      site: eu-west\n", 1))
	l2, err := config.Load(config.Options{File: path})
	must(t, err)
	must(t, pub.PublishConfig(l2))
	eventually(t, "the decisions compiled for the new locator", compiled)
	eventually(t, "a second compile counted", func() bool { return compiles(t, reg) == before+1 })
}
