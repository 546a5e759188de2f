package kube

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/meridian-gslb/meridian/gslb"
)

// ClusterObjects are the (slim) objects of one member cluster, as its
// informers cache them. Order does not matter: Build sorts.
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
	// policy sets one).
	DefaultHealthCheck *gslb.HealthCheck

	Clusters       []ClusterObjects
	GlobalPolicies []GlobalPolicy
	HostPolicies   []HostPolicy
	// LastAccepted is the previous Output.Accepted: the version of each
	// policy that keeps applying while a newer one is rejected.
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

// source is one FQDN of one opted-in object.
type source struct {
	cluster    int
	ref        string // cluster/Kind/namespace/name, for messages
	kind       string
	fqdn       string
	ips        []netip.Addr
	hostnames  []string
	ready      bool
	port       uint16 // explicit health port (annotation, Service port, listener); 0: default by kind
	annotPort  bool   // port is from meridian.io/health-port
	annots     map[string]string
	policy     *compiledGlobal // nil: opted in by annotation
	defaultTLS bool            // default port 443 whatever the check kind (TLSRoute)
}

type builder struct {
	in       *Input
	out      *Output
	zones    []string
	globals  []*compiledGlobal // sorted by name
	hosts    map[string]*compiledHost
	byFQDN   map[string][]*source
	conflict map[string][]string // policy name -> objects another policy won
	problems map[string]bool
	resolve  map[string]bool
}

// Plan turns the objects of every member cluster and the policies into
// GSLB services. It is a pure function: the same Input always gives the
// same Output, and it does no I/O.
func Plan(in *Input) *Output {
	b := &builder{
		in: in,
		out: &Output{
			Readiness: map[gslb.MemberRef]bool{},
			Policies:  map[PolicyKey]PolicyStatus{},
			Accepted:  map[PolicyKey]AcceptedSpec{},
		},
		hosts:    map[string]*compiledHost{},
		byFQDN:   map[string][]*source{},
		conflict: map[string][]string{},
		problems: map[string]bool{},
		resolve:  map[string]bool{},
	}
	for _, z := range in.Zones {
		b.zones = append(b.zones, gslb.CanonicalName(z))
	}
	b.compilePolicies()
	for i := range in.Clusters {
		b.walkCluster(i)
	}
	b.assemble()
	b.policyStatus()
	for p := range b.problems {
		b.out.Problems = append(b.out.Problems, p)
	}
	slices.Sort(b.out.Problems)
	for h := range b.resolve {
		b.out.Resolve = append(b.out.Resolve, h)
	}
	slices.Sort(b.out.Resolve)
	return b.out
}

func (b *builder) problem(format string, args ...any) {
	b.problems[fmt.Sprintf(format, args...)] = true
}

