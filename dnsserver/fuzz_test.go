package dnsserver_test

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/dnsserver/dnstest"
)

// FuzzHandler feeds arbitrary bytes to the handler: it never panics (a
// panic would be recovered into SERVFAIL, so the test hook also fails on
// the panics counter), every response parses and echoes the ID, and when
// the fast path takes a message its answer equals the general path's.
// The seed corpus is in testdata/fuzz/FuzzHandler.
func FuzzHandler(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 16 {
		f.Add(genQuery(r), false)
	}
	fuzzHandler(f, newHandler(f))
}

// FuzzSignedHandler is FuzzHandler for the demo state with its first zone
// signed: DO=1 queries take the signing code (sign.go, the fast path's
// cached RRSIGs). The seeds are FuzzHandler's queries with DO set.
func FuzzSignedHandler(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 16 {
		m := new(dns.Msg)
		if err := m.Unpack(genQuery(r)); err == nil {
			m.SetEdns0(1232, true)
			if b, err := m.Pack(); err == nil {
				f.Add(b, false)
			}
		}
	}
	sz := newSignedZone(f, dns.ED25519, true)
	s, err := dnsserver.New(dnsserver.Config{Listen: []string{"127.0.0.1:0"}, Logger: dnstest.Quiet(), DNSSECKeyDir: sz.dir}, dnstest.Store(f, sz.st))
	if err != nil {
		f.Fatal(err)
	}
	fuzzHandler(f, dnsserver.NewTestHandler(s))
}

func fuzzHandler(f *testing.F, h *dnsserver.Handler) {
	src := netip.MustParseAddr("81.2.69.1")
	f.Fuzz(func(t *testing.T, req []byte, tcp bool) {
		rnd := uint64(len(req))
		if fast, ok := h.Fast(req, src, tcp, rnd); ok {
			fast = bytes.Clone(fast)
			if general := h.General(req, src, tcp, rnd); !bytes.Equal(fast, general) {
				t.Fatalf("fast and general paths differ:\nfast    % x\ngeneral % x", fast, general)
			}
		}
		resp := h.General(req, src, tcp, rnd)
		if resp == nil {
			if len(req) >= 12 && req[2]&0x80 == 0 {
				t.Fatalf("no answer to a query with a full header")
			}
			return
		}
		if len(req) < 12 {
			t.Fatalf("answered a message shorter than a header")
		}
		m := new(dns.Msg)
		if err := m.Unpack(resp); err != nil {
			t.Fatalf("response does not parse: %v\n% x", err, resp)
		}
		if m.Id != binary.BigEndian.Uint16(req) || !m.Response {
			t.Fatalf("id %d (QR %v), query id %d", m.Id, m.Response, binary.BigEndian.Uint16(req))
		}
		if m.Rcode == dns.RcodeServerFailure {
			t.Fatalf("SERVFAIL (a recovered panic?) for % x", req)
		}
		if !tcp && len(resp) > 1232 {
			t.Fatalf("UDP response of %d bytes", len(resp))
		}
	})
}
