package kube

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/meridian-gslb/meridian/gslb"
)

// Build is one result delivered to Config.OnBuild.
type Build struct {
	// Generation grows by one with every delivered build.
	Generation uint64
	// Services sorted by name, members sorted by ID.
	Services []gslb.Service
	// Readiness is the Kubernetes (control-plane) readiness of every
	// member that comes from a member cluster: false when none of the
	// Services behind it has a ready endpoint.
	Readiness map[gslb.MemberRef]bool
	// Capacity is the ready share of the endpoints behind each member
	// from a member cluster, in thousandths (gslb.Member.Capacity);
	// absent when not measured. See Output.Capacity.
	Capacity map[gslb.MemberRef]uint16
	// Stale lists the clusters whose objects are last-known (sorted).
	Stale []string
	// Problems are the build's notes (sorted); see Output.Problems.
	Problems []string
}

// clone is a deep copy: the receiver of a Build may modify it (for
// example with gslb.State.ApplyDefaults) while the Controller compares
// the next build with its own copy.
func (b Build) clone() Build {
	out := b
	out.Services = make([]gslb.Service, len(b.Services))
	for i, s := range b.Services {
		out.Services[i] = cloneService(s)
	}
	out.Readiness = maps.Clone(b.Readiness)
	out.Capacity = maps.Clone(b.Capacity)
	out.Stale = slices.Clone(b.Stale)
	out.Problems = slices.Clone(b.Problems)
	return out
}

func cloneService(s gslb.Service) gslb.Service {
	s.Policy = s.Policy.Clone()
	s.HealthCheck = s.HealthCheck.Clone()
	s.Members = slices.Clone(s.Members)
	for i := range s.Members {
		s.Members[i].Addresses = slices.Clone(s.Members[i].Addresses)
	}
	return s
}

// Controller watches the member clusters and the policies and delivers
// debounced, level-triggered builds. Create it with New and run it with
// Run; Reload and SetClusters may be called at any time.
type Controller struct {
	cfg     Config
	opts    options
	log     *slog.Logger
	metrics *metrics
	dirty   chan struct{}

	reloadMu sync.Mutex // serialises Reload

	mu       sync.Mutex
	mapping  []ClusterConfig // as set by the config or SetClusters
	clusters map[string]*memberCluster
	order    []string          // cluster names in mapping order
	missing  map[string]string // configured cluster -> why it is not watched
	policy   *policyCluster
	events   *events // nil: no Events
	resolver *resolver
	runCtx   context.Context // nil until Run
	running  bool

	// owned by the rebuild loop
	lastAccepted map[PolicyKey]AcceptedSpec
	last         *Build
	policies     []PolicyState // the last build's verdicts, sorted; under mu
	generation   uint64
	lastProblems []string
}

