package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/health"
	"github.com/meridian-gslb/meridian/sites/kube"
)

// Publisher makes and publishes every snapshot of one serve process, for
// three reasons: a configuration (at start and on reload, with the
// Kubernetes build or the leader's State: plan), a health change, an
// operator override through the admin API. It owns the health monitor.
//
// All three publish under one lock, mu. A health change is applied with
// the plan and view of the configuration that is current when it is
// applied, and a reload swaps plan, view and snapshot together, so a
// change computed for an old plan can never land on a newer
// configuration's snapshot, nor a reload undo a health change: the
// snapshot a reload builds reads every verdict afresh, and a verdict that
// changes after that read is notified (Observations.OnChange) and applied
// after the reload releases the lock.
//
// Health changes and overrides do not change the configuration generation:
// they are counted by meridian_health_snapshot_swaps_total and
// meridian_admin_changes_total.
type Publisher struct {
	store   *gslb.Store
	log     *slog.Logger
	obs     *health.Observations
	signals *health.Signals // the members' load readings (issue #12)
	// prom evaluates the policies' load.prometheus queries; nil without
	// health.prometheus.url. stopProm ends it.
	prom        *health.PromSource
	promMetrics *health.PromMetrics
	stopProm    context.CancelFunc
	promWarned  int // the query count setPromQueries last warned about
	mon         *health.Monitor
	metrics     *health.Metrics
	swaps       prometheus.Counter
	changes     prometheus.Counter
	current     atomic.Pointer[served] // what the published snapshot was built from

	mu sync.Mutex // serialises publishing; guards the fields below
	// in are the inputs of the served State (plan).
	in inputs
	// healthPlan and view are the health plan of the served State; nil
	// before the first PublishConfig.
	healthPlan *health.Plan
	view       *health.View
	// apiAdmin holds the overrides set through the admin API. They beat
	// the file's (admin.sites, admin.members), live in memory only, and
	// survive reloads (minus those naming a site or member that is gone)
	// but not restarts.
	apiAdmin gslb.Admin

	// geo compiles the geo and topology decisions of what is published.
	geo *geoCompiler

	// localChanges, when set, also receives the monitor's changes: the
	// gossip shares them with the other sites.
	localChanges atomic.Pointer[func([]health.Change)]

	// latency names the served State's services of strategy latency,
	// whose members' round-trip times refreshSignals copies into the
	// served snapshot, and loaded those with load shedding, whose load it
	// copies (both guarded by mu); stopRTT and rttDone end that loop.
	latency  []string
	loaded   []string
	stopRTT  chan struct{}
	rttDone  chan struct{}
	stopOnce sync.Once
}

// signalRefresh is how often the probes' round-trip times and the load
// signals reach the answers: a load reported by a probe sheds within its
// interval plus this, without a snapshot per probe.
const signalRefresh = 500 * time.Millisecond

// served is the configuration and the State of the published snapshot.
type served struct {
	cfg   *config.Loaded
	state *gslb.State
}

// NewPublisher starts the health monitor with the process-wide health
// settings (a reload cannot change them). Nothing is published until
// PublishConfig.
func NewPublisher(store *gslb.Store, hs config.HealthSettings, log *slog.Logger) *Publisher {
	p := &Publisher{
		store:   store,
		log:     log,
		metrics: health.NewMetrics(),
		swaps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meridian_health_snapshot_swaps_total",
			Help: "Snapshots published because member health changed (not counted in the configuration generation).",
		}),
		changes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meridian_admin_changes_total",
			Help: "Operator overrides set or removed through the admin API.",
		}),
		apiAdmin: newAdmin(),
		signals:  health.NewSignals(),
		stopRTT:  make(chan struct{}),
		rttDone:  make(chan struct{}),
	}
	rule, err := health.ParseRule(hs.Rule)
	if err != nil {
		rule = health.RuleMajority // config validated it; be safe anyway
	}
	p.obs = health.NewObservations(health.ObservationsOptions{
		Rule:     rule,
		TTL:      time.Duration(hs.SourceTTL),
		OnChange: p.healthChanged,
	})
	p.mon = health.NewMonitor(health.Options{
		Concurrency:  hs.Concurrency,
		Observations: p.obs,
		Signals:      p.signals,
		Metrics:      p.metrics,
		Logger:       log.With("component", "health"),
		OnChange: func(cs []health.Change) {
			if f := p.localChanges.Load(); f != nil {
				(*f)(cs)
			}
		},
	})
	p.geo = newGeoCompiler(p, log.With("component", "geo"))
	p.promMetrics = health.NewPromMetrics()
	if hs.Prometheus.URL != "" {
		p.prom = health.NewPromSource(health.PromOptions{
			URL:      hs.Prometheus.URL,
			Interval: time.Duration(hs.Prometheus.Interval),
			Timeout:  time.Duration(hs.Prometheus.Timeout),
			Signals:  p.signals,
			Logger:   log.With("component", "load-prometheus"),
			Metrics:  p.promMetrics,
		})
		ctx, cancel := context.WithCancel(context.Background())
		p.stopProm = cancel
		go p.prom.Run(ctx)
	}
	go p.refreshSignals()
	return p
}

