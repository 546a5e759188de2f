package dnssec

import (
	"bytes"
	"errors"
	"hash/maphash"
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
	sigs       []dns.RR
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
		// A and AAAA, the bulk of GSLB answers, without PackRR: their
		// RDATA is the address (RFC 1035 section 3.4.1, RFC 3596 section 2.2).
		switch x := rr.(type) {
		case *dns.A:
			if ip4 := x.A.To4(); ip4 != nil {
				start := len(sc.rd)
				sc.rd = append(sc.rd, ip4...)
				sc.spans = append(sc.spans, [2]int{start, len(sc.rd)})
				continue
			}
		case *dns.AAAA:
			if ip6 := x.AAAA.To16(); ip6 != nil {
				start := len(sc.rd)
				sc.rd = append(sc.rd, ip6...)
				sc.spans = append(sc.spans, [2]int{start, len(sc.rd)})
				continue
			}
		}
		rr = canonicalRDATA(rr)
		n := dns.Len(rr) + 1
		if cap(sc.wire) < n {
			sc.wire = make([]byte, n+64)
		}
		w := sc.wire[:cap(sc.wire)]
		end, err := dns.PackRR(rr, w, 0, nil, false)
		if err != nil {
			return cacheKey{}, errPack
		}
		i := 0 // skip the uncompressed owner name and the 10 octets after it
		for i < end && w[i] != 0 {
			i += int(w[i]) + 1
		}
		i += 11
		if i > end {
			return cacheKey{}, errPack
		}
		start := len(sc.rd)
		sc.rd = append(sc.rd, w[i:end]...)
		sc.spans = append(sc.spans, [2]int{start, len(sc.rd)})
	}
	rd := sc.rd
	slices.SortFunc(sc.spans, func(a, b [2]int) int { return bytes.Compare(rd[a[0]:a[1]], rd[b[0]:b[1]]) })

	h := rrset[0].Header()
	b := sc.buf[:0]
	for i := 0; i < len(owner); i++ { // ASCII lower case, as CanonicalName
		ch := owner[i]
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		b = append(b, ch)
	}
	b = append(b, 0)
	b = be16(b, h.Rrtype)
	b = be16(b, h.Class)
	b = be16(be16(b, uint16(h.Ttl>>16)), uint16(h.Ttl))
	for _, sp := range sc.spans {
		b = be16(b, uint16(sp[1]-sp[0])) // length prefix: the stream parses one way only
		b = append(b, rd[sp[0]:sp[1]]...)
	}
	sc.buf = b
	return cacheKey{maphash.Bytes(c.seed0, b), maphash.Bytes(c.seed1, b)}, nil
}

// canonicalRDATA returns rr, or a copy with the RDATA domain names that
// RFC 4034 section 6.2 lowercases in lower case, for the common types.
// It copies only when a name has an upper-case letter.
func canonicalRDATA(rr dns.RR) dns.RR {
	switch x := rr.(type) {
	case *dns.NS:
		if hasUpper(x.Ns) {
			c := *x
			c.Ns = dns.CanonicalName(c.Ns)
			return &c
		}
	case *dns.CNAME:
		if hasUpper(x.Target) {
			c := *x
			c.Target = dns.CanonicalName(c.Target)
			return &c
		}
	case *dns.PTR:
		if hasUpper(x.Ptr) {
			c := *x
			c.Ptr = dns.CanonicalName(c.Ptr)
			return &c
		}
	case *dns.MX:
		if hasUpper(x.Mx) {
			c := *x
			c.Mx = dns.CanonicalName(c.Mx)
			return &c
		}
	case *dns.SRV:
		if hasUpper(x.Target) {
			c := *x
			c.Target = dns.CanonicalName(c.Target)
			return &c
		}
	case *dns.DNAME:
		if hasUpper(x.Target) {
			c := *x
			c.Target = dns.CanonicalName(c.Target)
			return &c
		}
	case *dns.SOA:
		if hasUpper(x.Ns) || hasUpper(x.Mbox) {
			c := *x
			c.Ns, c.Mbox = dns.CanonicalName(c.Ns), dns.CanonicalName(c.Mbox)
			return &c
		}
	}
	return rr
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}
