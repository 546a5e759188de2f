package dnsserver

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// handler answers DNS messages: the server without its sockets, so tests
// and benchmarks can call it directly. It is safe for concurrent use; each
// caller brings its own scratch and output buffer.
type handler struct {
	view atomic.Pointer[view]
	m    *metrics
	log  *slog.Logger
	nsid string             // hex of Config.NSID, "" when off
	rrl  *rrl               // nil: responses are not rate-limited
	tsig map[string]TSIGKey // by canonical name; nil: none (signed queries get BADKEY)
	// cookies makes and checks DNS server cookies (RFC 7873, 9018).
	cookies *cookies

	// signLogged paces the log of answers that could not be signed.
	signLogged logEvery

	// testHook, when set, runs before each query is answered; tests use
	// it to inject a panic.
	testHook atomic.Pointer[func(req []byte)]
}

func newHandler(m *metrics, log *slog.Logger, nsid string) *handler {
	h := &handler{m: m, log: log}
	if nsid != "" {
		h.nsid = hex.EncodeToString([]byte(nsid))
	}
	return h
}

// scratch is per-goroutine memory the fast path reuses.
type scratch struct {
	name [256]byte // the canonical query name
	orig [256]byte // the query name as sent
}

// maxMsg is the largest DNS message, and the size of output buffers.
const maxMsg = 65535

// serve answers req from src over proto, writing into out (which should
// have room for maxMsg bytes). It returns the response, or nil when
// nothing is to be sent. A panic is answered SERVFAIL and logged; the
// server goes on.
func (h *handler) serve(sc *scratch, req []byte, src netip.Addr, proto int, out []byte) []byte {
	start := time.Now()
	resp := h.answer(sc, req, src, proto, out, rand.Uint64())
	if proto == protoUDP && resp != nil && h.rrl != nil {
		resp = h.rrl.limit(req, resp, src, start) // the query's clock: one read
	}
	h.m.dur[proto].observe(time.Since(start))
	return resp
}

func (h *handler) answer(sc *scratch, req []byte, src netip.Addr, proto int, out []byte, rnd uint64) (resp []byte) {
	defer func() {
		if p := recover(); p != nil {
			h.m.panics.Add(1)
			h.log.Error("panic while answering a query; answered SERVFAIL", "panic", fmt.Sprint(p), "client", src, "stack", string(debug.Stack()))
			resp = rawError(req, dns.RcodeServerFailure, out)
			h.m.noZone.c[qtypeNone][rcodeIndex(dns.RcodeServerFailure)][proto].Add(1)
		}
	}()
	if hook := h.testHook.Load(); hook != nil {
		(*hook)(req)
	}
	if r, ok := h.fast(sc, req, src, proto, out, rnd); ok {
		return r
	}
	return h.general(req, src, proto, out, rnd)
}

// general answers any message with miekg/dns Unpack and Pack. It is the
// reference the fast path must match byte for byte.
func (h *handler) general(raw []byte, src netip.Addr, proto int, out []byte, rnd uint64) []byte {
	if len(raw) < 12 {
		return nil // not even a header: nothing to answer to
	}
	if raw[2]&0x80 != 0 {
		return nil // QR=1: a response; answering it invites loops (RFC 1035 section 4.1.1)
	}
	req := new(dns.Msg)
	if err := req.Unpack(raw); err != nil {
		h.m.noZone.c[qtypeNone][rcodeIndex(dns.RcodeFormatError)][proto].Add(1)
		return rawError(raw, dns.RcodeFormatError, out)
	}
	if t := req.IsTsig(); t != nil {
		return h.signed(raw, req, t, src, proto, out, rnd)
	}
	return h.respond(raw, req, src, proto, out, rnd)
}

