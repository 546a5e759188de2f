package gslb

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestHealthCheckDefaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   HealthCheck
		want HealthCheck
	}{
		{"http", HealthCheck{Kind: " HTTP "}, HealthCheck{
			Kind: "http", Port: 80, Interval: 5 * time.Second, FastInterval: time.Second, Timeout: 2 * time.Second,
			Rise: 2, Fall: 3, Jitter: "10%", Method: "GET", Path: "/", ExpectStatus: []string{"200-399"},
		}},
		{"empty kind is tcp, no HTTP defaults", HealthCheck{Port: 9}, HealthCheck{
			Kind: "tcp", Port: 9, Interval: 5 * time.Second, FastInterval: time.Second, Timeout: 2 * time.Second, Rise: 2, Fall: 3, Jitter: "10%",
		}},
		{"short interval shrinks the timeout", HealthCheck{Kind: "tcp", Port: 443, Interval: time.Second}, HealthCheck{
			Kind: "tcp", Port: 443, Interval: time.Second, FastInterval: 200 * time.Millisecond, Timeout: 500 * time.Millisecond, Rise: 2, Fall: 3, Jitter: "10%",
		}},
		{"fast_interval set stays", HealthCheck{Kind: "tcp", Port: 1, Interval: time.Second, FastInterval: 300 * time.Millisecond}, HealthCheck{
			Kind: "tcp", Port: 1, Interval: time.Second, FastInterval: 300 * time.Millisecond, Timeout: 500 * time.Millisecond, Rise: 2, Fall: 3, Jitter: "10%",
		}},
		{"fast_interval at least 100ms", HealthCheck{Kind: "tcp", Port: 1, Interval: 300 * time.Millisecond}, HealthCheck{
			Kind: "tcp", Port: 1, Interval: 300 * time.Millisecond, FastInterval: 100 * time.Millisecond, Timeout: 150 * time.Millisecond, Rise: 2, Fall: 3, Jitter: "10%",
		}},
		{"https: port 443, SNI from Host without its port", HealthCheck{Kind: "https", Host: "App.Example.Test.:8443"}, HealthCheck{
			Kind: "https", Port: 443, Interval: 5 * time.Second, FastInterval: time.Second, Timeout: 2 * time.Second, Rise: 2, Fall: 3, Jitter: "10%",
			Method: "GET", Path: "/", Host: "app.example.test:8443", SNI: "app.example.test", ExpectStatus: []string{"200-399"},
		}},
		{"canonical texts", HealthCheck{Kind: "http", Method: "head", Jitter: "0.25", ExpectStatus: []string{" 200 , 204", "300-304 "}, SNI: "x"}, HealthCheck{
			Kind: "http", Port: 80, Interval: 5 * time.Second, FastInterval: time.Second, Timeout: 2 * time.Second, Rise: 2, Fall: 3, Jitter: "25%",
			Method: "HEAD", Path: "/", ExpectStatus: []string{"200,204", "300-304"}, SNI: "x", // SNI left for Validate to refuse
		}},
		{"jitter off and durations", HealthCheck{Kind: "none", Jitter: "off"}, HealthCheck{
			Kind: "none", Interval: 5 * time.Second, FastInterval: time.Second, Timeout: 2 * time.Second, Rise: 2, Fall: 3, Jitter: "0",
		}},
		{"unreadable values stay for Validate", HealthCheck{Kind: "ICMP", Jitter: "lots", Interval: -time.Second}, HealthCheck{
			Kind: "icmp", Interval: -time.Second, Timeout: 2 * time.Second, Rise: 2, Fall: 3, Jitter: "lots",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.in
			got.Defaults()
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Defaults:\n got %+v\nwant %+v", got, tc.want)
			}
			if !slices.Equal(tc.in.ExpectStatus, []string(nil)) && &got.ExpectStatus[0] == &tc.in.ExpectStatus[0] {
				t.Error("Defaults rewrote the caller's ExpectStatus slice")
			}
			again := *got.Clone()
			again.Defaults()
			if !reflect.DeepEqual(again, got) {
				t.Errorf("Defaults is not idempotent:\n once  %+v\n twice %+v", got, again)
			}
		})
	}
}

