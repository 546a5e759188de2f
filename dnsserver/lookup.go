package dnsserver

import (
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/gslb"
)

// This file finds the answer to one question in a view, apart from the
// wire: it fills a result with sections and an rcode, as CoreDNS's
// plugin/file/lookup.go returns (answer, ns, extra, Result). handler.go
// turns it into a message.

// maxChain bounds CNAME chasing inside our own data (RFC 1034 section
// 4.3.2 step 3a); a longer chain or a loop is left to the resolver.
const maxChain = 8

// question is what lookup needs about the query.
type question struct {
	name   string // as sent: answers at the query name use it (0x20 case kept)
	lname  string // canonical, lower case
	qtype  uint16
	client netip.Addr
	prefix int // gslb.Query.SourcePrefix
	rand   uint64
}

type result struct {
	rcode             int
	aa                bool
	answer, ns, extra []dns.RR
	scope             uint8 // ECS scope: the service decision's, else 0
	zone              *zone
	svc               *svcCounters
	site              string
	chain             []string // names already answered, for loop safety
	// For signing (sign.go): the name a negative answer denies, its zone
	// and node (nil: the name does not exist), and a referral's cut.
	denied     string
	deniedZone *zone
	deniedNode *node
	cut        *node
}

func (v *view) lookup(q *question) *result {
	r := &result{}
	z := v.findZone(q.lname)
	if z == nil {
		// Not ours: REFUSED without AA (design, "DNS protocol rules").
		r.rcode = dns.RcodeRefused
		return r
	}
	r.zone, r.aa = z, true
	if z.cuts {
		// A DS record lives on the parent side of a cut (RFC 4035
		// section 3.1.4.1); everything else at or below it is referred.
		if cut := z.findCut(q.lname); cut != nil && !(q.qtype == dns.TypeDS && cut.name == q.lname) {
			z.referral(r, cut)
			return r
		}
	}
	v.answer(r, z, q, q.name, q.lname, q.qtype, 0)
	return r
}

// findCut returns the highest delegation point at or above lname, if any.
func (z *zone) findCut(lname string) *node {
	var cut *node
	for p := lname; p != z.name && p != ""; p = parent(p) {
		if n := z.nodes[p]; n != nil && n.cut {
			cut = n
		}
	}
	return cut
}

// referral answers for a name at or below a cut: not authoritative, the
// child's NS set in authority and in-zone glue in additional (RFC 1034
// section 4.3.2 step 3b, RFC 9471).
func (z *zone) referral(r *result, cut *node) {
	r.aa = false
	r.rcode = dns.RcodeSuccess
	r.cut = cut
	r.ns = append(r.ns, cut.get(dns.TypeNS)...)
	r.extra = z.glue(r.extra, r.ns)
}

// glue appends the A and AAAA records that the zone holds for the NS
// targets inside it.
func (z *zone) glue(extra []dns.RR, nss []dns.RR) []dns.RR {
	for _, rr := range nss {
		ns, ok := rr.(*dns.NS)
		if !ok {
			continue
		}
		t := strings.ToLower(ns.Ns)
		if !gslb.InZone(t, z.name) {
			continue
		}
		if n := z.nodes[t]; n != nil {
			extra = append(extra, n.get(dns.TypeA)...)
			extra = append(extra, n.get(dns.TypeAAAA)...)
		}
	}
	return extra
}

// wildcard finds the wildcard that synthesises lname (RFC 4592 section
// 3.3.1): "*." + the closest encloser, when lname itself does not exist.
func (z *zone) wildcard(lname string) *node {
	for ce := parent(lname); ce != "" && gslb.InZone(ce, z.name); ce = parent(ce) {
		if _, ok := z.nodes[ce]; ok {
			w := z.nodes["*."+ce]
			if w == nil || w.svc != nil || w.below {
				return nil
			}
			return w
		}
	}
	return nil
}

// answer fills r for owner (the name as it goes into records) in zone z.
func (v *view) answer(r *result, z *zone, q *question, owner, lname string, qtype uint16, depth int) {
	r.chain = append(r.chain, lname)
	n := z.nodes[lname]
	if n == nil && z.wild {
		n = z.wildcard(lname)
	}
	if n == nil {
		r.rcode = dns.RcodeNameError
		r.ns = append(r.ns[:0], z.neg)
		r.denied, r.deniedZone, r.deniedNode = owner, z, nil
		return
	}
	if n.svc != nil {
		if depth == 0 {
			r.svc = n.svc
		}
		switch qtype {
		case dns.TypeA, dns.TypeAAAA:
			if v.service(r, z, q, owner, lname, qtype, depth) {
				return
			}
			v.nodata(r, z, n, owner)
			return
		case dns.TypeANY:
			// RFC 8482 section 4.2: one RRset is enough. For a service
			// that is its A answer, else its AAAA answer.
			if v.service(r, z, q, owner, lname, dns.TypeA, depth) || v.service(r, z, q, owner, lname, dns.TypeAAAA, depth) {
				return
			}
		default:
			// A client whose answer is a hostname member's CNAME gets
			// it for every type: a name with a CNAME has no other data
			// (RFC 1034 section 3.6.2), and a signed NODATA would deny
			// the CNAME the client is given for A.
			if n.hosts && v.serviceCNAME(r, q, owner, lname, qtype, depth) {
				return
			}
		}
	}
	if cn := n.get(dns.TypeCNAME); cn != nil && qtype != dns.TypeCNAME {
		c := rename(cn[0], owner)
		r.answer = append(r.answer, c)
		v.chase(r, q, c.(*dns.CNAME).Target, qtype, depth)
		return
	}
	var rrs []dns.RR
	if qtype == dns.TypeANY {
		// RFC 8482 section 4.2: answer with one RRset that exists, the
		// one of the lowest type number.
		if len(n.rrsets) > 0 {
			rrs = n.rrsets[0].rrs
		}
	} else {
		rrs = n.get(qtype)
	}
	if len(rrs) == 0 {
		v.nodata(r, z, n, owner)
		return
	}
	for _, rr := range rrs {
		r.answer = append(r.answer, rename(rr, owner))
	}
	if rrs[0].Header().Rrtype == dns.TypeNS && lname == z.name {
		r.extra = z.glue(r.extra, rrs)
	}
}

