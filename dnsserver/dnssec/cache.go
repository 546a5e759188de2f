package dnssec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/maphash"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"
)

// The signature cache maps a 128-bit keyed hash of an RRset's canonical
// content to its RRSIGs. Two maphash seeds make collisions (which would
// hand out a signature for another RRset) both negligible (2^-128 per pair)
// and impossible to aim at, since the seeds are random per process.
//
// It is a sync.Map, so a hit is a lock-free read. A 64-shard map under
// RWMutexes was measured as well (BenchmarkCacheLookup): both about
// 20-30 ns per hit without allocating, on a 2-vCPU machine that cannot
// show scaling. sync.Map was kept for many cores: a GSLB's few hot names
// land in a few shards, and every RLock writes the shard's reader count,
// a cache line all cores would then contend for. It costs about 80 bytes
// more per entry (BenchmarkCacheMemory: ~380 against ~285 bytes).
type cacheKey [2]uint64

type entry struct {
	sigs []dns.RR
	// wire is the RDATA of each of sigs, in order, each after its 16-bit
	// length: what SignAddrs returns for a server's wire-level path.
	wire       []byte
	refreshAt  int64       // unix seconds: re-sign from then on
	expireAt   int64       // unix seconds: the earliest expiration in sigs
	refreshing atomic.Bool // one caller re-signs, the others serve sigs meanwhile
}

type sigCache struct {
	seed0, seed1 maphash.Seed
	m            sync.Map // cacheKey -> *entry
	n            atomic.Int64
	max          int64
	evicting     sync.Mutex
}

func newSigCache(entries int) *sigCache {
	return &sigCache{seed0: maphash.MakeSeed(), seed1: maphash.MakeSeed(), max: int64(max(1, entries))}
}

func (c *sigCache) get(k cacheKey) *entry {
	if v, ok := c.m.Load(k); ok {
		return v.(*entry)
	}
	return nil
}

// put stores e; past the bound it evicts down to 7/8 of it. Eviction is
// random: sync.Map ranges in the order of its seeded hash, which has
// nothing to do with the RRsets. Random eviction needs no bookkeeping on
// the hit path, unlike LRU, and under a flood of distinct RRsets (random
// subdomains) no policy does much better. Concurrent puts during an
// eviction may overshoot the bound by the number of concurrent signers.
func (c *sigCache) put(k cacheKey, e *entry) {
	if _, loaded := c.m.Swap(k, e); loaded || c.n.Add(1) <= c.max {
		return
	}
	if !c.evicting.TryLock() {
		return
	}
	defer c.evicting.Unlock()
	target := c.max - c.max/8
	if target == c.max {
		target--
	}
	c.m.Range(func(k, _ any) bool {
		if c.n.Load() <= target {
			return false
		}
		if _, ok := c.m.LoadAndDelete(k); ok {
			c.n.Add(-1)
		}
		return true
	})
}

func (c *sigCache) len() int { return int(c.n.Load()) }

// scratch holds the buffers for one cache key computation; pooled so a
// hit does not allocate.
type scratch struct {
	buf   []byte   // the canonical stream that is hashed
	wire  []byte   // one packed RR
	rd    []byte   // all RDATAs, back to back
	spans [][2]int // each RDATA's [start, end) in rd
	msg   dns.Msg  // packs one record at a time
}

var errPack = errors.New("cannot pack record")

// key computes the hash of the canonical form of rrset (RFC 4034 section
// 6): owner in lower case, type, class, TTL (the RRSIG's Original TTL) and
// the RDATAs sorted as unsigned octet strings (section 6.3), with the
// domain names that section 6.2 (as amended by RFC 6840 section 5.1)
// lowercases in lower case. owner replaces the records' owner (wildcard).
//
// Correctness needs only that RRsets with different canonical forms get
// different keys: types whose RDATA names are not lowercased here keep
// their case and merely miss when the case differs.
func (sc *scratch) key(c *sigCache, rrset []dns.RR, owner string) (cacheKey, error) {
	sc.rd, sc.spans = sc.rd[:0], sc.spans[:0]
	for _, rr := range rrset {
		// A and AAAA, the bulk of GSLB answers, without packing: their
		// RDATA is the address (RFC 1035 section 3.4.1, RFC 3596 section 2.2).
		switch x := rr.(type) {
		case *dns.A:
			if ip4 := x.A.To4(); ip4 != nil {
				sc.addRDATA(ip4)
				continue
			}
		case *dns.AAAA:
			if ip6 := x.AAAA.To16(); ip6 != nil {
				sc.addRDATA(ip6)
				continue
			}
		}
		rr = canonicalRDATA(rr)
		rd, err := sc.packRDATA(rr)
		if err != nil {
			return cacheKey{}, err
		}
		sc.addRDATA(rd)
	}
	h := rrset[0].Header()
	return sc.finish(c, owner, h.Rrtype, h.Class, h.Ttl), nil
}

