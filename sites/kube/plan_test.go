package kube

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/meridian-gslb/meridian/gslb"
)

// summarize renders an Output compactly: one line per service, one per
// member, like a zone file for eyes:
//
//	app.gslb.example. geo ttl=30 hc=tcp:80
//	  east/192.0.2.1 w=1 p=0 ready
func summarize(out *Output) []string {
	var lines []string
	for _, s := range out.Services {
		l := fmt.Sprintf("%s %s ttl=%d", s.Name, s.Policy.Strategy, s.Policy.TTL)
		if s.HealthCheck != nil {
			l += fmt.Sprintf(" hc=%s:%d", s.HealthCheck.Kind, s.HealthCheck.Port)
		}
		lines = append(lines, l)
		for _, m := range s.Members {
			ml := "  " + m.ID()
			if len(m.Addresses) > 1 {
				ml += fmt.Sprint(" ", m.Addresses)
			}
			ml += fmt.Sprintf(" w=%d p=%d", m.Weight, m.Priority)
			if m.ProbeAddress.IsValid() {
				ml += " probe=" + m.ProbeAddress.String()
			}
			if m.ProbePort != 0 {
				ml += fmt.Sprintf(" probeport=%d", m.ProbePort)
			}
			if r, ok := out.Readiness[gslb.MemberRef{Service: s.Name, Member: m.ID()}]; ok {
				if r {
					ml += " ready"
				} else {
					ml += " notready"
				}
			}
			lines = append(lines, ml)
		}
	}
	return lines
}

func gpol(name string, spec GlobalPolicySpec) GlobalPolicy {
	return GlobalPolicy{Name: name, Generation: 1, Spec: spec}
}

func hpol(name string, spec HostPolicySpec) HostPolicy {
	return HostPolicy{Name: name, Generation: 1, Spec: spec}
}

func selectLabels(kv ...string) *PolicySelector {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return &PolicySelector{ObjectSelector: &metav1.LabelSelector{MatchLabels: m}}
}

func i64(v int64) *int64 { return &v }

