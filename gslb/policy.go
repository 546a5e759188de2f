package gslb

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/meridian-gslb/meridian/geo"
)

// The rules of a Policy on its own: its defaults, its validation, its
// copy. State.ApplyDefaults and State.Validate apply them to every
// service; the config loader (kubernetes.default_policy) and the
// Kubernetes policy compiler call them on a policy that has no service
// yet, so a policy is judged by one rule wherever it is written.

// ApplyDefaults fills the unset fields of p and canonicalises its names
// in place. Call it before Validate.
func (p *Policy) ApplyDefaults() {
	if p.Strategy == "" {
		p.Strategy = StrategyGeo
	}
	p.Strategy = Strategy(strings.ToLower(string(p.Strategy)))
	setDefault(&p.TTL, DefaultTTL)
	if p.MinUp == 0 {
		p.MinUp = DefaultMinUp
	}
	if p.GeoTieKm == 0 {
		p.GeoTieKm = DefaultGeoTieKm
	}
	if p.LatencyTieMs == 0 && p.Strategy == StrategyLatency {
		p.LatencyTieMs = DefaultLatencyTieMs
	}
	defaultMask(&p.HashMask)
	defaultMask(&p.Persistence.Mask)
	p.Load.applyDefaults()
	if p.Down.Type == "" {
		p.Down.Type = DownNone
	}
	for j := range p.Topology {
		r := &p.Topology[j]
		for k := range r.Countries {
			r.Countries[k] = strings.ToUpper(r.Countries[k])
		}
		for k := range r.Continents {
			r.Continents[k] = strings.ToUpper(r.Continents[k])
		}
	}
}

// Clone returns a deep copy of p.
func (p Policy) Clone() Policy {
	p.Topology = CloneTopology(p.Topology)
	p.Down.Addresses = slices.Clone(p.Down.Addresses)
	return p
}

// CloneTopology returns a deep copy of rules.
func CloneTopology(rules []TopologyRule) []TopologyRule {
	out := slices.Clone(rules)
	for i := range out {
		r := &out[i]
		r.CIDRs = slices.Clone(r.CIDRs)
		r.Countries = slices.Clone(r.Countries)
		r.Continents = slices.Clone(r.Continents)
		r.Sites = slices.Clone(r.Sites)
	}
	return out
}

// Validate reports every problem of a defaulted policy (call
// ApplyDefaults first) as *FieldError values joined with errors.Join,
// with paths relative to the policy ("min_up", "topology[0].sites[1]").
// sites holds every site name a topology rule may list: a policy refers
// to sites, which are the State's (or the configuration's) to define.
func (p *Policy) Validate(sites map[string]bool) error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	if !slices.Contains(Strategies, p.Strategy) {
		bad("strategy", "unknown strategy %q (want one of %v)", p.Strategy, Strategies)
	}
	if p.MinUp < 1 {
		bad("min_up", "must be at least 1, got %d", p.MinUp)
	}
	if p.Answers < 0 || p.Answers > maxMembersAnswered {
		bad("answers", "must be between 0 and %d, got %d", maxMembersAnswered, p.Answers)
	}
	if p.GeoTieKm < 0 {
		bad("geo_tie_km", "must not be negative")
	}
	if p.LatencyTieMs > MaxLatencyTieMs {
		bad("latency_tie_ms", "must be at most %d, got %d", MaxLatencyTieMs, p.LatencyTieMs)
	}
	checkMask("hash_mask", p.HashMask, bad)
	checkMask("persistence.mask", p.Persistence.Mask, bad)
	p.Load.validate(bad)
	switch p.Down.Type {
	case DownNone, DownAll:
		if len(p.Down.Addresses) > 0 {
			bad("down_response.addresses", "addresses are only used with type %q", DownFallback)
		}
	case DownFallback:
		if len(p.Down.Addresses) == 0 {
			bad("down_response.addresses", "type %q needs at least one address", DownFallback)
		}
	default:
		bad("down_response.type", "unknown down response %q (want none, all or fallback)", p.Down.Type)
	}
	for k, a := range p.Down.Addresses {
		if !a.IsValid() {
			bad(fmt.Sprintf("down_response.addresses[%d]", k), "not an IP address")
		}
	}
	if p.Strategy == StrategyTopology && len(p.Topology) == 0 {
		bad("topology", "strategy topology needs at least one rule")
	}
	for j, r := range p.Topology {
		r.validate(fmt.Sprintf("topology[%d]", j), sites, bad)
	}
	return errors.Join(errs...)
}

func (r *TopologyRule) validate(rp string, sites map[string]bool, bad func(string, string, ...any)) {
	if len(r.CIDRs)+len(r.Countries)+len(r.Continents) == 0 {
		bad(rp, "a rule needs cidrs, countries or continents")
	}
	if len(r.Sites) == 0 {
		bad(rp+".sites", "a rule needs at least one site")
	}
	for k, site := range r.Sites {
		if !sites[site] {
			bad(fmt.Sprintf("%s.sites[%d]", rp, k), "unknown site %q", site)
		}
	}
	for k, c := range r.CIDRs {
		if !c.IsValid() {
			bad(fmt.Sprintf("%s.cidrs[%d]", rp, k), "not a CIDR prefix")
		}
	}
	for k, c := range r.Continents {
		reportError(bad, fmt.Sprintf("%s.continents[%d]", rp, k), geo.CheckContinent(c))
	}
	for k, c := range r.Countries {
		reportError(bad, fmt.Sprintf("%s.countries[%d]", rp, k), geo.CheckCountry(c))
	}
}
