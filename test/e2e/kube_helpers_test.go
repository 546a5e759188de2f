package e2e

// Helpers of the Kubernetes tests: real kube-apiservers (test/k8s/k8stest)
// holding what the ingress and endpoint controllers would write (Ingress
// status, EndpointSlices), written with kubectl; the policies' status as the
// leader writes it; and DNS answers awaited by polling. hangGuard only turns
// a hang into a failure: no assertion depends on elapsed time unless it says
// so, and a "stays" assertion holds for a bounded window after a positive
// sync point.

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/test/k8s/k8stest"
	"github.com/meridian-gslb/meridian/test/proctest"
)

// kubeEnv is a k8stest environment (one etcd, one kube-apiserver per
// member cluster) and the context that bounds every kubectl call of the
// test.
type kubeEnv struct {
	*k8stest.Env
	ctx context.Context
}

// startKube starts the clusters and installs the Meridian CRDs
// (GlobalPolicy, HostPolicy) in crdClusters, Established when it returns.
// timeout bounds every kubectl call of the test.
func startKube(t *testing.T, timeout time.Duration, clusters []string, crdClusters ...string) *kubeEnv {
	t.Helper()
	env := k8stest.Start(t, k8stest.Options{Clusters: clusters})
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	k := &kubeEnv{Env: env, ctx: ctx}
	crds, _ := filepath.Glob(filepath.Join(repoRoot, "deploy", "helm", "meridian", "crds", "*.yaml"))
	if len(crds) != 2 {
		t.Fatalf("want the two Meridian CRDs in deploy/helm/meridian/crds, found %v", crds)
	}
	for _, c := range crdClusters {
		must(t, env.Apply(ctx, c, crds...))
		k.kubectl(t, c, "wait", "--for=condition=Established", "--timeout=60s",
			"crd/globalpolicies.gslb.meridian.io", "crd/hostpolicies.gslb.meridian.io")
	}
	return k
}

// kubectl runs kubectl on one cluster and fails the test on an error.
func (k *kubeEnv) kubectl(t *testing.T, cluster string, args ...string) string {
	t.Helper()
	out, err := k.Kubectl(k.ctx, cluster, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return out
}

// apply applies YAML (server side) to one cluster.
func (k *kubeEnv) apply(t *testing.T, cluster, manifest string) {
	t.Helper()
	must(t, k.ApplyManifest(k.ctx, cluster, manifest))
}

// setStatus writes the load-balancer status of an Ingress or a Service in
// the default namespace, as the load-balancer controller would.
func (k *kubeEnv) setStatus(t *testing.T, cluster, kind, name string, vips ...string) {
	t.Helper()
	ing := []map[string]string{}
	for _, v := range vips {
		ing = append(ing, map[string]string{"ip": v})
	}
	patch, _ := json.Marshal(map[string]any{"status": map[string]any{"loadBalancer": map[string]any{"ingress": ing}}})
	k.kubectl(t, cluster, "patch", kind, name, "-n", "default", "--subresource=status", "--type=merge", "-p", string(patch))
}

// The endpoints of an application's EndpointSlice, as the endpoint
// controller would write them.
const (
	readyEndpoints   = `[{addresses: [10.1.0.1], conditions: {ready: true}}]`
	unreadyEndpoints = `[{addresses: [10.1.0.1], conditions: {ready: false}}]`
	noEndpoints      = `[]` // the application scaled to zero
)

// gslbOn is the ingressMeta of deployApp that opts an Ingress in without
// a GlobalPolicy.
const gslbOn = `annotations: {meridian.io/gslb: "true"}`

// deployApp writes an application into one member cluster: a Service
// named name, its EndpointSlice with endpoints, and an Ingress for host
// with ingressMeta (a YAML flow fragment: labels, annotations) whose
// load-balancer status is vips.
func (k *kubeEnv) deployApp(t *testing.T, cluster, name, host, ingressMeta, endpoints string, vips ...string) {
	t.Helper()
	k.apply(t, cluster, fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: %[1]s, namespace: default}
spec: {ports: [{port: 80}]}
---
%[4]s
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: %[1]s, namespace: default, %[3]s}
spec:
  rules:
  - host: %[2]s
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: %[1]s, port: {number: 80}}}}]}
`, name, host, ingressMeta, endpointSlice(name, endpoints)))
	k.setStatus(t, cluster, "ingress", name, vips...)
}

// setEndpoints replaces the endpoints of the application's EndpointSlice.
func (k *kubeEnv) setEndpoints(t *testing.T, cluster, name, endpoints string) {
	t.Helper()
	k.apply(t, cluster, endpointSlice(name, endpoints))
}

func endpointSlice(service, endpoints string) string {
	return fmt.Sprintf(`apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: %[1]s-1, namespace: default, labels: {kubernetes.io/service-name: %[1]s}}
