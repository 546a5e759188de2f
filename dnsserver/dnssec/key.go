package dnssec

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// DNSKEY flags (RFC 4034 section 2.1.1): bit 7 is the Zone Key flag, bit 15
// the Secure Entry Point flag (RFC 3757).
const (
	FlagsZSK uint16 = 256 // ZONE: signs zone data
	FlagsKSK uint16 = 257 // ZONE|SEP: signs the DNSKEY RRset; a CSK when there is no ZSK
)

// ErrAlgorithm is returned for any algorithm but 13 and 15. RFC 8624
// section 3.1 makes ECDSAP256SHA256 (13) MUST and ED25519 (15) RECOMMENDED
// for signing; both give small signatures, which matters when every answer
// carries one, and both are fast enough to sign online.
var ErrAlgorithm = errors.New("dnssec: algorithm not allowed (only 13 ECDSAP256SHA256 and 15 ED25519, RFC 8624)")

// Key is one DNSSEC key of a zone: the public DNSKEY and its private half.
// Its String and GoString never show the private key.
type Key struct {
	DNSKEY *dns.DNSKEY
	Signer crypto.Signer // *ecdsa.PrivateKey or ed25519.PrivateKey
	Tag    uint16        // RFC 4034 appendix B key tag

	// Standby keys are published in the DNSKEY RRset but do not sign:
	// the pre-publish ZSK rollover and the double-KSK rollover publish the
	// successor before it is used (RFC 6781 sections 4.1.1.1 and 4.1.2,
	// RFC 7583 sections 3.2 and 3.3).
	Standby bool
}

// IsKSK reports whether the key has the SEP flag (257): it signs the DNSKEY
// RRset, and is the one a DS in the parent points to.
func (k *Key) IsKSK() bool { return k.DNSKEY.Flags&dns.SEP != 0 }

// String names the key as BIND does ("example.com./13/12345 KSK"), with no
// key material.
func (k *Key) String() string {
	if k == nil || k.DNSKEY == nil {
		return "<nil key>"
	}
	role := "ZSK"
	if k.IsKSK() {
		role = "KSK"
	}
	s := fmt.Sprintf("%s/%d/%d %s", k.DNSKEY.Hdr.Name, k.DNSKEY.Algorithm, k.Tag, role)
	if k.Standby {
		s += " standby"
	}
	return s
}

// GoString keeps %#v from printing the private key.
func (k *Key) GoString() string { return "dnssec.Key(" + k.String() + ")" }

// Format makes every verb (%v, %+v, %#v, %s) print String, so that
// logging a Key by mistake never leaks the private key.
func (k *Key) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(k.GoString()))
		return
	}
	_, _ = f.Write([]byte(k.String()))
}

func allowedAlgorithm(alg uint8) bool {
	return alg == dns.ECDSAP256SHA256 || alg == dns.ED25519
}

