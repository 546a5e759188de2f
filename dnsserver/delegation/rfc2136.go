package delegation

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/gslb"
)

// ServerAddr is the parent's server as host:port, port 53 (RFC 1035
// section 4.2) when s gives none; an IPv6 address may come bare.
func ServerAddr(s string) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		if _, err2 := netip.ParseAddr(s); err2 != nil && strings.Contains(s, ":") {
			return "", fmt.Errorf("want host:port")
		}
		host, port = s, "53"
	}
	if host == "" {
		return "", fmt.Errorf("the host is missing")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("port %q is not a number from 1 to 65535", port)
	}
	return net.JoinHostPort(host, port), nil
}

// DefaultTimeout bounds one exchange with the parent's server.
const DefaultTimeout = 5 * time.Second

// RFC2136 is a parent zone on a DNS server that takes dynamic updates
// (RFC 2136) signed with TSIG (RFC 8945): BIND, Knot, PowerDNS, ...
type RFC2136 struct {
	Server  string // the parent's primary, host:port
	Parent  string // the parent zone, the update's zone section
	Zone    string // the delegated zone
	Key     TSIG   // signs the updates; Read does not sign its queries
	Timeout time.Duration
}

var _ Parent = (*RFC2136)(nil)

func (p *RFC2136) timeout() time.Duration {
	if p.Timeout > 0 {
		return p.Timeout
	}
	return DefaultTimeout
}

// Read asks the parent's server for the NS RRset of the zone. A parent
// answers with a referral (RFC 1034 section 4.3.2): the NS RRset in the
// authority section, the glue in the additional section. (A server that
// also serves the child answers with the child's apex NS in the answer
// section, which is read the same way: point delegation.server at the
// parent's primary, never at Meridian.) An in-bailiwick name server
// whose glue the response left out (a server with minimal responses, a
// full message) is asked for by name.
func (p *RFC2136) Read(ctx context.Context) (Delegation, error) {
	zone := gslb.CanonicalName(p.Zone)
	r, err := p.query(ctx, zone, dns.TypeNS)
	if err != nil {
		return Delegation{}, err
	}
	switch r.Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		return Delegation{}, nil // no delegation at all
	default:
		return Delegation{}, fmt.Errorf("%s answered %s to %s NS", p.Server, dns.RcodeToString[r.Rcode], zone)
	}
	var names []string
	for _, rr := range append(slices.Clone(r.Answer), r.Ns...) {
		if ns, ok := rr.(*dns.NS); ok && gslb.CanonicalName(ns.Hdr.Name) == zone {
			if n := gslb.CanonicalName(ns.Ns); !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	glue := addrRecords(r.Extra)
	var d Delegation
	for _, name := range names {
		ns := NameServer{Name: name, Addrs: glue[name]}
		if len(ns.Addrs) == 0 && InBailiwick(name, zone) {
			if ns.Addrs, err = p.lookupGlue(ctx, name); err != nil {
				return Delegation{}, err
			}
		}
		d.NameServers = append(d.NameServers, ns)
	}
	return d, nil
}

// lookupGlue asks the parent for name's A and AAAA records; the answer is
// a referral again, with the glue in the additional section.
func (p *RFC2136) lookupGlue(ctx context.Context, name string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		r, err := p.query(ctx, name, t)
		if err != nil {
			return nil, err
		}
		if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
			return nil, fmt.Errorf("%s answered %s to %s %s", p.Server, dns.RcodeToString[r.Rcode], name, dns.TypeToString[t])
		}
		all := addrRecords(append(slices.Clone(r.Answer), r.Extra...))
		for _, a := range all[name] {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out, nil
}

// addrRecords indexes the A and AAAA records of rrs by canonical owner.
func addrRecords(rrs []dns.RR) map[string][]netip.Addr {
	out := map[string][]netip.Addr{}
	for _, rr := range rrs {
		var a netip.Addr
		switch v := rr.(type) {
		case *dns.A:
			a, _ = netip.AddrFromSlice(v.A.To4())
		case *dns.AAAA:
			a, _ = netip.AddrFromSlice(v.AAAA.To16())
		default:
			continue
		}
		name := gslb.CanonicalName(rr.Header().Name)
		if a = a.Unmap(); a.IsValid() && !slices.Contains(out[name], a) {
			out[name] = append(out[name], a)
		}
	}
	return out
}

// query asks one question over UDP, and again over TCP when the answer
// is truncated (RFC 7766 section 5). Recursion is not desired: the parent
// is asked as an authority.
func (p *RFC2136) query(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = false
	m.SetEdns0(1232, false) // the DNS Flag Day 2020 size: no fragments
	c := &dns.Client{Net: "udp", Timeout: p.timeout()}
	r, _, err := c.ExchangeContext(ctx, m, p.Server)
	if err == nil && r.Truncated {
		c.Net = "tcp"
		r, _, err = c.ExchangeContext(ctx, m, p.Server)
	}
	if err != nil {
		return nil, fmt.Errorf("query %s %s at %s: %w", name, dns.TypeToString[qtype], p.Server, err)
	}
	return r, nil
}

// UpdateMsg is the dynamic update that applies d to the parent zone
// (RFC 2136 section 2.5 and 3.4.2), unsigned. The prerequisite section
// is empty: Meridian owns the delegation's records. The updates are
// processed in order (section 3.4.2), so the deletions come first:
//
//   - each removed NS target: "delete an RR from an RRset" (class NONE);
//   - each removed in-bailiwick target's A and AAAA RRsets, whole ("delete
//     an RRset", class ANY): glue the parent may hold without showing it
//     in referrals goes too;
//   - each other removed glue record, one by one (class NONE);
//   - then the added NS targets and glue, with ttl ("add to an RRset").
func UpdateMsg(parent string, d Diff, ttl uint32) *dns.Msg {
	m := new(dns.Msg)
	m.SetUpdate(gslb.CanonicalName(parent))
	zone := gslb.CanonicalName(d.Zone)
	var del, delSets, add []dns.RR
	for _, n := range d.RemoveNS {
		del = append(del, nsRR(zone, n, 0))
		if InBailiwick(n, zone) {
			delSets = append(delSets,
				&dns.A{Hdr: dns.RR_Header{Name: n, Rrtype: dns.TypeA, Class: dns.ClassINET}},
				&dns.AAAA{Hdr: dns.RR_Header{Name: n, Rrtype: dns.TypeAAAA, Class: dns.ClassINET}})
		}
	}
	for _, g := range d.RemoveGlue {
		if !slices.Contains(d.RemoveNS, g.Name) {
			del = append(del, glueRR(g, 0))
		}
	}
	for _, n := range d.AddNS {
		add = append(add, nsRR(zone, n, ttl))
	}
	for _, g := range d.AddGlue {
		add = append(add, glueRR(g, ttl))
	}
	if len(del) > 0 {
		m.Remove(del)
	}
	if len(delSets) > 0 {
		m.RemoveRRset(delSets)
	}
	if len(add) > 0 {
		m.Insert(add)
	}
	return m
}

func nsRR(zone, target string, ttl uint32) dns.RR {
	return &dns.NS{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: ttl}, Ns: target}
}

