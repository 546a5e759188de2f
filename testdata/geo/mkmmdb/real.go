package main

// -size real: a database with the size and the structure of a real
// GeoIP2-City file, for benchmarks of lookups and of the geo compiler.
//
// The model follows how addresses are really allocated and located, since
// the ECS scopes a compiler derives (adjacent networks that lead to the same
// site merge) depend on that clustering:
//
//   - Locations: 150k synthetic cities scattered (Gaussian, sigma 30 to
//     100 km, one in ten three times wider: rural) around 296 real metros
//     of 74 countries (world.go); a country gets cities in proportion to
//     weight^0.6, a metro to its own weight. A network's city is the
//     metro itself ~30% of the time, else skewed to the first cities.
//   - IPv4, top down. Each /8 belongs to the RIR IANA gave it to (rir8,
//     roughly). It is cut into allocation blocks (the whole /8 for half
//     of the legacy ARIN /8s, else /10../16), each held by one country
//     of that RIR; 1 in 30 is unrouted (no record). An allocation block
//     is split in halves recursively, depth first: at each length a
//     network stops as a leaf (one record) with probability stop4[len],
//     derived from a GeoIP2-City-like histogram (peak at /24, tail to
//     /32). Between /14 and /20 a subtree becomes, 1 time in 4, a new
//     region (an ISP's regional pool): one metro of the country, or
//     rarely another country (hosting, reassigned space;
//     registered_country stays the block's) or nothing at all, with a
//     density that makes it coarser or finer than average. Inside a
//     region consecutive leaves keep one city for a while (2 in 3),
//     then move to another city of the same metro (sometimes another
//     metro); 2% are country-only (no city, no location), 0.5% are
//     abroad, 2% are missing (gaps). Accuracy radius depends on the
//     prefix length and changes more often than the city, as in
//     MaxMind's data, so neighbours in one city are often distinct
//     records that mmdbwriter cannot merge but a geo compiler can (they
//     lead to the same site).
//   - IPv6: RIR pools (2400::/12 APNIC, 2600::/12 ARIN, 2800::/12 LACNIC,
//     2a00::/12 and 2a10::/12 RIPE, 2c00::/12 AFRINIC, a few 2001::/23s)
//     hold LIR allocations (/19../32, mostly /29 and /32) placed sparsely,
//     as RIRs do. An allocation is one country (1 in 12 is missing); 60%
//     are one network (city, or country-only for a third), the others
//     have that covering record plus customer pools (/36../44, filled
//     from the bottom) of sequential assignments of one size (mostly
//     /48, else /44, /52, /56, /64) in cities of the allocation's metro;
//     the covering record fills the rest, which gives the /33../47 and
//     /49../63 networks real files have too.
//   - Reserved IPv4 space (RFC 1918, CGN, link-local, documentation,
//     multicast, ...) has no record; the kit's loopback networks
//     127.0.0.0/24 (US), 127.0.1.0/24 (DE), 127.0.2.0/24 (IN) are added so
//     the kit's source-address check works on this database too.
//
// The parameters were tuned until the file had about 6M search-tree nodes,
// the prefix-length mix of a GeoIP2-City file (IPv4 peaking at /24 with a
// tail to /32, IPv6 peaking at /32 and /48) and ~100k-200k located cities
// (run -stats on the output to see them). With -seed 1: 5.86M nodes, 3.7M
// IPv4 and 2.0M IPv6 networks with data, 0.8M distinct records, 81 MB;
// mmdbwriter needs about 3 GB of memory and 1.5 minutes to build it.

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
)

// realCities is the number of synthetic cities drawn.
const realCities = 150_000

// realWorld is the state of one -size real generation.
type realWorld struct {
	db          *bigDB
	r           *rand.Rand
	metroCities [][][]int32       // [country][metro] -> cities, the metro itself first
	metroPick   []picker          // per country: metro by weight
	rirPick     map[string]picker // per RIR: index into rirMembers by weight
	rirMembers  map[string][]int
	anyPick     picker // any country, by weight: for exceptions
}