func TestPlan(t *testing.T) {
	https := &gslb.HealthCheck{Kind: "https", Path: "/healthz"}
	tcp := &gslb.HealthCheck{Kind: "tcp"}
	listeners := []gatewayv1.Listener{
		{Name: "web", Port: 8080, Protocol: gatewayv1.HTTPProtocolType, Hostname: ptr(gatewayv1.Hostname("gw.gslb.example"))},
		{Name: "any", Port: 80, Protocol: gatewayv1.HTTPProtocolType},
	}
	tests := []struct {
		name     string
		in       *Input
		want     []string
		problems []string // substrings, each must appear in some problem
		status   map[string]string
	}{
		{
			name: "same host in two clusters: one member each",
			in: baseInput(
				ClusterObjects{Name: "east", Site: "east", Ingresses: []*networkingv1.Ingress{ingress(meta("shop", "web", optIn...), "", []string{"app.gslb.example"}, "192.0.2.1")}},
				ClusterObjects{Name: "west", Site: "west", Ingresses: []*networkingv1.Ingress{ingress(meta("shop", "web", optIn...), "", []string{"APP.gslb.example."}, "198.51.100.1")}},
			),
			want: []string{
				"app.gslb.example. geo ttl=30",
				"  east/192.0.2.1 w=1 p=0 ready",
				"  west/198.51.100.1 w=1 p=0 ready",
			},
		},
		{
			name: "objects without opt-in, without status or outside the zones are not served",
			in: baseInput(ClusterObjects{Name: "east", Site: "east", Ingresses: []*networkingv1.Ingress{
				ingress(meta("shop", "plain"), "", []string{"plain.gslb.example"}, "192.0.2.1"),
				ingress(meta("shop", "pending", optIn...), "", []string{"pending.gslb.example"}),
				ingress(meta("shop", "elsewhere", optIn...), "", []string{"www.example.org"}, "192.0.2.2"),
				ingress(meta("shop", "wild", optIn...), "", []string{"*.gslb.example"}, "192.0.2.3"),
				ingress(meta("shop", "out", AnnotationGSLB, "false"), "", []string{"out.gslb.example"}, "192.0.2.4"),
			}}),
			want:     nil,
			problems: []string{"www.example.org. is not inside any configured zone", "wildcard host *.gslb.example"},
		},
		{
			name: "IPv4, IPv6 and hostname VIPs; IPs merge into one member, a hostname is a CNAME member",
			in: baseInput(ClusterObjects{Name: "east", Site: "east", Ingresses: []*networkingv1.Ingress{
				ingress(meta("shop", "web", optIn...), "", []string{"app.gslb.example"}, "2001:db8::1", "192.0.2.1", "::ffff:192.0.2.2", "LB-1.elb.example.com"),
				ingress(meta("shop", "v6", optIn...), "", []string{"v6.gslb.example"}, "2001:db8::2"),
			}}),
			want: []string{
				"app.gslb.example. geo ttl=30",
				"  east/192.0.2.1 [192.0.2.1 192.0.2.2 2001:db8::1] w=1 p=0 ready",
				"  east/lb-1.elb.example.com. w=1 p=0 ready",
				"v6.gslb.example. geo ttl=30",
				"  east/2001:db8::2 w=1 p=0 ready",
			},
		},
		{
			name: "LoadBalancer Services: hostname annotations, comma-separated; port from spec.ports",
			in: func() *Input {
				in := baseInput(ClusterObjects{Name: "east", Site: "east", Services: []*corev1.Service{
					lbService(meta("db", "pg", append(optIn, AnnotationHostname, "db.gslb.example, db2.gslb.example")...), 5432, "192.0.2.5"),
					lbService(meta("db", "ext", append(optIn, AnnotationExternalDNSHostname, "ext.gslb.example")...), 0, "192.0.2.6"),
					lbService(meta("db", "noname", optIn...), 80, "192.0.2.7"),
					lbService(meta("db", "porty", append(optIn, AnnotationHostname, "porty.gslb.example", AnnotationHealthPort, "9090")...), 80, "192.0.2.8"),
					func() *corev1.Service {
						s := lbService(meta("db", "cip", append(optIn, AnnotationHostname, "cip.gslb.example")...), 80, "192.0.2.9")
						s.Spec.Type = corev1.ServiceTypeClusterIP
						return s
					}(),
				}, EndpointSlices: []*discoveryv1.EndpointSlice{endpoints("db", "pg", "ready"), endpoints("db", "porty", "ready")}})
				in.DefaultHealthCheck = tcp
				return in
			}(),
			want: []string{
				"db.gslb.example. geo ttl=30 hc=tcp:5432",
				"  east/192.0.2.5 w=1 p=0 ready",
				"db2.gslb.example. geo ttl=30 hc=tcp:5432",
				"  east/192.0.2.5 w=1 p=0 ready",
				"ext.gslb.example. geo ttl=30 hc=tcp:80",
				"  east/192.0.2.6 w=1 p=0 notready",
				"porty.gslb.example. geo ttl=30 hc=tcp:9090",
				"  east/192.0.2.8 w=1 p=0 ready",
			},
		},
		{
			name: "readiness from the EndpointSlices of the backends",
			in: baseInput(ClusterObjects{Name: "east", Site: "east",
				Ingresses: []*networkingv1.Ingress{
					ingress(meta("a", "ready", optIn...), "be", []string{"ready.gslb.example"}, "192.0.2.1"),
					ingress(meta("a", "nilready", optIn...), "nil", []string{"nil.gslb.example"}, "192.0.2.2"),
					ingress(meta("a", "down", optIn...), "down", []string{"down.gslb.example"}, "192.0.2.3"),
					ingress(meta("a", "gone", optIn...), "missing", []string{"gone.gslb.example"}, "192.0.2.4"),
					ingress(meta("a", "ext", optIn...), "external", []string{"ext.gslb.example"}, "192.0.2.5"),
					ingress(meta("b", "otherns", optIn...), "be", []string{"otherns.gslb.example"}, "192.0.2.6"),
				},
				Services: []*corev1.Service{clusterIPService("a", "be"), {ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "external"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName}}},
				EndpointSlices: []*discoveryv1.EndpointSlice{
					endpoints("a", "be", "notready", "ready"), endpoints("a", "nil", "nil"), endpoints("a", "down", "notready", "notready"),
				},
			}),
			want: []string{
				"down.gslb.example. geo ttl=30", "  east/192.0.2.3 w=1 p=0 notready",
				"ext.gslb.example. geo ttl=30", "  east/192.0.2.5 w=1 p=0 ready",
				"gone.gslb.example. geo ttl=30", "  east/192.0.2.4 w=1 p=0 notready",
				"nil.gslb.example. geo ttl=30", "  east/192.0.2.2 w=1 p=0 ready",
				"otherns.gslb.example. geo ttl=30", "  east/192.0.2.6 w=1 p=0 notready",
				"ready.gslb.example. geo ttl=30", "  east/192.0.2.1 w=1 p=0 ready",
			},
		},
		{
			name: "GlobalPolicy selects by labels, namespace labels, namespaces, kinds and clusters",
			in: func() *Input {
				in := baseInput(
					ClusterObjects{Name: "east", Site: "east",
						Namespaces: []*corev1.Namespace{namespace("prod", "label:env", "prod"), namespace("dev", "label:env", "dev")},
						Ingresses: []*networkingv1.Ingress{
							ingress(meta("prod", "a", "label:gslb", "yes"), "", []string{"a.gslb.example"}, "192.0.2.1"),
							ingress(meta("dev", "b", "label:gslb", "yes"), "", []string{"b.gslb.example"}, "192.0.2.2"),
							ingress(meta("prod", "c"), "", []string{"c.gslb.example"}, "192.0.2.3"),
						},
						Services: []*corev1.Service{lbService(meta("prod", "s", "label:gslb", "yes", AnnotationHostname, "s.gslb.example"), 80, "192.0.2.4")},
					},
					ClusterObjects{Name: "west", Site: "west",
						Ingresses: []*networkingv1.Ingress{ingress(meta("prod", "a", "label:gslb", "yes"), "", []string{"a.gslb.example"}, "198.51.100.1")},
					},
				)
				in.GlobalPolicies = []GlobalPolicy{gpol("prod", GlobalPolicySpec{
					Selector: &PolicySelector{
						ObjectSelector:    &metav1.LabelSelector{MatchLabels: map[string]string{"gslb": "yes"}},
						NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "env", Operator: metav1.LabelSelectorOpIn, Values: []string{"prod"}}}},
						Namespaces:        []string{"prod", "other"},
						Kinds:             []string{KindIngress},
					},
					Clusters: []string{"east"},
				})}
				return in
			}(),
			want: []string{
				"a.gslb.example. geo ttl=30",
				"  east/192.0.2.1 w=1 p=0 ready",
			},
			status: map[string]string{"GlobalPolicy/prod": "True Valid services=1"},
		},
		{
			name: "GlobalPolicy sets strategy, TTL, weights and priorities; annotations beat it, a HostPolicy beats both",
			in: func() *Input {
				in := baseInput(
					ClusterObjects{Name: "east", Site: "east", Ingresses: []*networkingv1.Ingress{
						ingress(meta("shop", "web", "label:app", "shop"), "", []string{"app.gslb.example", "www.gslb.example"}, "192.0.2.1"),
						ingress(meta("shop", "api", "label:app", "shop", AnnotationWeight, "7", AnnotationTTL, "12", AnnotationStrategy, "roundrobin"), "", []string{"api.gslb.example"}, "192.0.2.2"),
					}},
					ClusterObjects{Name: "west", Site: "west", Ingresses: []*networkingv1.Ingress{
						ingress(meta("shop", "web", "label:app", "shop", AnnotationPriority, "5"), "", []string{"app.gslb.example", "www.gslb.example"}, "198.51.100.1"),
						ingress(meta("shop", "api", "label:app", "shop"), "", []string{"api.gslb.example"}, "198.51.100.2"),
					}},
				)
				in.GlobalPolicies = []GlobalPolicy{gpol("shop", GlobalPolicySpec{
					Selector: selectLabels("app", "shop"),
					Sites:    []ClusterSite{{Cluster: "east", Weight: i64(3), Priority: i64(1)}, {Cluster: "west", Weight: i64(1), Priority: i64(2)}},
					PolicyFields: PolicyFields{Strategy: "weighted", TTL: i64(60), DegradedTTL: i64(5), MinUp: i64(0), Answers: i64(2),
						Persistence:  &PersistenceSpec{Enabled: ptr(true), IPv4Mask: i64(20)},
						DownResponse: &DownResponseSpec{Type: "fallback", Addresses: []string{"203.0.113.9"}}},
				})}
				in.HostPolicies = []HostPolicy{hpol("www", HostPolicySpec{FQDN: "www.gslb.example", Sites: []HostClusterSite{{Cluster: "west", Weight: i64(0)}},
					PolicyFields: PolicyFields{Strategy: "geo", TTL: i64(10)}})}
				return in
			}(),
			want: []string{
				"api.gslb.example. roundrobin ttl=12",
				"  east/192.0.2.2 w=7 p=1 ready",
				"  west/198.51.100.2 w=1 p=2 ready",
				"app.gslb.example. weighted ttl=60",
				"  east/192.0.2.1 w=3 p=1 ready",
				"  west/198.51.100.1 w=1 p=5 ready",
				"www.gslb.example. geo ttl=10",
				"  east/192.0.2.1 w=3 p=1 ready",
				"  west/198.51.100.1 w=0 p=5 ready",
			},
			status: map[string]string{"GlobalPolicy/shop": "True Valid services=3", "HostPolicy/www": "True Valid services=1"},
		},
		{
			name: "HostPolicy: NAT public addresses and third-party members; a service from third-party members alone",
			in: func() *Input {
				in := baseInput(ClusterObjects{Name: "east", Site: "east", Ingresses: []*networkingv1.Ingress{
					ingress(meta("shop", "web", optIn...), "", []string{"app.gslb.example"}, "10.1.2.3"),
				}})
				in.DefaultHealthCheck = &gslb.HealthCheck{Kind: "http", Path: "/"}
				in.HostPolicies = []HostPolicy{
					hpol("app", HostPolicySpec{FQDN: "app.gslb.example",
						Sites: []HostClusterSite{{Cluster: "east", PublicAddresses: []string{"192.0.2.77", "2001:db8::77"}}},
						ThirdPartyMembers: []ThirdPartyMember{
							{Site: "dc1", Addresses: []string{"203.0.113.1"}, Weight: i64(2), Priority: i64(3), ProbeAddress: "10.9.9.9"},
							{Site: "dc1", Hostname: "legacy.example.net"},
						}}),
					hpol("static", HostPolicySpec{FQDN: "static.gslb.example", ThirdPartyMembers: []ThirdPartyMember{{Site: "dc1", Addresses: []string{"203.0.113.2"}}}}),
				}
				return in
			}(),
			want: []string{
				"app.gslb.example. geo ttl=30 hc=http:80",
				"  dc1/203.0.113.1 w=2 p=3 probe=10.9.9.9",
				"  dc1/legacy.example.net. w=1 p=0",
				"  east/192.0.2.77 [192.0.2.77 2001:db8::77] w=1 p=0 probe=10.1.2.3 ready",
				"static.gslb.example. geo ttl=30 hc=http:0",
				"  dc1/203.0.113.2 w=1 p=0",
			},
		},
		{
			name: "health check template: the policy's port for all, else per member with ProbePort",
			in: func() *Input {
				in := baseInput(
					ClusterObjects{Name: "east", Site: "east", Services: []*corev1.Service{lbService(meta("a", "s", append(optIn, AnnotationHostname, "s.gslb.example")...), 8443, "192.0.2.1")},
						Ingresses: []*networkingv1.Ingress{ingress(meta("a", "i", "label:hc", "fixed"), "", []string{"fixed.gslb.example"}, "192.0.2.2")}},
					ClusterObjects{Name: "west", Site: "west", Services: []*corev1.Service{lbService(meta("a", "s", append(optIn, AnnotationHostname, "s.gslb.example")...), 9443, "198.51.100.1")}},
				)
				in.DefaultHealthCheck = https
				in.GlobalPolicies = []GlobalPolicy{gpol("fixed", GlobalPolicySpec{Selector: selectLabels("hc", "fixed"),
					PolicyFields: PolicyFields{HealthCheck: &HealthCheckSpec{Kind: "http", Port: i64(8080), Interval: "2s", Timeout: "500ms", Rise: i64(3)}}})}
				return in
			}(),
			want: []string{
				"fixed.gslb.example. geo ttl=30 hc=http:8080",
				"  east/192.0.2.2 w=1 p=0 ready",
				"s.gslb.example. geo ttl=30 hc=https:8443",
				"  east/192.0.2.1 w=1 p=0 notready",
				"  west/198.51.100.1 w=1 p=0 probeport=9443 notready",
			},
		},
		{
			name: "Gateway API: route hostnames on the parents' addresses; listener hostnames; rejected parents",
			in: func() *Input {
				rejected := httpRoute(meta("web", "rejected", optIn...), "gw", "", "rejected.gslb.example")
				rejected.Status.Parents = []gatewayv1.RouteParentStatus{{ParentRef: gatewayv1.ParentReference{Name: "gw"},
					Conditions: []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionFalse}}}}
				noHosts := httpRoute(meta("web", "nohosts", optIn...), "gw", "be")
				noHosts.Spec.ParentRefs[0].SectionName = ptr(gatewayv1.SectionName("web"))
				tls := &gatewayv1.TLSRoute{ObjectMeta: meta("web", "tls", optIn...)}
				tls.Spec.ParentRefs = []gatewayv1.ParentReference{{Name: "gw6", Namespace: ptr(gatewayv1.Namespace("infra"))}}
				tls.Spec.Hostnames = []gatewayv1.Hostname{"tls.gslb.example"}
				grpc := &gatewayv1.GRPCRoute{ObjectMeta: meta("web", "grpc", optIn...)}
				grpc.Spec.ParentRefs = []gatewayv1.ParentReference{{Name: "gw"}}
				grpc.Spec.Hostnames = []gatewayv1.Hostname{"grpc.gslb.example"}
				in := baseInput(ClusterObjects{Name: "east", Site: "east",
					Gateways: []*gatewayv1.Gateway{gateway("web", "gw", listeners, "192.0.2.10", "gw.lb.example.com"), gateway("infra", "gw6", nil, "2001:db8::10")},
					HTTPRoutes: []*gatewayv1.HTTPRoute{
						httpRoute(meta("web", "app", optIn...), "gw", "be", "app.gslb.example"),
						rejected, noHosts,
						httpRoute(meta("web", "orphan", optIn...), "missing", "", "orphan.gslb.example"),
					},
					GRPCRoutes:     []*gatewayv1.GRPCRoute{grpc},
					TLSRoutes:      []*gatewayv1.TLSRoute{tls},
					EndpointSlices: []*discoveryv1.EndpointSlice{endpoints("web", "be", "ready")},
				})
				in.DefaultHealthCheck = tcp
				return in
			}(),
			want: []string{
				"app.gslb.example. geo ttl=30 hc=tcp:80",
				"  east/192.0.2.10 w=1 p=0 ready",
				"  east/gw.lb.example.com. w=1 p=0 ready",
				"grpc.gslb.example. geo ttl=30 hc=tcp:80",
				"  east/192.0.2.10 w=1 p=0 ready",
				"  east/gw.lb.example.com. w=1 p=0 ready",
				"gw.gslb.example. geo ttl=30 hc=tcp:8080",
				"  east/192.0.2.10 w=1 p=0 ready",
				"  east/gw.lb.example.com. w=1 p=0 ready",
				"tls.gslb.example. geo ttl=30 hc=tcp:443",
				"  east/2001:db8::10 w=1 p=0 ready",
			},
			problems: []string{"east/HTTPRoute/web/rejected: not accepted by Gateway web/gw"},
		},
		{
			name: "hostnameVIPs resolve uses resolved addresses, else a CNAME",
			in: func() *Input {
				in := baseInput(ClusterObjects{Name: "east", Site: "east", Ingresses: []*networkingv1.Ingress{
					ingress(meta("a", "r", "label:r", "1"), "", []string{"r.gslb.example"}, "lb1.example.com", "lb2.example.com"),
				}})
				in.GlobalPolicies = []GlobalPolicy{gpol("r", GlobalPolicySpec{Selector: selectLabels("r", "1"), PolicyFields: PolicyFields{HostnameVIPs: "resolve"}})}
				in.Resolved = map[string][]netip.Addr{"lb1.example.com.": addrs("192.0.2.50", "2001:db8::50")}
				return in
			}(),
			want: []string{
				"r.gslb.example. geo ttl=30",
				"  east/192.0.2.50 [192.0.2.50 2001:db8::50] w=1 p=0 ready",
				"  east/lb2.example.com. w=1 p=0 ready",
			},
		},
		{
			name: "conflicting GlobalPolicies: the first by name wins, the other is told",
			in: func() *Input {
				in := baseInput(ClusterObjects{Name: "east", Site: "east", Ingresses: []*networkingv1.Ingress{
					ingress(meta("a", "x", "label:app", "x"), "", []string{"x.gslb.example"}, "192.0.2.1"),
				}})
				in.GlobalPolicies = []GlobalPolicy{
					gpol("b-second", GlobalPolicySpec{Selector: selectLabels("app", "x"), PolicyFields: PolicyFields{Strategy: "roundrobin"}}),
					gpol("a-first", GlobalPolicySpec{Selector: selectLabels("app", "x"), PolicyFields: PolicyFields{Strategy: "weighted"}}),
				}
				return in
			}(),
			want: []string{"x.gslb.example. weighted ttl=30", "  east/192.0.2.1 w=1 p=0 ready"},
			status: map[string]string{
				"GlobalPolicy/a-first":  "True Valid services=1",
				"GlobalPolicy/b-second": "True Conflict services=0",
			},
		},
		{
			name: "an invalid policy applies its last accepted version; a new invalid one applies nothing",
			in: func() *Input {
				in := baseInput(ClusterObjects{Name: "east", Site: "east", Ingresses: []*networkingv1.Ingress{
					ingress(meta("a", "x", "label:app", "x"), "", []string{"x.gslb.example"}, "192.0.2.1"),
					ingress(meta("a", "y", "label:app", "y"), "", []string{"y.gslb.example"}, "192.0.2.2"),
				}})
				good := GlobalPolicySpec{Selector: selectLabels("app", "x"), PolicyFields: PolicyFields{Strategy: "weighted"}}
				bad := GlobalPolicySpec{Selector: selectLabels("app", "x"), PolicyFields: PolicyFields{Strategy: "fastest"}}
				in.GlobalPolicies = []GlobalPolicy{{Name: "x", Generation: 2, Spec: bad}, {Name: "y", Generation: 1, Spec: GlobalPolicySpec{Selector: selectLabels("app", "y"), PolicyFields: PolicyFields{TTL: i64(0)}}}}
				in.LastAccepted = map[PolicyKey]AcceptedSpec{{KindGlobalPolicy, "x"}: {Generation: 1, Global: &good}}
				return in
			}(),
			want: []string{"x.gslb.example. weighted ttl=30", "  east/192.0.2.1 w=1 p=0 ready"},
			status: map[string]string{
				"GlobalPolicy/x": "False Invalid services=1",
				"GlobalPolicy/y": "False Invalid services=0",
			},
		},
		{
			name: "conflicting HostPolicies: the second does not apply",
			in: func() *Input {
				in := baseInput()
				in.HostPolicies = []HostPolicy{
					hpol("one", HostPolicySpec{FQDN: "h.gslb.example", ThirdPartyMembers: []ThirdPartyMember{{Site: "dc1", Addresses: []string{"203.0.113.1"}}}}),
					hpol("two", HostPolicySpec{FQDN: "H.gslb.example.", ThirdPartyMembers: []ThirdPartyMember{{Site: "dc1", Addresses: []string{"203.0.113.2"}}}}),
				}
				return in
			}(),
			want: []string{"h.gslb.example. geo ttl=30", "  dc1/203.0.113.1 w=1 p=0"},
			status: map[string]string{
				"HostPolicy/one": "True Valid services=1",
				"HostPolicy/two": "False Conflict services=0",
			},
		},
		{
			name: "bad annotations are reported and ignored",
			in: baseInput(ClusterObjects{Name: "east", Site: "east", Ingresses: []*networkingv1.Ingress{
				ingress(meta("a", "x", append(optIn, AnnotationWeight, "heavy", AnnotationTTL, "0", AnnotationStrategy, "fastest", AnnotationHealthPort, "http")...), "", []string{"x.gslb.example"}, "192.0.2.1", "not-an-ip!"),
				ingress(meta("a", "y", AnnotationGSLB, "yes"), "", []string{"y.gslb.example"}, "192.0.2.2"),
			}}),
			want: []string{"x.gslb.example. geo ttl=30", "  east/192.0.2.1 w=1 p=0 ready"},
			problems: []string{
				`meridian.io/weight="heavy"`, `meridian.io/ttl="0"`, `meridian.io/strategy="fastest"`,
				`meridian.io/health-port="http"`, `"not-an-ip!" is not a host name`, `meridian.io/gslb="yes"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := Plan(tt.in)
			got := summarize(out)
			if !slices.Equal(got, tt.want) {
				t.Errorf("services:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			for _, p := range tt.problems {
				if !slices.ContainsFunc(out.Problems, func(s string) bool { return strings.Contains(s, p) }) {
					t.Errorf("no problem mentions %q; problems:\n%s", p, strings.Join(out.Problems, "\n"))
				}
			}
			for k, want := range tt.status {
				var st PolicyStatus
				found := false
				for key, s := range out.Policies {
					if key.String() == k {
						st, found = s, true
					}
				}
				if !found {
					t.Errorf("no status for %s", k)
					continue
				}
				acc := "False"
				if st.Accepted {
					acc = "True"
				}
				if got := fmt.Sprintf("%s %s services=%d", acc, st.Reason, st.Services); got != want {
					t.Errorf("status of %s = %q (%s), want %q", k, got, st.Message, want)
				}
			}
			checkValid(t, tt.in, out)
		})
	}
}

// checkValid runs gslb's own validation over the services, as the caller
// will: every built service must pass.
func checkValid(t *testing.T, in *Input, out *Output) {
	t.Helper()
	st := gslb.State{Services: slices.Clone(out.Services)}
	for _, z := range in.Zones {
		st.Zones = append(st.Zones, gslb.Zone{Name: z, NameServers: []gslb.NameServer{{Name: "ns1.example.net."}}})
	}
	for _, s := range in.Sites {
		st.Sites = append(st.Sites, gslb.Site{Name: s})
	}
	st.ApplyDefaults()
	if err := st.Validate(); err != nil {
		t.Errorf("the built services do not validate: %v", err)
	}
}

func TestPlanStatusMessages(t *testing.T) {
	in := baseInput(ClusterObjects{Name: "east", Site: "east", Ingresses: []*networkingv1.Ingress{
		ingress(meta("a", "x", "label:app", "x"), "", []string{"x.gslb.example"}, "192.0.2.1"),
	}})
	good := GlobalPolicySpec{Selector: selectLabels("app", "x")}
	in.GlobalPolicies = []GlobalPolicy{
		{Name: "x", Generation: 4, Spec: GlobalPolicySpec{Selector: selectLabels("app", "bad value!")}},
		{Name: "decode", Generation: 1, DecodeErr: `spec: unknown field "spec.colour"`},
		{Name: "warn", Generation: 1, Spec: GlobalPolicySpec{Selector: selectLabels("none", "none"), Clusters: []string{"mars"}}},
	}
	in.LastAccepted = map[PolicyKey]AcceptedSpec{{KindGlobalPolicy, "x"}: {Generation: 3, Global: &good}}
	out := Plan(in)
	st := out.Policies[PolicyKey{KindGlobalPolicy, "x"}]
	if st.Accepted || st.ObservedGeneration != 4 || !strings.Contains(st.Message, "spec.selector.objectSelector") || !strings.Contains(st.Message, "generation 3, the last accepted, still applies") {
		t.Errorf("x: %+v", st)
	}
	if acc := out.Accepted[PolicyKey{KindGlobalPolicy, "x"}]; acc.Generation != 3 {
		t.Errorf("accepted x = generation %d, want 3 kept", acc.Generation)
	}
	if st := out.Policies[PolicyKey{KindGlobalPolicy, "decode"}]; st.Accepted || !strings.Contains(st.Message, "colour") {
		t.Errorf("decode: %+v", st)
	}
	if _, ok := out.Accepted[PolicyKey{KindGlobalPolicy, "decode"}]; ok {
		t.Error("a policy that never validated is in Accepted")
	}
	if st := out.Policies[PolicyKey{KindGlobalPolicy, "warn"}]; !st.Accepted || !strings.Contains(st.Message, `cluster "mars" is not a configured member cluster`) {
		t.Errorf("warn: %+v", st)
	}
	if got := summarize(out); len(got) != 2 {
		t.Errorf("the last accepted x should still build x.gslb.example: %v", got)
	}
}

func TestPolicyValidation(t *testing.T) {
	pc := &policyContext{zones: []string{"gslb.example."}, sites: map[string]bool{"east": true, "dc1": true}, clusters: map[string]bool{"east": true}, base: basePolicy()}
	globals := []struct {
		spec GlobalPolicySpec
		want string // substring of the error; "" = valid
	}{
		{GlobalPolicySpec{}, ""},
		{GlobalPolicySpec{PolicyFields: PolicyFields{Strategy: "topology"}}, "spec.strategy: strategy topology needs at least one rule"},
		{GlobalPolicySpec{PolicyFields: PolicyFields{Strategy: "nearest"}}, "unknown strategy"},
		{GlobalPolicySpec{PolicyFields: PolicyFields{TTL: i64(0)}}, "spec.ttl: must be between 1 and 86400"},
		{GlobalPolicySpec{PolicyFields: PolicyFields{Answers: i64(16)}}, "spec.answers: must be between 0 and 8"},
		{GlobalPolicySpec{PolicyFields: PolicyFields{MinUp: i64(-1)}}, "spec.minUp"},
		{GlobalPolicySpec{Selector: &PolicySelector{Kinds: []string{"Pod"}}}, `unknown kind "Pod"`},
		{GlobalPolicySpec{Selector: &PolicySelector{Namespaces: []string{"Bad_NS"}}}, "spec.selector.namespaces[0]"},
		{GlobalPolicySpec{Selector: &PolicySelector{NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Near"}}}}}, "spec.selector.namespaceSelector"},
		{GlobalPolicySpec{Sites: []ClusterSite{{Cluster: "east", Weight: i64(70000)}}}, "spec.sites[0].weight"},
		{GlobalPolicySpec{Sites: []ClusterSite{{Cluster: "east"}, {Cluster: "east"}}}, "listed twice"},
		{GlobalPolicySpec{Sites: []ClusterSite{{Cluster: "east", Priority: i64(1001)}}}, "spec.sites[0].priority"},
		{GlobalPolicySpec{PolicyFields: PolicyFields{HealthCheck: &HealthCheckSpec{Kind: "icmp"}}}, "spec.healthCheck.kind"},
		{GlobalPolicySpec{PolicyFields: PolicyFields{HealthCheck: &HealthCheckSpec{Interval: "1s", Timeout: "1s"}}}, "spec.healthCheck.timeout: must be less than interval"},
		{GlobalPolicySpec{PolicyFields: PolicyFields{HealthCheck: &HealthCheckSpec{Interval: "soon"}}}, "spec.healthCheck.interval"},
		{GlobalPolicySpec{PolicyFields: PolicyFields{HealthCheck: &HealthCheckSpec{Interval: "50ms"}}}, "spec.healthCheck.interval: must be >= 100ms"},
		{GlobalPolicySpec{PolicyFields: PolicyFields{HealthCheck: &HealthCheckSpec{Interval: "1s", FastInterval: "2s"}}}, "spec.healthCheck.fastInterval: must be at most interval (1s)"},
		{GlobalPolicySpec{PolicyFields: PolicyFields{HealthCheck: &HealthCheckSpec{FastInterval: "soon"}}}, "spec.healthCheck.fastInterval"},
		{GlobalPolicySpec{PolicyFields: PolicyFields{HealthCheck: &HealthCheckSpec{Interval: "1s", FastInterval: "200ms"}}}, ""},
		{GlobalPolicySpec{PolicyFields: PolicyFields{HealthCheck: &HealthCheckSpec{Rise: i64(0), Fall: i64(101)}}}, "spec.healthCheck.fall: must be between 1 and 100"},
		{GlobalPolicySpec{PolicyFields: PolicyFields{HealthCheck: &HealthCheckSpec{Kind: "http", ExpectStatus: []string{"299-200"}}}}, "spec.healthCheck.expectStatus[0]"},
		{GlobalPolicySpec{PolicyFields: PolicyFields{HealthCheck: &HealthCheckSpec{Kind: "http", Path: "healthz"}}}, "spec.healthCheck.path: must start with /"},
		{GlobalPolicySpec{PolicyFields: PolicyFields{HealthCheck: &HealthCheckSpec{Kind: "http", Method: "GE T"}}}, "spec.healthCheck.method"},
		{GlobalPolicySpec{PolicyFields: PolicyFields{HealthCheck: &HealthCheckSpec{Kind: "http", Jitter: "lots"}}}, "spec.healthCheck.jitter"},
		// what the old, separate limits let through
		{GlobalPolicySpec{PolicyFields: PolicyFields{HealthCheck: &HealthCheckSpec{Kind: "tcp", Path: "/healthz"}}}, "spec.healthCheck.path: only for http and https checks"},
		{GlobalPolicySpec{PolicyFields: PolicyFields{HealthCheck: &HealthCheckSpec{Path: "/healthz"}}}, "spec.healthCheck.path: only for http and https checks"},
		{GlobalPolicySpec{PolicyFields: PolicyFields{HealthCheck: &HealthCheckSpec{Kind: "tcp", ExpectStatus: []string{"200"}, BodyContains: "ok"}}}, "spec.healthCheck.bodyContains: only for http"},
		{GlobalPolicySpec{PolicyFields: PolicyFields{HealthCheck: &HealthCheckSpec{Kind: "http", Host: "bad host!"}}}, "spec.healthCheck.host"},
		{GlobalPolicySpec{PolicyFields: PolicyFields{HealthCheck: &HealthCheckSpec{Kind: "http", SNI: "app.example"}}}, "spec.healthCheck.sni: only for https checks"},
		{GlobalPolicySpec{PolicyFields: PolicyFields{HealthCheck: &HealthCheckSpec{Kind: "http", TLSSkipVerify: ptr(true)}}}, "spec.healthCheck.tlsSkipVerify: only for https checks"},
		{GlobalPolicySpec{PolicyFields: PolicyFields{HealthCheck: &HealthCheckSpec{Kind: "https", CAPEM: "not a certificate"}}}, "spec.healthCheck.caPEM: no PEM certificate"},
		{GlobalPolicySpec{PolicyFields: PolicyFields{HealthCheck: &HealthCheckSpec{Kind: "https", SNI: "app.example", Host: "app.example:8443", Path: "/", Jitter: "0"}}}, ""},
		{GlobalPolicySpec{PolicyFields: PolicyFields{Persistence: &PersistenceSpec{IPv4Mask: i64(33)}}}, "spec.persistence.ipv4Mask: must be between 0 and 32"},
		{GlobalPolicySpec{PolicyFields: PolicyFields{HashMask: &MaskSpec{IPv6: i64(129)}}}, "spec.hashMask.ipv6: must be between 0 and 128"},
		{GlobalPolicySpec{PolicyFields: PolicyFields{HashMask: &MaskSpec{IPv4: i64(16), IPv6: i64(48)}, GeoTieKm: i64(250)}}, ""},
		{GlobalPolicySpec{PolicyFields: PolicyFields{GeoTieKm: i64(-1)}}, "spec.geoTieKm"},
		{GlobalPolicySpec{PolicyFields: PolicyFields{DownResponse: &DownResponseSpec{Type: "fallback"}}}, "needs at least one address"},
		{GlobalPolicySpec{PolicyFields: PolicyFields{DownResponse: &DownResponseSpec{Type: "fallback", Addresses: []string{"1.2.3"}}}}, "spec.downResponse.addresses[0]: \"1.2.3\" is not an IP address"},
		{GlobalPolicySpec{PolicyFields: PolicyFields{DownResponse: &DownResponseSpec{Type: "all", Addresses: []string{"192.0.2.1"}}}}, "spec.downResponse.addresses: addresses are only used with type \"fallback\""},
		{GlobalPolicySpec{PolicyFields: PolicyFields{DownResponse: &DownResponseSpec{Type: "sorry"}}}, "spec.downResponse.type"},
		{GlobalPolicySpec{PolicyFields: PolicyFields{HostnameVIPs: "alias"}}, "spec.hostnameVIPs"},
		// topology rules of the policy's own
		{GlobalPolicySpec{PolicyFields: PolicyFields{Strategy: "topology", Topology: []TopologyRuleSpec{
			{CIDRs: []string{"10.0.0.0/8", "2001:db8::/32"}, Sites: []string{"dc1"}},
			{Countries: []string{"ie"}, Continents: []string{"EU"}, Sites: []string{"east", "dc1"}}}}}, ""},
		{GlobalPolicySpec{PolicyFields: PolicyFields{Topology: []TopologyRuleSpec{{CIDRs: []string{"10.0.0.0/33"}, Sites: []string{"dc1"}}}}}, "spec.topology[0].cidrs[0]"},
		{GlobalPolicySpec{PolicyFields: PolicyFields{Topology: []TopologyRuleSpec{{CIDRs: []string{"10.1.2.3/8"}, Sites: []string{"dc1"}}}}}, "did you mean 10.0.0.0/8"},
		{GlobalPolicySpec{PolicyFields: PolicyFields{Topology: []TopologyRuleSpec{{Countries: []string{"IE"}, Sites: []string{"moon"}}}}}, `spec.topology[0].sites[0]: unknown site "moon"`},
		{GlobalPolicySpec{PolicyFields: PolicyFields{Topology: []TopologyRuleSpec{{Sites: []string{"dc1"}}}}}, "spec.topology[0]: a rule needs cidrs, countries or continents"},
		{GlobalPolicySpec{PolicyFields: PolicyFields{Topology: []TopologyRuleSpec{{Continents: []string{"XX"}, Sites: []string{"dc1"}}}}}, "spec.topology[0].continents[0]"},
		{GlobalPolicySpec{PolicyFields: PolicyFields{Topology: []TopologyRuleSpec{{Countries: []string{"IRL"}, Sites: []string{"dc1"}}}}}, "spec.topology[0].countries[0]"},
		{GlobalPolicySpec{PolicyFields: PolicyFields{Topology: []TopologyRuleSpec{{Countries: []string{"IE"}}}}}, "spec.topology[0].sites: a rule needs at least one site"},
	}
	for i, tt := range globals {
		_, err := compileGlobal("p", 1, &tt.spec, pc)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("global %d: unexpected error %v", i, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("global %d: error %v, want one containing %q", i, err, tt.want)
		}
	}
	hosts := []struct {
		spec HostPolicySpec
		want string
	}{
		{HostPolicySpec{FQDN: "a.gslb.example"}, ""},
		{HostPolicySpec{}, "spec.fqdn: required"},
		{HostPolicySpec{FQDN: "a.example.org"}, "not inside any configured zone"},
		{HostPolicySpec{FQDN: "*.gslb.example"}, "wildcards"},
		{HostPolicySpec{FQDN: "a b.gslb.example"}, "spec.fqdn"},
		{HostPolicySpec{FQDN: "a.gslb.example", ThirdPartyMembers: []ThirdPartyMember{{Addresses: []string{"192.0.2.1"}}}}, "site: required"},
		{HostPolicySpec{FQDN: "a.gslb.example", ThirdPartyMembers: []ThirdPartyMember{{Site: "moon", Addresses: []string{"192.0.2.1"}}}}, `unknown site "moon"`},
		{HostPolicySpec{FQDN: "a.gslb.example", ThirdPartyMembers: []ThirdPartyMember{{Site: "dc1"}}}, "give addresses or a hostname"},
		{HostPolicySpec{FQDN: "a.gslb.example", ThirdPartyMembers: []ThirdPartyMember{{Site: "dc1", Addresses: []string{"192.0.2.1"}, Hostname: "x.example"}}}, "not both"},
		{HostPolicySpec{FQDN: "a.gslb.example", ThirdPartyMembers: []ThirdPartyMember{{Site: "dc1", Hostname: "a.gslb.example"}}}, "would loop"},
		{HostPolicySpec{FQDN: "a.gslb.example", ThirdPartyMembers: []ThirdPartyMember{{Site: "dc1", Addresses: []string{"192.0.2.1"}, ProbeAddress: "224.0.0.1"}}}, "cannot be probed"},
		{HostPolicySpec{FQDN: "a.gslb.example", ThirdPartyMembers: []ThirdPartyMember{{Site: "dc1", Addresses: []string{"192.0.2.1"}, ProbeAddress: "10.0.0.1"}}, PolicyFields: PolicyFields{HealthCheck: &HealthCheckSpec{Kind: "none"}}}, "kind none"},
		{HostPolicySpec{FQDN: "a.gslb.example", ThirdPartyMembers: []ThirdPartyMember{{Site: "dc1", Addresses: []string{"192.0.2.1"}}, {Site: "dc1", Addresses: []string{"192.0.2.1"}}}}, "duplicate member"},
		{HostPolicySpec{FQDN: "a.gslb.example", ThirdPartyMembers: []ThirdPartyMember{{Site: "dc1", Addresses: []string{"192.0.2.1"}, ProbePort: i64(0)}}}, "spec.thirdPartyMembers[0].probePort: must be between 1 and 65535"},
		{HostPolicySpec{FQDN: "a.gslb.example", ThirdPartyMembers: []ThirdPartyMember{{Site: "dc1", Addresses: []string{"192.0.2.1"}, ProbePort: i64(8443)}}, PolicyFields: PolicyFields{HealthCheck: &HealthCheckSpec{Kind: "none"}}}, "spec.thirdPartyMembers[0].probePort: the health check is kind none"},
		{HostPolicySpec{FQDN: "a.gslb.example", ThirdPartyMembers: []ThirdPartyMember{{Site: "dc1", Addresses: []string{"192.0.2.1"}, ProbePort: i64(8443)}}}, ""},
		{HostPolicySpec{FQDN: "a.gslb.example", Sites: []HostClusterSite{{Cluster: "east", PublicAddresses: []string{"nat"}}}}, "publicAddresses[0]"},
	}
	for i, tt := range hosts {
		_, err := compileHost("h", 1, &tt.spec, pc)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("host %d: unexpected error %v", i, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("host %d: error %v, want one containing %q", i, err, tt.want)
		}
	}
}

// TestPlanDeterministic: the order of the input objects does not matter.
func TestPlanDeterministic(t *testing.T) {
	mk := func(seed uint64) *Input {
		var clusters []ClusterObjects
		for _, name := range []string{"east", "west", "south"} {
			co := ClusterObjects{Name: name, Site: name}
			for i := range 40 {
				host := fmt.Sprintf("s%d.gslb.example", i%15)
				ip := fmt.Sprintf("10.%d.%d.%d", len(name), i/250, i%250)
				co.Ingresses = append(co.Ingresses, ingress(meta("ns", fmt.Sprintf("i%d", i), append(optIn, AnnotationWeight, fmt.Sprint(i%4))...), fmt.Sprintf("be%d", i%3), []string{host}, ip))
			}
			co.EndpointSlices = []*discoveryv1.EndpointSlice{endpoints("ns", "be0", "ready"), endpoints("ns", "be1", "notready")}
			r := rand.New(rand.NewPCG(seed, 7))
			r.Shuffle(len(co.Ingresses), func(i, j int) { co.Ingresses[i], co.Ingresses[j] = co.Ingresses[j], co.Ingresses[i] })
			clusters = append(clusters, co)
		}
		return baseInput(clusters...)
	}
	a, b := Plan(mk(1)), Plan(mk(2))
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("the same objects in another order give another plan:\n%s\nvs\n%s", strings.Join(summarize(a), "\n"), strings.Join(summarize(b), "\n"))
	}
	if len(a.Services) != 15 {
		t.Errorf("%d services, want 15", len(a.Services))
	}
	checkValid(t, mk(1), a)
}

func TestDecodeSpecStrict(t *testing.T) {
	u := map[string]any{"spec": map[string]any{"strategy": "weighted", "ttl": int64(20), "colour": "blue",
		"sites": []any{map[string]any{"cluster": "east", "weight": int64(2)}}}}
	var spec GlobalPolicySpec
	err := decodeSpec(unstructuredOf(u), &spec)
	if err == nil || !strings.Contains(err.Error(), "colour") {
		t.Fatalf("decodeSpec = %v, want an unknown-field error", err)
	}
	delete(u["spec"].(map[string]any), "colour")
	spec = GlobalPolicySpec{}
	if err := decodeSpec(unstructuredOf(u), &spec); err != nil {
		t.Fatal(err)
	}
	if spec.Strategy != "weighted" || *spec.TTL != 20 || len(spec.Sites) != 1 || *spec.Sites[0].Weight != 2 {
		t.Errorf("decoded %+v", spec)
	}
}

func TestWithStatus(t *testing.T) {
	u := unstructuredOf(map[string]any{"metadata": map[string]any{"name": "p", "generation": int64(2)}, "spec": map[string]any{}})
	st := PolicyStatus{Accepted: false, Reason: ReasonInvalid, Message: "bad", ObservedGeneration: 2, Services: 1}
	obj, changed, _ := withStatus(u, st, true)
	if !changed {
		t.Fatal("a status was not written to an object without one")
	}
	if _, changed, _ := withStatus(obj, st, true); changed {
		t.Error("the same status counts as a change")
	}
	time.Sleep(10 * time.Millisecond)
	st.Services = 2
	obj2, changed, _ := withStatus(obj, st, true)
	if !changed {
		t.Error("a new service count is not a change")
	}
	conds, _, _ := unstructuredNestedSlice(obj2.Object, "status", "conditions")
	if len(conds) != 1 || conds[0].(map[string]any)["status"] != "False" {
		t.Errorf("conditions %v", conds)
	}
}
