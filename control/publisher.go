package main

import (
	"cmp"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/health"
	"github.com/meridian-gslb/meridian/sites/kube"
)

// publisher makes and publishes every snapshot of one serve process, for
// three reasons: a configuration (at start and on reload), a health
// change, an operator override through the admin API. It owns the health
// monitor.
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
type publisher struct {
	store   *gslb.Store
	log     *slog.Logger
	obs     *health.Observations
	mon     *health.Monitor
	metrics *health.Metrics
	swaps   prometheus.Counter
	changes prometheus.Counter
	current atomic.Pointer[loaded] // the configuration behind the published snapshot

	mu sync.Mutex // serialises publishing; guards the fields below
	// plan and view are the health plan of the current configuration;
	// nil before the first publishConfig.
	plan *health.Plan
	view *health.View
	// apiAdmin holds the overrides set through the admin API. They beat
	// the file's (admin.sites, admin.members), live in memory only, and
	// survive reloads (minus those naming a site or member that is gone)
	// but not restarts.
	apiAdmin gslb.Admin
	// kube is the last build from Kubernetes, served beside the file's
	// services (withKube); nil without one.
	kube *kube.Build
	// remote is the last state the leader published, on a follower
	// (whose file has no zones, sites or services); nil before the first.
	remote *gslb.State

	// localChanges, when set, also receives the monitor's changes: the
	// gossip shares them with the other sites.
	localChanges atomic.Pointer[func([]health.Change)]
}

// newPublisher starts the health monitor with the process-wide health
// settings (a reload cannot change them).
func newPublisher(store *gslb.Store, hs healthSettings, log *slog.Logger) *publisher {
	p := &publisher{
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
	}
	rule, err := health.ParseRule(hs.Rule)
	if err != nil {
		rule = defaultHealthRule // load validated it; be safe anyway
	}
	p.obs = health.NewObservations(health.ObservationsOptions{
		Rule:     rule,
		TTL:      time.Duration(hs.SourceTTL),
		OnChange: p.healthChanged,
	})
	p.mon = health.NewMonitor(health.Options{
		Concurrency:  hs.Concurrency,
		Observations: p.obs,
		Metrics:      p.metrics,
		Logger:       log.With("component", "health"),
		OnChange: func(cs []health.Change) {
			if f := p.localChanges.Load(); f != nil {
				(*f)(cs)
			}
		},
	})
	return p
}

// collectors are the publisher's metrics, for the registry.
func (p *publisher) collectors() []prometheus.Collector {
	return []prometheus.Collector{p.metrics, p.swaps, p.changes}
}

// stop ends the probes. Call it without holding mu: it waits for a health
// change being applied, which takes mu.
func (p *publisher) stop() {
	p.mon.Stop()
	p.obs.Close()
}

// publishConfig plans the health checks of l, hands the targets to the
// monitor, and publishes l's snapshot with the current verdicts and the
// overrides of the file and the API. In this order (targets, then the
// snapshot) a target whose check changed only in its schedule carries
// its state to its new key before the snapshot reads it.
//
// On a follower the file has no services: l serves the leader's last
// state (publishRemote) with this file's local settings.
func (p *publisher) publishConfig(l *loaded) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case l.config.Gossip.follower():
		if p.remote != nil {
			l.state = p.remote
		}
	case p.kube != nil:
		withK, notes, err := withKube(l, p.kube)
		for _, n := range notes {
			p.log.Warn("kubernetes service not served", "note", n)
		}
		if err != nil {
			// The file changed under the build (a zone or site gone):
			// serve the file; the next build is checked against it.
			p.log.Error("kubernetes services not served with this configuration", "error", oneLine(err))
			break
		}
		l.state = withK.state
	}
	return p.publishLocked(l)
}

// publishKube serves build b with the current configuration, as the next
// generation, and returns the state served.
func (p *publisher) publishKube(b *kube.Build) (*gslb.State, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cur := p.current.Load()
	next, notes, err := withKube(cur, b)
	for _, n := range notes {
		p.log.Warn("kubernetes service not served", "note", n)
	}
	if err != nil {
		return nil, err
	}
	next.state.Generation = cur.state.Generation + 1
	if err := p.publishLocked(next); err != nil {
		return nil, err
	}
	p.kube = b
	return next.state, nil
}

// publishRemote serves st, a state the leader published, with the local
// settings of the current configuration (a follower's).
func (p *publisher) publishRemote(st *gslb.State) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	next := *p.current.Load()
	next.state = st
	if err := p.publishLocked(&next); err != nil {
		return err
	}
	p.remote = st
	return nil
}

// setTerm shows the leader's gossip term in the served state (explain,
// the APIs): the current snapshot again, with that term.
func (p *publisher) setTerm(term uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cur := p.current.Load()
	if cur.state.Term == term {
		return
	}
	next, st := *cur, *cur.state
	st.Term = term
	next.state = &st
	if err := p.publishLocked(&next); err != nil {
		p.log.Error("term not shown", "error", err)
	}
}

// waitingForLeader is true on a follower that has no state yet.
func (p *publisher) waitingForLeader() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.current.Load().config.Gossip.follower() && p.remote == nil
}

// setLocalChanges makes f receive the local probes' changes too.
func (p *publisher) setLocalChanges(f func([]health.Change)) { p.localChanges.Store(&f) }

