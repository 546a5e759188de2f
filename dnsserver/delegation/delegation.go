// Package delegation keeps a zone's delegation in its parent zone in step
// with the name servers that serve the zone: the NS RRset at the zone cut
// and the glue (the A and AAAA records of the name servers that are inside
// the zone, which a resolver cannot look up without them; RFC 1034 section
// 4.2.1, RFC 9471).
//
// A Parent reads the delegation the parent zone holds (Read) and changes it
// (Apply). The first Parent is RFC2136: DNS queries to read, RFC 2136
// dynamic updates signed with TSIG (RFC 8945) to change. Provider APIs
// (Route 53 and others) can implement the same interface later.
//
// Diff compares the delegation Meridian wants with the one the parent
// holds. Only the glue of in-bailiwick name servers (names inside the
// delegated zone) is managed: addresses of names elsewhere belong to other
// zones, and the parent holds no glue for them.
//
// The package is in the dnsserver tree because it is the only tree that
// may import github.com/miekg/dns.
package delegation

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/meridian-gslb/meridian/gslb"
	"github.com/miekg/dns"
)

// Parent is the parent zone of one delegated zone, as a provider offers
// it.
type Parent interface {
	// Read returns the delegation the parent holds now.
	Read(ctx context.Context) (Delegation, error)
	// Apply makes the changes of d in the parent, all or none. Records
	// it adds get ttl.
	Apply(ctx context.Context, d Diff, ttl uint32) error
}

// NameServer is one NS target of a delegation and its glue.
type NameServer struct {
	Name  string       // fully qualified, lower case
	Addrs []netip.Addr // glue; meaningful only for in-bailiwick names
}

// Delegation is a zone's NS RRset at the cut and the glue of its name
// servers.
type Delegation struct {
	NameServers []NameServer
}