// Generate makes a new key for zone. flags is FlagsKSK (also for a CSK) or
// FlagsZSK; algorithm is dns.ECDSAP256SHA256 or dns.ED25519.
func Generate(zone string, algorithm uint8, flags uint16) (*Key, error) {
	if !allowedAlgorithm(algorithm) {
		return nil, fmt.Errorf("%w: %d", ErrAlgorithm, algorithm)
	}
	if flags != FlagsKSK && flags != FlagsZSK {
		return nil, fmt.Errorf("dnssec: flags %d: want %d (KSK/CSK) or %d (ZSK)", flags, FlagsKSK, FlagsZSK)
	}
	if _, ok := dns.IsDomainName(zone); !ok || zone == "" {
		return nil, fmt.Errorf("dnssec: bad zone name %q", zone)
	}
	k := &dns.DNSKEY{
		Hdr:       dns.RR_Header{Name: dns.CanonicalName(zone), Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
		Flags:     flags,
		Protocol:  3, // RFC 4034 section 2.1.2
		Algorithm: algorithm,
	}
	priv, err := k.Generate(256) // both algorithms take 256 bits
	if err != nil {
		return nil, fmt.Errorf("dnssec: generate %s key: %w", zone, err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("dnssec: generated key is %T, not a crypto.Signer", priv)
	}
	return &Key{DNSKEY: k, Signer: signer, Tag: k.KeyTag()}, nil
}

// KeyName is a key's BIND file base name, K<zone>+<alg>+<tag>.
func KeyName(k *Key) string {
	return fmt.Sprintf("K%s+%03d+%05d", k.DNSKEY.Hdr.Name, k.DNSKEY.Algorithm, k.Tag)
}

// WriteFiles writes k as BIND does: dir/K<zone>+<alg>+<tag>.key (the DNSKEY
// in presentation format, mode 0644) and .private (Private-key-format v1.3,
// mode 0600). An existing pair is not overwritten.
func WriteFiles(dir string, k *Key) (pubPath, privPath string, err error) {
	if k == nil || k.DNSKEY == nil || k.Signer == nil {
		return "", "", errors.New("dnssec: WriteFiles: incomplete key")
	}
	base := filepath.Join(dir, KeyName(k))
	pubPath, privPath = base+".key", base+".private"
	priv := k.DNSKEY.PrivateKeyString(k.Signer)
	if priv == "" {
		return "", "", fmt.Errorf("dnssec: %s: unsupported private key type %T", privPath, k.Signer)
	}
	// The private file first, created exclusively with 0600 so the key is
	// never readable by others, not even for an instant.
	if err := writeExclusive(privPath, []byte(priv), 0o600); err != nil {
		return "", "", err
	}
	pub := fmt.Sprintf("; This is a %s, keyid %d, for %s\n%s\n", Role(k), k.Tag, k.DNSKEY.Hdr.Name, k.DNSKEY.String())
	if err := writeExclusive(pubPath, []byte(pub), 0o644); err != nil {
		_ = os.Remove(privPath)
		return "", "", err
	}
	return pubPath, privPath, nil
}

// Role is "key-signing key" or "zone-signing key", by the SEP flag (a
// key-signing key that is the only signing key of its algorithm is a CSK).
func Role(k *Key) string {
	if k.IsKSK() {
		return "key-signing key"
	}
	return "zone-signing key"
}

func writeExclusive(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("dnssec: %w", err) // *PathError names the file
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return fmt.Errorf("dnssec: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("dnssec: close %s: %w", path, err)
	}
	return nil
}

// LoadFiles reads a BIND key pair: pubPath (the .key) and the .private
// beside it. It refuses algorithms other than 13 and 15, a .key that is not
// one DNSKEY with the Zone Key flag, and a private key that does not match
// the public one (checked by signing and verifying). Errors name the file
// and never contain key material.
func LoadFiles(pubPath string) (*Key, error) {
	if !strings.HasSuffix(pubPath, ".key") {
		return nil, fmt.Errorf("dnssec: %s: public key file must end in .key", pubPath)
	}
	privPath := strings.TrimSuffix(pubPath, ".key") + ".private"
	pubData, err := os.ReadFile(pubPath)
	if err != nil {
		return nil, fmt.Errorf("dnssec: %w", err)
	}
	var dk *dns.DNSKEY
	zp := dns.NewZoneParser(bytes.NewReader(pubData), "", pubPath)
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		k, isKey := rr.(*dns.DNSKEY)
		if !isKey || dk != nil {
			return nil, fmt.Errorf("dnssec: %s: want exactly one DNSKEY record", pubPath)
		}
		dk = k
	}
	if err := zp.Err(); err != nil {
		return nil, fmt.Errorf("dnssec: %s: %v", pubPath, err)
	}
	if dk == nil {
		return nil, fmt.Errorf("dnssec: %s: no DNSKEY record", pubPath)
	}
	if !allowedAlgorithm(dk.Algorithm) {
		return nil, fmt.Errorf("dnssec: %s: %w: %d", pubPath, ErrAlgorithm, dk.Algorithm)
	}
	if dk.Flags != FlagsKSK && dk.Flags != FlagsZSK || dk.Protocol != 3 {
		return nil, fmt.Errorf("dnssec: %s: flags %d protocol %d: want flags 256 or 257, protocol 3", pubPath, dk.Flags, dk.Protocol)
	}
	dk.Hdr.Name = dns.CanonicalName(dk.Hdr.Name)
	f, err := os.Open(privPath)
	if err != nil {
		return nil, fmt.Errorf("dnssec: %w", err)
	}
	defer func() { _ = f.Close() }()
	// miekg's parse errors may quote the offending line, which in a
	// .private file is key material: report only the file.
	priv, err := dk.ReadPrivateKey(f, privPath)
	if err != nil {
		return nil, fmt.Errorf("dnssec: %s: cannot read private key for %s", privPath, pubPath)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("dnssec: %s: unsupported private key", privPath)
	}
	k := &Key{DNSKEY: dk, Signer: signer, Tag: dk.KeyTag()}
	if err := k.check(); err != nil {
		return nil, fmt.Errorf("dnssec: %s does not match %s: %v", privPath, pubPath, err)
	}
	return k, nil
}

// check proves the private key belongs to the DNSKEY by signing a probe
// RRset and verifying it. miekg's ReadPrivateKey copies the public half
// from the DNSKEY without checking it (ECDSA), so a mismatched pair would
// otherwise load and produce signatures no validator accepts.
func (k *Key) check() error {
	probe := []dns.RR{&dns.TXT{
		Hdr: dns.RR_Header{Name: k.DNSKEY.Hdr.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 0},
		Txt: []string{"meridian key check"},
	}}
	now := time.Now()
	sig := &dns.RRSIG{
		Algorithm:  k.DNSKEY.Algorithm,
		KeyTag:     k.Tag,
		SignerName: k.DNSKEY.Hdr.Name,
		Inception:  uint32(now.Add(-time.Hour).Unix()),
		Expiration: uint32(now.Add(time.Hour).Unix()),
	}
	if err := sig.Sign(k.Signer, probe); err != nil {
		return err
	}
	return sig.Verify(k.DNSKEY, probe)
}

// DS is the parent's delegation signer record for k, digest type 2
// (SHA-256), which RFC 8624 section 3.3 makes MUST.
func DS(k *Key) *dns.DS { return k.DNSKEY.ToDS(dns.SHA256) }

// CDS and CDNSKEY are the child's copies of DS and DNSKEY that a parent
// may poll to update the delegation (RFC 7344 section 3). Publish them only
// for KSKs/CSKs that should be in the parent's DS RRset.
func CDS(k *Key) *dns.CDS { return DS(k).ToCDS() }

// CDNSKEY: see CDS.
func CDNSKEY(k *Key) *dns.CDNSKEY { return k.DNSKEY.ToCDNSKEY() }