// publishLocked is publishConfig with mu held.
func (p *publisher) publishLocked(l *loaded) error {
	plan, err := health.NewPlan(l.state, health.PlanOptions{})
	if err != nil {
		// load validated every check, so this is a bug; the services it
		// names stay unprobed (answered as up).
		p.log.Error("health checks not planned", "error", oneLine(err))
	}
	if err := p.mon.SetTargets(plan.Targets()); err != nil {
		p.log.Warn("health targets", "error", oneLine(err))
	}
	view := health.NewView(plan, p.obs).WithMonitor(p.mon)
	p.pruneAPIAdmin(l.state)
	snap, err := gslb.NewSnapshot(l.state, l.locator, view)
	if err != nil {
		return err
	}
	snap = snap.WithAdmin(mergeAdmin(l.admin, p.apiAdmin))
	p.plan, p.view = plan, view
	p.current.Store(l)
	p.store.Publish(snap)
	return nil
}

// healthChanged applies the verdicts of keys (Observations.OnChange) to
// the services that use them: a copy of the current snapshot that differs
// in those services' health only.
func (p *publisher) healthChanged(keys []health.Key) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.plan == nil {
		return
	}
	services := p.plan.Services(keys)
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

// adminOverrides are the overrides in force, by origin.
type adminOverrides struct {
	File      gslb.Admin // admin.sites, admin.members
	API       gslb.Admin // set through the admin API
	Effective gslb.Admin // both, the API's winning
}

// admin returns the overrides in force.
func (p *publisher) admin() adminOverrides {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.current.Load()
	return adminOverrides{File: l.admin, API: cloneAdmin(p.apiAdmin), Effective: mergeAdmin(l.admin, p.apiAdmin)}
}

// updateAdmin changes the API's overrides with change, which may refuse
// (unknown site or member) by returning an error, and publishes the
// result at once: the next query sees it.
func (p *publisher) updateAdmin(change func(st *gslb.State, api *gslb.Admin) error) (adminOverrides, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.current.Load()
	next := cloneAdmin(p.apiAdmin)
	if err := change(l.state, &next); err != nil {
		return adminOverrides{}, err
	}
	eff := mergeAdmin(l.admin, next)
	if err := p.store.Update(func(cur *gslb.Snapshot) (*gslb.Snapshot, error) {
		if cur == nil {
			return nil, fmt.Errorf("no snapshot published yet")
		}
		return cur.WithAdmin(eff), nil
	}); err != nil {
		return adminOverrides{}, err
	}
	p.apiAdmin = next
	p.changes.Inc()
	return adminOverrides{File: l.admin, API: cloneAdmin(next), Effective: eff}, nil
}

// pruneAPIAdmin drops the API overrides of sites and members st no longer
// has: a member removed and added again later starts clean.
func (p *publisher) pruneAPIAdmin(st *gslb.State) {
	for site, mode := range p.apiAdmin.Sites {
		if findSite(st, site) != site {
			delete(p.apiAdmin.Sites, site)
			p.log.Warn("admin override dropped: the site is no longer configured", "site", site, "mode", mode.String())
		}
	}
	for ref, mode := range p.apiAdmin.Members {
		if r, err := findMember(st, ref.Service, ref.Member); err != nil || r != ref {
			delete(p.apiAdmin.Members, ref)
			p.log.Warn("admin override dropped: the member is no longer configured", "service", ref.Service, "member", ref.Member, "mode", mode.String())
		}
	}
}

func newAdmin() gslb.Admin {
	return gslb.Admin{Sites: map[string]gslb.AdminMode{}, Members: map[gslb.MemberRef]gslb.AdminMode{}}
}

func cloneAdmin(a gslb.Admin) gslb.Admin {
	out := newAdmin()
	maps.Copy(out.Sites, a.Sites)
	maps.Copy(out.Members, a.Members)
	return out
}

// mergeAdmin lays the API's overrides over the file's. An API override
// of "none" stays in the result: it means "follow health" and so undoes
// the file's override of the same site or member.
func mergeAdmin(file, api gslb.Admin) gslb.Admin {
	out := cloneAdmin(file)
	maps.Copy(out.Sites, api.Sites)
	maps.Copy(out.Members, api.Members)
	return out
}

// adminList is an Admin as JSON: sorted lists rather than maps with
// struct keys.
type adminList struct {
	Sites   []siteOverride   `json:"sites"`
	Members []memberOverride `json:"members"`
}

type siteOverride struct {
	Site string `json:"site"`
	Mode string `json:"mode"`
}

type memberOverride struct {
	Service string `json:"service"`
	Member  string `json:"member"`
	Mode    string `json:"mode"`
}

func listAdmin(a gslb.Admin) adminList {
	out := adminList{Sites: []siteOverride{}, Members: []memberOverride{}}
	for _, s := range slices.Sorted(maps.Keys(a.Sites)) {
		out.Sites = append(out.Sites, siteOverride{Site: s, Mode: a.Sites[s].String()})
	}
	refs := slices.SortedFunc(maps.Keys(a.Members), func(x, y gslb.MemberRef) int {
		return cmp.Or(cmp.Compare(x.Service, y.Service), cmp.Compare(x.Member, y.Member))
	})
	for _, r := range refs {
		out.Members = append(out.Members, memberOverride{Service: r.Service, Member: r.Member, Mode: a.Members[r].String()})
	}
	return out
}
