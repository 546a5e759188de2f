package config

import (
	"fmt"
	"regexp"
	"time"

	"github.com/meridian-gslb/meridian/gslb"
)

// KubernetesConfig is the kubernetes key: build services from what the
// member clusters expose (Ingress, LoadBalancer Service, Gateway API
// routes) and from the GlobalPolicy and HostPolicy objects of the GSLB
// cluster. The services it builds are served beside the file's own, by a
// standalone process (one cluster, no gossip) or a leader (published to
// every site). Restart-only, except that a change of the member
// kubeconfig file starts or stops clusters.
type KubernetesConfig struct {
	// Kubeconfig holds one context per member cluster (a mounted Secret).
	Kubeconfig string `mapstructure:"kubeconfig" json:"kubeconfig,omitempty"`
	// Clusters maps contexts to sites; empty: every context, each the
	// site of its name.
	Clusters []KubeClusterConfig `mapstructure:"clusters" json:"clusters,omitempty"`
	// Namespaces and LabelSelector limit what is watched (server side).
	Namespaces    []string `mapstructure:"namespaces" json:"namespaces,omitempty"`
	LabelSelector string   `mapstructure:"label_selector" json:"label_selector,omitempty"`
	// PolicyKubeconfig and PolicyContext locate the GSLB cluster (the
	// policies and the leader Lease); both empty: in-cluster.
	PolicyKubeconfig string `mapstructure:"policy_kubeconfig" json:"policy_kubeconfig,omitempty"`
	PolicyContext    string `mapstructure:"policy_context" json:"policy_context,omitempty"`
	// DefaultPolicy is the policy of built services that no GlobalPolicy,
	// annotation or HostPolicy sets otherwise (the keys of
	// services[].policy).
	DefaultPolicy PolicyConfig `mapstructure:"default_policy" json:"default_policy"`
	// LeaderElection: with two or more replicas, a Lease decides which
	// one publishes to the other sites and writes the policies' status.
	LeaderElection LeaderElectionConfig `mapstructure:"leader_election" json:"leader_election"`
	// EventsNamespace turns on Kubernetes Events (policy Accepted and
	// Rejected, member cluster stale and fresh), filed in this namespace
	// of the GSLB cluster: the pod's own, where its Role allows them.
	// Empty: no Events.
	EventsNamespace string `mapstructure:"events_namespace" json:"events_namespace,omitempty"`
}

// KubeClusterConfig maps one kubeconfig context to a site.
type KubeClusterConfig struct {
	Context string `mapstructure:"context" json:"context"`
	Site    string `mapstructure:"site" json:"site,omitempty"`
}

// LeaderElectionConfig is kubernetes.leader_election: on when
// lease_namespace is set.
type LeaderElectionConfig struct {
	// LeaseNamespace and LeaseName locate the Lease in the GSLB cluster
	// (name default "meridian-leader").
	LeaseNamespace string `mapstructure:"lease_namespace" json:"lease_namespace,omitempty"`
	LeaseName      string `mapstructure:"lease_name" json:"lease_name,omitempty"`
	// Identity must be unique per process; default the host name and a
	// random suffix.
	Identity      string   `mapstructure:"identity" json:"identity,omitempty"`
	LeaseDuration Duration `mapstructure:"lease_duration" json:"lease_duration,omitempty"`
	RenewDeadline Duration `mapstructure:"renew_deadline" json:"renew_deadline,omitempty"`
	RetryPeriod   Duration `mapstructure:"retry_period" json:"retry_period,omitempty"`
}

// Enabled reports whether a Lease decides the leader.
func (le *LeaderElectionConfig) Enabled() bool { return le.LeaseNamespace != "" }

// Enabled reports whether services are built from Kubernetes.
func (k *KubernetesConfig) Enabled() bool { return k.Kubeconfig != "" }

// namespaceRE is a Kubernetes namespace name, an RFC 1123 label.
var namespaceRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// checkKubernetes checks the kubernetes section against the file's
// sites. st must have its defaults applied.
func (c *Config) checkKubernetes(st *gslb.State, p *problems) gslb.Policy {
	k := &c.Kubernetes
	if !k.Enabled() {
		if len(k.Clusters) > 0 || k.LeaderElection.Enabled() {
			p.add("kubernetes.kubeconfig", "required: the member clusters' kubeconfig")
		}
		return gslb.Policy{}
	}
	if c.Gossip.Follower() {
		p.add("kubernetes", "a follower serves the leader's state; watch Kubernetes on the leader")
	}
	p.existingFile("kubernetes.kubeconfig", k.Kubeconfig)
	seen := map[string]bool{}
	for i, cl := range k.Clusters {
		path := fmt.Sprintf("kubernetes.clusters[%d]", i)
		switch {
		case cl.Context == "":
			p.add(path+".context", "required")
		case seen[cl.Context]:
			p.add(path+".context", "context %q is mapped twice", cl.Context)
		}
		seen[cl.Context] = true
		site := cl.Site
		if site == "" {
			site = cl.Context
		}
		if FindSite(st, site) == "" {
			p.add(path+".site", "unknown site %q (add it to sites, with its location)", site)
		}
	}
	le := k.LeaderElection
	for _, d := range []struct {
		key string
		v   Duration
	}{{"lease_duration", le.LeaseDuration}, {"renew_deadline", le.RenewDeadline}, {"retry_period", le.RetryPeriod}} {
		if d.v < 0 {
			p.add("kubernetes.leader_election."+d.key, "must not be negative")
		}
	}
	if le.LeaseDuration > 0 && le.RenewDeadline > 0 && le.RenewDeadline >= le.LeaseDuration {
		p.add("kubernetes.leader_election.renew_deadline", "must be shorter than lease_duration (%s)", time.Duration(le.LeaseDuration))
	}
	if ns := k.EventsNamespace; ns != "" && !namespaceRE.MatchString(ns) {
		p.add("kubernetes.events_namespace", "%q is not a namespace name (RFC 1123 label: lower-case letters, digits and '-', at most 63)", ns)
	}
	// The default policy is a service policy like any other: converted
	// and judged by gslb's policy rule, its errors naming its keys.
	pol := k.DefaultPolicy.toPolicy(p, "kubernetes.default_policy")
	pol.ApplyDefaults()
	sites := map[string]bool{}
	for _, s := range st.Sites {
		sites[s.Name] = true
	}
	p.validated(gslb.WithPathPrefix("kubernetes.default_policy.", pol.Validate(sites)), nil)
	return pol
}
