package dnsserver_test

import (
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/dnsserver/dnstest"
)

// The protocol table of shared/design.md ("DNS protocol rules"), run over
// UDP and TCP against a real server on 127.0.0.1:0, as miekg/dns's
// server_test.go does. Queries come from 127.0.0.1, which the test geo
// rules place at us-east (scope /8).

var transports = []string{"udp", "tcp"}

// query builds a query; opts adjust it.
func query(name string, qtype uint16, opts ...func(*dns.Msg)) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = false
	for _, o := range opts {
		o(m)
	}
	return m
}

func edns(size uint16, do bool, options ...dns.EDNS0) func(*dns.Msg) {
	return func(m *dns.Msg) {
		m.SetEdns0(size, do)
		o := m.IsEdns0()
		o.Option = append(o.Option, options...)
	}
}

func subnet(cidr string) dns.EDNS0 {
	ip, n, err := net.ParseCIDR(cidr)
	if err != nil {
		panic(err)
	}
	bits, _ := n.Mask.Size()
	e := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, SourceNetmask: uint8(bits), Address: ip}
	e.Family = 1
	if ip.To4() == nil {
		e.Family = 2
	}
	return e
}

// rawOption is an option sent as raw bytes, for malformed ECS.
func rawOption(code uint16, data ...byte) dns.EDNS0 {
	return &dns.EDNS0_LOCAL{Code: code, Data: data}
}

func exchange(t *testing.T, netw, addr string, m *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: netw, Timeout: 3 * time.Second, UDPSize: 65535}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s %s: %v", netw, m.Question[0].Name, dns.Type(m.Question[0].Qtype), err)
	}
	return r
}

func rrStrings(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeOPT {
			continue
		}
		out = append(out, rr.String())
	}
	return out
}

// norm parses expected records so that they print as the server's do.
func norm(t *testing.T, rrs []string) []string {
	t.Helper()
	var out []string
	for _, s := range rrs {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatalf("bad expected record %q: %v", s, err)
		}
		out = append(out, rr.String())
	}
	return out
}

const negSOA = "gslb.example. 60 IN SOA ns1.gslb.example. hostmaster.gslb.example. 2026112101 3600 600 1209600 60"

type protoCase struct {
	name   string
	q      *dns.Msg
	rcode  int
	aa     bool
	answer []string
	ns     []string
	extra  []string
	check  func(t *testing.T, netw string, r *dns.Msg)
}

func noOPT(t *testing.T, netw string, r *dns.Msg) {
	if r.IsEdns0() != nil {
		t.Errorf("OPT in a response to a query without one")
	}
}

func wantECS(family uint16, source, scope uint8, addr string) func(t *testing.T, netw string, r *dns.Msg) {
	return func(t *testing.T, netw string, r *dns.Msg) {
		t.Helper()
		o := r.IsEdns0()
		if o == nil {
			t.Fatal("no OPT in the response")
		}
		var got *dns.EDNS0_SUBNET
		for _, e := range o.Option {
			if s, ok := e.(*dns.EDNS0_SUBNET); ok {
				got = s
			}
		}
		if got == nil {
			t.Fatal("no ECS option echoed")
		}
		if got.Family != family || got.SourceNetmask != source || got.SourceScope != scope || !got.Address.Equal(net.ParseIP(addr)) {
			t.Errorf("ECS echoed as %d %s/%d scope %d; want %d %s/%d scope %d", got.Family, got.Address, got.SourceNetmask, got.SourceScope, family, addr, source, scope)
		}
	}
}

