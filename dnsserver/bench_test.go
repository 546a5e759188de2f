package dnsserver_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/dnsserver/dnstest"
	"github.com/meridian-gslb/meridian/gslb"
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

// The geo query for a service with load shedding (issue #12), every
// member with a fresh signal: "BelowLow" sheds nothing (the usual case;
// compare BenchmarkHandlerGeoECS), "Shedding" has the nearest site between
// its watermarks, so the client's network is hashed against it.
func BenchmarkHandlerGeoECSLoadBelowLow(b *testing.B) { benchLoad(b, 0.2) }
func BenchmarkHandlerGeoECSLoadShedding(b *testing.B) { benchLoad(b, 0.7) }

func benchLoad(b *testing.B, nearest float64) {
	st := dnstest.Demo()
	for i := range st.Services {
		if st.Services[i].Name == "app.gslb.example." {
			st.Services[i].Policy.Load = gslb.LoadPolicy{Low: 0.5, High: 0.9}
		}
	}
	st.ApplyDefaults()
	store := dnstest.Store(b, st)
	now := time.Now()
	v := benchLoadView{"eu-west": nearest, "us-east": 0.2, "ap-south": 0.2}
	if err := store.Update(func(cur *gslb.Snapshot) (*gslb.Snapshot, error) {
		return cur.WithLoad(v, []string{"app.gslb.example."}, now), nil
	}); err != nil {
		b.Fatal(err)
	}
	s, err := dnsserver.New(dnsserver.Config{Listen: []string{"127.0.0.1:0"}, Logger: dnstest.Quiet()}, store)
	if err != nil {
		b.Fatal(err)
	}
	h := dnsserver.NewTestHandler(s)
	req, err := query("app.gslb.example.", dns.TypeA, edns(1232, false, subnet("81.2.69.0/24"))).Pack()
	if err != nil {
		b.Fatal(err)
	}
	a := netip.MustParseAddr("127.0.0.1")
	if _, ok := h.Fast(req, a, false, 1); !ok {
		b.Fatal("fast path not taken")
	}
	b.ReportAllocs()
	for b.Loop() {
		if h.Serve(req, a, false) == nil {
			b.Fatal("no response")
		}
	}
}

// benchLoadView is a fresh load per site.
type benchLoadView map[string]float64

func (v benchLoadView) MemberLoad(_ string, m *gslb.Member, _ time.Duration, _ time.Time) (gslb.LoadSignal, bool) {
	l, ok := v[m.Site]
	return gslb.LoadSignal{Value: l, At: time.Now(), Source: "probe"}, ok
}
