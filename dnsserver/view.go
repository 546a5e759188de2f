package dnsserver

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/dnsserver/dnssec"
	"github.com/meridian-gslb/meridian/gslb"
)

// view is everything a query needs, compiled from one gslb.Snapshot and
// never changed after: static records parsed and indexed by name, the apex
// SOA/NS and glue built, wire templates for the fast path and the metric
// counters resolved. The server holds the current view in an
// atomic.Pointer, so a query does one atomic load (design section 4).
type view struct {
	snap  *gslb.Snapshot
	zones map[string]*zone
	// signed: some zone is signed, so a DO=1 answer may need signatures
	// (a CNAME chain may lead into a signed zone from an unsigned one).
	signed bool
}

// zone is one authoritative zone of a view.
type zone struct {
	name  string   // canonical
	soa   *dns.SOA // the apex SOA, TTL = SOA TTL
	neg   *dns.SOA // the SOA for negative answers, TTL = min(TTL, MINIMUM) (RFC 2308 section 3)
	nodes map[string]*node
	cuts  bool // some name below the apex has NS: a delegation (RFC 1034 section 4.2.1)
	wild  bool // some owner is a wildcard (RFC 4592)
	m     *zoneCounters
	// signer signs responses to DO=1 queries (sign.go) when the zone is
	// signed; signErr says why a signed zone has no signer at this site
	// (its DO=1 queries are then answered SERVFAIL).
	signer  *dnssec.Signer
	signErr error
}

// signed reports whether the zone is signed (whether or not this site
// can sign it).
func (z *zone) signed() bool { return z.signer != nil || z.signErr != nil }

// node is one name of a zone: static RRsets, maybe a gslb service, or
// nothing at all (an empty non-terminal, RFC 8020: it exists).
type node struct {
	name   string
	rrsets []rrset // sorted by type
	svc    *svcCounters
	// hosts: the service has a hostname member, so some clients get a
	// CNAME for it, for every type (lookup.go serviceCNAME).
	hosts bool
	cut   bool // NS at a name below the apex
	below bool // at or below a cut: answered by referral only
	// fast[0] and fast[1] are the static A and AAAA records in wire form
	// after the owner name (type, class, TTL, RDLENGTH, RDATA), each
	// record wireA/wireAAAA bytes long, for the fast path.
	fast  [2][]byte
	fastN [2]int
}

type rrset struct {
	typ uint16
	rrs []dns.RR
}

func (n *node) get(t uint16) []dns.RR {
	for i := range n.rrsets {
		if n.rrsets[i].typ == t {
			return n.rrsets[i].rrs
		}
	}
	return nil
}

func (n *node) add(rr dns.RR) {
	t := rr.Header().Rrtype
	for i := range n.rrsets {
		if n.rrsets[i].typ == t {
			// RFC 2181 section 5: an RRset has no duplicate records.
			for _, o := range n.rrsets[i].rrs {
				if dns.IsDuplicate(o, rr) {
					return
				}
			}
			if ttl, first := rr.Header().Ttl, n.rrsets[i].rrs[0].Header().Ttl; ttl != first {
				// RFC 2181 section 5.2: an RRset has one TTL; use the
				// lowest, as the RFC tells clients to, and sign that
				// (RFC 4034 section 3: the RRSIG has one Original TTL).
				// The records may be shared with the parse cache: copy.
				low := min(ttl, first)
				rr = withTTL(rr, low)
				for j, o := range n.rrsets[i].rrs {
					n.rrsets[i].rrs[j] = withTTL(o, low)
				}
			}
			n.rrsets[i].rrs = append(n.rrsets[i].rrs, rr)
			return
		}
	}
	n.rrsets = append(n.rrsets, rrset{typ: t, rrs: []dns.RR{rr}})
}

// withTTL returns rr, or a copy of it with TTL ttl.
func withTTL(rr dns.RR, ttl uint32) dns.RR {
	if rr.Header().Ttl == ttl {
		return rr
	}
	c := dns.Copy(rr)
	c.Header().Ttl = ttl
	return c
}

