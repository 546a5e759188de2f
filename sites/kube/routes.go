package kube

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func (b *builder) route(ci int, ix *clusterIndex, kind string, m *metav1.ObjectMeta, hostnames []gatewayv1.Hostname,
	parents []gatewayv1.ParentReference, status []gatewayv1.RouteParentStatus, backendRefs []gatewayv1.BackendObjectReference, tls bool) {
	pol, ok := b.optIn(ci, ix, kind, m)
	if !ok {
		return
	}
	ref := b.ref(ci, kind, m)
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
	routeHosts := make([]string, 0, len(hostnames))
	for _, h := range hostnames {
		routeHosts = append(routeHosts, string(h))
	}
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
		addrs, names := b.lbVIPs(ref, ips, hosts)
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
		hs := routeHosts
		if len(hs) == 0 {
			// a route without hostnames takes its listeners'
			hs = listenerHosts
		}
		for _, h := range hs {
			b.addSource(&source{
				cluster: ci, ref: ref, kind: kind, ips: addrs, hostnames: names,
				ready: ready, backends: backends, port: port, annotPort: annotPort != 0, annots: m.Annotations, policy: pol, defaultTLS: tls,
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