// New checks cfg and prepares a Controller; nothing is contacted until
// Run. The member kubeconfig is read here, so a bad file is an error.
func New(cfg Config) (*Controller, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	c := &Controller{
		cfg:      cfg,
		opts:     cfg.options(),
		log:      log.With("component", "kube"),
		metrics:  newMetrics(),
		dirty:    make(chan struct{}, 1),
		mapping:  slices.Clone(cfg.Clusters),
		clusters: map[string]*memberCluster{},
		missing:  map[string]string{},
	}
	prc, err := cfg.policyREST()
	if err != nil {
		return nil, err
	}
	if c.policy, err = newPolicyCluster(c, prc); err != nil {
		return nil, fmt.Errorf("kube: policy cluster: %w", err)
	}
	if c.events, err = newEvents(&cfg, prc, c.opts.mayWrite); err != nil {
		return nil, err
	}
	c.resolver = newResolver(cfg.Resolve, orDefault(cfg.ResolveInterval, 30*time.Second), c.opts.probeTimeout, c.markDirty)
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Collectors returns the Controller's Prometheus metrics (prefix
// meridian_kube_), for the caller to register.
func (c *Controller) Collectors() []prometheus.Collector { return c.metrics.collectors() }

// markDirty asks for a rebuild. It never blocks: level-triggered, so one
// pending signal stands for any number of changes.
func (c *Controller) markDirty() {
	select {
	case c.dirty <- struct{}{}:
	default:
	}
}

// SetClusters replaces the context-to-site mapping and applies it as
// Reload does.
func (c *Controller) SetClusters(clusters []ClusterConfig) error {
	seen := map[string]bool{}
	for i, cl := range clusters {
		if cl.Context == "" || seen[cl.Context] {
			return fmt.Errorf("kube: clusters[%d]: empty or repeated context %q", i, cl.Context)
		}
		seen[cl.Context] = true
	}
	c.mu.Lock()
	c.mapping = slices.Clone(clusters)
	c.mu.Unlock()
	return c.Reload()
}

// Reload re-reads the member kubeconfig file and starts the watchers of
// new clusters, stops those of removed ones and restarts those whose
// connection settings changed; the other clusters are not touched. On a
// read error nothing changes. The caller calls it when the file changes
// (for example from an fsnotify watch of the mounted Secret). It also
// asks for a rebuild, as Rebuild does.
func (c *Controller) Reload() error {
	c.reloadMu.Lock()
	defer c.reloadMu.Unlock()
	raw, err := clientcmd.LoadFromFile(c.cfg.Kubeconfig)
	if err != nil {
		return fmt.Errorf("kube: member kubeconfig: %w", err)
	}
	c.mu.Lock()
	mapping := slices.Clone(c.mapping)
	c.mu.Unlock()
	if len(mapping) == 0 {
		for _, name := range sortedKeys(raw.Contexts) {
			mapping = append(mapping, ClusterConfig{Context: name})
		}
	}
	sites := map[string]bool{}
	for _, s := range c.cfg.Sites {
		sites[s] = true
	}
	var order []string
	desired := map[string]*memberCluster{}
	missing := map[string]string{}
	for _, m := range mapping {
		site := m.Site
		if site == "" {
			site = m.Context
		}
		if len(sites) > 0 && !sites[site] {
			missing[m.Context] = fmt.Sprintf("site %q is not a configured site", site)
			continue
		}
		rc, err := restConfigFor(raw, m.Context)
		if err != nil {
			missing[m.Context] = err.Error()
			continue
		}
		rc = c.cfg.tuneREST(rc)
		order = append(order, m.Context)
		desired[m.Context] = newMemberCluster(c, m.Context, site, fingerprintConfig(site, rc), rc)
	}

	c.mu.Lock()
	var stop []*memberCluster
	for name, mc := range c.clusters {
		d, ok := desired[name]
		if ok && d.fingerprint == mc.fingerprint {
			desired[name] = mc // unchanged: keep it running
			continue
		}
		stop = append(stop, mc)
	}
	var start []*memberCluster
	for name, d := range desired {
		if c.clusters[name] != d {
			start = append(start, d)
		}
	}
	c.clusters, c.order, c.missing = desired, order, missing
	ctx := c.runCtx
	c.mu.Unlock()

	for _, mc := range stop {
		if d := desired[mc.name]; d != nil {
			// new settings: the new watchers start from the old caches,
			// which serve until their own have synced
			mc.mu.Lock()
			set, st := mc.active, mc.status
			mc.active = nil
			mc.mu.Unlock()
			d.mu.Lock()
			d.active = set
			d.status.Synced, d.status.LastSync = st.Synced, st.LastSync
			d.status.Error = "connection settings changed: not synced yet"
			d.mu.Unlock()
		}
		mc.stop()
		if desired[mc.name] == nil {
			c.metrics.forgetCluster(mc.name)
			c.log.Info("member cluster removed", "cluster", mc.name)
		} else {
			c.log.Info("member cluster settings changed: restarting its watchers", "cluster", mc.name)
		}
	}
	if ctx != nil {
		for _, mc := range start {
			c.log.Info("member cluster added", "cluster", mc.name, "site", mc.site)
			mc.start(ctx)
		}
	}
	for name, why := range missing {
		c.log.Warn("member cluster not watched", "cluster", name, "reason", why)
	}
	c.markDirty()
	return nil
}

// Rebuild asks for a rebuild now (debounced like any change), for example
// after this process became the leader, so that the policies' status is
// written. A rebuild whose result did not change delivers no build.
func (c *Controller) Rebuild() { c.markDirty() }

// Status returns the state of every configured member cluster, in
// configuration order, then the ones that cannot be watched (with the
// reason in Error).
func (c *Controller) Status() []ClusterStatus {
	c.mu.Lock()
	var mcs []*memberCluster
	for _, n := range c.order {
		mcs = append(mcs, c.clusters[n])
	}
	missing := make(map[string]string, len(c.missing))
	for k, v := range c.missing {
		missing[k] = v
	}
	c.mu.Unlock()
	out := make([]ClusterStatus, 0, len(mcs)+len(missing))
	for _, mc := range mcs {
		out = append(out, mc.snapshotStatus())
	}
	for _, n := range sortedKeys(missing) {
		// not watched: nothing of it is served, last-known or not
		out = append(out, ClusterStatus{Name: n, Error: missing[n]})
	}
	return out
}

// PolicyClusterStatus reports on the policy cluster: Synced once the
// policies are known, Error the last discovery problem.
func (c *Controller) PolicyClusterStatus() ClusterStatus {
	pc := c.policy
	synced := pc.synced()
	pc.mu.Lock()
	defer pc.mu.Unlock()
	st := ClusterStatus{Name: "policy", Synced: synced, Error: pc.err, Stale: !synced || pc.err != ""}
	for gvr := range pc.informers {
		st.Resources = append(st.Resources, gvr.Resource)
	}
	slices.Sort(st.Resources)
	return st
}

// PolicyState is one policy object's verdict in the last build, as its
// status says it (the Accepted condition's reason and message).
type PolicyState struct {
	Kind     string `json:"kind"`
	Name     string `json:"name"`
	Accepted bool   `json:"accepted"`
	Reason   string `json:"reason"`
	Message  string `json:"message"`
}

func policyStates(ps map[PolicyKey]PolicyStatus) []PolicyState {
	out := make([]PolicyState, 0, len(ps))
	for k, st := range ps {
		out = append(out, PolicyState{Kind: k.Kind, Name: k.Name, Accepted: st.Accepted, Reason: st.Reason, Message: st.Message})
	}
	slices.SortFunc(out, func(a, b PolicyState) int { return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name)) })
	return out
}

