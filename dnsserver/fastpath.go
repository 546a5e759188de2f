package dnsserver

import (
	"encoding/binary"
	"net/netip"
	"unsafe"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/gslb"
)

// The fast path answers the dominant query shape without miekg/dns and
// without allocating: one question of type A or AAAA and class IN with a
// plain name (letters, digits, '-', '_'; no compression), no answer or
// authority records, at most one additional record which is an OPT of
// version 0 with no option or one well-formed ECS option, and nothing
// after it. It answers addresses (a service whose Select gives addresses,
// or static A/AAAA records), NODATA and NXDOMAIN (with the SOA, name
// compression done as miekg/dns does it). CNAMEs, wildcards, delegations,
// anything else and any doubt go to the general path, which the fast path
// must match byte for byte (fastpath_test.go and FuzzHandler check this).

// fast reports ok=false to hand the query to the general path.
func (h *handler) fast(sc *scratch, req []byte, src netip.Addr, proto int, out []byte, rnd uint64) ([]byte, bool) {
	if len(req) < 17 || cap(out) < maxUDPPayload {
		return nil, false
	}
	// Header: QR=0, OPCODE=QUERY (RFC 1035 section 4.1.1); counts 1/0/0/0-1.
	if req[2]&0xF8 != 0 || req[4] != 0 || req[5] != 1 || req[6]|req[7]|req[8]|req[9]|req[10] != 0 || req[11] > 1 {
		return nil, false
	}
	// QNAME, lower-cased into sc.name and as sent into sc.orig, in
	// presentation form.
	off, n, labels := 12, 0, 0
	for {
		if off >= len(req) {
			return nil, false
		}
		l := int(req[off])
		if l == 0 {
			off++
			break
		}
		if l > 63 || off+1+l > len(req) || n+l+1 > 253 || labels == maxFastLabels {
			return nil, false
		}
		labels++
		for _, c := range req[off+1 : off+1+l] {
			sc.orig[n] = c
			switch {
			case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			case c >= 'A' && c <= 'Z':
				c += 'a' - 'A'
			default:
				return nil, false
			}
			sc.name[n] = c
			n++
		}
		sc.name[n], sc.orig[n] = '.', '.'
		n++
		off += 1 + l
	}
	if n == 0 || off+4 > len(req) {
		return nil, false
	}
	qtype := binary.BigEndian.Uint16(req[off:])
	if req[off+2] != 0 || req[off+3] != 1 || (qtype != gslb.TypeA && qtype != gslb.TypeAAAA) {
		return nil, false
	}
	qend := off + 4

	// The OPT record (RFC 6891 section 6.1.2), if any.
	var e ecs
	var ck cookieIn
	hasOPT, do, co := false, false, false
	limit := minUDPPayload
	if req[11] == 1 {
		o := req[qend:]
		if len(o) < 11 || o[0] != 0 || o[1] != 0 || o[2] != typeOPT || o[6] != 0 {
			return nil, false // not an OPT owned by the root, or version > 0
		}
		rdlen := int(binary.BigEndian.Uint16(o[9:]))
		if len(o) != 11+rdlen {
			return nil, false
		}
		// Options: at most one ECS and one well-formed COOKIE (what
		// resolvers send: BIND sends a cookie with every query); any
		// other, a repeat or a malformed one goes to the general path.
		for rd := o[11:]; len(rd) > 0; {
			if len(rd) < 4 {
				return nil, false
			}
			code, l := binary.BigEndian.Uint16(rd), int(binary.BigEndian.Uint16(rd[2:]))
			if 4+l > len(rd) {
				return nil, false
			}
			body := rd[4 : 4+l]
			switch {
			case code == optionSubnet && !e.present:
				var ok bool
				if e, ok = parseECS(body); !ok || !e.present {
					return nil, false
				}
			case code == optionCookie && ck.client == nil && h.cookies != nil:
				var ok bool
				if ck, ok = parseCookieBody(body); !ok {
					return nil, false
				}
			default:
				return nil, false
			}
			rd = rd[4+l:]
		}
		hasOPT, do, co = true, o[7]&0x80 != 0, o[7]&0x40 != 0
		limit = udpLimit(true, binary.BigEndian.Uint16(o[3:]))
	} else if qend != len(req) {
		return nil, false
	}
	if proto == protoTCP {
		limit = maxMsg
	}

	v := h.view.Load()
	if v == nil {
		return nil, false
	}
	lname := unsafe.String(&sc.name[0], n)
	z := v.findZone(lname)
	if z == nil {
		return nil, false
	}
	// DO=1 in a signed zone: a service's answer gets its RRSIGs from the
	// signer's cache here; everything else (static data, denials, CO)
	// goes to the general path (sign.go).
	nd := z.nodes[lname]
	signed := do && z.signed()
	if signed && (z.signer == nil || co || nd == nil || nd.svc == nil) {
		return nil, false
	}
	if nd != nil && nd.below || nd == nil && (z.wild || z.cuts) {
		return nil, false // a referral or a wildcard
	}
	fam := 0
	if qtype == gslb.TypeAAAA {
		fam = 1
	}

	// Header and question.
	b := out[:0]
	b = append(b, req[0], req[1], 0x84|req[2]&0x01, req[3]&0x10, 0, 1)
	b = append(b, 0, 0, 0, 0, 0, 0) // ANCOUNT, NSCOUNT, ARCOUNT filled below
	b = append(b, req[12:qend]...)
	var ancount, rcode int
	var scope uint8
	var site string
	var svc *svcCounters
	switch {
	case nd == nil:
		rcode = dns.RcodeNameError
	case nd.svc != nil:
		svc = nd.svc
		client, prefix := clientOf(&e, src)
		a := gslb.Select(v.snap, gslb.Query{Name: lname, Type: qtype, Client: client, SourcePrefix: prefix, Rand: rnd})
		addrs := a.Addrs()
		if a.Result == gslb.NoData {
			break
		}
		if a.Result != gslb.Success || a.Target != "" || len(addrs) == 0 {
			return nil, false
		}
		for _, ip := range addrs {
			// Owner: a pointer to the question name (RFC 1035 section 4.1.4).
			b = append(b, 0xC0, 12, 0, byte(qtype), 0, 1)
			b = binary.BigEndian.AppendUint32(b, a.TTL)
			if fam == 0 {
				a4 := ip.As4()
				b = append(b, 0, 4)
				b = append(b, a4[:]...)
			} else {
				a16 := ip.As16()
				b = append(b, 0, 16)
				b = append(b, a16[:]...)
			}
		}
		ancount, scope, site = len(addrs), a.ScopePrefix, a.Site
		if signed {
			wire, nsig, err := z.signer.SignAddrs(unsafe.String(&sc.orig[0], n), qtype, a.TTL, addrs)
			if err != nil {
				return nil, false // the general path reports it
			}
			for i := 0; i < len(wire); {
				l := int(binary.BigEndian.Uint16(wire[i:]))
				b = append(b, 0xC0, 12, 0, byte(dns.TypeRRSIG), 0, 1)
				b = binary.BigEndian.AppendUint32(b, a.TTL) // RFC 4034 section 3: the RRset's TTL
				b = append(b, wire[i:i+2+l]...)
				i += 2 + l
			}
			ancount += nsig
		}
	case nd.fastN[fam] > 0:
		t := nd.fast[fam]
		per := len(t) / nd.fastN[fam]
		for i := 0; i < len(t); i += per {
			b = append(b, 0xC0, 12)
			b = append(b, t[i:i+per]...)
		}
		ancount = nd.fastN[fam]
	case nd.get(dns.TypeCNAME) != nil:
		return nil, false
	}
	if ancount == 0 && signed {
		return nil, false // a signed denial (sign.go)
	}
	if ancount == 0 {
		// NXDOMAIN or NODATA: the SOA in authority (RFC 2308 section 3).
		b[3] |= byte(rcode)
		b[9] = 1
		b = appendSOA(b, z.neg, unsafe.String(&sc.orig[0], n))
	}
	if hasOPT {
		b = append(b, 0, 0, typeOPT, byte(maxUDPPayload>>8), byte(maxUDPPayload&0xFF), 0, 0)
		if do {
			b = append(b, 0x80, 0)
		} else {
			b = append(b, 0, 0)
		}
		rdlen := 0
		if e.present {
			rdlen += 8 + len(e.raw)
		}
		if ck.client != nil {
			rdlen += 4 + clientCookieLen + serverCookieLen
		}
		b = append(b, byte(rdlen>>8), byte(rdlen))
		if e.present {
			b = appendECS(b, &e, scopeFor(&e, scope))
		}
		if ck.client != nil {
			b = append(b, 0, optionCookie, 0, clientCookieLen+serverCookieLen)
			b = append(b, ck.client...)
			b = h.cookies.appendServer(b, ck.client, src.Unmap())
		}
		b[11] = 1
	}
	if len(b) > limit {
		return nil, false // the general path truncates
	}
	b[6], b[7] = byte(ancount>>8), byte(ancount)

	if svc != nil {
		svc.inc(qtype, rcode, proto, site)
	} else {
		z.m.c[qtypeIndex(qtype)][rcodeIndex(rcode)][proto].Add(1)
	}
	return b, true
}

