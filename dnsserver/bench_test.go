package dnsserver_test

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/dnsserver/dnstest"
)

// Handler benchmarks: one query through the handler function, no sockets.
// Goal (design section 4): 0 allocs/op on the fast path.

func benchQuery(b *testing.B, q *dns.Msg, src string, wantFast bool) {
	h := newHandler(b)
	req, err := q.Pack()
	if err != nil {
		b.Fatal(err)
	}
	a := netip.MustParseAddr(src)
	if _, ok := h.Fast(req, a, false, 1); ok != wantFast {
		b.Fatalf("fast path taken=%v, want %v", ok, wantFast)
	}
	b.ReportAllocs()
	for b.Loop() {
		if h.Serve(req, a, false) == nil {
			b.Fatal("no response")
		}
	}
}

// An A query with ECS /24 for a geo service: locate, Select, write.
func BenchmarkHandlerGeoECS(b *testing.B) {
	benchQuery(b, query("app.gslb.example.", dns.TypeA, edns(1232, false, subnet("81.2.69.0/24"))), "127.0.0.1", true)
}

// A static A record, no EDNS (the shape of the w1 benchmark).
func BenchmarkHandlerStatic(b *testing.B) {
	benchQuery(b, query("mail.gslb.example.", dns.TypeA), "127.0.0.1", true)
}

// A query the fast path declines (TXT): miekg/dns Unpack, lookup, Pack.
func BenchmarkHandlerGeneralPath(b *testing.B) {
	benchQuery(b, query("app.gslb.example.", dns.TypeTXT, edns(1232, false)), "127.0.0.1", false)
}

// NXDOMAIN in a zone without wildcards or delegations: fast path.
func BenchmarkHandlerNXDomain(b *testing.B) {
	benchQuery(b, query("nope.plain.example.", dns.TypeA, edns(1232, false)), "127.0.0.1", true)
}

// The same with a DNS cookie, as a BIND resolver sends every query: the
// fast path makes the server cookie (one SipHash).
func BenchmarkHandlerGeoECSCookie(b *testing.B) {
	benchQuery(b, query("app.gslb.example.", dns.TypeA, edns(1232, false, subnet("81.2.69.0/24"),
		&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"})), "127.0.0.1", true)
}

// The geo query with DO=1 for a signed zone: the general path (Unpack,
// lookup, Pack) and one signature cache hit. Compare BenchmarkHandlerGeoECS
// (the same query unsigned, fast path) and BenchmarkHandlerGeneralPath.
func BenchmarkHandlerGeoECSSigned(b *testing.B) {
	sz := newSignedZone(b, dns.ECDSAP256SHA256, false)
	s, err := dnsserver.New(dnsserver.Config{Listen: []string{"127.0.0.1:0"}, Logger: dnstest.Quiet(), DNSSECKeyDir: sz.dir}, dnstest.Store(b, sz.st))
	if err != nil {
		b.Fatal(err)
	}
	h := dnsserver.NewTestHandler(s)
	req, err := query("app.gslb.example.", dns.TypeA, edns(1232, true, subnet("81.2.69.0/24"))).Pack()
	if err != nil {
		b.Fatal(err)
	}
	a := netip.MustParseAddr("127.0.0.1")
	var r dns.Msg
	if err := r.Unpack(h.Serve(req, a, false)); err != nil || len(r.Answer) != 2 {
		b.Fatalf("signed answer: %v %v", err, r.Answer)
	}
	b.ReportAllocs()
	for b.Loop() {
		if h.Serve(req, a, false) == nil {
			b.Fatal("no response")
		}
	}
}
