package kube

import (
	"fmt"
	"maps"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/meridian-gslb/meridian/gslb"
)

// slice is an EndpointSlice of Service svc named name, one endpoint per
// "address:condition" (condition ready, notready, nil or terminating: ready
// but terminating).
func slice(ns, svc, name string, eps ...string) *discoveryv1.EndpointSlice {
	es := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: svc}}}
	for _, e := range eps {
		addr, cond, _ := strings.Cut(e, ":")
		ep := discoveryv1.Endpoint{Addresses: []string{addr}}
		switch cond {
		case "ready":
			ep.Conditions.Ready = ptr(true)
		case "notready":
			ep.Conditions.Ready = ptr(false)
		case "terminating":
			ep.Conditions.Ready, ep.Conditions.Terminating = ptr(true), ptr(true)
		case "nil":
		default:
			panic("condition " + cond)
		}
		es.Endpoints = append(es.Endpoints, ep)
	}
	return es
}

// pods is n endpoints "10.<net>.0.<i>:cond".
func pods(net, n int, cond string) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("10.%d.0.%d:%s", net, i+1, cond))
	}
	return out
}

func TestPlanCapacity(t *testing.T) {
	ext := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "external"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName}}
	// two rules of one host, each with its own Service
	twoBackends := ingress(meta("a", "two", optIn...), "be1", []string{"two.gslb.example"}, "192.0.2.7")
	twoBackends.Spec.Rules[0].HTTP.Paths = append(twoBackends.Spec.Rules[0].HTTP.Paths, networkingv1.HTTPIngressPath{
		Path: "/api", Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "be2", Port: networkingv1.ServiceBackendPort{Number: 80}}},
	})
	// the same Service behind two paths counts once
	samePaths := ingress(meta("a", "same", optIn...), "be1", []string{"same.gslb.example"}, "192.0.2.8")
	samePaths.Spec.Rules[0].HTTP.Paths = append(samePaths.Spec.Rules[0].HTTP.Paths, samePaths.Spec.Rules[0].HTTP.Paths[0])
	// an HTTPRoute and an Ingress of one host in one cluster make one
	// member: the Services behind both count
	gw := gateway("a", "gw", nil, "192.0.2.9")
	route := httpRoute(meta("a", "route", optIn...), "gw", "be2", "mixed.gslb.example")
	in := baseInput(ClusterObjects{Name: "east", Site: "east",
		Ingresses: []*networkingv1.Ingress{
			ingress(meta("a", "full", optIn...), "full", []string{"full.gslb.example"}, "192.0.2.1"),
			ingress(meta("a", "fifth", optIn...), "fifth", []string{"fifth.gslb.example"}, "192.0.2.2"),
			ingress(meta("a", "split", optIn...), "split", []string{"split.gslb.example"}, "192.0.2.3"),
			ingress(meta("a", "zero", optIn...), "zero", []string{"zero.gslb.example"}, "192.0.2.4"),
			ingress(meta("a", "empty", optIn...), "empty", []string{"empty.gslb.example"}, "192.0.2.5"),
			ingress(meta("a", "ext", optIn...), "external", []string{"ext.gslb.example"}, "192.0.2.6"),
			twoBackends, samePaths,
			ingress(meta("a", "mixed", optIn...), "be1", []string{"mixed.gslb.example"}, "192.0.2.9"),
			ingress(meta("a", "tiny", optIn...), "tiny", []string{"tiny.gslb.example"}, "192.0.2.10"),
			ingress(meta("a", "nobackend", optIn...), "", []string{"nobackend.gslb.example"}, "192.0.2.11"),
		},
		Services:   []*corev1.Service{ext},
		Gateways:   []*gatewayv1.Gateway{gw},
		HTTPRoutes: []*gatewayv1.HTTPRoute{route},
		EndpointSlices: []*discoveryv1.EndpointSlice{
			slice("a", "full", "full-1", pods(1, 10, "ready")...),
			// 2 of 10 ready, a nil condition counts as ready
			slice("a", "fifth", "fifth-1", append(pods(2, 1, "ready"), "10.2.0.9:nil", "10.2.0.10:notready")...),
			slice("a", "fifth", "fifth-2", pods(3, 7, "notready")...),
			// 3 of 4 ready: 10.4.0.2 is in two slices (counts once, ready
			// as one copy says); a terminating endpoint is not ready
			slice("a", "split", "split-1", "10.4.0.1:ready", "10.4.0.2:notready", "10.4.0.3:terminating"),
			slice("a", "split", "split-2", "10.4.0.2:ready", "10.4.0.4:ready", "10.4.0.1:ready"),
			slice("a", "zero", "zero-1", pods(5, 3, "notready")...),
			slice("a", "empty", "empty-1"),
			// be1 1 of 4 ready, be2 3 of 4: two Services, 4 of 8
			slice("a", "be1", "be1-1", append(pods(6, 1, "ready"), pods(7, 3, "notready")...)...),
			slice("a", "be2", "be2-1", append(pods(8, 3, "ready"), "10.9.0.1:terminating")...),
			// 1 of 3000: not rounded down to "not measured"
			slice("a", "tiny", "tiny-1", append(pods(10, 1, "ready"), pods(11, 2999, "notready")...)...),
		},
	})
	out := Plan(in)
	got := map[string]string{}
	for _, s := range out.Services {
		for _, m := range s.Members {
			ref := gslb.MemberRef{Service: s.Name, Member: m.ID()}
			c, ok := out.Capacity[ref]
			v := fmt.Sprintf("ready=%v", out.Readiness[ref])
			if ok {
				v += fmt.Sprintf(" capacity=%d", c)
			}
			got[s.Name] = v
		}
	}
	want := map[string]string{
		"full.gslb.example.":      "ready=true capacity=1000",
		"fifth.gslb.example.":     "ready=true capacity=200",
		"split.gslb.example.":     "ready=true capacity=750",
		"zero.gslb.example.":      "ready=false", // Unready: the veto, not a capacity
		"empty.gslb.example.":     "ready=false", // scaled to zero
		"ext.gslb.example.":       "ready=true",  // ExternalName says nothing
		"nobackend.gslb.example.": "ready=true",  // nothing to measure
		"two.gslb.example.":       "ready=true capacity=500",
		"same.gslb.example.":      "ready=true capacity=250",
		"mixed.gslb.example.":     "ready=true capacity=500",
		"tiny.gslb.example.":      "ready=true capacity=1", // 0.33 thousandths
	}
	if !maps.Equal(got, want) {
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s, want %s", k, got[k], v)
			}
		}
		for k, v := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("unexpected %s: %s", k, v)
			}
		}
	}
}