func (b *builder) policyContext() *policyContext {
	pc := &policyContext{zones: b.zones, sites: map[string]bool{}, clusters: map[string]bool{}, base: b.in.DefaultPolicy}
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

// compilePolicies validates every policy; a rejected policy falls back to
// its last accepted version.
func (b *builder) compilePolicies() {
	pc := b.policyContext()
	gps := slices.Clone(b.in.GlobalPolicies)
	slices.SortFunc(gps, func(a, c GlobalPolicy) int { return cmp.Compare(a.Name, c.Name) })
	for _, gp := range gps {
		key := PolicyKey{KindGlobalPolicy, gp.Name}
		c, ok, st := acceptOrFallBack(b, key, gp.Generation, gp.DecodeErr, &gp.Spec,
			func(gen int64, s *GlobalPolicySpec) (*compiledGlobal, error) {
				return compileGlobal(gp.Name, gen, s, pc)
			},
			func(a AcceptedSpec) *GlobalPolicySpec { return a.Global },
			func(gen int64, s *GlobalPolicySpec) AcceptedSpec { return AcceptedSpec{Generation: gen, Global: s} })
		b.out.Policies[key] = st
		if ok {
			b.globals = append(b.globals, c)
		}
	}

	hps := slices.Clone(b.in.HostPolicies)
	slices.SortFunc(hps, func(a, c HostPolicy) int { return cmp.Compare(a.Name, c.Name) })
	for _, hp := range hps {
		key := PolicyKey{KindHostPolicy, hp.Name}
		c, ok, st := acceptOrFallBack(b, key, hp.Generation, hp.DecodeErr, &hp.Spec,
			func(gen int64, s *HostPolicySpec) (*compiledHost, error) { return compileHost(hp.Name, gen, s, pc) },
			func(a AcceptedSpec) *HostPolicySpec { return a.Host },
			func(gen int64, s *HostPolicySpec) AcceptedSpec { return AcceptedSpec{Generation: gen, Host: s} })
		if ok {
			if other, dup := b.hosts[c.fqdn]; dup {
				// the first by name wins; this one does not apply
				st.Accepted, st.Reason = false, ReasonConflict
				st.Message = fmt.Sprintf("HostPolicy %s already sets %s", other.name, c.fqdn)
				delete(b.out.Accepted, key)
			} else {
				b.hosts[c.fqdn] = c
			}
		}
		b.out.Policies[key] = st
	}
}

// acceptOrFallBack compiles one policy's spec (or reports its decode
// error). A spec that compiles is Accepted and recorded as the last
// accepted one; one that does not is Invalid, and the policy's last
// accepted spec, when there is one and it still compiles, applies
// instead. ok says whether c applies.
func acceptOrFallBack[S any, C interface{ warningList() []string }](b *builder, key PolicyKey, gen int64, decodeErr string, spec *S,
	compile func(gen int64, s *S) (C, error), lastOf func(AcceptedSpec) *S, accepted func(gen int64, s *S) AcceptedSpec,
) (c C, ok bool, st PolicyStatus) {
	st = PolicyStatus{ObservedGeneration: gen}
	err := errorString(decodeErr)
	if err == nil {
		c, err = compile(gen, spec)
	}
	if err == nil {
		cp := *spec
		b.out.Accepted[key] = accepted(gen, &cp)
		st.Accepted, st.Reason, st.Message = true, ReasonValid, acceptedMessage(c.warningList())
		return c, true, st
	}
	st.Reason, st.Message = ReasonInvalid, err.Error()
	if prev, found := b.in.LastAccepted[key]; found {
		if ps := lastOf(prev); ps != nil {
			if pcmp, perr := compile(prev.Generation, ps); perr == nil {
				b.out.Accepted[key] = prev
				st.Message += fmt.Sprintf("; generation %d, the last accepted, still applies", prev.Generation)
				return pcmp, true, st
			}
		}
	}
	return c, false, st
}

func errorString(s string) error {
	if s == "" {
		return nil
	}
	return fmt.Errorf("%s", s)
}

func acceptedMessage(warnings []string) string {
	if len(warnings) == 0 {
		return "the policy is valid"
	}
	return "the policy is valid; " + strings.Join(warnings, "; ")
}

// clusterIndex holds lookups into one cluster's objects.
type clusterIndex struct {
	nsLabels map[string]labels.Set
	services map[string]*corev1.Service
	slices   map[string][]*discoveryv1.EndpointSlice
	gateways map[string]*gatewayv1.Gateway
}

func key(ns, name string) string { return ns + "/" + name }

func newClusterIndex(c *ClusterObjects) *clusterIndex {
	ix := &clusterIndex{
		nsLabels: map[string]labels.Set{},
		services: map[string]*corev1.Service{},
		slices:   map[string][]*discoveryv1.EndpointSlice{},
		gateways: map[string]*gatewayv1.Gateway{},
	}
	for _, n := range c.Namespaces {
		ix.nsLabels[n.Name] = labels.Set(n.Labels)
	}
	for _, s := range c.Services {
		ix.services[key(s.Namespace, s.Name)] = s
	}
	for _, es := range c.EndpointSlices {
		if svc := es.Labels[discoveryv1.LabelServiceName]; svc != "" {
			k := key(es.Namespace, svc)
			ix.slices[k] = append(ix.slices[k], es)
		}
	}
	for _, g := range c.Gateways {
		ix.gateways[key(g.Namespace, g.Name)] = g
	}
	return ix
}

func (ix *clusterIndex) namespaceLabels(ns string) labels.Set {
	if l, ok := ix.nsLabels[ns]; ok {
		return l
	}
	// the label every namespace carries, when the Namespace is not cached
	return labels.Set{corev1.LabelMetadataName: ns}
}

// ready reports whether any of the named Services (namespace/name) has a
// ready endpoint. ExternalName Services say nothing; with nothing to go
// by, the object counts as ready.
func (ix *clusterIndex) ready(backends []string) bool {
	known := false
	for _, k := range backends {
		if s := ix.services[k]; s != nil && s.Spec.Type == corev1.ServiceTypeExternalName {
			continue
		}
		known = true
		for _, es := range ix.slices[k] {
			for _, ep := range es.Endpoints {
				// a nil ready condition means ready (EndpointConditions)
				if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
					return true
				}
			}
		}
	}
	return !known
}

