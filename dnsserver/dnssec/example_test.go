package dnssec_test

import (
	"fmt"

	"github.com/meridian-gslb/meridian/dnsserver/dnssec"
	"github.com/miekg/dns"
)

// A handler's use: one CSK, a signed geo answer and a compact denial for a
// name that does not exist.
func Example() {
	csk, err := dnssec.Generate("example.com.", dns.ECDSAP256SHA256, dnssec.FlagsKSK)
	if err != nil {
		panic(err)
	}
	signer, err := dnssec.NewSigner("example.com.", []*dnssec.Key{csk}, dnssec.Options{})
	if err != nil {
		panic(err)
	}

	answer := []dns.RR{&dns.A{
		Hdr: dns.RR_Header{Name: "www.example.com.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30},
		A:   []byte{192, 0, 2, 1},
	}}
	sigs, err := signer.Sign(answer) // cached: the next equal answer is not signed again
	if err != nil {
		panic(err)
	}
	fmt.Println(len(sigs), sigs[0].(*dns.RRSIG).TypeCovered == dns.TypeA)

	// NXDOMAIN becomes NOERROR with this NSEC (and the SOA) in authority.
	nsec, _, err := signer.Deny("nope.example.com.", nil, true, 300)
	if err != nil {
		panic(err)
	}
	fmt.Println(nsec)
	// Output:
	// 1 true
	// nope.example.com.	300	IN	NSEC	\000.nope.example.com. RRSIG NSEC NXNAME
}
