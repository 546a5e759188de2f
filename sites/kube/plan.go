package kube

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/meridian-gslb/meridian/gslb"
)

// ClusterObjects are the (slim) objects of one member cluster, as its
// informers cache them. Order does not matter: Plan sorts.
type ClusterObjects struct {
	Name string // the cluster (kubeconfig context)
	Site string // the Meridian site its members belong to

	Ingresses      []*networkingv1.Ingress
	Services       []*corev1.Service
	EndpointSlices []*discoveryv1.EndpointSlice
	Namespaces     []*corev1.Namespace
	Gateways       []*gatewayv1.Gateway
	HTTPRoutes     []*gatewayv1.HTTPRoute
	GRPCRoutes     []*gatewayv1.GRPCRoute
	TLSRoutes      []*gatewayv1.TLSRoute
}

// Input is everything Plan reads. Plan does not modify it.
type Input struct {
	// Zones are the authoritative zones; only FQDNs inside one become
	// services.
	Zones []string
	// Sites are the configured site names (third-party members must use
	// one of them or a cluster's site).
	Sites []string
	// DefaultPolicy is the base every service starts from.
	DefaultPolicy gslb.Policy
	// DefaultHealthCheck is the base health check (nil: none unless a
	// policy sets one); its port 0 takes the members'.
	DefaultHealthCheck *gslb.HealthCheck

	Clusters       []ClusterObjects
	GlobalPolicies []GlobalPolicy
	HostPolicies   []HostPolicy
	// LastAccepted is the previous Output.Accepted: the version of each
	// policy that keeps applying while a newer one is rejected. When it
	// has none for a policy, the policy's own LastAccepted (its status)
	// stands in.
	LastAccepted map[PolicyKey]AcceptedSpec
	// Resolved holds addresses of load-balancer host names, for policies
	// with hostnameVIPs: resolve. A name not in it is answered as a CNAME
	// until it is resolved.
	Resolved map[string][]netip.Addr
}

// Output is the result of Plan.
type Output struct {
	// Services sorted by name, members sorted by ID.
	Services []gslb.Service
	// Readiness is the control-plane readiness of every member that comes
	// from Kubernetes: false when none of the Services behind it has a
	// ready endpoint. Third-party members are absent (no opinion).
	Readiness map[gslb.MemberRef]bool
	// Capacity is the ready share of the endpoints behind every member
	// that comes from Kubernetes, in thousandths (gslb.Member.Capacity):
	// ready endpoints over all endpoints of the Services behind it.
	// Absent when there is nothing to measure (no endpoint, only
	// ExternalName or no Service backends) and when none is ready
	// (Readiness is false then, the member Unready).
	Capacity map[gslb.MemberRef]uint16
	// Policies is the status of every policy object in the input.
	Policies map[PolicyKey]PolicyStatus
	// Accepted is the next Input.LastAccepted.
	Accepted map[PolicyKey]AcceptedSpec
	// Problems are human-readable notes (sorted): host names outside the
	// zones, bad annotations, dropped members.
	Problems []string
	// OutsideZones counts host names of opted-in objects that are in no
	// configured zone.
	OutsideZones int
	// Resolve lists the load-balancer host names that policies want
	// resolved (hostnameVIPs: resolve), sorted.
	Resolve []string
}

// builder is one pass of Plan.
type builder struct {
	in       *Input
	out      *Output
	pc       *policyContext
	zones    []string
	globals  []*compiledGlobal // sorted by name
	hosts    map[string]*compiledHost
	byFQDN   map[string][]*source
	conflict map[string][]string // policy name -> objects another policy won
	problems map[string]bool
	resolve  map[string]bool
	indexes  []*clusterIndex // by cluster, as walkCluster built them
	// vetoes are policy versions a built service refused (its effective
	// policy or check is invalid), with the reason; newVetoes are this
	// pass's.
	vetoes, newVetoes map[vetoKey]string
}

// Plan turns the objects of every member cluster and the policies into
// GSLB services. It is a pure function: the same Input always gives the
// same Output, and it does no I/O.
//
// A policy passes twice: on its own when compiled, and within every
// service it shapes, where the config's defaults, the GlobalPolicy, the
// annotations, the HostPolicy and the members' ports meet (judgeService).
// A version that fails the second test is vetoed and the plan is made
// again with that version rejected (its last accepted one applies), until
// no service vetoes anything: each pass vetoes at least one more of a
// finite set of versions.
func Plan(in *Input) *Output {
	vetoes := map[vetoKey]string{}
	for {
		b := newBuilder(in, vetoes)
		b.run()
		if len(b.newVetoes) == 0 {
			return b.out
		}
		for k, why := range b.newVetoes {
			vetoes[k] = why
		}
	}
}

func newBuilder(in *Input, vetoes map[vetoKey]string) *builder {
	b := &builder{
		in:        in,
		vetoes:    vetoes,
		newVetoes: map[vetoKey]string{},
		out: &Output{
			Readiness: map[gslb.MemberRef]bool{},
			Capacity:  map[gslb.MemberRef]uint16{},
			Policies:  map[PolicyKey]PolicyStatus{},
			Accepted:  map[PolicyKey]AcceptedSpec{},
		},
		hosts:    map[string]*compiledHost{},
		byFQDN:   map[string][]*source{},
		conflict: map[string][]string{},
		problems: map[string]bool{},
		resolve:  map[string]bool{},
		indexes:  make([]*clusterIndex, len(in.Clusters)),
	}
	for _, z := range in.Zones {
		b.zones = append(b.zones, gslb.CanonicalName(z))
	}
	return b
}

func (b *builder) run() {
	in := b.in
	b.pc = b.policyContext()
	b.compilePolicies()
	for i := range in.Clusters {
		b.walkCluster(i)
	}
	b.assemble()
	b.conflictNotes()
	for p := range b.problems {
		b.out.Problems = append(b.out.Problems, p)
	}
	slices.Sort(b.out.Problems)
	for h := range b.resolve {
		b.out.Resolve = append(b.out.Resolve, h)
	}
	slices.Sort(b.out.Resolve)
}

func (b *builder) problem(format string, args ...any) {
	b.problems[fmt.Sprintf(format, args...)] = true
}

func (b *builder) policyContext() *policyContext {
	pc := &policyContext{zones: b.zones, sites: map[string]bool{}, clusters: map[string]bool{},
		base: b.in.DefaultPolicy, baseCheck: b.in.DefaultHealthCheck}
	for _, s := range b.in.Sites {
		pc.sites[s] = true
	}
	for _, c := range b.in.Clusters {
		pc.clusters[c.Name] = true
		if c.Site != "" {
			pc.sites[c.Site] = true
		}
	}
	return pc
}

// conflictNotes adds conflict notes to the accepted GlobalPolicies.
func (b *builder) conflictNotes() {
	for name, objs := range b.conflict {
		key := PolicyKey{KindGlobalPolicy, name}
		st := b.out.Policies[key]
		if !st.Accepted || st.Reason != ReasonValid {
			continue
		}
		slices.Sort(objs)
		n := len(objs)
		shown := objs[:min(n, 3)]
		st.Reason = ReasonConflict
		st.Message = fmt.Sprintf("%d selected object(s) are taken by a GlobalPolicy whose name sorts first: %s", n, strings.Join(shown, ", "))
		if n > len(shown) {
			st.Message += fmt.Sprintf(" and %d more", n-len(shown))
		}
		b.out.Policies[key] = st
	}
}
