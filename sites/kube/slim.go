package kube

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// The informers' transforms: cached objects keep only what Plan reads
// (the CoreDNS plugin/kubernetes/object habit). Every transform is
// idempotent, as client-go may apply it to an object twice.

// slimMeta drops managedFields, owner references, finalizers and every
// annotation Meridian does not read (kubectl's last-applied-configuration
// is often the largest part of an object).
func slimMeta(m *metav1.ObjectMeta) {
	m.ManagedFields = nil
	m.OwnerReferences = nil
	m.Finalizers = nil
	m.GenerateName = ""
	if len(m.Annotations) > 0 {
		keep := map[string]string{}
		for k, v := range m.Annotations {
			if strings.HasPrefix(k, annotationPrefix) || k == AnnotationExternalDNSHostname {
				keep[k] = v
			}
		}
		if len(keep) == 0 {
			keep = nil
		}
		m.Annotations = keep
	}
}

func slimIngress(obj any) (any, error) {
	in, ok := obj.(*networkingv1.Ingress)
	if !ok {
		return obj, nil
	}
	out := &networkingv1.Ingress{ObjectMeta: in.ObjectMeta, Status: in.Status}
	slimMeta(&out.ObjectMeta)
	if d := in.Spec.DefaultBackend; d != nil && d.Service != nil {
		out.Spec.DefaultBackend = &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: d.Service.Name}}
	}
	for _, r := range in.Spec.Rules {
		sr := networkingv1.IngressRule{Host: r.Host}
		if r.HTTP != nil {
			sr.HTTP = &networkingv1.HTTPIngressRuleValue{}
			for _, p := range r.HTTP.Paths {
				if p.Backend.Service != nil {
					sr.HTTP.Paths = append(sr.HTTP.Paths, networkingv1.HTTPIngressPath{
						Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: p.Backend.Service.Name}},
					})
				}
			}
		}
		out.Spec.Rules = append(out.Spec.Rules, sr)
	}
	return out, nil
}

func slimService(obj any) (any, error) {
	in, ok := obj.(*corev1.Service)
	if !ok {
		return obj, nil
	}
	out := &corev1.Service{ObjectMeta: in.ObjectMeta, Status: in.Status}
	slimMeta(&out.ObjectMeta)
	out.Spec.Type = in.Spec.Type
	for _, p := range in.Spec.Ports {
		out.Spec.Ports = append(out.Spec.Ports, corev1.ServicePort{Name: p.Name, Port: p.Port, Protocol: p.Protocol})
	}
	out.Status.Conditions = nil
	return out, nil
}

func slimEndpointSlice(obj any) (any, error) {
	in, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return obj, nil
	}
	out := &discoveryv1.EndpointSlice{ObjectMeta: in.ObjectMeta, AddressType: in.AddressType}
	slimMeta(&out.ObjectMeta)
	out.Annotations = nil
	for _, ep := range in.Endpoints {
		// the first address tells an endpoint listed in two slices
		// apart (capacity counts it once); the conditions say whether
		// it takes traffic
		var addr []string
		if len(ep.Addresses) > 0 {
			addr = ep.Addresses[:1:1]
		}
		out.Endpoints = append(out.Endpoints, discoveryv1.Endpoint{Addresses: addr,
			Conditions: discoveryv1.EndpointConditions{Ready: ep.Conditions.Ready, Terminating: ep.Conditions.Terminating}})
	}
	return out, nil
}

func slimNamespace(obj any) (any, error) {
	in, ok := obj.(*corev1.Namespace)
	if !ok {
		return obj, nil
	}
	out := &corev1.Namespace{ObjectMeta: in.ObjectMeta}
	slimMeta(&out.ObjectMeta)
	out.Annotations = nil
	return out, nil
}

