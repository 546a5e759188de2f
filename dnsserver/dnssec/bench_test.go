package dnssec

import (
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

func benchSigner(b *testing.B, alg uint8, entries int) (*Signer, *Key) {
	b.Helper()
	csk := mustGenerate(b, "example.com.", alg, FlagsKSK)
	return mustSigner(b, "example.com.", []*Key{csk}, Options{CacheEntries: entries}), csk
}

// BenchmarkSignHit: a geo answer (two A records) whose signature is cached.
func BenchmarkSignHit(b *testing.B) {
	s, _ := benchSigner(b, dns.ECDSAP256SHA256, 0)
	rrset := aSet("www.example.com.", 60, "192.0.2.1", "192.0.2.2")
	if _, err := s.Sign(rrset); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Sign(rrset); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignHitParallel: the hit path from every core, over 1000 RRsets.
func BenchmarkSignHitParallel(b *testing.B) {
	s, _ := benchSigner(b, dns.ECDSAP256SHA256, 0)
	sets := make([][]dns.RR, 1000)
	for i := range sets {
		sets[i] = aSet(fmt.Sprintf("h%d.example.com.", i), 60, "192.0.2.1", "192.0.2.2")
		if _, err := s.Sign(sets[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := s.Sign(sets[i%len(sets)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkSignMiss: every call signs (a new RRset each time), per algorithm.
func BenchmarkSignMiss(b *testing.B) {
	for _, alg := range []uint8{dns.ECDSAP256SHA256, dns.ED25519} {
		b.Run(dns.AlgorithmToString[alg], func(b *testing.B) {
			s, _ := benchSigner(b, alg, 0)
			rrset := aSet("www.example.com.", 60, "192.0.2.1", "192.0.2.2")
			a := rrset[0].(*dns.A)
			b.ReportAllocs()
			i := uint32(0)
			for b.Loop() {
				i++
				a.A = []byte{10, byte(i >> 16), byte(i >> 8), byte(i)}
				if _, err := s.Sign(rrset); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCacheMemory reports the heap per cached RRset for 10k distinct
// two-record A RRsets (one ECDSA RRSIG each).
func BenchmarkCacheMemory(b *testing.B) {
	const n = 10000
	sets := make([][]dns.RR, n)
	for i := range sets {
		sets[i] = aSet(fmt.Sprintf("host-%d.example.com.", i), 60, "192.0.2.1", "192.0.2.2")
	}
	for b.Loop() {
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		s, _ := benchSigner(b, dns.ECDSAP256SHA256, 2*n)
		for _, rrset := range sets {
			if _, err := s.Sign(rrset); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		if got := s.cache.len(); got != n {
			b.Fatalf("cache holds %d, want %d", got, n)
		}
		b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/n, "bytes/entry")
		runtime.KeepAlive(s)
	}
}

// shardedCache is the alternative measured against sync.Map in
// BenchmarkCacheLookup: 64 maps under RWMutexes.
type shardedCache struct {
	shards [64]struct {
		mu sync.RWMutex
		m  map[cacheKey]*entry
		_  [32]byte
	}
}

func (c *shardedCache) put(k cacheKey, e *entry) {
	sh := &c.shards[k[0]%64]
	sh.mu.Lock()
	if sh.m == nil {
		sh.m = map[cacheKey]*entry{}
	}
	sh.m[k] = e
	sh.mu.Unlock()
}

func (c *shardedCache) get(k cacheKey) *entry {
	sh := &c.shards[k[0]%64]
	sh.mu.RLock()
	e := sh.m[k]
	sh.mu.RUnlock()
	return e
}

// BenchmarkCacheLookup compares the sync.Map hit with a sharded map's,
// over 1024 keys and over one hot key (one popular name).
func BenchmarkCacheLookup(b *testing.B) {
	keys := make([]cacheKey, 1024)
	c := newSigCache(100000)
	sh := new(shardedCache)
	for i := range keys {
		keys[i] = cacheKey{uint64(i) * 0x9e3779b97f4a7c15, uint64(i)}
		c.put(keys[i], &entry{})
		sh.put(keys[i], &entry{})
	}
	for _, mask := range []int{1023, 0} {
		b.Run(fmt.Sprintf("sync.Map/keys=%d", mask+1), func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for i := 0; pb.Next(); i++ {
					if c.get(keys[i&mask]) == nil {
						b.Error("miss")
						return
					}
				}
			})
		})
		b.Run(fmt.Sprintf("sharded/keys=%d", mask+1), func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for i := 0; pb.Next(); i++ {
					if sh.get(keys[i&mask]) == nil {
						b.Error("miss")
						return
					}
				}
			})
		})
	}
}
