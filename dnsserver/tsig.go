package dnsserver

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
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

// TSIGKey is a shared key (RFC 8945): one that may sign queries to this
// server, or that signs the delegation's updates to a parent
// (dnsserver/delegation). It prints without its secret.
type TSIGKey struct {
	Name      string // the key's name, a domain name
	Algorithm string // one of TSIGAlgorithms
	Secret    string // base64, as tsig-keygen and keymgr print it
}

// String leaves the secret out of every printed form.
func (k TSIGKey) String() string {
	return fmt.Sprintf("%s (%s)", dns.CanonicalName(strings.TrimSpace(k.Name)), k.Algorithm)
}

// GoString keeps %#v from printing the secret too.
func (k TSIGKey) GoString() string { return "dnsserver.TSIGKey{" + k.String() + "}" }

// TSIGFudge is the clock skew a signature allows (RFC 8945 section 10:
// 300 seconds recommended), for the server's signatures and the
// delegation's.
const TSIGFudge = 300

// TSIGAlgorithms are the TSIG algorithms taken, the full-length HMAC-SHA2
// ones of RFC 8945 section 6 (hmac-sha256 is the one every implementation
// must have). HMAC-MD5 and HMAC-SHA1 are refused: section 6 says MD5 must
// not be used and SHA-1 is not recommended.
var TSIGAlgorithms = []string{"hmac-sha256", "hmac-sha384", "hmac-sha512"}

// DefaultTSIGAlgorithm is the algorithm when none is given.
const DefaultTSIGAlgorithm = "hmac-sha256"

// ParseTSIGAlgorithm returns the canonical name of a TSIG algorithm (""
// is DefaultTSIGAlgorithm), or an error listing the allowed ones.
func ParseTSIGAlgorithm(s string) (string, error) {
	a := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
	if a == "" {
		return DefaultTSIGAlgorithm, nil
	}
	if slices.Contains(TSIGAlgorithms, a) {
		return a, nil
	}
	return "", fmt.Errorf("unknown TSIG algorithm %q (want one of %s)", s, strings.Join(TSIGAlgorithms, ", "))
}

// secretLine finds the secret in the files the usual tools print: BIND's
// `tsig-keygen` (secret "..."; inside a key clause) and Knot's `keymgr -t`
// (secret: ... in a YAML key list).
var secretLine = regexp.MustCompile(`(?m)\bsecret\s*:?\s*"?([A-Za-z0-9+/=]+)"?`)

// ErrNoTSIGSecret is ParseTSIGSecret's error for a file without a base64
// secret. It never quotes the file: the text may be the secret, mistyped.
var ErrNoTSIGSecret = errors.New("no base64 TSIG secret in it (want the secret alone, or the output of tsig-keygen or keymgr -t)")

// ParseTSIGSecret returns the base64 secret of a key file's text: the
// secret alone on a line, or the output of `tsig-keygen NAME` or `keymgr
// -t NAME` (whose key name and algorithm are ignored: the configuration
// gives them). The secret must decode and be at least 16 bytes: RFC 2104
// section 3 discourages HMAC keys shorter than the hash output (32 bytes
// for SHA-256, what tsig-keygen makes); 16 is the floor kept here, against
// a truncated file.
func ParseTSIGSecret(text string) (string, error) {
	s := strings.TrimSpace(text)
	if m := secretLine.FindStringSubmatch(s); m != nil {
		s = m[1]
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || s == "" {
		return "", ErrNoTSIGSecret
	}
	if len(b) < 16 {
		return "", fmt.Errorf("the TSIG secret is %d bytes; use at least 16 (tsig-keygen makes 32)", len(b))
	}
	return s, nil
}

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
		Algorithm: t.Algorithm, TimeSigned: uint64(now), Fudge: TSIGFudge,
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
		if _, err := ParseTSIGAlgorithm(k.Algorithm); err != nil {
			return fmt.Errorf("dnsserver: TSIG key %s: %w", k.Name, err)
		}
		if _, ok := dns.IsDomainName(k.Name); !ok || k.Secret == "" {
			return fmt.Errorf("dnsserver: TSIG key %q: a domain name and a secret are required", k.Name)
		}
	}
	return nil
}
