package kube

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"

	"github.com/meridian-gslb/meridian/geo"
	"github.com/meridian-gslb/meridian/gslb"
)

// compiledFields are the policy fields shared by GlobalPolicy and
// HostPolicy, converted to gslb's types. A nil or empty field is unset:
// the policy underneath applies.
type compiledFields struct {
	strategy     gslb.Strategy
	ttl          *uint32
	degradedTTL  *uint32
	minUp        *int
	answers      *int
	geoTieKm     *float64
	latencyTieMs *uint32
	topology     []gslb.TopologyRule // nil: unset (a list is replaced whole)
	hashMask     *MaskSpec
	hc           *compiledHealthCheck
	persistence  *PersistenceSpec
	load         *gslb.LoadPolicy // nil: unset (replaced whole)
	down         *gslb.DownResponse
	hostnameVIPs string
}

// maxGeoTieKm is half the Earth's circumference: a wider band makes every
// member equally near.
const maxGeoTieKm = 20040

// compileFields converts the shared fields, then judges the result with
// gslb's own rules (judgeService), on the config's default policy and
// check overlaid with these fields: what gslb would refuse in the
// published State is refused here, named by its spec field. Only what
// gslb cannot see is checked here: text that does not parse, and limits
// gslb does not have (TTLs, minUp's upper bound).
func compileFields(f *PolicyFields, pc *policyContext, errs *problems) compiledFields {
	var c compiledFields
	c.strategy = gslb.Strategy(f.Strategy)
	if f.TTL != nil {
		if v, ok := rangeCheck("spec.ttl", *f.TTL, 1, 86400, errs); ok {
			c.ttl = ptr(uint32(v))
		}
	}
	if f.DegradedTTL != nil {
		if v, ok := rangeCheck("spec.degradedTTL", *f.DegradedTTL, 0, 86400, errs); ok {
			c.degradedTTL = ptr(uint32(v))
		}
	}
	if f.MinUp != nil {
		if v, ok := rangeCheck("spec.minUp", *f.MinUp, 0, 1000, errs); ok {
			c.minUp = ptr(int(max(v, gslb.DefaultMinUp))) // 0: the default
		}
	}
	if f.Answers != nil {
		c.answers = ptr(int(*f.Answers))
	}
	if f.GeoTieKm != nil {
		if v, ok := rangeCheck("spec.geoTieKm", *f.GeoTieKm, 0, maxGeoTieKm, errs); ok {
			c.geoTieKm = ptr(float64(v))
		}
	}
	if f.LatencyTieMs != nil {
		if v, ok := rangeCheck("spec.latencyTieMs", *f.LatencyTieMs, 0, gslb.MaxLatencyTieMs, errs); ok {
			c.latencyTieMs = ptr(uint32(v))
		}
	}
	if f.Topology != nil {
		c.topology = compileTopology(f.Topology, errs)
	}
	c.hashMask = f.HashMask
	c.persistence = f.Persistence
	if f.Load != nil {
		c.load = compileLoad(f.Load, errs)
	}
	if d := f.DownResponse; d != nil {
		c.down = &gslb.DownResponse{Type: gslb.DownType(d.Type)}
		c.down.Addresses = parseAddrs("spec.downResponse.addresses", d.Addresses, errs)
	}
	switch f.HostnameVIPs {
	case "", HostnameVIPsCNAME, HostnameVIPsResolve:
		c.hostnameVIPs = f.HostnameVIPs
	default:
		errs.add("spec.hostnameVIPs", "unknown mode %q (want cname or resolve)", f.HostnameVIPs)
	}
	if h := f.HealthCheck; h != nil {
		c.hc = compileHealthCheck(h, errs)
	}

	pol := pc.base.Clone()
	c.applyPolicy(&pol)
	hc := c.applyHealthCheck(pc.baseCheck)
	if hc != nil && hc.Port == 0 {
		// The build takes the port from the members (Service or listener
		// port, else 80/443); the service's check is judged again then.
		hc.Port = 1
	}
	for _, fe := range judgeService(judgedName, pol, hc, pc.sites) {
		errs.add(specPath(fe.Path, c.topology != nil), "%s", fe.Msg)
	}
	return c
}

// judgedName is the service name a policy is judged under before it
// builds any service (an HTTP check's default Host).
const judgedName = "policy.meridian.invalid."