func glueRR(g Glue, ttl uint32) dns.RR {
	if g.Addr.Is4() {
		return &dns.A{Hdr: dns.RR_Header{Name: g.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl}, A: g.Addr.AsSlice()}
	}
	return &dns.AAAA{Hdr: dns.RR_Header{Name: g.Name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: ttl}, AAAA: g.Addr.AsSlice()}
}

// Apply sends d as one update, signed with the key, over TCP (an update
// may not fit a UDP message; RFC 2136 section 2.1 allows both), and
// checks the response: its rcode, and its signature, which RFC 8945
// section 5.3 requires of the answer to a signed request.
func (p *RFC2136) Apply(ctx context.Context, d Diff, ttl uint32) error {
	if d.Empty() {
		return nil
	}
	m := UpdateMsg(p.Parent, d, ttl)
	keyName := gslb.CanonicalName(p.Key.Name)
	m.SetTsig(keyName, dns.Fqdn(p.Key.Algorithm), dnsserver.TSIGFudge, time.Now().Unix())
	c := &dns.Client{Net: "tcp", Timeout: p.timeout(), TsigSecret: map[string]string{keyName: p.Key.Secret}}
	r, _, err := c.ExchangeContext(ctx, m, p.Server)
	return p.checkResponse(r, err)
}

// ErrRejectedKey wraps the errors of an update the parent refused because
// of its key: unknown to the server, or a signature that did not verify.
var ErrRejectedKey = errors.New("the parent rejected the TSIG key")

// checkResponse turns an update's response into nil or an error that says
// what to do. The TSIG errors (RFC 8945 section 5.2) come with NOTAUTH:
// BADKEY is a key name or algorithm the server does not know, BADSIG a
// wrong secret, BADTIME clocks more than the fudge apart.
func (p *RFC2136) checkResponse(r *dns.Msg, err error) error {
	var t *dns.TSIG
	if r != nil {
		t = r.IsTsig()
	}
	if t != nil && t.Error != dns.RcodeSuccess {
		hint := map[uint16]string{
			dns.RcodeBadKey:  "the server knows no key of that name and algorithm",
			dns.RcodeBadSig:  "the signature did not verify: the secret differs from the server's",
			dns.RcodeBadTime: "the clocks differ by more than 300 s",
		}[t.Error]
		return fmt.Errorf("update of %s at %s: %w %s: %s %s (%s)", gslb.CanonicalName(p.Parent), p.Server, ErrRejectedKey,
			p.Key, dns.RcodeToString[r.Rcode], dns.RcodeToString[int(t.Error)], hint)
	}
	if err != nil {
		if errors.Is(err, dns.ErrSig) || errors.Is(err, dns.ErrTime) || errors.Is(err, dns.ErrSecret) {
			return fmt.Errorf("update of %s at %s: the response's TSIG signature does not verify with key %s: %w", gslb.CanonicalName(p.Parent), p.Server, p.Key, err)
		}
		return fmt.Errorf("update of %s at %s: %w", gslb.CanonicalName(p.Parent), p.Server, err)
	}
	if r.Rcode == dns.RcodeNotAuth {
		return fmt.Errorf("update of %s at %s: %w %s: NOTAUTH (the server is not authoritative for the zone, or refused the key)", gslb.CanonicalName(p.Parent), p.Server, ErrRejectedKey, p.Key)
	}
	if r.Rcode != dns.RcodeSuccess {
		hint := map[int]string{
			dns.RcodeRefused:        " (the server's policy refuses this update: allow the key to update the zone)",
			dns.RcodeNotZone:        " (a record is outside the zone)",
			dns.RcodeNotImplemented: " (the server does not take dynamic updates)",
		}[r.Rcode]
		return fmt.Errorf("update of %s at %s: %s%s", gslb.CanonicalName(p.Parent), p.Server, dns.RcodeToString[r.Rcode], hint)
	}
	if t == nil {
		return fmt.Errorf("update of %s at %s: the response is not signed (RFC 8945 section 5.3 requires it); not trusting it", gslb.CanonicalName(p.Parent), p.Server)
	}
	return nil
}
