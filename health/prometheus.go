package health

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/meridian-gslb/meridian/gslb"
)

// The Prometheus load source (issue #12): every Interval it evaluates the
// PromQL instant query of each service with load.prometheus, matches each
// sample of the resulting vector to the service's members by a label, and
// stores the values in Signals as SignalPrometheus readings.
//
// A failed evaluation (Prometheus unreachable, an HTTP or PromQL error, a
// timeout, a result that is not a vector) keeps the last readings: they
// expire by their age in gslb (load.max_age), so a brief outage of
// Prometheus does not unshed every member at once. A successful
// evaluation is the whole truth about the service: a member no sample
// matched has no Prometheus reading any more (a query such as
// "load > 0.5" names only the loaded members).

// Prometheus source defaults.
const (
	DefaultPromInterval    = 10 * time.Second
	DefaultPromTimeout     = 5 * time.Second
	DefaultPromConcurrency = 4
	// PromLogEvery is how often a condition that has not changed (the
	// same error, the same unmatched label values) is logged again.
	PromLogEvery = 5 * time.Minute
)

// PromOptions configure a PromSource.
type PromOptions struct {
	// URL is Prometheus' base URL ("http://prometheus:9090"); the source
	// queries URL/api/v1/query.
	URL string
	// Interval between evaluations of every query; default
	// DefaultPromInterval.
	Interval time.Duration
	// Timeout of one query (sent to Prometheus as its timeout too);
	// default DefaultPromTimeout, at most Interval.
	Timeout time.Duration
	// Concurrency bounds the queries in flight; default
	// DefaultPromConcurrency.
	Concurrency int
	// Signals receives the readings. Required.
	Signals *Signals
	// Logger logs errors and unmatched samples (rate limited, see
	// PromLogEvery). Default: discard.
	Logger *slog.Logger
	// Metrics, if set, is updated by this source; register it once.
	Metrics *PromMetrics
}

// PromQuery is one service's query: Query's samples carry in MatchLabel
// what MatchOn names of a member (gslb.MatchSite, MatchAddress or
// MatchMember).
type PromQuery struct {
	Service    string
	Query      string
	MatchLabel string // default "site"
	MatchOn    string // default gslb.MatchSite
	Members    []gslb.Member
}

// PromQueries are the queries of st's services with load.prometheus.
func PromQueries(st *gslb.State) []PromQuery {
	if st == nil {
		return nil
	}
	var qs []PromQuery
	for i := range st.Services {
		svc := &st.Services[i]
		l := &svc.Policy.Load
		if l.Prometheus == "" {
			continue
		}
		qs = append(qs, PromQuery{
			Service:    svc.Name,
			Query:      l.Prometheus,
			MatchLabel: l.MatchLabel,
			MatchOn:    l.MatchOn,
			Members:    slices.Clone(svc.Members),
		})
	}
	return qs
}

// PromStatus is one service's query as the status API shows it.
type PromStatus struct {
	Service    string `json:"service"`
	Query      string `json:"query"`
	MatchLabel string `json:"match_label"`
	MatchOn    string `json:"match_on"`
	Members    int    `json:"members"`
	// LastEvaluation is when the last evaluation ended, successful or
	// not; OK says whether it succeeded.
	LastEvaluation time.Time `json:"last_evaluation,omitzero"`
	OK             bool      `json:"ok"`
	LastSuccess    time.Time `json:"last_success,omitzero"`
	DurationMS     float64   `json:"duration_ms"`
	// LastError is the last failure, kept after a success so that an
	// operator can see what happened; LastErrorAt says when.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	Errors      uint64    `json:"errors"`
	// Of the last successful evaluation: the samples of the vector, those
	// that matched a member, the members matched, the samples skipped
	// for their value (NaN, infinite, negative), and the label values
	// that matched no member (the first few).
	Samples        int      `json:"samples"`
	SamplesMatched int      `json:"samples_matched"`
	MembersMatched int      `json:"members_matched"`
	Invalid        int      `json:"invalid_samples"`
	Unmatched      []string `json:"unmatched,omitempty"`
	Warnings       []string `json:"warnings,omitempty"`
}

