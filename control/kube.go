package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/sites/kube"
)

// kubeLeader builds services from the member clusters (sites/kube) and
// serves them beside the file's. Every replica watches and serves its own
// builds, so a standby has warm caches and answers correctly; with leader
// election only the Lease holder publishes to the other sites and writes
// the policies' status.
type kubeLeader struct {
	ctrl    *kube.Controller
	elector *kube.Elector // nil: no election, this process leads
	pub     *publisher
	gossip  *gossip // nil when standalone
	log     *slog.Logger
	leading atomic.Bool

	mu   sync.Mutex
	term uint64 // the Lease's term while leading
}

// newKube prepares the controller and, when configured, the elector.
func newKube(l *loaded, pub *publisher, g *gossip, log *slog.Logger) (*kubeLeader, error) {
	kc := &l.config.Kubernetes
	k := &kubeLeader{pub: pub, gossip: g, log: log.With("component", "kube")}
	kube.RouteClientLogs(log)
	var zones, siteNames []string
	for _, z := range l.fileState.Zones {
		zones = append(zones, z.Name)
	}
	for _, s := range l.fileState.Sites {
		siteNames = append(siteNames, s.Name)
	}
	var defCheck *gslb.HealthCheck
	if dc := l.config.Health.DefaultCheck; dc != nil {
		var p problems
		if spec, ok := dc.toSpec(&p, "health.default_check"); ok {
			defCheck = &spec
		}
	}
	ctrl, err := kube.New(kube.Config{
		Kubeconfig:         kc.Kubeconfig,
		Clusters:           kubeClusters(kc),
		Namespaces:         kc.Namespaces,
		LabelSelector:      kc.LabelSelector,
		PolicyKubeconfig:   kc.PolicyKubeconfig,
		PolicyContext:      kc.PolicyContext,
		Zones:              zones,
		Sites:              siteNames,
		DefaultPolicy:      l.kubePolicy,
		DefaultHealthCheck: defCheck,
		OnBuild:            k.built,
		WriteStatus:        k.leading.Load,
		Logger:             log,
	})
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	k.ctrl = ctrl
	le := kc.LeaderElection
	if !le.enabled() {
		k.leading.Store(true)
		return k, nil
	}
	policyKubeconfig := kc.PolicyKubeconfig
	if policyKubeconfig == "" && kc.PolicyContext != "" {
		policyKubeconfig = kc.Kubeconfig
	}
	k.elector, err = kube.NewElector(kube.ElectorConfig{
		Kubeconfig:       policyKubeconfig,
		Context:          kc.PolicyContext,
		Namespace:        le.LeaseNamespace,
		Name:             le.LeaseName,
		Identity:         le.Identity,
		LeaseDuration:    time.Duration(le.LeaseDuration),
		RenewDeadline:    time.Duration(le.RenewDeadline),
		RetryPeriod:      time.Duration(le.RetryPeriod),
		OnStartedLeading: k.startedLeading,
		OnStoppedLeading: k.stoppedLeading,
		Logger:           log,
	})
	if err != nil {
		return nil, fmt.Errorf("kubernetes.leader_election: %w", err)
	}
	return k, nil
}

func kubeClusters(kc *KubernetesConfig) []kube.ClusterConfig {
	out := make([]kube.ClusterConfig, 0, len(kc.Clusters))
	for _, c := range kc.Clusters {
		out = append(out, kube.ClusterConfig{Context: c.Context, Site: c.Site})
	}
	return out
}

// run watches until ctx ends; it never fails the process: an unreachable
// cluster is retried by the controller and keeps its last-known members.
func (k *kubeLeader) run(ctx context.Context) {
	if k.elector != nil {
		go func() {
			if err := k.elector.Run(ctx); err != nil && ctx.Err() == nil {
				k.log.Error("leader election stopped", "error", err)
			}
		}()
	}
	if err := k.ctrl.Run(ctx); err != nil && ctx.Err() == nil {
		k.log.Error("kubernetes watchers stopped", "error", err)
	}
}

// built serves a new build and, while leading, publishes it.
func (k *kubeLeader) built(b kube.Build) {
	st, err := k.pub.publishKube(&b)
	if err != nil {
		k.log.Error("kubernetes build not served; keeping the previous one", "generation", b.Generation, "error", oneLine(err))
		return
	}
	k.log.Info("kubernetes build served", "build", b.Generation, "services", len(b.Services), "stale_clusters", b.Stale, "generation", st.Generation)
	k.publish(st)
}