// fromUnstructured converts a dynamic informer's object into its typed
// form; already typed objects pass through.
func fromUnstructured[T any, P interface {
	*T
	runtime.Object
}](obj any) (P, bool, error) {
	if p, ok := obj.(P); ok {
		return p, true, nil
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil, false, nil
	}
	p := P(new(T))
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, p); err != nil {
		return nil, false, fmt.Errorf("%s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	return p, false, nil
}

func slimGateway(obj any) (any, error) {
	in, typed, err := fromUnstructured[gatewayv1.Gateway](obj)
	if err != nil || in == nil || typed {
		return passThrough(obj, in, err)
	}
	out := &gatewayv1.Gateway{ObjectMeta: in.ObjectMeta}
	slimMeta(&out.ObjectMeta)
	for _, l := range in.Spec.Listeners {
		out.Spec.Listeners = append(out.Spec.Listeners, gatewayv1.Listener{Name: l.Name, Hostname: l.Hostname, Port: l.Port, Protocol: l.Protocol})
	}
	out.Status.Addresses = in.Status.Addresses
	return out, nil
}

func passThrough[P any](obj any, typed P, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return obj, nil
}

func slimParents(in []gatewayv1.RouteParentStatus) []gatewayv1.RouteParentStatus {
	var out []gatewayv1.RouteParentStatus
	for _, p := range in {
		sp := gatewayv1.RouteParentStatus{ParentRef: p.ParentRef}
		for _, c := range p.Conditions {
			if c.Type == string(gatewayv1.RouteConditionAccepted) {
				sp.Conditions = append(sp.Conditions, metav1.Condition{Type: c.Type, Status: c.Status, Reason: c.Reason})
			}
		}
		out = append(out, sp)
	}
	return out
}

func slimHTTPRoute(obj any) (any, error) {
	in, typed, err := fromUnstructured[gatewayv1.HTTPRoute](obj)
	if err != nil || in == nil || typed {
		return passThrough(obj, in, err)
	}
	out := &gatewayv1.HTTPRoute{ObjectMeta: in.ObjectMeta}
	slimMeta(&out.ObjectMeta)
	out.Spec.Hostnames = in.Spec.Hostnames
	out.Spec.ParentRefs = in.Spec.ParentRefs
	for _, r := range in.Spec.Rules {
		var sr gatewayv1.HTTPRouteRule
		for _, br := range r.BackendRefs {
			sr.BackendRefs = append(sr.BackendRefs, gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{BackendObjectReference: br.BackendObjectReference}})
		}
		out.Spec.Rules = append(out.Spec.Rules, sr)
	}
	out.Status.Parents = slimParents(in.Status.Parents)
	return out, nil
}

func slimGRPCRoute(obj any) (any, error) {
	in, typed, err := fromUnstructured[gatewayv1.GRPCRoute](obj)
	if err != nil || in == nil || typed {
		return passThrough(obj, in, err)
	}
	out := &gatewayv1.GRPCRoute{ObjectMeta: in.ObjectMeta}
	slimMeta(&out.ObjectMeta)
	out.Spec.Hostnames = in.Spec.Hostnames
	out.Spec.ParentRefs = in.Spec.ParentRefs
	for _, r := range in.Spec.Rules {
		var sr gatewayv1.GRPCRouteRule
		for _, br := range r.BackendRefs {
			sr.BackendRefs = append(sr.BackendRefs, gatewayv1.GRPCBackendRef{BackendRef: gatewayv1.BackendRef{BackendObjectReference: br.BackendObjectReference}})
		}
		out.Spec.Rules = append(out.Spec.Rules, sr)
	}
	out.Status.Parents = slimParents(in.Status.Parents)
	return out, nil
}

// slimTLSRoute reads TLSRoute v1 (and v1alpha2, whose fields Meridian
// reads are the same).
func slimTLSRoute(obj any) (any, error) {
	in, typed, err := fromUnstructured[gatewayv1.TLSRoute](obj)
	if err != nil || in == nil || typed {
		return passThrough(obj, in, err)
	}
	out := &gatewayv1.TLSRoute{ObjectMeta: in.ObjectMeta}
	slimMeta(&out.ObjectMeta)
	out.Spec.Hostnames = in.Spec.Hostnames
	out.Spec.ParentRefs = in.Spec.ParentRefs
	for _, r := range in.Spec.Rules {
		var sr gatewayv1.TLSRouteRule
		for _, br := range r.BackendRefs {
			sr.BackendRefs = append(sr.BackendRefs, gatewayv1.BackendRef{BackendObjectReference: br.BackendObjectReference})
		}
		out.Spec.Rules = append(out.Spec.Rules, sr)
	}
	out.Status.Parents = slimParents(in.Status.Parents)
	return out, nil
}

// slimPolicy keeps a policy object as unstructured (its status is written
// back) without managedFields and annotations.
func slimPolicy(obj any) (any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil
	}
	u = u.DeepCopy()
	u.SetManagedFields(nil)
	u.SetAnnotations(nil)
	return u, nil
}