addressType: IPv4
endpoints: %[2]s
`, service, endpoints)
}

// policyStatus is the part of a GlobalPolicy's or HostPolicy's status the
// tests read: the Accepted condition.
type policyStatus struct {
	Status, Reason, Message string
}

// waitPolicy polls a policy ("globalpolicy" or "hostpolicy") in cluster
// until the leader has written a status for its current generation, and
// returns the Accepted condition.
func (k *kubeEnv) waitPolicy(t *testing.T, cluster, resource, name string) policyStatus {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for {
		out := k.kubectl(t, cluster, "get", resource, name, "-o", "json")
		var obj struct {
			Metadata struct {
				Generation int64 `json:"generation"`
			} `json:"metadata"`
			Status struct {
				ObservedGeneration int64 `json:"observedGeneration"`
				Conditions         []struct {
					Type, Status, Reason, Message string
				} `json:"conditions"`
			} `json:"status"`
		}
		if err := json.Unmarshal([]byte(out), &obj); err != nil {
			t.Fatalf("%s %s: %v\n%s", resource, name, err, out)
		}
		if obj.Status.ObservedGeneration == obj.Metadata.Generation {
			for _, c := range obj.Status.Conditions {
				if c.Type == "Accepted" {
					return policyStatus{c.Status, c.Reason, c.Message}
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s: no Accepted condition for generation %d after %v:\n%s", resource, name, obj.Metadata.Generation, hangGuard, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitAccepted waits for the policy's status and fails unless it is
// Accepted=True.
func (k *kubeEnv) waitAccepted(t *testing.T, cluster, resource, name string) {
	t.Helper()
	if st := k.waitPolicy(t, cluster, resource, name); st.Status != "True" {
		t.Fatalf("%s %s is not accepted: %+v", resource, name, st)
	}
}

// ---- the leader's /api/v1/kubernetes ----

type kubeState struct {
	Leading bool     `json:"leading"`
	Term    uint64   `json:"term"`
	Stale   []string `json:"stale_clusters"`
}

func kubeStatus(t *testing.T, m *meridian) kubeState {
	t.Helper()
	_, body := proctest.HTTP(t, "GET", m.HTTP+"/api/v1/kubernetes")
	var s kubeState
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("/api/v1/kubernetes: %v\n%s", err, body)
	}
	return s
}

// waitKube polls m's /api/v1/kubernetes until ok accepts it.
func waitKube(t *testing.T, m *meridian, what string, ok func(kubeState) bool) kubeState {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for {
		s := kubeStatus(t, m)
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: /api/v1/kubernetes of %s after %v: %+v", what, m.HTTP, hangGuard, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ---- DNS answers ----

// queryRRs asks m for name's qtype and returns the rcode and the sorted
// addresses of the answer.
func queryRRs(m *meridian, name string, qtype uint16) (rcode int, got []string, err error) {
	r, err := tryExchange(m.DNS[0], dnsQuery{name: name, qtype: qtype})
	if err != nil {
		return -1, nil, err
	}
	got = addrs(r)
	slices.Sort(got)
	return r.Rcode, got, nil
}

// waitRRs polls m until name's qtype answer is NOERROR with exactly want
// (none: NODATA).
func waitRRs(t *testing.T, m *meridian, what, name string, qtype uint16, want ...string) {
	t.Helper()
	want = slices.Sorted(slices.Values(want))
	deadline := time.Now().Add(hangGuard)
	for {
		rcode, got, err := queryRRs(m, name, qtype)
		if err == nil && rcode == dns.RcodeSuccess && slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			_, k := proctest.HTTP(t, "GET", m.HTTP+"/api/v1/kubernetes")
			t.Fatalf("%s: %s %s at %s answers %s %v (err %v), want NOERROR %v\n/api/v1/kubernetes:\n%s",
				what, name, dns.TypeToString[qtype], m.HTTP, dns.RcodeToString[rcode], got, err, want, k)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitA waits until every node answers name's A query with exactly want.
func waitA(t *testing.T, nodes []*meridian, what, name string, want ...string) {
	t.Helper()
	for _, m := range nodes {
		waitRRs(t, m, what, name, dns.TypeA, want...)
	}
}

// holdA asserts that every node answers name's A query with exactly want,
// NOERROR, for the whole window: the "stays" assertion, to be made after a
// positive sync point.
func holdA(t *testing.T, nodes []*meridian, what, name string, window time.Duration, want ...string) {
	t.Helper()
	want = slices.Sorted(slices.Values(want))
	end := time.Now().Add(window)
	for n := 0; n == 0 || time.Now().Before(end); n++ {
		for _, m := range nodes {
			rcode, got, err := queryRRs(m, name, dns.TypeA)
			if err != nil || rcode != dns.RcodeSuccess || !slices.Equal(got, want) {
				t.Fatalf("%s: %s at %s answers %s %v (err %v) after %d good queries, want NOERROR %v throughout %v",
					what, name, m.HTTP, dns.RcodeToString[rcode], got, err, n, want, window)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// explainSays runs `meridian explain` against m and fails unless its
// output contains want.
func explainSays(t *testing.T, m *meridian, name, want string) {
	t.Helper()
	out, err := run(t, 15*time.Second, meridianBin, "explain", name, "--client", "192.0.2.1", "--server", m.HTTP)
	if err != nil || !strings.Contains(out, want) {
		t.Errorf("explain %s at %s should say %q (err %v):\n%s", name, m.HTTP, want, err, out)
	}
}
