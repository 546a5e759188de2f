package e2e

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
)

// The Kubernetes leader against three real kube-apiservers (east, west,
// south on one etcd; east is also the GSLB cluster with the policies and
// the Lease), asserted with real DNS queries to running meridian
// processes (issue #4).
func TestKubernetesLeader(t *testing.T) {
	t.Parallel()
	watchdog(t, 6*time.Minute)
	env := k8stest.Start(t, k8stest.Options{Clusters: []string{"east", "west", "south"}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	crds, _ := filepath.Glob(filepath.Join(repoRoot, "deploy", "helm", "meridian", "crds", "*.yaml"))
	if len(crds) != 2 {
		t.Fatalf("want the two Meridian CRDs in deploy/helm/meridian/crds, found %v", crds)
	}
	for _, c := range []string{"east", "west", "south"} {
		must(t, env.Apply(ctx, c, crds...)) // only east's policies count: policy_context
	}
	must(t, env.InstallGatewayAPICRDs(ctx)) // every cluster
	kubectl := func(cluster string, args ...string) string {
		t.Helper()
		out, err := env.Kubectl(ctx, cluster, args...)
		if err != nil {
			t.Fatalf("kubectl --context %s %s: %v\n%s", cluster, strings.Join(args, " "), err, out)
		}
		return out
	}
	apply := func(cluster, manifest string) {
		t.Helper()
		must(t, env.ApplyManifest(ctx, cluster, manifest))
	}
	// An Ingress for host with a backend Service whose EndpointSlice is
	// ready or not, and its status VIPs.
	ingress := func(cluster, name, host string, ready bool, vips ...string) {
		t.Helper()
		apply(cluster, fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: %[1]s, namespace: default}
spec: {ports: [{port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: %[1]s-1, namespace: default, labels: {kubernetes.io/service-name: %[1]s}}
addressType: IPv4
endpoints: [{addresses: [10.1.0.1], conditions: {ready: %[3]t}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: %[1]s, namespace: default, annotations: {meridian.io/gslb: "true"}}
spec:
  rules:
  - host: %[2]s
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: %[1]s, port: {number: 80}}}}]}
`, name, host, ready))
		setStatus(t, kubectl, cluster, "ingress", name, vips...)
	}

	dir := t.TempDir()
	cfg := writeFile(t, dir, "meridian.yaml", fmt.Sprintf(`log: {level: debug}
zones:
  - name: k8s.test.
    soa: {mname: ns1.k8s.test., rname: hostmaster.k8s.test., serial: 1, minimum: 60}
    nameservers: [{name: ns1.k8s.test., addresses: [127.0.0.1]}]
sites:
  - {name: east, location: {lat: 39.04, lon: -77.49}}
  - {name: west, location: {lat: 53.35, lon: -6.26}}
  - {name: south, location: {lat: 19.08, lon: 72.88}}
kubernetes:
  kubeconfig: %s
  clusters: [{context: east, site: east}, {context: west, site: west}, {context: south, site: south}]
  policy_context: east
  default_policy: {strategy: roundrobin, ttl: 30}
  leader_election: {lease_namespace: default, lease_name: meridian-e2e, lease_duration: 2s, renew_deadline: 1500ms, retry_period: 250ms}
`, env.Kubeconfig))
	a := startHealthMeridian(t, cfg)
	b := startHealthMeridian(t, cfg)
	want := func(m *meridian, what, name string, qtype uint16, addrs ...string) {
		t.Helper()
		waitRRs(t, m, what, name, qtype, addrs...)
	}

	// The same host on Ingresses in two clusters: both VIPs.
	ingress("east", "web", "web.k8s.test", true, "192.0.2.1")
	ingress("west", "web", "web.k8s.test", true, "198.51.100.1")
	want(a, "Ingress in east and west", "web.k8s.test", dns.TypeA, "192.0.2.1", "198.51.100.1")
	want(b, "the same on the second replica", "web.k8s.test", dns.TypeA, "192.0.2.1", "198.51.100.1")

	// A status IP change: the new answer.
	setStatus(t, kubectl, "east", "ingress", "web", "192.0.2.9")
	want(a, "east's status IP changed", "web.k8s.test", dns.TypeA, "192.0.2.9", "198.51.100.1")

	// No ready endpoint behind west's Ingress: that member is down.
	apply("west", `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints: [{addresses: [10.1.0.1], conditions: {ready: false}}]
`)
	want(a, "west without ready endpoints", "web.k8s.test", dns.TypeA, "192.0.2.9")
	out, err := run(t, 15*time.Second, meridianBin, "explain", "web.k8s.test", "--client", "192.0.2.1", "--server", a.HTTP)
	if err != nil || !strings.Contains(out, "Kubernetes reports no ready endpoint") {
		t.Errorf("explain should say why west is down (err %v):\n%s", err, out)
	}

	// The Ingress deleted in west: only east remains (and stays when
	// west's endpoints come back, since the Ingress is gone).
	kubectl("west", "delete", "ingress", "web", "-n", "default")
	want(a, "west's Ingress deleted", "web.k8s.test", dns.TypeA, "192.0.2.9")

	// A LoadBalancer Service with the external-dns hostname annotation,
	// IPv4 and IPv6 VIPs: A and AAAA.
	apply("south", `apiVersion: v1
kind: Service
metadata: {name: api, namespace: default, annotations: {external-dns.alpha.kubernetes.io/hostname: api.k8s.test, meridian.io/gslb: "true"}}
spec: {type: LoadBalancer, ports: [{port: 443}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: api-1, namespace: default, labels: {kubernetes.io/service-name: api}}
addressType: IPv4
endpoints: [{addresses: [10.3.0.1]}]
`)
	setStatus(t, kubectl, "south", "service", "api", "203.0.113.5", "2001:db8::5")
	want(a, "LoadBalancer Service in south", "api.k8s.test", dns.TypeA, "203.0.113.5")
	want(a, "its IPv6 VIP", "api.k8s.test", dns.TypeAAAA, "2001:db8::5")

	// A Gateway with an HTTPRoute.
	apply("east", `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec: {gatewayClassName: example, listeners: [{name: http, port: 80, protocol: HTTP}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop, namespace: default, annotations: {meridian.io/gslb: "true"}}
spec: {parentRefs: [{name: gw}], hostnames: [shop.k8s.test]}
`)
	out = kubectl("east", "patch", "gateway", "gw", "-n", "default", "--subresource=status", "--type=merge", "-p",
		`{"status":{"addresses":[{"type":"IPAddress","value":"192.0.2.77"}]}}`)
	_ = out
	want(a, "HTTPRoute on a Gateway", "shop.k8s.test", dns.TypeA, "192.0.2.77")

	// A policy: weights per cluster change the strategy's answers; an
	// invalid one is Rejected and the previous answers stay.
	ingress("west", "web", "web.k8s.test", true, "198.51.100.1")
	want(a, "west back", "web.k8s.test", dns.TypeA, "192.0.2.9", "198.51.100.1")
	apply("east", `apiVersion: gslb.meridian.io/v1alpha1
kind: HostPolicy
metadata: {name: web}
spec:
  fqdn: web.k8s.test
  strategy: weighted
  sites: [{cluster: east, weight: 0}, {cluster: west, weight: 100}]
`)
	want(a, "HostPolicy weights east 0, west 100", "web.k8s.test", dns.TypeA, "198.51.100.1")
	apply("east", `apiVersion: gslb.meridian.io/v1alpha1
kind: HostPolicy
metadata: {name: web}
spec:
  fqdn: web.k8s.test
  strategy: weighted
  sites: [{cluster: east, weight: 0}, {cluster: west, weight: 100}]
  thirdPartyMembers: [{site: mars, addresses: [192.0.2.200]}]
`)
	deadline := time.Now().Add(hangGuard)
	for {
		cond := kubectl("east", "get", "hostpolicy", "web", "-o", `jsonpath={.status.conditions[?(@.type=="Accepted")].status} {.status.conditions[?(@.type=="Accepted")].reason}: {.status.conditions[?(@.type=="Accepted")].message}`)
		if strings.HasPrefix(cond, "False ") {
			t.Logf("invalid HostPolicy: %s", cond)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("an invalid HostPolicy is not Rejected: Accepted=%q", cond)
		}
		time.Sleep(100 * time.Millisecond)
	}
	want(a, "the previous HostPolicy still applies", "web.k8s.test", dns.TypeA, "198.51.100.1")

	// One apiserver killed: its last-known members are still served, and
	// marked stale; fresh again when it returns.
	must(t, env.KillCluster("south"))
	deadline = time.Now().Add(hangGuard)
	for !slices.Contains(kubeStatus(t, a).Stale, "south") {
		if time.Now().After(deadline) {
			t.Fatalf("south not marked stale: %+v", kubeStatus(t, a))
		}
		time.Sleep(100 * time.Millisecond)
	}
	want(a, "south unreachable: last-known", "api.k8s.test", dns.TypeA, "203.0.113.5")
	out, err = run(t, 15*time.Second, meridianBin, "explain", "api.k8s.test", "--client", "192.0.2.1", "--server", a.HTTP)
	if err != nil || !strings.Contains(out, "stale: south/203.0.113.5") {
		t.Errorf("explain should mark south's member stale (err %v):\n%s", err, out)
	}
	if _, metrics := httpGet(t, a.HTTP+"/metrics"); !strings.Contains(metrics, `meridian_kube_cluster_stale{cluster="south"} 1`) {
		t.Errorf("/metrics does not mark south stale")
	}
	must(t, env.StartCluster("south"))
	deadline = time.Now().Add(time.Minute)
	for slices.Contains(kubeStatus(t, a).Stale, "south") {
		if time.Now().After(deadline) {
			t.Fatalf("south still stale after it came back: %+v", kubeStatus(t, a))
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Two replicas: one leads; killed, the other takes over.
	var leader, standby *meridian
	deadline = time.Now().Add(hangGuard)
	for leader == nil {
		sa, sb := kubeStatus(t, a), kubeStatus(t, b)
		switch {
		case sa.Leading && !sb.Leading:
			leader, standby = a, b
		case sb.Leading && !sa.Leading:
			leader, standby = b, a
		case time.Now().After(deadline):
			t.Fatalf("want exactly one leader: a %+v, b %+v", sa, sb)
		default:
			time.Sleep(100 * time.Millisecond)
		}
	}
	term := kubeStatus(t, leader).Term
	leader.cmd.Process.Kill()
	<-leader.done
	deadline = time.Now().Add(hangGuard)
	for !kubeStatus(t, standby).Leading {
		if time.Now().After(deadline) {
			t.Fatalf("the standby did not take over: %+v", kubeStatus(t, standby))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s := kubeStatus(t, standby); s.Term <= term {
		t.Errorf("the new leader's term %d is not above the old one's %d", s.Term, term)
	}
	want(standby, "the new leader serves", "web.k8s.test", dns.TypeA, "198.51.100.1")
}

// setStatus writes the load balancer status of an Ingress or Service.
func setStatus(t *testing.T, kubectl func(string, ...string) string, cluster, kind, name string, vips ...string) {
	t.Helper()
	var ing []map[string]string
	for _, v := range vips {
		ing = append(ing, map[string]string{"ip": v})
	}
	patch, _ := json.Marshal(map[string]any{"status": map[string]any{"loadBalancer": map[string]any{"ingress": ing}}})
	kubectl(cluster, "patch", kind, name, "-n", "default", "--subresource=status", "--type=merge", "-p", string(patch))
}

type kubeState struct {
	Leading bool     `json:"leading"`
	Term    uint64   `json:"term"`
	Stale   []string `json:"stale_clusters"`
}

func kubeStatus(t *testing.T, m *meridian) kubeState {
	t.Helper()
	_, body := httpGet(t, m.HTTP+"/api/v1/kubernetes")
	var s kubeState
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("/api/v1/kubernetes: %v\n%s", err, body)
	}
	return s
}

// waitRRs polls m until name's qtype answer is exactly addrs.
func waitRRs(t *testing.T, m *meridian, what, name string, qtype uint16, addrs ...string) {
	t.Helper()
	slices.Sort(addrs)
	deadline := time.Now().Add(hangGuard)
	var got []string
	for {
		r, err := tryExchange(m.DNS[0], dnsQuery{name: name, qtype: qtype})
		if err == nil {
			got = nil
			for _, rr := range r.Answer {
				switch v := rr.(type) {
				case *dns.A:
					got = append(got, v.A.String())
				case *dns.AAAA:
					got = append(got, v.AAAA.String())
				}
			}
			slices.Sort(got)
			if slices.Equal(got, addrs) {
				return
			}
		}
		if time.Now().After(deadline) {
			_, k := httpGet(t, m.HTTP+"/api/v1/kubernetes")
			t.Fatalf("%s: %s %s answers %v (err %v), want %v\n/api/v1/kubernetes:\n%s", what, name, dns.TypeToString[qtype], got, err, addrs, k)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The Kubernetes leader's builds reach a follower site over gossip, with
// each member's readiness: a follower drops a member Kubernetes reports
// unready although its own probes (none here) say nothing (issues #4, #5).
func TestKubernetesLeaderToFollower(t *testing.T) {
	t.Parallel()
	watchdog(t, 4*time.Minute)
	env := k8stest.Start(t, k8stest.Options{Clusters: []string{"east"}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	crds, _ := filepath.Glob(filepath.Join(repoRoot, "deploy", "helm", "meridian", "crds", "*.yaml"))
	must(t, env.Apply(ctx, "east", crds...))
	dir := t.TempDir()
	key := genKey(t, dir, "gossip.key")
	leaderIP, followerIP := "127.34.0.1", "127.34.0.2"
	lg, fg := hostPort(leaderIP, freePortOn(t, leaderIP)), hostPort(followerIP, freePortOn(t, followerIP))
	leaderCfg := writeFile(t, dir, "leader.yaml", fmt.Sprintf(`zones:
  - name: k8s.test.
    nameservers: [{name: ns1.k8s.test., addresses: [127.0.0.1]}]
sites: [{name: east}, {name: edge}]
kubernetes:
  kubeconfig: %s
  clusters: [{context: east, site: east}]
  policy_context: east
  default_policy: {strategy: roundrobin, ttl: 30}
gossip: {role: leader, site: east, listen: %s, join: [%s], key_file: %s, state_file: %s, timing: local, push_pull_interval: 1s}
`, env.Kubeconfig, lg, fg, key, filepath.Join(dir, "leader-state.json")))
	followerCfg := writeFile(t, dir, "follower.yaml", fmt.Sprintf(`gossip: {role: follower, site: edge, listen: %s, join: [%s], key_file: %s, state_file: %s, timing: local, push_pull_interval: 1s}
`, fg, lg, key, filepath.Join(dir, "follower-state.json")))

	manifest := func(ready bool) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {ports: [{port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints: [{addresses: [10.1.0.1], conditions: {ready: %t}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: default, annotations: {meridian.io/gslb: "true"}}
spec:
  rules:
  - host: web.k8s.test
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}
`, ready)
	}
	must(t, env.ApplyManifest(ctx, "east", manifest(true)))
	kubectl := func(cluster string, args ...string) string {
		t.Helper()
		out, err := env.Kubectl(ctx, cluster, args...)
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	setStatus(t, kubectl, "east", "ingress", "web", "192.0.2.1")

	leader := startMeridian(t, leaderCfg, []string{hostPort(leaderIP, freePort(t, leaderIP))}, hostPort(leaderIP, freePort(t, leaderIP)))
	waitRRs(t, leader, "the leader's build", "web.k8s.test", dns.TypeA, "192.0.2.1")
	follower := startMeridian(t, followerCfg, []string{hostPort(followerIP, freePort(t, followerIP))}, hostPort(followerIP, freePort(t, followerIP)))
	waitRRs(t, follower, "the build at the follower", "web.k8s.test", dns.TypeA, "192.0.2.1")

	// No ready endpoint: the leader's state says so, and the follower
	// applies it.
	must(t, env.ApplyManifest(ctx, "east", manifest(false)))
	waitRRs(t, follower, "unready at the follower", "web.k8s.test", dns.TypeA)
	out, err := run(t, 15*time.Second, meridianBin, "explain", "web.k8s.test", "--client", "192.0.2.1", "--server", follower.HTTP)
	if err != nil || !strings.Contains(out, "Kubernetes reports no ready endpoint") {
		t.Errorf("the follower's explain should say why (err %v):\n%s", err, out)
	}
	// A status change reaches the follower too.
	must(t, env.ApplyManifest(ctx, "east", manifest(true)))
	setStatus(t, kubectl, "east", "ingress", "web", "192.0.2.2")
	waitRRs(t, follower, "a new VIP at the follower", "web.k8s.test", dns.TypeA, "192.0.2.2")
}
