package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// The Kubernetes scenarios of issue 9 item 4, proven at the DNS answer:
// four member clusters on real kube-apiservers (one etcd), a Kubernetes
// leader and a follower site joined to it over gossip, each a `meridian
// serve` process on its own loopback address, and every step asserted with
// real UDP queries to both. The scenarios share the apiservers and the two
// processes but no name, object or policy, so they run in parallel and each
// fails on its own.
func TestKubernetesScenarios(t *testing.T) {
	t.Parallel()
	watchdog(t, 5*time.Minute)
	s := startKubeSites(t)
	// The scenarios mostly wait on the processes, so they run at once, each
	// t.Run in its own goroutine rather than with t.Parallel, which would
	// queue them behind go test's -parallel limit (GOMAXPROCS: 2 here)
	// with the other tests of the package.
	var wg sync.WaitGroup
	for name, scenario := range map[string]func(*testing.T){
		"RoundRobin":           s.roundRobin,
		"PriorityFailover":     s.priorityFailover,
		"HealthCheckNAT":       s.healthCheckNAT,
		"HostPolicyWeights":    s.hostPolicyWeights,
		"UnprobeableCheckPath": s.unprobeableCheckPath,
		"UnprobeableCheckPort": s.unprobeableCheckPort,
		"CapacityWeights":      s.capacityWeights, // kube_capacity_test.go
	} {
		wg.Go(func() { t.Run(name, scenario) })
	}
	wg.Wait()
}

// The member clusters, each its own site; the first also holds the
// policies (policy_context).
var kubeClusters = []string{"us-east", "eu-west", "ap-south", "sa-east"}

const policyCluster = "us-east"

// kubeSites is the shared fixture: the clusters, the leader and the
// follower.
type kubeSites struct {
	*kubeEnv
	leader, follower *meridian
	nodes            []*meridian // both: every answer is asserted at each
}

func startKubeSites(t *testing.T) *kubeSites {
	t.Helper()
	k := startKube(t, 4*time.Minute, kubeClusters, policyCluster)
	dir := t.TempDir()
	key := genKey(t, dir, "gossip.key")
	leaderIP, followerIP := "127.36.0.1", "127.36.0.2"
	// The gossip ports are chosen before the processes start: each one's
	// config names the other's (join). DNS and HTTP listen on port 0 and
	// are read from the ready files.
	lg, fg := hostPort(leaderIP, freePort(t, leaderIP)), hostPort(followerIP, freePort(t, followerIP))
	var clusters, sites []string
	for _, c := range kubeClusters {
		clusters = append(clusters, fmt.Sprintf("{context: %s, site: %s}", c, c))
		sites = append(sites, "{name: "+c+"}")
	}
	// health rule local: each process answers from its own probes, so a
	// failover's deadline is the check's alone (no gossip round trip).
	leaderCfg := writeFile(t, dir, "leader.yaml", fmt.Sprintf(`log: {level: info}
zones:
  - name: k8s.test.
    soa: {mname: ns1.k8s.test., rname: hostmaster.k8s.test., serial: 1, minimum: 60}
    nameservers: [{name: ns1.k8s.test., addresses: [127.0.0.1]}]
sites: [%s, {name: edge}]
health: {rule: local}
kubernetes:
  kubeconfig: %s
  clusters: [%s]
  policy_context: %s
  default_policy: {strategy: roundrobin, ttl: 30}
gossip: {role: leader, site: %s, listen: %s, join: [%s], key_file: %s, state_file: %s, timing: local, push_pull_interval: 1s}
`, strings.Join(sites, ", "), k.Kubeconfig, strings.Join(clusters, ", "), policyCluster,
		policyCluster, lg, fg, key, filepath.Join(dir, "leader-state.json")))
	followerCfg := writeFile(t, dir, "follower.yaml", fmt.Sprintf(`log: {level: info}
health: {rule: local}
gossip: {role: follower, site: edge, listen: %s, join: [%s], key_file: %s, state_file: %s, timing: local, push_pull_interval: 1s}
`, fg, lg, key, filepath.Join(dir, "follower-state.json")))
	s := &kubeSites{kubeEnv: k}
	s.leader = startMeridian(t, leaderCfg, []string{hostPort(leaderIP, 0)}, hostPort(leaderIP, 0))
	s.follower = startMeridian(t, followerCfg, []string{hostPort(followerIP, 0)}, hostPort(followerIP, 0))
	s.nodes = []*meridian{s.leader, s.follower}
	return s
}