func genReal(db *bigDB, r *rand.Rand) error {
	w := &realWorld{db: db, r: r, rirPick: map[string]picker{}, rirMembers: map[string][]int{}}
	w.makeCities()
	var all []float64
	rirWeights := map[string][]float64{}
	for i, c := range world {
		all = append(all, c.weight)
		w.rirMembers[c.rir] = append(w.rirMembers[c.rir], i)
		rirWeights[c.rir] = append(rirWeights[c.rir], c.weight)
	}
	w.anyPick = newPicker(all)
	for rir, ws := range rirWeights {
		w.rirPick[rir] = newPicker(ws)
	}
	if err := w.ipv4(); err != nil {
		return err
	}
	return w.ipv6()
}

// makeCities scatters realCities cities around the metros of world.
func (w *realWorld) makeCities() {
	var total float64
	for _, c := range world {
		total += math.Pow(c.weight, 0.6)
	}
	w.metroCities = make([][][]int32, len(world))
	for ci, c := range world {
		var mw []float64
		var msum float64
		for _, mt := range c.metros {
			mw = append(mw, mt.weight)
			msum += mt.weight
		}
		w.metroPick = append(w.metroPick, newPicker(mw))
		share := math.Pow(c.weight, 0.6) / total
		for _, mt := range c.metros {
			n := max(2, int(math.Round(realCities*share*mt.weight/msum)))
			// Bigger metros sprawl further: sigma 0.3..1 degree.
			sigma := 0.25 + 0.12*math.Sqrt(mt.weight)
			list := []int32{w.db.addCity(location{name: mt.name, country: ci, lat: mt.lat, lon: mt.lon, tz: mt.tz})}
			for k := 1; k < n; k++ {
				s := sigma
				if w.r.IntN(10) == 0 {
					s *= 3 // rural
				}
				lat := math.Max(-60, math.Min(72, mt.lat+w.r.NormFloat64()*s))
				lon := mt.lon + w.r.NormFloat64()*s/math.Max(0.3, math.Cos(lat*math.Pi/180))
				lon = math.Mod(lon+540, 360) - 180
				list = append(list, w.db.addCity(location{name: fmt.Sprintf("%s Area %d", mt.name, k), country: ci, lat: lat, lon: lon, tz: mt.tz}))
			}
			w.metroCities[ci] = append(w.metroCities[ci], list)
		}
	}
}

// cityNear draws a city of metro m of country c, favouring the metro
// itself and the first (most populous) cities: ~30% of draws are the metro.
func (w *realWorld) cityNear(c, m int) int32 {
	list := w.metroCities[c][m]
	if w.r.IntN(10) < 3 {
		return list[0]
	}
	return list[int(float64(len(list))*math.Pow(w.r.Float64(), 2.5))]
}

// radius draws an accuracy radius (km) for a network of the given length
// (IPv4 lengths; IPv6 callers pass the length minus 24, so a /48 counts
// as a /24): short prefixes are vaguer, as in MaxMind's data.
func (w *realWorld) radius(bits int) uint16 {
	var opts []uint16
	switch {
	case bits <= 16:
		opts = []uint16{100, 200, 500, 1000}
	case bits <= 22:
		opts = []uint16{20, 50, 100, 200, 500}
	default:
		opts = []uint16{1, 5, 10, 20, 50, 100, 200}
	}
	return opts[w.r.IntN(len(opts))]
}

// run is the state of a walk over consecutive networks of one region: the
// current city and radius, which persist for a while.
type run struct {
	country    int   // the region's country
	metro      int   // the region's metro
	registered int16 // registered_country, -1 for the same as the country
	city       int32
	radius     uint16
}

