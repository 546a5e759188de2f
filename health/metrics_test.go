package health

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// metricValue finds the first series of name whose labels include match
// and returns its value: a counter's or gauge's value, a histogram's
// sample count.
func metricValue(t *testing.T, g prometheus.Gatherer, name string, match func(name, value string) bool, want map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			hits := 0
			for _, lp := range m.GetLabel() {
				if match != nil && match(lp.GetName(), lp.GetValue()) {
					hits++
				}
				if v, ok := want[lp.GetName()]; ok && v == lp.GetValue() {
					hits++
				}
			}
			if hits < len(want) || (match != nil && hits == 0) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue(), true
			case m.Gauge != nil:
				return m.GetGauge().GetValue(), true
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func registryOf(t *testing.T, m *Metrics) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	return reg
}

func counterValue(t *testing.T, m *Metrics, name string, want map[string]string) float64 {
	t.Helper()
	v, _ := metricValue(t, registryOf(t, m), name, nil, want)
	return v
}

// gaugeValue is the gauge whose some label has the value labelValue.
func gaugeValue(t *testing.T, g prometheus.Gatherer, name, labelValue string) float64 {
	t.Helper()
	v, ok := metricValue(t, g, name, func(_, v string) bool { return v == labelValue }, nil)
	if !ok {
		t.Fatalf("no %s series labelled %q", name, labelValue)
	}
	return v
}

func histogramCount(t *testing.T, g prometheus.Gatherer, name string, want map[string]string) uint64 {
	t.Helper()
	v, _ := metricValue(t, g, name, nil, want)
	return uint64(v)
}

func labelled(t *testing.T, m *Metrics, name, target string) bool {
	t.Helper()
	_, ok := metricValue(t, registryOf(t, m), name, nil, map[string]string{"target": target})
	return ok
}

// The metrics describe themselves consistently, and a nil *Metrics is a
// no-op everywhere the Monitor calls it.
func TestMetricsRegistration(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(NewMetrics()); err != nil {
		t.Fatal(err)
	}
	var m *Metrics
	tg := &target{label: "x"}
	tm := m.addTarget(tg)
	m.removeTarget(tg)
	tm.probed(0, ReasonOther)
	tm.transition(StateUp)
	m.setCounts([3]int{})
	m.skip()
	m.inflight(1)
}
