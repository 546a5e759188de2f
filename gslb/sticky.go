package gslb

import (
	"sync"
	"sync/atomic"
	"time"
)

// The persistence memory of load shedding. Persistence alone needs no
// memory: rendezvous hashing keeps a network on its member while the
// candidates stay the same. Shedding changes the candidates on purpose,
// and a network that was already on a loaded member should stay there
// (its clients have sessions there) while new networks move. Which
// networks were there is not in the query, so each site remembers the
// networks it answered with their member, as F5's DNS persistence records
// do. The memory is this site's own; a resolver that moves to another
// site is judged there afresh.
//
// It is a fixed table of atomic words, two ways per set, written by the
// query path without a lock or an allocation. A write may lose a race or
// evict another network: the memory is a hint, and a forgotten network is
// only a network treated as new.

// stickySets is the table's size in sets of two entries: 128k entries,
// 1 MiB, allocated once a service with load shedding and persistence is
// first asked.
const stickySets = 1 << 16

// sticky is the memory, shared by a snapshot and those built from it.
type sticky struct {
	once    sync.Once
	entries []atomic.Uint64
	// start is the zero of the minute clock.
	start time.Time
}

// An entry packs the network's key (24 bits), the member's fingerprint
// (24 bits) and the minute it was last answered (16 bits, wrapping after
// 45 days; sticky_for is at most a day).
const (
	fpBits     = 24
	fpMask     = 1<<fpBits - 1
	minuteMask = 1<<16 - 1
)

// fingerprint is a member seed's 24-bit fingerprint, never 0 (0 marks an
// empty entry).
func fingerprint(seed uint64) uint32 { return uint32(seed>>40)&fpMask | 1 }

func (m *sticky) table() []atomic.Uint64 {
	m.once.Do(func() {
		m.entries = make([]atomic.Uint64, 2*stickySets)
		m.start = time.Now()
	})
	return m.entries
}

func (m *sticky) minute() uint64 {
	return uint64(time.Since(m.start)/time.Minute) & minuteMask
}

// stickyKey is where a network of a service lives in the memory, and the
// minute it was asked; the zero key is no key (nothing to remember).
type stickyKey struct {
	set    int    // its set's first entry
	key    uint64 // 24 bits
	minute uint64
	ok     bool
}

// key is the network nk of svc's place in the memory for address family
// f, now. A resolver asks A and AAAA for the same client, and a service
// may answer them with different members: each family has its own entry.
func (m *sticky) key(svc *service, f int, nk netKey) stickyKey {
	m.table() // sets the clock's zero
	h := nk.hash(svc.seed ^ uint64(f+1)<<56)
	return stickyKey{set: int(h&(stickySets-1)) * 2, key: h >> 40 & fpMask, minute: m.minute(), ok: true}
}

// lookup returns the fingerprint of the member the network was last
// answered with, if that was within stickyFor.
func (m *sticky) lookup(k stickyKey, stickyFor time.Duration) (uint32, bool) {
	if !k.ok {
		return 0, false
	}
	t := m.table()
	for w := range 2 {
		e := t[k.set+w].Load()
		if e>>40 != k.key {
			continue
		}
		age := (k.minute - e&minuteMask) & minuteMask
		if time.Duration(age)*time.Minute >= stickyFor {
			return 0, false
		}
		return uint32(e>>16) & fpMask, true
	}
	return 0, false
}

// remember records that the network was answered with the member of
// fingerprint fp. It writes only when the entry changes (a new member or
// a new minute), so a busy network costs a load, not a store.
func (m *sticky) remember(k stickyKey, fp uint32) {
	if !k.ok {
		return
	}
	t := m.table()
	e := k.key<<40 | uint64(fp)<<16 | k.minute
	// The network's own entry, else an empty one, else the older of the
	// two.
	victim, oldest := k.set, uint64(0)
	for w := range 2 {
		old := t[k.set+w].Load()
		if old>>40 == k.key {
			if old != e {
				t[k.set+w].Store(e)
			}
			return
		}
		age := (k.minute - old&minuteMask) & minuteMask
		if old == 0 {
			age = minuteMask + 1
		}
		if age >= oldest {
			victim, oldest = k.set+w, age
		}
	}
	t[victim].Store(e)
}

// forget removes the network's entry if it still names the member of
// fingerprint fp.
func (m *sticky) forget(k stickyKey, fp uint32) {
	if !k.ok {
		return
	}
	t := m.table()
	for w := range 2 {
		e := t[k.set+w].Load()
		if e>>40 == k.key && uint32(e>>16)&fpMask == fp {
			t[k.set+w].CompareAndSwap(e, 0)
			return
		}
	}
}
