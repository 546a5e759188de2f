package geo

import (
	"encoding/binary"
	"net/netip"
)

// Tree is a compiled geo decision (see Compile): a binary tree over
// address bits whose leaves are the caller's values, with every two
// sibling leaves that hold the same value merged into their parent. A
// lookup therefore ends at the shortest prefix around the address inside
// which every address gets the same value: the ECS scope to answer (RFC
// 7871 section 7.2.1), as cacheable as the decision allows.
//
// A Tree is immutable and safe for concurrent use; Lookup takes no lock and
// allocates nothing.
type Tree struct {
	// nodes[i] holds node i's two children, each a node index or, with
	// leafBit set, a leaf value.
	nodes []treeNode
	// roots: IPv4 clients walk 32 bits from root4, every other client 128
	// bits from root6. Either may itself be a leaf.
	root4, root6 uint32
	// skip4, in a large tree, is where an IPv4 walk stands after its first
	// 16 bits, by those bits: the reference, and how many bits it took
	// (fewer when a leaf came first). It saves the 16 dependent loads that
	// every lookup would make, for 320 KiB.
	skip4 []skip
}

type treeNode [2]uint32

type skip struct {
	ref  uint32
	bits uint8
}

// skipBits is how many IPv4 bits skip4 covers.
const skipBits = 16

// skipMinNodes is the tree size from which skip4 pays for its memory (a
// variable so that tests can give small trees one).
var skipMinNodes = 1 << 14

// buildSkip fills skip4 when the tree is large.
func (t *Tree) buildSkip() {
	if len(t.nodes) < skipMinNodes {
		return
	}
	t.skip4 = make([]skip, 1<<skipBits)
	for i := range t.skip4 {
		x := uint32(i) << (32 - skipBits)
		ref, bits := t.root4, uint8(0)
		for ref&leafBit == 0 && bits < skipBits {
			ref = t.nodes[ref][x>>31]
			x <<= 1
			bits++
		}
		t.skip4[i] = skip{ref, bits}
	}
}

// leafBit marks a child reference as a leaf value. Leaf values are below
// it: MaxLeaf is the largest.
const leafBit = 1 << 31

// MaxLeaf is the largest value a Compile classifier may return.
const MaxLeaf = leafBit - 1

// Lookup returns the leaf value for a and the length of the prefix of a
// that leads to it (for an IPv4 or 4in6-mapped address, an IPv4 prefix
// length). A nil Tree or an invalid address returns 0, 0.
func (t *Tree) Lookup(a netip.Addr) (leaf uint32, bits int) {
	if t == nil || !a.IsValid() {
		return 0, 0
	}
	a = a.Unmap()
	if a.Is4() {
		b := a.As4()
		x := binary.BigEndian.Uint32(b[:])
		ref := t.root4
		if t.skip4 != nil {
			sk := t.skip4[x>>(32-skipBits)]
			ref, bits = sk.ref, int(sk.bits)
			x <<= sk.bits
		}
		for ref&leafBit == 0 {
			ref = t.nodes[ref][x>>31]
			x <<= 1
			bits++
		}
		return ref &^ leafBit, bits
	}
	b := a.As16()
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	ref := t.root6
	for ref&leafBit == 0 {
		ref = t.nodes[ref][hi>>63]
		hi = hi<<1 | lo>>63
		lo <<= 1
		bits++
	}
	return ref &^ leafBit, bits
}

// Nodes is the number of inner nodes.
func (t *Tree) Nodes() int { return len(t.nodes) }

// Bytes is the memory the tree takes.
func (t *Tree) Bytes() int { return 8*cap(t.nodes) + 8*len(t.skip4) }

// relayout puts the nodes in breadth-first order from the roots. The
// compiler emits them children first, which scatters the top levels, the
// ones every lookup reads, over the whole array; in breadth-first order
// they share a few cache lines.
func (t *Tree) relayout() {
	if len(t.nodes) == 0 {
		t.nodes = nil
		return
	}
	const unset = ^uint32(0)
	at := make([]uint32, len(t.nodes)) // old index -> new index
	for i := range at {
		at[i] = unset
	}
	order := make([]uint32, 0, len(t.nodes)) // new index -> old index
	visit := func(ref uint32) {
		if ref&leafBit == 0 && at[ref] == unset {
			at[ref] = uint32(len(order))
			order = append(order, ref)
		}
	}
	visit(t.root4)
	visit(t.root6)
	for k := 0; k < len(order); k++ {
		n := t.nodes[order[k]]
		visit(n[0])
		visit(n[1])
	}
	nodes := make([]treeNode, len(order))
	move := func(ref uint32) uint32 {
		if ref&leafBit != 0 {
			return ref
		}
		return at[ref]
	}
	for k, old := range order {
		n := t.nodes[old]
		nodes[k] = treeNode{move(n[0]), move(n[1])}
	}
	t.root4, t.root6, t.nodes = move(t.root4), move(t.root6), nodes
}
