package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/test/proctest"
)

// f. Capacity-weighted answers (issue #12): the ready share of a member
// cluster's endpoints scales its weight. Two clusters at equal weight
// behind a weighted HostPolicy with persistence; us-east has 10 of 10
// endpoints ready, eu-west 2 of 10, so eu-west offers 20% of its capacity
// and gets 0.2/(1+0.2) = 1/6 of the client subnets; scaled to 10 of 10 it
// gets half. Measured over 2000 ECS /24s at the leader and the follower
// (HRW: every site gives a subnet the same answer). Ignoring capacity, the
// first share would be 50%.
func (s *kubeSites) capacityWeights(t *testing.T) {
	const host = "capacity.k8s.test"
	clusters := []string{"us-east", "eu-west"}
	vips := []string{"192.0.2.51", "192.0.2.52"}
	s.deployApp(t, clusters[0], "capacity", host, gslbOn, podEndpoints(10, 10), vips[0])
	s.deployApp(t, clusters[1], "capacity", host, gslbOn, podEndpoints(2, 10), vips[1])
	s.apply(t, policyCluster, fmt.Sprintf(`apiVersion: gslb.meridian.io/v1alpha1
kind: HostPolicy
metadata: {name: capacity.k8s.test}
spec:
  fqdn: %s
  strategy: weighted
  persistence: {enabled: true, ipv4Mask: 24}
  sites: [{cluster: %s, weight: 5}, {cluster: %s, weight: 5}]
`, host, clusters[0], clusters[1]))
	s.waitAccepted(t, policyCluster, "hostpolicy", "capacity.k8s.test")

	s.waitCapacity(t, host, map[string]memberCapacity{vips[0]: {Weight: 5, Capacity: 1000}, vips[1]: {Weight: 5, Capacity: 200}})
	s.shares(t, host, vips, []float64{1.0, 0.2}, "eu-west at 2 of 10 ready")

	// The application scales up in eu-west: 10 of 10, an equal split.
	s.setEndpoints(t, clusters[1], "capacity", podEndpoints(10, 10))
	s.waitCapacity(t, host, map[string]memberCapacity{vips[0]: {Weight: 5, Capacity: 1000}, vips[1]: {Weight: 5, Capacity: 1000}})
	s.shares(t, host, vips, []float64{1.0, 1.0}, "eu-west at 10 of 10 ready")
}

// podEndpoints is the endpoints of an EndpointSlice with n pods, the first
// ready of them ready (YAML flow).
func podEndpoints(ready, n int) string {
	var eps []string
	for i := range n {
		eps = append(eps, fmt.Sprintf("{addresses: [10.2.0.%d], conditions: {ready: %v}}", i+1, i < ready))
	}
	return "[" + strings.Join(eps, ", ") + "]"
}

// memberCapacity is a member's weight and capacity as /api/v1/services
// shows them.
type memberCapacity struct {
	Weight   uint32 `json:"weight"`
	Capacity uint16 `json:"capacity"`
}

// waitCapacity polls /api/v1/services at every node until host's members
// (by first address) carry want: the State served has the capacity, so
// the answers that follow are made with it.
func (s *kubeSites) waitCapacity(t *testing.T, host string, want map[string]memberCapacity) {
	t.Helper()
	for _, m := range s.nodes {
		deadline := time.Now().Add(hangGuard)
		for {
			_, body := proctest.HTTP(t, "GET", m.HTTP+"/api/v1/services?service="+host)
			var resp struct {
				Services []struct {
					Members []struct {
						Addresses []string `json:"addresses"`
						memberCapacity
					} `json:"members"`
				} `json:"services"`
			}
			got := map[string]memberCapacity{}
			if json.Unmarshal([]byte(body), &resp) == nil && len(resp.Services) == 1 {
				for _, mem := range resp.Services[0].Members {
					if len(mem.Addresses) > 0 {
						got[mem.Addresses[0]] = mem.memberCapacity
					}
				}
			}
			if fmt.Sprint(got) == fmt.Sprint(want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s at %s: members %v, want %v\n%s", host, m.HTTP, got, want, body)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// shares asks every node for host over 2000 ECS subnets and checks that
// each of vips answers its share of the capacities (relative, the
// weights being equal) within 4 points, and that the nodes agree subnet
// by subnet.
func (s *kubeSites) shares(t *testing.T, host string, vips []string, capacity []float64, what string) {
	t.Helper()
	const subnets = 2000
	leader := s.answerPerSubnet(t, s.leader, host, subnets)
	follower := s.answerPerSubnet(t, s.follower, host, subnets)
	count := map[string]int{}
	for i := range subnets {
		count[leader[i]]++
		if leader[i] != follower[i] {
			t.Errorf("%s: subnet %s: the leader answers %s, the follower %s", what, ecsSubnet(i), leader[i], follower[i])
		}
	}
	total := 0.0
	for _, c := range capacity {
		total += c
	}
	for i, v := range vips {
		want := 100 * capacity[i] / total
		got := 100 * float64(count[v]) / subnets
		t.Logf("%s: %s answers %.1f%% of %d subnets, want %.1f%%", what, v, got, subnets, want)
		if got < want-4 || got > want+4 {
			t.Errorf("%s: %s answers %.1f%% of the subnets, want %.1f%% within 4 points", what, v, got, want)
		}
	}
}
