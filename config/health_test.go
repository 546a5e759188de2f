package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/health"
)

// healthFixture is a small config with every health and admin key.
const healthFixture = `zones:
  - name: h.example.
    nameservers: [{name: ns1.h.example., addresses: [127.0.0.1]}]
sites:
  - {name: a}
  - {name: b}
health:
  rule: any
  concurrency: 32
  source_ttl: 10s
  default_check: {kind: tcp, port: 443, interval: 2s}
admin:
  token_file: token
  sites: {b: drain}
  members:
    - {service: web.h.example, member: a/192.0.2.1, mode: up}
services:
  - name: web.h.example.
    health_check:
      kind: https
      port: 8443
      path: /healthz?full=1
      method: head
      host: www.h.example
      sni: tls.h.example
      expect_status: [200, "300-304", "404"]
      ca_file: ca.pem
      interval: 1s
      fast_interval: 250ms
      timeout: 300ms
      rise: 3
      fall: 4
      jitter: 0.2
    members:
      - {site: a, addresses: [192.0.2.1, "2001:db8::1"]}
      - {site: b, addresses: [198.51.100.1], probe_address: 10.0.0.1, probe_port: 9443}
  - name: api.h.example.
    members:
      - {site: a, addresses: [192.0.2.2]}
      - {site: b, hostname: lb.b.example.net., probe_address: 10.0.0.2}
  - name: off.h.example.
    health_check: {kind: none}
    members:
      - {site: a, addresses: [192.0.2.3]}
`

const fixtureToken = "fixture-token-0123456789abcdef"

// healthFixtureDir writes the fixture (edited) with its token and CA files.
func healthFixtureDir(t *testing.T, edit func(string) string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "token"), fixtureToken+"\n")
	writeFile(t, filepath.Join(dir, "ca.pem"), testCAPEM(t))
	text := healthFixture
	if edit != nil {
		text = edit(text)
	}
	path := filepath.Join(dir, "meridian.yaml")
	writeFile(t, path, text)
	return path
}

func testCAPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestHealthConfigLoads(t *testing.T) {
	path := healthFixtureDir(t, nil)
	l, err := Load(Options{File: path})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(path)

	if hs := l.Config.HealthSettings(); hs.Rule != "any" || hs.Concurrency != 32 || time.Duration(hs.SourceTTL) != 10*time.Second {
		t.Errorf("health settings %+v", hs)
	}
	checkOf := func(name string) *gslb.HealthCheck {
		t.Helper()
		for i := range l.State.Services {
			if svc := &l.State.Services[i]; svc.Name == name && svc.HealthCheck != nil {
				return svc.HealthCheck
			}
		}
		t.Fatalf("no service %s with a check", name)
		return nil
	}
	web := checkOf("web.h.example.")
	want := gslb.HealthCheck{
		Kind: gslb.CheckHTTPS, Port: 8443, Path: "/healthz?full=1", Method: "head", Host: "www.h.example", SNI: "tls.h.example",
		ExpectStatus: []string{"200", "300-304", "404"},
		Interval:     time.Second, FastInterval: 250 * time.Millisecond, Timeout: 300 * time.Millisecond, Rise: 3, Fall: 4, Jitter: "0.2",
	}
	if !strings.Contains(web.CAPEM, "BEGIN CERTIFICATE") {
		t.Errorf("ca_file not read into the check")
	}
	asWritten := *web
	asWritten.CAPEM = ""
	if !jsonEqual(asWritten, want) {
		t.Errorf("web check\n got  %+v\n want %+v", asWritten, want)
	}
	if api := checkOf("api.h.example."); api.Kind != gslb.CheckTCP || api.Port != 443 || api.Interval != 2*time.Second {
		t.Errorf("api: default check not applied: %+v", api)
	}
	if off := checkOf("off.h.example."); off.Kind != gslb.CheckNone {
		t.Errorf("off: %+v", off)
	}
	if l.State.Services[0].Members[1].ProbeAddress != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("probe_address not in the state: %+v", l.State.Services[0].Members[1])
	}
	for _, f := range []string{filepath.Join(dir, "token"), filepath.Join(dir, "ca.pem")} {
		if !strings.Contains(strings.Join(l.Watch, " "), f) {
			t.Errorf("watch list %v lacks %s", l.Watch, f)
		}
	}
	if l.AdminToken != fixtureToken {
		t.Errorf("token %q", l.AdminToken)
	}
	if l.Admin.Sites["b"] != gslb.AdminDrain || l.Admin.Members[gslb.MemberRef{Service: "web.h.example.", Member: "a/192.0.2.1"}] != gslb.AdminUp {
		t.Errorf("admin overrides %+v", l.Admin)
	}

	// The plan: each address of web at 8443 (the dual-stack member twice),
	// the NAT member at its probe address and port; api's hostname member
	// at its probe address; off's member not probed (kind none).
	plan, err := health.NewPlan(l.State, health.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, tg := range plan.Targets() {
		got[tg.Label()] = true
	}
	for _, w := range []string{
		"192.0.2.1:8443/https", "[2001:db8::1]:8443/https", "10.0.0.1:9443/https",
		"192.0.2.2:443/tcp", "10.0.0.2:443/tcp",
	} {
		if !got[w] {
			t.Errorf("plan lacks target %s; has %v", w, got)
		}
	}
	if len(got) != 5 {
		t.Errorf("plan has %d targets, want 5: %v", len(got), got)
	}

	// The token is redacted in the config's JSON; its file path is not secret.
	l.Config.Admin.Token = "inline-secret-value-0123"
	if s := l.Config.String(); strings.Contains(s, "inline-secret") || !strings.Contains(s, `"token":"REDACTED"`) {
		t.Errorf("String() leaks the token: %s", s)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestHealthConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, new string
		want     []string
	}{
		{"unknown check key", "      rise: 3\n", "      rize: 3\n",
			[]string{`services[0].health_check.rize: unknown key (did you mean "rise"?)`}},
		{"bad kind", "kind: https", "kind: icmp",
			[]string{`services[0].health_check.kind: must be one of [tcp http https none], got "icmp"`}},
		{"interval too short", "interval: 1s", "interval: 10ms",
			[]string{`services[0].health_check.interval: must be >= 100ms`, `services[0].health_check.fast_interval: must be at most interval (10ms)`,
				`services[0].health_check.timeout: must be less than interval`}},
		{"fast_interval above interval", "fast_interval: 250ms", "fast_interval: 2s",
			[]string{`services[0].health_check.fast_interval: must be at most interval (1s), got 2s`}},
		{"fast_interval too short", "fast_interval: 250ms", "fast_interval: 50ms",
			[]string{`services[0].health_check.fast_interval: must be >= 100ms, got 50ms`}},
		{"negative fast_interval", "fast_interval: 250ms", "fast_interval: -1s",
			[]string{`services[0].health_check.fast_interval: must not be negative`}},
		{"bad status", `"300-304"`, `"300-3x4"`,
			[]string{`services[0].health_check.expect_status[1]: want a code (200) or a range (200-399), got "300-3x4"`}},
		{"status out of range", `"404"]`, `"404, 405-700"]`,
			[]string{`services[0].health_check.expect_status[2]: must be a code or a range within 100-599, got 405-700`}},
		{"bad jitter", "jitter: 0.2", "jitter: lots",
			[]string{`services[0].health_check.jitter: want a percentage`}},
		{"missing CA", "ca_file: ca.pem", "ca_file: nope.pem",
			[]string{`services[0].health_check.ca_file: `}},
		{"CA and skip verify", "ca_file: ca.pem", "ca_file: ca.pem\n      tls_skip_verify: true",
			[]string{`services[0].health_check.tls_skip_verify: conflicts with ca_file`}},
		{"http key on tcp", "default_check: {kind: tcp, port: 443, interval: 2s}", "default_check: {kind: tcp, port: 443, path: /x}",
			[]string{`health.default_check.path: only for http and https checks`}},
		{"tcp without port", "default_check: {kind: tcp, port: 443, interval: 2s}", "default_check: {kind: tcp}",
			[]string{`health.default_check.port: required for tcp checks`}},
		{"bad port", "port: 8443", "port: 70000",
			[]string{`services[0].health_check.port: 70000 is too large`}},
		{"bad rule", "rule: any", "rule: quorum",
			[]string{`health.rule: must be one of [local any majority all], got "quorum"`}},
		{"bad concurrency", "concurrency: 32", "concurrency: -1",
			[]string{`health.concurrency: must be between 1 and 65536, got -1`}},
		{"bad probe address", "probe_address: 10.0.0.1", "probe_address: 10.0.0",
			[]string{`services[0].members[1].probe_address: "10.0.0" is not an IP address`}},
		{"unspecified probe address", "probe_address: 10.0.0.1", "probe_address: 0.0.0.0",
			[]string{`services[0].members[1].probe_address: 0.0.0.0 cannot be probed`}},
		{"probe port without a check", "  default_check: {kind: tcp, port: 443, interval: 2s}\n", "",
			[]string{`services[1].members[1].probe_address: the service has no health check`}},
		{"probe address with kind none", "      - {site: a, addresses: [192.0.2.3]}", "      - {site: a, addresses: [192.0.2.3], probe_port: 80}",
			[]string{`services[2].members[0].probe_port: the service's health check is kind none`}},
		{"admin unknown site", "sites: {b: drain}", "sites: {moon: drain}",
			[]string{`admin.sites.moon: unknown site "moon"`}},
		{"admin bad mode", "sites: {b: drain}", "sites: {b: sleep}",
			[]string{`admin.sites.b: unknown mode "sleep"`}},
		{"admin unknown member", "member: a/192.0.2.1", "member: a/192.0.2.9",
			[]string{`admin.members[0].member: service web.h.example. has no member "a/192.0.2.9" (its members: a/192.0.2.1, b/198.51.100.1)`}},
		{"admin unknown service", "service: web.h.example,", "service: nope.h.example,",
			[]string{`admin.members[0].service: unknown service "nope.h.example"`}},
		{"token and token file", "  token_file: token\n", "  token_file: token\n  token: another-long-token-value\n",
			[]string{`admin: give token_file or token, not both`}},
		{"short token", "  token_file: token\n", "  token: short\n",
			[]string{`admin.token: the token must be at least 16 characters, got 5`}},
		{"missing token file", "  token_file: token\n", "  token_file: nope\n",
			[]string{`admin.token_file: `}},
		// Load shedding (issue #12).
		{"load_from json on HEAD", "      fast_interval: 250ms\n", "      fast_interval: 250ms\n      load_from: json:load\n",
			[]string{`services[0].health_check.load_from: HEAD responses have no body: read a header`}},
		{"bad load_from", "      fast_interval: 250ms\n", "      fast_interval: 250ms\n      load_from: cpu\n",
			[]string{`services[0].health_check.load_from: want header:<name>, json:<path> or body, optionally after capacity:, got "cpu"`}},
		{"load_from on tcp", "default_check: {kind: tcp, port: 443, interval: 2s}", "default_check: {kind: tcp, port: 443, load_from: body}",
			[]string{`health.default_check.load_from: only for http and https checks`}},
		{"watermarks reversed", "  - name: web.h.example.\n", "  - name: web.h.example.\n    policy: {load: {low: 0.9, high: 0.5}}\n",
			[]string{`services[0].policy.load.low: must be below high (0.5), got 0.9`}},
		{"empty load", "  - name: web.h.example.\n", "  - name: web.h.example.\n    policy: {load: {}}\n",
			[]string{`services[0].policy.load.high: a load policy needs a high watermark above 0`}},
		{"prometheus query without a prometheus", "  - name: web.h.example.\n", "  - name: web.h.example.\n    policy: {load: {high: 1, prometheus: up}}\n",
			[]string{`services[0].policy.load.prometheus: needs health.prometheus.url`}},
		{"bad prometheus url", "  source_ttl: 10s\n", "  source_ttl: 10s\n  prometheus: {url: 'ftp://prom'}\n",
			[]string{`health.prometheus.url: want an http:// or https:// URL, got "ftp://prom"`}},
		{"prometheus timeout above interval", "  source_ttl: 10s\n", "  source_ttl: 10s\n  prometheus: {url: 'http://prom:9090', interval: 2s, timeout: 3s}\n",
			[]string{`health.prometheus.timeout: must be above 0 and at most interval (2s), got 3s`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := healthFixtureDir(t, replace(t, tc.old, tc.new))
			wantLoadErrors(t, path, tc.want)
		})
	}
}

// A changed CA file or token file is a change worth a reload, though the
// config file itself did not change.
func TestSameConfigSeesHealthFiles(t *testing.T) {
	path := healthFixtureDir(t, nil)
	a := mustLoad(t, path)
	b := mustLoad(t, path)
	if !a.Same(b) {
		t.Fatal("two loads of one file differ")
	}
	writeFile(t, filepath.Join(filepath.Dir(path), "ca.pem"), testCAPEM(t))
	c := mustLoad(t, path)
	if a.Same(c) {
		t.Error("a new CA file went unnoticed")
	}
	must(t, os.WriteFile(filepath.Join(filepath.Dir(path), "token"), []byte("rotated-token-0123456789\n"), 0o600))
	d := mustLoad(t, path)
	if c.Same(d) {
		t.Error("a rotated token went unnoticed")
	}
}
