package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/health"
	"github.com/meridian-gslb/meridian/sites"
	"github.com/meridian-gslb/meridian/sites/kube"
)

// Gossip joins this process to the other sites (the gossip section):
//
//   - a leader publishes the State of its file, at start and after every
//     reload, with a term above every version the cluster has seen, so
//     versions never go backwards across leader restarts;
//   - a follower serves each newer State the cluster hands it (the state
//     file's first, before it joins: static stability);
//   - both share their local probes' verdicts and feed the other sites'
//     into the health observations, where the rule (health.rule) combines
//     them;
//   - both share their local probes' load readings and feed the other
//     sites' into the load store (health.Signals), each site one source.
type Gossip struct {
	node    *sites.Node
	role    sites.Role
	pub     *Publisher
	log     *slog.Logger
	metrics *sites.Metrics

	// standby, when set, says this leader-role process does not hold the
	// Kubernetes Lease: it neither publishes nor follows the cluster's
	// states (it serves its own builds).
	standby func() bool

	stopOnce sync.Once // leave and shut down once, whoever asks first

	mu      sync.Mutex // serialises leader publishing
	term    uint64     // the leader's current term; 0 until it first publishes
	floor   uint64     // the lowest term to publish under (the Lease's)
	started bool       // Start has returned: OnState is the cluster's, not the state file's
}

// newGossip prepares the node; nothing listens until start.
func newGossip(l *config.Loaded, pub *Publisher, log *slog.Logger, version string) (*Gossip, error) {
	gc := &l.Config.Gossip
	g := &Gossip{role: gc.SiteRole(), pub: pub, log: log.With("component", "gossip"), metrics: sites.NewMetrics()}
	cfg := gc.SitesConfig(version)
	cfg.Logger = g.log
	cfg.Metrics = g.metrics
	cfg.OnState = g.onState
	cfg.Observations = siteObservations{obs: pub.obs, signals: pub.Signals(), self: gc.Site}
	if ns, name, ok := strings.Cut(gc.AdvertiseService, "/"); ok {
		cfg.ResolveAdvertise = func(ctx context.Context) (string, int, error) {
			return kube.ServiceAddress(ctx, ns, name, 2*time.Second, g.log)
		}
	}
	node, err := sites.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("gossip: %w", err)
	}
	g.node = node
	// Every verdict of the local probes goes to the other sites, and so
	// does every load reading they take (throttled by the node).
	pub.setLocalChanges(g.shareChanges)
	if sig := pub.Signals(); sig != nil {
		sig.OnLocal(g.shareLoad)
	}
	return g, nil
}

// start serves the state file (a follower), listens and joins in the
// background; a leader then publishes its configuration. The node runs
// until stop: its context is not the signal's, so that the shutdown
// sequence, not a signal, decides when it leaves.
func (g *Gossip) start() error {
	if err := g.node.Start(context.Background()); err != nil {
		return err
	}
	g.mu.Lock()
	g.started = true
	g.mu.Unlock()
	if g.role == sites.RoleLeader {
		_, st := g.pub.Current()
		g.publish(st)
	}
	return nil
}

// stop leaves the cluster so that peers notice at once rather than after
// failure detection, then shuts the node down. Only the first call does
// anything: memberlist panics on a Leave after its Shutdown.
func (g *Gossip) stop() {
	g.stopOnce.Do(func() {
		if err := g.node.Leave(2 * time.Second); err != nil {
			g.log.Debug("leave", "error", err)
		}
		if err := g.node.Shutdown(); err != nil {
			g.log.Debug("shutdown", "error", err)
		}
	})
}

// Role is this process's role in the cluster: leader or follower.
func (g *Gossip) Role() sites.Role { return g.role }

// Status is the cluster as this node sees it (GET /api/v1/sites).
func (g *Gossip) Status() sites.Status { return g.node.Status() }

// publish makes st, the leader's configuration, the cluster's state,
// under the term leaderTerm gives. st is the served State: a copy goes
// out under the term (nextVersion), and setTerm then shows the term
// locally too.
func (g *Gossip) publish(st *gslb.State) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.started || g.standby != nil && g.standby() {
		return // start (or taking the Lease) publishes what is current
	}
	for attempt := 0; attempt < 3; attempt++ {
		g.term = leaderTerm(g.term, g.floor, g.node.HighestVersion(), st.Generation)
		pub := versioned(st, nextVersion(st, g.term, false))
		err := g.node.Publish(pub)
		if err == nil {
			g.pub.setTerm(g.term)
			g.log.Info("state published", "version", pub.Version().String(), "services", len(pub.Services))
			return
		}
		if !errors.Is(err, sites.ErrStale) {
			g.log.Error("state not published", "version", pub.Version().String(), "error", err)
			return
		}
	}
	g.log.Error("state not published: the cluster keeps hearing newer versions", "term", g.term)
}