// refreshSignals copies the monitor's round-trip times (latency
// services) and the load signals (services with load shedding) into the
// served snapshot every signalRefresh.
func (p *Publisher) refreshSignals() {
	defer close(p.rttDone)
	t := time.NewTicker(signalRefresh)
	defer t.Stop()
	for {
		select {
		case <-p.stopRTT:
			return
		case <-t.C:
		}
		p.mu.Lock()
		if (len(p.latency) > 0 || len(p.loaded) > 0) && p.view != nil {
			view, lat, loaded := p.view, p.latency, p.loaded
			_ = p.store.Update(func(cur *gslb.Snapshot) (*gslb.Snapshot, error) {
				if cur == nil {
					return nil, fmt.Errorf("no snapshot")
				}
				if next := withSignals(cur, view, lat, loaded); next != cur {
					return next, nil
				}
				return nil, errSignalsUnchanged // nothing to publish
			})
		}
		p.mu.Unlock()
	}
}

// withSignals is snap with the round-trip times of the latency services
// and the load of the load-shedding services read again from view; snap
// itself when none changed.
func withSignals(snap *gslb.Snapshot, view *health.View, latency, loaded []string) *gslb.Snapshot {
	if len(latency) > 0 {
		snap = snap.WithRTT(view, latency)
	}
	if len(loaded) > 0 {
		snap = snap.WithLoad(view, loaded, time.Now())
	}
	return snap
}

// errSignalsUnchanged tells the store that a refresh changed no
// round-trip time and no load: no new snapshot.
var errSignalsUnchanged = errors.New("no round-trip time or load changed")

// collectors are the publisher's metrics, for the registry.
func (p *Publisher) collectors() []prometheus.Collector {
	return append([]prometheus.Collector{p.metrics, p.swaps, p.changes, newLoadCollector(p), p.promMetrics}, p.geo.collectors()...)
}

// Stop ends the probes. Call it without holding mu: it waits for a health
// change being applied, which takes mu.
func (p *Publisher) Stop() {
	p.stopOnce.Do(func() { close(p.stopRTT) })
	<-p.rttDone
	if p.stopProm != nil {
		p.stopProm()
	}
	p.geo.close()
	p.mon.Stop()
	p.obs.Close()
}

// Current returns the configuration and the State of the published
// snapshot; nil before the first PublishConfig.
func (p *Publisher) Current() (*config.Loaded, *gslb.State) {
	s := p.current.Load()
	if s == nil {
		return nil, nil
	}
	return s.cfg, s.state
}

// PublishConfig serves configuration l, as the next generation (the
// first: generation 1), with the last Kubernetes build or, on a
// follower, the leader's last State.
func (p *Publisher) PublishConfig(l *config.Loaded) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	in := p.in
	in.cfg = l
	st, notes, err := plan(in, nextVersion(p.servedState(), p.term(), true), p.servedState())
	p.logNotes(notes)
	if err != nil {
		// The file changed under the build (a zone or site gone): serve
		// the file; the next build is checked against it.
		p.log.Error("kubernetes services not served with this configuration", "error", config.OneLine(err))
	}
	if err := p.publishLocked(l, st); err != nil {
		return err
	}
	p.in.cfg = l
	return nil
}

// publishKube serves build b with the current configuration, as the next
// generation, and returns the State served.
func (p *Publisher) publishKube(b *kube.Build) (*gslb.State, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	in := p.in
	in.kube = b
	st, notes, err := plan(in, nextVersion(p.servedState(), p.term(), true), p.servedState())
	p.logNotes(notes)
	if err != nil {
		return nil, err
	}
	if err := p.publishLocked(in.cfg, st); err != nil {
		return nil, err
	}
	p.in.kube = b
	return st, nil
}

// publishRemote serves st, a State the leader published, with the local
// settings of the current configuration: a follower's, or a leader's that
// defers to another live leader's newer State.
func (p *Publisher) publishRemote(st *gslb.State) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	in := p.in
	in.remote, in.followRemote = st, true
	next, _, err := plan(in, st.Version(), p.servedState())
	if err != nil {
		return err
	}
	if err := p.publishLocked(in.cfg, next); err != nil {
		return err
	}
	p.in.remote = st
	return nil
}