func compileTopology(rules []TopologyRuleSpec, errs *problems) []gslb.TopologyRule {
	out := make([]gslb.TopologyRule, 0, len(rules))
	for i, r := range rules {
		p := fmt.Sprintf("spec.topology[%d]", i)
		rule := gslb.TopologyRule{
			Countries:  slices.Clone(r.Countries),
			Continents: slices.Clone(r.Continents),
			Sites:      slices.Clone(r.Sites),
		}
		for j, s := range r.CIDRs {
			pfx, err := geo.ParseNetwork(s)
			if err != nil {
				errs.add(fmt.Sprintf("%s.cidrs[%d]", p, j), "%v", err)
				continue
			}
			rule.CIDRs = append(rule.CIDRs, pfx)
		}
		out = append(out, rule)
	}
	return out
}

// compileLoad reads the load spec's numbers and durations; the rules
// (low below high, matchOn, ...) are gslb's, judged with the rest.
func compileLoad(l *LoadSpec, errs *problems) *gslb.LoadPolicy {
	num := func(field, s string) float64 {
		if s == "" {
			return 0
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			errs.add("spec.load."+field, "%q is not a decimal number such as 0.8 or 80", s)
			return 0
		}
		return v
	}
	return &gslb.LoadPolicy{
		Low:        num("low", l.Low),
		High:       num("high", l.High),
		HardLimit:  num("hardLimit", l.HardLimit),
		MaxAge:     readDuration("spec.load.maxAge", l.MaxAge, errs),
		StickyFor:  readDuration("spec.load.stickyFor", l.StickyFor, errs),
		Prometheus: l.Prometheus,
		MatchLabel: l.MatchLabel,
		MatchOn:    l.MatchOn,

		SpareWeights: l.SpareWeights,
	}
}

// parseAddrs reads the addresses at path (gslb.ParseAddr), unmapped; a
// bad one is reported at its index and left out.
func parseAddrs(path string, ss []string, errs *problems) []netip.Addr {
	var out []netip.Addr
	for i, s := range ss {
		ip, err := gslb.ParseAddr(s)
		if err != nil {
			errs.add(fmt.Sprintf("%s[%d]", path, i), "%v", err)
			continue
		}
		out = append(out, ip.Unmap())
	}
	return out
}

// parseAddrSet is parseAddrs sorted and without repeats: a member's
// addresses.
func parseAddrSet(path string, ss []string, errs *problems) []netip.Addr {
	out := parseAddrs(path, ss, errs)
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// applyPolicy overrides the set fields of p.
func (c *compiledFields) applyPolicy(p *gslb.Policy) {
	if c.strategy != "" {
		p.Strategy = c.strategy
	}
	setIf(&p.TTL, c.ttl)
	setIf(&p.DegradedTTL, c.degradedTTL)
	setIf(&p.MinUp, c.minUp)
	setIf(&p.Answers, c.answers)
	setIf(&p.GeoTieKm, c.geoTieKm)
	setIf(&p.LatencyTieMs, c.latencyTieMs)
	if c.topology != nil {
		p.Topology = gslb.CloneTopology(c.topology)
	}
	if m := c.hashMask; m != nil {
		setIf(&p.HashMask.IPv4, intPtr(m.IPv4))
		setIf(&p.HashMask.IPv6, intPtr(m.IPv6))
	}
	if ps := c.persistence; ps != nil {
		setIf(&p.Persistence.Enabled, ps.Enabled)
		setIf(&p.Persistence.Mask.IPv4, intPtr(ps.IPv4Mask))
		setIf(&p.Persistence.Mask.IPv6, intPtr(ps.IPv6Mask))
	}
	setIf(&p.Load, c.load)
	if c.down != nil {
		p.Down = gslb.DownResponse{Type: c.down.Type, Addresses: slices.Clone(c.down.Addresses)}
	}
}

// setsPolicy reports whether any field of the policy proper is set (for
// blame: which policy made a service's policy what it is).
func (c *compiledFields) setsPolicy() bool {
	return c.strategy != "" || c.ttl != nil || c.degradedTTL != nil || c.minUp != nil || c.answers != nil ||
		c.geoTieKm != nil || c.latencyTieMs != nil || c.topology != nil || c.hashMask != nil || c.persistence != nil || c.load != nil || c.down != nil
}

func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func intPtr(v *int64) *int {
	if v == nil {
		return nil
	}
	return ptr(int(*v))
}

func ptr[T any](v T) *T { return &v }