// TestHealthCheckValidate is the table of every message of the rule: the
// config loader, the policy compiler and State.Validate all show these.
func TestHealthCheckValidate(t *testing.T) {
	t.Parallel()
	ca := testCAPEM(t)
	tests := []struct {
		name  string
		check HealthCheck
		want  []string // every field error expected, in order
	}{
		{"defaulted http", HealthCheck{Kind: "http"}, nil},
		{"defaulted tcp, none", HealthCheck{Port: 9}, nil},
		{"none needs no port", HealthCheck{Kind: "none"}, nil},
		{"1s interval", HealthCheck{Port: 1, Interval: time.Second, Timeout: 900 * time.Millisecond}, nil},
		{"100ms interval", HealthCheck{Kind: "http", Interval: 100 * time.Millisecond}, nil},
		{"good CA", HealthCheck{Kind: "https", CAPEM: ca}, nil},
		{"interval too short", HealthCheck{Port: 1, Interval: 50 * time.Millisecond, Timeout: 20 * time.Millisecond},
			[]string{"interval: must be >= 100ms, got 50ms"}},
		{"interval too long", HealthCheck{Port: 1, Interval: 2 * time.Hour},
			[]string{"interval: must be <= 1h0m0s, got 2h0m0s"}},
		{"negative interval", HealthCheck{Port: 1, Interval: -time.Second},
			[]string{"interval: must be >= 100ms, got -1s", "timeout: must be less than interval (-1s), got 2s"}},
		{"interval and timeout both short", HealthCheck{Port: 1, Interval: 10 * time.Millisecond, Timeout: 300 * time.Millisecond},
			[]string{"interval: must be >= 100ms, got 10ms", "timeout: must be less than interval (10ms), got 300ms"}},
		{"timeout not below interval", HealthCheck{Port: 1, Interval: time.Second, Timeout: time.Second},
			[]string{"timeout: must be less than interval (1s), got 1s"}},
		{"fast_interval off: equal to interval", HealthCheck{Port: 1, Interval: time.Second, FastInterval: time.Second}, nil},
		{"fast_interval below timeout: re-probes wait for the probe", HealthCheck{Port: 1, Interval: time.Second, FastInterval: 100 * time.Millisecond, Timeout: 900 * time.Millisecond}, nil},
		{"fast_interval too short", HealthCheck{Port: 1, Interval: time.Second, FastInterval: 50 * time.Millisecond},
			[]string{"fast_interval: must be >= 100ms, got 50ms"}},
		{"negative fast_interval", HealthCheck{Port: 1, FastInterval: -time.Second},
			[]string{"fast_interval: must be >= 100ms, got -1s"}},
		{"fast_interval above interval", HealthCheck{Port: 1, Interval: time.Second, FastInterval: 2 * time.Second},
			[]string{"fast_interval: must be at most interval (1s), got 2s"}},
		{"timeout too short", HealthCheck{Port: 1, Timeout: time.Millisecond},
			[]string{"timeout: must be >= 10ms, got 1ms"}},
		{"thresholds", HealthCheck{Port: 1, Rise: -1, Fall: 101},
			[]string{"rise: must be between 1 and 100, got -1", "fall: must be between 1 and 100, got 101"}},
		{"tcp needs a port", HealthCheck{Kind: "tcp"},
			[]string{"port: required for tcp checks"}},
		{"unknown kind is judged alone", HealthCheck{Kind: "icmp", Path: "/x", SNI: "a"},
			[]string{`kind: must be one of [tcp http https none], got "icmp"`}},
		{"jitter text", HealthCheck{Port: 1, Jitter: "lots"},
			[]string{`jitter: want a percentage (10%), a fraction (0.1), a duration (250ms) or 0, got "lots"`}},
		{"jitter fraction", HealthCheck{Port: 1, Jitter: "150%"},
			[]string{"jitter: fraction must be in [0, 1), got 1.5"}},
		{"jitter duration", HealthCheck{Port: 1, Interval: time.Second, Jitter: "2s"},
			[]string{"jitter: must be less than interval (1s), got 2s"}},
		{"http fields on tcp", HealthCheck{Port: 1, Path: "/x", Host: "a.test", BodyContains: "ok"},
			[]string{"path: only for http and https checks", "host: only for http and https checks",
				"body_contains: only for http and https checks"}},
		{"method and status on none", HealthCheck{Kind: "none", Method: "GET", ExpectStatus: []string{"200"}},
			[]string{"method: only for http and https checks", "expect_status: only for http and https checks"}},
		{"tls fields on http", HealthCheck{Kind: "http", SNI: "a.test", TLSSkipVerify: true, CAPEM: ca},
			[]string{"sni: only for https checks", "tls_skip_verify: only for https checks", "ca_pem: only for https checks"}},
		{"bad method, path, host", HealthCheck{Kind: "http", Method: "GE T", Path: "health", Host: "bad host"},
			[]string{`method: must be an HTTP method such as GET or HEAD, got "GE T"`,
				`path: must start with / and hold no spaces or fragment, got "health"`,
				`host: must be a host name or host:port, got "bad host"`}},
		{"host with a bad port", HealthCheck{Kind: "http", Host: "a.test:70000"},
			[]string{`host: must be a host name or host:port, got "a.test:70000"`}},
		{"status out of range", HealthCheck{Kind: "http", ExpectStatus: []string{"200-299", "600", "399-300"}},
			[]string{"expect_status[1]: must be a code or a range within 100-599, got 600",
				"expect_status[2]: must be a code or a range within 100-599, got 399-300"}},
		{"status text", HealthCheck{Kind: "http", ExpectStatus: []string{"2xx", "200", ""}},
			[]string{`expect_status[0]: want a code (200) or a range (200-399), got "2xx"`,
				`expect_status[2]: want a code (200) or a range (200-399), got ""`}},
		{"bad escape in path", HealthCheck{Kind: "http", Path: "/a%zz"},
			[]string{`path: must start with / and hold no spaces or fragment, got "/a%zz"`}},
		{"fragment in path", HealthCheck{Kind: "http", Path: "/a#b"},
			[]string{`path: must start with / and hold no spaces or fragment, got "/a#b"`}},
		{"HEAD with body", HealthCheck{Kind: "http", Method: "head", BodyContains: "ok"},
			[]string{"body_contains: HEAD responses have no body"}},
		{"body too long", HealthCheck{Kind: "http", BodyContains: string(make([]byte, MaxCheckBodyContains+1))},
			[]string{"body_contains: must be at most 65536 bytes"}},
		{"sni with port", HealthCheck{Kind: "https", SNI: "a.test:443"},
			[]string{`sni: must be a host name without port, got "a.test:443"`}},
		{"skip verify and CA", HealthCheck{Kind: "https", TLSSkipVerify: true, CAPEM: ca},
			[]string{"tls_skip_verify: conflicts with ca_file and ca_pem: no certificate is verified"}},
		{"bad CA PEM", HealthCheck{Kind: "https", CAPEM: "junk"},
			[]string{"ca_pem: no PEM certificate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.check.Clone()
			c.Defaults()
			var got []string
			for _, e := range Leaves(c.Validate()) {
				var fe *FieldError
				if !errors.As(e, &fe) {
					t.Errorf("%v is not a *FieldError", e)
				}
				got = append(got, e.Error())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Validate:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestProbeHealthCheck: an HTTP(S) check without Host probes with the
// service name, as Host and SNI; a set Host stays.
func TestProbeHealthCheck(t *testing.T) {
	t.Parallel()
	svc := Service{Name: "Shop.example.com.", HealthCheck: &HealthCheck{Kind: "HTTPS"}}
	got := svc.ProbeHealthCheck()
	if got.Host != "shop.example.com" || got.SNI != "shop.example.com" || got.Port != 443 {
		t.Errorf("probe check %+v", got)
	}
	if svc.HealthCheck.Host != "" || svc.HealthCheck.Kind != "HTTPS" {
		t.Errorf("the service's own check changed: %+v", svc.HealthCheck)
	}
	svc.HealthCheck = &HealthCheck{Kind: "http", Host: "www.test"}
	if got := svc.ProbeHealthCheck(); got.Host != "www.test" {
		t.Errorf("set Host replaced: %q", got.Host)
	}
	svc.HealthCheck = &HealthCheck{Kind: "tcp", Port: 1}
	if got := svc.ProbeHealthCheck(); got.Host != "" {
		t.Errorf("tcp check got Host %q", got.Host)
	}
	if (&Service{}).ProbeHealthCheck() != nil {
		t.Error("a service without check got one")
	}
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
	if !(StatusRange{200, 399}).Contains(302) || (StatusRange{200, 399}).Contains(404) {
		t.Error("Contains wrong")
	}
}

func TestParseJitter(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Jitter{
		"10%":   {Fraction: 0.1},
		"0.25":  {Fraction: 0.25},
		"250ms": {Duration: 250 * time.Millisecond},
		"0":     {Off: true},
		"0.0":   {Off: true},
		"0ms":   {Off: true},
		"off":   {Off: true},
		"":      {},
	} {
		got, err := ParseJitter(in)
		if err != nil || got != want {
			t.Errorf("ParseJitter(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if round, _ := ParseJitter(got.String()); round != want {
			t.Errorf("round trip of %q through %q = %+v", in, got.String(), round)
		}
	}
	if _, err := ParseJitter("lots"); err == nil {
		t.Error("ParseJitter(lots): no error")
	}
	if a := (Jitter{Fraction: 0.1}).Amount(time.Second); a != 100*time.Millisecond {
		t.Errorf("10%% of 1s = %v", a)
	}
	if a := (Jitter{Off: true, Fraction: 0.1}).Amount(time.Second); a != 0 {
		t.Errorf("off jitter amount = %v", a)
	}
}

// testCAPEM is a self-signed certificate in PEM, for ca_pem.
func testCAPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestDefaultFastInterval(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ interval, want time.Duration }{
		{5 * time.Second, time.Second},
		{time.Second, 200 * time.Millisecond},
		{300 * time.Millisecond, 100 * time.Millisecond}, // MinCheckInterval
		{100 * time.Millisecond, 100 * time.Millisecond}, // the interval itself: off
		{time.Hour, 12 * time.Minute},
	} {
		if got := DefaultFastInterval(tc.interval); got != tc.want {
			t.Errorf("DefaultFastInterval(%v) = %v, want %v", tc.interval, got, tc.want)
		}
	}
}
