package control

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/dnsserver/delegation"
	"github.com/meridian-gslb/meridian/sites"
)

// delegationStep is how often the delegator looks at the membership: a
// site that joins or leaves is seen within a step, and its zones' passes
// run at once rather than at their next interval.
const delegationStep = time.Second

// delegationPassTimeout bounds one zone's read and update.
const delegationPassTimeout = 30 * time.Second

// delegator keeps each delegated zone's NS RRset and glue in the parent
// zone in step with the live sites (zones[].delegation, docs/delegation.md).
// It acts only in the process that publishes the state (the leader role,
// while it holds the Lease when leader election is on; or standalone): two
// processes correcting one parent would undo each other's updates.
//
// A zone's name server with a site is wanted while that site is live, and
// held (neither added nor removed) for the zone's grace after the site
// was last seen live, so that a restart or a short partition does not
// churn the parent. Sites count as seen live when the delegator starts,
// so a new leader removes nothing before a grace has passed. Name servers
// without a site are always wanted. The last name server of a delegation
// is never removed.
type delegator struct {
	log    *slog.Logger
	cfg    func() *config.Loaded
	live   func(*config.Loaded) map[string]bool // the sites live now
	leads  func() bool                          // this process publishes the state
	parent func(config.ZoneDelegation) delegation.Parent
	now    func() time.Time

	updates *prometheus.CounterVec
	inSync  *prometheus.GaugeVec

	cancel context.CancelFunc
	done   chan struct{}

	// The loop's own state.
	lastLive map[string]time.Time // site -> last seen live (or first seen)
	next     map[string]time.Time // zone -> when its next pass is due
	lastKey  string               // the wanted and held sites at the last step
	lastCfg  *config.Loaded
}

func newDelegator(s *Server) *delegator {
	return newDelegatorWith(s.log, s.cfg, func(l *config.Loaded) map[string]bool { return liveSites(s.gossip, l) }, s.publishesState)
}

func newDelegatorWith(log *slog.Logger, cfg func() *config.Loaded, live func(*config.Loaded) map[string]bool, leads func() bool) *delegator {
	return &delegator{
		log: log.With("component", "delegation"), cfg: cfg, live: live, leads: leads,
		parent: func(zd config.ZoneDelegation) delegation.Parent {
			return &delegation.RFC2136{Server: zd.Server, Parent: zd.Parent, Zone: zd.Zone, Key: zd.Key}
		},
		now: time.Now,
		updates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meridian_delegation_updates_total",
			Help: "Dynamic updates sent to a delegated zone's parent, by zone and result (success or failure).",
		}, []string{"zone", "result"}),
		inSync: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meridian_delegation_in_sync",
			Help: "1 when the parent's NS RRset and glue of the zone were last seen as wanted, else 0; only on the process that keeps the delegation.",
		}, []string{"zone"}),
		lastLive: map[string]time.Time{},
		next:     map[string]time.Time{},
	}
}

func (d *delegator) collectors() []prometheus.Collector {
	return []prometheus.Collector{d.updates, d.inSync}
}

// publishesState reports whether this process publishes the state: the
// only one that may change the parents.
func (s *Server) publishesState() bool {
	if s.gossip != nil && s.gossip.role != sites.RoleLeader {
		return false
	}
	return s.kube == nil || s.kube.leading.Load()
}

// liveSites are the sites live now (config.LiveSites): with gossip, those
// with an alive member; standalone, every site.
func liveSites(g *Gossip, l *config.Loaded) map[string]bool {
	if g == nil {
		return config.LiveSites(l.State, nil)
	}
	return config.LiveSites(l.State, g.node.Members())
}

// start runs the loop until stop.
func (d *delegator) start() {
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel, d.done = cancel, make(chan struct{})
	go func() {
		defer close(d.done)
		d.run(ctx)
	}()
}

// stop ends the loop (an update in flight is abandoned) and waits for it.
func (d *delegator) stop() {
	if d.cancel != nil {
		d.cancel()
		<-d.done
	}
}

