package kube

import (
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func fatMeta() metav1.ObjectMeta {
	m := meta("shop", "web", AnnotationGSLB, "true", AnnotationExternalDNSHostname, "x.gslb.example",
		"kubectl.kubernetes.io/last-applied-configuration", `{"big":"blob"}`, "label:app", "shop")
	m.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}
	m.OwnerReferences = []metav1.OwnerReference{{Name: "owner"}}
	m.Finalizers = []string{"f"}
	return m
}

func checkSlimMeta(t *testing.T, m metav1.ObjectMeta) {
	t.Helper()
	if m.ManagedFields != nil || m.OwnerReferences != nil || m.Finalizers != nil {
		t.Errorf("metadata not slimmed: %+v", m)
	}
	if _, ok := m.Annotations["kubectl.kubernetes.io/last-applied-configuration"]; ok {
		t.Error("last-applied-configuration kept")
	}
	if m.Annotations[AnnotationGSLB] != "true" || m.Annotations[AnnotationExternalDNSHostname] == "" || m.Labels["app"] != "shop" {
		t.Errorf("needed metadata dropped: %+v", m)
	}
}

func TestSlimTyped(t *testing.T) {
	ing := ingress(fatMeta(), "be", []string{"a.gslb.example"}, "192.0.2.1")
	ing.Spec.TLS = []networkingv1.IngressTLS{{SecretName: "s"}}
	out, err := slimIngress(ing)
	if err != nil {
		t.Fatal(err)
	}
	si := out.(*networkingv1.Ingress)
	checkSlimMeta(t, si.ObjectMeta)
	if si.Spec.TLS != nil || si.Spec.Rules[0].Host != "a.gslb.example" || si.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name != "be" || si.Status.LoadBalancer.Ingress[0].IP != "192.0.2.1" {
		t.Errorf("slim Ingress %+v", si)
	}
	// idempotent
	again, _ := slimIngress(si)
	if fmt.Sprint(again) != fmt.Sprint(si) {
		t.Error("slimming twice changes the object")
	}

	svc := lbService(fatMeta(), 443, "192.0.2.2")
	svc.Spec.Selector = map[string]string{"a": "b"}
	svc.Spec.ClusterIPs = []string{"10.0.0.1"}
	out, _ = slimService(svc)
	ss := out.(*corev1.Service)
	checkSlimMeta(t, ss.ObjectMeta)
	if ss.Spec.Selector != nil || ss.Spec.ClusterIPs != nil || ss.Spec.Type != corev1.ServiceTypeLoadBalancer || ss.Spec.Ports[0].Port != 443 || ss.Status.LoadBalancer.Ingress[0].IP != "192.0.2.2" {
		t.Errorf("slim Service %+v", ss)
	}

	es := endpoints("shop", "be", "ready", "notready")
	es.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "x"}}
	// the first address (capacity counts an endpoint once by it) and the
	// terminating condition stay; the rest goes
	es.Endpoints[1].Addresses = []string{"10.0.0.2", "10.0.0.3"}
	es.Endpoints[1].Conditions.Terminating = ptr(true)
	es.Endpoints[1].NodeName = ptr("node-1")
	out, _ = slimEndpointSlice(es)
	se := out.(*discoveryv1.EndpointSlice)
	if se.ManagedFields != nil || len(se.Endpoints) != 2 || !slices.Equal(se.Endpoints[0].Addresses, []string{"10.0.0.1"}) || !slices.Equal(se.Endpoints[1].Addresses, []string{"10.0.0.2"}) ||
		!*se.Endpoints[0].Conditions.Ready || *se.Endpoints[1].Conditions.Ready || se.Endpoints[0].Conditions.Terminating != nil || !*se.Endpoints[1].Conditions.Terminating ||
		se.Endpoints[1].NodeName != nil || se.Labels[discoveryv1.LabelServiceName] != "be" {
		t.Errorf("slim EndpointSlice %+v", se)
	}
}

