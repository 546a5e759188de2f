package kube

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/meridian-gslb/meridian/gslb"
)

// Object builders for the pure tests. A VIP that parses as an IP address
// is an IP, anything else a host name.

func meta(ns, name string, kv ...string) metav1.ObjectMeta {
	m := metav1.ObjectMeta{Namespace: ns, Name: name}
	for i := 0; i+1 < len(kv); i += 2 {
		k, v := kv[i], kv[i+1]
		if len(k) > 6 && k[:6] == "label:" {
			if m.Labels == nil {
				m.Labels = map[string]string{}
			}
			m.Labels[k[6:]] = v
			continue
		}
		if m.Annotations == nil {
			m.Annotations = map[string]string{}
		}
		m.Annotations[k] = v
	}
	return m
}

func lbStatus(vips []string) []networkingv1.IngressLoadBalancerIngress {
	var out []networkingv1.IngressLoadBalancerIngress
	for _, v := range vips {
		if _, err := netip.ParseAddr(v); err == nil {
			out = append(out, networkingv1.IngressLoadBalancerIngress{IP: v})
		} else {
			out = append(out, networkingv1.IngressLoadBalancerIngress{Hostname: v})
		}
	}
	return out
}

// ingress has one rule per host, each backed by Service backend.
func ingress(m metav1.ObjectMeta, backend string, hosts []string, vips ...string) *networkingv1.Ingress {
	ing := &networkingv1.Ingress{ObjectMeta: m}
	for _, h := range hosts {
		r := networkingv1.IngressRule{Host: h}
		if backend != "" {
			r.HTTP = &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
				Path: "/", Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: backend, Port: networkingv1.ServiceBackendPort{Number: 80}}},
			}}}
		}
		ing.Spec.Rules = append(ing.Spec.Rules, r)
	}
	ing.Status.LoadBalancer.Ingress = lbStatus(vips)
	return ing
}

func lbService(m metav1.ObjectMeta, port int32, vips ...string) *corev1.Service {
	s := &corev1.Service{ObjectMeta: m}
	s.Spec.Type = corev1.ServiceTypeLoadBalancer
	if port != 0 {
		s.Spec.Ports = []corev1.ServicePort{{Name: "p", Port: port}}
	}
	for _, v := range lbStatus(vips) {
		s.Status.LoadBalancer.Ingress = append(s.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: v.IP, Hostname: v.Hostname})
	}
	return s
}

func clusterIPService(ns, name string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP}}
}

// endpoints makes an EndpointSlice of Service svc with one endpoint per
// condition: "ready", "notready" or "nil".
func endpoints(ns, svc string, conds ...string) *discoveryv1.EndpointSlice {
	es := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: svc + "-abc", Labels: map[string]string{discoveryv1.LabelServiceName: svc}}}
	for _, c := range conds {
		var ready *bool
		switch c {
		case "ready":
			ready = ptr(true)
		case "notready":
			ready = ptr(false)
		}
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{"10.0.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: ready}})
	}
	return es
}

func namespace(name string, kv ...string) *corev1.Namespace {
	m := meta("", name, kv...)
	return &corev1.Namespace{ObjectMeta: m}
}

func gateway(ns, name string, listeners []gatewayv1.Listener, addrs ...string) *gatewayv1.Gateway {
	g := &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	g.Spec.Listeners = listeners
	for _, a := range addrs {
		t := gatewayv1.IPAddressType
		if _, err := netip.ParseAddr(a); err != nil {
			t = gatewayv1.HostnameAddressType
		}
		g.Status.Addresses = append(g.Status.Addresses, gatewayv1.GatewayStatusAddress{Type: &t, Value: a})
	}
	return g
}

func httpRoute(m metav1.ObjectMeta, gw string, backend string, hosts ...string) *gatewayv1.HTTPRoute {
	r := &gatewayv1.HTTPRoute{ObjectMeta: m}
	r.Spec.ParentRefs = []gatewayv1.ParentReference{{Name: gatewayv1.ObjectName(gw)}}
	for _, h := range hosts {
		r.Spec.Hostnames = append(r.Spec.Hostnames, gatewayv1.Hostname(h))
	}
	if backend != "" {
		r.Spec.Rules = []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
			BackendObjectReference: gatewayv1.BackendObjectReference{Name: gatewayv1.ObjectName(backend), Port: ptr(gatewayv1.PortNumber(80))},
		}}}}}
	}
	return r
}

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

var optIn = []string{AnnotationGSLB, "true"}

func basePolicy() gslb.Policy {
	st := gslb.State{Services: []gslb.Service{{Name: "x."}}}
	st.ApplyDefaults()
	return st.Services[0].Policy
}

func baseInput(clusters ...ClusterObjects) *Input {
	return &Input{
		Zones:         []string{"gslb.example"},
		Sites:         []string{"east", "west", "south", "dc1"},
		DefaultPolicy: basePolicy(),
		Clusters:      clusters,
	}
}

func unstructuredOf(m map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: m}
}

func unstructuredNestedSlice(obj map[string]any, fields ...string) ([]any, bool, error) {
	return unstructured.NestedSlice(obj, fields...)
}

// testCAPEM is a self-signed CA certificate, PEM-encoded.
var testCAPEM = func() string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "meridian test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}()

func roundTripJSON(t *testing.T, u *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	b, err := json.Marshal(u.Object)
	if err != nil {
		t.Fatal(err)
	}
	out := &unstructured.Unstructured{}
	if err := out.UnmarshalJSON(b); err != nil {
		t.Fatal(err)
	}
	return out
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
