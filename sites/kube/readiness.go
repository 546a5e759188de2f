package kube

import (
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