// A terminating endpoint is not ready, whatever its ready condition
// (publishNotReadyAddresses): with nothing else, the member is Unready.
func TestReadinessTerminating(t *testing.T) {
	in := baseInput(ClusterObjects{Name: "east", Site: "east",
		Ingresses:      []*networkingv1.Ingress{ingress(meta("a", "x", optIn...), "be", []string{"x.gslb.example"}, "192.0.2.1")},
		EndpointSlices: []*discoveryv1.EndpointSlice{slice("a", "be", "be-1", "10.0.0.1:terminating", "10.0.0.2:terminating")},
	})
	out := Plan(in)
	ref := gslb.MemberRef{Service: "x.gslb.example.", Member: "east/192.0.2.1"}
	if r, ok := out.Readiness[ref]; !ok || r {
		t.Errorf("readiness %v (%v), want false", r, ok)
	}
	if c, ok := out.Capacity[ref]; ok {
		t.Errorf("capacity %d, want none", c)
	}
}

func TestShare(t *testing.T) {
	for _, c := range []struct {
		ready, total int
		want         uint16
	}{
		{0, 0, 0}, {0, 10, 0}, {2, 10, 200}, {10, 10, 1000}, {1, 3, 333}, {2, 3, 667}, {1, 3000, 1}, {1, 1999, 1}, {1, 2001, 1},
	} {
		if got := share(c.ready, c.total); got != c.want {
			t.Errorf("share(%d, %d) = %d, want %d", c.ready, c.total, got, c.want)
		}
	}
}