func sortByName[T metav1.Object](objs []T) []T {
	out := slices.Clone(objs)
	slices.SortFunc(out, func(a, b T) int {
		return cmp.Or(cmp.Compare(a.GetNamespace(), b.GetNamespace()), cmp.Compare(a.GetName(), b.GetName()))
	})
	return out
}

// walkCluster finds the opted-in objects of one cluster and records their
// FQDNs.
func (b *builder) walkCluster(ci int) {
	c := &b.in.Clusters[ci]
	ix := newClusterIndex(c)
	for _, ing := range sortByName(c.Ingresses) {
		b.ingress(ci, ix, ing)
	}
	for _, svc := range sortByName(c.Services) {
		b.service(ci, ix, svc)
	}
	for _, r := range sortByName(c.HTTPRoutes) {
		var backends []gatewayv1.BackendObjectReference
		for _, rule := range r.Spec.Rules {
			for _, br := range rule.BackendRefs {
				backends = append(backends, br.BackendObjectReference)
			}
		}
		b.route(ci, ix, KindHTTPRoute, &r.ObjectMeta, r.Spec.Hostnames, r.Spec.ParentRefs, r.Status.Parents, backends, false)
	}
	for _, r := range sortByName(c.GRPCRoutes) {
		var backends []gatewayv1.BackendObjectReference
		for _, rule := range r.Spec.Rules {
			for _, br := range rule.BackendRefs {
				backends = append(backends, br.BackendObjectReference)
			}
		}
		b.route(ci, ix, KindGRPCRoute, &r.ObjectMeta, r.Spec.Hostnames, r.Spec.ParentRefs, r.Status.Parents, backends, false)
	}
	for _, r := range sortByName(c.TLSRoutes) {
		var backends []gatewayv1.BackendObjectReference
		for _, rule := range r.Spec.Rules {
			for _, br := range rule.BackendRefs {
				backends = append(backends, br.BackendObjectReference)
			}
		}
		b.route(ci, ix, KindTLSRoute, &r.ObjectMeta, r.Spec.Hostnames, r.Spec.ParentRefs, r.Status.Parents, backends, true)
	}
}

// optIn decides whether an object joins, and under which GlobalPolicy
// (nil: the annotation, with the base policy).
func (b *builder) optIn(ci int, ix *clusterIndex, kind string, m *metav1.ObjectMeta) (*compiledGlobal, bool) {
	if m.DeletionTimestamp != nil {
		return nil, false
	}
	v := strings.ToLower(strings.TrimSpace(m.Annotations[AnnotationGSLB]))
	if v == "false" {
		return nil, false
	}
	cluster := b.in.Clusters[ci].Name
	var winner *compiledGlobal
	objLabels := labels.Set(m.Labels)
	var nsLabels labels.Set
	for _, g := range b.globals {
		if nsLabels == nil {
			nsLabels = ix.namespaceLabels(m.Namespace)
		}
		if !g.selects(cluster, kind, m.Namespace, objLabels, nsLabels) {
			continue
		}
		if winner == nil {
			winner = g
			continue
		}
		b.conflict[g.name] = append(b.conflict[g.name], fmt.Sprintf("%s %s %s/%s (GlobalPolicy %s)", cluster, kind, m.Namespace, m.Name, winner.name))
	}
	if winner != nil {
		return winner, true
	}
	if v != "" && v != "true" {
		b.problem("%s/%s/%s/%s: annotation %s=%q: want \"true\" or \"false\"", cluster, kind, m.Namespace, m.Name, AnnotationGSLB, v)
	}
	return nil, v == "true"
}

