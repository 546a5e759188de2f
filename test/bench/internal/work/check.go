package work

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/test/bench/internal/dnsq"
	"github.com/meridian-gslb/meridian/test/bench/internal/geodb"
)

// Report is the outcome of a server's answer check.
type Report struct {
	Cases  int      // questions asked
	Wrong  int      // answers that were not the expected one
	Lines  []string // one line per fixed case and per wrong answer
	Scopes []int    // ECS scopes of the random located /24 sample (-1: none)
}

// OK says whether every answer was right.
func (r *Report) OK() bool { return r.Cases > 0 && r.Wrong == 0 }

func (r *Report) add(label, want, got string, ok bool, extra string) {
	r.Cases++
	mark := "ok"
	if !ok {
		r.Wrong++
		mark = "WRONG"
	}
	r.Lines = append(r.Lines, fmt.Sprintf("%-5s %-40s want %-16s got %-16s %s", mark, label, want, got, extra))
}

// Text is the report as lines, ending in a summary.
func (r *Report) Text() string {
	var b strings.Builder
	for _, l := range r.Lines {
		b.WriteString(l + "\n")
	}
	fmt.Fprintf(&b, "%d questions, %d wrong\n", r.Cases, r.Wrong)
	return b.String()
}

// CheckStatic asks server the w1 questions: app, the first, middle and last
// wwwN and 20 random ones (authoritative, NOERROR, the zone's address), and
// a missing name (authoritative NXDOMAIN with the SOA).
func CheckStatic(server string, rng *rand.Rand) *Report {
	r := &Report{}
	names := []int{0, NumWWW / 2, NumWWW - 1}
	for range 20 {
		names = append(names, rng.IntN(NumWWW))
	}
	ask := func(name, want string) {
		m, err := dnsq.Ask(server, dnsq.Query(name, dns.TypeA, false, netip.Prefix{}), netip.Addr{})
		if err != nil {
			r.add(name, want, "error", false, err.Error())
			return
		}
		got := dnsq.AddrsA(m)
		ok := got == want && m.Authoritative && m.Rcode == dns.RcodeSuccess
		r.add(name, want, got, ok, fmt.Sprintf("aa=%v rcode=%s", m.Authoritative, dns.RcodeToString[m.Rcode]))
	}
	ask(App, Sites[0].Addr)
	for _, n := range names {
		ask(fmt.Sprintf("www%d.%s", n, Zone), WWWAddr(n))
	}
	name := "nope." + Zone
	m, err := dnsq.Ask(server, dnsq.Query(name, dns.TypeA, false, netip.Prefix{}), netip.Addr{})
	if err != nil {
		r.add(name, "NXDOMAIN", "error", false, err.Error())
	} else {
		soa := len(m.Ns) > 0 && m.Ns[0].Header().Rrtype == dns.TypeSOA
		got := dns.RcodeToString[m.Rcode]
		r.add(name, "NXDOMAIN", got, m.Rcode == dns.RcodeNameError && m.Authoritative && soa, fmt.Sprintf("aa=%v soa=%v", m.Authoritative, soa))
	}
	return r
}

// v6Cases are IPv6 ECS prefixes of the geo check; the expected site comes
// from the database like every other case (not located: us-east).
var v6Cases = []string{"2a00:1450:4001::/48", "2400:cb00:2048::/48", "2600:1f18:1::/48", "2001:67c:2e8::/48", "2c0f:fb50:4002::/48", "2800:3f0:4001::/48"}

// loopbackSources are the source addresses of the no-ECS cases.
var loopbackSources = []string{"127.0.0.1", "127.0.1.1", "127.0.2.1"}

