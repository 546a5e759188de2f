package geo

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"strings"
)

// Rule places a client network at a location or a site, before the database
// is asked. Rules are used as given: a Location without coordinates stays
// without them.
type Rule struct {
	Prefix   netip.Prefix
	Location Location
	Site     string
}

// linearMax is the most rules of one family kept in a plain slice. A scan
// of a few dozen prefixes is a handful of compares and beats chasing trie
// nodes; past that the trie's bounded walk wins.
const linearMax = 32

// addrBits is an address as a 128-bit number, left-aligned: an IPv4 address
// fills the top 32 bits. It lets one trie walk and one common-prefix count
// serve both families.
type addrBits struct{ hi, lo uint64 }

func bitsOf(a netip.Addr) addrBits {
	if a.Is4() {
		b := a.As4()
		return addrBits{hi: uint64(binary.BigEndian.Uint32(b[:])) << 32}
	}
	b := a.As16()
	return addrBits{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// bit returns bit i (0 is the most significant).
func (k addrBits) bit(i int) int {
	if i < 64 {
		return int(k.hi >> (63 - i) & 1)
	}
	return int(k.lo >> (127 - i) & 1)
}

// common returns how many leading bits k and o share.
func (k addrBits) common(o addrBits) int {
	if x := k.hi ^ o.hi; x != 0 {
		return bits.LeadingZeros64(x)
	}
	return 64 + bits.LeadingZeros64(k.lo^o.lo)
}

// trieNode is one node of a binary trie over address bits. Indexes are into
// ruleTable.nodes and ruleTable.rules; -1 means none.
type trieNode struct {
	child [2]int32
	rule  int32
}

// ruleTable holds the rules of one address family, sorted longest prefix
// first. Small tables are scanned; larger ones get a trie.
type ruleTable struct {
	rules []Rule
	keys  []addrBits // rules[i].Prefix.Addr() as addrBits
	nodes []trieNode // nil while len(rules) <= linearMax
}

func newRuleTable(rules []Rule) ruleTable {
	slices.SortStableFunc(rules, func(a, b Rule) int { return cmp.Compare(b.Prefix.Bits(), a.Prefix.Bits()) })
	t := ruleTable{rules: rules, keys: make([]addrBits, len(rules))}
	for i, r := range rules {
		t.keys[i] = bitsOf(r.Prefix.Addr())
	}
	if len(rules) <= linearMax {
		return t
	}
	t.nodes = []trieNode{{child: [2]int32{-1, -1}, rule: -1}}
	for i, r := range rules {
		n := int32(0)
		for d := range r.Prefix.Bits() {
			b := t.keys[i].bit(d)
			if t.nodes[n].child[b] < 0 {
				t.nodes = append(t.nodes, trieNode{child: [2]int32{-1, -1}, rule: -1})
				t.nodes[n].child[b] = int32(len(t.nodes) - 1)
			}
			n = t.nodes[n].child[b]
		}
		t.nodes[n].rule = int32(i)
	}
	return t
}

// lookup returns the index of the longest rule containing k (-1 for none)
// and branch, the longest common prefix k shares with a rule that does NOT
// contain it (-1 for none). A scope of branch+1 bits is the shortest that
// keeps such a rule out of the answer's network.
func (t *ruleTable) lookup(k addrBits, maxBits int) (best, branch int) {
	best, branch = -1, -1
	if t.nodes == nil {
		for i := range t.rules {
			c := k.common(t.keys[i])
			if c >= t.rules[i].Prefix.Bits() {
				if best < 0 {
					best = i // sorted longest first
				}
			} else {
				branch = max(branch, c)
			}
		}
		return best, branch
	}
	n := int32(0)
	for d := 0; ; d++ {
		node := &t.nodes[n]
		if node.rule >= 0 {
			best = int(node.rule)
		}
		if d == maxBits {
			return best, branch
		}
		b := k.bit(d)
		if node.child[1-b] >= 0 {
			branch = d
		}
		if n = node.child[b]; n < 0 {
			return best, branch
		}
	}
}

// checkRule validates r and returns it normalised (country and continent in
// upper case).
func checkRule(r Rule) (Rule, error) {
	p := r.Prefix
	switch {
	case !p.IsValid():
		return r, errors.New("invalid or missing network")
	case p.Addr().Is4In6():
		return r, fmt.Errorf("%s is an IPv4-mapped IPv6 network; clients are unmapped before lookup, so write it as an IPv4 network", p)
	}
	if err := CheckNetwork(p); err != nil {
		return r, err
	}
	l := &r.Location
	l.Country = strings.ToUpper(l.Country)
	l.Continent = strings.ToUpper(l.Continent)
	switch {
	case r.Site == "" && l.isZero():
		return r, fmt.Errorf("%s: set a site or a location", p)
	case r.Site != "" && !l.isZero():
		return r, fmt.Errorf("%s: set a site or a location, not both", p)
	case !l.HasCoords && (l.Lat != 0 || l.Lon != 0):
		return r, fmt.Errorf("%s: latitude/longitude given but HasCoords is false", p)
	}
	if err := l.check(); err != nil {
		return r, fmt.Errorf("%s: %w", p, err)
	}
	return r, nil
}

// check reports the first field of l that breaks the rules of codes.go.
func (l Location) check() error {
	if l.HasCoords {
		if err := CheckLatitude(l.Lat); err != nil {
			return err
		}
		if err := CheckLongitude(l.Lon); err != nil {
			return err
		}
	}
	if l.Country != "" {
		if err := CheckCountry(l.Country); err != nil {
			return err
		}
	}
	if l.Continent != "" {
		return CheckContinent(l.Continent)
	}
	return nil
}

// isZero reports whether l says nothing at all about a place.
func (l Location) isZero() bool {
	return l == Location{}
}