func (w *realWorld) newRun(country, registered int) *run {
	m := w.metroPick[country].pick(w.r)
	reg := int16(-1)
	if registered != country {
		reg = int16(registered)
	}
	return &run{country: country, metro: m, registered: reg, city: w.cityNear(country, m)}
}

// next returns the record of the next network of the run (ok false: leave
// the network out of the database); bits is an IPv4 length, see radius.
func (w *realWorld) next(u *run, bits int) (recKey, bool) {
	x := w.r.Float64()
	switch {
	case x < 0.02: // a gap: not in the database
		return recKey{}, false
	case x < 0.04: // known only by its country
		return recKey{city: -1, country: int16(u.country), registered: u.registered}, true
	case x < 0.045: // an exception abroad, e.g. a reassigned or hosting network
		c := w.anyPick.pick(w.r)
		return recKey{city: w.cityNear(c, w.metroPick[c].pick(w.r)), country: -1, registered: int16(u.country), radius: w.radius(bits)}, true
	}
	if w.r.IntN(3) == 0 { // move to another city, mostly in the same metro
		m := u.metro
		if w.r.IntN(5) == 0 {
			m = w.metroPick[u.country].pick(w.r)
		}
		u.city = w.cityNear(u.country, m)
		u.radius = 0
	}
	if u.radius == 0 || w.r.IntN(5) < 3 {
		u.radius = w.radius(bits)
	}
	return recKey{city: u.city, country: -1, registered: u.registered, radius: u.radius}, true
}

// IPv4 -----------------------------------------------------------------

// rir8 is the RIR of each IPv4 /8 (1..223), roughly as IANA's registry has
// it: the legacy and "various registries" /8s are folded into the RIR
// whose region mostly uses them.
func rir8(s8 int) string {
	switch s8 {
	case 2, 5, 25, 31, 37, 46, 51, 53, 57, 62, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95,
		109, 130, 131, 141, 145, 151, 176, 178, 185, 188, 193, 194, 195, 212, 213, 217:
		return "ripe"
	case 1, 14, 27, 36, 39, 42, 43, 49, 58, 59, 60, 61, 101, 103, 106, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119,
		120, 121, 122, 123, 124, 125, 126, 133, 150, 153, 163, 171, 175, 180, 182, 183, 202, 203, 210, 211, 218, 219,
		220, 221, 222, 223:
		return "apnic"
	case 177, 179, 181, 186, 187, 189, 190, 191, 200, 201:
		return "lacnic"
	case 41, 102, 105, 154, 196, 197:
		return "afrinic"
	}
	return "arin"
}

// legacy8 are ARIN /8s held whole by one organisation.
var legacy8 = map[int]bool{3: true, 4: true, 6: true, 8: true, 9: true, 11: true, 12: true, 13: true, 15: true, 16: true, 17: true,
	18: true, 19: true, 20: true, 21: true, 22: true, 26: true, 28: true, 29: true, 30: true, 33: true, 34: true, 35: true,
	38: true, 44: true, 48: true, 55: true, 56: true}

// reserved4 is the IPv4 space that never has a record (besides 0/8,
// 10/8, 127/8 and 224/3, which are skipped whole).
var reserved4 = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"), netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("192.88.99.0/24"),
	netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("203.0.113.0/24"),
}

// allocLens are the lengths of allocation blocks (one country each).
var allocLens = newLengthPicker(lengths{10: 2, 11: 3, 12: 10, 13: 15, 14: 20, 15: 20, 16: 30})

// stop4 is, per prefix length, the probability that a network of that
// length inside an allocation block is a leaf (one record) rather than
// split in two. It was derived from a target histogram shaped like
// GeoIP2-City's (counts: /16 3k, /18 18k, /20 100k, /22 380k, /23 480k,
// /24 2M, then a tail of ~650k /25../32): with R(l) networks reaching
// length l, stop4[l] = N(l)/R(l) and R(l+1) = 2(R(l)-N(l)).
var stop4 = [33]float64{
	8: 0.005, 9: 0.005, 10: 0.01, 11: 0.01, 12: 0.02, 13: 0.03,
	14: 0.04, 15: 0.04, 16: 0.065, 17: 0.08, 18: 0.11, 19: 0.16,
	20: 0.21, 21: 0.22, 22: 0.30, 23: 0.28, 24: 0.955,
	25: 0.5, 26: 0.5, 27: 0.55, 28: 0.6, 29: 0.6, 30: 0.65, 31: 0.6, 32: 1,
}

