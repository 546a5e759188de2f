package kube

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	discoveryv1client "k8s.io/client-go/kubernetes/typed/discovery/v1"
	networkingv1client "k8s.io/client-go/kubernetes/typed/networking/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// ClusterStatus is the state of one member cluster's watchers.
type ClusterStatus struct {
	Name string `json:"name"`
	Site string `json:"site"`
	// Stale: the cluster's objects are last-known, not current (the
	// apiserver is unreachable or the caches have not synced since).
	Stale bool `json:"stale"`
	// Synced: the caches have been filled at least once.
	Synced bool `json:"synced"`
	// LastSync is the last time the caches were known to be current.
	LastSync time.Time `json:"last_sync,omitzero"`
	// Error is the last problem, empty when fresh.
	Error string `json:"error,omitempty"`
	// GatewayKinds are the Gateway API kinds the cluster serves and
	// Meridian watches there.
	GatewayKinds []string `json:"gateway_kinds,omitempty"`
	// Resources are the policy resources watched (PolicyClusterStatus
	// only): globalpolicies, hostpolicies.
	Resources []string `json:"resources,omitempty"`
}

// The kinds a member cluster's informers cache.
const (
	kindEndpointSlice = "EndpointSlice"
	kindNamespace     = "Namespace"
	kindGateway       = "Gateway"
)

const gatewayGroup = gatewayv1.GroupName

// gatewayKinds are watched when the cluster serves them: resource name,
// kind, versions to try in order.
var gatewayKinds = []struct {
	resource, kind string
	versions       []string
	slim           cache.TransformFunc
}{
	{"gateways", kindGateway, []string{"v1"}, slimGateway},
	{"httproutes", KindHTTPRoute, []string{"v1"}, slimHTTPRoute},
	{"grpcroutes", KindGRPCRoute, []string{"v1"}, slimGRPCRoute},
	{"tlsroutes", KindTLSRoute, []string{"v1", "v1alpha2"}, slimTLSRoute},
}

// memberCluster runs the watchers of one member cluster.
type memberCluster struct {
	name, site  string
	fingerprint string // of the connection settings, to see kubeconfig changes
	cfg         *rest.Config
	ctl         *Controller
	log         *slog.Logger

	cancel context.CancelFunc
	done   chan struct{}
	kick   chan struct{} // probe now
	raw    rest.Interface

	watchErr string // last persistent watch error, under mu
	reported bool   // the last cluster Event said stale, under mu

	mu     sync.Mutex
	active *informerSet // nil until the first sync
	status ClusterStatus
}

// informerSet is one generation of a cluster's informers. A new set
// replaces the old one only once it has synced, so the last-known objects
// stay until fresh ones are there.
type informerSet struct {
	wg        sync.WaitGroup // the informers' goroutines
	cancel    context.CancelFunc
	informers map[string][]cache.SharedIndexInformer
	gateway   map[string]string // kind -> served version
}

// stop ends the informers and waits for them. Never call it with mc.mu
// held: a reflector may report an error meanwhile (watchError).
func (s *informerSet) stop() {
	if s != nil {
		s.cancel()
		s.wg.Wait()
	}
}

func newMemberCluster(ctl *Controller, name, site, fingerprint string, cfg *rest.Config) *memberCluster {
	return &memberCluster{
		name: name, site: site, fingerprint: fingerprint, cfg: cfg, ctl: ctl,
		log:    ctl.log.With("cluster", name),
		done:   make(chan struct{}),
		kick:   make(chan struct{}, 1),
		status: ClusterStatus{Name: name, Site: site, Stale: true, Error: "not synced yet"},
	}
}

func (mc *memberCluster) start(parent context.Context) {
	if mc.cancel != nil {
		return // already started
	}
	ctx, cancel := context.WithCancel(parent)
	mc.cancel = cancel
	go func() {
		defer close(mc.done)
		mc.run(ctx)
	}()
}

// stop ends the watchers and waits for them.
func (mc *memberCluster) stop() {
	if mc.cancel != nil {
		mc.cancel()
		<-mc.done
	}
	mc.mu.Lock()
	set := mc.active
	mc.active = nil
	mc.mu.Unlock()
	set.stop()
}