// setTerm shows the leader's gossip term in the served State (explain,
// the APIs): the current snapshot again, with that term.
func (p *Publisher) setTerm(term uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cur := p.current.Load()
	if cur.state.Term == term {
		return
	}
	st := versioned(cur.state, nextVersion(cur.state, term, false))
	if err := p.publishLocked(cur.cfg, st); err != nil {
		p.log.Error("term not shown", "error", err)
	}
}

// servedState is the State served now, nil before the first. mu held.
func (p *Publisher) servedState() *gslb.State {
	if cur := p.current.Load(); cur != nil {
		return cur.state
	}
	return nil
}

// term is the term the served State shows. mu held.
func (p *Publisher) term() uint64 {
	if st := p.servedState(); st != nil {
		return st.Term
	}
	return 0
}

func (p *Publisher) logNotes(notes []string) {
	for _, n := range notes {
		p.log.Warn("kubernetes service not served", "note", n)
	}
}

// waitingForLeader is true on a follower that has no State yet.
func (p *Publisher) waitingForLeader() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.in.cfg.Config.Gossip.Follower() && p.in.remote == nil
}

// setLocalChanges makes f receive the local probes' changes too.
func (p *Publisher) setLocalChanges(f func([]health.Change)) { p.localChanges.Store(&f) }

// publishLocked plans the health checks of st, hands the targets to the
// monitor, and publishes st's snapshot with the current verdicts and the
// overrides of the file and the API. In this order (targets, then the
// snapshot) a target whose check changed only in its schedule carries
// its state to its new key before the snapshot reads it. mu held.
//
// The plan and the snapshot follow the served ones (Plan.Next,
// Snapshot.Next): services that did not change keep their targets,
// probers, compiled form and health, so a publish costs what changed
// (issue 10). That is exact because every verdict change reaches the
// served snapshot (healthChanged, under mu), so what the served snapshot
// holds for an unchanged service is what a full build would read.
func (p *Publisher) publishLocked(l *config.Loaded, st *gslb.State) error {
	hp, err := p.healthPlan.Next(st, health.PlanOptions{Metrics: p.metrics})
	if err != nil {
		// config validated every check, so this is a bug; the services
		// it names stay unprobed (answered as up).
		p.log.Error("health checks not planned", "error", config.OneLine(err))
	}
	if !hp.SameTargets(p.healthPlan) || p.mon.Unbuilt() > 0 {
		if err := p.mon.SetTargets(hp.Targets()); err != nil {
			p.log.Warn("health targets", "error", config.OneLine(err))
		}
	}
	view := health.NewView(hp, p.obs).WithMonitor(p.mon).WithSignals(p.signals)
	p.pruneAPIAdmin(st)
	snap, err := p.store.Load().Next(st, l.Locator, view)
	if err != nil {
		return err
	}
	snap = snap.WithAdmin(mergeAdmin(l.Admin, p.apiAdmin))
	p.latency, p.loaded = gslb.LatencyServices(st), gslb.LoadServices(st)
	p.setPromQueries(st)
	snap = withSignals(snap, view, p.latency, p.loaded)
	p.healthPlan, p.view = hp, view
	p.current.Store(&served{cfg: l, state: st})
	p.store.Publish(snap)
	p.geo.poke()
	return nil
}

// healthChanged applies the verdicts of keys (Observations.OnChange) to
// the services that use them: a copy of the current snapshot that differs
// in those services' health only.
func (p *Publisher) healthChanged(keys []health.Key) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.healthPlan == nil {
		return
	}
	services := p.healthPlan.Services(keys)
	if len(services) == 0 {
		return // a target of an older plan
	}
	start := time.Now()
	err := p.store.Update(func(cur *gslb.Snapshot) (*gslb.Snapshot, error) {
		if cur == nil {
			return nil, fmt.Errorf("no snapshot")
		}
		return cur.WithHealth(p.view, services), nil
	})
	if err != nil {
		return
	}
	p.swaps.Inc()
	p.log.Debug("health changed; snapshot swapped", "targets", len(keys), "services", services, "took", time.Since(start).Round(time.Microsecond))
}

// HealthSnapshot returns the published snapshot with the health plan
// and view it was built with.
func (p *Publisher) HealthSnapshot() (*gslb.Snapshot, *health.Plan, *health.View) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.store.Load(), p.healthPlan, p.view
}

// Rule is the rule combining the sources' observations into a verdict.
func (p *Publisher) Rule() health.Rule { return p.obs.Rule() }

// Observations are every source's observations of the targets.
func (p *Publisher) Observations() *health.Observations { return p.obs }

// Targets are the local probes' targets with their state and history.
func (p *Publisher) Targets() []health.TargetStatus { return p.mon.Status() }

// TargetStatus is one local probe's target with its state and history,
// false when the monitor does not probe k: a page of the health API reads
// only its own targets.
func (p *Publisher) TargetStatus(k health.Key) (health.TargetStatus, bool) {
	return p.mon.TargetStatus(k)
}
