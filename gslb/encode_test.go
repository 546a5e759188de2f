package gslb

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	st := testState()
	st.Term, st.Generation = 3, 42
	// Health checks travel with the state: every site probes alike.
	st.Services[0].HealthCheck = &HealthCheck{Kind: "https", Port: 8443, Interval: 1500 * time.Millisecond, Rise: 2, Fall: 3,
		Jitter: "10%", Path: "/healthz", ExpectStatus: []string{"200", "300-304"}, SNI: "app.example", CAPEM: testCAPEM(t)}
	st.Services[0].Members[0].ProbePort = 9443
	b, err := st.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeState(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, st) {
		t.Fatalf("round trip changed the state:\n got %+v\nwant %+v", got, st)
	}
	// The decoded state answers exactly as the original.
	a, b2 := snapshot(t, st, nil), snapshot(t, got, nil)
	for _, name := range []string{"app.gslb.example.", "www.gslb.example.", "topo.gslb.example.", "ch.gslb.example."} {
		x, y := Select(a, q(name, TypeA, "81.2.69.0/24")), Select(b2, q(name, TypeA, "81.2.69.0/24"))
		if x.Addrs()[0] != y.Addrs()[0] || x.ScopePrefix != y.ScopePrefix {
			t.Errorf("%s: %v/%d vs %v/%d", name, x.Addrs(), x.ScopePrefix, y.Addrs(), y.ScopePrefix)
		}
	}
}

func TestDecodeStateRefuses(t *testing.T) {
	good, _ := testState().Encode()
	bad := testState()
	bad.Services[0].Members[0].Site = "mars"
	invalid, _ := bad.Encode()
	// A follower judges a received check by the loader's rule.
	badCheck := testState()
	badCheck.Services[0].HealthCheck = &HealthCheck{Kind: "tcp", Path: "/healthz"}
	invalidCheck, _ := badCheck.Encode()
	for _, tc := range []struct {
		name, in, want string
	}{
		{"not json", "{", "decode state"},
		{"future format", `{"format":2,"state":{}}`, "format 2, this build reads format 1"},
		{"no state", `{"format":1}`, "no state"},
		{"unknown field", strings.Replace(string(good), `"zones"`, `"zonez"`, 1), "unknown field"},
		{"invalid", string(invalid), `services[0].members[0].site: unknown site "mars"`},
		{"tcp check without port", string(invalidCheck), "services[0].health_check.port: required for tcp checks"},
		{"http field on a tcp check", string(invalidCheck), "services[0].health_check.path: only for http and https checks"},
	} {
		if _, err := DecodeState([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want ...%s...", tc.name, err, tc.want)
		}
	}
}

func TestVersionOrder(t *testing.T) {
	for _, tc := range []struct {
		a, b Version
		want bool
	}{
		{Version{1, 5}, Version{1, 4}, true},
		{Version{1, 4}, Version{1, 4}, false},
		{Version{2, 1}, Version{1, 900}, true}, // a new leader's term wins
		{Version{1, 900}, Version{2, 1}, false},
	} {
		if got := tc.a.Newer(tc.b); got != tc.want {
			t.Errorf("%v.Newer(%v) = %v", tc.a, tc.b, got)
		}
	}
}