// publish hands st to the gossip when this process leads.
func (k *kubeLeader) publish(st *gslb.State) {
	if k.gossip == nil || k.gossip.role != "leader" || !k.leading.Load() {
		return
	}
	k.gossip.publish(st)
}

func (k *kubeLeader) startedLeading(ctx context.Context, term uint64) {
	k.mu.Lock()
	k.term = term
	k.mu.Unlock()
	k.leading.Store(true)
	k.log.Info("leading", "identity", k.elector.Identity(), "term", term)
	if k.gossip != nil {
		k.gossip.raiseTerm(term)
	}
	k.ctrl.Rebuild() // writes the policies' status, now as the leader
	k.publish(k.pub.current.Load().state)
}

func (k *kubeLeader) stoppedLeading() {
	k.leading.Store(false)
	k.log.Warn("no longer leading; serving the last build, not publishing it")
}

// reload follows a change of the configuration: the kubeconfig file may
// have gained or lost contexts, the mapping may have changed.
func (k *kubeLeader) reload(l *loaded) {
	if err := k.ctrl.SetClusters(kubeClusters(&l.config.Kubernetes)); err != nil {
		k.log.Error("kubernetes clusters not changed", "error", err)
	}
	if err := k.ctrl.Reload(); err != nil {
		k.log.Error("member kubeconfig not reloaded; keeping the clusters watched", "error", err)
	}
}

func (k *kubeLeader) collectors() []prometheus.Collector { return k.ctrl.Collectors() }

// kubeResponse is GET /api/v1/kubernetes.
type kubeResponse struct {
	Leading  bool                 `json:"leading"`
	Election bool                 `json:"election"`
	Identity string               `json:"identity,omitempty"`
	Leader   string               `json:"leader,omitempty"`
	Term     uint64               `json:"term,omitempty"`
	Build    uint64               `json:"build"`
	Stale    []string             `json:"stale_clusters"`
	Problems []string             `json:"problems"`
	Clusters []kube.ClusterStatus `json:"clusters"`
}

func (a *api) kubernetes(w http.ResponseWriter, _ *http.Request) {
	k := a.kube
	if k == nil {
		writeError(w, http.StatusNotFound, "kubernetes is not configured (the kubernetes section)")
		return
	}
	resp := kubeResponse{Leading: k.leading.Load(), Election: k.elector != nil, Clusters: k.ctrl.Status(), Stale: []string{}, Problems: []string{}}
	if k.elector != nil {
		resp.Identity, resp.Leader, resp.Term = k.elector.Identity(), k.elector.Leader(), k.elector.Term()
	}
	if b := k.ctrl.Last(); b != nil {
		resp.Build, resp.Stale, resp.Problems = b.Generation, append(resp.Stale, b.Stale...), append(resp.Problems, b.Problems...)
	}
	writeJSON(w, http.StatusOK, resp)
}

// withKube returns what l serves with build b: the file's services and
// the built ones (a built name that the file also defines stays the
// file's), each built member's Kubernetes readiness as Member.Unready.
// The result keeps l's version; it must validate as a whole.
func withKube(l *loaded, b *kube.Build) (*loaded, []string, error) {
	st := *l.fileState
	st.Term, st.Generation = l.state.Term, l.state.Generation
	st.Services = slices.Clone(l.fileState.Services)
	var notes []string
	taken := map[string]bool{}
	for _, s := range st.Services {
		taken[s.Name] = true
	}
	for _, svc := range b.Services {
		if taken[svc.Name] {
			notes = append(notes, fmt.Sprintf("%s: defined in the configuration file too; the file's definition is served", svc.Name))
			continue
		}
		svc.Members = slices.Clone(svc.Members)
		for i := range svc.Members {
			m := &svc.Members[i]
			if ready, ok := b.Readiness[gslb.MemberRef{Service: svc.Name, Member: m.ID()}]; ok {
				m.Unready = !ready
			}
		}
		st.Services = append(st.Services, svc)
	}
	slices.SortStableFunc(st.Services[len(l.fileState.Services):], func(a, b gslb.Service) int { return cmp.Compare(a.Name, b.Name) })
	st.ApplyDefaults()
	if err := st.Validate(); err != nil {
		return nil, notes, err
	}
	next := *l
	next.state = &st
	return &next, notes, nil
}
