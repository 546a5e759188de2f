package geo

import (
	"net/netip"
	"sync/atomic"
)

// netCache remembers, per IPv4 /24, what the database tree walk found
// there: the network's length and the record's data offset. A walk is
// about twenty dependent reads through a tree of tens of MB, and profiles
// of the geo benchmark put it at two thirds of the server's user time;
// resolvers send from a small set of /24s, so most queries hit here
// instead. Only networks that cover the whole /24 (length <= 24) are kept,
// so every address in it shares the entry.
//
// Each slot is one atomic word, so readers take no lock and a hit does not
// allocate: bit 63 valid, bits 39-62 the /24, bits 33-38 the length,
// bit 32 found, bits 0-31 the offset (records past 4 GiB are not cached).
type netCache struct {
	slots []atomic.Uint64
}

// netCacheSlots: 2^18 slots (2 MiB) hold far more busy /24s than a site's
// resolvers use; a collision only costs a tree walk.
const netCacheSlots = 1 << 18

func newNetCache() netCache { return netCache{slots: make([]atomic.Uint64, netCacheSlots)} }

func key24(a netip.Addr) uint64 {
	b := a.As4()
	return uint64(b[0])<<16 | uint64(b[1])<<8 | uint64(b[2])
}

func (c *netCache) slot(k uint64) *atomic.Uint64 {
	// Fibonacci hashing spreads neighbouring /24s over the table.
	return &c.slots[(k*0x9E3779B97F4A7C15)>>(64-18)]
}

func (c *netCache) get(a netip.Addr) (bits int, off uintptr, found, ok bool) {
	if c.slots == nil {
		return 0, 0, false, false
	}
	k := key24(a)
	v := c.slot(k).Load()
	if v>>63 == 0 || (v>>39)&(1<<24-1) != k {
		return 0, 0, false, false
	}
	return int(v>>33) & 63, uintptr(v & (1<<32 - 1)), v>>32&1 == 1, true
}

func (c *netCache) put(a netip.Addr, bits int, off uintptr, found bool) {
	if c.slots == nil || bits > 24 || off >= 1<<32 {
		return
	}
	k := key24(a)
	v := uint64(1)<<63 | k<<39 | uint64(bits)<<33 | uint64(off)
	if found {
		v |= 1 << 32
	}
	c.slot(k).Store(v)
}

func (c *netCache) clear() {
	for i := range c.slots {
		c.slots[i].Store(0)
	}
}
