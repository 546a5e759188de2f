package dnsserver

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// TSIG (RFC 8945): a query signed with a key the server has is verified
// and answered signed with the same key; one signed with a key or
// algorithm it does not have, or whose MAC does not verify, is answered
// NOTAUTH with TSIG error BADKEY or BADSIG, unsigned (section 5.2.2); one
// whose time is outside its fudge NOTAUTH with BADTIME, signed, with the
// server's time in Other Data (section 5.2.3). Signed queries are rare on
// an authoritative GSLB server (monitoring, zone checks), so they take
// the general path and miekg/dns does the cryptography.

// TSIGKey is a shared key that may sign queries.
type TSIGKey struct {
	Name      string // the key's name, a domain name
	Algorithm string // hmac-sha256, hmac-sha384 or hmac-sha512
	Secret    string // base64
}

// String leaves the secret out of every printed form.
func (k TSIGKey) String() string { return fmt.Sprintf("%s (%s)", k.Name, k.Algorithm) }

// GoString keeps %#v from printing the secret too.
func (k TSIGKey) GoString() string { return "dnsserver.TSIGKey{" + k.String() + "}" }

// tsigFudge is the clock skew the server's signatures allow (RFC 8945
// section 10: 300 seconds recommended).
const tsigFudge = 300

// tsigKeys indexes keys by canonical name.
func tsigKeys(keys []TSIGKey) map[string]TSIGKey {
	if len(keys) == 0 {
		return nil
	}
	m := make(map[string]TSIGKey, len(keys))
	for _, k := range keys {
		k.Name = dns.CanonicalName(k.Name)
		k.Algorithm = dns.CanonicalName(k.Algorithm)
		m[k.Name] = k
	}
	return m
}

// signed answers req, which carries the TSIG record t (raw is req as
// received).
func (h *handler) signed(raw []byte, req *dns.Msg, t *dns.TSIG, src netip.Addr, proto int, out []byte, rnd uint64) []byte {
	key, ok := h.tsig[dns.CanonicalName(t.Hdr.Name)]
	if !ok || key.Algorithm != dns.CanonicalName(t.Algorithm) {
		return h.tsigError(req, t, dns.RcodeBadKey, nil, proto, out)
	}
	if err := dns.TsigVerify(raw, key.Secret, "", false); err != nil {
		if errors.Is(err, dns.ErrTime) {
			return h.tsigError(req, t, dns.RcodeBadTime, &key, proto, out)
		}
		return h.tsigError(req, t, dns.RcodeBadSig, nil, proto, out)
	}
	// The query without its TSIG, answered as any other, then signed
	// (the response is unpacked into its own records, so out is free
	// again for the signed one).
	req.Extra = req.Extra[:len(req.Extra)-1]
	limit := h.limit(proto, req.IsEdns0())
	body := h.respond(raw, req, src, proto, out, rnd)
	resp := new(dns.Msg)
	if err := resp.Unpack(body); err != nil {
		return servfail(req.Id, out)
	}
	b := h.sign(resp, req, t, &key, 0, out)
	if len(b) > limit {
		// The signature did not fit in the client's UDP size: a signed
		// truncated response, retried over TCP (RFC 8945 section 5.3).
		resp.Truncated = true
		resp.Answer, resp.Ns = nil, nil
		resp.Extra = slicesKeepOPT(resp.Extra)
		b = h.sign(resp, req, t, &key, 0, out)
	}
	return b
}

// tsigError is the NOTAUTH response with TSIG error code: unsigned
// (an empty MAC) for BADKEY and BADSIG, signed with key for BADTIME.
func (h *handler) tsigError(req *dns.Msg, t *dns.TSIG, code int, key *TSIGKey, proto int, out []byte) []byte {
	resp := new(dns.Msg)
	resp.Id, resp.Response, resp.Opcode = req.Id, true, req.Opcode
	resp.RecursionDesired, resp.CheckingDisabled = req.RecursionDesired, req.CheckingDisabled
	resp.Question = req.Question
	resp.Rcode = dns.RcodeNotAuth
	if opt := req.IsEdns0(); opt != nil {
		resp.Extra = append(resp.Extra, h.opt(opt, nil, 0, false, nil, netip.Addr{}))
	}
	h.m.noZone.c[qtypeNone][rcodeIndex(dns.RcodeNotAuth)][proto].Add(1)
	if key != nil {
		return h.sign(resp, req, t, key, code, out)
	}
	resp.Extra = append(resp.Extra, &dns.TSIG{
		Hdr:       dns.RR_Header{Name: t.Hdr.Name, Rrtype: dns.TypeTSIG, Class: dns.ClassANY},
		Algorithm: t.Algorithm, TimeSigned: t.TimeSigned, Fudge: t.Fudge,
		OrigId: req.Id, Error: uint16(code),
	})
	return h.pack(resp, out, maxMsg)
}

// sign appends a TSIG record of key to resp and packs it signed, over
// the request's MAC (RFC 8945 section 4.3.1). code is the TSIG error:
// BADTIME carries the server's time in Other Data (section 5.2.3) and
// the request's Time Signed.
func (h *handler) sign(resp, req *dns.Msg, t *dns.TSIG, key *TSIGKey, code int, out []byte) []byte {
	now := time.Now().Unix()
	rr := &dns.TSIG{
		// The request's spelling of the names: equal to the key's but
		// for case, and what the client looks its secret up by.
		Hdr:       dns.RR_Header{Name: t.Hdr.Name, Rrtype: dns.TypeTSIG, Class: dns.ClassANY},
		Algorithm: t.Algorithm, TimeSigned: uint64(now), Fudge: tsigFudge,
		OrigId: req.Id, Error: uint16(code),
	}
	if code == dns.RcodeBadTime {
		rr.TimeSigned = t.TimeSigned
		rr.OtherLen, rr.OtherData = 6, fmt.Sprintf("%012x", now)
	}
	resp.Extra = append(resp.Extra, rr)
	b, _, err := dns.TsigGenerate(resp, key.Secret, t.MAC, false)
	if err != nil {
		h.log.Error("cannot sign a response with TSIG", "key", key.String(), "err", err)
		return servfail(req.Id, out)
	}
	return append(out[:0], b...)
}

// slicesKeepOPT keeps only the OPT record of an additional section.
func slicesKeepOPT(extra []dns.RR) []dns.RR {
	var out []dns.RR
	for _, rr := range extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			out = append(out, rr)
		}
	}
	return out
}

// checkTSIGKeys reports the first key New cannot use.
func checkTSIGKeys(keys []TSIGKey) error {
	for _, k := range keys {
		switch strings.TrimSuffix(strings.ToLower(k.Algorithm), ".") {
		case "hmac-sha256", "hmac-sha384", "hmac-sha512":
		default:
			return fmt.Errorf("dnsserver: TSIG key %s: algorithm %q (want hmac-sha256, hmac-sha384 or hmac-sha512)", k.Name, k.Algorithm)
		}
		if _, ok := dns.IsDomainName(k.Name); !ok || k.Secret == "" {
			return fmt.Errorf("dnsserver: TSIG key %q: a domain name and a secret are required", k.Name)
		}
	}
	return nil
}