// respond answers req, unpacked from raw (whose OPT options it reads).
func (h *handler) respond(raw []byte, req *dns.Msg, src netip.Addr, proto int, out []byte, rnd uint64) []byte {
	resp := new(dns.Msg)
	resp.Id = req.Id
	resp.Response = true
	resp.Opcode = req.Opcode
	resp.RecursionDesired = req.RecursionDesired
	resp.CheckingDisabled = req.CheckingDisabled
	resp.Compress = true

	qt := qtypeNone
	if len(req.Question) == 1 {
		resp.Question = req.Question
		qt = qtypeIndex(req.Question[0].Qtype)
	}
	fail := func(rcode int, withOPT bool) []byte {
		resp.Rcode = rcode
		if withOPT {
			resp.Extra = append(resp.Extra, h.opt(req.IsEdns0(), nil, 0, false, nil, src))
		}
		h.m.noZone.c[qt][rcodeIndex(rcode)][proto].Add(1)
		return h.pack(resp, out, maxMsg)
	}

	// EDNS first: RFC 6891 section 6.1.1 allows one OPT, in the
	// additional section, owned by the root.
	var opt *dns.OPT
	nOPT := 0
	for _, sec := range [][]dns.RR{req.Answer, req.Ns} {
		for _, rr := range sec {
			if rr.Header().Rrtype == dns.TypeOPT {
				nOPT += 2
			}
		}
	}
	for _, rr := range req.Extra {
		if o, ok := rr.(*dns.OPT); ok {
			opt = o
			nOPT++
		}
	}
	if nOPT > 1 || (opt != nil && opt.Hdr.Name != ".") {
		return fail(dns.RcodeFormatError, false)
	}
	if req.Opcode != dns.OpcodeQuery {
		// RD and CD mean something only in a QUERY (RFC 1035 section
		// 4.1.1, RFC 4035 section 3.2.2): an opcode we do not implement
		// gets them back cleared, as gdnsd does (ISC's EDNS compliance
		// test opcodeflg).
		resp.RecursionDesired, resp.CheckingDisabled = false, false
		return fail(dns.RcodeNotImplemented, opt != nil)
	}
	if len(req.Question) != 1 {
		// The message parsed, OPT included: RFC 6891 section 6.1.1 wants
		// the OPT back, on a FORMERR too.
		resp.Question = nil
		return fail(dns.RcodeFormatError, opt != nil)
	}
	if opt != nil && opt.Version() != 0 {
		// RFC 6891 section 6.1.3: BADVERS, with our OPT saying version 0.
		return fail(dns.RcodeBadVers, true)
	}
	var e ecs
	var ck cookieIn
	nsid := false
	if opt != nil {
		rdata, _ := findOPT(raw)
		if body, ok := optOption(rdata, optionSubnet); ok {
			var valid bool
			if e, valid = parseECS(body); !valid {
				return fail(dns.RcodeFormatError, false)
			}
		}
		_, nsid = optOption(rdata, optionNSID)
		var ok bool
		if ck, ok = parseCookie(rdata); !ok {
			return fail(dns.RcodeFormatError, true) // RFC 7873 section 5.2.2
		}
	}
	q := req.Question[0]
	if q.Qtype == dns.TypeNXNAME {
		// RFC 9824 section 3.5: NXNAME is a meta type, never queried.
		return fail(dns.RcodeFormatError, opt != nil)
	}
	if q.Qclass != dns.ClassINET || q.Qtype == dns.TypeAXFR || q.Qtype == dns.TypeIXFR {
		// Only class IN is served; zone transfers are not offered
		// (RFC 5936 section 2.2.1 allows REFUSED).
		resp.Rcode = dns.RcodeRefused
		if opt != nil {
			resp.Extra = append(resp.Extra, h.opt(opt, &e, 0, nsid, &ck, src))
		}
		h.m.noZone.c[qt][rcodeIndex(dns.RcodeRefused)][proto].Add(1)
		return h.pack(resp, out, h.limit(proto, opt))
	}

	v := h.view.Load()
	if v == nil {
		return fail(dns.RcodeServerFailure, opt != nil)
	}
	client, prefix := clientOf(&e, src)
	r := v.lookup(&question{name: q.Name, lname: strings.ToLower(q.Name), qtype: q.Qtype, client: client, prefix: prefix, rand: rnd})
	co := false
	if opt != nil && opt.Do() && v.signed {
		// RFC 4035 section 3.1: signatures and proofs for DO=1.
		co = opt.Co()
		if err := v.secure(r, q.Name, q.Qtype, co); err != nil {
			h.signFailed(r.zone, q, err)
			return fail(dns.RcodeServerFailure, true)
		}
	}
	resp.Rcode = r.rcode
	resp.Authoritative = r.aa
	resp.Answer, resp.Ns, resp.Extra = r.answer, r.ns, r.extra
	if opt != nil {
		o := h.opt(opt, &e, scopeFor(&e, r.scope), nsid, &ck, src)
		if co {
			o.SetCo() // RFC 9824 section 5: we give compact answers
		}
		resp.Extra = append(resp.Extra, o)
	}
	glueRequired := !r.aa && r.rcode == dns.RcodeSuccess && len(r.answer) == 0
	b := h.fit(resp, out, h.limit(proto, opt), glueRequired, proto)
	h.count(r, q.Qtype, resp.Rcode, proto)
	return b
}

