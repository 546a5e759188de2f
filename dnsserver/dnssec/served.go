package dnssec

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Served is what a server publishes for a zone, as CheckServed saw it.
type Served struct {
	// Tags are the key tags of the served DNSKEY RRset, in order.
	Tags []uint16
	// Missing and Extra compare it with the expected keys: expected tags
	// not served, served tags not expected.
	Missing, Extra []uint16
	// Signers are the tags of the keys whose RRSIGs over the DNSKEY and
	// SOA RRsets verify.
	DNSKEYSigners, SOASigners []uint16
	// Expires is the earliest expiration of those signatures.
	Expires time.Time
}

// OK reports whether the server publishes exactly the expected keys and
// both RRsets carry at least one valid signature.
func (s *Served) OK() bool {
	return len(s.Missing) == 0 && len(s.Extra) == 0 && len(s.DNSKEYSigners) > 0 && len(s.SOASigners) > 0
}

// CheckServed asks server (host:port) for zone's DNSKEY and SOA RRsets
// with DO=1, over TCP (a signed DNSKEY RRset may not fit in UDP), and
// checks them against keys: the same key set, and signatures that verify
// now. It is for `meridian dnssec status`; a validating resolver is the
// real test.
func CheckServed(ctx context.Context, server, zone string, keys []*Key) (*Served, error) {
	zone = dns.CanonicalName(zone)
	dnskeys, dnskeySigs, err := query(ctx, server, zone, dns.TypeDNSKEY)
	if err != nil {
		return nil, err
	}
	soa, soaSigs, err := query(ctx, server, zone, dns.TypeSOA)
	if err != nil {
		return nil, err
	}
	out := &Served{}
	served := map[uint16]*dns.DNSKEY{}
	for _, rr := range dnskeys {
		if k, ok := rr.(*dns.DNSKEY); ok {
			out.Tags = append(out.Tags, k.KeyTag())
			served[k.KeyTag()] = k
		}
	}
	want := map[uint16]bool{}
	for _, k := range keys {
		want[k.Tag] = true
		if served[k.Tag] == nil || served[k.Tag].PublicKey != k.DNSKEY.PublicKey {
			out.Missing = append(out.Missing, k.Tag)
		}
	}
	for _, t := range out.Tags {
		if !want[t] {
			out.Extra = append(out.Extra, t)
		}
	}
	now := time.Now()
	verify := func(rrset, sigs []dns.RR) []uint16 {
		var ok []uint16
		for _, rr := range sigs {
			sig, isSig := rr.(*dns.RRSIG)
			if !isSig {
				continue
			}
			k := served[sig.KeyTag]
			if k == nil || sig.Verify(k, rrset) != nil || !sig.ValidityPeriod(now) {
				continue
			}
			ok = append(ok, sig.KeyTag)
			if exp := time.Unix(int64(sig.Expiration), 0); out.Expires.IsZero() || exp.Before(out.Expires) {
				out.Expires = exp
			}
		}
		slices.Sort(ok)
		return slices.Compact(ok)
	}
	out.DNSKEYSigners = verify(dnskeys, dnskeySigs)
	out.SOASigners = verify(soa, soaSigs)
	return out, nil
}

// query returns the answer RRset of type qtype at zone and its RRSIGs.
func query(ctx context.Context, server, zone string, qtype uint16) (rrset, sigs []dns.RR, err error) {
	m := new(dns.Msg)
	m.SetQuestion(zone, qtype)
	m.SetEdns0(4096, true)
	c := &dns.Client{Net: "tcp", Timeout: 5 * time.Second}
	if _, _, err := net.SplitHostPort(server); err != nil {
		server = net.JoinHostPort(server, "53")
	}
	r, _, err := c.ExchangeContext(ctx, m, server)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s at %s: %w", zone, dns.TypeToString[qtype], server, err)
	}
	if r.Rcode != dns.RcodeSuccess {
		return nil, nil, fmt.Errorf("%s %s at %s: %s", zone, dns.TypeToString[qtype], server, dns.RcodeToString[r.Rcode])
	}
	for _, rr := range r.Answer {
		switch {
		case rr.Header().Rrtype == qtype && strings.EqualFold(rr.Header().Name, zone):
			rrset = append(rrset, rr)
		case rr.Header().Rrtype == dns.TypeRRSIG && rr.(*dns.RRSIG).TypeCovered == qtype:
			sigs = append(sigs, rr)
		}
	}
	if len(rrset) == 0 {
		return nil, nil, fmt.Errorf("%s %s at %s: no such RRset", zone, dns.TypeToString[qtype], server)
	}
	return rrset, sigs, nil
}

// ParseAlgorithm reads an algorithm as a number or a mnemonic
// ("13", "ecdsap256sha256", "15", "ed25519").
func ParseAlgorithm(s string) (uint8, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	for alg, name := range dns.AlgorithmToString {
		if (name == s || fmt.Sprint(alg) == s) && allowedAlgorithm(alg) {
			return alg, nil
		}
	}
	return 0, fmt.Errorf("%w: %q (want 13/ecdsap256sha256 or 15/ed25519)", ErrAlgorithm, s)
}
