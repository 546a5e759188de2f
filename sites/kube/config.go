package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/klog/v2"

	"github.com/meridian-gslb/meridian/gslb"
)

// ClusterConfig maps one kubeconfig context to a Meridian site.
type ClusterConfig struct {
	// Context is the kubeconfig context, and the cluster's name in
	// policies (spec.clusters, spec.sites[].cluster) and in Status.
	Context string `json:"context"`
	// Site is the Meridian site the cluster's members belong to; empty:
	// the context name.
	Site string `json:"site,omitempty"`
}

// Config configures a Controller. Zero durations take the documented
// defaults.
type Config struct {
	// Kubeconfig is the member clusters' kubeconfig file: one context per
	// member cluster. Reload re-reads it.
	Kubeconfig string
	// Clusters maps contexts to sites. Empty: every context of the file,
	// each its own site named after the context.
	Clusters []ClusterConfig
	// Namespaces limits the watched Ingresses, Services, EndpointSlices
	// and routes to these namespaces (one watch per namespace); empty:
	// every namespace.
	Namespaces []string
	// LabelSelector limits the sources to the objects it matches:
	// Ingresses and routes server side, LoadBalancer Services client side
	// (every Service is watched, as a possible backend). Gateways,
	// EndpointSlices and Namespaces are not filtered. Empty: all.
	LabelSelector string

	// PolicyKubeconfig and PolicyContext locate the policy (GSLB)
	// cluster, where the GlobalPolicy and HostPolicy objects and the
	// leader Lease live. Both empty: the in-cluster configuration.
	// PolicyKubeconfig empty with a PolicyContext: Kubeconfig.
	PolicyKubeconfig string
	PolicyContext    string
	// PolicyRESTConfig, when set, is used instead of the two fields above
	// (tests, or a caller that already has one).
	PolicyRESTConfig *rest.Config

	// Zones are the authoritative zones: only FQDNs inside one become
	// services.
	Zones []string
	// Sites are the configured site names. When not empty, a cluster
	// whose site is not one of them is not watched (it would not
	// validate), and third-party members must name one of them.
	Sites []string
	// DefaultPolicy is the base policy of every service; a GlobalPolicy,
	// annotations and a HostPolicy override its fields. The caller
	// normally passes the config's defaults (with gslb defaults applied).
	DefaultPolicy gslb.Policy
	// DefaultHealthCheck is the base health check template (nil: members
	// are not probed unless a policy sets a check).
	DefaultHealthCheck *gslb.HealthCheck

	// OnBuild receives every new build (only when its content changed),
	// from one goroutine, in order. It must not block for long.
	OnBuild func(Build)
	// WriteStatus, when set, says whether this process may write the
	// policies' status and Events now (for example: only while leading).
	// Nil: always.
	WriteStatus func() bool

	// EventNamespace, when set, turns on Kubernetes Events in the policy
	// cluster, all filed in this namespace: pass the pod's own (the chart
	// sets POD_NAMESPACE from the downward API), where the chart's Role
	// lets the leader create them. Policies are cluster-scoped, and
	// without a namespace the apiserver would file their Events in
	// "default". Empty: no Events.
	EventNamespace string
	// EventComponent is the Events' reporting component
	// (source.component); default "meridian".
	EventComponent string
	// EventPod is this process's pod name (the chart's POD_NAME): member
	// cluster Events regard that Pod, and it is the Events' reporting
	// instance. Default: the host name, which is the pod's name in a
	// pod.
	EventPod string

	// Debounce is the quiet period after a change before a rebuild
	// (default 150ms); MaxDelay bounds the wait under a constant stream
	// of changes (default 1s).
	Debounce time.Duration
	MaxDelay time.Duration
	// InitialSyncTimeout bounds how long the first build waits for every
	// cluster's caches (default 30s); unreachable clusters then count as
	// stale.
	InitialSyncTimeout time.Duration
	// ProbeInterval is how often each cluster's apiserver is probed
	// (default 5s); ProbeTimeout bounds a probe (default 5s). While a
	// cluster is unreachable the wait doubles up to MaxBackoff (default
	// 30s).
	ProbeInterval time.Duration
	ProbeTimeout  time.Duration
	MaxBackoff    time.Duration
	// SyncTimeout bounds the wait for a new informer set to sync
	// (default 60s).
	SyncTimeout time.Duration
	// DiscoveryInterval is how often a cluster is asked again which
	// Gateway API kinds (and, in the policy cluster, which Meridian CRDs)
	// it serves (default 1m).
	DiscoveryInterval time.Duration
	// Resolve looks up the addresses of load-balancer host names for
	// policies with hostnameVIPs: resolve (default: the system resolver),
	// every ResolveInterval (default 30s). Until a name resolves, it is
	// answered as a CNAME; a failed lookup keeps the last addresses.
	Resolve         func(ctx context.Context, host string) ([]netip.Addr, error)
	ResolveInterval time.Duration

	// QPS and Burst of each client (defaults 50 and 100).
	QPS   float32
	Burst int

	// Logger (default slog.Default()).
	Logger *slog.Logger
}