// signFailed counts and (at most every logInterval) logs a response that
// could not be signed.
func (h *handler) signFailed(z *zone, q dns.Question, err error) {
	h.m.signFailures.Add(1)
	if n, due := h.signLogged.note(time.Now()); due {
		h.log.Error(signFailure(z, q.Name, q.Qtype, err)+"; answered SERVFAIL", "failures_since_last_line", n)
	}
}

func (h *handler) count(r *result, qtype uint16, rcode int, proto int) {
	switch {
	case r.svc != nil:
		r.svc.inc(qtype, rcode, proto, r.site)
	case r.zone != nil:
		r.zone.m.c[qtypeIndex(qtype)][rcodeIndex(rcode)][proto].Add(1)
	default:
		h.m.noZone.c[qtypeIndex(qtype)][rcodeIndex(rcode)][proto].Add(1)
	}
}

// limit is the largest response for the transport.
func (h *handler) limit(proto int, opt *dns.OPT) int {
	if proto == protoTCP {
		return maxMsg
	}
	if opt == nil {
		return udpLimit(false, 0)
	}
	return udpLimit(true, opt.UDPSize())
}

// opt builds the response OPT from scratch (never a copy of the query's:
// unknown options are not echoed, RFC 6891 section 6.1.2): version 0, our
// payload size, DO copied (RFC 3225 section 3), ECS echoed with our scope,
// NSID when asked and configured (RFC 5001 section 2.2), and to a client
// cookie its client cookie and a fresh server cookie (RFC 7873 section
// 5.2, cookie.go).
func (h *handler) opt(req *dns.OPT, e *ecs, scope uint8, nsid bool, ck *cookieIn, src netip.Addr) *dns.OPT {
	o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	o.SetUDPSize(maxUDPPayload)
	if req != nil && req.Do() {
		o.SetDo()
	}
	if e != nil && e.present {
		o.Option = append(o.Option, &dns.EDNS0_LOCAL{Code: optionSubnet, Data: appendECSBody(nil, e, scope)})
	}
	if nsid && h.nsid != "" {
		o.Option = append(o.Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID, Nsid: h.nsid})
	}
	if ck != nil && ck.client != nil && h.cookies != nil {
		c := h.cookies.appendServer(append(make([]byte, 0, clientCookieLen+serverCookieLen), ck.client...), ck.client, src.Unmap())
		o.Option = append(o.Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: hex.EncodeToString(c)})
	}
	return o
}

func (h *handler) pack(m *dns.Msg, out []byte, limit int) []byte {
	b, err := m.PackBuffer(out[:cap(out)])
	if err != nil || len(b) > limit {
		h.log.Error("cannot pack response", "err", err, "len", len(b))
		return servfail(m.Id, out)
	}
	return b
}

// servfail is a bare SERVFAIL for the query with ID id: what is left to
// send when a response cannot be built.
func servfail(id uint16, out []byte) []byte {
	var hdr [12]byte
	binary.BigEndian.PutUint16(hdr[:], id)
	return rawError(hdr[:], dns.RcodeServerFailure, out)
}

