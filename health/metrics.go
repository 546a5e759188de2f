package health

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the health metrics, all prefixed meridian_health_. Per
// target they carry two labels: target ("addr:port/kind", what an operator
// recognises) and check (the first 8 hex digits of the check fingerprint,
// which keeps two checks of one port apart, say two HTTP paths). So the
// series count grows with the number of distinct targets, never with the
// number of services sharing them, and a removed target's series go away.
//
// Metrics is a prometheus.Collector: register it once, for example
// registry.MustRegister(m). A nil *Metrics records nothing.
type Metrics struct {
	up          *prometheus.GaugeVec
	transitions *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	failures    *prometheus.CounterVec
	loadErrors  *prometheus.CounterVec
	targets     *prometheus.GaugeVec
	skipped     prometheus.Counter
	inFlight    prometheus.Gauge
	refused     prometheus.Gauge
}

// ProbeBuckets are the probe latency histogram's buckets, in seconds: from
// a loopback connect to a probe that hits a 5 s timeout.
var ProbeBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// NewMetrics creates the health metrics.
func NewMetrics() *Metrics {
	tl := []string{"target", "check"}
	return &Metrics{
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meridian_health_target_up",
			Help: "1 when the target is up, 0 when down, -1 while unknown (before rise or fall probes agree).",
		}, tl),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meridian_health_transitions_total",
			Help: "State changes of the target, by the state entered.",
		}, append(tl, "to")),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "meridian_health_probe_duration_seconds",
			Help:    "Probe latency, successful or not.",
			Buckets: ProbeBuckets,
		}, tl),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meridian_health_probe_failures_total",
			Help: "Failed probes by reason: timeout, refused, tls, status, body, other.",
		}, append(tl, "reason")),
		loadErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meridian_health_load_read_errors_total",
			Help: "Successful probes that could not read the member's load (load_from): a missing header or field, not a number. The target stays up.",
		}, tl),
		targets: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meridian_health_targets",
			Help: "Probed targets by state.",
		}, []string{"state"}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meridian_health_probes_skipped_total",
			Help: "Ticks skipped because the target's previous probe was still in flight.",
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meridian_health_probes_in_flight",
			Help: "Probes running now.",
		}),
		refused: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meridian_health_checks_refused",
			Help: "Services of the current plan whose health check was refused: not probed, their members answer as up. 0 unless there is a bug.",
		}),
	}
}

func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.up, m.transitions, m.duration, m.failures, m.loadErrors, m.targets, m.skipped, m.inFlight, m.refused}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors() {
		c.Collect(ch)
	}
}

// targetMetrics are one target's series, looked up once when the target
// is added so that a probe does not hash label values. nil records
// nothing.
type targetMetrics struct {
	up          prometheus.Gauge
	transitions [3]prometheus.Counter // by State entered; Unknown unused
	duration    prometheus.Observer
	failures    map[Reason]prometheus.Counter
	loadErrors  prometheus.Counter // nil when the check reads no load
}

// addTarget creates the target's series, so that a dashboard shows zero
// failures rather than no data, and returns their handles.
func (m *Metrics) addTarget(t *target) *targetMetrics {
	if m == nil {
		return nil
	}
	l, c := t.label, t.key.Check.Short()
	tm := &targetMetrics{
		up:       m.up.WithLabelValues(l, c),
		duration: m.duration.WithLabelValues(l, c),
		failures: make(map[Reason]prometheus.Counter, len(Reasons)),
	}
	tm.up.Set(-1)
	for _, to := range []State{StateUp, StateDown} {
		tm.transitions[to] = m.transitions.WithLabelValues(l, c, to.String())
	}
	for _, r := range Reasons {
		tm.failures[r] = m.failures.WithLabelValues(l, c, string(r))
	}
	if t.Check.LoadFrom != "" {
		tm.loadErrors = m.loadErrors.WithLabelValues(l, c)
	}
	return tm
}

// removeTarget deletes the target's series: a removed target is no
// longer a fact about the world.
func (m *Metrics) removeTarget(t *target) {
	if m == nil {
		return
	}
	ls := prometheus.Labels{"target": t.label, "check": t.key.Check.Short()}
	m.up.DeletePartialMatch(ls)
	m.transitions.DeletePartialMatch(ls)
	m.duration.DeletePartialMatch(ls)
	m.failures.DeletePartialMatch(ls)
	m.loadErrors.DeletePartialMatch(ls)
}

func (tm *targetMetrics) loadError() {
	if tm != nil && tm.loadErrors != nil {
		tm.loadErrors.Inc()
	}
}

func (tm *targetMetrics) probed(latency time.Duration, reason Reason) {
	if tm == nil {
		return
	}
	tm.duration.Observe(latency.Seconds())
	if c := tm.failures[reason]; c != nil {
		c.Inc()
	}
}

func (tm *targetMetrics) transition(to State) {
	if tm == nil {
		return
	}
	tm.transitions[to].Inc()
	tm.setState(to)
}

func (tm *targetMetrics) setState(s State) {
	if tm == nil {
		return
	}
	switch s {
	case StateUp:
		tm.up.Set(1)
	case StateDown:
		tm.up.Set(0)
	default:
		tm.up.Set(-1)
	}
}

func (m *Metrics) setCounts(counts [3]int) {
	if m == nil {
		return
	}
	for s, n := range counts {
		m.targets.WithLabelValues(State(s).String()).Set(float64(n))
	}
}

func (m *Metrics) skip() {
	if m != nil {
		m.skipped.Inc()
	}
}

func (m *Metrics) inflight(d float64) {
	if m != nil {
		m.inFlight.Add(d)
	}
}

func (m *Metrics) setRefused(n int) {
	if m != nil {
		m.refused.Set(float64(n))
	}
}