func (mc *memberCluster) snapshotStatus() ClusterStatus {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	st := mc.status
	st.GatewayKinds = slices.Clone(st.GatewayKinds)
	return st
}

func (mc *memberCluster) setStatus(f func(*ClusterStatus)) {
	mc.mu.Lock()
	before := mc.status.Stale
	f(&mc.status)
	after := mc.status
	report := staleChange(&mc.reported, after)
	mc.mu.Unlock()
	mc.ctl.metrics.clusterStatus(after)
	if before != after.Stale {
		if after.Stale {
			mc.log.Warn("member cluster is stale: serving its last-known objects", "error", after.Error)
		} else {
			mc.log.Info("member cluster is fresh")
		}
		mc.ctl.markDirty()
	}
	if report {
		mc.ctl.events.cluster(after)
	}
}

// staleChange says whether a status change is worth an Event, and
// records what was reported: each change between stale and fresh. A
// cluster starts as neither: its first sync is no news (every start has
// one), while failing before it is.
func staleChange(reported *bool, after ClusterStatus) bool {
	if after.Stale == *reported {
		return false
	}
	*reported = after.Stale
	return true
}

func (mc *memberCluster) fail(err error) {
	mc.ctl.metrics.clusterErrors.WithLabelValues(mc.name).Inc()
	mc.setStatus(func(s *ClusterStatus) {
		s.Stale = true
		s.Error = err.Error()
	})
}

// run keeps the cluster's informers current: it probes the apiserver,
// starts a fresh informer set at first contact and after every outage,
// and retries with exponential backoff while the cluster is unreachable.
func (mc *memberCluster) run(ctx context.Context) {
	o := &mc.ctl.opts
	backoff := o.probeInterval
	needRestart := true
	var lastDiscovery time.Time
	var served map[string]string
	for {
		err := mc.probe(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			mc.fail(fmt.Errorf("apiserver unreachable: %w", err))
			needRestart = true
		default:
			if needRestart || time.Since(lastDiscovery) >= o.discoveryInterval {
				kinds, derr := mc.discoverGateway(ctx)
				if derr != nil {
					mc.fail(fmt.Errorf("discovery: %w", derr))
					break
				}
				lastDiscovery = time.Now()
				if served != nil && !mapsEqual(kinds, served) {
					mc.log.Info("Gateway API kinds changed", "kinds", kinds)
					needRestart = true
				}
				served = kinds
			}
			if needRestart {
				if err := mc.restart(ctx, served); err != nil {
					if ctx.Err() != nil {
						return
					}
					mc.fail(err)
					break
				}
				needRestart = false
			}
			backoff = o.probeInterval
			mc.setStatus(func(s *ClusterStatus) {
				s.Stale, s.Synced, s.Error, s.LastSync = false, true, mc.watchErr, time.Now()
				s.GatewayKinds = sortedKeys(served)
			})
		}
		wait := o.probeInterval
		if err != nil || needRestart {
			wait = backoff
			backoff = min(backoff*2, o.maxBackoff)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-mc.kick:
			t.Stop()
		case <-t.C:
		}
	}
}

// probe asks the apiserver's /readyz, bounded by the probe timeout.
func (mc *memberCluster) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, mc.ctl.opts.probeTimeout)
	defer cancel()
	rc, err := mc.rawClient()
	if err != nil {
		return err
	}
	_, err = rc.Get().AbsPath("/readyz").DoRaw(ctx)
	return err
}

// rawClient is a REST client for raw paths (/readyz, discovery).
func (mc *memberCluster) rawClient() (rest.Interface, error) {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	if mc.raw == nil {
		c, err := corev1client.NewForConfig(mc.cfg)
		if err != nil {
			return nil, err
		}
		mc.raw = c.RESTClient()
	}
	return mc.raw, nil
}

