package dnsserver_test

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/dnsserver/dnstest"
)

// newHandler returns the handler of a server for the demo state; the
// server is not started (no sockets needed).
func newHandler(t testing.TB) *dnsserver.Handler {
	s, err := dnsserver.New(dnsserver.Config{Listen: []string{"127.0.0.1:0"}, Logger: dnstest.Quiet()}, dnstest.Store(t, dnstest.Demo()))
	if err != nil {
		t.Fatal(err)
	}
	return dnsserver.NewTestHandler(s)
}

// genQuery makes a random query, mostly of the fast path's shape, with
// random case, flags, EDNS sizes, DO and ECS (valid and not).
func genQuery(r *rand.Rand) []byte {
	names := []string{"app", "www", "rr", "edge", "inedge", "v4only", "deep.svc", "mail", "multi", "v6", "ns1", "sip",
		"nope", "c", "b.c", "x.wild", "sub", "ns1.sub", "docs", "", "big", "_tcp.app", "x.app", "gslb.example.com",
		"www.plain.example.", "api.plain.example.", "y.z.plain.example.", "z.plain.example.", "x.y.z.plain.example.",
		"nope.plain.example.", "a.b.c.d.e.f.plain.example.", "plain.example.", "alias.plain.example.", "ns1.plain.example."}
	name := names[r.IntN(len(names))]
	if strings.HasSuffix(name, "plain.example.") {
	} else if name != "gslb.example.com" {
		if name != "" {
			name += "."
		}
		name += "gslb.example."
	} else {
		name += "."
	}
	b := []byte(name)
	for i := range b {
		if r.IntN(3) == 0 && b[i] >= 'a' && b[i] <= 'z' {
			b[i] -= 'a' - 'A'
		}
	}
	m := new(dns.Msg)
	qt := []uint16{dns.TypeA, dns.TypeAAAA}[r.IntN(2)]
	if r.IntN(10) == 0 {
		qt = dns.TypeTXT
	}
	m.SetQuestion(string(b), qt)
	m.Id = uint16(r.Uint32())
	m.RecursionDesired = r.IntN(2) == 0
	m.CheckingDisabled = r.IntN(4) == 0
	m.AuthenticatedData = r.IntN(4) == 0
	if r.IntN(4) != 0 {
		m.SetEdns0(uint16(r.IntN(5000)), r.IntN(2) == 0)
		o := m.IsEdns0()
		switch r.IntN(6) {
		case 0:
		case 1:
			o.Option = append(o.Option, &dns.EDNS0_LOCAL{Code: 65001, Data: []byte{1}})
		default:
			var fam uint16 = 1
			bits := 32
			if r.IntN(3) == 0 {
				fam, bits = 2, 128
			}
			src := r.IntN(bits + 1)
			addr := make([]byte, (src+7)/8)
			for i := range addr {
				addr[i] = byte(r.Uint32())
			}
			if src%8 != 0 && r.IntN(8) != 0 {
				addr[len(addr)-1] &^= 0xff >> (src % 8) // mostly valid
			}
			if len(addr) > 0 && r.IntN(4) == 0 {
				// Often a network the geo rules know.
				copy(addr, []byte{81, 2, 69, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}[:len(addr)])
				if fam == 2 {
					copy(addr, []byte{0x20, 0x01, 0x06, 0x7c, 0x02, 0xe8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}[:len(addr)])
				}
			}
			data := binary.BigEndian.AppendUint16(nil, fam)
			data = append(data, byte(src), 0)
			data = append(data, addr...)
			o.Option = append(o.Option, &dns.EDNS0_LOCAL{Code: 8, Data: data})
		}
		if r.IntN(3) == 0 {
			// A cookie, as BIND sends with every query: client only,
			// with a server cookie, or of a malformed length.
			c := make([]byte, []int{8, 8, 24, 24, 16, 40, 5, 41}[r.IntN(8)])
			for i := range c {
				c[i] = byte(r.Uint32())
			}
			if len(c) == 24 {
				c[8] = 1 // version 1
			}
			o.Option = append(o.Option, &dns.EDNS0_LOCAL{Code: 10, Data: c})
		}
	}
	out, err := m.Pack()
	if err != nil {
		panic(err)
	}
	return out
}

var sources = []netip.Addr{
	netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("81.2.69.1"), netip.MustParseAddr("202.12.27.9"),
	netip.MustParseAddr("::1"), netip.MustParseAddr("2001:67c:2e8::1"), netip.MustParseAddr("::ffff:8.8.8.8"),
}

// The fast path must answer exactly as the general path for every query
// it takes.
func TestFastPathMatchesGeneral(t *testing.T) {
	t.Run("unsigned", func(t *testing.T) { fastMatchesGeneral(t, newHandler(t), 1) })
	// Signed answers to DO=1 queries: the fast path copies the RRSIGs'
	// wire form from the signer's cache.
	t.Run("signed", func(t *testing.T) {
		sz := newSignedZone(t, dns.ED25519, false)
		s, err := dnsserver.New(dnsserver.Config{Listen: []string{"127.0.0.1:0"}, Logger: dnstest.Quiet(), DNSSECKeyDir: sz.dir}, dnstest.Store(t, sz.st))
		if err != nil {
			t.Fatal(err)
		}
		if signed := fastMatchesGeneral(t, dnsserver.NewTestHandler(s), 2); signed < 200 {
			t.Errorf("the fast path signed only %d answers", signed)
		}
	})
}

