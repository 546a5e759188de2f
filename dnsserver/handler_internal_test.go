package dnsserver

import (
	"testing"

	"github.com/miekg/dns"
)

// TestDropLastRRsetTakesItsSignatures: truncation drops a trailing
// RRSIG group together with the RRset it covers, never the signatures
// alone, and keeps the RRsets before them.
func TestDropLastRRsetTakesItsSignatures(t *testing.T) {
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	sec := []dns.RR{
		rr("a.example. 60 IN TXT \"x\""),
		rr("a.example. 60 IN RRSIG TXT 13 2 60 20300101000000 20200101000000 1 example. AAAA"),
		rr("b.example. 60 IN A 192.0.2.1"),
		rr("b.example. 60 IN A 192.0.2.2"),
		rr("b.example. 60 IN RRSIG A 13 2 60 20300101000000 20200101000000 1 example. AAAA"),
	}
	got := dropLastRRset(sec)
	if len(got) != 2 || got[1].Header().Rrtype != dns.TypeRRSIG {
		t.Fatalf("after one drop: %v, want the TXT RRset and its signature", got)
	}
	if got = dropLastRRset(got); len(got) != 0 {
		t.Fatalf("after two drops: %v, want nothing", got)
	}
	// Unsigned RRsets: one RRset at a time, as before.
	if got := dropLastRRset(sec[2:4]); len(got) != 0 {
		t.Fatalf("unsigned A RRset: %v", got)
	}
}
