// Package work defines the two side-by-side workloads, the files they need
// and the answers every server must give before it is timed.
//
//	w1  static zone gslb.example.: SOA, NS, ns1, app and www0..www999 A
//	    records; queries are 20% app A and 80% a random wwwN A, no EDNS.
//	w2  geo: app.gslb.example A, each query with an ECS option for a distinct
//	    random public IPv4 /24 (RD clear, EDNS 1232). The answer follows the
//	    continent the database gives the ECS address (the source address
//	    without ECS): EU, AF -> eu-west; AS, OC -> ap-south; anything else,
//	    or not in the database -> us-east. Its signed variant (w2 against
//	    Meridian with the zone signed) asks the same queries with the DNSSEC
//	    OK bit set and wants the A RRset signed.
package work

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"strings"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/test/bench/internal/dnsq"
	"github.com/meridian-gslb/meridian/test/bench/internal/geodb"
)

// Zone is the benchmark zone's origin.
const Zone = "gslb.example."

// App is the geo-balanced name.
const App = "app.gslb.example."

// Site is one answer of the geo workload.
type Site struct {
	Name string
	Addr string
}

// Sites are the three sites, in the order of the server configurations.
var Sites = []Site{
	{"us-east", "192.0.2.10"},
	{"eu-west", "198.51.100.10"},
	{"ap-south", "203.0.113.10"},
}

// SiteOf is the site that answers a continent code ("" = unknown).
func SiteOf(continent string) Site {
	switch continent {
	case "EU", "AF":
		return Sites[1]
	case "AS", "OC":
		return Sites[2]
	}
	return Sites[0]
}

// Continents lists every continent code with its site, for configurations
// that enumerate them.
var Continents = []string{"AF", "AN", "AS", "EU", "NA", "OC", "SA"}

// NumWWW is the number of wwwN names in the zone.
const NumWWW = 1000

// WWWAddr is the address of wwwN.
func WWWAddr(n int) string { return fmt.Sprintf("10.1.%d.%d", n/256, n%256) }

// ZoneText is the w1 zone file with app pointing at appAddr (the us-east
// address for the plain zone; servers that pick a zone per site get one
// file per site). appLine, when set, replaces the whole app line (gdnsd's
// DYNA record).
func ZoneText(appAddr, appLine string) string {
	var b strings.Builder
	b.WriteString("$ORIGIN gslb.example.\n$TTL 30\n")
	b.WriteString("@ 3600 IN SOA ns1.gslb.example. hostmaster.gslb.example. 2024010101 7200 3600 1209600 60\n")
	b.WriteString("@ 3600 IN NS ns1.gslb.example.\n")
	b.WriteString("ns1 3600 IN A 127.0.0.1\n")
	if appLine == "" {
		appLine = "app 30 IN A " + appAddr
	}
	b.WriteString(appLine + "\n")
	for i := range NumWWW {
		fmt.Fprintf(&b, "www%d 30 IN A %s\n", i, WWWAddr(i))
	}
	return b.String()
}

// writeQueries writes n queries made by next to path.
func writeQueries(path string, n int, next func(i int) *dns.Msg) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := dnsq.NewWriter(f)
	for i := range n {
		if err := w.Add(next(i)); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// WriteW1 writes n static-zone queries (fixed seed).
func WriteW1(path string, n int) error {
	rng := rand.New(rand.NewPCG(1, 101))
	return writeQueries(path, n, func(int) *dns.Msg {
		name := App
		if rng.IntN(5) != 0 {
			name = fmt.Sprintf("www%d.%s", rng.IntN(NumWWW), Zone)
		}
		return dnsq.Query(name, dns.TypeA, false, netip.Prefix{})
	})
}

// WriteW2 writes n geo queries, each with the ECS option of a different
// random public /24 (fixed seed), with the DNSSEC OK bit when do is set
// (the same queries otherwise). n is at most a few million.
func WriteW2(path string, n int, do bool) error {
	rng := rand.New(rand.NewPCG(2, 202))
	used := make([]uint64, 1<<24/64) // one bit per /24
	return writeQueries(path, n, func(int) *dns.Msg {
		for {
			b := [4]byte{byte(1 + rng.IntN(223)), byte(rng.IntN(256)), byte(rng.IntN(256)), 0}
			a := netip.AddrFrom4(b)
			if !geodb.Public(a) {
				continue
			}
			k := uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])
			if used[k/64]&(1<<(k%64)) != 0 {
				continue
			}
			used[k/64] |= 1 << (k % 64)
			m := dnsq.Query(App, dns.TypeA, true, netip.PrefixFrom(a, 24))
			if do {
				dnsq.SetDO(m)
			}
			return m
		}
	})
}
