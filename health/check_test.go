package health

import (
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/gslb"
)

func TestCheckDefaults(t *testing.T) {
	t.Parallel()
	c := Check{Kind: "HTTP"}
	c.Defaults()
	want := Check{
		Kind: KindHTTP, Port: 80, Interval: 5 * time.Second, Timeout: 2 * time.Second,
		Rise: 2, Fall: 3, Jitter: Jitter{Fraction: 0.1}, Method: "GET", Path: "/",
		ExpectStatus: []StatusRange{{200, 399}},
	}
	if !equalChecks(c, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("defaulted http check: %v", err)
	}

	// A short interval gets a timeout that fits it.
	c = Check{Kind: KindTCP, Port: 443, Interval: time.Second}
	c.Defaults()
	if c.Timeout != 500*time.Millisecond {
		t.Errorf("timeout for a 1s interval = %v, want 500ms", c.Timeout)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("1s tcp check: %v", err)
	}

	// HTTPS: port 443, SNI from Host without its port.
	c = Check{Kind: KindHTTPS, Host: "App.Example.Test.:8443"}
	c.Defaults()
	if c.Port != 443 || c.SNI != "app.example.test" || c.Host != "app.example.test:8443" {
		t.Errorf("https defaults: port %d sni %q host %q", c.Port, c.SNI, c.Host)
	}
	c = Check{Kind: KindHTTPS, Host: "shop.example.com."}
	c.Defaults()
	if c.SNI != "shop.example.com" || c.Host != "shop.example.com" {
		t.Errorf("https defaults: sni %q host %q", c.SNI, c.Host)
	}

	// tcp and none get no HTTP fields, so they validate.
	for _, k := range []Kind{KindTCP, KindNone, ""} {
		c := Check{Kind: k, Port: 9}
		c.Defaults()
		if err := c.Validate(); err != nil {
			t.Errorf("kind %q: %v", k, err)
		}
	}
}

func equalChecks(a, b Check) bool {
	return slices.Equal(a.ExpectStatus, b.ExpectStatus) && a.fingerprint() == b.fingerprint()
}

func TestCheckValidate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(notPEM, []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	goodPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(goodPEM, []byte(appCert(t).pem), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		check Check
		want  []string // every field error expected, in order
	}{
		{"interval too short", Check{Port: 1, Interval: 50 * time.Millisecond, Timeout: 20 * time.Millisecond},
			[]string{"interval: must be >= 100ms, got 50ms"}},
		{"interval too long", Check{Port: 1, Interval: 2 * time.Hour},
			[]string{"interval: must be <= 1h0m0s, got 2h0m0s"}},
		{"timeout not below interval", Check{Port: 1, Interval: time.Second, Timeout: time.Second},
			[]string{"timeout: must be less than interval (1s), got 1s"}},
		{"timeout too short", Check{Port: 1, Timeout: time.Millisecond},
			[]string{"timeout: must be >= 10ms, got 1ms"}},
		{"thresholds", Check{Port: 1, Rise: -1, Fall: 101},
			[]string{"rise: must be between 1 and 100, got -1", "fall: must be between 1 and 100, got 101"}},
		{"tcp needs a port", Check{Kind: KindTCP},
			[]string{"port: required for tcp checks"}},
		{"unknown kind", Check{Kind: "icmp"},
			[]string{`kind: must be one of [tcp http https none], got "icmp"`}},
		{"jitter fraction", Check{Port: 1, Jitter: Jitter{Fraction: 1.5}},
			[]string{"jitter: fraction must be in [0, 1), got 1.5"}},
		{"jitter duration", Check{Port: 1, Interval: time.Second, Jitter: Jitter{Duration: 2 * time.Second}},
			[]string{"jitter: must be less than interval (1s), got 2s"}},
		{"http fields on tcp", Check{Port: 1, Path: "/x", BodyContains: "ok"},
			[]string{"path: only for http and https checks", "body_contains: only for http and https checks"}},
		{"tls fields on http", Check{Kind: KindHTTP, SNI: "a.test", TLSSkipVerify: true},
			[]string{"sni: only for https checks", "tls_skip_verify: only for https checks"}},
		{"bad method, path, host", Check{Kind: KindHTTP, Method: "GE T", Path: "health", Host: "bad host"},
			[]string{`method: must be an HTTP method such as GET or HEAD, got "GE T"`,
				`path: must start with / and hold no spaces or fragment, got "health"`,
				`host: must be a host name or host:port, got "bad host"`}},
		{"status out of range", Check{Kind: KindHTTP, ExpectStatus: []StatusRange{{200, 299}, {600, 600}, {399, 300}}},
			[]string{"expect_status[1]: must be a code or a range within 100-599, got 600",
				"expect_status[2]: must be a code or a range within 100-599, got 399-300"}},
		{"bad escape in path", Check{Kind: KindHTTP, Path: "/a%zz"},
			[]string{`path: must start with / and hold no spaces or fragment, got "/a%zz"`}},
		{"HEAD with body", Check{Kind: KindHTTP, Method: "head", BodyContains: "ok"},
			[]string{"body_contains: HEAD responses have no body"}},
		{"sni with port", Check{Kind: KindHTTPS, SNI: "a.test:443"},
			[]string{`sni: must be a host name without port, got "a.test:443"`}},
		{"skip verify and CA", Check{Kind: KindHTTPS, TLSSkipVerify: true, CAPEM: appCert(t).pem},
			[]string{"tls_skip_verify: conflicts with ca_file and ca_pem: no certificate is verified"}},
		{"missing CA file", Check{Kind: KindHTTPS, CAFile: filepath.Join(dir, "nope.pem")},
			[]string{"ca_file: open " + filepath.Join(dir, "nope.pem") + ": no such file or directory"}},
		{"CA file without PEM", Check{Kind: KindHTTPS, CAFile: notPEM},
			[]string{"ca_file: " + notPEM + " holds no PEM certificate"}},
		{"bad CA PEM", Check{Kind: KindHTTPS, CAPEM: "junk"},
			[]string{"ca_pem: no PEM certificate"}},
		{"good CA file", Check{Kind: KindHTTPS, CAFile: goodPEM}, nil},
		{"1s interval", Check{Port: 1, Interval: time.Second, Timeout: 900 * time.Millisecond}, nil},
		{"100ms interval", Check{Kind: KindHTTP, Interval: 100 * time.Millisecond}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.check
			c.Defaults()
			err := c.Validate()
			var got []string
			for _, e := range leaves(err) {
				var fe *gslb.FieldError
				if !errors.As(e, &fe) {
					t.Errorf("%v is not a *gslb.FieldError", e)
				}
				got = append(got, e.Error())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Validate:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func leaves(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leaves(e)...)
		}
		return out
	}
	return []error{err}
}

func TestStatusRanges(t *testing.T) {
	t.Parallel()
	got, err := ParseStatusRanges("200, 204,300-399")
	if err != nil {
		t.Fatal(err)
	}
	want := []StatusRange{{200, 200}, {204, 204}, {300, 399}}
	if !slices.Equal(got, want) {
		t.Errorf("ParseStatusRanges = %v, want %v", got, want)
	}
	for _, bad := range []string{"2xx", "200-", "-1-2", "ok"} {
		if _, err := ParseStatusRange(bad); err == nil {
			t.Errorf("ParseStatusRange(%q): no error", bad)
		}
	}
	var c struct {
		Expect []StatusRange `json:"expect"`
	}
	if err := json.Unmarshal([]byte(`{"expect":["200-299","418"]}`), &c); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Expect, []StatusRange{{200, 299}, {418, 418}}) {
		t.Errorf("JSON decode: %v", c.Expect)
	}
	b, _ := json.Marshal(c)
	if string(b) != `{"expect":["200-299","418"]}` {
		t.Errorf("JSON encode: %s", b)
	}
	if !statusOK(302, []StatusRange{{200, 399}}) || statusOK(404, []StatusRange{{200, 399}, {500, 500}}) {
		t.Error("statusOK wrong")
	}
}

