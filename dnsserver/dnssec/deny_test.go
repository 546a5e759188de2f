package dnssec

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// canonicalLess is RFC 4034 section 6.1 order: labels compared from the
// right as lower-cased octet strings, a name before its descendants.
func canonicalLess(a, b string) bool {
	la, lb := wireLabels(a), wireLabels(b)
	for i := 1; i <= len(la) && i <= len(lb); i++ {
		if c := bytes.Compare(la[len(la)-i], lb[len(lb)-i]); c != 0 {
			return c < 0
		}
	}
	return len(la) < len(lb)
}

func wireLabels(name string) [][]byte {
	buf := make([]byte, 256)
	n, err := dns.PackDomainName(dns.CanonicalName(name), buf, 0, nil, false)
	if err != nil {
		panic(err)
	}
	var out [][]byte
	for i := 0; i < n && buf[i] != 0; i += int(buf[i]) + 1 {
		out = append(out, buf[i+1:i+1+int(buf[i])])
	}
	return out
}

func TestDenyRFC9824Examples(t *testing.T) {
	csk := mustGenerate(t, "example.com.", dns.ECDSAP256SHA256, FlagsKSK)
	s := mustSigner(t, "example.com.", []*Key{csk}, Options{})

	// RFC 9824 section 3.1, a nonexistent name:
	//   a.example.com. 300 IN NSEC \000.a.example.com. RRSIG NSEC NXNAME
	nsec, sigs, err := s.Deny("a.example.com.", nil, true, 300)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := nsec.String(), "a.example.com.\t300\tIN\tNSEC\t\\000.a.example.com. RRSIG NSEC NXNAME"; got != want {
		t.Errorf("NXNAME NSEC\n got %q\nwant %q", got, want)
	}
	verifyAll(t, sigs, []dns.RR{nsec}, csk)

	// NODATA: the name has A and AAAA, the query was for MX (the same
	// shape as the RFC's NODATA and wildcard-NODATA examples).
	nsec, sigs, err = s.Deny("ftp.example.com.", []uint16{dns.TypeAAAA, dns.TypeA}, false, 300)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := nsec.String(), "ftp.example.com.\t300\tIN\tNSEC\t\\000.ftp.example.com. A AAAA RRSIG NSEC"; got != want {
		t.Errorf("NODATA NSEC\n got %q\nwant %q", got, want)
	}
	verifyAll(t, sigs, []dns.RR{nsec}, csk)

	// An empty non-terminal exists with no types: RRSIG NSEC only.
	nsec, _, err = s.Deny("ent.example.com.", nil, false, 300)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(nsec.TypeBitMap, []uint16{dns.TypeRRSIG, dns.TypeNSEC}) {
		t.Errorf("ENT bitmap %v", nsec.TypeBitMap)
	}

	// The apex, with meta types and duplicates dropped.
	nsec, _, err = s.Deny("Example.COM.", []uint16{dns.TypeSOA, dns.TypeNS, dns.TypeDNSKEY, dns.TypeNS, dns.TypeNSEC, dns.TypeNXNAME}, false, 300)
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint16{dns.TypeNS, dns.TypeSOA, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeDNSKEY}; !slices.Equal(nsec.TypeBitMap, want) {
		t.Errorf("apex bitmap %v, want %v", nsec.TypeBitMap, want)
	}
	if nsec.NextDomain != `\000.example.com.` {
		t.Errorf("apex next %s", nsec.NextDomain)
	}

	// The NSEC survives the wire.
	m := new(dns.Msg)
	m.Ns = append([]dns.RR{nsec}, sigs...)
	wire, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Unpack(wire); err != nil || m.Ns[0].(*dns.NSEC).NextDomain != `\000.example.com.` {
		t.Errorf("round trip: %v %v", err, m.Ns[0])
	}

	if _, _, err := s.Deny("a.example.net.", nil, true, 300); err == nil {
		t.Error("denied a name outside the zone")
	}
	if _, _, err := s.Deny("a.example.com.", []uint16{dns.TypeA}, true, 300); err == nil {
		t.Error("nxname with types accepted")
	}
}

func TestSuccessor(t *testing.T) {
	for _, name := range []string{"a.example.com.", "example.com.", "*.example.com.", `\000.example.com.`, "A.Example.com."} {
		s, err := Successor(name)
		if err != nil {
			t.Fatal(err)
		}
		if !canonicalLess(name, s) {
			t.Errorf("%s does not sort before its successor %s", name, s)
		}
		// No name sorts between: every other candidate is before or after.
		for _, other := range []string{name + "", "\\000\\000." + dns.CanonicalName(name), "\\001." + dns.CanonicalName(name), "\\000.\\000." + dns.CanonicalName(name)} {
			if canonicalLess(name, other) && canonicalLess(other, s) {
				t.Errorf("%s sorts between %s and %s", other, name, s)
			}
		}
	}
	long := strings.Repeat(strings.Repeat("a", 63)+".", 3) + strings.Repeat("b", 61) + "." // 254 octets on the wire
	if _, err := Successor(long); !errors.Is(err, ErrNameTooLong) {
		t.Errorf("254-octet name: err %v", err)
	}
}
