package kube

import (
	"slices"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/meridian-gslb/meridian/gslb"
)

// statusOfPolicy is one policy's status in out, failing the test when it
// has none.
func statusOfPolicy(t *testing.T, out *Output, kind, name string) PolicyStatus {
	t.Helper()
	st, ok := out.Policies[PolicyKey{kind, name}]
	if !ok {
		t.Fatalf("no status for %s/%s", kind, name)
	}
	return st
}

// The check a service gets is judged whole: the config's default check,
// the GlobalPolicy's and the HostPolicy's fields, the port from the
// members. A policy that makes it unprobeable is rejected, naming its
// field, and its last accepted version applies instead.
func TestPlanEffectiveHealthCheck(t *testing.T) {
	static := func(spec HostPolicySpec) *Input {
		in := baseInput()
		spec.FQDN = "static.gslb.example"
		spec.ThirdPartyMembers = []ThirdPartyMember{{Site: "dc1", Addresses: []string{"203.0.113.2"}}}
		in.HostPolicies = []HostPolicy{{Name: "static", Generation: 2, Spec: spec}}
		return in
	}
	t.Run("a tcp check without a port on members that have none is rejected", func(t *testing.T) {
		in := static(HostPolicySpec{PolicyFields: PolicyFields{HealthCheck: &HealthCheckSpec{Kind: "tcp"}}})
		out := Plan(in)
		st := statusOfPolicy(t, out, KindHostPolicy, "static")
		if st.Accepted || !strings.Contains(st.Message, "spec.healthCheck.port: required for tcp checks") ||
			!strings.Contains(st.Message, "static.gslb.example.") {
			t.Errorf("status %+v", st)
		}
		if len(out.Services) != 0 {
			t.Errorf("a rejected policy with nothing accepted before built %v", summarize(out))
		}
		if _, ok := out.Accepted[PolicyKey{KindHostPolicy, "static"}]; ok || st.LastAccepted != nil {
			t.Error("a vetoed version was recorded as accepted")
		}
	})
	t.Run("its last accepted version keeps applying", func(t *testing.T) {
		in := static(HostPolicySpec{PolicyFields: PolicyFields{HealthCheck: &HealthCheckSpec{Kind: "tcp"}}})
		good := HostPolicySpec{FQDN: "static.gslb.example", ThirdPartyMembers: in.HostPolicies[0].Spec.ThirdPartyMembers,
			PolicyFields: PolicyFields{HealthCheck: &HealthCheckSpec{Kind: "tcp", Port: i64(5432)}}}
		in.LastAccepted = map[PolicyKey]AcceptedSpec{{KindHostPolicy, "static"}: {Generation: 1, Host: &good}}
		out := Plan(in)
		st := statusOfPolicy(t, out, KindHostPolicy, "static")
		if st.Accepted || !strings.Contains(st.Message, "generation 1, the last accepted, still applies") || st.LastAccepted == nil || st.LastAccepted.Generation != 1 {
			t.Errorf("status %+v", st)
		}
		if got := summarize(out); !slices.Equal(got, []string{"static.gslb.example. geo ttl=30 hc=tcp:5432", "  dc1/203.0.113.2 w=1 p=0"}) {
			t.Errorf("services %v", got)
		}
		checkValid(t, in, out)
	})
	t.Run("the config's default check without a port: the HostPolicy that brings the members answers for it", func(t *testing.T) {
		in := static(HostPolicySpec{})
		in.DefaultHealthCheck = &gslb.HealthCheck{Kind: "tcp"}
		out := Plan(in)
		if st := statusOfPolicy(t, out, KindHostPolicy, "static"); st.Accepted || !strings.Contains(st.Message, "spec.healthCheck.port") {
			t.Errorf("status %+v", st)
		}
	})
	t.Run("an http default check under a tcp policy drops its HTTP fields", func(t *testing.T) {
		in := baseInput(ClusterObjects{Name: "east", Site: "east", Ingresses: []*networkingv1.Ingress{
			ingress(meta("a", "x", "label:app", "x"), "", []string{"x.gslb.example"}, "192.0.2.1"),
		}})
		in.DefaultHealthCheck = &gslb.HealthCheck{Kind: "http", Path: "/healthz", ExpectStatus: []string{"200"}}
		in.GlobalPolicies = []GlobalPolicy{gpol("x", GlobalPolicySpec{Selector: selectLabels("app", "x"),
			PolicyFields: PolicyFields{HealthCheck: &HealthCheckSpec{Kind: "tcp", Port: i64(5432)}}})}
		out := Plan(in)
		if st := statusOfPolicy(t, out, KindGlobalPolicy, "x"); !st.Accepted {
			t.Fatalf("status %+v", st)
		}
		hc := out.Services[0].HealthCheck
		if hc.Kind != "tcp" || hc.Port != 5432 || hc.Path != "" || hc.ExpectStatus != nil {
			t.Errorf("check %+v", hc)
		}
		checkValid(t, in, out)
	})
	t.Run("a HostPolicy's field that only breaks with the GlobalPolicy's check is rejected, the GlobalPolicy is not", func(t *testing.T) {
		in := baseInput(ClusterObjects{Name: "east", Site: "east", Ingresses: []*networkingv1.Ingress{
			ingress(meta("a", "x", "label:app", "x"), "", []string{"x.gslb.example"}, "192.0.2.1"),
		}})
		in.GlobalPolicies = []GlobalPolicy{gpol("x", GlobalPolicySpec{Selector: selectLabels("app", "x"),
			PolicyFields: PolicyFields{HealthCheck: &HealthCheckSpec{Kind: "http", Interval: "1s"}}})}
		// alone, a 900ms timeout is fine (the default interval is 5s)
		in.HostPolicies = []HostPolicy{hpol("x", HostPolicySpec{FQDN: "x.gslb.example",
			PolicyFields: PolicyFields{HealthCheck: &HealthCheckSpec{Timeout: "1500ms"}}})}
		out := Plan(in)
		if st := statusOfPolicy(t, out, KindGlobalPolicy, "x"); !st.Accepted {
			t.Errorf("GlobalPolicy %+v", st)
		}
		st := statusOfPolicy(t, out, KindHostPolicy, "x")
		if st.Accepted || !strings.Contains(st.Message, "spec.healthCheck.timeout: must be less than interval") {
			t.Errorf("HostPolicy %+v", st)
		}
		if hc := out.Services[0].HealthCheck; hc.Kind != "http" || hc.Timeout != 0 {
			t.Errorf("the rejected HostPolicy changed the check: %+v", hc)
		}
		checkValid(t, in, out)
	})
}

