package control

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/test/k8s/k8stest"
)

// BenchmarkIngressToAnswer measures the Kubernetes leader's convergence
// (issue #4): the time from an Ingress status change, a PATCH of the
// status subresource sent to a real kube-apiserver, to the first DNS
// answer that carries the new VIP. The server runs in process (config.Load,
// New, Run) with the kubernetes section; DNS is asked over UDP every
// 2 ms. The time covers the watch event, the debounce (150 ms quiet
// period), the build, the snapshot swap and the query.
//
// One op is one patch; run a series of them:
//
//	go test -run '^$' -bench IngressToAnswer -benchtime 50x -count 1 ./control
//
// Metrics: p50-s, p99-s and max-s over the ops (nearest rank).
func BenchmarkIngressToAnswer(b *testing.B) {
	env := k8stest.Start(b, k8stest.Options{Clusters: []string{"east"}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	crds, _ := filepath.Glob(filepath.Join("..", "..", "deploy", "helm", "meridian", "crds", "*.yaml"))
	if err := env.Apply(ctx, "east", crds...); err != nil {
		b.Fatal(err)
	}
	if err := env.ApplyManifest(ctx, "east", `apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {ports: [{port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints: [{addresses: [10.1.0.1]}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: default, annotations: {meridian.io/gslb: "true"}}
spec:
  rules:
  - host: web.bench.example
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}
`); err != nil {
		b.Fatal(err)
	}
	cl := env.Cluster("east")
	hc := cl.HTTPClient()
	statusURL := cl.URL + "/apis/networking.k8s.io/v1/namespaces/default/ingresses/web/status"
	patch := func(ip string) {
		body := fmt.Sprintf(`{"status":{"loadBalancer":{"ingress":[{"ip":%q}]}}}`, ip)
		req, err := http.NewRequestWithContext(ctx, http.MethodPatch, statusURL, bytes.NewBufferString(body))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/merge-patch+json")
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("PATCH %s: %s\n%s", statusURL, resp.Status, msg)
		}
	}
	patch("10.200.0.1")

	dir := b.TempDir()
	path := filepath.Join(dir, "meridian.yaml")
	cfg := fmt.Sprintf(`log: {level: warn}
dns: {listen: ["127.0.0.1:0"]}
http: {listen: "127.0.0.1:0"}
zones:
  - name: bench.example.
    nameservers: [{name: ns1.bench.example., addresses: [127.0.0.1]}]
sites:
  - name: east
kubernetes:
  kubeconfig: %s
  clusters: [{context: east, site: east}]
  policy_context: east
  default_policy: {strategy: roundrobin, ttl: 30}
`, env.Kubeconfig)
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		b.Fatal(err)
	}
	_, dnsAddr := startInProcess(b, path)
	client := &dns.Client{Net: "udp", Timeout: 500 * time.Millisecond}
	answers := func(ip string) bool {
		m := new(dns.Msg)
		m.SetQuestion("web.bench.example.", dns.TypeA)
		r, _, err := client.Exchange(m, dnsAddr)
		if err != nil || len(r.Answer) != 1 {
			return false
		}
		a, ok := r.Answer[0].(*dns.A)
		return ok && a.A.String() == ip
	}
	waitAnswer := func(ip string) {
		deadline := time.Now().Add(failoverGuard)
		for !answers(ip) {
			if time.Now().After(deadline) {
				b.Fatalf("no answer %s after %v", ip, failoverGuard)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	waitAnswer("10.200.0.1")

	var lat []time.Duration
	i := 0
	for b.Loop() {
		i++
		ip := fmt.Sprintf("10.201.%d.%d", i/250, i%250+1)
		start := time.Now()
		patch(ip)
		waitAnswer(ip)
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	rank := func(p float64) float64 {
		return lat[min(len(lat)-1, int(p*float64(len(lat))))].Seconds()
	}
	b.ReportMetric(rank(0.5), "p50-s")
	b.ReportMetric(rank(0.99), "p99-s")
	b.ReportMetric(lat[len(lat)-1].Seconds(), "max-s")
}