// a. Round robin across four clusters; the app scaled to zero cluster by
// cluster down to none (the GlobalPolicy's down response) and back, as in
// k8gb's full round-robin scenario.
func (s *kubeSites) roundRobin(t *testing.T) {
	const host = "rr.k8s.test"
	s.apply(t, policyCluster, `apiVersion: gslb.meridian.io/v1alpha1
kind: GlobalPolicy
metadata: {name: round-robin}
spec:
  selector: {objectSelector: {matchLabels: {scenario: round-robin}}}
  strategy: roundrobin
  ttl: 30
  downResponse: {type: fallback, addresses: [203.0.113.99]}
`)
	s.waitAccepted(t, policyCluster, "globalpolicy", "round-robin")
	var vips []string
	for i, c := range kubeClusters {
		vips = append(vips, fmt.Sprintf("192.0.2.%d", 11+i))
		s.deployApp(t, c, "rr", host, `labels: {scenario: round-robin}`, readyEndpoints, vips[i])
	}
	waitA(t, s.nodes, "the app in four clusters", host, vips...)
	s.rotates(t, host, vips)

	for i, c := range kubeClusters {
		s.setEndpoints(t, c, "rr", noEndpoints)
		what := "scaled to zero in " + strings.Join(kubeClusters[:i+1], ", ")
		if i+1 < len(vips) {
			waitA(t, s.nodes, what, host, vips[i+1:]...)
		} else {
			waitA(t, s.nodes, what+": the down response", host, "203.0.113.99")
		}
	}
	for i, c := range kubeClusters {
		s.setEndpoints(t, c, "rr", readyEndpoints)
		waitA(t, s.nodes, "back in "+strings.Join(kubeClusters[:i+1], ", "), host, vips[:i+1]...)
	}
	s.rotates(t, host, vips)

	// A load-balancer status change reaches the follower too.
	s.setStatus(t, "ap-south", "ingress", "rr", "192.0.2.23")
	vips[2] = "192.0.2.23"
	waitA(t, s.nodes, "ap-south's VIP changed", host, vips...)
}

// rotates checks that each of vips comes first in some answer of each node:
// round robin rotates the whole set rather than answering one order.
func (s *kubeSites) rotates(t *testing.T, host string, vips []string) {
	t.Helper()
	const queries = 60 // a given VIP never first: (3/4)^60, about 3e-8
	for _, m := range s.nodes {
		first := map[string]int{}
		for range queries {
			r := exchange(t, m.DNS[0], dnsQuery{name: host, qtype: dns.TypeA})
			got := addrs(r)
			if r.Rcode != dns.RcodeSuccess || len(got) != len(vips) {
				t.Fatalf("%s at %s: %s, want all of %v", host, m.HTTP, describe(r), vips)
			}
			first[got[0]]++
		}
		for _, v := range vips {
			if first[v] == 0 {
				t.Errorf("%s at %s: %s never comes first in %d answers (firsts: %v)", host, m.HTTP, v, queries, first)
			}
		}
	}
}

// b. Priority failover and failback driven by EndpointSlice readiness.
func (s *kubeSites) priorityFailover(t *testing.T) {
	const host = "failover.k8s.test"
	s.apply(t, policyCluster, `apiVersion: gslb.meridian.io/v1alpha1
kind: GlobalPolicy
metadata: {name: failover}
spec:
  selector: {objectSelector: {matchLabels: {scenario: failover}}}
  strategy: roundrobin
  sites: [{cluster: us-east, priority: 0}, {cluster: eu-west, priority: 1}, {cluster: ap-south, priority: 2}]
`)
	s.waitAccepted(t, policyCluster, "globalpolicy", "failover")
	clusters := kubeClusters[:3]
	vips := []string{"198.51.100.1", "198.51.100.2", "198.51.100.3"}
	for i, c := range clusters {
		s.deployApp(t, c, "failover", host, `labels: {scenario: failover}`, readyEndpoints, vips[i])
	}
	waitA(t, s.nodes, "priority 0 (us-east)", host, vips[0])

	s.setEndpoints(t, "us-east", "failover", unreadyEndpoints)
	waitA(t, s.nodes, "us-east not ready: priority 1 (eu-west)", host, vips[1])
	explainSays(t, s.follower, host, "Kubernetes reports no ready endpoint")
	s.setEndpoints(t, "eu-west", "failover", unreadyEndpoints)
	waitA(t, s.nodes, "eu-west not ready either: priority 2 (ap-south)", host, vips[2])
	s.setEndpoints(t, "eu-west", "failover", readyEndpoints)
	waitA(t, s.nodes, "eu-west ready: back to priority 1", host, vips[1])
	s.setEndpoints(t, "us-east", "failover", readyEndpoints)
	waitA(t, s.nodes, "us-east ready: back to priority 0", host, vips[0])
}