// addSource records one FQDN of an opted-in object, if it is in a zone.
func (b *builder) addSource(s *source, host string) {
	if strings.HasPrefix(host, "*") {
		b.problem("%s: wildcard host %s is not served", s.ref, host)
		return
	}
	fqdn := gslb.CanonicalName(host)
	if err := checkName(fqdn); err != nil {
		b.problem("%s: host %q: %v", s.ref, host, err)
		return
	}
	if zoneFor(fqdn, b.zones) == "" {
		b.problem("%s: host %s is not inside any configured zone", s.ref, fqdn)
		b.out.OutsideZones++
		return
	}
	for _, o := range b.byFQDN[fqdn] {
		if o.ref == s.ref {
			// the same host twice in one object (two parent
			// Gateways): merge
			o.ready = o.ready || s.ready
			o.ips = append(slices.Clone(o.ips), s.ips...)
			o.hostnames = append(slices.Clone(o.hostnames), s.hostnames...)
			o.port = cmp.Or(o.port, s.port)
			return
		}
	}
	cp := *s
	cp.fqdn = fqdn
	b.byFQDN[fqdn] = append(b.byFQDN[fqdn], &cp)
}

// lbVIPs reads a load-balancer status.
func lbVIPs(ref string, ips []string, hosts []string, b *builder) ([]netip.Addr, []string) {
	var addrs []netip.Addr
	for _, s := range ips {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			b.problem("%s: status address %q is not an IP address", ref, s)
			continue
		}
		addrs = append(addrs, a.Unmap())
	}
	var names []string
	for _, h := range hosts {
		n := gslb.CanonicalName(h)
		if err := checkName(n); err != nil || strings.Contains(n, "*") {
			b.problem("%s: status hostname %q is not a host name", ref, h)
			continue
		}
		names = append(names, n)
	}
	return addrs, names
}

func (b *builder) healthPort(ref string, annots map[string]string) uint16 {
	v, ok := annots[AnnotationHealthPort]
	if !ok {
		return 0
	}
	p, err := strconv.ParseUint(strings.TrimSpace(v), 10, 16)
	if err != nil || p == 0 {
		b.problem("%s: annotation %s=%q: want a port number", ref, AnnotationHealthPort, v)
		return 0
	}
	return uint16(p)
}

func (b *builder) ingress(ci int, ix *clusterIndex, ing *networkingv1.Ingress) {
	pol, ok := b.optIn(ci, ix, KindIngress, &ing.ObjectMeta)
	if !ok {
		return
	}
	ref := fmt.Sprintf("%s/%s/%s/%s", b.in.Clusters[ci].Name, KindIngress, ing.Namespace, ing.Name)
	var ips, hosts []string
	for _, lb := range ing.Status.LoadBalancer.Ingress {
		if lb.IP != "" {
			ips = append(ips, lb.IP)
		}
		if lb.Hostname != "" {
			hosts = append(hosts, lb.Hostname)
		}
	}
	addrs, names := lbVIPs(ref, ips, hosts, b)
	var defaultBackend []string
	if d := ing.Spec.DefaultBackend; d != nil && d.Service != nil {
		defaultBackend = []string{key(ing.Namespace, d.Service.Name)}
	}
	port := b.healthPort(ref, ing.Annotations)
	annotPort := port != 0
	for _, r := range ing.Spec.Rules {
		if r.Host == "" {
			continue
		}
		var backends []string
		if r.HTTP != nil {
			for _, p := range r.HTTP.Paths {
				if p.Backend.Service != nil {
					backends = append(backends, key(ing.Namespace, p.Backend.Service.Name))
				}
			}
		}
		if len(backends) == 0 {
			backends = defaultBackend
		}
		b.addSource(&source{
			cluster: ci, ref: ref, kind: KindIngress, ips: addrs, hostnames: names,
			ready: ix.ready(backends), port: port, annotPort: annotPort, annots: ing.Annotations, policy: pol,
		}, r.Host)
	}
}