// A controller that has accepted nothing itself (a new leader) applies
// the last accepted version the object's status holds when the spec is
// invalid; its own memory wins over the status.
func TestPlanLastAcceptedFromStatus(t *testing.T) {
	in := baseInput(ClusterObjects{Name: "east", Site: "east", Ingresses: []*networkingv1.Ingress{
		ingress(meta("a", "x", "label:app", "x"), "", []string{"x.gslb.example"}, "192.0.2.1"),
	}})
	weighted := GlobalPolicySpec{Selector: selectLabels("app", "x"), PolicyFields: PolicyFields{Strategy: "weighted"}}
	roundrobin := GlobalPolicySpec{Selector: selectLabels("app", "x"), PolicyFields: PolicyFields{Strategy: "roundrobin"}}
	bad := GlobalPolicySpec{Selector: selectLabels("app", "x"), PolicyFields: PolicyFields{Strategy: "fastest"}}
	in.GlobalPolicies = []GlobalPolicy{{Name: "x", Generation: 3, Spec: bad, LastAccepted: &AcceptedSpec{Generation: 2, Global: &weighted}}}
	out := Plan(in)
	if got := summarize(out); !slices.Equal(got, []string{"x.gslb.example. weighted ttl=30", "  east/192.0.2.1 w=1 p=0 ready"}) {
		t.Errorf("services %v", got)
	}
	st := statusOfPolicy(t, out, KindGlobalPolicy, "x")
	if st.Accepted || st.LastAccepted == nil || st.LastAccepted.Generation != 2 || !strings.Contains(st.Message, "generation 2, the last accepted, still applies") {
		t.Errorf("status %+v", st)
	}
	if a := out.Accepted[PolicyKey{KindGlobalPolicy, "x"}]; a.Generation != 2 {
		t.Errorf("accepted %+v", a)
	}

	in.LastAccepted = map[PolicyKey]AcceptedSpec{{KindGlobalPolicy, "x"}: {Generation: 1, Global: &roundrobin}}
	if got := summarize(Plan(in)); got[0] != "x.gslb.example. roundrobin ttl=30" {
		t.Errorf("with a version in memory: %v", got)
	}

	// a valid spec is its own last accepted version
	in.GlobalPolicies[0].Spec = roundrobin
	st = statusOfPolicy(t, Plan(in), KindGlobalPolicy, "x")
	if !st.Accepted || st.LastAccepted == nil || st.LastAccepted.Generation != 3 || st.LastAccepted.Global.Strategy != "roundrobin" {
		t.Errorf("status %+v", st)
	}
}

