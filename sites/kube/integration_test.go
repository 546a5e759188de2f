package kube

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	discoveryv1client "k8s.io/client-go/kubernetes/typed/discovery/v1"
	networkingv1client "k8s.io/client-go/kubernetes/typed/networking/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/test/k8s/k8stest"
	"github.com/meridian-gslb/meridian/test/proctest"
)

// builds records what the Controller delivers.
type builds struct {
	mu   sync.Mutex
	all  []Build
	cond chan struct{} // closed and replaced on every build
}

func newBuilds() *builds { return &builds{cond: make(chan struct{})} }

func (b *builds) add(x Build) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.all = append(b.all, x)
	close(b.cond)
	b.cond = make(chan struct{})
}

func (b *builds) last() (Build, chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.all) == 0 {
		return Build{}, b.cond
	}
	return b.all[len(b.all)-1], b.cond
}

// wait returns the first build (the last one included) that satisfies
// ok, failing the test after timeout.
func (b *builds) wait(t *testing.T, what string, ok func(Build) bool) Build {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		last, ch := b.last()
		if last.Generation > 0 && ok(last) {
			return last
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no build with %s; last (generation %d):\n%s\nstale %v problems %v", what, last.Generation, strings.Join(describe(last), "\n"), last.Stale, last.Problems)
		}
	}
}

func describe(b Build) []string {
	return summarize(&Output{Services: b.Services, Readiness: b.Readiness})
}

func service(b Build, name string) *gslb.Service {
	for i := range b.Services {
		if b.Services[i].Name == name {
			return &b.Services[i]
		}
	}
	return nil
}

// memberIDs lists a service's member IDs ("" service: nil).
func memberIDs(b Build, name string) []string {
	s := service(b, name)
	if s == nil {
		return nil
	}
	var ids []string
	for _, m := range s.Members {
		ids = append(ids, m.ID())
	}
	return ids
}

func hasMembers(name string, ids ...string) func(Build) bool {
	return func(b Build) bool { return slices.Equal(memberIDs(b, name), ids) }
}

// clients of one test cluster.
type clients struct {
	core *corev1client.CoreV1Client
	net  *networkingv1client.NetworkingV1Client
	disc *discoveryv1client.DiscoveryV1Client
	rc   *rest.Config
}

func clientsFor(t *testing.T, kubeconfig, context string) *clients {
	t.Helper()
	rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig},
		&clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	rc.QPS, rc.Burst = 500, 1000
	c := &clients{rc: rc}
	c.core = corev1client.NewForConfigOrDie(rc)
	c.net = networkingv1client.NewForConfigOrDie(rc)
	c.disc = discoveryv1client.NewForConfigOrDie(rc)
	return c
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// crdFiles are Meridian's CRDs, as the chart ships them.
func crdFiles() []string {
	var out []string
	for _, name := range []string{"gslb.meridian.io_globalpolicies.yaml", "gslb.meridian.io_hostpolicies.yaml"} {
		out = append(out, filepath.Join("..", "..", "deploy", "helm", "meridian", "crds", name))
	}
	return out
}

func (c *clients) createIngress(t *testing.T, ctx context.Context, ns, name string, annots map[string]string, labels map[string]string, backend string, hosts []string, vips ...string) {
	t.Helper()
	ing := ingress(metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: annots, Labels: labels}, backend, hosts)
	for i := range ing.Spec.Rules {
		if ing.Spec.Rules[i].HTTP != nil {
			ing.Spec.Rules[i].HTTP.Paths[0].PathType = ptr(networkingv1.PathTypePrefix)
		}
	}
	got := must[*networkingv1.Ingress](t)(c.net.Ingresses(ns).Create(ctx, ing, metav1.CreateOptions{}))
	if len(vips) > 0 {
		c.setIngressStatus(t, ctx, got, vips...)
	}
}

func (c *clients) setIngressStatus(t *testing.T, ctx context.Context, ing *networkingv1.Ingress, vips ...string) {
	t.Helper()
	ing = ing.DeepCopy()
	ing.Status.LoadBalancer.Ingress = lbStatus(vips)
	must[*networkingv1.Ingress](t)(c.net.Ingresses(ing.Namespace).UpdateStatus(ctx, ing, metav1.UpdateOptions{}))
}