// discoverGateway returns the Gateway API kinds the cluster serves, with
// their versions.
func (mc *memberCluster) discoverGateway(ctx context.Context) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, mc.ctl.opts.probeTimeout)
	defer cancel()
	rc, err := mc.rawClient()
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	lists := map[string]map[string]bool{}
	for _, gk := range gatewayKinds {
		for _, v := range gk.versions {
			res, ok := lists[v]
			if !ok {
				body, err := rc.Get().AbsPath("/apis", gatewayGroup, v).DoRaw(ctx)
				res = map[string]bool{}
				switch {
				case apierrors.IsNotFound(err):
				case err != nil:
					return nil, err
				default:
					var l metav1.APIResourceList
					if err := json.Unmarshal(body, &l); err != nil {
						return nil, err
					}
					for _, r := range l.APIResources {
						res[r.Name] = true
					}
				}
				lists[v] = res
			}
			if res[gk.resource] {
				out[gk.kind] = v
				break
			}
		}
	}
	return out, nil
}

// restart starts a new informer set, waits for it to sync and swaps it
// in; the old set (the last-known objects) serves until then.
func (mc *memberCluster) restart(ctx context.Context, gw map[string]string) error {
	mc.mu.Lock()
	mc.watchErr = ""
	mc.mu.Unlock()
	set, err := mc.newInformerSet(ctx, gw)
	if err != nil {
		return err
	}
	syncCtx, cancel := context.WithTimeout(ctx, mc.ctl.opts.syncTimeout)
	defer cancel()
	var synced []cache.InformerSynced
	for _, infs := range set.informers {
		for _, inf := range infs {
			synced = append(synced, inf.HasSynced)
		}
	}
	if !cache.WaitForCacheSync(syncCtx.Done(), synced...) {
		set.stop()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return errors.New("caches did not sync within " + mc.ctl.opts.syncTimeout.String())
	}
	mc.mu.Lock()
	old := mc.active
	mc.active = set
	mc.mu.Unlock()
	old.stop()
	mc.log.Debug("member cluster caches synced", "gateway_kinds", sortedKeys(gw))
	mc.ctl.markDirty()
	return nil
}

func (mc *memberCluster) newInformerSet(parent context.Context, gw map[string]string) (*informerSet, error) {
	o := &mc.ctl.opts
	core, err := corev1client.NewForConfig(mc.cfg)
	if err != nil {
		return nil, err
	}
	netc, err := networkingv1client.NewForConfig(mc.cfg)
	if err != nil {
		return nil, err
	}
	disc, err := discoveryv1client.NewForConfig(mc.cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(mc.cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(parent)
	set := &informerSet{cancel: cancel, informers: map[string][]cache.SharedIndexInformer{}, gateway: gw}
	namespaces := o.namespaces // "" = all
	sel := o.labelSelector

	add := func(kind string, lw *cache.ListWatch, example runtime.Object, slim cache.TransformFunc) {
		inf := cache.NewSharedIndexInformerWithOptions(lw, example, cache.SharedIndexInformerOptions{})
		_ = inf.SetTransform(slim)
		_ = inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
			mc.watchError(kind, err)
		})
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(any) { mc.ctl.markDirty() },
			UpdateFunc: func(any, any) { mc.ctl.markDirty() },
			DeleteFunc: func(any) { mc.ctl.markDirty() },
		})
		set.informers[kind] = append(set.informers[kind], inf)
		set.wg.Go(func() { inf.RunWithContext(ctx) })
	}
	withSel := func(opts metav1.ListOptions, labelSel string) metav1.ListOptions {
		if labelSel != "" {
			opts.LabelSelector = labelSel
		}
		return opts
	}
	for _, ns := range namespaces {
		add(KindIngress, &cache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
				return netc.Ingresses(ns).List(ctx, withSel(opts, sel))
			},
			WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
				return netc.Ingresses(ns).Watch(ctx, withSel(opts, sel))
			},
		}, &networkingv1.Ingress{}, slimIngress)
		// every Service: LoadBalancer Services are sources, the others
		// tell ExternalName backends apart
		add(KindService, &cache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
				return core.Services(ns).List(ctx, opts)
			},
			WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
				return core.Services(ns).Watch(ctx, opts)
			},
		}, &corev1.Service{}, slimService)
		add(kindEndpointSlice, &cache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
				return disc.EndpointSlices(ns).List(ctx, opts)
			},
			WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
				return disc.EndpointSlices(ns).Watch(ctx, opts)
			},
		}, &discoveryv1.EndpointSlice{}, slimEndpointSlice)
		for _, gk := range gatewayKinds {
			v, ok := gw[gk.kind]
			if !ok {
				continue
			}
			ri := dyn.Resource(schema.GroupVersionResource{Group: gatewayGroup, Version: v, Resource: gk.resource}).Namespace(ns)
			labelSel := sel
			if gk.kind == kindGateway {
				labelSel = "" // parents are found by reference, not by label
			}
			add(gk.kind, &cache.ListWatch{
				ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
					return ri.List(ctx, withSel(opts, labelSel))
				},
				WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
					return ri.Watch(ctx, withSel(opts, labelSel))
				},
			}, &unstructured.Unstructured{}, gk.slim)
		}
	}
	add(kindNamespace, &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			return core.Namespaces().List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return core.Namespaces().Watch(ctx, opts)
		},
	}, &corev1.Namespace{}, slimNamespace)
	return set, nil
}