func protoCases() []protoCase {
	return []protoCase{
		{name: "service A", q: query("app.gslb.example.", dns.TypeA), aa: true,
			answer: []string{"app.gslb.example. 30 IN A 192.0.2.10"}, check: noOPT},
		{name: "service AAAA", q: query("app.gslb.example.", dns.TypeAAAA), aa: true,
			answer: []string{"app.gslb.example. 30 IN AAAA 2001:db8:1::10"}},
		{name: "0x20 case kept", q: query("aPp.GsLb.eXaMpLe.", dns.TypeA), aa: true,
			answer: []string{"aPp.GsLb.eXaMpLe. 30 IN A 192.0.2.10"},
			check: func(t *testing.T, _ string, r *dns.Msg) {
				if r.Question[0].Name != "aPp.GsLb.eXaMpLe." {
					t.Errorf("question echoed as %q", r.Question[0].Name)
				}
			}},
		{name: "ECS London", q: query("app.gslb.example.", dns.TypeA, edns(1232, false, subnet("81.2.69.0/24"))), aa: true,
			answer: []string{"app.gslb.example. 30 IN A 198.51.100.10"}, check: wantECS(1, 24, 24, "81.2.69.0")},
		{name: "ECS Tokyo", q: query("app.gslb.example.", dns.TypeA, edns(1232, false, subnet("202.12.27.0/24"))), aa: true,
			answer: []string{"app.gslb.example. 30 IN A 203.0.113.10"}, check: wantECS(1, 24, 24, "202.12.27.0")},
		{name: "ECS /32 scope is the deciding network", q: query("app.gslb.example.", dns.TypeA, edns(1232, false, subnet("81.2.69.7/32"))), aa: true,
			answer: []string{"app.gslb.example. 30 IN A 198.51.100.10"}, check: wantECS(1, 32, 24, "81.2.69.7")},
		{name: "ECS IPv6", q: query("app.gslb.example.", dns.TypeAAAA, edns(1232, false, subnet("2001:67c:2e8::/48"))), aa: true,
			answer: []string{"app.gslb.example. 30 IN AAAA 2001:db8:2::10"}, check: wantECS(2, 48, 48, "2001:67c:2e8::")},
		{name: "ECS /0 uses the source, scope 0", q: query("app.gslb.example.", dns.TypeA, edns(1232, false, subnet("0.0.0.0/0"))), aa: true,
			answer: []string{"app.gslb.example. 30 IN A 192.0.2.10"}, check: wantECS(1, 0, 0, "0.0.0.0")},
		{name: "ECS on static data: scope 0", q: query("mail.gslb.example.", dns.TypeA, edns(1232, false, subnet("81.2.69.0/24"))), aa: true,
			answer: []string{"mail.gslb.example. 300 IN A 192.0.2.25"}, check: wantECS(1, 24, 0, "81.2.69.0")},
		{name: "ECS on NXDOMAIN: scope 0", q: query("nope.gslb.example.", dns.TypeA, edns(1232, false, subnet("81.2.69.0/24"))), aa: true,
			rcode: dns.RcodeNameError, ns: []string{negSOA}, check: wantECS(1, 24, 0, "81.2.69.0")},
		{name: "ECS bad family", q: query("app.gslb.example.", dns.TypeA, edns(1232, false, rawOption(8, 0, 3, 24, 0, 81, 2, 69))),
			rcode: dns.RcodeFormatError},
		{name: "ECS family 0", q: query("app.gslb.example.", dns.TypeA, edns(1232, false, rawOption(8, 0, 0, 0, 0))),
			rcode: dns.RcodeFormatError},
		{name: "ECS source prefix too long", q: query("app.gslb.example.", dns.TypeA, edns(1232, false, rawOption(8, 0, 1, 33, 0, 81, 2, 69, 0, 0))),
			rcode: dns.RcodeFormatError},
		{name: "ECS address bits beyond prefix", q: query("app.gslb.example.", dns.TypeA, edns(1232, false, rawOption(8, 0, 1, 20, 0, 81, 2, 69))),
			rcode: dns.RcodeFormatError},
		{name: "ECS too many address octets", q: query("app.gslb.example.", dns.TypeA, edns(1232, false, rawOption(8, 0, 1, 24, 0, 81, 2, 69, 0))),
			rcode: dns.RcodeFormatError},
		{name: "NXDOMAIN", q: query("nope.gslb.example.", dns.TypeA), aa: true, rcode: dns.RcodeNameError, ns: []string{negSOA}},
		{name: "NXDOMAIN below a service", q: query("x.app.gslb.example.", dns.TypeA), aa: true, rcode: dns.RcodeNameError, ns: []string{negSOA}},
		{name: "service NODATA other type", q: query("app.gslb.example.", dns.TypeMX), aa: true, ns: []string{negSOA}},
		{name: "service static TXT", q: query("app.gslb.example.", dns.TypeTXT), aa: true,
			answer: []string{`app.gslb.example. 300 IN TXT "service txt"`}},
		{name: "NXDOMAIN, second zone, 0x20", q: query("NoPe.Plain.Example.", dns.TypeA, edns(1232, true)), aa: true, rcode: dns.RcodeNameError,
			ns: []string{"plain.example. 60 IN SOA ns1.plain.example. hostmaster.plain.example. 2026112101 3600 600 1209600 60"}},
		{name: "NODATA, second zone ENT", q: query("y.z.plain.example.", dns.TypeAAAA), aa: true,
			ns: []string{"plain.example. 60 IN SOA ns1.plain.example. hostmaster.plain.example. 2026112101 3600 600 1209600 60"}},
		{name: "service, second zone", q: query("api.plain.example.", dns.TypeAAAA, edns(1232, false, subnet("81.2.69.0/24"))), aa: true,
			answer: []string{"api.plain.example. 15 IN AAAA 2001:db8:2::110"}, check: wantECS(1, 24, 24, "81.2.69.0")},
		{name: "service without the family", q: query("v4only.gslb.example.", dns.TypeAAAA), aa: true, ns: []string{negSOA}},
		{name: "ENT of static records", q: query("c.gslb.example.", dns.TypeA), aa: true, ns: []string{negSOA}},
		{name: "ENT deeper", q: query("b.c.gslb.example.", dns.TypeTXT), aa: true, ns: []string{negSOA}},
		{name: "ENT of a service name", q: query("svc.gslb.example.", dns.TypeA), aa: true, ns: []string{negSOA}},
		{name: "service below an ENT", q: query("deep.svc.gslb.example.", dns.TypeA), aa: true,
			answer: []string{"deep.svc.gslb.example. 30 IN A 192.0.2.60"}},
		{name: "ENT below a service", q: query("_tcp.app.gslb.example.", dns.TypeA), aa: true, ns: []string{negSOA}},
		{name: "ENT of SRV", q: query("_udp.gslb.example.", dns.TypeSRV), aa: true, ns: []string{negSOA}},
		{name: "apex SOA", q: query("gslb.example.", dns.TypeSOA), aa: true,
			answer: []string{"gslb.example. 3600 IN SOA ns1.gslb.example. hostmaster.gslb.example. 2026112101 3600 600 1209600 60"}},
		{name: "apex NS with glue", q: query("gslb.example.", dns.TypeNS), aa: true,
			answer: []string{"gslb.example. 3600 IN NS ns1.gslb.example.", "gslb.example. 3600 IN NS ns2.example.net."},
			extra:  []string{"ns1.gslb.example. 3600 IN A 127.0.0.1", "ns1.gslb.example. 3600 IN AAAA ::1"}},
		{name: "name server address", q: query("ns1.gslb.example.", dns.TypeA), aa: true,
			answer: []string{"ns1.gslb.example. 3600 IN A 127.0.0.1"}},
		{name: "apex NODATA", q: query("gslb.example.", dns.TypeA), aa: true, ns: []string{negSOA}},
		{name: "out of zone", q: query("example.com.", dns.TypeA), rcode: dns.RcodeRefused},
		{name: "out of zone, zone name as a label", q: query("gslb.example.com.", dns.TypeA), rcode: dns.RcodeRefused},
		{name: "static CNAME to a service", q: query("docs.gslb.example.", dns.TypeA), aa: true,
			answer: []string{"docs.gslb.example. 300 IN CNAME app.gslb.example.", "app.gslb.example. 30 IN A 192.0.2.10"}},
		{name: "CNAME chain", q: query("alias.gslb.example.", dns.TypeAAAA), aa: true,
			answer: []string{"alias.gslb.example. 300 IN CNAME docs.gslb.example.", "docs.gslb.example. 300 IN CNAME app.gslb.example.", "app.gslb.example. 30 IN AAAA 2001:db8:1::10"}},
		{name: "CNAME asked for", q: query("docs.gslb.example.", dns.TypeCNAME), aa: true,
			answer: []string{"docs.gslb.example. 300 IN CNAME app.gslb.example."}},
		{name: "CNAME loop", q: query("loop1.gslb.example.", dns.TypeA), aa: true,
			answer: []string{"loop1.gslb.example. 300 IN CNAME loop2.gslb.example.", "loop2.gslb.example. 300 IN CNAME loop1.gslb.example."}},
		{name: "CNAME out of our data", q: query("ext.gslb.example.", dns.TypeA), aa: true,
			answer: []string{"ext.gslb.example. 300 IN CNAME www.example.net."}},
		{name: "CNAME to nothing", q: query("dangling.gslb.example.", dns.TypeA), aa: true, rcode: dns.RcodeNameError,
			answer: []string{"dangling.gslb.example. 300 IN CNAME nothere.gslb.example."}, ns: []string{negSOA}},
		{name: "hostname member", q: query("edge.gslb.example.", dns.TypeA), aa: true,
			answer: []string{"edge.gslb.example. 30 IN CNAME edge-lb.us-east.example.net."}},
		{name: "hostname member chased in zone", q: query("inedge.gslb.example.", dns.TypeA), aa: true,
			answer: []string{"inedge.gslb.example. 25 IN CNAME mail.gslb.example.", "mail.gslb.example. 300 IN A 192.0.2.25"}},
		{name: "delegation", q: query("sub.gslb.example.", dns.TypeA),
			ns:    []string{"sub.gslb.example. 3600 IN NS ns1.sub.gslb.example.", "sub.gslb.example. 3600 IN NS ns.example.net."},
			extra: []string{"ns1.sub.gslb.example. 3600 IN A 192.0.2.53"}},
		{name: "below a delegation", q: query("www.sub.gslb.example.", dns.TypeA),
			ns:    []string{"sub.gslb.example. 3600 IN NS ns1.sub.gslb.example.", "sub.gslb.example. 3600 IN NS ns.example.net."},
			extra: []string{"ns1.sub.gslb.example. 3600 IN A 192.0.2.53"}},
		{name: "glue name below a delegation", q: query("ns1.sub.gslb.example.", dns.TypeA),
			ns:    []string{"sub.gslb.example. 3600 IN NS ns1.sub.gslb.example.", "sub.gslb.example. 3600 IN NS ns.example.net."},
			extra: []string{"ns1.sub.gslb.example. 3600 IN A 192.0.2.53"}},
		{name: "DS at a delegation is the parent's", q: query("sub.gslb.example.", dns.TypeDS), aa: true, ns: []string{negSOA}},
		{name: "wildcard A", q: query("x.wild.gslb.example.", dns.TypeA), aa: true,
			answer: []string{"x.wild.gslb.example. 300 IN A 192.0.2.77"}},
		{name: "wildcard deeper", q: query("y.x.wild.gslb.example.", dns.TypeTXT), aa: true,
			answer: []string{`y.x.wild.gslb.example. 300 IN TXT "wildcard"`}},
		{name: "wildcard NODATA", q: query("x.wild.gslb.example.", dns.TypeMX), aa: true, ns: []string{negSOA}},
		{name: "wildcard parent is an ENT", q: query("wild.gslb.example.", dns.TypeA), aa: true, ns: []string{negSOA}},
		{name: "ANY at a service", q: query("app.gslb.example.", dns.TypeANY), aa: true,
			answer: []string{"app.gslb.example. 30 IN A 192.0.2.10"}},
		{name: "ANY at a static name", q: query("multi.gslb.example.", dns.TypeANY), aa: true,
			answer: []string{"multi.gslb.example. 60 IN A 192.0.2.1", "multi.gslb.example. 60 IN A 192.0.2.2", "multi.gslb.example. 60 IN A 192.0.2.3"}},
		{name: "ANY at the apex", q: query("gslb.example.", dns.TypeANY), aa: true,
			answer: []string{"gslb.example. 3600 IN NS ns1.gslb.example.", "gslb.example. 3600 IN NS ns2.example.net."},
			extra:  []string{"ns1.gslb.example. 3600 IN A 127.0.0.1", "ns1.gslb.example. 3600 IN AAAA ::1"}},
		{name: "ANY at an ENT", q: query("c.gslb.example.", dns.TypeANY), aa: true, ns: []string{negSOA}},
		{name: "static A set", q: query("multi.gslb.example.", dns.TypeA), aa: true,
			answer: []string{"multi.gslb.example. 60 IN A 192.0.2.1", "multi.gslb.example. 60 IN A 192.0.2.2", "multi.gslb.example. 60 IN A 192.0.2.3"}},
		{name: "static AAAA", q: query("v6.gslb.example.", dns.TypeAAAA), aa: true, answer: []string{"v6.gslb.example. 300 IN AAAA 2001:db8::5"}},
		{name: "MX", q: query("gslb.example.", dns.TypeMX), aa: true, answer: []string{"gslb.example. 300 IN MX 10 mail.gslb.example."}},
		{name: "SRV", q: query("_sip._udp.gslb.example.", dns.TypeSRV), aa: true,
			answer: []string{"_sip._udp.gslb.example. 300 IN SRV 10 60 5060 sip.gslb.example."}},
		{name: "CAA", q: query("gslb.example.", dns.TypeCAA), aa: true, answer: []string{`gslb.example. 300 IN CAA 0 issue "letsencrypt.org"`}},
		{name: "PTR", q: query("ptr.gslb.example.", dns.TypePTR), aa: true, answer: []string{"ptr.gslb.example. 300 IN PTR app.gslb.example."}},
		{name: "class CH refused", q: func() *dns.Msg {
			m := query("app.gslb.example.", dns.TypeTXT)
			m.Question[0].Qclass = dns.ClassCHAOS
			return m
		}(),
			rcode: dns.RcodeRefused},
		{name: "flags echoed", q: query("app.gslb.example.", dns.TypeA, func(m *dns.Msg) {
			m.RecursionDesired, m.CheckingDisabled, m.Truncated = true, true, true
		}), aa: true, answer: []string{"app.gslb.example. 30 IN A 192.0.2.10"},
			check: func(t *testing.T, _ string, r *dns.Msg) {
				if !r.RecursionDesired || !r.CheckingDisabled || r.RecursionAvailable || r.Truncated || r.AuthenticatedData {
					t.Errorf("flags RD=%v CD=%v RA=%v TC=%v AD=%v; want RD, CD only", r.RecursionDesired, r.CheckingDisabled, r.RecursionAvailable, r.Truncated, r.AuthenticatedData)
				}
			}},
		{name: "RD clear echoed", q: query("app.gslb.example.", dns.TypeA), aa: true, answer: []string{"app.gslb.example. 30 IN A 192.0.2.10"},
			check: func(t *testing.T, _ string, r *dns.Msg) {
				if r.RecursionDesired || r.RecursionAvailable {
					t.Errorf("RD=%v RA=%v", r.RecursionDesired, r.RecursionAvailable)
				}
			}},
		{name: "opcode STATUS", q: query("app.gslb.example.", dns.TypeA, func(m *dns.Msg) { m.Opcode = dns.OpcodeStatus }),
			rcode: dns.RcodeNotImplemented, check: func(t *testing.T, _ string, r *dns.Msg) {
				if r.Opcode != dns.OpcodeStatus {
					t.Errorf("opcode %d not echoed", r.Opcode)
				}
			}},
		{name: "opcode UPDATE", q: query("gslb.example.", dns.TypeSOA, func(m *dns.Msg) { m.Opcode = dns.OpcodeUpdate }),
			rcode: dns.RcodeNotImplemented},
		{name: "EDNS: OPT back, DO copied, size 1232", q: query("app.gslb.example.", dns.TypeA, edns(4096, true)), aa: true,
			answer: []string{"app.gslb.example. 30 IN A 192.0.2.10"},
			check: func(t *testing.T, _ string, r *dns.Msg) {
				o := r.IsEdns0()
				if o == nil || !o.Do() || o.UDPSize() != 1232 || o.Version() != 0 || len(o.Option) != 0 {
					t.Errorf("OPT %v", o)
				}
			}},
		{name: "EDNS: DO clear stays clear", q: query("app.gslb.example.", dns.TypeA, edns(1232, false)), aa: true,
			answer: []string{"app.gslb.example. 30 IN A 192.0.2.10"},
			check: func(t *testing.T, _ string, r *dns.Msg) {
				if o := r.IsEdns0(); o == nil || o.Do() {
					t.Errorf("OPT %v", o)
				}
			}},
		{name: "EDNS: unknown option ignored, not echoed", q: query("app.gslb.example.", dns.TypeA, edns(1232, false, rawOption(65001, 1, 2, 3), &dns.EDNS0_NSID{Code: dns.EDNS0NSID})), aa: true,
			answer: []string{"app.gslb.example. 30 IN A 192.0.2.10"},
			check: func(t *testing.T, _ string, r *dns.Msg) {
				if o := r.IsEdns0(); o == nil || len(o.Option) != 0 {
					t.Errorf("options echoed: %v", o)
				}
			}},
		{name: "EDNS version 1: BADVERS", q: query("app.gslb.example.", dns.TypeA, edns(1232, false), func(m *dns.Msg) { m.IsEdns0().SetVersion(1) }),
			rcode: dns.RcodeBadVers,
			check: func(t *testing.T, _ string, r *dns.Msg) {
				if o := r.IsEdns0(); o == nil || o.Version() != 0 {
					t.Errorf("OPT %v", o)
				}
				if len(r.Answer) != 0 {
					t.Errorf("answers with BADVERS")
				}
			}},
		{name: "EDNS: two OPT", q: query("app.gslb.example.", dns.TypeA, edns(1232, false), func(m *dns.Msg) {
			m.Extra = append(m.Extra, &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Class: 512}})
		}), rcode: dns.RcodeFormatError},
	}
}

