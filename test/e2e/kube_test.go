package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/test/proctest"
)

// The Kubernetes leader against three real kube-apiservers (east, west,
// south on one etcd; east is also the GSLB cluster with the policies and
// the Lease), asserted with real DNS queries to two running meridian
// replicas (issue #4). The scenarios with a follower site are in
// kube_scenarios_test.go.
func TestKubernetesLeader(t *testing.T) {
	t.Parallel()
	watchdog(t, 6*time.Minute)
	k := startKube(t, 5*time.Minute, []string{"east", "west", "south"}, "east", "west", "south") // only east's policies count: policy_context
	must(t, k.InstallGatewayAPICRDs(k.ctx))                                                      // every cluster

	dir := t.TempDir()
	// Lease timings: a loaded 2-core machine running -race can miss a
	// renewal by a second or more, so the holder keeps the Lease for 6 s
	// and retries every 500 ms; a takeover still takes under 7 s.
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
  leader_election: {lease_namespace: default, lease_name: meridian-e2e, lease_duration: 6s, renew_deadline: 4s, retry_period: 500ms}
`, k.Kubeconfig))
	a := startHealthMeridian(t, cfg)
	b := startHealthMeridian(t, cfg)
	want := func(m *meridian, what, name string, qtype uint16, addrs ...string) {
		t.Helper()
		waitRRs(t, m, what, name, qtype, addrs...)
	}

	// The same host on Ingresses in two clusters: both VIPs.
	k.deployApp(t, "east", "web", "web.k8s.test", gslbOn, readyEndpoints, "192.0.2.1")
	k.deployApp(t, "west", "web", "web.k8s.test", gslbOn, readyEndpoints, "198.51.100.1")
	want(a, "Ingress in east and west", "web.k8s.test", dns.TypeA, "192.0.2.1", "198.51.100.1")
	want(b, "the same on the second replica", "web.k8s.test", dns.TypeA, "192.0.2.1", "198.51.100.1")

	// A status IP change: the new answer.
	k.setStatus(t, "east", "ingress", "web", "192.0.2.9")
	want(a, "east's status IP changed", "web.k8s.test", dns.TypeA, "192.0.2.9", "198.51.100.1")

	// No ready endpoint behind west's Ingress: that member is down.
	k.setEndpoints(t, "west", "web", unreadyEndpoints)
	want(a, "west without ready endpoints", "web.k8s.test", dns.TypeA, "192.0.2.9")
	explainSays(t, a, "web.k8s.test", "Kubernetes reports no ready endpoint")

	// The Ingress deleted in west: west's member leaves the answer. West
	// is made ready (and answered) first, so that the deletion, not the
	// readiness, is what removes it.
	k.setEndpoints(t, "west", "web", readyEndpoints)
	want(a, "west ready again", "web.k8s.test", dns.TypeA, "192.0.2.9", "198.51.100.1")
	k.kubectl(t, "west", "delete", "ingress", "web", "-n", "default")
	want(a, "west's Ingress deleted", "web.k8s.test", dns.TypeA, "192.0.2.9")

	// A LoadBalancer Service with the external-dns hostname annotation,
	// IPv4 and IPv6 VIPs: A and AAAA.
	k.apply(t, "south", `apiVersion: v1
kind: Service
metadata: {name: api, namespace: default, annotations: {external-dns.alpha.kubernetes.io/hostname: api.k8s.test, meridian.io/gslb: "true"}}
spec: {type: LoadBalancer, ports: [{port: 443}]}
---
`+endpointSlice("api", readyEndpoints))
	k.setStatus(t, "south", "service", "api", "203.0.113.5", "2001:db8::5")
	want(a, "LoadBalancer Service in south", "api.k8s.test", dns.TypeA, "203.0.113.5")
	want(a, "its IPv6 VIP", "api.k8s.test", dns.TypeAAAA, "2001:db8::5")

	// A Gateway with an HTTPRoute.
	k.apply(t, "east", `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec: {gatewayClassName: example, listeners: [{name: http, port: 80, protocol: HTTP}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop, namespace: default, annotations: {meridian.io/gslb: "true"}}
spec: {parentRefs: [{name: gw}], hostnames: [shop.k8s.test]}
`)
	k.kubectl(t, "east", "patch", "gateway", "gw", "-n", "default", "--subresource=status", "--type=merge", "-p",
		`{"status":{"addresses":[{"type":"IPAddress","value":"192.0.2.77"}]}}`)
	want(a, "HTTPRoute on a Gateway", "shop.k8s.test", dns.TypeA, "192.0.2.77")
	want(a, "no IPv6 address: NODATA, not NXDOMAIN (RFC 8020)", "shop.k8s.test", dns.TypeAAAA)

	// A policy: weights per cluster change the strategy's answers; an
	// invalid one is Rejected and the previous answers stay.
	k.deployApp(t, "west", "web", "web.k8s.test", gslbOn, readyEndpoints, "198.51.100.1")
	want(a, "west back", "web.k8s.test", dns.TypeA, "192.0.2.9", "198.51.100.1")
	k.apply(t, "east", `apiVersion: gslb.meridian.io/v1alpha1
kind: HostPolicy
metadata: {name: web}
spec:
  fqdn: web.k8s.test
  strategy: weighted
  sites: [{cluster: east, weight: 0}, {cluster: west, weight: 100}]
`)
	k.waitAccepted(t, "east", "hostpolicy", "web")
	want(a, "HostPolicy weights east 0, west 100", "web.k8s.test", dns.TypeA, "198.51.100.1")
	k.apply(t, "east", `apiVersion: gslb.meridian.io/v1alpha1
kind: HostPolicy
metadata: {name: web}
spec:
  fqdn: web.k8s.test
  strategy: weighted
  sites: [{cluster: east, weight: 100}, {cluster: west, weight: 0}]
  thirdPartyMembers: [{site: mars, addresses: [192.0.2.200]}]
`)
	if st := k.waitPolicy(t, "east", "hostpolicy", "web"); st.Status != "False" || !strings.Contains(st.Message, "spec.thirdPartyMembers[0].site") {
		t.Fatalf("a HostPolicy with an unknown site is not rejected naming the field: %+v", st)
	}
	// Accepted, it would answer east only.
	holdA(t, []*meridian{a}, "the previous HostPolicy still applies", "web.k8s.test", time.Second, "198.51.100.1")
	// The status page's Kubernetes panel lists the verdict.
	for deadline := time.Now().Add(hangGuard); ; time.Sleep(100 * time.Millisecond) {
		_, body := proctest.HTTP(t, "GET", a.HTTP+"/api/v1/overview?limit=1")
		type verdict struct {
			Kind, Name, Message string
			Accepted            bool
		}
		var o struct{ Kubernetes struct{ Policies []verdict } }
		must(t, json.Unmarshal([]byte(body), &o))
		if slices.ContainsFunc(o.Kubernetes.Policies, func(p verdict) bool {
			return p.Kind == "HostPolicy" && p.Name == "web" && !p.Accepted && strings.Contains(p.Message, "spec.thirdPartyMembers[0].site")
		}) {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the overview does not list the rejected HostPolicy web:\n%s", body)
			break
		}
	}

	// One apiserver killed: its last-known members are still served, and
	// marked stale; fresh again when it returns.
	must(t, k.KillCluster("south"))
	waitKube(t, a, "south marked stale", func(s kubeState) bool { return slices.Contains(s.Stale, "south") })
	want(a, "south unreachable: last-known", "api.k8s.test", dns.TypeA, "203.0.113.5")
	explainSays(t, a, "api.k8s.test", "stale: south/203.0.113.5")
	if _, metrics := proctest.HTTP(t, "GET", a.HTTP+"/metrics"); !strings.Contains(metrics, `meridian_kube_cluster_stale{cluster="south"} 1`) {
		t.Errorf("/metrics does not mark south stale")
	}
	must(t, k.StartCluster("south"))
	waitKube(t, a, "south fresh after it came back", func(s kubeState) bool { return !slices.Contains(s.Stale, "south") })

	// Two replicas: one leads; killed, the other takes over at a higher
	// term and serves.
	var leader, standby *meridian
	waitKube(t, a, "exactly one leader", func(sa kubeState) bool {
		sb := kubeStatus(t, b)
		switch {
		case sa.Leading && !sb.Leading:
			leader, standby = a, b
		case sb.Leading && !sa.Leading:
			leader, standby = b, a
		}
		return leader != nil
	})
	term := kubeStatus(t, leader).Term
	leader.Cmd.Process.Kill()
	<-leader.Done()
	waitKube(t, standby, "the standby takes over at a higher term", func(s kubeState) bool { return s.Leading && s.Term > term })
	want(standby, "the new leader serves", "web.k8s.test", dns.TypeA, "198.51.100.1")
}