// keyAddrs is key for an A (4-byte addresses) or AAAA RRset given as
// addresses: the same key as for the records. Up to maxStackAddrs
// addresses it works on the stack, without the scratch pool (whose items
// the race detector drops at random): a server's signed fast path then
// provably allocates nothing.
func keyAddrs(c *sigCache, owner string, qtype uint16, ttl uint32, addrs []netip.Addr) cacheKey {
	if len(addrs) > maxStackAddrs || len(owner) > 255 {
		sc := new(scratch)
		sc.rd, sc.spans = sc.rd[:0], sc.spans[:0]
		for _, a := range addrs {
			sc.addRDATA(appendAddr(nil, a, qtype))
		}
		return sc.finish(c, owner, qtype, dns.ClassINET, ttl)
	}
	var sorted [maxStackAddrs]netip.Addr
	n := copy(sorted[:], addrs)
	// Same-family addresses compare as their bytes do: RFC 4034 section
	// 6.3's order.
	slices.SortFunc(sorted[:n], netip.Addr.Compare)
	var buf [255 + 1 + 8 + maxStackAddrs*(2+16)]byte
	b := appendLower(buf[:0], owner)
	b = be16(b, qtype)
	b = be16(b, dns.ClassINET)
	b = be16(be16(b, uint16(ttl>>16)), uint16(ttl))
	for _, a := range sorted[:n] {
		start := len(b)
		b = appendAddr(be16(b, 0), a, qtype)
		binary.BigEndian.PutUint16(b[start:], uint16(len(b)-start-2))
	}
	return cacheKey{maphash.Bytes(c.seed0, b), maphash.Bytes(c.seed1, b)}
}

// maxStackAddrs is the most addresses keyAddrs hashes on the stack; GSLB
// answers hold a few.
const maxStackAddrs = 16

// appendAddr appends the RDATA of an A or AAAA record for a.
func appendAddr(b []byte, a netip.Addr, qtype uint16) []byte {
	if qtype == dns.TypeA {
		a4 := a.As4()
		return append(b, a4[:]...)
	}
	a16 := a.As16()
	return append(b, a16[:]...)
}

// appendLower appends name in ASCII lower case, as dns.CanonicalName.
func appendLower(b []byte, name string) []byte {
	for i := 0; i < len(name); i++ {
		ch := name[i]
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		b = append(b, ch)
	}
	return append(b, 0)
}

func (sc *scratch) addRDATA(rd []byte) {
	start := len(sc.rd)
	sc.rd = append(sc.rd, rd...)
	sc.spans = append(sc.spans, [2]int{start, len(sc.rd)})
}

// packRDATA returns rr's RDATA in wire form (uncompressed), in sc.wire.
func (sc *scratch) packRDATA(rr dns.RR) ([]byte, error) {
	n := dns.Len(rr) + 13
	if cap(sc.wire) < n {
		sc.wire = make([]byte, n+64)
	}
	// A one-record message rather than dns.PackRR, which writes the
	// record's Rdlength: the records may be shared with other goroutines
	// (a zone's SOA, an answer being packed elsewhere).
	sc.msg.Answer = append(sc.msg.Answer[:0], rr)
	packed, err := sc.msg.PackBuffer(sc.wire[:cap(sc.wire)])
	sc.msg.Answer[0] = nil
	if err != nil {
		return nil, errPack
	}
	sc.wire = packed[:0] // a larger buffer if PackBuffer made one
	w := packed[12:]     // after the header
	i := 0               // skip the uncompressed owner name and the 10 octets after it
	for i < len(w) && w[i] != 0 {
		i += int(w[i]) + 1
	}
	i += 11
	if i > len(w) {
		return nil, errPack
	}
	return w[i:], nil
}

// finish sorts the collected RDATAs and hashes the canonical stream.
func (sc *scratch) finish(c *sigCache, owner string, rrtype, class uint16, ttl uint32) cacheKey {
	rd := sc.rd
	slices.SortFunc(sc.spans, func(a, b [2]int) int { return bytes.Compare(rd[a[0]:a[1]], rd[b[0]:b[1]]) })
	b := appendLower(sc.buf[:0], owner)
	b = be16(b, rrtype)
	b = be16(b, class)
	b = be16(be16(b, uint16(ttl>>16)), uint16(ttl))
	for _, sp := range sc.spans {
		b = be16(b, uint16(sp[1]-sp[0])) // length prefix: the stream parses one way only
		b = append(b, rd[sp[0]:sp[1]]...)
	}
	sc.buf = b
	return cacheKey{maphash.Bytes(c.seed0, b), maphash.Bytes(c.seed1, b)}
}

// canonicalRDATA returns rr, or a copy with the RDATA domain names that
// RFC 4034 section 6.2 lowercases in lower case, for the common types.
// It copies only when a name has an upper-case letter.
func canonicalRDATA(rr dns.RR) dns.RR {
	names, n := rdataNames(rr)
	upper := false
	for _, name := range names[:n] {
		upper = upper || hasUpper(*name)
	}
	if !upper {
		return rr
	}
	c := dns.Copy(rr)
	names, n = rdataNames(c)
	for _, name := range names[:n] {
		*name = dns.CanonicalName(*name)
	}
	return c
}

// rdataNames points at the RDATA names of rr that canonicalRDATA
// lowercases (at most two, for SOA).
func rdataNames(rr dns.RR) (names [2]*string, n int) {
	switch x := rr.(type) {
	case *dns.NS:
		return [2]*string{&x.Ns}, 1
	case *dns.CNAME:
		return [2]*string{&x.Target}, 1
	case *dns.PTR:
		return [2]*string{&x.Ptr}, 1
	case *dns.MX:
		return [2]*string{&x.Mx}, 1
	case *dns.SRV:
		return [2]*string{&x.Target}, 1
	case *dns.DNAME:
		return [2]*string{&x.Target}, 1
	case *dns.SOA:
		return [2]*string{&x.Ns, &x.Mbox}, 2
	}
	return names, 0
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}