// maxUnmatchedShown bounds PromStatus.Unmatched and the unmatched log.
const maxUnmatchedShown = 10

// PromSource evaluates the services' queries. Create it with
// NewPromSource, give it queries with SetQueries and run it with Run.
type PromSource struct {
	opts   PromOptions
	log    *slog.Logger
	api    promv1.API
	apiErr error // the client could not be built: every evaluation fails with it

	evalMu sync.Mutex // one evaluation round at a time

	mu      sync.Mutex
	entries map[string]*promEntry // by service
}

// promEntry is a service's query and its history. spec is replaced by
// SetQueries; an evaluation applies its result only while the spec it
// ran is still the entry's. Fields are guarded by PromSource.mu.
type promEntry struct {
	spec *promSpec
	st   PromStatus
	// log gates: the last condition logged and when.
	errGate, unmatchedGate, invalidGate, warnGate logGate
}

// promSpec is a query compiled for matching.
type promSpec struct {
	PromQuery
	bad error // the query cannot be evaluated (unknown match_on)
	ids []string
	// index maps a normalised label value to the members (indices) it
	// names.
	index map[string][]int
}

// NewPromSource returns a source with no queries.
func NewPromSource(opts PromOptions) *PromSource {
	if opts.Interval <= 0 {
		opts.Interval = DefaultPromInterval
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultPromTimeout
	}
	opts.Timeout = min(opts.Timeout, opts.Interval)
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultPromConcurrency
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &PromSource{opts: opts, log: log, entries: make(map[string]*promEntry)}
	cfg := api.Config{Address: strings.TrimRight(opts.URL, "/")}
	switch c, err := api.NewClient(cfg); {
	case opts.URL == "":
		p.apiErr = errors.New("no Prometheus URL configured")
	case err != nil:
		p.apiErr = fmt.Errorf("prometheus client: %w", err)
	default:
		p.api = promv1.NewAPI(c)
	}
	return p
}

// SetQueries replaces the queries; it is safe at any time. The new set is
// evaluated from the next round on. A service no longer queried loses its
// members' readings, and a member gone from a service loses its own.
func (p *PromSource) SetQueries(qs []PromQuery) {
	specs := make(map[string]*promSpec, len(qs))
	for _, q := range qs {
		specs[q.Service] = compilePromQuery(q)
	}
	sig := p.opts.Signals
	p.mu.Lock()
	defer p.mu.Unlock()
	for name := range p.entries {
		if _, ok := specs[name]; ok {
			continue
		}
		delete(p.entries, name)
		if sig != nil {
			sig.RetainMembers(name, func(string) bool { return false })
		}
		p.opts.Metrics.removeService(name)
	}
	for name, s := range specs {
		e := p.entries[name]
		if e == nil {
			e = &promEntry{}
			p.entries[name] = e
			p.opts.Metrics.addService(name)
		} else if e.spec.Query != s.Query || e.spec.MatchLabel != s.MatchLabel || e.spec.MatchOn != s.MatchOn {
			*e = promEntry{} // another query: its history does not apply
		}
		e.spec = s
		e.st.Service, e.st.Query, e.st.MatchLabel, e.st.MatchOn = name, s.Query, s.MatchLabel, s.MatchOn
		e.st.Members = len(s.Members)
		if sig != nil {
			ids := make(map[string]bool, len(s.ids))
			for _, id := range s.ids {
				ids[id] = true
			}
			sig.RetainMembers(name, func(id string) bool { return ids[id] })
		}
	}
}

