package k8stest_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/test/k8s/k8stest"
)

const ingressYAML = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: default
  annotations:
    meridian.example/test: smoke
spec:
  defaultBackend:
    service:
      name: web
      port:
        number: 80
`

const gatewayYAML = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: smoke
spec:
  controllerName: example.com/smoke
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: edge
  namespace: default
spec:
  gatewayClassName: smoke
  listeners:
  - name: http
    port: 80
    protocol: HTTP
`

// TestHarness is the smoke test of the harness itself: three clusters,
// Gateway API CRDs in each, Ingress status written and read back, one
// apiserver stopped and started again with its objects intact.
func TestHarness(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	begin := time.Now()
	k8stest.RequireTools(t)
	t.Logf("tools ready in %v", time.Since(begin).Round(time.Millisecond))

	begin = time.Now()
	env := k8stest.Start(t, k8stest.Options{Clusters: []string{"one", "two", "three"}})
	t.Logf("3 clusters ready in %v", time.Since(begin).Round(time.Millisecond))
	for _, c := range env.Clusters() {
		t.Logf("  %s %s", c.Name, c.URL)
	}

	t.Run("kubeconfig", func(t *testing.T) {
		b, err := os.ReadFile(env.Kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range env.Clusters() {
			for _, want := range []string{"name: \"" + c.Name + "\"", c.URL, c.Token} {
				if !strings.Contains(string(b), want) {
					t.Errorf("kubeconfig lacks %q", want)
				}
			}
		}
		out, err := env.Kubectl(ctx, "two", "config", "get-contexts", "-o", "name")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Fields(out); strings.Join(got, ",") != "one,three,two" {
			t.Errorf("contexts = %v, want one, three, two", got)
		}
		// each cluster has its own CA: cluster one's CA does not verify two
		one, two := env.Cluster("one"), env.Cluster("two")
		hc := one.HTTPClient()
		if resp, err := hc.Get(two.URL + "/readyz"); err == nil {
			resp.Body.Close()
			t.Errorf("cluster two's certificate verified with cluster one's CA")
		}
		// no credentials: 401, not AlwaysAllow's "yes"
		resp, err := anonymousClient(two).Get(two.URL + "/api/v1/namespaces")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("anonymous request: %s, want 401", resp.Status)
		}
	})

	begin = time.Now()
	if err := env.InstallGatewayAPICRDs(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("Gateway API CRDs installed in 3 clusters in %v", time.Since(begin).Round(time.Millisecond))
	for _, c := range env.Clusters() {
		out, err := env.Kubectl(ctx, c.Name, "get", "crd", "gateways.gateway.networking.k8s.io", "-o", "name")
		if err != nil || strings.TrimSpace(out) == "" {
			t.Fatalf("%s: Gateway CRD missing: %q %v", c.Name, out, err)
		}
	}

	// Ingress in cluster two, its status written as an ingress controller would
	dir := t.TempDir()
	ing := filepath.Join(dir, "ingress.yaml")
	if err := os.WriteFile(ing, []byte(ingressYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := env.Apply(ctx, "two", ing); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Kubectl(ctx, "two", "patch", "ingress", "web", "-n", "default", "--subresource=status", "--type=merge",
		"-p", `{"status":{"loadBalancer":{"ingress":[{"ip":"192.0.2.10"}]}}}`); err != nil {
		t.Fatal(err)
	}
	ip, err := env.Kubectl(ctx, "two", "get", "ingress", "web", "-n", "default", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")
	if err != nil || ip != "192.0.2.10" {
		t.Fatalf("Ingress status ip = %q (%v), want 192.0.2.10", ip, err)
	}
	// the same through the HTTP API, as the leader's client will read it
	var obj struct {
		Status struct {
			LoadBalancer struct {
				Ingress []struct{ IP string }
			}
		}
	}
	getJSON(t, env.Cluster("two"), "/apis/networking.k8s.io/v1/namespaces/default/ingresses/web", &obj)
	if lb := obj.Status.LoadBalancer.Ingress; len(lb) != 1 || lb[0].IP != "192.0.2.10" {
		t.Errorf("GET ingress: status.loadBalancer.ingress = %+v", lb)
	}
	// clusters are separate: cluster one has no such Ingress
	if out, err := env.Kubectl(ctx, "one", "get", "ingress", "-A", "-o", "name"); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("cluster one ingresses = %q (%v), want none", out, err)
	}

	// a Gateway with status in cluster three, then three dies and returns
	if err := env.ApplyManifest(ctx, "three", gatewayYAML); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Kubectl(ctx, "three", "patch", "gateway", "edge", "-n", "default", "--subresource=status", "--type=merge",
		"-p", `{"status":{"addresses":[{"type":"IPAddress","value":"192.0.2.30"}]}}`); err != nil {
		t.Fatal(err)
	}

	begin = time.Now()
	if err := env.StopCluster("three"); err != nil {
		t.Fatal(err)
	}
	t.Logf("cluster three stopped in %v", time.Since(begin).Round(time.Millisecond))
	if env.Running("three") {
		t.Error("three still running after StopCluster")
	}
	short, cancelShort := context.WithTimeout(ctx, 15*time.Second)
	if _, err := env.Kubectl(short, "three", "get", "--raw=/readyz", "--request-timeout=2s"); err == nil {
		t.Error("cluster three answered while stopped")
	}
	cancelShort()
	if _, err := env.Kubectl(ctx, "two", "get", "ingress", "web", "-n", "default"); err != nil {
		t.Errorf("cluster two while three is down: %v", err)
	}

	begin = time.Now()
	if err := env.StartCluster("three"); err != nil {
		t.Fatal(err)
	}
	t.Logf("cluster three started again in %v", time.Since(begin).Round(time.Millisecond))
	addr, err := env.Kubectl(ctx, "three", "get", "gateway", "edge", "-n", "default", "-o", "jsonpath={.status.addresses[0].value}")
	if err != nil || addr != "192.0.2.30" {
		t.Fatalf("after restart: Gateway status address = %q (%v), want 192.0.2.30", addr, err)
	}
}

func getJSON(t *testing.T, c *k8stest.Cluster, path string, v any) {
	t.Helper()
	resp, err := c.HTTPClient().Get(c.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// anonymousClient trusts c's CA but sends no credentials.
func anonymousClient(c *k8stest.Cluster) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.CAPEM)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

const rbacYAML = `apiVersion: v1
kind: Namespace
metadata:
  name: meridian-system
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: meridian
  namespace: meridian-system
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: meridian-reader
rules:
- apiGroups: ["networking.k8s.io"]
  resources: ["ingresses"]
  verbs: ["get", "list", "watch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: meridian-reader
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: meridian-reader
subjects:
- kind: ServiceAccount
  name: meridian
  namespace: meridian-system
`

// TestRBACServiceAccount runs one cluster with RBAC and checks that a
// ServiceAccount token in a kubeconfig from WriteKubeconfig has exactly the
// rights its ClusterRole grants: how the leader's chart roles get tested.
func TestRBACServiceAccount(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	env := k8stest.Start(t, k8stest.Options{Clusters: []string{"rbac"}, RBAC: true})
	// no controller-manager: the ServiceAccount is created here, not by a controller
	if err := env.ApplyManifest(ctx, "rbac", rbacYAML); err != nil {
		t.Fatal(err)
	}
	tok, err := env.Kubectl(ctx, "rbac", "create", "token", "meridian", "-n", "meridian-system", "--duration=1h")
	if err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := env.WriteKubeconfig(kc, map[string]string{"rbac": strings.TrimSpace(tok)}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"}, "system:serviceaccount:meridian-system:meridian"},
		{[]string{"auth", "can-i", "watch", "ingresses.networking.k8s.io", "-A"}, "yes"},
		{[]string{"auth", "can-i", "list", "secrets", "-A"}, "no"},
		{[]string{"auth", "can-i", "patch", "ingresses.networking.k8s.io", "--subresource=status", "-n", "default"}, "no"},
	} {
		// can-i exits 1 for "no"; its answer is on stdout either way
		out, _ := env.KubectlCmd(ctx, kc, "rbac", tc.args...).Output()
		if got := strings.TrimSpace(string(out)); got != tc.want {
			t.Errorf("kubectl %s as the ServiceAccount: %q, want %q", strings.Join(tc.args, " "), got, tc.want)
		}
	}
	if _, err := env.KubectlCmd(ctx, kc, "rbac", "get", "ingresses", "-A").Output(); err != nil {
		t.Errorf("list ingresses as the ServiceAccount: %v", err)
	}
}