// Every knob of the file's policy reaches the built service.
func TestPlanPolicyKnobs(t *testing.T) {
	in := baseInput(ClusterObjects{Name: "east", Site: "east", Ingresses: []*networkingv1.Ingress{
		ingress(meta("a", "x", "label:app", "x"), "", []string{"x.gslb.example"}, "192.0.2.1"),
	}})
	in.GlobalPolicies = []GlobalPolicy{gpol("x", GlobalPolicySpec{Selector: selectLabels("app", "x"), PolicyFields: PolicyFields{
		Strategy: "topology", GeoTieKm: i64(250),
		Topology: []TopologyRuleSpec{{CIDRs: []string{"10.0.0.0/8"}, Countries: []string{"ie"}, Continents: []string{"eu"}, Sites: []string{"east", "dc1"}}},
		HashMask: &MaskSpec{IPv4: i64(16)},
		HealthCheck: &HealthCheckSpec{Kind: "https", Host: "app.example", SNI: "app.example", Jitter: "250ms",
			CAPEM: testCAPEM, ExpectStatus: []string{"200", "204"}, BodyContains: "ok"},
		Persistence: &PersistenceSpec{Enabled: ptr(true), IPv6Mask: i64(48)},
	}})}
	in.HostPolicies = []HostPolicy{hpol("x", HostPolicySpec{FQDN: "x.gslb.example", PolicyFields: PolicyFields{HashMask: &MaskSpec{IPv6: i64(64)}}})}
	out := Plan(in)
	for k, st := range out.Policies {
		if !st.Accepted {
			t.Fatalf("%s: %+v", k, st)
		}
	}
	p := out.Services[0].Policy
	if p.Strategy != gslb.StrategyTopology || p.GeoTieKm != 250 || len(p.Topology) != 1 || p.Topology[0].CIDRs[0].String() != "10.0.0.0/8" ||
		!slices.Equal(p.Topology[0].Sites, []string{"east", "dc1"}) || p.HashMask != (gslb.Mask{IPv4: 16, IPv6: 64}) ||
		!p.Persistence.Enabled || p.Persistence.Mask.IPv6 != 48 || p.Persistence.Mask.IPv4 != gslb.DefaultMaskIPv4 {
		t.Errorf("policy %+v", p)
	}
	hc := out.Services[0].HealthCheck
	if hc.Kind != "https" || hc.Port != 443 || hc.Jitter != "250ms" || hc.CAPEM != testCAPEM || hc.Host != "app.example" {
		t.Errorf("check %+v", hc)
	}
	checkValid(t, in, out)
}