// maxFastLabels bounds the names the fast path takes, and so its
// compression table.
const maxFastLabels = 16

// compTable is a name compression table that behaves as miekg/dns's
// (msg.go packDomainName): every suffix of a name written in full is
// remembered at its offset if that is below 2^14, the first (longest)
// suffix already remembered becomes a pointer, and names are compared
// exactly, case included.
type compTable struct {
	n   int
	s   [3 * (maxFastLabels + 1)]string
	off [3 * (maxFastLabels + 1)]int
}

func (t *compTable) find(s string) int {
	for i := 0; i < t.n; i++ {
		if t.s[i] == s {
			return t.off[i]
		}
	}
	return -1
}

func (t *compTable) add(s string, off int) {
	if off < 1<<14 && t.n < len(t.s) {
		t.s[t.n], t.off[t.n] = s, off
		t.n++
	}
}

// appendName writes name (presentation form, fully qualified, no escapes)
// at the end of b, compressed against t.
func (t *compTable) appendName(b []byte, name string) []byte {
	if name == "." {
		return append(b, 0)
	}
	for i := 0; i < len(name); {
		if p := t.find(name[i:]); p >= 0 {
			return append(b, 0xC0|byte(p>>8), byte(p))
		}
		t.add(name[i:], len(b))
		j := i
		for name[j] != '.' {
			j++
		}
		b = append(b, byte(j-i))
		b = append(b, name[i:j]...)
		i = j + 1
	}
	return append(b, 0)
}

// appendSOA writes soa as miekg/dns packs it after a question for qname
// (as sent) at offset 12.
func appendSOA(b []byte, soa *dns.SOA, qname string) []byte {
	var t compTable
	for i := 0; i < len(qname); {
		t.add(qname[i:], 12+i)
		for qname[i] != '.' {
			i++
		}
		i++
	}
	b = t.appendName(b, soa.Hdr.Name)
	b = append(b, 0, byte(dns.TypeSOA), 0, 1)
	b = binary.BigEndian.AppendUint32(b, soa.Hdr.Ttl)
	rdlen := len(b)
	b = append(b, 0, 0)
	b = t.appendName(b, soa.Ns)
	b = t.appendName(b, soa.Mbox)
	for _, v := range [5]uint32{soa.Serial, soa.Refresh, soa.Retry, soa.Expire, soa.Minttl} {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	binary.BigEndian.PutUint16(b[rdlen:], uint16(len(b)-rdlen-2))
	return b
}
