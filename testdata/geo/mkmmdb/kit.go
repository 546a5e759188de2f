package main

// -size kit: a database of the same shape as the shared benchmark kit's
// (../shared/bench, "benchtool mkmmdb"), so Meridian can be measured on it
// without the kit: about 2.1M IPv4 networks of /18 to /24, a search tree of
// about 1.9M nodes, every IPv4 /8 on one continent, three IPv6 /16s and the
// kit's loopback networks. The kit's checks expect answers by continent
// (EU, AF -> eu-west; AS, OC -> ap-south; NA, SA and misses -> us-east), so
// the continent of every /8 is the kit's; the cities are this program's.

import (
	"math/rand/v2"
	"net/netip"
)

// kitUnmapped are the /8s the kit leaves out of its database: reserved
// space and the /8s holding the benchmark's site addresses.
var kitUnmapped = map[int]bool{0: true, 10: true, 100: true, 127: true, 169: true, 172: true, 192: true, 198: true, 203: true}

// kitCycle is the kit's continent of /8 number i, by i mod 20.
var kitCycle = [20]string{
	"EU", "EU", "EU", "EU", "EU", "EU", // 0-5
	"NA", "NA", "NA", "NA", "NA", // 6-10
	"AS", "AS", "AS", "AS", // 11-14
	"SA", "AF", "OC", // 15-17
	"", "", // 18, 19: not in the database
}

// kitContinent is the continent of 1.0.0.0/8 .. 223.0.0.0/8 in the kit's
// layout; "" means the /8 is not in the database.
func kitContinent(slash8 int) string {
	if slash8 >= 224 || kitUnmapped[slash8] {
		return ""
	}
	return kitCycle[slash8%20]
}

// kitCityCount is how many cities the kit has per continent; with as many,
// adjacent networks share a record (and mmdbwriter merges them) as often as
// in the kit, so the tree has the kit's size.
var kitCityCount = map[string]int{"EU": 8, "NA": 7, "AS": 6, "SA": 2, "AF": 3, "OC": 2}

// kitCities gives each continent the first metro of its first countries
// in world.
func kitCities(db *bigDB) map[string][]int32 {
	out := map[string][]int32{}
	for i, c := range world {
		if len(out[c.continent]) == kitCityCount[c.continent] {
			continue
		}
		mt := c.metros[0]
		out[c.continent] = append(out[c.continent], db.addCity(location{name: mt.name, country: i, lat: mt.lat, lon: mt.lon, tz: mt.tz}))
	}
	return out
}

func genKit(db *bigDB, r *rand.Rand) error {
	cities := kitCities(db)
	// The kit's records all have a 50 km accuracy radius.
	rec := func(c int32) recKey { return recKey{city: c, country: -1, registered: -1, radius: 50} }
	for s8 := 1; s8 < 224; s8++ {
		cont := kitContinent(s8)
		if cont == "" {
			continue
		}
		list := cities[cont]
		// Walk the /8 left to right, cutting a network of random length
		// /18../24; where the address is not aligned to that length the
		// network gets longer, as the kit's do (which is why /24s are
		// more common than a uniform draw would give).
		for a, end := uint64(s8)<<24, uint64(s8+1)<<24; a < end; {
			bits := 18 + r.IntN(7)
			for bits < 24 && a&(1<<(32-bits)-1) != 0 {
				bits++
			}
			p := netip.PrefixFrom(addr4(uint32(a)), bits)
			if err := db.insert(p, rec(list[r.IntN(len(list))])); err != nil {
				return err
			}
			a += 1 << (32 - bits)
		}
	}
	// The kit's fixed networks: loopbacks for the source-address fallback
	// check (127.0.0.0/24 US, 127.0.1.0/24 DE, 127.0.2.0/24 IN) and one
	// IPv6 /16 each for NA, EU and AS.
	for _, f := range []struct{ p, cont, cc string }{
		{"127.0.0.0/24", "NA", "US"}, {"127.0.1.0/24", "EU", "DE"}, {"127.0.2.0/24", "AS", "IN"},
		{"2600::/16", "NA", "US"}, {"2a00::/16", "EU", "DE"}, {"2400::/16", "AS", "IN"},
	} {
		c := cities[f.cont][0]
		for _, i := range cities[f.cont] {
			if world[db.cities[i].country].cc == f.cc {
				c = i
				break
			}
		}
		if err := db.insert(netip.MustParsePrefix(f.p), rec(c)); err != nil {
			return err
		}
	}
	return nil
}

func addr4(a uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)})
}
