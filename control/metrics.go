package control

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Build says which build is running: meridian_build_info's labels, and
// the version gossip tells the other sites.
type Build struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"goversion"`
}

// configMetrics are the configuration's metrics; the server registers
// their collectors like every component's.
type configMetrics struct {
	generation  prometheus.Gauge
	reloads     *prometheus.CounterVec
	lastSuccess prometheus.Gauge
	build       prometheus.Gauge
}

func newConfigMetrics(b Build) *configMetrics {
	m := &configMetrics{
		generation: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meridian_config_generation",
			Help: "Generation of the configuration being served; 1 at start, +1 per successful reload.",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meridian_config_reloads_total",
			Help: "Configuration reloads by result (success or failure).",
		}, []string{"result"}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meridian_config_last_reload_success_timestamp_seconds",
			Help: "Unix time the configuration being served was published.",
		}),
		build: prometheus.NewGauge(prometheus.GaugeOpts{
			Name:        "meridian_build_info",
			Help:        "Always 1; the labels say which build is running.",
			ConstLabels: prometheus.Labels{"version": b.Version, "commit": b.Commit, "goversion": b.GoVersion},
		}),
	}
	// Both results exist from the start, so rate() and alerts see a 0.
	m.reloads.WithLabelValues("success")
	m.reloads.WithLabelValues("failure")
	m.build.Set(1)
	return m
}

// collectors are the configuration's metrics, for the registry.
func (m *configMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.generation, m.reloads, m.lastSuccess, m.build}
}

// published records that generation gen is now served.
func (m *configMetrics) published(gen uint64) {
	m.generation.Set(float64(gen))
	m.lastSuccess.SetToCurrentTime()
}