func (b *builder) service(ci int, ix *clusterIndex, svc *corev1.Service) {
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return
	}
	hostList := svc.Annotations[AnnotationHostname]
	if hostList == "" {
		hostList = svc.Annotations[AnnotationExternalDNSHostname]
	}
	if hostList == "" {
		return
	}
	pol, ok := b.optIn(ci, ix, KindService, &svc.ObjectMeta)
	if !ok {
		return
	}
	ref := fmt.Sprintf("%s/%s/%s/%s", b.in.Clusters[ci].Name, KindService, svc.Namespace, svc.Name)
	var ips, hosts []string
	for _, lb := range svc.Status.LoadBalancer.Ingress {
		if lb.IP != "" {
			ips = append(ips, lb.IP)
		}
		if lb.Hostname != "" {
			hosts = append(hosts, lb.Hostname)
		}
	}
	addrs, names := lbVIPs(ref, ips, hosts, b)
	port := b.healthPort(ref, svc.Annotations)
	annotPort := port != 0
	if port == 0 && len(svc.Spec.Ports) > 0 {
		port = uint16(svc.Spec.Ports[0].Port)
	}
	ready := ix.ready([]string{key(svc.Namespace, svc.Name)})
	for _, h := range strings.Split(hostList, ",") {
		if h = strings.TrimSpace(h); h != "" {
			b.addSource(&source{
				cluster: ci, ref: ref, kind: KindService, ips: addrs, hostnames: names,
				ready: ready, port: port, annotPort: annotPort, annots: svc.Annotations, policy: pol,
			}, h)
		}
	}
}

func (b *builder) route(ci int, ix *clusterIndex, kind string, m *metav1.ObjectMeta, hostnames []gatewayv1.Hostname,
	parents []gatewayv1.ParentReference, status []gatewayv1.RouteParentStatus, backendRefs []gatewayv1.BackendObjectReference, tls bool) {
	pol, ok := b.optIn(ci, ix, kind, m)
	if !ok {
		return
	}
	ref := fmt.Sprintf("%s/%s/%s/%s", b.in.Clusters[ci].Name, kind, m.Namespace, m.Name)
	var backends []string
	for _, br := range backendRefs {
		if br.Group != nil && *br.Group != "" || br.Kind != nil && *br.Kind != "Service" {
			continue
		}
		ns := m.Namespace
		if br.Namespace != nil {
			ns = string(*br.Namespace)
		}
		backends = append(backends, key(ns, string(br.Name)))
	}
	ready := ix.ready(backends)
	annotPort := b.healthPort(ref, m.Annotations)
	for _, pr := range parents {
		if pr.Group != nil && *pr.Group != gatewayv1.GroupName || pr.Kind != nil && *pr.Kind != "Gateway" {
			continue
		}
		ns := m.Namespace
		if pr.Namespace != nil {
			ns = string(*pr.Namespace)
		}
		if parentRejected(status, pr, ns, m.Namespace) {
			b.problem("%s: not accepted by Gateway %s/%s", ref, ns, pr.Name)
			continue
		}
		gw := ix.gateways[key(ns, string(pr.Name))]
		if gw == nil {
			continue
		}
		var ips, hosts []string
		for _, a := range gw.Status.Addresses {
			switch {
			case a.Type == nil || *a.Type == gatewayv1.IPAddressType:
				ips = append(ips, a.Value)
			case *a.Type == gatewayv1.HostnameAddressType:
				hosts = append(hosts, a.Value)
			}
		}
		addrs, names := lbVIPs(ref, ips, hosts, b)
		port := annotPort
		var listenerHosts []string
		for _, l := range gw.Spec.Listeners {
			if pr.SectionName != nil && l.Name != *pr.SectionName {
				continue
			}
			if pr.SectionName != nil && port == 0 {
				port = uint16(l.Port)
			}
			if l.Hostname != nil {
				listenerHosts = append(listenerHosts, string(*l.Hostname))
			}
		}
		hs := make([]string, 0, len(hostnames))
		for _, h := range hostnames {
			hs = append(hs, string(h))
		}
		if len(hs) == 0 {
			// a route without hostnames takes its listeners'
			hs = listenerHosts
		}
		for _, h := range hs {
			b.addSource(&source{
				cluster: ci, ref: ref, kind: kind, ips: addrs, hostnames: names,
				ready: ready, port: port, annotPort: annotPort != 0, annots: m.Annotations, policy: pol, defaultTLS: tls,
			}, h)
		}
	}
}

