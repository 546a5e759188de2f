package kube

import (
	"slices"

	"github.com/meridian-gslb/meridian/gslb"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

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

// readyEndpoint reports whether an endpoint takes traffic: ready (a nil
// ready condition means ready, EndpointConditions) and not terminating
// (a terminating endpoint is on its way out even where the slice still
// calls it ready, as with publishNotReadyAddresses).
func readyEndpoint(ep *discoveryv1.Endpoint) bool {
	c := &ep.Conditions
	return (c.Ready == nil || *c.Ready) && (c.Terminating == nil || !*c.Terminating)
}

// measured reports whether the named Service (namespace/name) can say
// anything about readiness: every Service but ExternalName, including one
// not (yet) in the cache, whose missing endpoints say "none ready".
func (ix *clusterIndex) measured(k string) bool {
	s := ix.services[k]
	return s == nil || s.Spec.Type != corev1.ServiceTypeExternalName
}

// ready reports whether any of the named Services (namespace/name) has a
// ready endpoint. ExternalName Services say nothing; with nothing to go
// by, the object counts as ready.
func (ix *clusterIndex) ready(backends []string) bool {
	known := false
	for _, k := range backends {
		if !ix.measured(k) {
			continue
		}
		known = true
		for _, es := range ix.slices[k] {
			for i := range es.Endpoints {
				if readyEndpoint(&es.Endpoints[i]) {
					return true
				}
			}
		}
	}
	return !known
}

// capacity is the ready share of the endpoints behind the named Services,
// in thousandths (gslb.Member.Capacity): ready endpoints over all of them,
// over the EndpointSlices of every distinct Service that says anything
// (not ExternalName). An endpoint in several slices of one Service counts
// once, by its first address, ready if any copy is. 0 means nothing to
// measure: no endpoint, or none ready (then ready says so, and the member
// is Unready); a member with a ready endpoint never rounds down to 0.
func (ix *clusterIndex) capacity(backends []string) uint16 {
	var ready, total int
	for i, k := range backends {
		if slices.Contains(backends[:i], k) || !ix.measured(k) {
			continue
		}
		r, t := endpointCounts(ix.slices[k])
		ready += r
		total += t
	}
	return share(ready, total)
}

// share is ready/total in thousandths, rounded to nearest, at least 1
// when ready > 0; 0 when ready or total is 0.
func share(ready, total int) uint16 {
	if ready <= 0 || total <= 0 {
		return 0
	}
	return uint16(min(max((ready*gslb.FullCapacity+total/2)/total, 1), gslb.FullCapacity))
}

// endpointCounts counts the ready endpoints and all endpoints of one
// Service's slices, each endpoint once. Within one slice the controller
// never repeats an endpoint; across slices it may (while it moves
// endpoints between slices), so a second slice makes the counts go by
// address.
func endpointCounts(ess []*discoveryv1.EndpointSlice) (ready, total int) {
	if len(ess) == 1 {
		for i := range ess[0].Endpoints {
			total++
			if readyEndpoint(&ess[0].Endpoints[i]) {
				ready++
			}
		}
		return ready, total
	}
	seen := map[string]bool{} // address -> ready
	for _, es := range ess {
		for i := range es.Endpoints {
			ep := &es.Endpoints[i]
			r := readyEndpoint(ep)
			if len(ep.Addresses) == 0 {
				// no address to go by (the API requires one)
				total++
				if r {
					ready++
				}
				continue
			}
			a := ep.Addresses[0]
			was, dup := seen[a]
			switch {
			case !dup:
				seen[a] = r
				total++
				if r {
					ready++
				}
			case r && !was:
				seen[a] = true
				ready++
			}
		}
	}
	return ready, total
}