// The health check of the NAT scenario.
const (
	natInterval = 500 * time.Millisecond
	natTimeout  = 400 * time.Millisecond
	natRise     = 2
	natFall     = 2
)

// c. A HostPolicy health check probing real HTTP backends on loopback
// VIPs (the Ingresses' status addresses) while the answers carry the
// clusters' public addresses (NAT), combined with Kubernetes readiness.
func (s *kubeSites) healthCheckNAT(t *testing.T) {
	const host = "nat.k8s.test"
	clusters := kubeClusters[:3]
	probed := []string{"127.36.1.1", "127.36.1.2", "127.36.1.3"}
	public := []string{"203.0.113.1", "203.0.113.2", "203.0.113.3"}
	// The backends are bound before the policy names their port.
	port, lns := listenSamePort(t, probed...)
	var backends []*backend
	var targets []string
	var sites []string
	for i, c := range clusters {
		backends = append(backends, startBackendOn(t, lns[i], nil))
		targets = append(targets, hostPort(probed[i], port))
		sites = append(sites, fmt.Sprintf("{cluster: %s, publicAddresses: [%s]}", c, public[i]))
		s.deployApp(t, c, "nat", host, gslbOn, readyEndpoints, probed[i])
	}
	s.apply(t, policyCluster, fmt.Sprintf(`apiVersion: gslb.meridian.io/v1alpha1
kind: HostPolicy
metadata: {name: nat.k8s.test}
spec:
  fqdn: %s
  strategy: roundrobin
  healthCheck: {kind: http, port: %d, path: /healthz, interval: %v, timeout: %v, rise: %d, fall: %d}
  sites: [%s]
`, host, port, natInterval, natTimeout, natRise, natFall, strings.Join(sites, ", ")))
	s.waitAccepted(t, policyCluster, "hostpolicy", "nat.k8s.test")
	waitA(t, s.nodes, "the public addresses", host, public...)
	// Members nobody has probed yet answer as up: wait for the probes
	// themselves, at the status addresses and never at the public ones.
	for _, m := range s.nodes {
		waitProbed(t, m, "up", targets...)
		for _, tg := range getHealth(t, m).Targets {
			if strings.HasPrefix(tg.Target, "203.0.113.") {
				t.Errorf("%s probes the public address %s", m.HTTP, tg.Target)
			}
		}
	}

	// Not ready in Kubernetes: out of the answers, though its probe is up.
	s.setEndpoints(t, "eu-west", "nat", unreadyEndpoints)
	waitA(t, s.nodes, "eu-west not ready", host, public[0], public[2])
	for _, m := range s.nodes {
		waitProbed(t, m, "up", targets[1])
	}

	// A backend killed: out within fall x interval. The bound adds one
	// interval (the phase of the first failing probe, and 10% jitter) and
	// 2 s for a loaded machine; polling gives the first answer seen
	// without it, so the elapsed time bounds the real one from above.
	bound := natFall*natInterval + natInterval + 2*time.Second
	killed := time.Now()
	backends[0].kill()
	for _, m := range s.nodes {
		waitRRs(t, m, "us-east's backend killed", host, dns.TypeA, public[2])
		d := time.Since(killed)
		t.Logf("%s dropped the killed backend after %v (bound %v)", m.HTTP, d.Round(time.Millisecond), bound)
		if d > bound {
			t.Errorf("%s dropped the killed backend after %v, more than fall x interval allows (%v)", m.HTTP, d.Round(time.Millisecond), bound)
		}
		waitProbed(t, m, "down", targets[0])
	}
	backends[0].revive()
	waitA(t, s.nodes, "us-east's backend back", host, public[0], public[2])
	s.setEndpoints(t, "eu-west", "nat", readyEndpoints)
	waitA(t, s.nodes, "eu-west ready again", host, public...)
}