func (c *clients) endpointSlice(t *testing.T, ctx context.Context, ns, svc string, ready bool) {
	t.Helper()
	es := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: svc + "-1", Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.1.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
	}
	cur, err := c.disc.EndpointSlices(ns).Get(ctx, es.Name, metav1.GetOptions{})
	if err == nil {
		es.ResourceVersion = cur.ResourceVersion
		must[*discoveryv1.EndpointSlice](t)(c.disc.EndpointSlices(ns).Update(ctx, es, metav1.UpdateOptions{}))
		return
	}
	must[*discoveryv1.EndpointSlice](t)(c.disc.EndpointSlices(ns).Create(ctx, es, metav1.CreateOptions{}))
}

// TestIntegration runs the Controller against three real apiservers
// (east, west, south) on one etcd. east is also the policy cluster.
// Gateway API CRDs are installed in east and west only: south shows that
// their absence is tolerated.
func TestIntegration(t *testing.T) {
	proctest.SkipShort(t, "starts real apiservers")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	begin := time.Now()
	env := k8stest.Start(t, k8stest.Options{Clusters: []string{"east", "west", "south"}})
	t.Logf("3 apiservers ready in %v", time.Since(begin).Round(time.Millisecond))
	var wg sync.WaitGroup
	var gwErr, crdErr error
	wg.Go(func() { gwErr = env.InstallGatewayAPICRDs(ctx, "east", "west") })
	wg.Go(func() {
		if crdErr = env.Apply(ctx, "east", crdFiles()...); crdErr == nil {
			_, crdErr = env.Kubectl(ctx, "east", "wait", "--for=condition=Established", "--timeout=60s", "crd/globalpolicies.gslb.meridian.io", "crd/hostpolicies.gslb.meridian.io")
		}
	})
	wg.Wait()
	if gwErr != nil || crdErr != nil {
		t.Fatal(gwErr, crdErr)
	}
	t.Logf("CRDs installed at %v", time.Since(begin).Round(time.Millisecond))

	cl := map[string]*clients{}
	for _, name := range []string{"east", "west", "south"} {
		cl[name] = clientsFor(t, env.Kubeconfig, name)
		for _, ns := range []string{"shop", "infra", eventNamespace} {
			must[*corev1.Namespace](t)(cl[name].core.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}))
		}
	}

	// a copy of the kubeconfig the test may rewrite for Reload
	kubeconfig := filepath.Join(t.TempDir(), "members")
	full := must[[]byte](t)(os.ReadFile(env.Kubeconfig))
	if err := os.WriteFile(kubeconfig, full, 0o600); err != nil {
		t.Fatal(err)
	}

	got := newBuilds()
	ctl, err := New(Config{
		Kubeconfig:       kubeconfig,
		Clusters:         []ClusterConfig{{Context: "east"}, {Context: "west"}, {Context: "south"}},
		PolicyKubeconfig: env.Kubeconfig,
		PolicyContext:    "east",
		Zones:            []string{"gslb.test."},
		Sites:            []string{"east", "west", "south", "dc1"},
		DefaultPolicy:    basePolicy(),
		OnBuild:          got.add,
		EventNamespace:   eventNamespace,
		EventPod:         "meridian-0",
		// A quiet period longer than the apiserver's stalls under a
		// loaded CI machine, so that the burst below stays one burst.
		Debounce:          700 * time.Millisecond,
		MaxDelay:          3 * time.Second,
		ProbeInterval:     250 * time.Millisecond,
		ProbeTimeout:      2 * time.Second,
		MaxBackoff:        time.Second,
		SyncTimeout:       20 * time.Second,
		DiscoveryInterval: 500 * time.Millisecond,
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stopRun := context.WithCancel(ctx)
	runDone := make(chan error, 1)
	go func() { runDone <- ctl.Run(runCtx) }()
	defer func() {
		stopRun()
		if err := <-runDone; err != nil {
			t.Error(err)
		}
	}()
	first := got.wait(t, "a first build", func(Build) bool { return true })
	if len(first.Services) != 0 || len(first.Stale) != 0 {
		t.Fatalf("first build: %v stale %v", describe(first), first.Stale)
	}
	for _, st := range ctl.Status() {
		want := []string{"GRPCRoute", "Gateway", "HTTPRoute", "TLSRoute"}
		if st.Name == "south" {
			want = nil
		}
		if !slices.Equal(st.GatewayKinds, want) {
			t.Errorf("%s: Gateway kinds %v, want %v", st.Name, st.GatewayKinds, want)
		}
	}
	t.Logf("first build at %v", time.Since(begin).Round(time.Millisecond))

	opt := map[string]string{AnnotationGSLB: "true"}
	shop := map[string]string{"app": "shop"}

	t.Run("same host in two clusters", func(t *testing.T) {
		cl["east"].createIngress(t, ctx, "shop", "web", opt, shop, "web", []string{"app.gslb.test"}, "192.0.2.1")
		cl["west"].createIngress(t, ctx, "shop", "web", opt, shop, "web", []string{"app.gslb.test"}, "198.51.100.1")
		got.wait(t, "app on east and west", hasMembers("app.gslb.test.", "east/192.0.2.1", "west/198.51.100.1"))
	})

	t.Run("status IP change", func(t *testing.T) {
		ing := must[*networkingv1.Ingress](t)(cl["east"].net.Ingresses("shop").Get(ctx, "web", metav1.GetOptions{}))
		cl["east"].setIngressStatus(t, ctx, ing, "192.0.2.2")
		got.wait(t, "app on east's new IP", hasMembers("app.gslb.test.", "east/192.0.2.2", "west/198.51.100.1"))
	})

	t.Run("IPv6 status address", func(t *testing.T) {
		cl["south"].createIngress(t, ctx, "shop", "v6", opt, nil, "", []string{"v6.gslb.test"}, "2001:db8::1")
		b := got.wait(t, "an IPv6 member", hasMembers("v6.gslb.test.", "south/2001:db8::1"))
		if m := service(b, "v6.gslb.test.").Members[0]; !m.Addresses[0].Is6() {
			t.Errorf("member %v is not IPv6", m)
		}
	})

	t.Run("Ingress deleted in one cluster", func(t *testing.T) {
		cl["west"].createIngress(t, ctx, "shop", "tmp", opt, nil, "", []string{"tmp.gslb.test"}, "198.51.100.9")
		cl["east"].createIngress(t, ctx, "shop", "tmp", opt, nil, "", []string{"tmp.gslb.test"}, "192.0.2.9")
		got.wait(t, "tmp on two clusters", hasMembers("tmp.gslb.test.", "east/192.0.2.9", "west/198.51.100.9"))
		if err := cl["west"].net.Ingresses("shop").Delete(ctx, "tmp", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		got.wait(t, "tmp on east only", hasMembers("tmp.gslb.test.", "east/192.0.2.9"))
	})

	t.Run("LoadBalancer Service with the hostname annotation; readiness from EndpointSlices", func(t *testing.T) {
		svc := lbService(metav1.ObjectMeta{Namespace: "shop", Name: "db", Annotations: map[string]string{
			AnnotationGSLB: "true", AnnotationExternalDNSHostname: "db.gslb.test"}}, 5432)
		svc.Spec.Ports[0].Protocol = corev1.ProtocolTCP
		created := must[*corev1.Service](t)(cl["west"].core.Services("shop").Create(ctx, svc, metav1.CreateOptions{}))
		created.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "198.51.100.5"}, {Hostname: "db-lb.example.net"}}
		must[*corev1.Service](t)(cl["west"].core.Services("shop").UpdateStatus(ctx, created, metav1.UpdateOptions{}))
		cl["west"].endpointSlice(t, ctx, "shop", "db", false)
		ref := gslb.MemberRef{Service: "db.gslb.test.", Member: "west/198.51.100.5"}
		got.wait(t, "db not ready", func(b Build) bool {
			r, ok := b.Readiness[ref]
			return slices.Equal(memberIDs(b, "db.gslb.test."), []string{"west/198.51.100.5", "west/db-lb.example.net."}) && ok && !r
		})
		cl["west"].endpointSlice(t, ctx, "shop", "db", true)
		got.wait(t, "db ready", func(b Build) bool { return b.Readiness[ref] })
	})

	t.Run("Gateway and HTTPRoute", func(t *testing.T) {
		manifest := `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: test}
spec: {controllerName: example.com/test}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: infra}
spec:
  gatewayClassName: test
  listeners: [{name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: route
  namespace: shop
  annotations: {meridian.io/gslb: "true"}
spec:
  parentRefs: [{name: edge, namespace: infra}]
  hostnames: [gw.gslb.test]
  rules: [{backendRefs: [{name: web, port: 80}]}]
`
		if err := env.ApplyManifest(ctx, "east", manifest); err != nil {
			t.Fatal(err)
		}
		if _, err := env.Kubectl(ctx, "east", "-n", "infra", "patch", "gateway", "edge", "--subresource=status", "--type=merge",
			"-p", `{"status":{"addresses":[{"type":"IPAddress","value":"192.0.2.80"},{"type":"IPAddress","value":"2001:db8::80"}]}}`); err != nil {
			t.Fatal(err)
		}
		b := got.wait(t, "the route's member", hasMembers("gw.gslb.test.", "east/192.0.2.80"))
		if m := service(b, "gw.gslb.test.").Members[0]; len(m.Addresses) != 2 {
			t.Errorf("gateway member %v: want both addresses", m)
		}
		if b.Readiness[gslb.MemberRef{Service: "gw.gslb.test.", Member: "east/192.0.2.80"}] {
			t.Error("the route's backend has no endpoints, yet the member is ready")
		}
	})

	policy := func(strategy, selector string) string {
		return fmt.Sprintf(`apiVersion: gslb.meridian.io/v1alpha1
kind: GlobalPolicy
metadata: {name: shop}
spec:
  selector:
    objectSelector: {matchLabels: {app: %q}}
  strategy: %s
  ttl: 20
  sites: [{cluster: east, weight: 3}, {cluster: west, weight: 1, priority: 2}]
`, selector, strategy)
	}
	acceptedStatus := func(t *testing.T, name string) string {
		t.Helper()
		out, err := env.Kubectl(ctx, "east", "get", "globalpolicy", name, "-o",
			`jsonpath={.status.conditions[?(@.type=="Accepted")].status}/{.status.conditions[?(@.type=="Accepted")].reason}/{.status.observedGeneration}/{.metadata.generation}/{.status.services}`)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	waitStatus := func(t *testing.T, name, prefix string) string {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			s := acceptedStatus(t, name)
			if strings.HasPrefix(s, prefix) {
				return s
			}
			if time.Now().After(deadline) {
				t.Fatalf("GlobalPolicy %s status %q, want prefix %q", name, s, prefix)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	t.Run("a policy changes strategy and weights", func(t *testing.T) {
		if err := env.ApplyManifest(ctx, "east", policy("weighted", "shop")); err != nil {
			t.Fatal(err)
		}
		b := got.wait(t, "app weighted", func(b Build) bool {
			s := service(b, "app.gslb.test.")
			return s != nil && s.Policy.Strategy == gslb.StrategyWeighted && s.Policy.TTL == 20 && s.Members[0].Weight == 3 && s.Members[1].Weight == 1 && s.Members[1].Priority == 2
		})
		if s := service(b, "tmp.gslb.test."); s.Policy.Strategy != gslb.StrategyGeo {
			t.Errorf("tmp is not selected, yet has strategy %s", s.Policy.Strategy)
		}
		if s := waitStatus(t, "shop", "True/Valid"); s != "True/Valid/1/1/1" {
			t.Errorf("status %q, want True/Valid/1/1/1", s)
		}
	})

	t.Run("an invalid policy is rejected and the previous version still applies", func(t *testing.T) {
		before, _ := got.last()
		if err := env.ApplyManifest(ctx, "east", policy("roundrobin", "not a label value!")); err != nil {
			t.Fatal(err)
		}
		s := waitStatus(t, "shop", "False/Invalid")
		if s != "False/Invalid/2/2/1" {
			t.Errorf("status %q, want False/Invalid/2/2/1", s)
		}
		msg, _ := env.Kubectl(ctx, "east", "get", "globalpolicy", "shop", "-o", `jsonpath={.status.conditions[0].message}`)
		if !strings.Contains(msg, "spec.selector.objectSelector") || !strings.Contains(msg, "generation 1, the last accepted, still applies") {
			t.Errorf("message %q", msg)
		}
		after, _ := got.last()
		if s := service(after, "app.gslb.test."); s == nil || s.Policy.Strategy != gslb.StrategyWeighted {
			t.Errorf("the rejected policy changed the answers: %v", describe(after))
		}
		if !slicesEqualServices(before, after) {
			t.Errorf("services changed: before %v after %v", describe(before), describe(after))
		}
		// the version that applies is in the status, for the next leader
		last, err := env.Kubectl(ctx, "east", "get", "globalpolicy", "shop", "-o", `jsonpath={.status.lastAccepted.generation}/{.status.lastAccepted.spec.strategy}`)
		if err != nil || last != "1/weighted" {
			t.Errorf("status.lastAccepted = %q (%v), want 1/weighted", last, err)
		}
		t.Run("a new leader applies the last accepted version from the status", func(t *testing.T) {
			fresh := newBuilds()
			ctl3 := startController(t, ctx, Config{
				Kubeconfig: env.Kubeconfig, Clusters: []ClusterConfig{{Context: "east"}, {Context: "west"}},
				PolicyKubeconfig: env.Kubeconfig, PolicyContext: "east",
				Zones: []string{"gslb.test."}, Sites: []string{"east", "west", "south", "dc1"},
				DefaultPolicy: basePolicy(), OnBuild: fresh.add, WriteStatus: func() bool { return false },
			})
			b := fresh.wait(t, "app weighted by the status's version", func(b Build) bool { return service(b, "app.gslb.test.") != nil })
			if s := service(b, "app.gslb.test."); s.Policy.Strategy != gslb.StrategyWeighted || s.Members[0].Weight != 3 {
				t.Errorf("a new leader does not apply the last accepted version: %v", describe(b))
			}
			ctl3()
		})
		waitEvent(t, ctx, cl["east"], "Rejected", "shop", "spec.selector.objectSelector")
		waitEvent(t, ctx, cl["east"], "Accepted", "shop", "generation 1")
		// the verdicts the status page lists (Policies)
		if i := slices.IndexFunc(ctl.Policies(), func(p PolicyState) bool { return p.Kind == KindGlobalPolicy && p.Name == "shop" }); i < 0 ||
			ctl.Policies()[i].Accepted || !strings.Contains(ctl.Policies()[i].Message, "spec.selector.objectSelector") {
			t.Errorf("Policies() = %+v, want GlobalPolicy shop rejected, naming spec.selector.objectSelector", ctl.Policies())
		}
		// fixed: accepted again, with the new strategy
		if err := env.ApplyManifest(ctx, "east", policy("roundrobin", "shop")); err != nil {
			t.Fatal(err)
		}
		got.wait(t, "app roundrobin", func(b Build) bool {
			s := service(b, "app.gslb.test.")
			return s != nil && s.Policy.Strategy == gslb.StrategyRoundRobin
		})
		waitStatus(t, "shop", "True/Valid/3/3")
	})

	t.Run("HostPolicy with a third-party member and NAT", func(t *testing.T) {
		if err := env.ApplyManifest(ctx, "east", `apiVersion: gslb.meridian.io/v1alpha1
kind: HostPolicy
metadata: {name: app}
spec:
  fqdn: app.gslb.test
  sites: [{cluster: west, publicAddresses: ["203.0.113.7"]}]
  thirdPartyMembers: [{site: dc1, addresses: ["203.0.113.1"]}]
`); err != nil {
			t.Fatal(err)
		}
		got.wait(t, "app with dc1 and west's public address", hasMembers("app.gslb.test.", "dc1/203.0.113.1", "east/192.0.2.2", "west/203.0.113.7"))
		out, err := env.Kubectl(ctx, "east", "get", "hostpolicy", "app", "-o", `jsonpath={.status.conditions[?(@.type=="Accepted")].status}`)
		if err != nil || out != "True" {
			t.Errorf("HostPolicy Accepted = %q, %v", out, err)
		}
	})

	t.Run("a killed apiserver: last-known members, stale, fresh again", func(t *testing.T) {
		if err := env.KillCluster("south"); err != nil {
			t.Fatal(err)
		}
		b := got.wait(t, "south stale", func(b Build) bool { return slices.Equal(b.Stale, []string{"south"}) })
		if ids := memberIDs(b, "v6.gslb.test."); !slices.Equal(ids, []string{"south/2001:db8::1"}) {
			t.Errorf("south's member is gone while stale: %v", ids)
		}
		if st := statusOf(ctl, "south"); !st.Stale || st.Error == "" {
			t.Errorf("south status %+v", st)
		}
		if v := testutil.ToFloat64(ctl.metrics.clusterStale.WithLabelValues("south")); v != 1 {
			t.Errorf("stale metric %v", v)
		}
		// the others keep working
		cl["east"].createIngress(t, ctx, "shop", "during", opt, nil, "", []string{"during.gslb.test"}, "192.0.2.33")
		got.wait(t, "an east change during south's outage", hasMembers("during.gslb.test.", "east/192.0.2.33"))

		if err := env.StartCluster("south"); err != nil {
			t.Fatal(err)
		}
		waitEvent(t, ctx, cl["east"], "ClusterStale", "meridian-0", "member cluster south (site south) is stale")
		b = got.wait(t, "south fresh", func(b Build) bool { return len(b.Stale) == 0 })
		waitEvent(t, ctx, cl["east"], "ClusterFresh", "meridian-0", "member cluster south (site south) is fresh again")
		if ids := memberIDs(b, "v6.gslb.test."); !slices.Equal(ids, []string{"south/2001:db8::1"}) {
			t.Errorf("south's member after recovery: %v", ids)
		}
		cl["south"].createIngress(t, ctx, "shop", "after", opt, nil, "", []string{"after.gslb.test"}, "2001:db8::2")
		got.wait(t, "a south change after recovery", hasMembers("after.gslb.test.", "south/2001:db8::2"))
		if st := statusOf(ctl, "south"); st.Stale || st.LastSync.IsZero() {
			t.Errorf("south status %+v", st)
		}
	})

	t.Run("a burst of 1000 changes gives a few rebuilds", func(t *testing.T) {
		before := testutil.ToFloat64(ctl.metrics.rebuilds)
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, 1000)
		for w := range 10 {
			wg.Go(func() {
				for i := range 100 {
					patch := fmt.Sprintf(`{"metadata":{"annotations":{"example.com/burst":"%d-%d"}}}`, w, i)
					_, err := cl["east"].net.Ingresses("shop").Patch(ctx, "web", types.MergePatchType, []byte(patch), metav1.PatchOptions{})
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		elapsed := time.Since(start)
		// let the last debounce pass
		time.Sleep(2 * time.Second)
		n := testutil.ToFloat64(ctl.metrics.rebuilds) - before
		// Debouncing allows one rebuild per MaxDelay (3s) of a steady
		// stream, plus the first and the last partial windows and one
		// for the status write they may cause; how long the burst takes
		// depends on the machine, so the bound follows it, capped far
		// below one rebuild per change.
		limit := min(float64(int(elapsed/(3*time.Second)))+4, 20)
		t.Logf("1000 patches in %v: %v rebuilds (limit %v)", elapsed.Round(time.Millisecond), n, limit)
		if n < 1 || n > limit {
			t.Errorf("%v rebuilds for a burst of 1000 changes, want 1..%v", n, limit)
		}
	})

	t.Run("Reload with new credentials keeps the cluster's objects until they work", func(t *testing.T) {
		tokens := map[string]string{"east": env.Cluster("east").Token, "west": "not-a-valid-token", "south": env.Cluster("south").Token}
		if err := env.WriteKubeconfig(kubeconfig, tokens); err != nil {
			t.Fatal(err)
		}
		if err := ctl.Reload(); err != nil {
			t.Fatal(err)
		}
		b := got.wait(t, "west stale", func(b Build) bool { return slices.Equal(b.Stale, []string{"west"}) })
		if ids := memberIDs(b, "db.gslb.test."); !slices.Equal(ids, []string{"west/198.51.100.5", "west/db-lb.example.net."}) {
			t.Errorf("west's members are gone with its credentials: %v", ids)
		}
		eventually(t, "west's status says why", func() bool {
			st := statusOf(ctl, "west")
			return st.Stale && st.Synced && strings.Contains(st.Error, "credentials")
		})
		if err := os.WriteFile(kubeconfig, full, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := ctl.Reload(); err != nil {
			t.Fatal(err)
		}
		got.wait(t, "west fresh", func(b Build) bool { return len(b.Stale) == 0 && service(b, "db.gslb.test.") != nil })
	})

	t.Run("Reload stops a removed cluster and starts it again", func(t *testing.T) {
		if err := env.WriteKubeconfig(kubeconfig, map[string]string{"east": env.Cluster("east").Token, "west": env.Cluster("west").Token}); err != nil {
			t.Fatal(err)
		}
		if err := ctl.Reload(); err != nil {
			t.Fatal(err)
		}
		got.wait(t, "south's services gone", func(b Build) bool { return service(b, "v6.gslb.test.") == nil })
		if st := statusOf(ctl, "south"); st.Stale || st.Synced || !strings.Contains(st.Error, "not in the kubeconfig") {
			t.Errorf("south status %+v", st)
		}
		if b, _ := got.last(); len(b.Stale) != 0 {
			t.Errorf("a cluster that is not watched is stale: %v", b.Stale)
		}
		if err := os.WriteFile(kubeconfig, full, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := ctl.Reload(); err != nil {
			t.Fatal(err)
		}
		got.wait(t, "south back", hasMembers("v6.gslb.test.", "south/2001:db8::1"))
	})

	t.Run("Gateway API CRDs installed later are discovered", func(t *testing.T) {
		if err := env.InstallGatewayAPICRDs(ctx, "south"); err != nil {
			t.Fatal(err)
		}
		eventually(t, "south watches the Gateway API", func() bool { return len(statusOf(ctl, "south").GatewayKinds) == 4 })
		if err := env.ApplyManifest(ctx, "south", `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: infra}
spec:
  gatewayClassName: test
  listeners: [{name: tls, port: 443, protocol: TLS, hostname: tls.gslb.test, tls: {mode: Passthrough}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata:
  name: tls
  namespace: infra
  annotations: {meridian.io/gslb: "true"}
spec:
  parentRefs: [{name: edge, sectionName: tls}]
  hostnames: [tls.gslb.test]
  rules: [{backendRefs: [{name: tls, port: 443}]}]
`); err != nil {
			t.Fatal(err)
		}
		if _, err := env.Kubectl(ctx, "south", "-n", "infra", "patch", "gateway", "edge", "--subresource=status", "--type=merge",
			"-p", `{"status":{"addresses":[{"type":"Hostname","value":"edge.south.example.net"}]}}`); err != nil {
			t.Fatal(err)
		}
		got.wait(t, "the TLSRoute's member on the Gateway's host name", hasMembers("tls.gslb.test.", "south/edge.south.example.net."))
		// the v6 Ingress survived the informer restart
		b, _ := got.last()
		if ids := memberIDs(b, "v6.gslb.test."); !slices.Equal(ids, []string{"south/2001:db8::1"}) {
			t.Errorf("v6 members %v", ids)
		}
	})

	t.Run("a second controller: namespaces, label selector, resolved hostname VIPs", func(t *testing.T) {
		cl["west"].createIngress(t, ctx, "infra", "infra", opt, shop, "", []string{"infra.gslb.test"}, "198.51.100.77")
		if err := env.ApplyManifest(ctx, "east", `apiVersion: gslb.meridian.io/v1alpha1
kind: HostPolicy
metadata: {name: db}
spec:
  fqdn: db.gslb.test
  hostnameVIPs: resolve
`); err != nil {
			t.Fatal(err)
		}
		got2 := newBuilds()
		ctl2, err := New(Config{
			Kubeconfig:       env.Kubeconfig,
			Clusters:         []ClusterConfig{{Context: "west", Site: "west"}},
			Namespaces:       []string{"shop"},
			LabelSelector:    "app=shop",
			PolicyKubeconfig: env.Kubeconfig,
			PolicyContext:    "east",
			Zones:            []string{"gslb.test."},
			Sites:            []string{"west", "dc1"},
			DefaultPolicy:    basePolicy(),
			OnBuild:          got2.add,
			WriteStatus:      func() bool { return false },
			Resolve: func(_ context.Context, host string) ([]netip.Addr, error) {
				if host == "db-lb.example.net." {
					return addrs("198.51.100.50"), nil
				}
				return nil, fmt.Errorf("%s: no such host", host)
			},
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx2, stop2 := context.WithCancel(ctx)
		done2 := make(chan struct{})
		go func() { defer close(done2); _ = ctl2.Run(ctx2) }()
		defer func() { stop2(); <-done2 }()
		// west's app Ingress is labelled app=shop in shop: in; the db
		// Service is not labelled: out; infra's Ingress: another namespace
		b := got2.wait(t, "only west's labelled objects in shop", func(b Build) bool {
			return len(b.Services) == 1 && service(b, "app.gslb.test.") != nil
		})
		if ids := memberIDs(b, "app.gslb.test."); !slices.Equal(ids, []string{"dc1/203.0.113.1", "west/203.0.113.7"}) {
			t.Errorf("app members %v", ids)
		}
		// label the db Service: its host-name VIP is resolved
		if _, err := cl["west"].core.Services("shop").Patch(ctx, "db", types.MergePatchType, []byte(`{"metadata":{"labels":{"app":"shop"}}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		got2.wait(t, "db's host-name VIP resolved", hasMembers("db.gslb.test.", "west/198.51.100.5"))
		b, _ = got2.last()
		if m := service(b, "db.gslb.test.").Members[0]; !slices.Equal(m.Addresses, addrs("198.51.100.5", "198.51.100.50")) {
			t.Errorf("db member %v", m)
		}
	})

	t.Run("leader election: one leads, then the other with a higher term", func(t *testing.T) {
		testElection(t, ctx, cl["east"].rc)
	})
	t.Logf("total %v", time.Since(begin).Round(time.Millisecond))
}

// eventNamespace is where the test's Controller files its Events (the
// pod's namespace in a deployment).
const eventNamespace = "meridian-system"

// waitEvent waits for an Event in eventNamespace with this reason, about
// the named object, whose message contains msg.
func waitEvent(t *testing.T, ctx context.Context, c *clients, reason, object, msg string) {
	t.Helper()
	var seen []string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		l, err := c.core.Events(eventNamespace).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + object})
		if err != nil {
			t.Fatal(err)
		}
		seen = seen[:0]
		for _, e := range l.Items {
			seen = append(seen, e.Reason+": "+e.Message)
			if e.Reason == reason && strings.Contains(e.Message, msg) && e.Source.Component == "meridian" {
				return
			}
		}
	}
	t.Errorf("no Event %s about %s in %s saying %q; seen:\n%s", reason, object, eventNamespace, msg, strings.Join(seen, "\n"))
}

// startController runs a Controller until the returned stop is called
// (or the test ends).
func startController(t *testing.T, ctx context.Context, cfg Config) (stop func()) {
	t.Helper()
	cfg.Logger = discardLogger()
	ctl, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = ctl.Run(runCtx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// eventually polls ok for up to 10 s.
func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10s: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func slicesEqualServices(a, b Build) bool {
	return slices.Equal(describe(a), describe(b))
}

func statusOf(ctl *Controller, name string) ClusterStatus {
	for _, st := range ctl.Status() {
		if st.Name == name {
			return st
		}
	}
	return ClusterStatus{}
}

func testElection(t *testing.T, ctx context.Context, rc *rest.Config) {
	type event struct {
		who  string
		term uint64
	}
	events := make(chan event, 10)
	mk := func(id string) *Elector {
		e, err := NewElector(ElectorConfig{
			RESTConfig: rc, Namespace: "default", Name: "meridian-test", Identity: id,
			LeaseDuration: 2 * time.Second, RenewDeadline: 1500 * time.Millisecond, RetryPeriod: 200 * time.Millisecond,
			OnStartedLeading: func(_ context.Context, term uint64) { events <- event{id, term} },
			Logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	a, b := mk("a"), mk("b")
	ctxA, cancelA := context.WithCancel(ctx)
	ctxB, cancelB := context.WithCancel(ctx)
	doneA, doneB := make(chan struct{}), make(chan struct{})
	go func() { defer close(doneA); _ = a.Run(ctxA) }()
	go func() { defer close(doneB); _ = b.Run(ctxB) }()
	defer func() { cancelA(); cancelB(); <-doneA; <-doneB }()

	var first event
	select {
	case first = <-events:
	case <-time.After(20 * time.Second):
		t.Fatal("nobody leads")
	}
	if first.term < 1 {
		t.Errorf("first term %d", first.term)
	}
	leader, other, cancelLeader, leaderDone := a, b, cancelA, doneA
	if first.who == "b" {
		leader, other, cancelLeader, leaderDone = b, a, cancelB, doneB
	}
	eventually(t, "the other sees the leader", func() bool { return other.Leader() == first.who })
	if !leader.IsLeader() || other.IsLeader() {
		t.Fatalf("leader %v other %v", leader.IsLeader(), other.IsLeader())
	}
	cancelLeader()
	<-leaderDone
	select {
	case second := <-events:
		if second.who == first.who || second.term <= first.term {
			t.Errorf("after %+v came %+v: want the other with a higher term", first, second)
		}
		t.Logf("terms: %+v then %+v", first, second)
	case <-time.After(20 * time.Second):
		t.Fatal("nobody took over")
	}
	if leader.IsLeader() || !other.IsLeader() {
		t.Errorf("after the handover: old %v new %v", leader.IsLeader(), other.IsLeader())
	}
}