// onState receives each newer state the node accepts.
func (g *Gossip) onState(st *gslb.State) {
	if g.role == sites.RoleFollower {
		if err := g.pub.publishRemote(st); err != nil {
			g.log.Error("state from the cluster not served", "version", st.Version().String(), "error", config.OneLine(err))
			return
		}
		g.log.Info("serving the cluster's state", "version", st.Version().String(), "services", len(st.Services))
		return
	}
	// A leader: the state file at start (its term is taken into account
	// by publish), or a newer state than ours from the cluster.
	g.mu.Lock()
	started := g.started
	g.mu.Unlock()
	if !started || g.standby != nil && g.standby() {
		return
	}
	for _, m := range g.node.Members() {
		if !m.Self && m.Role == sites.RoleLeader && m.Status == "alive" {
			// Two leaders: the cluster follows the higher term; so do
			// we, rather than fight over terms.
			g.log.Error("another leader published a newer state; serving it (run one leader)", "leader", m.Name, "version", st.Version().String())
			if err := g.pub.publishRemote(st); err != nil {
				g.log.Error("state from the cluster not served", "error", config.OneLine(err))
			}
			return
		}
	}
	// No other leader is alive: the newer state is a former leader's
	// (ours before a restart that lost its state file, say). Outrank it
	// with our configuration.
	g.log.Warn("the cluster held a newer state from a former leader; publishing ours above it", "version", st.Version().String())
	go func() {
		_, st := g.pub.Current()
		g.publish(st)
	}()
}

// raiseTerm makes the next publication's term at least term (a new
// Lease holder's), so it outranks every state of earlier leaders.
func (g *Gossip) raiseTerm(term uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.floor = max(g.floor, term)
}

// shareChanges gossips the local probes' changes (Monitor.OnChange).
func (g *Gossip) shareChanges(changes []health.Change) {
	for _, c := range changes {
		switch c.To {
		case health.StateUp, health.StateDown:
			g.node.ShareObservation(c.Key.String(), c.To == health.StateUp, c.At, c.Error)
		default:
			g.node.WithdrawObservation(c.Key.String())
		}
	}
}

// shareLoad gossips a load reading of the local probes (Signals.OnLocal).
func (g *Gossip) shareLoad(k health.Key, sig gslb.LoadSignal) {
	g.node.ShareLoad(k.String(), sig.Value, sig.At)
}

// reloadKeys rereads the key file (rotation); a bad file keeps the keys.
func (g *Gossip) reloadKeys() {
	if err := g.node.ReloadKeys(); err != nil {
		g.log.Error("gossip keys not reloaded; keeping the current ones", "error", err)
	}
}

// collectors are the meridian_sites_* metrics.
func (g *Gossip) collectors() []prometheus.Collector { return []prometheus.Collector{g.metrics} }

// siteObservations hands the other sites' observations to the health
// store, and their load readings to the load store (sites.LoadSink),
// each site one source (health.SourceSite).
type siteObservations struct {
	obs     *health.Observations
	signals *health.Signals // nil: other sites' readings are dropped
	self    string          // this site: its own probes are the local source
}

var _ sites.LoadSink = siteObservations{}

func (s siteObservations) ObserveSite(site, key string, up bool, since time.Time, errMsg string) {
	var k health.Key
	if site == s.self || k.UnmarshalText([]byte(key)) != nil {
		return
	}
	if since.IsZero() {
		since = time.Now()
	}
	s.obs.Observe(health.SourceSite(site), k, up, since, errMsg)
}

func (s siteObservations) RemoveSite(site, key string) {
	var k health.Key
	if site == s.self || k.UnmarshalText([]byte(key)) != nil {
		return
	}
	s.obs.Remove(health.SourceSite(site), k)
}

func (s siteObservations) ForgetSite(site string) {
	if site == s.self {
		return
	}
	s.obs.Forget(health.SourceSite(site))
	if s.signals != nil {
		s.signals.ForgetSource(health.SourceSite(site))
	}
}

func (s siteObservations) ObserveSiteLoad(site, key string, value float64, at time.Time) {
	var k health.Key
	if s.signals == nil || site == s.self || k.UnmarshalText([]byte(key)) != nil {
		return
	}
	// The time is the other site's clock: one running ahead must not
	// make its readings look fresher than this site's own, nor keep them
	// fresh after it stops sending (the Prometheus source clamps alike).
	if now := time.Now(); at.IsZero() || at.After(now) {
		at = now
	}
	s.signals.SetTarget(k, gslb.LoadSignal{Value: value, At: at, Source: health.SourceSite(site)})
}

func (s siteObservations) RemoveSiteLoad(site, key string) {
	var k health.Key
	if s.signals == nil || site == s.self || k.UnmarshalText([]byte(key)) != nil {
		return
	}
	s.signals.RemoveTarget(k, health.SourceSite(site))
}
