package scale

import (
	"net"
	"testing"

	"github.com/miekg/dns"
)

// The hand-written wire format agrees with miekg/dns both ways.
func TestWireFormat(t *testing.T) {
	q := Query("app7.scale.example.", 1)
	SetID(q, 0x1234)
	var m dns.Msg
	if err := m.Unpack(q); err != nil {
		t.Fatal(err)
	}
	if m.Id != 0x1234 || len(m.Question) != 1 || m.Question[0].Name != "app7.scale.example." || m.Question[0].Qtype != dns.TypeA || m.RecursionDesired {
		t.Fatalf("query unpacks as %v", &m)
	}
	r := new(dns.Msg).SetReply(&m)
	r.Compress = true
	r.Answer = []dns.RR{
		&dns.A{Hdr: dns.RR_Header{Name: "app7.scale.example.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 42}, A: net.IPv4(10, 1, 2, 3)},
		&dns.A{Hdr: dns.RR_Header{Name: "app7.scale.example.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 42}, A: net.IPv4(10, 1, 2, 4)},
	}
	for _, compress := range []bool{true, false} {
		r.Compress = compress
		b, err := r.Pack()
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseResponse(b)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != 0x1234 || got.Rcode != 0 || got.Answers != 2 || got.TTL != 42 || got.A != [4]byte{10, 1, 2, 3} {
			t.Errorf("compress=%v: parsed %+v", compress, got)
		}
	}
	if _, err := ParseResponse(q[:5]); err == nil {
		t.Error("a 5-byte message parsed")
	}
	r.Rcode = dns.RcodeNameError
	r.Answer = nil
	b, _ := r.Pack()
	if got, err := ParseResponse(b); err != nil || got.Rcode != 3 || got.Answers != 0 {
		t.Errorf("NXDOMAIN parsed as %+v, %v", got, err)
	}
}