func TestJitter(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Jitter{
		"10%":   {Fraction: 0.1},
		"0.25":  {Fraction: 0.25},
		"250ms": {Duration: 250 * time.Millisecond},
		"0":     {Off: true},
		"off":   {Off: true},
		"":      {},
	} {
		got, err := ParseJitter(in)
		if err != nil || got != want {
			t.Errorf("ParseJitter(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if in != "" && in != "off" {
			if round, _ := ParseJitter(got.String()); round != want {
				t.Errorf("round trip of %q through %q = %+v", in, got.String(), round)
			}
		}
	}
	if _, err := ParseJitter("lots"); err == nil {
		t.Error("ParseJitter(lots): no error")
	}
	if a := (Jitter{Fraction: 0.1}).Amount(time.Second); a != 100*time.Millisecond {
		t.Errorf("10%% of 1s = %v", a)
	}
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
}

func TestTargetKey(t *testing.T) {
	t.Parallel()
	addr := netip.MustParseAddr("127.10.0.1")
	a := mustTarget(t, netip.AddrPortFrom(addr, 0), Check{Kind: KindHTTP})
	// The same check spelled with its defaults is the same target.
	b := mustTarget(t, netip.AddrPortFrom(addr, 80), Check{
		Kind: "http", Method: "get", Path: "/", Interval: DefaultInterval, Rise: 2, Fall: 3,
		ExpectStatus: []StatusRange{{200, 399}}, Jitter: Jitter{Fraction: 0.1},
	})
	if a.Key() != b.Key() {
		t.Errorf("equal checks, different keys: %s vs %s", a.Key(), b.Key())
	}
	// Order of expected statuses does not matter.
	c1 := mustTarget(t, netip.AddrPortFrom(addr, 80), Check{Kind: KindHTTP, ExpectStatus: []StatusRange{{200, 200}, {301, 302}}})
	c2 := mustTarget(t, netip.AddrPortFrom(addr, 80), Check{Kind: KindHTTP, ExpectStatus: []StatusRange{{301, 302}, {200, 200}}})
	if c1.Key() != c2.Key() {
		t.Error("status order changed the key")
	}
	// Anything that changes the probe changes the key.
	for name, c := range map[string]Check{
		"path":     {Kind: KindHTTP, Path: "/healthz"},
		"host":     {Kind: KindHTTP, Host: "a.test"},
		"interval": {Kind: KindHTTP, Interval: time.Second},
		"rise":     {Kind: KindHTTP, Rise: 3},
		"body":     {Kind: KindHTTP, BodyContains: "ok"},
		"status":   {Kind: KindHTTP, ExpectStatus: []StatusRange{{200, 200}}},
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
