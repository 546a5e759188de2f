package dnsq

import (
	"crypto"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestSetDO(t *testing.T) {
	m := SetDO(Query("app.gslb.example.", dns.TypeA, false, netip.Prefix{}))
	if opt := m.IsEdns0(); opt == nil || !opt.Do() || opt.UDPSize() != EDNSSize {
		t.Fatalf("no OPT with DO: %v", m)
	}
	m = SetDO(Query("app.gslb.example.", dns.TypeA, true, netip.MustParsePrefix("192.0.2.0/24")))
	if opt := m.IsEdns0(); len(m.Extra) != 1 || !opt.Do() || len(opt.Option) != 1 {
		t.Fatalf("ECS query with DO: %v", m)
	}
}

func TestSigned(t *testing.T) {
	newKey := func() (*dns.DNSKEY, crypto.Signer) {
		k := &dns.DNSKEY{Hdr: dns.RR_Header{Name: "gslb.example.", Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
			Flags: 257, Protocol: 3, Algorithm: dns.ECDSAP256SHA256}
		priv, err := k.Generate(256)
		if err != nil {
			t.Fatal(err)
		}
		return k, priv.(crypto.Signer)
	}
	key, priv := newKey()
	other, _ := newKey()
	now := time.Now()
	a := &dns.A{Hdr: dns.RR_Header{Name: "app.gslb.example.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30}, A: net.IPv4(192, 0, 2, 10)}
	sig := &dns.RRSIG{Hdr: dns.RR_Header{Name: "app.gslb.example.", Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: 30},
		KeyTag: key.KeyTag(), SignerName: key.Hdr.Name, Algorithm: key.Algorithm,
		Inception: uint32(now.Add(-time.Hour).Unix()), Expiration: uint32(now.Add(time.Hour).Unix())}
	if err := sig.Sign(priv, []dns.RR{a}); err != nil {
		t.Fatal(err)
	}
	reply := func(rrs ...dns.RR) *dns.Msg { return &dns.Msg{Answer: rrs} }
	forged := *a
	forged.A = net.IPv4(198, 51, 100, 10)
	for _, c := range []struct {
		name string
		r    *dns.Msg
		keys []*dns.DNSKEY
		now  time.Time
		ok   bool
	}{
		{"signed", reply(a, sig), []*dns.DNSKEY{other, key}, now, true},
		{"no RRSIG", reply(a), []*dns.DNSKEY{key}, now, false},
		{"no A", reply(sig), []*dns.DNSKEY{key}, now, false},
		{"other key", reply(a, sig), []*dns.DNSKEY{other}, now, false},
		{"expired", reply(a, sig), []*dns.DNSKEY{key}, now.Add(2 * time.Hour), false},
		{"another address", reply(&forged, sig), []*dns.DNSKEY{key}, now, false},
	} {
		why := Signed(c.r, dns.TypeA, c.keys, c.now)
		if (why == "") != c.ok {
			t.Errorf("%s: %q", c.name, why)
		}
	}
}