// fastMatchesGeneral compares the paths over random queries and returns
// how many fast answers carried signatures.
func fastMatchesGeneral(t *testing.T, h *dnsserver.Handler, seed uint64) (signed int) {
	h.FreezeCookies(time.Unix(1700000000, 0)) // both paths make the same server cookie
	r := rand.New(rand.NewPCG(seed, 2))
	taken := 0
	const n = 20000
	for i := range n {
		q := genQuery(r)
		src := sources[r.IntN(len(sources))]
		tcp := r.IntN(4) == 0
		rnd := r.Uint64()
		fast, ok := h.Fast(q, src, tcp, rnd)
		if !ok {
			continue
		}
		taken++
		fast = bytes.Clone(fast)
		var fm dns.Msg
		if fm.Unpack(fast) == nil && slices.ContainsFunc(fm.Answer, func(rr dns.RR) bool { return rr.Header().Rrtype == dns.TypeRRSIG }) {
			signed++
		}
		general := h.General(q, src, tcp, rnd)
		if !bytes.Equal(fast, general) {
			m := new(dns.Msg)
			m.Unpack(q)
			fm, gm := new(dns.Msg), new(dns.Msg)
			fm.Unpack(fast)
			gm.Unpack(general)
			t.Fatalf("query %d differs:\n%v\nfast    % x\n%v\ngeneral % x\n%v", i, m, fast, fm, general, gm)
		}
	}
	t.Logf("fast path took %d of %d queries", taken, n)
	if taken < n/8 {
		t.Errorf("fast path took only %d of %d", taken, n)
	}
	t.Logf("%d fast answers were signed", signed)
	return signed
}

// Which queries the fast path takes, and that it declines the rest.
func TestFastPathScope(t *testing.T) {
	h := newHandler(t)
	src := netip.MustParseAddr("127.0.0.1")
	for _, tc := range []struct {
		q    *dns.Msg
		fast bool
	}{
		{query("app.gslb.example.", dns.TypeA), true},
		{query("APP.gslb.example.", dns.TypeAAAA, edns(1232, true, subnet("81.2.69.0/24"))), true},
		{query("mail.gslb.example.", dns.TypeA), true},
		{query("multi.gslb.example.", dns.TypeA, edns(512, false)), true},
		{query("app.gslb.example.", dns.TypeTXT), false},
		{query("nope.gslb.example.", dns.TypeA), false}, // zone with wildcards
		{query("nope.plain.example.", dns.TypeA), true}, // NXDOMAIN
		{query("Nope.Plain.example.", dns.TypeAAAA, edns(1232, true, subnet("81.2.69.0/24"))), true},
		{query("z.plain.example.", dns.TypeA), true},        // ENT: NODATA
		{query("api.plain.example.", dns.TypeAAAA), true},   // service
		{query("alias.plain.example.", dns.TypeA), false},   // CNAME
		{query("mail.gslb.example.", dns.TypeAAAA), true},   // NODATA
		{query("edge.gslb.example.", dns.TypeA), false},     // CNAME
		{query("docs.gslb.example.", dns.TypeA), false},     // static CNAME
		{query("v4only.gslb.example.", dns.TypeAAAA), true}, // NODATA
		{query("ns1.sub.gslb.example.", dns.TypeA), false},  // below a cut
		{query("x.wild.gslb.example.", dns.TypeA), false},   // wildcard
		{query("example.com.", dns.TypeA), false},           // refused
		{query("app.gslb.example.", dns.TypeA, edns(1232, false, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})), false},
		// A cookie, with ECS or not: what BIND resolvers send.
		{query("app.gslb.example.", dns.TypeA, edns(1232, false, subnet("81.2.69.0/24"), &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"})), true},
		{query("mail.gslb.example.", dns.TypeA, edns(1232, false, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"})), true},
		{query("mail.gslb.example.", dns.TypeA, edns(1232, false, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405"})), false}, // malformed: FORMERR
		{query("app.gslb.example.", dns.TypeA, edns(1232, false), func(m *dns.Msg) { m.IsEdns0().SetVersion(1) }), false},
		{query("app.gslb.example.", dns.TypeA, func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify }), false},
		{query("a\\.b.gslb.example.", dns.TypeA), false},
	} {
		b, _ := tc.q.Pack()
		_, ok := h.Fast(b, src, false, 1)
		if ok != tc.fast {
			t.Errorf("%s %s: fast=%v, want %v", tc.q.Question[0].Name, dns.Type(tc.q.Question[0].Qtype), ok, tc.fast)
		}
	}
}

// Goal of design section 4: the fast path allocates nothing.
func TestFastPathAllocs(t *testing.T) {
	h := newHandler(t)
	geoq, _ := query("app.gslb.example.", dns.TypeA, edns(1232, false, subnet("81.2.69.0/24"))).Pack()
	static, _ := query("www.gslb.example.", dns.TypeA).Pack()
	staticq, _ := query("mail.gslb.example.", dns.TypeA).Pack()
	src := netip.MustParseAddr("127.0.0.1")
	nx, _ := query("nope.plain.example.", dns.TypeA, edns(1232, false)).Pack()
	for name, q := range map[string][]byte{"geo": geoq, "weighted": static, "static": staticq, "nxdomain": nx} {
		if _, ok := h.Fast(q, src, false, 1); !ok {
			t.Fatalf("%s: not taken by the fast path", name)
		}
		if a := testing.AllocsPerRun(200, func() { h.Serve(q, src, false) }); a != 0 {
			t.Errorf("%s: %v allocs per query", name, a)
		}
	}
}
