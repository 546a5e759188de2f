package dnsserver

import (
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/dnsserver/dnssec"
)

// This file adds DNSSEC records to a response to a DO=1 query for a signed
// zone (RFC 4035 section 3.1): RRSIGs after every authoritative RRset,
// compact denial of existence for negative answers (RFC 9824) and the DS
// or its denial at a delegation. lookup.go found the answer; the signer
// (dnssec package) signs each distinct RRset once and caches it, so a geo
// answer costs a cache hit, not a signature, on all but its first query.

// errNoSigner: a signed zone whose keys this site could not load.
var errNoSigner = errors.New("zone is signed but this site has no signer for it")

// secure adds signatures and denial records to r, answered for a query for
// qname and qtype with DO=1. co is the query's Compact Answers OK flag
// (RFC 9824 section 5): with it, a nonexistent name keeps NXDOMAIN;
// without it, the answer is NOERROR with the NXNAME proof. An error means
// the response cannot be signed and must be SERVFAIL.
func (v *view) secure(r *result, qname string, qtype uint16, co bool) error {
	answer, err := v.signSection(r.answer)
	if err != nil {
		return err
	}
	r.answer = answer
	switch {
	case r.cut != nil:
		return r.secureReferral()
	case r.deniedZone != nil:
		return r.secureDenial(qname, qtype, co)
	}
	return nil
}

// signSection returns rrs with the RRSIGs of each RRset after it. Each
// RRset is signed by its own zone's signer: a CNAME chain may cross into
// another of our zones, signed or not.
func (v *view) signSection(rrs []dns.RR) ([]dns.RR, error) {
	if len(rrs) == 0 {
		return rrs, nil
	}
	out := make([]dns.RR, 0, 2*len(rrs))
	for i := 0; i < len(rrs); {
		j := i + 1
		for j < len(rrs) && sameRRset(rrs[i], rrs[j]) {
			j++
		}
		out = append(out, rrs[i:j]...)
		owner := rrs[i].Header().Name
		if z := v.findZone(strings.ToLower(owner)); z != nil {
			signer, err := z.signing()
			if err != nil {
				return nil, err
			}
			if signer != nil {
				sigs, err := signer.Sign(rrs[i:j])
				if err != nil {
					return nil, err
				}
				out = appendSigs(out, sigs, owner)
			}
		}
		i = j
	}
	return out, nil
}

// signing is the zone's signer: nil for an unsigned zone, errNoSigner for
// a signed zone whose keys this site could not load.
func (z *zone) signing() (*dnssec.Signer, error) {
	if z.signer == nil && z.signErr != nil {
		return nil, errNoSigner
	}
	return z.signer, nil
}

// appendSigs appends copies of sigs owned by owner, the covered RRset's
// owner as served: the cached signatures carry the case of the query that
// made them, and the RRSIG should match its RRset (and compress to the
// same name, which the fast path writes as a pointer to the question).
func appendSigs(out, sigs []dns.RR, owner string) []dns.RR {
	for _, rr := range sigs {
		c := *rr.(*dns.RRSIG)
		c.Hdr.Name = owner
		out = append(out, &c)
	}
	return out
}

// secureReferral adds to a referral from a signed zone either the DS RRset
// and its signatures (a signed child, RFC 4035 section 3.1.4) or the NSEC
// proving there is none (an unsigned child, RFC 4035 section 3.1.4.1).
// The NS RRset and glue stay unsigned: the parent is not authoritative
// for them (RFC 4035 section 2.2).
func (r *result) secureReferral() error {
	z := r.zone
	signer, err := z.signing()
	if signer == nil {
		return err
	}
	if ds := r.cut.get(dns.TypeDS); ds != nil {
		sigs, err := signer.Sign(ds)
		if err != nil {
			return err
		}
		r.ns = append(append(r.ns, ds...), sigs...)
		return nil
	}
	nsec, sigs, err := signer.Deny(r.cut.name, r.cut.types(0), false, z.neg.Hdr.Ttl)
	if err != nil {
		return err
	}
	r.ns = append(append(r.ns, nsec), sigs...)
	return nil
}

// secureDenial signs a negative answer: the SOA with its RRSIGs and
// RFC 9824's NSEC for the denied name, which lists the types the name
// has (NODATA) or only NXNAME (the name does not exist).
func (r *result) secureDenial(qname string, qtype uint16, co bool) error {
	z := r.deniedZone
	signer, err := z.signing()
	if signer == nil {
		return err
	}
	nx := r.deniedNode == nil
	var types []uint16
	if !nx {
		types = r.deniedNode.types(qtype)
	}
	nsec, nsecSigs, err := signer.Deny(r.denied, types, nx, z.neg.Hdr.Ttl)
	if err != nil {
		return err
	}
	if qtype == dns.TypeNSEC && !nx && len(r.answer) == 0 && r.denied == qname {
		// A query for the NSEC itself (the name exists): the record
		// answers it, or our own NODATA would contradict its bitmap.
		r.answer = append(append(r.answer, nsec), nsecSigs...)
		r.ns = r.ns[:0]
		return nil
	}
	soaSigs, err := signer.Sign([]dns.RR{z.neg})
	if err != nil {
		return err
	}
	r.ns = append(append(append(r.ns, soaSigs...), nsec), nsecSigs...)
	if nx && !co {
		// RFC 9824 section 3: the name is proven not to exist by the
		// NXNAME bit, in a NOERROR answer, unless the client said it
		// understands compact answers (CO), which keep NXDOMAIN.
		r.rcode = dns.RcodeSuccess
	}
	return nil
}

// types lists the RR types present at n except except (0: none), for an
// NSEC bitmap: static RRsets, and A and AAAA at a service, which answers
// them when it has members of the family. The apex's DNSKEY, CDS and
// CDNSKEY are static RRsets of the view.
func (n *node) types(except uint16) []uint16 {
	out := make([]uint16, 0, len(n.rrsets)+2)
	for _, rs := range n.rrsets {
		if rs.typ != except {
			out = append(out, rs.typ)
		}
	}
	if n.svc != nil {
		for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
			if t != except && n.get(t) == nil {
				out = append(out, t)
			}
		}
	}
	return out
}

// signFailure is what the log says when a response could not be signed.
func signFailure(zone *zone, qname string, qtype uint16, err error) string {
	name := "?"
	if zone != nil {
		name = zone.name
	}
	return fmt.Sprintf("dnssec: cannot sign the answer to %s/%s in zone %s: %v", qname, dns.TypeToString[qtype], name, err)
}