// status.lastAccepted: written with the version that applies, compared
// as the apiserver returns it (no rewrite when unchanged), read back.
func TestStatusLastAccepted(t *testing.T) {
	spec := GlobalPolicySpec{Selector: selectLabels("app", "x"), Sites: []ClusterSite{{Cluster: "east", Weight: i64(3)}},
		PolicyFields: PolicyFields{Strategy: "weighted", TTL: i64(20), HealthCheck: &HealthCheckSpec{Kind: "http", ExpectStatus: []string{"200"}}}}
	u := unstructuredOf(map[string]any{"kind": KindGlobalPolicy, "metadata": map[string]any{"name": "p", "generation": int64(2)}, "spec": map[string]any{}})
	st := PolicyStatus{Accepted: false, Reason: ReasonInvalid, Message: "spec.ttl: bad", ObservedGeneration: 2,
		LastAccepted: &AcceptedSpec{Generation: 1, Global: &spec}}
	obj, changed, condChanged := withStatus(u, st, true)
	if !changed || !condChanged {
		t.Fatalf("changed %v, condition changed %v", changed, condChanged)
	}
	// as if read from the apiserver: JSON numbers are int64
	round := roundTripJSON(t, obj)
	if _, changed, _ := withStatus(round, st, true); changed {
		t.Error("the same status counts as a change after a round trip")
	}
	pc := &policyCluster{log: discardLogger()}
	var got GlobalPolicySpec
	gen, ok := pc.lastAccepted(round, &got)
	if !ok || gen != 1 || got.Strategy != "weighted" || *got.TTL != 20 || *got.Sites[0].Weight != 3 || got.HealthCheck.ExpectStatus[0] != "200" {
		t.Errorf("read back generation %d %v: %+v", gen, ok, got)
	}
	// a new last accepted version is a change, not of the condition
	st.LastAccepted = &AcceptedSpec{Generation: 2, Global: &spec}
	if _, changed, condChanged := withStatus(round, st, true); !changed || condChanged {
		t.Errorf("new version: changed %v, condition changed %v", changed, condChanged)
	}
	// none any more: removed
	st.LastAccepted = nil
	obj3, changed, _ := withStatus(round, st, true)
	if _, found := obj3.Object["status"].(map[string]any)["lastAccepted"]; !changed || found {
		t.Errorf("lastAccepted not removed: changed %v", changed)
	}
	// unreadable: ignored
	bad := roundTripJSON(t, obj)
	bad.Object["status"].(map[string]any)["lastAccepted"].(map[string]any)["spec"].(map[string]any)["colour"] = "blue"
	if _, ok := pc.lastAccepted(bad, &got); ok {
		t.Error("a lastAccepted with an unknown field was read")
	}
}

func TestStaleChange(t *testing.T) {
	var reported bool
	steps := []struct {
		stale bool
		want  bool
	}{
		{false, false}, // first sync: no news
		{false, false},
		{true, true}, // outage
		{true, false},
		{false, true}, // back
	}
	for i, s := range steps {
		if got := staleChange(&reported, ClusterStatus{Stale: s.stale}); got != s.want {
			t.Errorf("step %d (stale %v): report %v, want %v", i, s.stale, got, s.want)
		}
	}
	reported = false
	if !staleChange(&reported, ClusterStatus{Stale: true, Error: "apiserver unreachable"}) {
		t.Error("a cluster that fails before its first sync is not reported")
	}
}