// compilePromQuery defaults q and indexes its members by what the label
// holds.
func compilePromQuery(q PromQuery) *promSpec {
	// gslb's rule defaults and judges the match settings, as it does for
	// every policy (a State's are already so).
	pol := gslb.Policy{Load: gslb.LoadPolicy{High: 1, Prometheus: q.Query, MatchLabel: strings.TrimSpace(q.MatchLabel), MatchOn: q.MatchOn}}
	pol.ApplyDefaults()
	q.MatchLabel, q.MatchOn = pol.Load.MatchLabel, pol.Load.MatchOn
	s := &promSpec{PromQuery: q, index: make(map[string][]int)}
	if err := pol.Validate(nil); err != nil {
		s.bad = err
	}
	add := func(key string, i int) {
		if key != "" && !slices.Contains(s.index[key], i) {
			s.index[key] = append(s.index[key], i)
		}
	}
	for i := range q.Members {
		m := &q.Members[i]
		s.ids = append(s.ids, m.ID())
		switch q.MatchOn {
		case gslb.MatchSite:
			add(strings.ToLower(m.Site), i)
		case gslb.MatchMember:
			add(s.ids[i], i)
		case gslb.MatchAddress:
			for _, a := range m.Addresses {
				add(normAddr(a), i)
			}
			if m.ProbeAddress.IsValid() {
				add(normAddr(m.ProbeAddress), i)
			}
			add(normHost(m.Hostname), i)
		}
	}
	return s
}

func normAddr(a netip.Addr) string { return a.Unmap().WithZone("").String() }

func normHost(h string) string { return strings.TrimSuffix(strings.ToLower(h), ".") }

// lookup returns the members a label value names.
func (s *promSpec) lookup(v string) []int {
	switch s.MatchOn {
	case gslb.MatchSite:
		return s.index[strings.ToLower(v)]
	case gslb.MatchMember:
		return s.index[v]
	}
	// An address: "ip", "ip:port", "[ipv6]:port" or a hostname with or
	// without a port.
	v = strings.TrimSpace(v)
	if a, err := netip.ParseAddr(v); err == nil {
		return s.index[normAddr(a)]
	}
	if ap, err := netip.ParseAddrPort(v); err == nil {
		return s.index[normAddr(ap.Addr())]
	}
	host := v
	if h, _, err := net.SplitHostPort(v); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if a, err := netip.ParseAddr(host); err == nil {
		return s.index[normAddr(a)]
	}
	return s.index[normHost(host)]
}

// Run evaluates every query now and then every Interval until ctx ends.
func (p *PromSource) Run(ctx context.Context) {
	t := time.NewTicker(p.opts.Interval)
	defer t.Stop()
	for {
		p.Evaluate(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Evaluate runs one round: every query, at most Concurrency at a time,
// each bounded by Timeout. It returns when all are done.
func (p *PromSource) Evaluate(ctx context.Context) {
	p.evalMu.Lock()
	defer p.evalMu.Unlock()
	type job struct {
		e    *promEntry
		spec *promSpec
	}
	p.mu.Lock()
	jobs := make([]job, 0, len(p.entries))
	for _, e := range p.entries {
		jobs = append(jobs, job{e, e.spec})
	}
	p.mu.Unlock()
	slices.SortFunc(jobs, func(a, b job) int { return cmp.Compare(a.spec.Service, b.spec.Service) })

	sem := make(chan struct{}, p.opts.Concurrency)
	var wg sync.WaitGroup
	for _, j := range jobs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			p.evaluate(ctx, j.e, j.spec)
		}()
	}
	wg.Wait()
}

// promResult is one evaluation's outcome.
type promResult struct {
	start, end time.Time
	err        error
	warnings   []string
	best       map[int]gslb.LoadSignal // by member index
	samples    int
	matched    int
	invalid    []string // "label=value: value"
	unmatched  []string // label values
}

// evaluate runs one query and applies its result.
func (p *PromSource) evaluate(ctx context.Context, e *promEntry, s *promSpec) {
	r := promResult{start: time.Now()}
	r.err = s.bad
	if r.err == nil {
		r.err = p.apiErr
	}
	if r.err == nil {
		qctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
		v, warnings, _, err := p.api.Query(qctx, s.Query, r.start, promv1.WithTimeout(p.opts.Timeout))
		cancel()
		r.warnings = warnings
		switch {
		case ctx.Err() != nil:
			return // shutting down: not Prometheus' failure
		case err != nil && qctx.Err() != nil:
			r.err = fmt.Errorf("timed out after %s: %w", p.opts.Timeout, err)
		case err != nil:
			r.err = err
		default:
			vec, ok := v.(model.Vector)
			if !ok {
				r.err = fmt.Errorf("the query must return an instant vector, got a %s", valueType(v))
			} else {
				r.end = time.Now()
				p.match(s, vec, &r)
			}
		}
	}
	if r.end.IsZero() {
		r.end = time.Now()
	}
	p.apply(e, s, &r)
}

func valueType(v model.Value) string {
	if v == nil {
		return "nothing"
	}
	return v.Type().String()
}

// match turns the vector into the members' readings: each member gets the
// highest value of the samples that name it.
func (p *PromSource) match(s *promSpec, vec model.Vector, r *promResult) {
	r.best = make(map[int]gslb.LoadSignal)
	label := model.LabelName(s.MatchLabel)
	r.samples = len(vec)
	for _, smp := range vec {
		lv, has := smp.Metric[label]
		v := float64(smp.Value)
		ms := s.lookup(string(lv))
		if !has || len(ms) == 0 {
			r.unmatched = append(r.unmatched, fmt.Sprintf("%s=%q", label, string(lv)))
			continue
		}
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			r.invalid = append(r.invalid, fmt.Sprintf("%s=%q: %v", label, string(lv), v))
			continue
		}
		r.matched++
		at := r.end
		if smp.Timestamp != 0 {
			// Prometheus stamps an instant query's samples with the
			// query's time; never later than now, so that a clock
			// ahead of ours cannot keep a reading fresh.
			if ts := smp.Timestamp.Time(); ts.Before(r.end) {
				at = ts
			}
		}
		for _, i := range ms {
			if old, ok := r.best[i]; !ok || v > old.Value {
				r.best[i] = gslb.LoadSignal{Value: v, At: at, Source: SignalPrometheus}
			}
		}
	}
	slices.Sort(r.unmatched)
	r.unmatched = slices.Compact(r.unmatched)
}