// CheckGeo asks server the w2 question for: one located /24 per continent
// the database knows, IPv6 /48s, no ECS from three loopback sources, n
// random located /24s and n/3 random /24s anywhere. The expected answer
// for each comes from db. With do set every question has the DNSSEC OK
// bit, and an answer is right only when its reply has the DO bit too and
// an RRSIG covering the A RRset that verifies with the zone's DNSKEY RRset
// (asked first, with DO, from the same server).
func CheckGeo(db *geodb.DB, server string, n int, rng *rand.Rand, do bool) (*Report, error) {
	r := &Report{}
	var keys []*dns.DNSKEY
	if do {
		keys = zoneKeys(r, server)
	}
	want := func(a netip.Addr) (Site, string, error) {
		p, err := db.Lookup(a)
		if err != nil {
			return Site{}, "", err
		}
		c := p.Continent
		if c == "" {
			c = "-"
		}
		return SiteOf(p.Continent), c, nil
	}
	ask := func(label string, ecs netip.Prefix, src netip.Addr, sample bool) error {
		a := ecs.Addr()
		if !ecs.IsValid() {
			a = src
		}
		site, cont, err := want(a)
		if err != nil {
			return err
		}
		label = fmt.Sprintf("%s (%s)", label, cont)
		q := dnsq.Query(App, dns.TypeA, true, ecs)
		if do {
			dnsq.SetDO(q)
		}
		m, err := dnsq.Ask(server, q, src)
		if err != nil {
			r.add(label, site.Addr, "error", false, err.Error())
			return nil
		}
		got := dnsq.AddrsA(m)
		ok := got == site.Addr && m.Rcode == dns.RcodeSuccess
		scope := dnsq.Scope(m)
		signed := ""
		if do {
			signed = ", " + signedNote(m, keys)
			ok = ok && signed == ", signed"
		}
		if sample {
			r.Scopes = append(r.Scopes, scope)
			if ok { // only wrong sample answers get a line
				r.Cases++
				return nil
			}
		}
		r.add(label, site.Addr, got, ok, "scope "+dnsq.ScopeString(scope)+signed)
		return nil
	}

	// one located /24 per continent, from a fixed sequence so every server
	// gets the same fixed cases
	fixed := rand.New(rand.NewPCG(3, 303))
	byCont := map[string]netip.Prefix{}
	for range 20000 {
		p := geodb.Random24(fixed)
		pl, err := db.Lookup(p.Addr())
		if err != nil {
			return nil, err
		}
		k := pl.Continent
		if !pl.Found {
			k = "(none)"
		}
		if _, ok := byCont[k]; !ok {
			byCont[k] = p
		}
	}
	for _, k := range slices.Sorted(maps.Keys(byCont)) {
		if err := ask("ecs "+byCont[k].String(), byCont[k], netip.Addr{}, false); err != nil {
			return nil, err
		}
	}
	for _, s := range v6Cases {
		p := netip.MustParsePrefix(s)
		if err := ask("ecs "+s, p, netip.Addr{}, false); err != nil {
			return nil, err
		}
	}
	for _, s := range loopbackSources {
		if err := ask("no ecs, from "+s, netip.Prefix{}, netip.MustParseAddr(s), false); err != nil {
			return nil, err
		}
	}
	located, err := db.Located(rng, n)
	if err != nil {
		return nil, err
	}
	for _, p := range located {
		if err := ask("located "+p.String(), p, netip.Addr{}, true); err != nil {
			return nil, err
		}
	}
	for range n / 3 {
		p := geodb.Random24(rng)
		if err := ask("random "+p.String(), p, netip.Addr{}, false); err != nil {
			return nil, err
		}
	}
	r.Lines = append(r.Lines, fmt.Sprintf("ECS scopes of %d random located /24s: %s", len(r.Scopes), ScopeSummary(r.Scopes)))
	return r, nil
}

// zoneKeys asks server for the zone's DNSKEY RRset with the DO bit and
// records it as a case: present, and signed by one of its own keys.
func zoneKeys(r *Report, server string) []*dns.DNSKEY {
	m, err := dnsq.Ask(server, dnsq.SetDO(dnsq.Query(Zone, dns.TypeDNSKEY, true, netip.Prefix{})), netip.Addr{})
	if err != nil {
		r.add("DNSKEY "+Zone, "keys", "error", false, err.Error())
		return nil
	}
	var keys []*dns.DNSKEY
	var tags []string
	for _, rr := range m.Answer {
		if k, ok := rr.(*dns.DNSKEY); ok {
			keys = append(keys, k)
			tags = append(tags, fmt.Sprintf("%d/%s/%d", k.Flags, dns.AlgorithmToString[k.Algorithm], k.KeyTag()))
		}
	}
	got := fmt.Sprintf("%d keys", len(keys))
	why := dnsq.Signed(m, dns.TypeDNSKEY, keys, time.Now())
	if why == "" {
		why = "self-signed"
	}
	r.add("DNSKEY "+Zone, "keys", got, len(keys) > 0 && why == "self-signed", strings.Join(tags, " ")+", "+why)
	return keys
}

// signedNote is "signed" when a reply to a query with the DO bit has the DO
// bit and its A RRset is signed by one of keys, else what is missing.
func signedNote(m *dns.Msg, keys []*dns.DNSKEY) string {
	if !dnsq.DO(m) {
		return "reply without the DO bit"
	}
	if why := dnsq.Signed(m, dns.TypeA, keys, time.Now()); why != "" {
		return why
	}
	return "signed"
}

// ScopeStats summarises ECS scopes (-1: the reply had none).
type ScopeStats struct {
	N, None       int
	P25, P50, P75 int // over the replies with a scope; -1 when none had one
	AtMost16      int // replies with a scope of /16 or shorter
	Min, Max      int
	Counts        map[int]int
}

// Scopes computes the statistics of a list of scopes.
func Scopes(list []int) ScopeStats {
	s := ScopeStats{N: len(list), P25: -1, P50: -1, P75: -1, Min: -1, Max: -1, Counts: map[int]int{}}
	var have []int
	for _, v := range list {
		s.Counts[v]++
		if v < 0 {
			s.None++
			continue
		}
		have = append(have, v)
		if v <= 16 {
			s.AtMost16++
		}
	}
	if len(have) == 0 {
		return s
	}
	slices.Sort(have)
	q := func(f float64) int { // nearest rank
		return have[max(int(math.Ceil(f*float64(len(have))))-1, 0)]
	}
	s.P25, s.P50, s.P75 = q(0.25), q(0.5), q(0.75)
	s.Min, s.Max = have[0], have[len(have)-1]
	return s
}

// ScopeSummary is a one-line form of Scopes(list).
func ScopeSummary(list []int) string {
	s := Scopes(list)
	if s.N == 0 {
		return "no replies"
	}
	if s.P50 < 0 {
		return "no ECS option in any reply"
	}
	out := fmt.Sprintf("median /%d (p25 /%d, p75 /%d, range /%d-/%d), %.0f%% at /16 or shorter",
		s.P50, s.P25, s.P75, s.Min, s.Max, 100*float64(s.AtMost16)/float64(s.N))
	if s.None > 0 {
		out += fmt.Sprintf(", %d without ECS", s.None)
	}
	return out
}
