package geo

import (
	"encoding/binary"
	"fmt"
)

// searchTree reads an mmdb file's search tree straight from its bytes, for
// Compile, which visits every node once: maxminddb's iterator would hand
// out one Result per network and hide how networks share records and
// subtrees. The layout is the MaxMind DB format's "search tree section"
// (spec 2.0): node n is two records of recordSize bits at n*recordSize/4
// bytes; a record below nodeCount is a node, equal to it is "no data", and
// above it points into the data section.
type searchTree struct {
	tree       []byte // the search tree section
	nodeCount  uint32
	recordSize uint // 24, 28 or 32
	// ipv4 is the record for the IPv4 space: the root (0) of an
	// IPv4-only database, else what ::/96 leads to (a node, or a leaf
	// when the tree ends above it); ipv6 tells which.
	ipv4 uint32
	ipv6 bool
}

// dataSeparator is the 16 zero bytes between the tree and the data
// section: a data record's value is nodeCount + 16 + its offset.
const dataSeparator = 16

func newSearchTree(buf []byte, nodeCount, recordSize, ipVersion uint) (*searchTree, error) {
	switch recordSize {
	case 24, 28, 32:
	default:
		return nil, fmt.Errorf("unsupported record size %d", recordSize)
	}
	size := nodeCount * recordSize / 4
	if nodeCount >= 1<<32-dataSeparator || size > uint(len(buf)) {
		return nil, fmt.Errorf("search tree of %d nodes does not fit in the file", nodeCount)
	}
	t := &searchTree{tree: buf[:size], nodeCount: uint32(nodeCount), recordSize: recordSize, ipv6: ipVersion == 6}
	if t.ipv6 {
		// The IPv4 space is ::/96: 96 left turns from the root.
		v := uint32(0)
		for i := 0; i < 96 && t.isNode(v); i++ {
			v, _ = t.children(v)
		}
		t.ipv4 = v
	}
	return t, nil
}

func (t *searchTree) isNode(v uint32) bool { return v < t.nodeCount }

// dataOffset returns the offset in the data section (as maxminddb's
// Result.Offset gives it) of a record that is neither a node nor empty, or
// false for a value inside the separator, which only a corrupt file has.
func (t *searchTree) dataOffset(v uint32) (uintptr, bool) {
	if v < t.nodeCount+dataSeparator {
		return 0, false
	}
	return uintptr(v - t.nodeCount - dataSeparator), true
}

// children returns node n's two records. n must be a node.
func (t *searchTree) children(n uint32) (left, right uint32) {
	switch t.recordSize {
	case 24:
		b := t.tree[n*6 : n*6+6]
		return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]),
			uint32(b[3])<<16 | uint32(b[4])<<8 | uint32(b[5])
	case 28:
		// The middle byte holds the top 4 bits of both records.
		b := t.tree[n*7 : n*7+7]
		return uint32(b[3]&0xf0)<<20 | uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]),
			uint32(b[3]&0x0f)<<24 | uint32(b[4])<<16 | uint32(b[5])<<8 | uint32(b[6])
	default:
		b := t.tree[n*8 : n*8+8]
		return binary.BigEndian.Uint32(b[:4]), binary.BigEndian.Uint32(b[4:])
	}
}
