package kube

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/meridian-gslb/meridian/gslb"
)

// source is one FQDN of one opted-in object.
type source struct {
	cluster    int
	ref        string // cluster/Kind/namespace/name, for messages
	kind       string
	fqdn       string
	ips        []netip.Addr
	hostnames  []string
	ready      bool
	backends   []string // the Services behind it (namespace/name), for capacity; shared, read-only
	port       uint16   // explicit health port (annotation, Service port, listener); 0: default by kind
	annotPort  bool     // port is from meridian.io/health-port
	annots     map[string]string
	policy     *compiledGlobal // nil: opted in by annotation
	defaultTLS bool            // default port 443 whatever the check kind (TLSRoute)
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
	b.indexes[ci] = ix
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
		b.problem("%s: annotation %s=%q: want \"true\" or \"false\"", b.ref(ci, kind, m), AnnotationGSLB, v)
	}
	return nil, v == "true"
}

// ref names an object in messages: cluster/Kind/namespace/name.
func (b *builder) ref(ci int, kind string, m *metav1.ObjectMeta) string {
	return fmt.Sprintf("%s/%s/%s/%s", b.in.Clusters[ci].Name, kind, m.Namespace, m.Name)
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
			o.backends = append(slices.Clone(o.backends), s.backends...)
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
func (b *builder) lbVIPs(ref string, ips, hosts []string) ([]netip.Addr, []string) {
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

func (b *builder) ingress(ci int, ix *clusterIndex, ing *networkingv1.Ingress) {
	pol, ok := b.optIn(ci, ix, KindIngress, &ing.ObjectMeta)
	if !ok {
		return
	}
	ref := b.ref(ci, KindIngress, &ing.ObjectMeta)
	var ips, hosts []string
	for _, lb := range ing.Status.LoadBalancer.Ingress {
		if lb.IP != "" {
			ips = append(ips, lb.IP)
		}
		if lb.Hostname != "" {
			hosts = append(hosts, lb.Hostname)
		}
	}
	addrs, names := b.lbVIPs(ref, ips, hosts)
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
			ready: ix.ready(backends), backends: backends, port: port, annotPort: annotPort, annots: ing.Annotations, policy: pol,
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
	ref := b.ref(ci, KindService, &svc.ObjectMeta)
	var ips, hosts []string
	for _, lb := range svc.Status.LoadBalancer.Ingress {
		if lb.IP != "" {
			ips = append(ips, lb.IP)
		}
		if lb.Hostname != "" {
			hosts = append(hosts, lb.Hostname)
		}
	}
	addrs, names := b.lbVIPs(ref, ips, hosts)
	port := b.healthPort(ref, svc.Annotations)
	annotPort := port != 0
	if port == 0 && len(svc.Spec.Ports) > 0 {
		port = uint16(svc.Spec.Ports[0].Port)
	}
	backends := []string{key(svc.Namespace, svc.Name)}
	ready := ix.ready(backends)
	for _, h := range strings.Split(hostList, ",") {
		if h = strings.TrimSpace(h); h != "" {
			b.addSource(&source{
				cluster: ci, ref: ref, kind: KindService, ips: addrs, hostnames: names,
				ready: ready, backends: backends, port: port, annotPort: annotPort, annots: svc.Annotations, policy: pol,
			}, h)
		}
	}
}