// density scales stop4 above /24 per region: some regions are coarse
// (whole /16s in one place), some finely cut. Mean about 1.
var (
	densities   = []float64{0.6, 1, 2.5}
	densityPick = newPicker([]float64{35, 45, 20})
)

// carve walks [start, start+2^(32-bits)) left to right, calling f with
// networks of the lengths lp draws, never shorter than bits and made longer
// where the address is not aligned to the drawn length.
func carve(r *rand.Rand, start uint32, bits int, lp lengthPicker, f func(a uint32, bits int) error) error {
	end := uint64(start) + 1<<(32-bits)
	for a := uint64(start); a < end; {
		l := max(lp.pick(r), bits)
		for l < 32 && a&(1<<(32-l)-1) != 0 {
			l++
		}
		if err := f(uint32(a), l); err != nil {
			return err
		}
		a += 1 << (32 - l)
	}
	return nil
}

func (w *realWorld) ipv4() error {
	for s8 := 1; s8 < 224; s8++ {
		if s8 == 10 || s8 == 127 {
			continue
		}
		rir := rir8(s8)
		members := w.rirMembers[rir]
		pick := w.rirPick[rir]
		alloc := func(a uint32, bits int) error {
			if w.r.IntN(30) == 0 { // allocated but unrouted: no record
				return nil
			}
			cc := members[pick.pick(w.r)]
			return w.split4(a, bits, w.newRun(cc, cc), cc, 1)
		}
		var err error
		if legacy8[s8] && w.r.IntN(2) == 0 {
			err = alloc(uint32(s8)<<24, 8) // one organisation holds the /8
		} else {
			err = carve(w.r, uint32(s8)<<24, 8, allocLens, alloc)
		}
		if err != nil {
			return err
		}
	}
	// The kit's loopback networks (see the comment at the top).
	for _, lb := range []struct{ p, cc string }{{"127.0.0.0/24", "US"}, {"127.0.1.0/24", "DE"}, {"127.0.2.0/24", "IN"}} {
		c := int(countryIndex(lb.cc))
		if err := w.db.insert(netip.MustParsePrefix(lb.p), recKey{city: w.metroCities[c][0][0], country: -1, registered: -1, radius: 20}); err != nil {
			return err
		}
	}
	return nil
}

// split4 places the network a/bits of allocation country cc: a leaf (one
// record) or two halves, depth first so networks are inserted in address
// order. Between /14 and /20 a subtree may become a new region -- another
// metro of the country (an ISP's regional pool), rarely another country or
// nothing at all -- with its own density; below that, consecutive leaves
// follow the region's run of cities.
func (w *realWorld) split4(a uint32, bits int, u *run, cc int, density float64) error {
	if bits >= 14 && bits <= 20 && w.r.IntN(4) == 0 {
		switch x := w.r.IntN(60); {
		case x < 2: // not in the database
			return nil
		case x < 4: // used abroad; registered_country stays cc
			u = w.newRun(w.anyPick.pick(w.r), cc)
		default:
			u = w.newRun(cc, cc)
		}
		density = densities[densityPick.pick(w.r)]
	}
	stop := stop4[bits]
	if bits < 24 {
		stop = min(1, stop*density)
	}
	if bits == 32 || w.r.Float64() < stop {
		k, ok := w.next(u, bits)
		if !ok {
			return nil
		}
		return w.insert4(netip.PrefixFrom(addr4(a), bits), k)
	}
	if err := w.split4(a, bits+1, u, cc, density); err != nil {
		return err
	}
	return w.split4(a+1<<(32-bits-1), bits+1, u, cc, density)
}

