package control

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/gslb"
)

// geoCompiler compiles the geo and topology decisions of published
// snapshots in the background (gslb/decision.go, issue 11). A publish
// never waits for it: a service whose decision is not compiled yet answers
// through the uncompiled strategies, which give the same members with
// longer ECS scopes, and takes its compiled decision when the compiler
// binds it. So a new database or new rules serve at once, and the
// compiled trees follow seconds later.
//
// One goroutine compiles, so compiling takes at most one core from the
// DNS server.
type geoCompiler struct {
	pub  *Publisher
	log  *slog.Logger
	kick chan struct{}
	stop context.CancelFunc
	done chan struct{}

	seconds     prometheus.Histogram
	failures    prometheus.Counter
	decisions   prometheus.Gauge
	bytes       prometheus.Gauge
	undecided   prometheus.Gauge
	stopOnce    sync.Once
	lastFailed  string // the last error logged, so a failing database logs once per change
	lastSkipped int    // decisions left out by the memory limit last time, likewise
}

func newGeoCompiler(p *Publisher, log *slog.Logger) *geoCompiler {
	ctx, cancel := context.WithCancel(context.Background())
	c := &geoCompiler{
		pub: p, log: log, kick: make(chan struct{}, 1), stop: cancel, done: make(chan struct{}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "meridian_geo_compile_seconds",
			Help:    "Time to compile the geo and topology decisions a published snapshot lacked.",
			Buckets: []float64{0.001, 0.01, 0.1, 0.5, 1, 2, 5, 10, 30},
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meridian_geo_compile_failures_total",
			Help: "Compiles of geo and topology decisions that failed; the services answer uncompiled.",
		}),
		decisions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meridian_geo_decisions",
			Help: "Compiled geo and topology decisions in the served snapshot (services with equal sites and parameters share one).",
		}),
		bytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meridian_geo_decision_bytes",
			Help: "Memory of the compiled decisions' network trees in the served snapshot.",
		}),
		undecided: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meridian_geo_undecided_services",
			Help: "Geo and topology services answering uncompiled because their decision is not compiled yet.",
		}),
	}
	go c.run(ctx)
	return c
}

func (c *geoCompiler) collectors() []prometheus.Collector {
	return []prometheus.Collector{c.seconds, c.failures, c.decisions, c.bytes, c.undecided}
}

// poke asks for a compile of the current snapshot; it never blocks.
func (c *geoCompiler) poke() {
	select {
	case c.kick <- struct{}{}:
	default: // one is pending; it will read the newest snapshot
	}
}

func (c *geoCompiler) close() {
	c.stopOnce.Do(func() {
		c.stop()
		<-c.done
	})
}

func (c *geoCompiler) run(ctx context.Context) {
	defer close(c.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.kick:
		}
		c.compile(ctx)
	}
}

// compile compiles what the served snapshot lacks and binds it, unless
// the snapshot moved to another locator or other sites meanwhile (then
// the publish that did so has poked again).
func (c *geoCompiler) compile(ctx context.Context) {
	snap := c.pub.store.Load()
	if snap == nil {
		return
	}
	services, want := snap.Undecided()
	c.undecided.Set(float64(services))
	n, bytes := snap.DecisionStats()
	c.decisions.Set(float64(n))
	c.bytes.Set(float64(bytes))
	if want == 0 {
		return
	}
	start := time.Now()
	var geoCfg config.GeoConfig // the default limit until a configuration is served
	if cfg, _ := c.pub.Current(); cfg != nil {
		geoCfg = cfg.Config.Geo
	}
	budget := geoCfg.CompiledMaxBytes()
	d, err := snap.CompileDecisions(ctx, budget)
	took := time.Since(start)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		c.failures.Inc()
		if msg := config.OneLine(err); msg != c.lastFailed {
			c.lastFailed = msg
			c.log.Error("geo decisions not compiled; those services answer uncompiled", "error", msg)
		}
		return
	}
	c.lastFailed = ""
	c.seconds.Observe(took.Seconds())
	if d.Skipped > 0 && d.Skipped != c.lastSkipped {
		c.log.Warn("geo decisions over geo.compiled_max_mb; their services answer uncompiled (same answers, longer ECS scopes)",
			"skipped", d.Skipped, "compiled", d.Len(), "limit_mb", budget>>20)
	}
	c.lastSkipped = d.Skipped
	var left int
	c.pub.mu.Lock()
	err = c.pub.store.Update(func(cur *gslb.Snapshot) (*gslb.Snapshot, error) {
		next := cur.WithDecisions(d)
		left, _ = next.Undecided()
		n, bytes = next.DecisionStats()
		return next, nil
	})
	c.pub.mu.Unlock()
	if err != nil {
		return
	}
	c.decisions.Set(float64(n))
	c.bytes.Set(float64(bytes))
	c.undecided.Set(float64(left))
	c.log.Info("geo decisions compiled", "decisions", d.Len(), "services", services-left,
		"nodes", d.Nodes, "mb", float64(d.Bytes)/(1<<20), "took", took.Round(time.Millisecond))
}
