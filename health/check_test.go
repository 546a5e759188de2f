package health

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/gslb"
)

// The rule itself (defaults, limits, messages) is tested where it lives,
// in gslb/healthcheck_test.go; these tests check that health applies it.

func TestCompile(t *testing.T) {
	t.Parallel()
	c, err := Compile(&gslb.HealthCheck{Kind: "HTTPS", Interval: time.Second, Jitter: "250ms",
		ExpectStatus: []string{"200", "300-304, 404"}, Host: "App.Example.Test.:8443"})
	if err != nil {
		t.Fatal(err)
	}
	want := Check{
		Kind: KindHTTPS, Port: 443, Interval: time.Second, FastInterval: 200 * time.Millisecond, Timeout: 500 * time.Millisecond, Rise: 2, Fall: 3,
		Jitter: Jitter{Duration: 250 * time.Millisecond}, Method: "GET", Path: "/", Host: "app.example.test:8443",
		SNI: "app.example.test", ExpectStatus: []StatusRange{{Low: 200, High: 200}, {Low: 300, High: 304}, {Low: 404, High: 404}},
	}
	if !equalChecks(c, want) {
		t.Errorf("Compile:\n got %+v\nwant %+v", c, want)
	}
	// Spec is Compile's inverse: a compiled check compiles to itself.
	spec := c.Spec()
	if again, err := Compile(&spec); err != nil || !equalChecks(again, c) {
		t.Errorf("Compile(Spec) = %+v, %v; want %+v", again, err, c)
	}

	// A refused check: the rule's field errors, nothing of health's own.
	_, err = Compile(&gslb.HealthCheck{Kind: "tcp", Path: "/x", Jitter: "lots"})
	var got []string
	for _, e := range gslb.Leaves(err) {
		var fe *gslb.FieldError
		if !errors.As(e, &fe) {
			t.Errorf("%v is not a *gslb.FieldError", e)
		}
		got = append(got, e.Error())
	}
	wantErrs := []string{"port: required for tcp checks",
		`jitter: want a percentage (10%), a fraction (0.1), a duration (250ms) or 0, got "lots"`,
		"path: only for http and https checks"}
	if !slices.Equal(got, wantErrs) {
		t.Errorf("Compile errors:\n got %q\nwant %q", got, wantErrs)
	}
}

func equalChecks(a, b Check) bool {
	return slices.Equal(a.ExpectStatus, b.ExpectStatus) && a.fingerprint() == b.fingerprint()
}

func TestWaits(t *testing.T) {
	t.Parallel()
	// Every wait stays within interval ± J/2, and the first within [0, J).
	for range 1000 {
		if w := nextWait(time.Second, 200*time.Millisecond); w < 900*time.Millisecond || w >= 1100*time.Millisecond {
			t.Fatalf("nextWait = %v, outside [900ms, 1.1s)", w)
		}
		if w := firstWait(200 * time.Millisecond); w < 0 || w >= 200*time.Millisecond {
			t.Fatalf("firstWait = %v, outside [0, 200ms)", w)
		}
	}
	if nextWait(time.Second, 0) != time.Second || firstWait(0) != 0 {
		t.Error("no jitter should mean exact waits")
	}
	if !statusOK(302, []StatusRange{{Low: 200, High: 399}}) || statusOK(404, []StatusRange{{Low: 200, High: 399}, {Low: 500, High: 500}}) {
		t.Error("statusOK wrong")
	}
}

func TestTargetKey(t *testing.T) {
	t.Parallel()
	addr := netip.MustParseAddr("127.10.0.1")
	a := mustTarget(t, netip.AddrPortFrom(addr, 0), Check{Kind: KindHTTP})
	// The same check spelled with its defaults is the same target.
	b := mustTarget(t, netip.AddrPortFrom(addr, 80), Check{
		Kind: "http", Method: "get", Path: "/", Interval: gslb.DefaultCheckInterval, Rise: 2, Fall: 3,
		ExpectStatus: []StatusRange{{Low: 200, High: 399}}, Jitter: Jitter{Fraction: 0.1},
	})
	if a.Key() != b.Key() {
		t.Errorf("equal checks, different keys: %s vs %s", a.Key(), b.Key())
	}
	// fast_interval written as its default is the unset one: such keys
	// are those of sites that predate it.
	if d := mustTarget(t, netip.AddrPortFrom(addr, 80), Check{Kind: KindHTTP, FastInterval: gslb.DefaultFastInterval(gslb.DefaultCheckInterval)}); d.Key() != a.Key() {
		t.Error("the default fast_interval, written out, changed the key")
	}
	// Order of expected statuses does not matter.
	c1 := mustTarget(t, netip.AddrPortFrom(addr, 80), Check{Kind: KindHTTP, ExpectStatus: []StatusRange{{Low: 200, High: 200}, {Low: 301, High: 302}}})
	c2 := mustTarget(t, netip.AddrPortFrom(addr, 80), Check{Kind: KindHTTP, ExpectStatus: []StatusRange{{Low: 301, High: 302}, {Low: 200, High: 200}}})
	if c1.Key() != c2.Key() {
		t.Error("status order changed the key")
	}
	// Anything that changes the probe changes the key.
	for name, c := range map[string]Check{
		"path":     {Kind: KindHTTP, Path: "/healthz"},
		"host":     {Kind: KindHTTP, Host: "a.test"},
		"interval": {Kind: KindHTTP, Interval: time.Second},
		"fast":     {Kind: KindHTTP, FastInterval: 2 * time.Second},
		"rise":     {Kind: KindHTTP, Rise: 3},
		"body":     {Kind: KindHTTP, BodyContains: "ok"},
		"status":   {Kind: KindHTTP, ExpectStatus: []StatusRange{{Low: 200, High: 200}}},
		"jitter":   {Kind: KindHTTP, Jitter: Jitter{Off: true}},
		"kind":     {Kind: KindTCP, Port: 80},
	} {
		if o := mustTarget(t, netip.AddrPortFrom(addr, 80), c); o.Key() == a.Key() {
			t.Errorf("changing %s kept the key", name)
		}
	}
	if o := mustTarget(t, netip.MustParseAddrPort("127.10.0.2:80"), Check{Kind: KindHTTP}); o.Key() == a.Key() {
		t.Error("another address kept the key")
	}
	// v4-mapped addresses are the v4 target.
	if m := mustTarget(t, netip.MustParseAddrPort("[::ffff:127.10.0.1]:80"), Check{Kind: KindHTTP}); m.Key() != a.Key() {
		t.Error("v4-mapped address is another target")
	}
	if a.Label() != "127.10.0.1:80/http" {
		t.Errorf("Label = %q", a.Label())
	}
	// The text form round-trips, so keys can travel in JSON and gossip.
	txt, _ := a.Key().MarshalText()
	var back Key
	if err := back.UnmarshalText(txt); err != nil || back != a.Key() {
		t.Errorf("key text round trip: %s -> %v, %v", txt, back, err)
	}
	if !strings.HasPrefix(string(txt), "127.10.0.1:80#") {
		t.Errorf("key text = %s", txt)
	}
	if _, err := NewTarget(netip.Addr{}, 80, Check{}); err == nil {
		t.Error("invalid address accepted")
	}
	if _, err := NewTarget(addr, 0, Check{Kind: KindTCP}); err == nil {
		t.Error("tcp without port accepted")
	}
}