// Policies are the verdicts of the last build on every GlobalPolicy and
// HostPolicy, sorted by kind and name; empty before the first build.
func (c *Controller) Policies() []PolicyState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]PolicyState{}, c.policies...)
}

// Last returns a copy of the last delivered build, or nil before the first.
func (c *Controller) Last() *Build {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil {
		return nil
	}
	b := c.last.clone()
	return &b
}

// Run starts the watchers and delivers builds to Config.OnBuild until ctx
// ends. The first build waits for every cluster's caches, at most
// InitialSyncTimeout. Run returns nil when ctx ends; it may be called
// once.
func (c *Controller) Run(ctx context.Context) error {
	c.mu.Lock()
	if c.running {
		c.mu.Unlock()
		return errors.New("kube: Run called twice")
	}
	c.running = true
	c.runCtx = ctx
	c.events.start()
	defer c.events.stop()
	// started under the lock, so that a concurrent Reload either sees
	// runCtx and starts its new clusters itself, or swaps its clusters in
	// before these are started
	for _, n := range c.order {
		mc := c.clusters[n]
		c.log.Info("member cluster added", "cluster", mc.name, "site", mc.site)
		mc.start(ctx)
	}
	c.mu.Unlock()

	var wg sync.WaitGroup
	wg.Go(func() { c.policy.run(ctx) })
	wg.Go(func() { c.resolver.run(ctx) })
	c.loop(ctx)

	c.mu.Lock()
	var mcs []*memberCluster
	for _, mc := range c.clusters {
		mcs = append(mcs, mc)
	}
	c.mu.Unlock()
	for _, mc := range mcs {
		mc.stop()
	}
	wg.Wait()
	c.policy.wg.Wait()
	return nil
}

// initialSynced reports whether the policies and every cluster's caches
// are there.
func (c *Controller) initialSynced() bool {
	if !c.policy.synced() {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, mc := range c.clusters {
		if !mc.snapshotStatus().Synced {
			return false
		}
	}
	return true
}

// loop is the level-triggered, debounced rebuild loop (the external-dns
// controller habit): a change only marks the Controller dirty; a rebuild
// reads every cache after Debounce of quiet, or MaxDelay after the first
// change of a burst at the latest.
func (c *Controller) loop(ctx context.Context) {
	deadline := time.NewTimer(c.opts.initialSync)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
wait:
	for !c.initialSynced() {
		select {
		case <-ctx.Done():
			tick.Stop()
			return
		case <-deadline.C:
			c.log.Warn("first build before every cluster synced", "timeout", c.opts.initialSync)
			break wait
		case <-tick.C:
		}
	}
	tick.Stop()
	// drain the signals of the initial sync
	select {
	case <-c.dirty:
	default:
	}
	c.rebuild(ctx)

	quiet := time.NewTimer(time.Hour)
	quiet.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.dirty:
		}
		first := time.Now()
		quiet.Reset(c.opts.debounce)
	burst:
		for {
			select {
			case <-ctx.Done():
				quiet.Stop()
				return
			case <-c.dirty:
				left := c.opts.maxDelay - time.Since(first)
				if left <= 0 {
					quiet.Stop()
					break burst
				}
				quiet.Reset(min(c.opts.debounce, left))
			case <-quiet.C:
				break burst
			}
		}
		c.rebuild(ctx)
	}
}