func TestProtocol(t *testing.T) {
	_, addr := dnstest.StartServer(t, dnstest.Store(t, dnstest.Demo()))
	for _, netw := range transports {
		for _, tc := range protoCases() {
			t.Run(netw+"/"+tc.name, func(t *testing.T) {
				q := tc.q.Copy()
				q.Id = dns.Id()
				r := exchange(t, netw, addr, q)
				if r.Id != q.Id || !r.Response {
					t.Fatalf("id %d response %v; want id %d", r.Id, r.Response, q.Id)
				}
				if r.Rcode != tc.rcode {
					t.Errorf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode])
				}
				if r.Authoritative != tc.aa {
					t.Errorf("AA=%v, want %v", r.Authoritative, tc.aa)
				}
				if r.RecursionAvailable {
					t.Errorf("RA=1")
				}
				if tc.rcode != dns.RcodeFormatError || len(r.Question) > 0 {
					if len(r.Question) != 1 || r.Question[0] != q.Question[0] {
						t.Errorf("question %v, want %v", r.Question, q.Question)
					}
				}
				for _, sec := range []struct {
					name      string
					got, want []string
				}{{"answer", rrStrings(r.Answer), norm(t, tc.answer)}, {"authority", rrStrings(r.Ns), norm(t, tc.ns)}, {"additional", rrStrings(r.Extra), norm(t, tc.extra)}} {
					if !slices.Equal(sec.got, sec.want) {
						t.Errorf("%s:\n got %s\nwant %s", sec.name, strings.Join(sec.got, "\n     "), strings.Join(sec.want, "\n     "))
					}
				}
				if (q.IsEdns0() == nil) != (r.IsEdns0() == nil) && tc.rcode != dns.RcodeFormatError {
					t.Errorf("query OPT %v, response OPT %v", q.IsEdns0() != nil, r.IsEdns0() != nil)
				}
				if tc.check != nil {
					tc.check(t, netw, r)
				}
			})
		}
	}
}

