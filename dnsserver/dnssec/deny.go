package dnssec

import (
	"errors"
	"fmt"
	"slices"

	"github.com/miekg/dns"
)

// ErrNameTooLong is returned by Deny when qname is within two octets of
// the 255-octet limit (RFC 1035 section 3.1), so that "\000.qname" cannot
// exist as a name.
var ErrNameTooLong = errors.New("dnssec: name too long for a compact denial successor")

// Successor is the "immediate lexicographic successor" of name in the
// canonical order (RFC 4034 section 6.1) that RFC 9824 section 3 (after
// RFC 4470 section 3.1.1) uses as the Next Domain Name: name with a first
// label holding one zero octet, "\000.name". Nothing can sort between a
// name and it, so the NSEC covers no other name.
func Successor(name string) (string, error) {
	name = dns.CanonicalName(name)
	s := `\000.` + name
	if name == "." {
		s = `\000.`
	}
	if _, ok := dns.IsDomainName(s); !ok {
		return "", fmt.Errorf("%w: %s", ErrNameTooLong, name)
	}
	// IsDomainName counts an escaped octet as one: check the wire length
	// (owner octets + 1 for the root, at most 255).
	buf := make([]byte, 256)
	if _, err := dns.PackDomainName(s, buf, 0, nil, false); err != nil {
		return "", fmt.Errorf("%w: %s", ErrNameTooLong, name)
	}
	return s, nil
}

// Deny builds and signs the compact denial of existence NSEC for qname
// (RFC 9824 section 3): owned by qname, Next Domain Name Successor(qname),
// the type bitmap the types present at qname plus RRSIG and NSEC. For a
// name that does not exist (nxname) pass no types: the bitmap is RRSIG,
// NSEC and NXNAME (RFC 9824 section 3.2), the marker that lets a validator
// tell the NOERROR answer from NODATA. ttl should be the negative TTL,
// min(SOA TTL, SOA MINIMUM) (RFC 4034 section 4, RFC 9077 section 3).
//
// An empty non-terminal is a name that exists with no types: nxname false,
// types empty. At a delegation point list NS (and DS if present): the NSEC
// then proves the absence of DS for an unsigned delegation (RFC 4035
// section 3.1.4.1).
//
// The NSEC is new; its RRSIGs are shared (see Sign). Signatures are cached
// like any RRset's, per qname and bitmap.
func (s *Signer) Deny(qname string, types []uint16, nxname bool, ttl uint32) (*dns.NSEC, []dns.RR, error) {
	if !dns.IsSubDomain(s.zone, qname) {
		return nil, nil, fmt.Errorf("dnssec: %s is not in zone %s", qname, s.zone)
	}
	next, err := Successor(qname)
	if err != nil {
		return nil, nil, err
	}
	bitmap := make([]uint16, 0, len(types)+3)
	for _, t := range types {
		switch t {
		case dns.TypeNXNAME, dns.TypeOPT, dns.TypeRRSIG, dns.TypeNSEC:
			continue // meta types never exist; RRSIG and NSEC are added below
		}
		bitmap = append(bitmap, t)
	}
	if nxname && len(bitmap) > 0 {
		return nil, nil, fmt.Errorf("dnssec: %s: a name that does not exist has no types", qname)
	}
	bitmap = append(bitmap, dns.TypeRRSIG, dns.TypeNSEC)
	if nxname {
		bitmap = append(bitmap, dns.TypeNXNAME)
	}
	slices.Sort(bitmap) // RFC 4034 section 4.1.2 is ordered by type
	bitmap = slices.Compact(bitmap)
	nsec := &dns.NSEC{
		Hdr:        dns.RR_Header{Name: qname, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: ttl},
		NextDomain: next,
		TypeBitMap: bitmap,
	}
	sigs, err := s.Sign([]dns.RR{nsec})
	if err != nil {
		return nil, nil, err
	}
	return nsec, sigs, nil
}