// findZone returns the zone of lname (canonical), the longest suffix match.
// It does not allocate.
func (v *view) findZone(lname string) *zone {
	for n := lname; ; {
		if z, ok := v.zones[n]; ok {
			return z
		}
		i := strings.IndexByte(n, '.')
		if i < 0 || i == len(n)-1 {
			return v.zones["."]
		}
		n = n[i+1:]
	}
}

// parent strips the first label of a canonical name; "" above the root.
func parent(n string) string {
	if n == "." || n == "" {
		return ""
	}
	i := strings.IndexByte(n, '.')
	if i == len(n)-1 {
		return "."
	}
	return n[i+1:]
}

// compiler turns snapshots into views. Static records come parsed from
// the package's cache (parsed.go), so a snapshot that changes only
// services or health does not parse them again.
type compiler struct {
	mu      sync.Mutex
	metrics *metrics
	prev    *view
	// keyDir and signers: a zone's signer is built when its dnssec
	// settings change, not per view, so its signature cache lives on.
	keyDir  string
	signers map[string]*zoneSigner
	log     *slog.Logger
}

// retrySigners tries again to build the signers v's zones lack. When one
// loads it reports true, and the next compile rebuilds the zones (not the
// same shape: the view must change).
func (c *compiler) retrySigners(v *view) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	loaded := false
	for name, zs := range c.signers {
		if zs.err == nil {
			continue
		}
		if z := v.zones[name]; z == nil || z.signErr == nil {
			continue // not (or no longer) this view's problem
		}
		signer, err := NewZoneSigner(&gslb.Zone{Name: name, DNSSEC: zs.settings}, c.keyDir)
		if err != nil {
			continue // logged when it first failed
		}
		c.signers[name] = &zoneSigner{settings: zs.settings, signer: signer}
		if c.metrics != nil {
			ok := true
			c.metrics.setSigning(name, &ok)
		}
		if c.log != nil {
			c.log.Info("dnssec: keys loaded; signing the zone", "zone", name)
		}
		loaded = true
	}
	if loaded {
		c.prev = nil
	}
	return loaded
}

// zoneSigner is a zone's signer and the settings it was built from.
type zoneSigner struct {
	settings *gslb.ZoneDNSSEC
	signer   *dnssec.Signer
	err      error
}

// signer returns zc's signer, building it when its settings changed.
// Keys that cannot be loaded are logged once per change: the zone is
// served, but DO=1 queries get SERVFAIL rather than unsigned answers a
// validator would reject anyway.
func (c *compiler) signer(zc *gslb.Zone) (*dnssec.Signer, error) {
	if prev := c.signers[zc.Name]; prev != nil && prev.settings.Equal(zc.DNSSEC) {
		return prev.signer, prev.err
	}
	s, err := NewZoneSigner(zc, c.keyDir)
	if err != nil {
		err = fmt.Errorf("zone %s: %w", zc.Name, err)
		if c.log != nil {
			c.log.Error("dnssec: cannot sign; DO queries for the zone get SERVFAIL", "zone", zc.Name, "err", err)
		}
	}
	if c.signers == nil {
		c.signers = map[string]*zoneSigner{}
	}
	c.signers[zc.Name] = &zoneSigner{settings: zc.DNSSEC.Clone(), signer: s, err: err}
	if c.metrics != nil {
		ok := err == nil
		c.metrics.setSigning(zc.Name, &ok)
	}
	return s, err
}

// records returns the parsed static records of z, parsing (and
// remembering) them only when no load or build has.
func (c *compiler) records(z *gslb.Zone) ([]dns.RR, error) {
	name := zoneName(z)
	if rrs, ok := parsedBefore(name, z.Records); ok {
		return rrs, nil
	}
	rrs, err := parseRecords(z)
	if err != nil {
		return nil, err
	}
	rememberParsed(name, z.Records, rrs)
	return rrs, nil
}

func (c *compiler) compile(snap *gslb.Snapshot) (*view, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Most snapshots change only health: same zones, same service names.
	// Then the compiled zones are reused as they are; only the snapshot
	// that Select reads is new.
	if p := c.prev; p != nil && sameShape(p.snap.State, snap.State) {
		v := &view{snap: snap, zones: p.zones, signed: p.signed}
		c.prev = v
		return v, nil
	}
	v, err := c.build(snap)
	if err != nil {
		return nil, err
	}
	c.prev = v
	return v, nil
}