// nodata: the name exists without data of the type (RFC 2308 section 2.2).
func (v *view) nodata(r *result, z *zone, n *node, owner string) {
	r.rcode = dns.RcodeSuccess
	r.ns = append(r.ns[:0], z.neg)
	r.denied, r.deniedZone, r.deniedNode = owner, z, n
}

// service answers A or AAAA at a service name from gslb.Select. It
// reports false when Select has nothing of that type (NODATA).
func (v *view) service(r *result, z *zone, q *question, owner, lname string, qtype uint16, depth int) bool {
	a := gslb.Select(v.snap, gslb.Query{Name: lname, Type: qtype, Client: q.client, SourcePrefix: q.prefix, Rand: q.rand})
	if a.Result != gslb.Success {
		return false
	}
	r.scope = max(r.scope, a.ScopePrefix)
	if depth == 0 {
		r.site = a.Site
	}
	if a.Target != "" {
		// A hostname member: a CNAME with the answer's TTL.
		c := &dns.CNAME{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: a.TTL}, Target: a.Target}
		r.answer = append(r.answer, c)
		v.chase(r, q, a.Target, qtype, depth)
		return true
	}
	for _, ip := range a.Addrs() {
		hdr := dns.RR_Header{Name: owner, Rrtype: qtype, Class: dns.ClassINET, Ttl: a.TTL}
		if qtype == dns.TypeA {
			r.answer = append(r.answer, &dns.A{Hdr: hdr, A: net.IP(ip.AsSlice())})
		} else {
			r.answer = append(r.answer, &dns.AAAA{Hdr: hdr, AAAA: net.IP(ip.AsSlice())})
		}
	}
	r.rcode = dns.RcodeSuccess
	return true
}

// serviceCNAME answers qtype (not A or AAAA) at a service name with the
// CNAME of a hostname member, when that is what Select gives this client
// (for A, else AAAA), following it unless the CNAME itself was asked. It
// reports false when the client's answer is addresses. Either way the
// answer now depends on the client, so it carries the decision's ECS
// scope: a resolver must not give one network's CNAME (or NODATA) to
// another.
func (v *view) serviceCNAME(r *result, q *question, owner, lname string, qtype uint16, depth int) bool {
	for _, t := range [2]uint16{dns.TypeA, dns.TypeAAAA} {
		a := gslb.Select(v.snap, gslb.Query{Name: lname, Type: t, Client: q.client, SourcePrefix: q.prefix, Rand: q.rand})
		if a.Result != gslb.Success {
			continue
		}
		r.scope = max(r.scope, a.ScopePrefix)
		if a.Target == "" {
			return false
		}
		if depth == 0 {
			r.site = a.Site
		}
		r.answer = append(r.answer, &dns.CNAME{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: a.TTL}, Target: a.Target})
		r.rcode = dns.RcodeSuccess
		if qtype != dns.TypeCNAME {
			v.chase(r, q, a.Target, qtype, depth)
		}
		return true
	}
	return false
}

// chase follows a CNAME to target when the target is in our data (RFC
// 1034 section 4.3.2 step 3a). The rcode then describes the last name of
// the chain (RFC 6604 section 3); AA stays set, as it is for the query name.
func (v *view) chase(r *result, q *question, target string, qtype uint16, depth int) {
	r.rcode = dns.RcodeSuccess
	if depth+1 >= maxChain {
		return
	}
	lt := strings.ToLower(target)
	for _, seen := range r.chain {
		if seen == lt {
			return // a loop: what we have is all there is
		}
	}
	z := v.findZone(lt)
	if z == nil {
		return // not ours: the resolver goes on from here
	}
	if z.cuts && z.findCut(lt) != nil {
		return // delegated away
	}
	if qtype == dns.TypeANY {
		return
	}
	v.answer(r, z, q, target, lt, qtype, depth+1)
}

// rename returns a copy of rr owned by owner: the query name as sent, or
// the name a wildcard synthesised.
func rename(rr dns.RR, owner string) dns.RR {
	c := dns.Copy(rr)
	c.Header().Name = owner
	return c
}