func TestSlimGatewayAPI(t *testing.T) {
	route := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1alpha2",
		"kind":       "TLSRoute",
		"metadata": map[string]any{"name": "r", "namespace": "shop", "annotations": map[string]any{AnnotationGSLB: "true", "other": "x"},
			"managedFields": []any{map[string]any{"manager": "kubectl"}}},
		"spec": map[string]any{
			"parentRefs": []any{map[string]any{"name": "gw", "sectionName": "tls"}},
			"hostnames":  []any{"t.gslb.example"},
			"rules":      []any{map[string]any{"backendRefs": []any{map[string]any{"name": "be", "port": int64(443)}}}},
		},
	}}
	out, err := slimTLSRoute(route)
	if err != nil {
		t.Fatal(err)
	}
	r := out.(*gatewayv1.TLSRoute)
	if r.ManagedFields != nil || r.Annotations["other"] != "" || r.Annotations[AnnotationGSLB] != "true" ||
		r.Spec.Hostnames[0] != "t.gslb.example" || *r.Spec.ParentRefs[0].SectionName != "tls" || r.Spec.Rules[0].BackendRefs[0].Name != "be" {
		t.Errorf("slim TLSRoute %+v", r)
	}
	if again, _ := slimTLSRoute(r); again != any(r) {
		t.Error("a typed object is converted again")
	}

	gw := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
		"metadata": map[string]any{"name": "gw", "namespace": "infra"},
		"spec":     map[string]any{"gatewayClassName": "c", "listeners": []any{map[string]any{"name": "http", "port": int64(80), "protocol": "HTTP", "hostname": "h.gslb.example"}}},
		"status": map[string]any{"addresses": []any{map[string]any{"type": "IPAddress", "value": "192.0.2.1"}},
			"listeners": []any{map[string]any{"name": "http", "attachedRoutes": int64(1), "supportedKinds": []any{}, "conditions": []any{}}}},
	}}
	out, err = slimGateway(gw)
	if err != nil {
		t.Fatal(err)
	}
	g := out.(*gatewayv1.Gateway)
	if g.Spec.GatewayClassName != "" || g.Status.Listeners != nil || g.Status.Addresses[0].Value != "192.0.2.1" || *g.Spec.Listeners[0].Hostname != "h.gslb.example" {
		t.Errorf("slim Gateway %+v", g)
	}

	bad := &unstructured.Unstructured{Object: map[string]any{"kind": "HTTPRoute", "metadata": map[string]any{"name": "x"}, "spec": map[string]any{"hostnames": "not-a-list"}}}
	if _, err := slimHTTPRoute(bad); err == nil {
		t.Error("a malformed route converts without error")
	}
}

// BenchmarkPlan: 10,000 Ingresses across 3 clusters (3,334 FQDNs, each in
// every cluster), with readiness from EndpointSlices.
func BenchmarkPlan(b *testing.B) {
	var clusters []ClusterObjects
	for c, name := range []string{"east", "west", "south"} {
		co := ClusterObjects{Name: name, Site: name}
		for i := range 3334 {
			host := fmt.Sprintf("s%d.gslb.example", i)
			ip := fmt.Sprintf("10.%d.%d.%d", c, i/250, i%250)
			co.Ingresses = append(co.Ingresses, ingress(meta("ns", fmt.Sprintf("i%d", i), optIn...), fmt.Sprintf("be%d", i), []string{host}, ip))
			co.EndpointSlices = append(co.EndpointSlices, endpoints("ns", fmt.Sprintf("be%d", i), "ready"))
		}
		clusters = append(clusters, co)
	}
	in := baseInput(clusters...)
	b.ReportAllocs()
	for b.Loop() {
		out := Plan(in)
		if len(out.Services) != 3334 {
			b.Fatalf("%d services", len(out.Services))
		}
	}
}