func (d *delegator) run(ctx context.Context) {
	t := time.NewTicker(delegationStep)
	defer t.Stop()
	for {
		d.step(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// step runs the passes that are due: every zone's when the configuration,
// the live sites or the held sites changed, else each at its interval.
func (d *delegator) step(ctx context.Context) {
	l := d.cfg()
	if l == nil {
		return
	}
	zones := l.Delegations()
	if len(zones) == 0 {
		return
	}
	now := d.now()
	live := d.live(l)
	for _, s := range l.State.Sites {
		if _, seen := d.lastLive[s.Name]; live[s.Name] || !seen {
			d.lastLive[s.Name] = now
		}
	}
	if !d.leads() {
		clear(d.next) // leading again: every zone at once
		d.lastKey = ""
		return
	}
	key := fmt.Sprint(slices.Sorted(maps.Keys(live)))
	for _, zd := range zones {
		_, held := d.wanted(zd, live, now)
		key += " " + zd.Zone + fmt.Sprint(slices.Sorted(maps.Keys(held)))
	}
	all := key != d.lastKey || l != d.lastCfg
	d.lastKey, d.lastCfg = key, l
	for _, zd := range zones {
		if !all && now.Before(d.next[zd.Zone]) {
			continue
		}
		d.next[zd.Zone] = now.Add(zd.Interval)
		d.pass(ctx, zd, live, now)
	}
}

// wanted is the delegation zd should have in the parent, and the names
// held as they are (their site is in its grace period).
func (d *delegator) wanted(zd config.ZoneDelegation, live map[string]bool, now time.Time) (delegation.Delegation, map[string]bool) {
	want, down := zd.Wanted(live)
	held := map[string]bool{}
	for _, ns := range down {
		if now.Sub(d.lastLive[ns.Site]) < zd.Grace {
			held[ns.Name] = true
		}
	}
	return want, held
}

// pass reads zd's delegation in the parent and corrects it.
func (d *delegator) pass(loop context.Context, zd config.ZoneDelegation, live map[string]bool, now time.Time) {
	log := d.log.With("zone", zd.Zone, "parent", zd.Parent, "server", zd.Server)
	ctx, cancel := context.WithTimeout(loop, delegationPassTimeout)
	defer cancel()
	p := d.parent(zd)
	have, err := p.Read(ctx)
	if err != nil {
		if loop.Err() == nil { // not stopping
			d.inSync.WithLabelValues(zd.Zone).Set(0)
			log.Error("cannot read the delegation in the parent", "error", err)
		}
		return
	}
	want, held := d.wanted(zd, live, now)
	diff := delegation.Compute(zd.Zone, want, have).Except(held)
	keptLast := len(diff.After(have)) == 0 && len(diff.RemoveNS) > 0
	if keptLast {
		// No live site and no static name server: a delegation without
		// NS would make the zone unresolvable (a lame delegation is
		// better than none), so the parent keeps what it has.
		log.Warn("not removing the last name servers of the delegation", "kept", strings.Join(diff.RemoveNS, " "))
		diff = diff.KeepRemovals(diff.RemoveNS)
	}
	if diff.Empty() {
		d.inSync.WithLabelValues(zd.Zone).Set(boolGauge(!keptLast))
		log.Debug("delegation in step", "ns", strings.Join(have.Names(), " "), "held", strings.Join(slices.Sorted(maps.Keys(held)), " "))
		return
	}
	changes := diff.Lines()
	for _, c := range changes {
		log.Info("delegation change", "change", c)
	}
	if err := p.Apply(ctx, diff, zd.TTL); err != nil {
		if loop.Err() != nil {
			return // stopping
		}
		d.updates.WithLabelValues(zd.Zone, "failure").Inc()
		d.inSync.WithLabelValues(zd.Zone).Set(0)
		log.Error("delegation not updated", "changes", len(changes), "error", err)
		return
	}
	d.updates.WithLabelValues(zd.Zone, "success").Inc()
	d.inSync.WithLabelValues(zd.Zone).Set(boolGauge(!keptLast))
	log.Info("delegation updated", "changes", len(changes), "ns", strings.Join(diff.After(have), " "))
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