// Names are the NS targets, sorted.
func (d Delegation) Names() []string {
	out := make([]string, 0, len(d.NameServers))
	for _, ns := range d.NameServers {
		out = append(out, ns.Name)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Glue is one A or AAAA record of a name server.
type Glue struct {
	Name string
	Addr netip.Addr
}

// Type is the record type: A or AAAA.
func (g Glue) Type() string {
	if g.Addr.Is4() {
		return "A"
	}
	return "AAAA"
}

func (g Glue) String() string { return g.Name + " " + g.Type() + " " + g.Addr.String() }

// Diff is what the parent must change so that its delegation of Zone is
// the wanted one.
type Diff struct {
	Zone       string   // the delegated zone
	AddNS      []string // NS targets the parent lacks
	RemoveNS   []string // NS targets the parent has and should not
	AddGlue    []Glue   // glue the parent lacks
	RemoveGlue []Glue   // glue the parent has and should not
}

// Empty reports whether the parent is in step.
func (d Diff) Empty() bool {
	return len(d.AddNS) == 0 && len(d.RemoveNS) == 0 && len(d.AddGlue) == 0 && len(d.RemoveGlue) == 0
}

// Compute is the Diff from have (the parent's delegation of zone) to want.
// Glue is compared only for in-bailiwick names: the glue of a name being
// removed is removed with it, the glue of a name kept or added is made
// exactly the wanted addresses.
func Compute(zone string, want, have Delegation) Diff {
	zone = gslb.CanonicalName(zone)
	d := Diff{Zone: zone}
	wantAddrs, haveAddrs := addrsByName(want), addrsByName(have)
	for name := range wantAddrs {
		if _, ok := haveAddrs[name]; !ok {
			d.AddNS = append(d.AddNS, name)
		}
	}
	for name, addrs := range haveAddrs {
		if _, ok := wantAddrs[name]; !ok {
			d.RemoveNS = append(d.RemoveNS, name)
			if InBailiwick(name, zone) {
				for _, a := range addrs {
					d.RemoveGlue = append(d.RemoveGlue, Glue{name, a})
				}
			}
		}
	}
	for name, addrs := range wantAddrs {
		if !InBailiwick(name, zone) {
			continue
		}
		had := haveAddrs[name]
		for _, a := range addrs {
			if !slices.Contains(had, a) {
				d.AddGlue = append(d.AddGlue, Glue{name, a})
			}
		}
		for _, a := range had {
			if !slices.Contains(addrs, a) {
				d.RemoveGlue = append(d.RemoveGlue, Glue{name, a})
			}
		}
	}
	d.sort()
	return d
}

// addrsByName indexes a delegation: canonical name -> unique addresses
// (unmapped, so 4-in-6 forms compare equal).
func addrsByName(d Delegation) map[string][]netip.Addr {
	out := make(map[string][]netip.Addr, len(d.NameServers))
	for _, ns := range d.NameServers {
		name := gslb.CanonicalName(ns.Name)
		addrs := out[name]
		for _, a := range ns.Addrs {
			if a = a.Unmap(); a.IsValid() && !slices.Contains(addrs, a) {
				addrs = append(addrs, a)
			}
		}
		out[name] = addrs
	}
	return out
}

func (d *Diff) sort() {
	slices.Sort(d.AddNS)
	slices.Sort(d.RemoveNS)
	byGlue := func(a, b Glue) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return a.Addr.Compare(b.Addr)
	}
	slices.SortFunc(d.AddGlue, byGlue)
	slices.SortFunc(d.RemoveGlue, byGlue)
}

// Except is d without the changes to the names in skip: the name servers
// of a site in its grace period are neither added nor removed.
func (d Diff) Except(skip map[string]bool) Diff {
	if len(skip) == 0 {
		return d
	}
	keepName := func(n string) bool { return !skip[n] }
	keepGlue := func(g Glue) bool { return !skip[g.Name] }
	return Diff{
		Zone:       d.Zone,
		AddNS:      filter(d.AddNS, keepName),
		RemoveNS:   filter(d.RemoveNS, keepName),
		AddGlue:    filter(d.AddGlue, keepGlue),
		RemoveGlue: filter(d.RemoveGlue, keepGlue),
	}
}

// KeepRemovals is d without the removal of the NS targets in keep, nor
// of their glue: the last name servers of a delegation are never removed.
func (d Diff) KeepRemovals(keep []string) Diff {
	if len(keep) == 0 {
		return d
	}
	out := d
	out.RemoveNS = filter(d.RemoveNS, func(n string) bool { return !slices.Contains(keep, n) })
	out.RemoveGlue = filter(d.RemoveGlue, func(g Glue) bool {
		return !slices.Contains(keep, g.Name) || !slices.Contains(d.RemoveNS, g.Name)
	})
	return out
}

func filter[T any](in []T, keep func(T) bool) []T {
	var out []T
	for _, v := range in {
		if keep(v) {
			out = append(out, v)
		}
	}
	return out
}

// After is the NS targets the parent holds once d is applied to have.
func (d Diff) After(have Delegation) []string {
	var out []string
	for _, n := range have.Names() {
		if !slices.Contains(d.RemoveNS, n) {
			out = append(out, n)
		}
	}
	out = append(out, d.AddNS...)
	slices.Sort(out)
	return slices.Compact(out)
}

// Lines describes d for people, one change per line, in a stable order:
// "missing NS x.", "extra NS y.", "missing glue x. A 192.0.2.1",
// "extra glue y. AAAA 2001:db8::1", and "wrong glue x. A: parent has
// 192.0.2.9, want 192.0.2.1" when a kept name's addresses of one type
// differ both ways.
func (d Diff) Lines() []string {
	var out []string
	for _, n := range d.AddNS {
		out = append(out, "missing NS "+n)
	}
	for _, n := range d.RemoveNS {
		out = append(out, "extra NS "+n)
	}
	type key struct{ name, typ string }
	missing, extra := map[key][]string{}, map[key][]string{}
	var keys []key
	for _, g := range d.AddGlue {
		k := key{g.Name, g.Type()}
		if missing[k] == nil && extra[k] == nil {
			keys = append(keys, k)
		}
		missing[k] = append(missing[k], g.Addr.String())
	}
	for _, g := range d.RemoveGlue {
		k := key{g.Name, g.Type()}
		if missing[k] == nil && extra[k] == nil {
			keys = append(keys, k)
		}
		extra[k] = append(extra[k], g.Addr.String())
	}
	slices.SortFunc(keys, func(a, b key) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return strings.Compare(a.typ, b.typ)
	})
	for _, k := range keys {
		m, x := missing[k], extra[k]
		switch {
		case len(m) > 0 && len(x) > 0 && !slices.Contains(d.RemoveNS, k.name):
			out = append(out, fmt.Sprintf("wrong glue %s %s: parent has %s, want %s", k.name, k.typ, strings.Join(x, " "), strings.Join(m, " ")))
		default:
			for _, a := range m {
				out = append(out, fmt.Sprintf("missing glue %s %s %s", k.name, k.typ, a))
			}
			for _, a := range x {
				out = append(out, fmt.Sprintf("extra glue %s %s %s", k.name, k.typ, a))
			}
		}
	}
	return out
}

// InBailiwick reports whether name is zone or below it: a name server
// whose glue the parent must hold (RFC 9471).
func InBailiwick(name, zone string) bool {
	return gslb.InZone(gslb.CanonicalName(name), gslb.CanonicalName(zone))
}

// ParentZone is zone without its first label: the default parent zone
// ("gslb.example.com." -> "example.com."); "" for a top-level name or the
// root.
func ParentZone(zone string) string {
	zone = gslb.CanonicalName(zone)
	if zone == "." || zone == "" {
		return ""
	}
	labels := dns.SplitDomainName(zone)
	if len(labels) < 2 {
		return ""
	}
	return dns.Fqdn(strings.Join(labels[1:], "."))
}

// CheckName reports why s is not a usable domain name (a key name, a
// zone name), or nil.
func CheckName(s string) error {
	if strings.TrimSpace(s) == "" {
		return fmt.Errorf("empty name")
	}
	if _, ok := dns.IsDomainName(s); !ok {
		return fmt.Errorf("%q is not a domain name", s)
	}
	return nil
}
