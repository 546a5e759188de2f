package control

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/sites"
	"github.com/meridian-gslb/meridian/sites/kube"
)

// Kube is the Kubernetes leader: it builds services from the member clusters (sites/kube) and
// serves them beside the file's. Every replica watches and serves its own
// builds, so a standby has warm caches and answers correctly; with leader
// election only the Lease holder publishes to the other sites and writes
// the policies' status.
type Kube struct {
	ctrl    *kube.Controller
	elector *kube.Elector // nil: no election, this process leads
	pub     *Publisher
	gossip  *Gossip // nil when standalone
	log     *slog.Logger
	leading atomic.Bool
}

// newKube prepares the controller and, when configured, the elector.
func newKube(l *config.Loaded, pub *Publisher, g *Gossip, log *slog.Logger) (*Kube, error) {
	kc := &l.Config.Kubernetes
	k := &Kube{pub: pub, gossip: g, log: log.With("component", "kube")}
	kube.RouteClientLogs(log)
	var zones, siteNames []string
	for _, z := range l.State.Zones {
		zones = append(zones, z.Name)
	}
	for _, s := range l.State.Sites {
		siteNames = append(siteNames, s.Name)
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
		DefaultPolicy:      l.KubePolicy,
		DefaultHealthCheck: l.DefaultCheck,
		OnBuild:            k.built,
		WriteStatus:        k.leading.Load,
		EventNamespace:     kc.EventsNamespace,
		Logger:             log,
	})
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	k.ctrl = ctrl
	le := kc.LeaderElection
	if !le.Enabled() {
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

func kubeClusters(kc *config.KubernetesConfig) []kube.ClusterConfig {
	out := make([]kube.ClusterConfig, 0, len(kc.Clusters))
	for _, c := range kc.Clusters {
		out = append(out, kube.ClusterConfig{Context: c.Context, Site: c.Site})
	}
	return out
}

// run watches until ctx ends; it never fails the process: an unreachable
// cluster is retried by the controller and keeps its last-known members.
func (k *Kube) run(ctx context.Context) {
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
func (k *Kube) built(b kube.Build) {
	st, err := k.pub.publishKube(&b)
	if err != nil {
		k.log.Error("kubernetes build not served; keeping the previous one", "generation", b.Generation, "error", config.OneLine(err))
		return
	}
	k.log.Info("kubernetes build served", "build", b.Generation, "services", len(b.Services), "stale_clusters", b.Stale, "generation", st.Generation)
	k.publish(st)
}

// publish hands st to the gossip when this process leads.
func (k *Kube) publish(st *gslb.State) {
	if k.gossip == nil || k.gossip.role != sites.RoleLeader || !k.leading.Load() {
		return
	}
	k.gossip.publish(st)
}

func (k *Kube) startedLeading(ctx context.Context, term uint64) {
	k.leading.Store(true)
	k.log.Info("leading", "identity", k.elector.Identity(), "term", term)
	if k.gossip != nil {
		k.gossip.raiseTerm(term)
	}
	k.ctrl.Rebuild() // writes the policies' status, now as the leader
	_, st := k.pub.Current()
	k.publish(st)
}

func (k *Kube) stoppedLeading() {
	k.leading.Store(false)
	k.log.Warn("no longer leading; serving the last build, not publishing it")
}

// reload follows a change of the configuration: the kubeconfig file may
// have gained or lost contexts, the mapping may have changed.
func (k *Kube) reload(l *config.Loaded) {
	if err := k.ctrl.SetClusters(kubeClusters(&l.Config.Kubernetes)); err != nil {
		k.log.Error("kubernetes clusters not changed", "error", err)
	}
	if err := k.ctrl.Reload(); err != nil {
		k.log.Error("member kubeconfig not reloaded; keeping the clusters watched", "error", err)
	}
}

func (k *Kube) collectors() []prometheus.Collector { return k.ctrl.Collectors() }

// KubeStatus is the state of the Kubernetes leader (GET /api/v1/kubernetes).
type KubeStatus struct {
	Leading  bool                 `json:"leading"`
	Election bool                 `json:"election"`
	Identity string               `json:"identity,omitempty"`
	Leader   string               `json:"leader,omitempty"`
	Term     uint64               `json:"term,omitempty"`
	Build    uint64               `json:"build"`
	Stale    []string             `json:"stale_clusters"`
	Problems []string             `json:"problems"`
	Clusters []kube.ClusterStatus `json:"clusters"`
	// Policies are the last build's verdicts on the policy objects.
	Policies []kube.PolicyState `json:"policies"`
}

// Status reports the election, the last build and every member cluster.
func (k *Kube) Status() KubeStatus {
	st := KubeStatus{Leading: k.leading.Load(), Election: k.elector != nil, Clusters: k.ctrl.Status(), Stale: []string{}, Problems: []string{}, Policies: k.ctrl.Policies()}
	if k.elector != nil {
		st.Identity, st.Leader, st.Term = k.elector.Identity(), k.elector.Leader(), k.elector.Term()
	}
	if b := k.ctrl.Last(); b != nil {
		st.Build, st.Stale, st.Problems = b.Generation, append(st.Stale, b.Stale...), append(st.Problems, b.Problems...)
	}
	return st
}

// StaleSites are the sites of the member clusters the last build could
// not reach (their members are the last-known ones), and those clusters.
func (k *Kube) StaleSites() (sites map[string]bool, clusters []string) {
	b := k.ctrl.Last()
	if b == nil || len(b.Stale) == 0 {
		return nil, nil
	}
	sites = map[string]bool{}
	for _, cl := range k.ctrl.Status() {
		if slices.Contains(b.Stale, cl.Name) {
			sites[cl.Site] = true
		}
	}
	return sites, b.Stale
}

// hasBuild reports whether a first build exists.
func (k *Kube) hasBuild() bool { return k.ctrl.Last() != nil }