// sameShape reports whether two states compile to the same zones: equal
// zone settings and records, and the same services with the same sites.
func sameShape(a, b *gslb.State) bool {
	if a == b {
		return true
	}
	if len(a.Zones) != len(b.Zones) || len(a.Services) != len(b.Services) {
		return false
	}
	for i := range a.Zones {
		x, y := &a.Zones[i], &b.Zones[i]
		if x.Name != y.Name || x.SOA != y.SOA || x.NSTTL != y.NSTTL || !slices.Equal(x.Records, y.Records) || !x.DNSSEC.Equal(y.DNSSEC) ||
			!slices.EqualFunc(x.NameServers, y.NameServers, func(p, q gslb.NameServer) bool {
				return p.Name == q.Name && slices.Equal(p.Addresses, q.Addresses)
			}) {
			return false
		}
	}
	var pc gslb.Pacer // 100k services on a reload
	for i := range a.Services {
		pc.Step()
		x, y := &a.Services[i], &b.Services[i]
		if x.Name != y.Name || !sameSites(x.Members, y.Members) {
			return false
		}
	}
	return true
}

// sameSites reports whether two member lists name the same sites in
// order, hostname members where hostname members were (node.hosts). A reload shares unchanged services' members with the state
// before (config.Loader): lists in the same memory are equal at once.
func sameSites(a, b []gslb.Member) bool {
	if len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0]) {
		return true
	}
	return slices.EqualFunc(a, b, func(p, q gslb.Member) bool { return p.Site == q.Site && (p.Hostname == "") == (q.Hostname == "") })
}

func (c *compiler) build(snap *gslb.Snapshot) (*view, error) {
	v := &view{snap: snap, zones: make(map[string]*zone, len(snap.State.Zones))}
	seen := map[string]bool{}
	for i := range snap.State.Zones {
		zc := &snap.State.Zones[i]
		rrs, err := c.records(zc)
		if err != nil {
			return nil, fmt.Errorf("zone %s: %w", zc.Name, err)
		}
		seen[zc.Name] = true
		v.zones[zc.Name] = c.buildZone(zc, rrs)
	}
	keepParsed(seen)
	for name := range c.signers {
		if z := v.zones[name]; z == nil || !z.signed() {
			delete(c.signers, name) // unsigned or gone: forget its keys
			if c.metrics != nil {
				c.metrics.setSigning(name, nil)
			}
		}
	}
	svcs := make(map[string]bool, len(snap.State.Services))
	for i := range snap.State.Services {
		svc := &snap.State.Services[i]
		z := v.findZone(svc.Name)
		if z == nil {
			continue // Validate refuses this; nothing could answer it
		}
		var sites []string
		for _, m := range svc.Members {
			if !slices.Contains(sites, m.Site) {
				sites = append(sites, m.Site)
			}
		}
		n := z.ensure(svc.Name)
		n.svc = c.metrics.service(svc.Name, z.name, sites)
		n.hosts = slices.ContainsFunc(svc.Members, func(m gslb.Member) bool { return m.Hostname != "" })
		svcs[svc.Name] = true
	}
	c.metrics.keep(seen, svcs)
	for _, z := range v.zones {
		z.finish()
		v.signed = v.signed || z.signed()
	}
	return v, nil
}

func (z *zone) ensure(name string) *node {
	n := z.nodes[name]
	if n == nil {
		n = &node{name: name}
		z.nodes[name] = n
	}
	return n
}