// A big RRset does not fit 512 bytes (no EDNS) nor 1232 (EDNS): over UDP
// the answer is TC=1 with no partial RRset; over TCP it is whole.
func TestTruncation(t *testing.T) {
	_, addr := dnstest.StartServer(t, dnstest.Store(t, dnstest.Demo()))
	for _, opts := range [][]func(*dns.Msg){nil, {edns(4096, false)}, {edns(100, false)}} {
		r := exchange(t, "udp", addr, query("big.gslb.example.", dns.TypeTXT, opts...))
		if !r.Truncated || len(r.Answer) != 0 || r.Rcode != dns.RcodeSuccess || !r.Authoritative {
			t.Errorf("udp (opts %d): TC=%v, %d answers, rcode %d", len(opts), r.Truncated, len(r.Answer), r.Rcode)
		}
		if (r.IsEdns0() != nil) != (len(opts) > 0) {
			t.Errorf("udp: OPT presence wrong")
		}
		r = exchange(t, "tcp", addr, query("big.gslb.example.", dns.TypeTXT, opts...))
		if r.Truncated || len(r.Answer) != 24 {
			t.Errorf("tcp: TC=%v, %d answers, want 24", r.Truncated, len(r.Answer))
		}
	}
	// Small answers are never truncated, with or without EDNS.
	r := exchange(t, "udp", addr, query("multi.gslb.example.", dns.TypeA))
	if r.Truncated || len(r.Answer) != 3 {
		t.Errorf("small answer truncated")
	}
}

