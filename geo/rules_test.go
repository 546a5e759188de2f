package geo

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// randomRules returns n distinct rules that nest and cluster: prefixes of a
// few base addresses, so that longest-match and scope narrowing both matter.
func randomRules(r *rand.Rand, n int, v6 bool) []Rule {
	bases := make([]netip.Addr, 6)
	for i := range bases {
		if v6 {
			bases[i] = randomIn(r, pfx("2000::/3"))
		} else {
			bases[i] = randomIn(r, pfx("0.0.0.0/0"))
		}
	}
	seen := map[netip.Prefix]bool{}
	var rules []Rule
	for len(rules) < n {
		b := bases[r.IntN(len(bases))]
		// Perturb the base below a random depth so siblings appear.
		bits := r.IntN(b.BitLen() + 1)
		a := randomIn(r, netip.PrefixFrom(b, max(0, bits-r.IntN(8))).Masked())
		p := netip.PrefixFrom(a, bits).Masked()
		if seen[p] {
			continue
		}
		seen[p] = true
		rules = append(rules, Rule{Prefix: p, Site: p.String()})
	}
	return rules
}

// bruteForce is the obvious longest-prefix match over all rules.
func bruteForce(rules []Rule, a netip.Addr) (best *Rule) {
	for i := range rules {
		if rules[i].Prefix.Contains(a) && (best == nil || rules[i].Prefix.Bits() > best.Prefix.Bits()) {
			best = &rules[i]
		}
	}
	return best
}

// TestRuleTableTrie checks the trie against the linear scan and both
// against brute force, for both families and sizes on each side of
// linearMax. It also checks what Prefix promises: it contains the address,
// every rule it touches contains it, and it is no longer than needed.
func TestRuleTableTrie(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, v6 := range []bool{false, true} {
		for _, n := range []int{1, 5, linearMax, linearMax + 1, 300} {
			t.Run(fmt.Sprintf("v6=%v/n=%d", v6, n), func(t *testing.T) {
				rules := randomRules(r, n, v6)
				l := newLocator(t, nil, rules...)
				tbl, maxBits := &l.v4, 32
				if v6 {
					tbl, maxBits = &l.v6, 128
				}
				if hasTrie := tbl.nodes != nil; hasTrie != (n > linearMax) {
					t.Fatalf("%d rules: trie built = %v", n, hasTrie)
				}
				linear := *tbl
				linear.nodes = nil
				for i := range 3000 {
					var a netip.Addr
					if i%2 == 0 {
						a = randomIn(r, rules[r.IntN(len(rules))].Prefix)
					} else {
						a = randomIn(r, netip.PrefixFrom(rules[r.IntN(len(rules))].Prefix.Addr(), r.IntN(maxBits+1)).Masked())
					}
					k := bitsOf(a)
					bi, bb := tbl.lookup(k, maxBits)
					li, lb := linear.lookup(k, maxBits)
					if bi != li || bb != lb {
						t.Fatalf("%s: table lookup = (%d, %d), linear = (%d, %d)", a, bi, bb, li, lb)
					}
					checkMatch(t, rules, a, l.Locate(a))
				}
			})
		}
	}
}

func checkMatch(t *testing.T, rules []Rule, a netip.Addr, m Match) {
	t.Helper()
	want := bruteForce(rules, a)
	decided := 0
	switch {
	case want == nil && m.Source != SourceNone, want != nil && (m.Source != SourceRule || m.Site != want.Site):
		t.Fatalf("Locate(%s) = %+v, want rule %+v", a, m, want)
	case want != nil:
		decided = want.Prefix.Bits()
	}
	if !m.Prefix.Contains(a) || m.Prefix != m.Prefix.Masked() || m.Prefix.Bits() < decided {
		t.Fatalf("Locate(%s).Prefix = %s: must be masked, hold the address and the deciding rule", a, m.Prefix)
	}
	for _, r := range rules {
		if r.Prefix.Overlaps(m.Prefix) && r.Prefix.Bits() > m.Prefix.Bits() {
			t.Fatalf("Locate(%s).Prefix = %s covers rule %s, which answers differently", a, m.Prefix, r.Prefix)
		}
	}
	if m.Prefix.Bits() > decided {
		// One bit shorter must touch some rule it does not lie within.
		parent := netip.PrefixFrom(a, m.Prefix.Bits()-1).Masked()
		needed := false
		for _, r := range rules {
			needed = needed || r.Prefix.Overlaps(parent) && r.Prefix.Bits() > parent.Bits()
		}
		if !needed {
			t.Fatalf("Locate(%s).Prefix = %s is longer than it needs to be", a, m.Prefix)
		}
	}
}