func (c *compiler) buildZone(zc *gslb.Zone, rrs []dns.RR) *zone {
	z := &zone{name: zc.Name, nodes: make(map[string]*node, len(rrs)+4), m: c.metrics.zone(zc.Name)}
	s := zc.SOA
	z.soa = &dns.SOA{
		Hdr: dns.RR_Header{Name: zc.Name, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: s.TTL},
		Ns:  s.MName, Mbox: s.RName, Serial: s.Serial, Refresh: s.Refresh, Retry: s.Retry, Expire: s.Expire, Minttl: s.Minimum,
	}
	z.neg = dns.Copy(z.soa).(*dns.SOA)
	z.neg.Hdr.Ttl = s.NegativeTTL()
	apex := z.ensure(zc.Name)
	apex.add(z.soa)
	for _, ns := range zc.NameServers {
		apex.add(&dns.NS{Hdr: dns.RR_Header{Name: zc.Name, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: zc.NSTTL}, Ns: ns.Name})
	}
	if zc.DNSSEC != nil {
		z.signer, z.signErr = c.signer(zc)
		if z.signer != nil {
			// The apex key RRsets are zone data, for every query
			// (RFC 4035 section 2.1, RFC 7344 section 4).
			for _, set := range [][]dns.RR{z.signer.DNSKEYRRset(), z.signer.CDSRRset(), z.signer.CDNSKEYRRset()} {
				for _, rr := range set {
					apex.add(rr)
				}
			}
		}
	}
	for _, rr := range rrs {
		h := rr.Header()
		n := z.ensure(h.Name)
		n.add(rr)
		if strings.HasPrefix(h.Name, "*.") {
			z.wild = true
		}
		if h.Rrtype == dns.TypeNS && h.Name != zc.Name {
			n.cut, z.cuts = true, true
		}
	}
	// Glue for in-zone name servers (RFC 1034 section 4.2.1) is zone data
	// too: the name server's own name answers with its addresses, unless
	// static records already say so.
	for _, ns := range zc.NameServers {
		if !gslb.InZone(ns.Name, zc.Name) || len(ns.Addresses) == 0 {
			continue
		}
		n := z.ensure(ns.Name)
		if n.get(dns.TypeA) != nil || n.get(dns.TypeAAAA) != nil || n.get(dns.TypeCNAME) != nil {
			continue
		}
		for _, a := range ns.Addresses {
			hdr := dns.RR_Header{Name: ns.Name, Class: dns.ClassINET, Ttl: zc.NSTTL}
			if a.Is4() {
				hdr.Rrtype = dns.TypeA
				n.add(&dns.A{Hdr: hdr, A: net.IP(a.AsSlice())})
			} else {
				hdr.Rrtype = dns.TypeAAAA
				n.add(&dns.AAAA{Hdr: hdr, AAAA: net.IP(a.AsSlice())})
			}
		}
	}
	return z
}

// finish adds the empty non-terminals, marks delegations and renders the
// fast-path templates. Run after every name is in.
func (z *zone) finish() {
	names := make([]string, 0, len(z.nodes))
	for name := range z.nodes {
		names = append(names, name)
	}
	for _, name := range names {
		// RFC 8020: every ancestor of a name that exists, exists.
		for p := parent(name); p != "" && gslb.InZone(p, z.name) && p != z.name; p = parent(p) {
			if _, ok := z.nodes[p]; ok {
				break
			}
			z.nodes[p] = &node{name: p}
		}
	}
	for _, n := range z.nodes {
		slices.SortFunc(n.rrsets, func(a, b rrset) int { return int(a.typ) - int(b.typ) })
		if z.cuts {
			for p := n.name; p != z.name && p != ""; p = parent(p) {
				if c := z.nodes[p]; c != nil && c.cut {
					n.below = true
					break
				}
			}
		}
		if !n.below && n.get(dns.TypeCNAME) == nil && n.svc == nil {
			n.fast[0], n.fastN[0] = wireAddrs(n.get(dns.TypeA))
			n.fast[1], n.fastN[1] = wireAddrs(n.get(dns.TypeAAAA))
		}
	}
}

// wireAddrs renders A or AAAA records without their owner names.
func wireAddrs(rrs []dns.RR) ([]byte, int) {
	var b []byte
	for _, rr := range rrs {
		var rd []byte
		switch v := rr.(type) {
		case *dns.A:
			rd = v.A.To4()
		case *dns.AAAA:
			rd = v.AAAA.To16()
		}
		h := rr.Header()
		b = binary.BigEndian.AppendUint16(b, h.Rrtype)
		b = binary.BigEndian.AppendUint16(b, h.Class)
		b = binary.BigEndian.AppendUint32(b, h.Ttl)
		b = binary.BigEndian.AppendUint16(b, uint16(len(rd)))
		b = append(b, rd...)
	}
	return b, len(rrs)
}