// A service whose members all have weight 0 would answer NODATA for ever
// (gslb.CheckWeights): the policy whose weights drain every member is
// rejected, naming them, and the service is built without them.
func TestPlanEveryWeightZero(t *testing.T) {
	twoClusters := func() *Input {
		in := baseInput(
			ClusterObjects{Name: "east", Site: "east", Ingresses: []*networkingv1.Ingress{
				ingress(meta("a", "x", "label:app", "x"), "", []string{"x.gslb.example"}, "192.0.2.1")}},
			ClusterObjects{Name: "west", Site: "west", Ingresses: []*networkingv1.Ingress{
				ingress(meta("a", "x", "label:app", "x"), "", []string{"x.gslb.example"}, "198.51.100.1")}},
		)
		in.GlobalPolicies = []GlobalPolicy{gpol("x", GlobalPolicySpec{Selector: selectLabels("app", "x")})}
		return in
	}
	drained := "every member has weight 0, so the service would never be answered"
	undrained := []string{"x.gslb.example. geo ttl=30", "  east/192.0.2.1 w=1 p=0 ready", "  west/198.51.100.1 w=1 p=0 ready"}

	t.Run("a HostPolicy draining every cluster", func(t *testing.T) {
		in := twoClusters()
		in.HostPolicies = []HostPolicy{hpol("x", HostPolicySpec{FQDN: "x.gslb.example",
			Sites: []HostClusterSite{{Cluster: "east", Weight: i64(0)}, {Cluster: "west", Weight: i64(0)}}})}
		out := Plan(in)
		st := statusOfPolicy(t, out, KindHostPolicy, "x")
		if st.Accepted || !strings.Contains(st.Message, "spec.sites[0].weight, spec.sites[1].weight: "+drained) {
			t.Errorf("HostPolicy %+v", st)
		}
		if got := summarize(out); !slices.Equal(got, undrained) {
			t.Errorf("services %v, want %v", got, undrained)
		}
		checkValid(t, in, out)
	})
	t.Run("the HostPolicy's weight completes the GlobalPolicy's: the HostPolicy answers", func(t *testing.T) {
		in := twoClusters()
		in.GlobalPolicies[0].Spec.Sites = []ClusterSite{{Cluster: "west", Weight: i64(0)}}
		in.HostPolicies = []HostPolicy{hpol("x", HostPolicySpec{FQDN: "x.gslb.example",
			Sites: []HostClusterSite{{Cluster: "east", Weight: i64(0)}}})}
		out := Plan(in)
		if st := statusOfPolicy(t, out, KindGlobalPolicy, "x"); !st.Accepted {
			t.Errorf("GlobalPolicy %+v", st)
		}
		if st := statusOfPolicy(t, out, KindHostPolicy, "x"); st.Accepted || !strings.Contains(st.Message, "spec.sites[0].weight: "+drained) {
			t.Errorf("HostPolicy %+v", st)
		}
	})
	t.Run("a GlobalPolicy draining every cluster", func(t *testing.T) {
		in := twoClusters()
		in.GlobalPolicies[0].Spec.Sites = []ClusterSite{{Cluster: "east", Weight: i64(0)}, {Cluster: "west", Weight: i64(0)}}
		out := Plan(in)
		if st := statusOfPolicy(t, out, KindGlobalPolicy, "x"); st.Accepted || !strings.Contains(st.Message, drained) {
			t.Errorf("GlobalPolicy %+v", st)
		}
	})
	t.Run("third-party members at weight 0", func(t *testing.T) {
		in := baseInput()
		in.HostPolicies = []HostPolicy{hpol("static", HostPolicySpec{FQDN: "static.gslb.example",
			ThirdPartyMembers: []ThirdPartyMember{{Site: "dc1", Addresses: []string{"203.0.113.2"}, Weight: i64(0)}}})}
		out := Plan(in)
		if st := statusOfPolicy(t, out, KindHostPolicy, "static"); st.Accepted || !strings.Contains(st.Message, "spec.thirdPartyMembers[0].weight: "+drained) {
			t.Errorf("HostPolicy %+v", st)
		}
		if len(out.Services) != 0 {
			t.Errorf("built %v from a rejected policy", summarize(out))
		}
	})
	t.Run("one cluster drained is fine", func(t *testing.T) {
		in := twoClusters()
		in.HostPolicies = []HostPolicy{hpol("x", HostPolicySpec{FQDN: "x.gslb.example",
			Sites: []HostClusterSite{{Cluster: "east", Weight: i64(0)}}})}
		out := Plan(in)
		if st := statusOfPolicy(t, out, KindHostPolicy, "x"); !st.Accepted {
			t.Errorf("HostPolicy %+v", st)
		}
		checkValid(t, in, out)
	})
}