// waitProbed polls m's /api/v1/health until every target (ip:port) is
// listed in state.
func waitProbed(t *testing.T, m *meridian, state string, targets ...string) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for {
		h := getHealth(t, m)
		n := 0
		for _, tg := range h.Targets {
			for _, want := range targets {
				if strings.HasPrefix(tg.Target, want+"/") && tg.State == state {
					n++
				}
			}
		}
		if n == len(targets) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: targets %v not all %s after %v: %+v", m.HTTP, targets, state, hangGuard, h.Targets)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// d. HostPolicy weights measured over ECS client subnets: persistence
// hashes each /24 to one member (HRW, weighted), so every site gives a
// subnet the same answer and the shares follow the weights.
func (s *kubeSites) hostPolicyWeights(t *testing.T) {
	const host = "weights.k8s.test"
	clusters := kubeClusters[:3]
	vips := []string{"192.0.2.31", "192.0.2.32", "192.0.2.33"}
	weights := []int{5, 3, 2}
	var sites []string
	for i, c := range clusters {
		s.deployApp(t, c, "weights", host, gslbOn, readyEndpoints, vips[i])
		sites = append(sites, fmt.Sprintf("{cluster: %s, weight: %d}", c, weights[i]))
	}
	waitA(t, s.nodes, "the default policy (round robin)", host, vips...)
	s.apply(t, policyCluster, fmt.Sprintf(`apiVersion: gslb.meridian.io/v1alpha1
kind: HostPolicy
metadata: {name: weights.k8s.test}
spec:
  fqdn: %s
  strategy: weighted
  persistence: {enabled: true, ipv4Mask: 24}
  sites: [%s]
`, host, strings.Join(sites, ", ")))
	s.waitAccepted(t, policyCluster, "hostpolicy", "weights.k8s.test")
	// The policy applies when answers carry one address (round robin
	// answered all three).
	for _, m := range s.nodes {
		deadline := time.Now().Add(hangGuard)
		for {
			r := exchange(t, m.DNS[0], dnsQuery{name: host, qtype: dns.TypeA, ecs: "81.2.69.0/24"})
			if r.Rcode == dns.RcodeSuccess && len(addrs(r)) == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the weighted HostPolicy does not apply: %s", m.HTTP, describe(r))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	const subnets = 2000
	leader := s.answerPerSubnet(t, s.leader, host, subnets)
	follower := s.answerPerSubnet(t, s.follower, host, subnets)
	count := map[string]int{}
	for i := range subnets {
		count[leader[i]]++
		if leader[i] != follower[i] {
			t.Errorf("subnet %s: the leader answers %s, the follower %s", ecsSubnet(i), leader[i], follower[i])
		}
	}
	total := 0
	for _, w := range weights {
		total += w
	}
	for i, v := range vips {
		want := 100 * float64(weights[i]) / float64(total)
		got := 100 * float64(count[v]) / subnets
		t.Logf("%s (%s, weight %d): %.1f%% of %d subnets, want %.1f%%", v, clusters[i], weights[i], got, subnets, want)
		if got < want-3 || got > want+3 {
			t.Errorf("%s (weight %d of %d) answers %.1f%% of the subnets, want %.1f%% within 3 points", v, weights[i], total, got, want)
		}
	}
}

// ecsSubnet is the i-th client /24 of the weights scenario: distinct,
// public (11.0.0.0 to 90.255.255.0), spread over many /8s.
func ecsSubnet(i int) string { return fmt.Sprintf("%d.%d.%d.0/24", 11+i%80, (i/80)%256, (i*37)%256) }

// answerPerSubnet asks m for host with each of n ECS subnets (a few
// queries in flight) and returns the one address answered for each; every
// answer must be NOERROR with one address and the persistence mask (24)
// as its ECS scope (RFC 7871 section 7.2.1).
func (s *kubeSites) answerPerSubnet(t *testing.T, m *meridian, host string, n int) []string {
	t.Helper()
	out := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	const workers = 4
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				r, err := tryExchange(m.DNS[0], dnsQuery{name: host, qtype: dns.TypeA, ecs: ecsSubnet(i)})
				switch {
				case err != nil:
					errs[i] = err
				case r.Rcode != dns.RcodeSuccess || len(addrs(r)) != 1:
					errs[i] = fmt.Errorf("%s", describe(r))
				case ecsOf(r) == nil || ecsOf(r).SourceScope != 24:
					errs[i] = fmt.Errorf("want ECS scope 24: %s", describe(r))
				default:
					out[i] = addrs(r)[0]
				}
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s at %s with ECS %s: %v", host, m.HTTP, ecsSubnet(i), err)
		}
	}
	return out
}

// e. A policy whose health check cannot be probed is refused naming the
// field, and what it would change is not applied: kind tcp with an
// HTTP-only field (path).
func (s *kubeSites) unprobeableCheckPath(t *testing.T) {
	const host = "guard.k8s.test"
	s.deployApp(t, "us-east", "guard", host, gslbOn, readyEndpoints, "192.0.2.41")
	s.deployApp(t, "eu-west", "guard", host, gslbOn, readyEndpoints, "192.0.2.42")
	policy := func(east, west int, check string) string {
		return fmt.Sprintf(`apiVersion: gslb.meridian.io/v1alpha1
kind: HostPolicy
metadata: {name: guard.k8s.test}
spec:
  fqdn: %s
  strategy: weighted
  sites: [{cluster: us-east, weight: %d}, {cluster: eu-west, weight: %d}]
%s`, host, east, west, check)
	}
	s.apply(t, policyCluster, policy(0, 1, ""))
	s.waitAccepted(t, policyCluster, "hostpolicy", "guard.k8s.test")
	waitA(t, s.nodes, "the valid HostPolicy: eu-west only", host, "192.0.2.42")
	// Accepted, it would answer us-east only.
	s.rejected(t, "hostpolicy", "guard.k8s.test", policy(1, 0, "  healthCheck: {kind: tcp, port: 80, path: /healthz}\n"), "spec.healthCheck.path")
	s.answersStay(t, host, "192.0.2.42")
}

// e. The same with kind tcp and no port anywhere: the HostPolicy's only
// members are third-party addresses, which carry no port.
func (s *kubeSites) unprobeableCheckPort(t *testing.T) {
	const host = "thirdparty.k8s.test"
	policy := func(addr, check string) string {
		return fmt.Sprintf(`apiVersion: gslb.meridian.io/v1alpha1
kind: HostPolicy
metadata: {name: thirdparty.k8s.test}
spec:
  fqdn: %s
  thirdPartyMembers: [{site: sa-east, addresses: [%s]}]
%s`, host, addr, check)
	}
	s.apply(t, policyCluster, policy("192.0.2.51", ""))
	s.waitAccepted(t, policyCluster, "hostpolicy", "thirdparty.k8s.test")
	waitA(t, s.nodes, "the valid HostPolicy", host, "192.0.2.51")
	s.rejected(t, "hostpolicy", "thirdparty.k8s.test", policy("192.0.2.52", "  healthCheck: {kind: tcp}\n"), "spec.healthCheck.port")
	s.answersStay(t, host, "192.0.2.51")
}

// rejected applies an invalid policy and fails unless it is refused with
// a message naming field: by the leader (Accepted=False for its
// generation), or already by the API server when the CRD's CEL rules can
// tell (they name the object holding the field, "spec.healthCheck:
// ... path ...").
func (s *kubeSites) rejected(t *testing.T, resource, name, manifest, field string) {
	t.Helper()
	if err := s.ApplyManifest(s.ctx, policyCluster, manifest); err != nil {
		parent, leaf := field[:strings.LastIndex(field, ".")], field[strings.LastIndex(field, ".")+1:]
		if msg := err.Error(); !strings.Contains(msg, field) && !(strings.Contains(msg, parent+":") && strings.Contains(msg, leaf)) {
			t.Fatalf("%s %s refused without naming %s: %v", resource, name, field, err)
		}
		t.Logf("refused by the API server: %v", err)
		return
	}
	if st := s.waitPolicy(t, policyCluster, resource, name); st.Status != "False" || !strings.Contains(st.Message, field) {
		t.Fatalf("%s %s with a health check that cannot be probed: Accepted=%s, reason %s: %q; want False naming %s",
			resource, name, st.Status, st.Reason, st.Message, field)
	}
}

// answersStay asserts that host keeps answering want at the leader and
// the follower, once the follower holds the leader's state of after the
// rejection (the positive sync point).
func (s *kubeSites) answersStay(t *testing.T, host string, want ...string) {
	t.Helper()
	waitVersion(t, s.follower, stateVersion(t, s.leader))
	holdA(t, s.nodes, "the previous policy still applies", host, 2*time.Second, want...)
}
