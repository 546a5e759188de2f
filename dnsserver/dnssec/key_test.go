package dnssec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func mustGenerate(t testing.TB, zone string, alg uint8, flags uint16) *Key {
	t.Helper()
	k, err := Generate(zone, alg, flags)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestGenerateAlgorithms(t *testing.T) {
	for _, alg := range []uint8{dns.ECDSAP256SHA256, dns.ED25519} {
		for _, flags := range []uint16{FlagsKSK, FlagsZSK} {
			k := mustGenerate(t, "Example.COM.", alg, flags)
			if k.DNSKEY.Hdr.Name != "example.com." || k.DNSKEY.Flags != flags || k.DNSKEY.Protocol != 3 || k.Tag != k.DNSKEY.KeyTag() {
				t.Errorf("alg %d flags %d: got %v", alg, flags, k.DNSKEY)
			}
			if k.IsKSK() != (flags == FlagsKSK) {
				t.Errorf("IsKSK wrong for flags %d", flags)
			}
		}
	}
	for _, alg := range []uint8{dns.RSASHA256, dns.RSASHA1, dns.ECDSAP384SHA384, 0, 99} {
		if _, err := Generate("example.com.", alg, FlagsKSK); !errors.Is(err, ErrAlgorithm) {
			t.Errorf("algorithm %d: err %v, want ErrAlgorithm", alg, err)
		}
	}
	if _, err := Generate("example.com.", dns.ED25519, 1); err == nil {
		t.Error("flags 1 accepted")
	}
}

func TestKeyStringHidesPrivate(t *testing.T) {
	for _, alg := range []uint8{dns.ECDSAP256SHA256, dns.ED25519} {
		k := mustGenerate(t, "example.com.", alg, FlagsKSK)
		priv := k.DNSKEY.PrivateKeyString(k.Signer)
		secret := strings.TrimSpace(priv[strings.LastIndex(priv, "PrivateKey: ")+len("PrivateKey: "):])
		for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
			out := fmt.Sprintf(f, k)
			if strings.Contains(out, secret) || strings.Contains(out, "PrivateKey") {
				t.Errorf("%s prints key material: %s", f, out)
			}
		}
		if got := k.String(); !strings.Contains(got, fmt.Sprint(k.Tag)) || !strings.Contains(got, "KSK") {
			t.Errorf("String() = %q", got)
		}
	}
}

func TestWriteLoadRoundTrip(t *testing.T) {
	for _, alg := range []uint8{dns.ECDSAP256SHA256, dns.ED25519} {
		dir := t.TempDir()
		k := mustGenerate(t, "example.com.", alg, FlagsZSK)
		pub, priv, err := WriteFiles(dir, k)
		if err != nil {
			t.Fatal(err)
		}
		want := filepath.Join(dir, fmt.Sprintf("Kexample.com.+%03d+%05d", alg, k.Tag))
		if pub != want+".key" || priv != want+".private" {
			t.Errorf("paths %s %s, want %s.{key,private}", pub, priv, want)
		}
		st, err := os.Stat(priv)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("private file mode %v, want 0600", st.Mode().Perm())
		}
		l, err := LoadFiles(pub)
		if err != nil {
			t.Fatal(err)
		}
		if l.Tag != k.Tag || l.DNSKEY.PublicKey != k.DNSKEY.PublicKey || l.DNSKEY.Flags != k.DNSKEY.Flags {
			t.Errorf("loaded %v, want %v", l, k)
		}
		// The loaded key signs what the generated one verifies.
		s := mustSigner(t, "example.com.", []*Key{mustGenerate(t, "example.com.", alg, FlagsKSK), l}, Options{})
		rrset := aSet("www.example.com.", 300, "192.0.2.1")
		sigs, err := s.Sign(rrset)
		if err != nil {
			t.Fatal(err)
		}
		verifyAll(t, sigs, rrset, k)
		if _, _, err := WriteFiles(dir, k); err == nil {
			t.Error("WriteFiles overwrote an existing pair")
		}
	}
}

func TestLoadRefusesMismatchAndAlgorithm(t *testing.T) {
	dir := t.TempDir()
	a := mustGenerate(t, "example.com.", dns.ECDSAP256SHA256, FlagsKSK)
	b := mustGenerate(t, "example.com.", dns.ECDSAP256SHA256, FlagsKSK)
	pubA, _, err := WriteFiles(dir, a)
	if err != nil {
		t.Fatal(err)
	}
	_, privB, err := WriteFiles(dir, b)
	if err != nil {
		t.Fatal(err)
	}
	// Put b's private key beside a's public key.
	privA := strings.TrimSuffix(pubA, ".key") + ".private"
	data, err := os.ReadFile(privB)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(privA, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadFiles(pubA)
	if err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("mismatched pair: err %v", err)
	}
	secret := strings.TrimSpace(string(data[strings.LastIndex(string(data), "PrivateKey: ")+len("PrivateKey: "):]))
	if strings.Contains(err.Error(), secret) {
		t.Error("error shows key material")
	}

	// A garbled private file: the error names the file, not its content.
	if err := os.WriteFile(privA, []byte("Private-key-format: v1.3\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: SECRETSECRET!!\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadFiles(pubA)
	if err == nil || strings.Contains(err.Error(), "SECRET") || !strings.Contains(err.Error(), privA) {
		t.Errorf("garbled private key: err %v", err)
	}

	// Algorithm 8 (RSASHA256), made with miekg directly.
	rsa := &dns.DNSKEY{Hdr: dns.RR_Header{Name: "example.com.", Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600}, Flags: 257, Protocol: 3, Algorithm: dns.RSASHA256}
	p, err := rsa.Generate(1024)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, fmt.Sprintf("Kexample.com.+008+%05d", rsa.KeyTag()))
	if err := os.WriteFile(base+".key", []byte(rsa.String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(base+".private", []byte(rsa.PrivateKeyString(p)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFiles(base + ".key"); !errors.Is(err, ErrAlgorithm) {
		t.Errorf("algorithm 8: err %v, want ErrAlgorithm", err)
	}
	if _, err := LoadFiles(filepath.Join(dir, "missing.key")); err == nil || !strings.Contains(err.Error(), "missing.key") {
		t.Errorf("missing file: err %v", err)
	}
}

func TestDSCDSCDNSKEY(t *testing.T) {
	k := mustGenerate(t, "example.com.", dns.ECDSAP256SHA256, FlagsKSK)
	want := k.DNSKEY.ToDS(dns.SHA256)
	ds := DS(k)
	if ds.String() != want.String() || ds.DigestType != dns.SHA256 || ds.KeyTag != k.Tag {
		t.Errorf("DS %v, want %v", ds, want)
	}
	cds := CDS(k)
	if cds.Hdr.Rrtype != dns.TypeCDS || cds.Digest != want.Digest || cds.KeyTag != want.KeyTag {
		t.Errorf("CDS %v", cds)
	}
	cdk := CDNSKEY(k)
	if cdk.Hdr.Rrtype != dns.TypeCDNSKEY || cdk.PublicKey != k.DNSKEY.PublicKey || cdk.Flags != 257 {
		t.Errorf("CDNSKEY %v", cdk)
	}
}
