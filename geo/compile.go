package geo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// Classifier gives the leaf value of every address that Locate places at m
// (its Prefix is not set) and whose longest containing split network is
// splits[split] (-1: none). Compile calls it once per distinct pair, so it
// may be slow; it must return at most MaxLeaf.
type Classifier func(m Match, split int) uint32

// Compile compiles one decision over the locator's whole address space,
// both families: the rules laid over the database, each address's Match
// classified, and equal neighbours merged (see Tree). splits are networks
// the decision also depends on (a topology rule's CIDRs): no merged prefix
// straddles one, and classify learns which holds the address. A split
// applies to clients of its own family, as the networks Locate's rules
// match do.
//
// A tree answers exactly as Locate followed by classify would, address for
// address; only the prefix lengths differ, being as short as the decision
// allows rather than the database's network. Compile visits every node of
// the database's search tree once, so it takes time in proportion to the
// database, and it stops early with ctx's error.
func (l *Locator) Compile(ctx context.Context, splits []netip.Prefix, classify Classifier) (*Tree, error) {
	c := &compiler{ctx: ctx, classify: classify, memo: map[[2]int32]uint32{}, classes: map[Match]int32{}}
	if l != nil && l.db != nil {
		pl, err := l.db.placeIndex()
		if err != nil {
			return nil, fmt.Errorf("geo: compile: %s: %w", l.db.name, err)
		}
		c.st, c.places, c.noDB = l.db.tree, pl, l.db.tree.nodeCount
	}
	// Classes: the database's places first (0: placed nowhere), then the
	// rules' matches as the walk meets them.
	c.dbClasses = 1
	if c.places != nil {
		c.dbClasses = int32(len(c.places.locs))
	}
	c.memo0 = make([]uint32, c.dbClasses)
	for i := range c.memo0 {
		c.memo0[i] = noLeaf
	}
	var rules4, rules6 []Rule
	if l != nil {
		rules4, rules6 = l.v4.rules, l.v6.rules
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("geo: compile: %w", err)
	}
	t := &Tree{}
	// The IPv4 space first: when it depends on no rule or split, the IPv6
	// walk reuses it for the database's aliases of it (::/96, 6to4...).
	c.space(rules4, splits, true)
	v4 := c.noDB
	if c.st != nil {
		v4 = c.st.ipv4
	}
	t.root4 = c.walk(v4, 0, addrBits{}, 32, c.ents, -1, -1)
	if len(c.ents) == 0 && c.st != nil && c.st.isNode(v4) {
		c.alias, c.hasAlias = t.root4, true
	}
	c.space(rules6, splits, false)
	v6 := c.noDB
	if c.st != nil && c.st.ipv6 {
		v6 = 0
	}
	t.root6 = c.walk(v6, 0, addrBits{}, 128, c.ents, -1, -1)
	if c.err != nil {
		return nil, c.err
	}
	t.nodes = c.nodes
	t.relayout()
	t.buildSkip()
	return t, nil
}

// compiler is the state of one Compile.
type compiler struct {
	ctx      context.Context
	classify Classifier
	st       *searchTree // nil without a database
	noDB     uint32      // the record value standing for "no data"

	rules []Rule  // the family being walked, as its ruleTable holds them
	ents  []entry // its rules and splits, sorted by address then length
	v4    bool

	places    *places // the database's records as places
	dbClasses int32   // classes below are the database's places
	matches   []Match // the rules' matches, by class - dbClasses
	classes   map[Match]int32
	memo0     []uint32            // by class: the leaf value outside every split, or noLeaf
	memo      map[[2]int32]uint32 // (class, split) -> leaf value, inside a split

	nodes    []treeNode
	alias    uint32 // the compiled IPv4 space, for the database's aliases of it
	hasAlias bool
	leaves   int
	err      error
}

// noLeaf marks a memo0 entry not classified yet.
const noLeaf = ^uint32(0)

// entry is a rule or split network of the family being walked.
type entry struct {
	key   addrBits
	bits  int
	rule  int32 // index into compiler.rules, or -1
	split int32 // index into Compile's splits, or -1
}

// space prepares the walk of one family: its rules and splits as entries.
func (c *compiler) space(rules []Rule, splits []netip.Prefix, v4 bool) {
	c.rules, c.v4 = rules, v4
	c.ents = c.ents[:0:0]
	for i, r := range rules {
		c.ents = append(c.ents, entry{key: bitsOf(r.Prefix.Addr()), bits: r.Prefix.Bits(), rule: int32(i), split: -1})
	}
	for i, p := range splits {
		if p.Addr().Is4() != v4 {
			continue
		}
		p = p.Masked()
		c.ents = append(c.ents, entry{key: bitsOf(p.Addr()), bits: p.Bits(), rule: -1, split: int32(i)})
	}
	slices.SortFunc(c.ents, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.key.hi, b.key.hi), cmp.Compare(a.key.lo, b.key.lo), cmp.Compare(a.bits, b.bits))
	})
}