// insert4 inserts p, leaving out the reserved networks it overlaps.
func (w *realWorld) insert4(p netip.Prefix, k recKey) error {
	for _, res := range reserved4 {
		if !res.Overlaps(p) {
			continue
		}
		if res.Bits() <= p.Bits() { // p is inside reserved space
			return nil
		}
		// p holds a reserved network: insert its two halves.
		lo := netip.PrefixFrom(p.Addr(), p.Bits()+1)
		hi := netip.PrefixFrom(addr4(ip4(p.Addr())+1<<(32-p.Bits()-1)), p.Bits()+1)
		if err := w.insert4(lo, k); err != nil {
			return err
		}
		return w.insert4(hi, k)
	}
	return w.db.insert(p, k)
}

func ip4(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// IPv6 -----------------------------------------------------------------

// v6Pools are the RIR pools LIR allocations are placed in, with the number
// of allocations each gets.
var v6Pools = []struct {
	prefix string
	rir    string
	lirs   int
}{
	{"2001:200::/23", "apnic", 300}, {"2001:400::/23", "arin", 300},
	{"2001:600::/23", "ripe", 300}, {"2001:800::/22", "ripe", 600},
	{"2001:1200::/23", "lacnic", 200}, {"2001:4200::/23", "afrinic", 100},
	{"2400::/12", "apnic", 9000}, {"2600::/12", "arin", 9000},
	{"2800::/12", "lacnic", 5000}, {"2a00::/12", "ripe", 16000},
	{"2a10::/12", "ripe", 4000}, {"2c00::/12", "afrinic", 1200},
}

var (
	lirLens      = newLengthPicker(lengths{19: 0.1, 20: 0.1, 22: 0.3, 24: 0.5, 26: 1, 28: 4, 29: 50, 30: 3, 31: 2, 32: 37})
	custPoolLens = newLengthPicker(lengths{36: 20, 40: 50, 44: 30})
	customerLens = newLengthPicker(lengths{44: 5, 48: 70, 52: 3, 56: 12, 64: 10})
)

// u128 is an IPv6 address as two 64-bit halves. Every network placed in
// IPv6 is a /64 or shorter, so sizes only ever have a high half.
type u128 struct{ hi, lo uint64 }

func u128Of(a netip.Addr) u128 {
	b := a.As16()
	var x u128
	for i := 0; i < 8; i++ {
		x.hi = x.hi<<8 | uint64(b[i])
		x.lo = x.lo<<8 | uint64(b[8+i])
	}
	return x
}

func (x u128) addr() netip.Addr {
	var b [16]byte
	for i := 0; i < 8; i++ {
		b[7-i] = byte(x.hi >> (8 * i))
		b[15-i] = byte(x.lo >> (8 * i))
	}
	return netip.AddrFrom16(b)
}

// size is 2^(128-bits) for bits in 1..64 (as hi) or 65..128 (as lo).
func size(bits int) u128 {
	if bits <= 64 {
		return u128{hi: 1 << (64 - bits)}
	}
	return u128{lo: 1 << (128 - bits)}
}

func (x u128) add(y u128) u128 {
	lo := x.lo + y.lo
	carry := uint64(0)
	if lo < x.lo {
		carry = 1
	}
	return u128{hi: x.hi + y.hi + carry, lo: lo}
}

// mul multiplies a size of a /64 or shorter (lo is 0) by n.
func (x u128) mul(n uint64) u128 {
	return u128{hi: x.hi * n}
}

func (x u128) less(y u128) bool { return x.hi < y.hi || (x.hi == y.hi && x.lo < y.lo) }

// alignUp rounds x up to a multiple of 2^(128-bits), bits <= 64.
func alignUp(x u128, bits int) u128 {
	m := uint64(1)<<(64-bits) - 1
	if x.hi&m == 0 && x.lo == 0 {
		return x
	}
	return u128{hi: (x.hi | m) + 1}
}

func (w *realWorld) ipv6() error {
	for _, pool := range v6Pools {
		pp := netip.MustParsePrefix(pool.prefix)
		start := u128Of(pp.Addr())
		end := start.add(size(pp.Bits()))
		members := w.rirMembers[pool.rir]
		pick := w.rirPick[pool.rir]
		cur := start
		for i := 0; i < pool.lirs; i++ {
			bits := max(lirLens.pick(w.r), pp.Bits()+1)
			cur = alignUp(cur, bits)
			if !cur.less(end) {
				break
			}
			if err := w.lir(cur, bits, members[pick.pick(w.r)]); err != nil {
				return err
			}
			// RIRs allocate sparsely, leaving room for each small LIR to
			// grow (the few big allocations are packed, or they would use
			// up the pool).
			gap := uint64(1)
			if bits >= 28 {
				gap += uint64(w.r.IntN(4))
			}
			cur = cur.add(size(bits).mul(gap))
		}
	}
	return nil
}

// lir fills one LIR allocation of country cc.
func (w *realWorld) lir(a u128, bits int, cc int) error {
	if w.r.IntN(12) == 0 { // allocated, not in the database
		return nil
	}
	country := cc
	if w.r.IntN(30) == 0 {
		country = w.anyPick.pick(w.r)
	}
	u := w.newRun(country, cc)
	// The allocation's covering record: its main city, or only its country.
	cover := recKey{city: -1, country: int16(country), registered: u.registered}
	if w.r.IntN(3) != 0 {
		cover = recKey{city: u.city, country: -1, registered: u.registered, radius: w.radius(bits - 24)}
	}
	if err := w.db.insert(netip.PrefixFrom(a.addr(), bits), cover); err != nil {
		return err
	}
	if w.r.IntN(20) < 12 { // one network for the whole allocation
		return nil
	}
	// Customer pools: a few, more for big ISPs, filled from the bottom of
	// the allocation (as ISPs do) with an occasional skipped slot.
	pools := 1 + int(w.r.ExpFloat64()*2)
	if w.r.IntN(20) == 0 {
		pools *= 10
	}
	pbits := max(custPoolLens.pick(w.r), bits+4)
	slots := uint64(1) << (pbits - bits)
	slot := uint64(0)
	for range pools {
		if w.r.IntN(4) == 0 {
			slot += 1 + uint64(w.r.IntN(4))
		}
		if slot >= slots {
			break
		}
		if err := w.custPool(a.add(size(pbits).mul(slot)), pbits, u); err != nil {
			return err
		}
		slot++
	}
	return nil
}

// custPool assigns customers sequentially from the start of a pool, with
// occasional holes (returned or reserved assignments).
func (w *realWorld) custPool(a u128, bits int, u *run) error {
	end := a.add(size(bits))
	n := 1 + int(w.r.ExpFloat64()*16)
	// A pool hands out one size (a /48 pool, a /56 pool, ...), with a few
	// odd sizes in between, so assignments pack as they do in an ISP.
	size0 := max(customerLens.pick(w.r), bits+1)
	cur := a
	for range n {
		cb := size0
		if w.r.IntN(10) == 0 {
			cb = max(customerLens.pick(w.r), bits+1)
		}
		cur = alignUp(cur, cb)
		if !cur.less(end) {
			break
		}
		if w.r.IntN(5) == 0 {
			cur = cur.add(size(cb).mul(uint64(1 + w.r.IntN(8))))
			if !cur.less(end) {
				break
			}
		}
		k, ok := w.next(u, cb-24)
		if ok {
			if err := w.db.insert(netip.PrefixFrom(cur.addr(), cb), k); err != nil {
				return err
			}
		}
		cur = cur.add(size(cb))
	}
	return nil
}
