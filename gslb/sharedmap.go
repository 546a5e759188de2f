package gslb

import (
	"hash/maphash"
	"iter"
	"maps"
)

// A SharedMap is a map by name whose Clone shares its contents: the
// entries live in sharedShards small maps, a Clone copies the shard
// pointers, and a change copies the one shard it touches, the first time
// (copy on write). At 100k services a publish that changes one service
// copied whole maps of 100k entries (3-17 ms each with the garbage
// collector running, CPU the queries then waited for); now it copies
// 1/256th of one. A lookup hashes the name once more than a map does.
//
// A map that has been Cloned must not change any more: the clone reads
// its shards. Snapshots and plans are built, then only read, so this
// holds. The zero SharedMap is empty and ready.
type SharedMap[V any] struct {
	shards [sharedShards]map[string]V
	owned  [sharedShards / 64]uint64 // the shards this map made, which it may change
	n      int
}

const sharedShards = 256

var sharedSeed = maphash.MakeSeed()

func shardOf(key string) int { return int(maphash.String(sharedSeed, key) % sharedShards) }

// Get returns the value of key, and whether it is there.
func (m *SharedMap[V]) Get(key string) (V, bool) {
	v, ok := m.shards[shardOf(key)][key]
	return v, ok
}

// Len is the number of entries.
func (m *SharedMap[V]) Len() int { return m.n }

// Clone returns a map with m's entries, sharing m's shards until it
// changes them.
func (m *SharedMap[V]) Clone() *SharedMap[V] {
	return &SharedMap[V]{shards: m.shards, n: m.n}
}

// Set sets key's value.
func (m *SharedMap[V]) Set(key string, v V) {
	s := m.own(shardOf(key))
	if _, had := s[key]; !had {
		m.n++
	}
	s[key] = v
}

// Delete removes key.
func (m *SharedMap[V]) Delete(key string) {
	i := shardOf(key)
	if _, had := m.shards[i][key]; had {
		delete(m.own(i), key)
		m.n--
	}
}

// All yields every entry, in no order.
func (m *SharedMap[V]) All() iter.Seq2[string, V] {
	return func(yield func(string, V) bool) {
		for _, s := range m.shards {
			for k, v := range s {
				if !yield(k, v) {
					return
				}
			}
		}
	}
}

// own returns shard i for m to change: a copy the first time.
func (m *SharedMap[V]) own(i int) map[string]V {
	bit := uint64(1) << (i % 64)
	if m.owned[i/64]&bit == 0 {
		s := make(map[string]V, len(m.shards[i])+1)
		maps.Copy(s, m.shards[i])
		m.shards[i] = s
		m.owned[i/64] |= bit
	}
	return m.shards[i]
}
