package config

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func withDNS(t *testing.T, extra string) string {
	t.Helper()
	return fixtureDir(t, replace(t, "  max_tcp_connections: 100\n", "  max_tcp_connections: 100\n"+extra))
}

// A negative TCP cap is reported once, not again through the per-source
// default derived from it.
func TestNegativeTCPCapOneError(t *testing.T) {
	path := fixtureDir(t, replace(t, "  max_tcp_connections: 100\n", "  max_tcp_connections: -1\n"))
	wantLoadErrors(t, path, []string{"dns.max_tcp_connections: must not be negative, got -1"})
}

// dns.rrl reaches the DNS server as written, defaults filled; bad values
// are refused naming the key.
func TestRRLConfig(t *testing.T) {
	l, err := Load(Options{File: withDNS(t, "  rrl: {responses_per_second: 10, slip: 0, exempt: [192.0.2.0/24, 2001:db8::1]}\n")})
	if err != nil {
		t.Fatal(err)
	}
	r := l.DNSConfig(nil).RRL
	want := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::1/128")}
	if r.ResponsesPerSecond != 10 || r.Slip != 0 || !slices.Equal(r.Exempt, want) {
		t.Errorf("rrl %+v", r)
	}
	if l, err = Load(Options{File: withDNS(t, "  rrl: {responses_per_second: 10}\n")}); err != nil || l.DNSConfig(nil).RRL.Slip != 2 {
		t.Errorf("slip left out: %v %+v", err, l)
	}
	if l, err = Load(Options{File: withDNS(t, "")}); err != nil || l.DNSConfig(nil).RRL.ResponsesPerSecond != 0 {
		t.Errorf("rrl is on by default: %v", err)
	}

	_, err = Load(Options{File: withDNS(t, "  rrl: {responses_per_second: -1, slip: 11, ipv4_prefix: 33, exempt: [nowhere]}\n")})
	for _, w := range []string{"dns.rrl.responses_per_second: must not be negative", "dns.rrl.slip: want 0", "dns.rrl.ipv4_prefix: want 1 to 32", `dns.rrl.exempt[0]: "nowhere" is neither`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q: %v", w, err)
		}
	}
}

// dns.tsig_keys reach the DNS server with their secrets read from the
// files; problems name the key's field, never the secret.
func TestDNSTSIGKeys(t *testing.T) {
	path := withDNS(t, "  tsig_keys: [{name: monitor.example., secret_file: monitor.key}, {name: other.example., algorithm: hmac-sha512, secret_file: monitor.key}]\n")
	writeFile(t, filepath.Join(filepath.Dir(path), "monitor.key"), "key \"monitor.example\" {\n\talgorithm hmac-sha256;\n\tsecret \"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\";\n};\n")
	l, err := Load(Options{File: path})
	if err != nil {
		t.Fatal(err)
	}
	keys := l.DNSConfig(nil).TSIGKeys
	if len(keys) != 2 || keys[0].Name != "monitor.example." || keys[0].Algorithm != "hmac-sha256" || keys[0].Secret != "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" || keys[1].Algorithm != "hmac-sha512" {
		t.Errorf("keys %v", keys)
	}
	bad := withDNS(t, "  tsig_keys: [{name: a.example., secret_file: nope.key}, {name: a.example, algorithm: md5, secret_file: nope.key}]\n")
	_, err = Load(Options{File: bad})
	for _, w := range []string{"dns.tsig_keys[0].secret_file:", "dns.tsig_keys[1].algorithm: unknown TSIG algorithm", `dns.tsig_keys[1].name: "a.example" is given twice`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q: %v", w, err)
		}
	}
}

// dns.cookie_secret_file: hex secrets, the first making cookies; never
// printed; a bad line named by number, not quoted.
func TestCookieSecretFile(t *testing.T) {
	path := withDNS(t, "  cookie_secret_file: cookies\n")
	dir := filepath.Dir(path)
	writeFile(t, filepath.Join(dir, "cookies"), "# rotated 2026-12\n000102030405060708090a0b0c0d0e0f\n\nffeeddccbbaa99887766554433221100\n")
	l, err := Load(Options{File: path})
	if err != nil {
		t.Fatal(err)
	}
	s := l.DNSConfig(nil).CookieSecrets
	if len(s) != 2 || s[0][1] != 1 || s[1][0] != 0xff {
		t.Errorf("secrets %x", s)
	}
	if txt := fmt.Sprintf("%v %+v", l.Config.DNS, l.Config.DNS); strings.Contains(txt, "[0 1 2 3") || strings.Contains(txt, "000102") {
		t.Errorf("the configuration prints the secret: %s", txt)
	}
	writeFile(t, filepath.Join(dir, "cookies"), "000102030405060708090a0b0c0d0e0f\nnot-a-secret-but-maybe-one\n")
	_, err = Load(Options{File: path})
	if err == nil || !strings.Contains(err.Error(), "dns.cookie_secret_file:") || !strings.Contains(err.Error(), "line 2") || strings.Contains(err.Error(), "not-a-secret") {
		t.Errorf("a bad line: %v", err)
	}
}