func TestNSID(t *testing.T) {
	_, addr := dnstest.StartServer(t, dnstest.Store(t, dnstest.Demo()), func(c *dnsserver.Config) { c.NSID = "ns-eu-1" })
	for _, netw := range transports {
		r := exchange(t, netw, addr, query("app.gslb.example.", dns.TypeA, edns(1232, false, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})))
		var nsid string
		for _, o := range r.IsEdns0().Option {
			if n, ok := o.(*dns.EDNS0_NSID); ok {
				nsid = n.Nsid
			}
		}
		if nsid != "6e732d65752d31" { // hex("ns-eu-1")
			t.Errorf("%s: NSID %q", netw, nsid)
		}
		// Not asked: not given.
		r = exchange(t, netw, addr, query("app.gslb.example.", dns.TypeA, edns(1232, false)))
		if len(r.IsEdns0().Option) != 0 {
			t.Errorf("%s: NSID given unasked", netw)
		}
	}
}

func TestReadyAndAddrs(t *testing.T) {
	store := dnstest.Store(t, dnstest.Demo())
	s, err := dnsserver.New(dnsserver.Config{Listen: []string{"127.0.0.1:0", "127.0.0.2:0"}, Logger: dnstest.Quiet()}, store)
	if err != nil {
		t.Fatal(err)
	}
	if s.Ready() {
		t.Fatal("ready before Start")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(t.Context())
	if !s.Ready() {
		t.Fatal("not ready after Start")
	}
	udp, tcp := s.Addrs()
	if len(udp) != 2 || len(tcp) != 2 {
		t.Fatalf("addrs %v %v", udp, tcp)
	}
	for i := range udp {
		u, tc := udp[i].(*net.UDPAddr), tcp[i].(*net.TCPAddr)
		if u.Port == 0 || u.Port != tc.Port || !u.IP.Equal(tc.IP) {
			t.Errorf("udp %v tcp %v: want one port", u, tc)
		}
		for _, netw := range transports {
			exchange(t, netw, udp[i].String(), query("app.gslb.example.", dns.TypeA))
		}
	}
	// A second server on the same address fails fast, naming it.
	s2, _ := dnsserver.New(dnsserver.Config{Listen: []string{udp[0].String()}, Logger: dnstest.Quiet()}, store)
	err = s2.Start()
	if err == nil || !strings.Contains(err.Error(), udp[0].String()) {
		t.Errorf("second bind: %v", err)
	}
	// Not ready without a snapshot.
	s3, _ := dnsserver.New(dnsserver.Config{Listen: []string{"127.0.0.1:0"}, Logger: dnstest.Quiet()}, nil)
	if err := s3.Start(); err != nil {
		t.Fatal(err)
	}
	defer s3.Shutdown(t.Context())
	if s3.Ready() {
		t.Error("ready without a snapshot")
	}
}
