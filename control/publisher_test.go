package control

import (
	"net"
	"net/netip"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/health"
	"github.com/meridian-gslb/meridian/test/scale"
)

// A service whose check health refuses (a bug upstream: a published State
// passed the same rule) shows in meridian_health_checks_refused, scraped
// from the registry the server registers the publisher's metrics in.
func TestRefusedChecksGaugeIsLive(t *testing.T) {
	l, pub := newTestPublisher(t)
	reg := prometheus.NewRegistry()
	reg.MustRegister(pub.collectors()...)

	st := *l.State
	st.Services = append([]gslb.Service(nil), l.State.Services...)
	st.Services[0].HealthCheck = &gslb.HealthCheck{Kind: gslb.CheckTCP} // no port: refused
	pub.mu.Lock()
	err := pub.publishLocked(l, &st)
	pub.mu.Unlock()
	must(t, err)
	if got := gaugeValue(t, reg, "meridian_health_checks_refused"); got != 1 {
		t.Errorf("meridian_health_checks_refused = %v, want 1", got)
	}
	must(t, pub.PublishConfig(l))
	if got := gaugeValue(t, reg, "meridian_health_checks_refused"); got != 0 {
		t.Errorf("after a valid configuration: meridian_health_checks_refused = %v, want 0", got)
	}
}

// gaugeValue is the value of the unlabelled gauge name in reg.
func gaugeValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	must(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no gauge %s in the registry", name)
	return 0
}

// A reload that changes one service leaves the others as they were: the
// shared target keeps probing (its state and history are not restarted),
// every member keeps its verdict in the new snapshot at once, and the
// edit is served.
func TestPublishKeepsWhatDidNotChange(t *testing.T) {
	ln, err := net.Listen("tcp", "127.77.9.1:0")
	must(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	o := scale.Options{Services: 50, Sites: 1, Members: 1, Check: scale.CheckSharedTCP,
		ProbeBase: netip.MustParseAddr("127.77.9.1"), ProbePort: ln.Addr().(*net.TCPAddr).Port}
	l := loadScale(t, o)
	o.Variant = 7
	edited := loadScale(t, o)
	pub := quietPublisher(l)
	t.Cleanup(pub.Stop)
	must(t, pub.PublishConfig(l))
	eventually(t, "the shared target up", func() bool {
		ts := pub.Targets()
		return len(ts) == 1 && ts[0].State == health.StateUp
	})
	before := pub.Targets()[0]
	plan := pub.healthPlan

	must(t, pub.PublishConfig(edited))
	after := pub.Targets()[0]
	if after.Since != before.Since || after.Probes < before.Probes {
		t.Errorf("the target restarted: %+v, then %+v", before, after)
	}
	if !pub.healthPlan.SameTargets(plan) {
		t.Error("a TTL edit changed the targets")
	}
	snap := pub.store.Load()
	for _, i := range []int{7, 8} {
		for _, mh := range snap.MemberHealth(scale.ServiceName(i)) {
			if !mh.Up || !mh.Known {
				t.Errorf("%s after the reload: %+v, want up and known", scale.ServiceName(i), mh)
			}
		}
	}
	if ttl := snap.Service(scale.ServiceName(7)).Policy.TTL; ttl != 37 {
		t.Errorf("the edit is not served: TTL %d", ttl)
	}
}