// watchError is called by the reflectors. It only asks for a probe now:
// the probe decides whether the cluster is stale, so that a watch that
// keeps failing on a reachable cluster (missing rights) does not make the
// cluster flap between stale and fresh. Such an error stays in Status.
func (mc *memberCluster) watchError(kind string, err error) {
	switch {
	case errors.Is(err, context.Canceled):
		return
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		// a watch closed; the reflector reopens it
	default:
		mc.ctl.metrics.clusterErrors.WithLabelValues(mc.name).Inc()
		if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) || apierrors.IsNotFound(err) {
			msg := fmt.Sprintf("watch %s: %v", kind, err)
			mc.mu.Lock()
			first := mc.watchErr != msg
			mc.watchErr = msg
			mc.mu.Unlock()
			if first {
				mc.log.Warn("cannot watch", "kind", kind, "error", err)
			}
		}
	}
	select {
	case mc.kick <- struct{}{}:
	default:
	}
}

// objects returns the cluster's cached objects (shared with the cache:
// read only).
func (mc *memberCluster) objects() ClusterObjects {
	mc.mu.Lock()
	set := mc.active
	mc.mu.Unlock()
	co := ClusterObjects{Name: mc.name, Site: mc.site}
	if set == nil {
		return co
	}
	for kind, infs := range set.informers {
		for _, inf := range infs {
			for _, obj := range inf.GetStore().List() {
				switch o := obj.(type) {
				case *networkingv1.Ingress:
					co.Ingresses = append(co.Ingresses, o)
				case *corev1.Service:
					// every Service is watched (backends); a LoadBalancer
					// Service is a source only when the selector takes it
					if sel := mc.ctl.opts.selector; sel != nil && o.Spec.Type == corev1.ServiceTypeLoadBalancer && !sel.Matches(labels.Set(o.Labels)) {
						continue
					}
					co.Services = append(co.Services, o)
				case *discoveryv1.EndpointSlice:
					co.EndpointSlices = append(co.EndpointSlices, o)
				case *corev1.Namespace:
					co.Namespaces = append(co.Namespaces, o)
				case *gatewayv1.Gateway:
					co.Gateways = append(co.Gateways, o)
				case *gatewayv1.HTTPRoute:
					co.HTTPRoutes = append(co.HTTPRoutes, o)
				case *gatewayv1.GRPCRoute:
					co.GRPCRoutes = append(co.GRPCRoutes, o)
				case *gatewayv1.TLSRoute:
					co.TLSRoutes = append(co.TLSRoutes, o)
				default:
					mc.log.Debug("unexpected object in cache", "kind", kind, "type", fmt.Sprintf("%T", obj))
				}
			}
		}
	}
	return co
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// fingerprintConfig identifies a cluster's connection settings, so that
// a kubeconfig reload restarts only the clusters whose settings changed.
func fingerprintConfig(site string, c *rest.Config) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s\x00%s\x00%s\x00%s\x00%s\x00%v\x00%s\x00%s\x00%s\x00%v\x00%s",
		site, c.Host, c.APIPath, c.BearerToken, c.BearerTokenFile, c.Username, c.Password,
		c.CAFile, c.CertFile, c.Insecure,
		c.KeyFile, c.ServerName, c.Impersonate.UserName, c.ExecProvider, c.AuthProvider)
	h.Write(c.CAData)
	h.Write([]byte{0})
	h.Write(c.CertData)
	h.Write([]byte{0})
	h.Write(c.KeyData)
	return hex.EncodeToString(h.Sum(nil))
}