// isNode reports whether database record v is an inner node.
func (c *compiler) isNode(v uint32) bool { return c.st != nil && c.st.isNode(v) }

// walk compiles the region of depth bits at key, in which the database
// holds record v (a node, or the leaf every address of it gets), ents are
// the rule and split networks inside it (or equal to it), and rule and
// split the longest ones containing it. It returns the region's reference:
// a node index, or a leaf value with leafBit when the whole region gets
// one value.
func (c *compiler) walk(v uint32, depth int, key addrBits, maxBits int, ents []entry, rule, split int32) uint32 {
	if c.err != nil {
		return leafBit
	}
	// Networks equal to the region apply from here down; they sort first.
	for len(ents) > 0 && ents[0].bits == depth {
		if ents[0].rule >= 0 {
			rule = ents[0].rule
		} else {
			split = ents[0].split
		}
		ents = ents[1:]
	}
	node := c.isNode(v)
	if !node && len(ents) == 0 {
		return c.leaf(v, rule, split)
	}
	if !c.v4 && node && v == c.st.ipv4 && len(ents) == 0 && rule < 0 && split < 0 {
		// An alias of the IPv4 space with nothing of ours laid over it
		// compiles as the IPv4 space does: share that subtree.
		if !c.hasAlias {
			c.alias, c.hasAlias = c.branch(v, depth, key, maxBits, ents, rule, split), true
		}
		return c.alias
	}
	return c.branch(v, depth, key, maxBits, ents, rule, split)
}

// branch compiles the region's two halves and merges them when they are
// the same leaf.
func (c *compiler) branch(v uint32, depth int, key addrBits, maxBits int, ents []entry, rule, split int32) uint32 {
	if depth == maxBits {
		c.fail(fmt.Errorf("the search tree goes deeper than %d bits", maxBits))
		return leafBit
	}
	left, right := v, v
	if c.isNode(v) {
		left, right = c.st.children(v)
	}
	// ents are sorted by address, so those in the left half come first.
	n := 0
	for n < len(ents) && ents[n].key.bit(depth) == 0 {
		n++
	}
	a := c.walk(left, depth+1, key, maxBits, ents[:n], rule, split)
	b := c.walk(right, depth+1, key.with(depth), maxBits, ents[n:], rule, split)
	if a == b && a&leafBit != 0 {
		return a
	}
	if len(c.nodes) >= leafBit {
		c.fail(errors.New("compiled tree too large"))
		return leafBit
	}
	c.nodes = append(c.nodes, treeNode{a, b})
	return uint32(len(c.nodes) - 1)
}

// leaf classifies a region that gets one Match throughout.
func (c *compiler) leaf(v uint32, rule, split int32) uint32 {
	c.leaves++
	if c.leaves&0xffff == 0 {
		if err := c.ctx.Err(); err != nil {
			c.fail(err)
			return leafBit
		}
	}
	var class int32
	switch {
	case rule >= 0:
		r := &c.rules[rule]
		class = c.class(Match{Location: r.Location, Site: r.Site, Source: SourceRule})
	case c.st != nil && v != c.noDB:
		class = c.places.byValue[v] // every data record the tree holds is there
	}
	if split < 0 {
		val := c.memo0[class]
		if val == noLeaf {
			if val = c.classifyOnce(class, split); c.err != nil {
				return leafBit
			}
			c.memo0[class] = val
		}
		return val | leafBit
	}
	k := [2]int32{class, split}
	val, seen := c.memo[k]
	if !seen {
		if val = c.classifyOnce(class, split); c.err != nil {
			return leafBit
		}
		c.memo[k] = val
	}
	return val | leafBit
}

func (c *compiler) classifyOnce(class, split int32) uint32 {
	var m Match
	switch {
	case class >= c.dbClasses:
		m = c.matches[class-c.dbClasses]
	case class > 0:
		m = Match{Location: c.places.locs[class], Source: SourceDB}
	}
	val := c.classify(m, int(split))
	if val > MaxLeaf {
		c.fail(fmt.Errorf("leaf value %d above MaxLeaf", val))
	}
	return val
}

// class interns a rule's match.
func (c *compiler) class(m Match) int32 {
	cl, ok := c.classes[m]
	if !ok {
		cl = c.dbClasses + int32(len(c.matches))
		c.classes[m] = cl
		c.matches = append(c.matches, m)
		c.memo0 = append(c.memo0, noLeaf)
	}
	return cl
}

func (c *compiler) fail(err error) {
	if c.err == nil {
		c.err = fmt.Errorf("geo: compile: %w", err)
	}
}

// with returns k with bit i (0 the most significant) set.
func (k addrBits) with(i int) addrBits {
	if i < 64 {
		k.hi |= 1 << (63 - i)
	} else {
		k.lo |= 1 << (127 - i)
	}
	return k
}