// parentRejected reports whether the route's status says the parent did
// not accept it.
func parentRejected(status []gatewayv1.RouteParentStatus, pr gatewayv1.ParentReference, ns, routeNS string) bool {
	for _, ps := range status {
		p := ps.ParentRef
		pns := routeNS
		if p.Namespace != nil {
			pns = string(*p.Namespace)
		}
		if p.Name != pr.Name || pns != ns || !ptrEq(p.SectionName, pr.SectionName) {
			continue
		}
		for _, c := range ps.Conditions {
			if c.Type == string(gatewayv1.RouteConditionAccepted) && c.Status == metav1.ConditionFalse {
				return true
			}
		}
	}
	return false
}

func ptrEq[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// memberAcc gathers one cluster's contribution to one FQDN.
type memberAcc struct {
	cluster int
	ips     []netip.Addr
	hosts   []string
	ready   bool
	port    uint16
	annot   bool // port from the health-port annotation
	weight  *uint32
	prio    *int
}

func (b *builder) assemble() {
	fqdns := map[string]bool{}
	for f := range b.byFQDN {
		fqdns[f] = true
	}
	for f, h := range b.hosts {
		if len(h.thirdParty) > 0 {
			fqdns[f] = true
		}
	}
	names := make([]string, 0, len(fqdns))
	for f := range fqdns {
		names = append(names, f)
	}
	slices.Sort(names)
	for _, f := range names {
		if svc, ok := b.service1(f); ok {
			b.out.Services = append(b.out.Services, svc)
		}
	}
}

// service1 builds the service of one FQDN.
func (b *builder) service1(fqdn string) (gslb.Service, bool) {
	srcs := b.byFQDN[fqdn]
	hp := b.hosts[fqdn]

	// the governing GlobalPolicy: the first by name among the sources'
	var gov *compiledGlobal
	for _, s := range srcs {
		if s.policy != nil && (gov == nil || s.policy.name < gov.name) {
			gov = s.policy
		}
	}

	pol := b.in.DefaultPolicy
	pol.Down.Addresses = slices.Clone(pol.Down.Addresses)
	hc := cloneHC(b.in.DefaultHealthCheck)
	mode := HostnameVIPsCNAME
	if gov != nil {
		gov.fields.applyPolicy(&pol)
		hc = gov.fields.applyHealthCheck(hc)
		if gov.fields.hostnameVIPs != "" {
			mode = gov.fields.hostnameVIPs
		}
	}
	b.annotationOverrides(srcs, &pol)
	if hp != nil {
		hp.fields.applyPolicy(&pol)
		hc = hp.fields.applyHealthCheck(hc)
		if hp.fields.hostnameVIPs != "" {
			mode = hp.fields.hostnameVIPs
		}
	}
	probe := hc != nil && !strings.EqualFold(hc.Kind, "none")

	// one accumulator per cluster, in cluster order
	var accs []*memberAcc
	byCluster := map[int]*memberAcc{}
	for _, s := range srcs {
		a := byCluster[s.cluster]
		if a == nil {
			a = &memberAcc{cluster: s.cluster}
			byCluster[s.cluster] = a
			accs = append(accs, a)
		}
		a.ips = append(a.ips, s.ips...)
		a.hosts = append(a.hosts, s.hostnames...)
		a.ready = a.ready || s.ready
		if a.port == 0 {
			a.port, a.annot = s.port, s.annotPort
			if a.port == 0 {
				a.port = defaultPort(s, hc)
			}
		}
		if a.weight == nil {
			a.weight = b.annotationUint(s, AnnotationWeight, 65535)
		}
		if a.prio == nil {
			if p := b.annotationUint(s, AnnotationPriority, 1000); p != nil {
				v := int(*p)
				a.prio = &v
			}
		}
	}
	slices.SortFunc(accs, func(x, y *memberAcc) int { return cmp.Compare(x.cluster, y.cluster) })

	type k8sMember struct {
		m     gslb.Member
		ready bool
		port  uint16
		annot bool
	}
	var members []k8sMember
	for _, a := range accs {
		cl := &b.in.Clusters[a.cluster]
		weight, prio := uint32(gslb.DefaultWeight), 0
		var nat siteOverride
		if gov != nil {
			if o, ok := gov.sites[cl.Name]; ok {
				if o.weight != nil {
					weight = *o.weight
				}
				if o.priority != nil {
					prio = *o.priority
				}
			}
		}
		if a.weight != nil {
			weight = *a.weight
		}
		if a.prio != nil {
			prio = *a.prio
		}
		if hp != nil {
			if o, ok := hp.sites[cl.Name]; ok {
				if o.weight != nil {
					weight = *o.weight
				}
				if o.priority != nil {
					prio = *o.priority
				}
				nat = o
			}
		}
		ips := slices.Clone(a.ips)
		var hosts []string
		for _, h := range a.hosts {
			if mode == HostnameVIPsResolve {
				b.resolve[h] = true
				if r := b.in.Resolved[h]; len(r) > 0 {
					for _, ip := range r {
						ips = append(ips, ip.Unmap())
					}
					continue
				}
			}
			hosts = append(hosts, h)
		}
		slices.SortFunc(ips, netip.Addr.Compare)
		ips = slices.Compact(ips)
		slices.Sort(hosts)
		hosts = slices.Compact(hosts)

		if len(nat.public) > 0 {
			// behind NAT: answer the public addresses, probe the status IP
			m := gslb.Member{Site: cl.Site, Addresses: slices.Clone(nat.public), Weight: weight, Priority: prio}
			if probe && len(ips) > 0 {
				m.ProbeAddress = ips[0]
			}
			if len(ips) > 0 || len(hosts) > 0 {
				members = append(members, k8sMember{m, a.ready, a.port, a.annot})
			}
			continue
		}
		if len(ips) > 0 {
			members = append(members, k8sMember{gslb.Member{Site: cl.Site, Addresses: ips, Weight: weight, Priority: prio}, a.ready, a.port, a.annot})
		}
		for _, h := range hosts {
			if h == fqdn {
				b.problem("%s: cluster %s: load-balancer host name %s is the service itself; dropped", fqdn, cl.Name, h)
				continue
			}
			members = append(members, k8sMember{gslb.Member{Site: cl.Site, Hostname: h, Weight: weight, Priority: prio}, a.ready, a.port, a.annot})
		}
	}

	// the service's probe port: the policy's (then only a health-port
	// annotation differs), else the first member's; members on another
	// port get ProbePort
	if probe {
		configured := hc.Port != 0
		hc.Port = cmp.Or(hc.Port, firstPort(members, func(k k8sMember) uint16 { return k.port }))
		for i := range members {
			if p := members[i].port; p != 0 && p != hc.Port && (!configured || members[i].annot) {
				members[i].m.ProbePort = p
			}
		}
	}

	svc := gslb.Service{Name: fqdn, Policy: pol, HealthCheck: hc}
	seen := map[string]bool{}
	for _, k := range members {
		id := k.m.ID()
		if seen[id] {
			continue
		}
		seen[id] = true
		svc.Members = append(svc.Members, k.m)
		b.out.Readiness[gslb.MemberRef{Service: fqdn, Member: id}] = k.ready
	}
	if hp != nil {
		for _, m := range hp.thirdParty {
			m.Addresses = slices.Clone(m.Addresses)
			if !probe {
				m.ProbeAddress = netip.Addr{}
			}
			if seen[m.ID()] {
				b.problem("%s: third-party member %s duplicates a Kubernetes member; dropped", fqdn, m.ID())
				continue
			}
			seen[m.ID()] = true
			svc.Members = append(svc.Members, m)
		}
	}
	if len(svc.Members) == 0 {
		return gslb.Service{}, false
	}
	slices.SortFunc(svc.Members, func(x, y gslb.Member) int { return cmp.Compare(x.ID(), y.ID()) })
	if gov != nil {
		st := b.out.Policies[PolicyKey{KindGlobalPolicy, gov.name}]
		st.Services++
		b.out.Policies[PolicyKey{KindGlobalPolicy, gov.name}] = st
	}
	if hp != nil {
		st := b.out.Policies[PolicyKey{KindHostPolicy, hp.name}]
		st.Services = 1
		b.out.Policies[PolicyKey{KindHostPolicy, hp.name}] = st
	}
	return svc, true
}

func firstPort[T any](xs []T, port func(T) uint16) uint16 {
	for _, x := range xs {
		if p := port(x); p != 0 {
			return p
		}
	}
	return 0
}

// defaultPort is the probe port of an object without an explicit one:
// 443 for TLS routes and https checks, else 80.
func defaultPort(s *source, hc *gslb.HealthCheck) uint16 {
	if s.defaultTLS || hc != nil && strings.EqualFold(hc.Kind, "https") {
		return 443
	}
	return 80
}

// annotationOverrides applies meridian.io/strategy and meridian.io/ttl
// from the first source that carries them.
func (b *builder) annotationOverrides(srcs []*source, pol *gslb.Policy) {
	strategyDone, ttlDone := false, false
	for _, s := range srcs {
		if v, ok := s.annots[AnnotationStrategy]; ok && !strategyDone {
			st := gslb.Strategy(strings.ToLower(strings.TrimSpace(v)))
			switch {
			case !slices.Contains(gslb.Strategies, st):
				b.problem("%s: annotation %s=%q: unknown strategy", s.ref, AnnotationStrategy, v)
			case st == gslb.StrategyTopology && len(pol.Topology) == 0:
				b.problem("%s: annotation %s=%q: no topology rules configured", s.ref, AnnotationStrategy, v)
			default:
				pol.Strategy = st
				strategyDone = true
			}
		}
		if v, ok := s.annots[AnnotationTTL]; ok && !ttlDone {
			t, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
			if err != nil || t < 1 || t > 86400 {
				b.problem("%s: annotation %s=%q: want seconds between 1 and 86400", s.ref, AnnotationTTL, v)
			} else {
				pol.TTL = uint32(t)
				ttlDone = true
			}
		}
	}
}

func (b *builder) annotationUint(s *source, name string, limit uint64) *uint32 {
	v, ok := s.annots[name]
	if !ok {
		return nil
	}
	n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
	if err != nil || n > limit {
		b.problem("%s: annotation %s=%q: want a number between 0 and %d", s.ref, name, v, limit)
		return nil
	}
	u := uint32(n)
	return &u
}

func cloneHC(hc *gslb.HealthCheck) *gslb.HealthCheck {
	if hc == nil {
		return nil
	}
	c := *hc
	c.ExpectStatus = slices.Clone(hc.ExpectStatus)
	return &c
}

// policyStatus adds conflict notes to the accepted GlobalPolicies.
func (b *builder) policyStatus() {
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
