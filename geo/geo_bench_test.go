package geo

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/oschwald/geoip2-golang/v2"
)

// benchAddrs returns n random IPv4 addresses inside the fixture's IPv4
// networks, so every lookup is a database hit.
func benchAddrs(n int) []netip.Addr {
	r := rand.New(rand.NewPCG(7, 8))
	nets := []netip.Prefix{
		pfx("8.8.8.0/24"), pfx("81.2.69.0/24"), pfx("202.12.27.0/24"), pfx("1.1.1.0/24"),
		pfx("200.160.0.0/20"), pfx("41.0.0.0/16"), pfx("185.0.0.0/16"), pfx("133.0.0.0/16"),
		pfx("49.0.0.0/16"), pfx("127.0.1.0/24"), pfx("127.0.2.0/24"), pfx("104.16.0.0/13"),
	}
	out := make([]netip.Addr, n)
	for i := range out {
		out[i] = randomIn(r, nets[r.IntN(len(nets))])
	}
	return out
}

func benchLocate(b *testing.B, l *Locator, addrs []netip.Addr) {
	for _, a := range addrs {
		l.Locate(a) // warm the record cache
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		l.Locate(addrs[i&(len(addrs)-1)])
		i++
	}
}

// BenchmarkLocateDB: random IPv4 clients over the fixture, warm cache.
// "miss" is uniformly random IPv4, nearly all outside the fixture.
func BenchmarkLocateDB(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 10))
	anyV4 := make([]netip.Addr, 4096)
	v6 := make([]netip.Addr, 4096)
	for i := range anyV4 {
		anyV4[i] = randomIn(r, pfx("0.0.0.0/0"))
		v6[i] = randomIn(r, []netip.Prefix{pfx("2001:67c:2e8::/48"), pfx("2600::/16"), pfx("2400:cb00::/32")}[i%3])
	}
	for _, path := range []string{cityDB, countryDB} {
		db, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		l, _ := NewLocator(db, nil)
		b.Run(path[len("../testdata/geo/"):]+"/hit", func(b *testing.B) { benchLocate(b, l, benchAddrs(4096)) })
		b.Run(path[len("../testdata/geo/"):]+"/miss", func(b *testing.B) { benchLocate(b, l, anyV4) })
		b.Run(path[len("../testdata/geo/"):]+"/ipv6", func(b *testing.B) { benchLocate(b, l, v6) })
		_ = db.Close()
	}
}

// BenchmarkLocateRule: clients matched by rules, scanned (few rules) or
// through the trie (many), with the database behind them unused.
func BenchmarkLocateRule(b *testing.B) {
	for _, n := range []int{3, linearMax, 1000} {
		r := rand.New(rand.NewPCG(11, uint64(n)))
		rules := []Rule{
			{Prefix: pfx("127.0.0.0/8"), Site: "us-east"},
			{Prefix: pfx("10.0.0.0/8"), Location: dublinRule},
		}
		rules = append(rules, randomRules(r, n-len(rules), false)...)
		l, err := NewLocator(nil, dedupe(rules))
		if err != nil {
			b.Fatal(err)
		}
		addrs := make([]netip.Addr, 4096)
		for i := range addrs {
			addrs[i] = randomIn(r, rules[r.IntN(len(rules))].Prefix)
		}
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) { benchLocate(b, l, addrs) })
	}
}

func dedupe(rules []Rule) []Rule {
	seen := map[netip.Prefix]bool{}
	out := rules[:0]
	for _, r := range rules {
		if !seen[r.Prefix] {
			seen[r.Prefix] = true
			out = append(out, r)
		}
	}
	return out
}

func BenchmarkDistance(b *testing.B) {
	b.ReportAllocs()
	var sink float64
	for b.Loop() {
		sink += DistanceKm(london, tokyo)
	}
	_ = sink
}

// BenchmarkDecode measures the cold path, decoding one record on a cache
// miss: into record (what decode uses) and into geoip2.City.
func BenchmarkDecode(b *testing.B) {
	db, err := Open(cityDB)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	off := db.r.Lookup(addr("81.2.69.142")).Offset()
	b.Run("record", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var rec record
			if err := db.r.LookupOffset(off).Decode(&rec); err != nil || rec.Country.ISOCode != "GB" {
				b.Fatal(err)
			}
		}
	})
	b.Run("geoip2.City", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var rec geoip2.City
			if err := db.r.LookupOffset(off).Decode(&rec); err != nil || rec.Country.ISOCode != "GB" {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkLookupUncached is what Locate would cost without the record
// cache: a lookup and a decode per query.
func BenchmarkLookupUncached(b *testing.B) {
	db, err := Open(cityDB)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	addrs := benchAddrs(4096)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		res := db.r.Lookup(addrs[i&4095])
		if _, ok := db.decode(res.Offset()); !ok {
			b.Fatal("not decoded")
		}
		i++
	}
}
