package geo

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// Locator places addresses: rules first (longest prefix wins), then the
// database. It is immutable after NewLocator and safe for concurrent use;
// build a new one to change rules or database.
type Locator struct {
	db     *DB       // nil: rules only
	v4, v6 ruleTable // rules by family: IPv4 rules match IPv4 clients only
}

// NewLocator validates rules and builds a Locator over them and db, which may
// be nil. Errors name the offending entry as rules[i]. The rules slice is
// copied; Country and Continent are upper-cased.
func NewLocator(db *DB, rules []Rule) (*Locator, error) {
	var errs []error
	var v4, v6 []Rule
	seen := make(map[netip.Prefix]int, len(rules))
	for i, r := range rules {
		r, err := checkRule(r)
		if err == nil {
			if j, dup := seen[r.Prefix]; dup {
				err = fmt.Errorf("%s: the same network as rules[%d]", r.Prefix, j)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("geo: rules[%d]: %w", i, err))
			continue
		}
		seen[r.Prefix] = i
		if r.Prefix.Addr().Is4() {
			v4 = append(v4, r)
		} else {
			v6 = append(v6, r)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &Locator{db: db, v4: newRuleTable(v4), v6: newRuleTable(v6)}, nil
}

// Locate places a. 4in6-mapped addresses are unmapped first and any zone is
// ignored. A nil Locator or an invalid address returns Match{}. See Match for
// what Prefix means. Locate allocates nothing once the database records it
// meets are cached.
func (l *Locator) Locate(a netip.Addr) Match {
	if l == nil || !a.IsValid() {
		return Match{}
	}
	a = a.Unmap().WithZone("")
	t, maxBits := &l.v6, 128
	if a.Is4() {
		t, maxBits = &l.v4, 32
	}
	ri, branch := t.lookup(bitsOf(a), maxBits)
	if ri >= 0 {
		r := &t.rules[ri]
		return Match{Location: r.Location, Site: r.Site, Prefix: scope(a, r.Prefix.Bits(), branch), Source: SourceRule}
	}
	if l.db == nil {
		return Match{Prefix: scope(a, 0, branch)}
	}
	loc, p, ok := l.db.locate(a)
	m := Match{Prefix: scope(a, p.Bits(), branch)}
	if ok {
		m.Location, m.Source = loc, SourceDB
	}
	return m
}

// scope returns the network around a that decided: bits long, or longer
// when a rule a is outside of lies within that network (the rule shares
// branch leading bits with a), so the network stops short of the rule and
// every address in it really gets the same answer (RFC 7871 section 7.3.1).
func scope(a netip.Addr, bits, branch int) netip.Prefix {
	if branch >= bits {
		bits = branch + 1
	}
	p, _ := a.Prefix(bits)
	return p
}

// Same reports whether l and o locate every address alike because they
// are built from the same database (the same open DB, not an equal file)
// and equal rules. What was compiled from one (Compile) holds for the
// other, so a reload that rebuilt the Locator from an unchanged config
// keeps its compiled trees.
func (l *Locator) Same(o *Locator) bool {
	if l == nil || o == nil {
		return l == o
	}
	return l == o || l.db == o.db && slices.Equal(l.v4.rules, o.v4.rules) && slices.Equal(l.v6.rules, o.v6.rules)
}