// apply stores the result, unless SetQueries replaced or removed the
// query meanwhile.
func (p *PromSource) apply(e *promEntry, s *promSpec, r *promResult) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.entries[s.Service] != e || e.spec != s {
		return
	}
	m := p.opts.Metrics
	st := &e.st
	d := r.end.Sub(r.start)
	st.LastEvaluation, st.DurationMS = r.end, float64(d)/float64(time.Millisecond)
	st.Warnings = r.warnings
	m.observe(s.Service, d)
	log := p.log.With("service", s.Service, "query", s.Query)
	if r.err != nil {
		st.OK = false
		st.LastError, st.LastErrorAt = r.err.Error(), r.end
		st.Errors++
		m.failed(s.Service)
		if e.errGate.allow(st.LastError, r.end, PromLogEvery) {
			log.Warn("prometheus load query failed; keeping the last readings", "err", r.err, "errors", st.Errors)
		}
		return
	}
	if !st.OK && !st.LastErrorAt.IsZero() {
		log.Info("prometheus load query recovered", "errors", st.Errors)
	}
	e.errGate = logGate{}
	st.OK, st.LastSuccess = true, r.end
	st.Samples, st.SamplesMatched, st.MembersMatched = r.samples, r.matched, len(r.best)
	st.Invalid = len(r.invalid)
	st.Unmatched = r.unmatched[:min(len(r.unmatched), maxUnmatchedShown)]
	m.succeeded(s.Service, r.end, len(r.best), len(r.unmatched), len(r.invalid))

	if sig := p.opts.Signals; sig != nil {
		got := make(map[string]bool, len(r.best))
		for i, ls := range r.best {
			sig.SetMember(s.Service, s.ids[i], ls)
			got[s.ids[i]] = true
		}
		sig.RetainMembers(s.Service, func(id string) bool { return got[id] })
	}

	if len(r.unmatched) > 0 {
		if e.unmatchedGate.allow(strings.Join(r.unmatched, ","), r.end, PromLogEvery) {
			log.Warn("prometheus load samples match no member", "match_label", s.MatchLabel, "match_on", s.MatchOn,
				"count", len(r.unmatched), "values", st.Unmatched)
		}
	} else {
		e.unmatchedGate = logGate{}
	}
	if len(r.invalid) > 0 {
		if e.invalidGate.allow(strings.Join(r.invalid, ","), r.end, PromLogEvery) {
			log.Warn("prometheus load samples skipped: not a number of at least 0",
				"count", len(r.invalid), "samples", r.invalid[:min(len(r.invalid), maxUnmatchedShown)])
		}
	} else {
		e.invalidGate = logGate{}
	}
	if len(r.warnings) > 0 && e.warnGate.allow(strings.Join(r.warnings, ","), r.end, PromLogEvery) {
		log.Warn("prometheus load query warnings", "warnings", r.warnings)
	}
}

