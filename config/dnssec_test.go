package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/dnsserver/dnssec"
)

// dnssecFixture is good.yaml with gslb.example signed by a new CSK (and
// the keys given as extra, written to the key directory), dnssec being the
// zone's dnssec section with KEY standing for the CSK's name.
func dnssecFixture(t *testing.T, dnssecSection string, extra ...*dnssec.Key) (path, csk string) {
	t.Helper()
	k, err := dnssec.Generate("gslb.example.", 13, dnssec.FlagsKSK)
	must(t, err)
	csk = dnssec.KeyName(k)
	keyDir := "keys"
	if strings.Contains(dnssecSection, "KEYDIR") {
		keyDir = "missing"
	}
	dnssecSection = strings.ReplaceAll(dnssecSection, "KEY", csk)
	path = fixtureDir(t, func(s string) string {
		s = replace(t, "  max_tcp_connections: 100\n", "  max_tcp_connections: 100\n  dnssec_key_directory: "+keyDir+"\n")(s)
		return replace(t, "  - name: gslb.example.\n", "  - name: gslb.example.\n    dnssec: "+dnssecSection+"\n")(s)
	})
	dir := filepath.Join(filepath.Dir(path), "keys")
	must(t, os.MkdirAll(dir, 0o700))
	for _, k := range append([]*dnssec.Key{k}, extra...) {
		if _, _, err := dnssec.WriteFiles(dir, k); err != nil {
			t.Fatal(err)
		}
	}
	return path, csk
}

func TestDNSSECLoads(t *testing.T) {
	zsk, err := dnssec.Generate("gslb.example.", 13, dnssec.FlagsZSK)
	must(t, err)
	path, csk := dnssecFixture(t, "{keys: [{name: KEY}, {name: "+dnssec.KeyName(zsk)+", state: published}], signature_validity: 48h, signature_refresh: 24h, dnskey_ttl: 300}", zsk)
	l := mustLoad(t, path)
	d := l.State.Zones[0].DNSSEC
	if d == nil || len(d.Keys) != 2 || d.Keys[0].Name != csk || d.Keys[0].Publish || !d.Keys[1].Publish ||
		d.SignatureValidity != 48*time.Hour || d.SignatureRefresh != 24*time.Hour || d.DNSKEYTTL != 300 {
		t.Fatalf("dnssec settings: %+v", d)
	}
	if !strings.HasPrefix(d.Keys[0].DNSKEY, "gslb.example.\t") || !strings.Contains(d.Keys[0].DNSKEY, "DNSKEY\t257 3 13 ") {
		t.Errorf("public key: %q", d.Keys[0].DNSKEY)
	}
	if got := l.DNSConfig(nil).DNSSECKeyDir; got != filepath.Join(filepath.Dir(path), "keys") {
		t.Errorf("key directory %q, want it resolved against the file", got)
	}
	// The State carries public keys only.
	enc, err := l.State.Encode()
	must(t, err)
	if strings.Contains(string(enc), "PrivateKey") {
		t.Error("the state carries a private key")
	}
}

func TestDNSSECErrors(t *testing.T) {
	other, err := dnssec.Generate("other.example.", 13, dnssec.FlagsKSK)
	must(t, err)
	zsk, err := dnssec.Generate("gslb.example.", 15, dnssec.FlagsZSK)
	must(t, err)
	for _, tc := range []struct {
		name, section string
		extra         []*dnssec.Key
		want          []string
	}{
		{"missing key", "{keys: [{name: KEY}, {name: Kgslb.example.+013+00001}]}", nil,
			[]string{"zones[0].dnssec.keys[1]: dnssec: open "}},
		{"no key directory", "{keys: [{name: KEY}]}\n  # KEYDIR", nil,
			[]string{"dns.dnssec_key_directory: ", "zones[0].dnssec.keys[0]: dnssec: open "}},
		{"bad state", "{keys: [{name: KEY, state: retired}]}", nil,
			[]string{`zones[0].dnssec.keys[0].state: want active or published, got "retired"`}},
		{"no keys", "{keys: []}", nil,
			[]string{"zones[0].dnssec.keys: a signed zone needs at least one key"}},
		{"nothing signs", "{keys: [{name: KEY, state: published}]}", nil,
			[]string{"zones[0].dnssec.keys: every key is publish-only"}},
		{"refresh after validity", "{keys: [{name: KEY}], signature_validity: 24h, signature_refresh: 48h}", nil,
			[]string{"zones[0].dnssec.signature_refresh: 48h0m0s must be less than signature_validity (24h0m0s)"}},
		{"another zone's key", "{keys: [{name: KEY}, {name: " + dnssec.KeyName(other) + "}]}", []*dnssec.Key{other},
			[]string{"zones[0].dnssec.keys[1]: " + dnssec.KeyName(other) + " is a key of zone other.example., not of gslb.example."}},
		{"an algorithm without a KSK", "{keys: [{name: KEY}, {name: " + dnssec.KeyName(zsk) + "}]}", []*dnssec.Key{zsk},
			[]string{"zones[0].dnssec.keys: dnssec: zone gslb.example.: algorithm 13 is published but has no active key for every role"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, _ := dnssecFixture(t, tc.section, tc.extra...)
			wantLoadErrors(t, path, tc.want)
		})
	}
}