// fit packs m within limit. What does not fit is dropped a whole RRset at
// a time from the end (never a partial RRset, RFC 2181 section 9): first
// additional data, then authority, then answers. TC is set when anything
// but optional additional data had to go; referral glue is required
// (RFC 9471). The client then retries over TCP and gets everything.
func (h *handler) fit(m *dns.Msg, out []byte, limit int, glueRequired bool, proto int) []byte {
	b, err := m.PackBuffer(out[:cap(out)])
	if err == nil && len(b) <= limit {
		return b
	}
	var opt dns.RR
	if n := len(m.Extra); n > 0 && m.Extra[n-1].Header().Rrtype == dns.TypeOPT {
		opt, m.Extra = m.Extra[n-1], m.Extra[:n-1]
	}
	size := func() int {
		l := m.Len()
		if opt != nil {
			l += dns.Len(opt)
		}
		return l
	}
	tc := false
	for _, sec := range []*[]dns.RR{&m.Extra, &m.Ns, &m.Answer} {
		for len(*sec) > 0 && size() > limit {
			*sec = dropLastRRset(*sec)
			if sec != &m.Extra || glueRequired {
				tc = true
			}
		}
	}
	if opt != nil {
		m.Extra = append(m.Extra, opt)
	}
	m.Truncated = tc
	if tc {
		h.m.truncated.Add(1)
	}
	return h.pack(m, out, limit)
}

func dropLastRRset(rrs []dns.RR) []dns.RR {
	last := rrs[len(rrs)-1]
	i := len(rrs) - 1
	for i > 0 && sameRRset(rrs[i-1], last) {
		i--
	}
	// Signatures go with the RRset they cover (RFC 4034 section 3): an
	// RRset left without them would be bogus to a validator.
	if sig, ok := last.(*dns.RRSIG); ok {
		for i > 0 && rrs[i-1].Header().Rrtype == sig.TypeCovered && strings.EqualFold(rrs[i-1].Header().Name, sig.Hdr.Name) {
			i--
		}
	}
	return rrs[:i]
}

// sameRRset reports whether a and b belong to one RRset: same owner (case
// aside) and type (RFC 2181 section 5); signatures by the type they
// cover.
func sameRRset(a, b dns.RR) bool {
	x, y := a.Header(), b.Header()
	if x.Rrtype != y.Rrtype || !strings.EqualFold(x.Name, y.Name) {
		return false
	}
	if sa, ok := a.(*dns.RRSIG); ok {
		return sa.TypeCovered == b.(*dns.RRSIG).TypeCovered
	}
	return true
}

// rawError answers a message we could not (or must not) process further:
// its ID, opcode, RD and CD echoed, the question when there is exactly one
// and it parses, and rcode. It does not use miekg/dns so that it works on
// any message with a full header.
func rawError(req []byte, rcode int, out []byte) []byte {
	if len(req) < 12 {
		return nil
	}
	b := out[:0]
	b = append(b, req[0], req[1])
	b = append(b, 0x80|req[2]&0x79, req[3]&0x10|byte(rcode&0xF)) // QR, opcode, RD; CD
	qd := binary.BigEndian.Uint16(req[4:])
	end := -1
	if qd == 1 {
		if off := plainName(req, 12); off > 0 && off+4 <= len(req) {
			end = off + 4
		}
	}
	if end > 0 {
		b = append(b, 0, 1, 0, 0, 0, 0, 0, 0)
		b = append(b, req[12:end]...)
	} else {
		b = append(b, 0, 0, 0, 0, 0, 0, 0, 0)
	}
	return b
}

// plainName returns the offset after an uncompressed name of at most 255
// octets at off, or -1.
func plainName(msg []byte, off int) int {
	start := off
	for off < len(msg) && off-start < 255 {
		c := int(msg[off])
		if c == 0 {
			return off + 1
		}
		if c > 63 {
			return -1
		}
		off += 1 + c
	}
	return -1
}