// input snapshots the caches.
func (c *Controller) input() *Input {
	c.mu.Lock()
	var mcs []*memberCluster
	for _, n := range c.order {
		mcs = append(mcs, c.clusters[n])
	}
	c.mu.Unlock()
	in := &Input{
		Zones:              c.cfg.Zones,
		Sites:              c.cfg.Sites,
		DefaultPolicy:      c.cfg.DefaultPolicy,
		DefaultHealthCheck: c.cfg.DefaultHealthCheck,
		LastAccepted:       c.lastAccepted,
		Resolved:           c.resolver.snapshot(),
	}
	for _, mc := range mcs {
		co := mc.objects()
		c.metrics.objects(&co)
		in.Clusters = append(in.Clusters, co)
	}
	in.GlobalPolicies, in.HostPolicies = c.policy.policies()
	return in
}

func (c *Controller) rebuild(ctx context.Context) {
	start := time.Now()
	in := c.input()
	out := Plan(in)
	c.metrics.rebuilds.Inc()
	c.metrics.rebuildSeconds.Observe(time.Since(start).Seconds())
	c.lastAccepted = out.Accepted
	c.resolver.setWanted(out.Resolve)

	var stale []string
	for _, st := range c.Status() {
		if st.Stale {
			stale = append(stale, st.Name)
		}
	}
	slices.Sort(stale)
	b := Build{Services: out.Services, Readiness: out.Readiness, Capacity: out.Capacity, Stale: stale, Problems: out.Problems}
	if b.Services == nil {
		b.Services = []gslb.Service{}
	}
	c.metrics.services.Set(float64(len(b.Services)))
	c.metrics.outsideZones.Set(float64(out.OutsideZones))
	c.metrics.problems.Set(float64(len(out.Problems)))
	c.policyMetrics(out.Policies)
	c.logProblems(out.Problems)

	c.mu.Lock()
	c.policies = policyStates(out.Policies)
	prev := c.last
	changed := prev == nil || !reflect.DeepEqual(prev.Services, b.Services) || !maps.Equal(prev.Readiness, b.Readiness) ||
		!maps.Equal(prev.Capacity, b.Capacity) ||
		!slices.Equal(prev.Stale, b.Stale) || !slices.Equal(prev.Problems, b.Problems)
	if changed {
		c.generation++
		b.Generation = c.generation
		c.last = &b
	}
	c.mu.Unlock()
	if changed {
		c.metrics.generation.Set(float64(b.Generation))
		c.log.Debug("build", "generation", b.Generation, "services", len(b.Services), "stale", stale, "took", time.Since(start))
		if c.cfg.OnBuild != nil {
			c.cfg.OnBuild(b.clone())
		}
	}

	if c.opts.mayWrite() {
		if !c.policy.writeStatus(ctx, out.Policies) && ctx.Err() == nil {
			// retry later: a rebuild reads the statuses again
			time.AfterFunc(c.opts.probeInterval, c.markDirty)
		}
	}
}

func (c *Controller) policyMetrics(ps map[PolicyKey]PolicyStatus) {
	counts := map[[2]string]int{}
	for k, st := range ps {
		counts[[2]string{k.Kind, fmt.Sprint(st.Accepted)}]++
	}
	for _, kind := range []string{KindGlobalPolicy, KindHostPolicy} {
		for _, acc := range []string{"true", "false"} {
			c.metrics.policies.WithLabelValues(kind, acc).Set(float64(counts[[2]string{kind, acc}]))
		}
	}
}

// logProblems logs the problems that are new since the last build.
func (c *Controller) logProblems(ps []string) {
	for _, p := range ps {
		if _, found := slices.BinarySearch(c.lastProblems, p); !found {
			c.log.Warn("kubernetes source problem", "problem", p)
		}
	}
	c.lastProblems = ps
}
