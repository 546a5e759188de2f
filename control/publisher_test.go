package control

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/gslb"
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