// Status lists the queries by service.
func (p *PromSource) Status() []PromStatus {
	p.mu.Lock()
	out := make([]PromStatus, 0, len(p.entries))
	for _, e := range p.entries {
		st := e.st
		st.Unmatched = slices.Clone(st.Unmatched)
		st.Warnings = slices.Clone(st.Warnings)
		out = append(out, st)
	}
	p.mu.Unlock()
	slices.SortFunc(out, func(a, b PromStatus) int { return cmp.Compare(a.Service, b.Service) })
	return out
}

// PromMetrics are the Prometheus load source's metrics, prefixed
// meridian_load_prometheus_, labelled by service. It is a
// prometheus.Collector: register it once. A nil *PromMetrics records
// nothing.
type PromMetrics struct {
	errors      *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	lastSuccess *prometheus.GaugeVec
	members     *prometheus.GaugeVec
	ignored     *prometheus.CounterVec
}

// PromQueryBuckets are the query duration histogram's buckets, in
// seconds, up to the default 5 s timeout.
var PromQueryBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// NewPromMetrics creates the Prometheus load source's metrics.
func NewPromMetrics() *PromMetrics {
	sl := []string{"service"}
	return &PromMetrics{
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meridian_load_prometheus_errors_total",
			Help: "Failed evaluations of the service's load query: unreachable, HTTP or PromQL error, timeout, not a vector.",
		}, sl),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "meridian_load_prometheus_query_seconds",
			Help:    "Duration of the service's load query evaluations, successful or not.",
			Buckets: PromQueryBuckets,
		}, sl),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meridian_load_prometheus_last_success_timestamp_seconds",
			Help: "When the service's load query last succeeded, in Unix seconds.",
		}, sl),
		members: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meridian_load_prometheus_members_matched",
			Help: "Members of the service that the last successful load query gave a reading.",
		}, sl),
		ignored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meridian_load_prometheus_samples_ignored_total",
			Help: "Samples of the service's load query not used, by reason: unmatched (no member has the label's value), invalid (NaN, infinite or negative).",
		}, append(sl, "reason")),
	}
}

func (m *PromMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.errors, m.duration, m.lastSuccess, m.members, m.ignored}
}

// Describe implements prometheus.Collector.
func (m *PromMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (m *PromMetrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors() {
		c.Collect(ch)
	}
}

// addService creates the counters of a service, so that a dashboard
// shows zero errors rather than no data.
func (m *PromMetrics) addService(svc string) {
	if m == nil {
		return
	}
	m.errors.WithLabelValues(svc)
	m.ignored.WithLabelValues(svc, "unmatched")
	m.ignored.WithLabelValues(svc, "invalid")
}

// removeService deletes the series of a service no longer queried.
func (m *PromMetrics) removeService(svc string) {
	if m == nil {
		return
	}
	ls := prometheus.Labels{"service": svc}
	for _, v := range []interface {
		DeletePartialMatch(prometheus.Labels) int
	}{m.errors, m.duration, m.lastSuccess, m.members, m.ignored} {
		v.DeletePartialMatch(ls)
	}
}

func (m *PromMetrics) observe(svc string, d time.Duration) {
	if m == nil {
		return
	}
	m.duration.WithLabelValues(svc).Observe(d.Seconds())
}

func (m *PromMetrics) failed(svc string) {
	if m == nil {
		return
	}
	m.errors.WithLabelValues(svc).Inc()
}

func (m *PromMetrics) succeeded(svc string, at time.Time, members, unmatched, invalid int) {
	if m == nil {
		return
	}
	m.lastSuccess.WithLabelValues(svc).Set(float64(at.UnixNano()) / 1e9)
	m.members.WithLabelValues(svc).Set(float64(members))
	m.ignored.WithLabelValues(svc, "unmatched").Add(float64(unmatched))
	m.ignored.WithLabelValues(svc, "invalid").Add(float64(invalid))
}