// options are the Config's durations and hooks with defaults applied.
type options struct {
	debounce, maxDelay, initialSync         time.Duration
	probeInterval, probeTimeout, maxBackoff time.Duration
	syncTimeout, discoveryInterval          time.Duration
	namespaces                              []string
	labelSelector                           string
	selector                                labels.Selector // nil: everything
	mayWrite                                func() bool     // WriteStatus, default always
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func (c *Config) options() options {
	o := options{
		debounce:          orDefault(c.Debounce, 150*time.Millisecond),
		maxDelay:          orDefault(c.MaxDelay, time.Second),
		initialSync:       orDefault(c.InitialSyncTimeout, 30*time.Second),
		probeInterval:     orDefault(c.ProbeInterval, 5*time.Second),
		probeTimeout:      orDefault(c.ProbeTimeout, 5*time.Second),
		maxBackoff:        orDefault(c.MaxBackoff, 30*time.Second),
		syncTimeout:       orDefault(c.SyncTimeout, 60*time.Second),
		discoveryInterval: orDefault(c.DiscoveryInterval, time.Minute),
		namespaces:        slices.Clone(c.Namespaces),
		labelSelector:     c.LabelSelector,
	}
	if len(o.namespaces) == 0 {
		o.namespaces = []string{""}
	}
	if o.mayWrite = c.WriteStatus; o.mayWrite == nil {
		o.mayWrite = func() bool { return true }
	}
	if c.LabelSelector != "" {
		o.selector, _ = labels.Parse(c.LabelSelector) // checked by validate
	}
	o.maxDelay = max(o.maxDelay, o.debounce)
	o.maxBackoff = max(o.maxBackoff, o.probeInterval)
	return o
}

// validate checks what can be checked before the kubeconfig is read.
func (c *Config) validate() error {
	var errs []error
	if c.Kubeconfig == "" {
		errs = append(errs, errors.New("kube: Kubeconfig (the member clusters' kubeconfig file) is required"))
	}
	seen := map[string]bool{}
	for i, cl := range c.Clusters {
		if cl.Context == "" {
			errs = append(errs, fmt.Errorf("kube: clusters[%d]: context is required", i))
		}
		if seen[cl.Context] {
			errs = append(errs, fmt.Errorf("kube: clusters[%d]: context %q is listed twice", i, cl.Context))
		}
		seen[cl.Context] = true
	}
	for i, ns := range c.Namespaces {
		if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("kube: namespaces[%d]: %q: %v", i, ns, msgs))
		}
	}
	if c.LabelSelector != "" {
		if _, err := labels.Parse(c.LabelSelector); err != nil {
			errs = append(errs, fmt.Errorf("kube: label selector: %w", err))
		}
	}
	if len(c.Zones) == 0 {
		errs = append(errs, errors.New("kube: at least one zone is required"))
	}
	if c.EventNamespace != "" {
		if msgs := validation.IsDNS1123Label(c.EventNamespace); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("kube: event namespace %q: %v", c.EventNamespace, msgs))
		}
	}
	return errors.Join(errs...)
}

// tuneREST sets Meridian's client defaults on a REST config.
func (c *Config) tuneREST(rc *rest.Config) *rest.Config {
	rc = rest.CopyConfig(rc)
	rc.QPS = c.QPS
	if rc.QPS == 0 {
		rc.QPS = 50
	}
	rc.Burst = c.Burst
	if rc.Burst == 0 {
		rc.Burst = 100
	}
	if rc.UserAgent == "" {
		rc.UserAgent = "meridian"
	}
	return rc
}

// restConfigFor builds the REST config of one context of a kubeconfig.
func restConfigFor(raw *clientcmdapi.Config, context string) (*rest.Config, error) {
	if _, ok := raw.Contexts[context]; !ok {
		return nil, fmt.Errorf("context %q is not in the kubeconfig", context)
	}
	return clientcmd.NewNonInteractiveClientConfig(*raw, context, &clientcmd.ConfigOverrides{}, nil).ClientConfig()
}

// policyREST returns the policy cluster's REST config.
func (c *Config) policyREST() (*rest.Config, error) {
	if c.PolicyRESTConfig != nil {
		return c.tuneREST(c.PolicyRESTConfig), nil
	}
	path := c.PolicyKubeconfig
	if path == "" && c.PolicyContext != "" {
		path = c.Kubeconfig
	}
	if path == "" {
		rc, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("kube: policy cluster: in-cluster config: %w", err)
		}
		return c.tuneREST(rc), nil
	}
	raw, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("kube: policy cluster: %w", err)
	}
	ctx := c.PolicyContext
	if ctx == "" {
		ctx = raw.CurrentContext
	}
	rc, err := restConfigFor(raw, ctx)
	if err != nil {
		return nil, fmt.Errorf("kube: policy cluster: %w", err)
	}
	return c.tuneREST(rc), nil
}

// RouteClientLogs sends client-go's logs (klog: reflector warnings,
// leader election events) to log, so a process writes one log format.
// klog is process-wide: call it once, from main.
func RouteClientLogs(log *slog.Logger) {
	klog.SetSlogLogger(log.With("component", "client-go"))
}
