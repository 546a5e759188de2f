package config

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meridian-gslb/meridian/geo"
	"github.com/meridian-gslb/meridian/gslb"
)

// toState converts the file's services, sites and zones into gslb's model.
// Values that do not parse are reported at their exact path and kept as
// zero values, so that every index in later errors still matches the file.
//
// same[i] (same may be nil) marks a service left empty here, for
// decoding.reuseServices to fill in.
func (c *Config) toState(p *problems, same []bool) *gslb.State {
	st := &gslb.State{
		Zones:    make([]gslb.Zone, len(c.Zones)),
		Sites:    make([]gslb.Site, len(c.Sites)),
		Services: make([]gslb.Service, len(c.Services)),
	}
	for i := range c.Zones {
		st.Zones[i] = c.Zones[i].toZone(p, fmt.Sprintf("zones[%d]", i), c.DNS.DNSSECKeyDirectory)
	}
	for i, s := range c.Sites {
		st.Sites[i] = gslb.Site{Name: s.Name, Location: s.Location.toLocation(p, fmt.Sprintf("sites[%d].location", i)), Bias: s.Bias}
	}
	// Every member names one of a few sites: share the site's string
	// rather than keep one copy per member (300,000 at 100k services).
	siteNames := make(map[string]string, len(c.Sites))
	for _, s := range c.Sites {
		siteNames[s.Name] = s.Name
	}
	var pc gslb.Pacer
	for i := range c.Services {
		pc.Step()
		if same == nil || !same[i] {
			st.Services[i] = c.Services[i].toService(p, indexPath("services", i), siteNames)
		}
	}
	return st
}

// indexPath is the path of entry i of the list at path: "services[3]".
// Cheaper than fmt.Sprintf on the paths of 100,000 services.
func indexPath(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

func (z *ZoneConfig) toZone(p *problems, path, keyDir string) gslb.Zone {
	out := gslb.Zone{
		Name: z.Name,
		SOA: gslb.SOA{
			MName: z.SOA.MName, RName: z.SOA.RName, Serial: z.SOA.Serial, Refresh: z.SOA.Refresh,
			Retry: z.SOA.Retry, Expire: z.SOA.Expire, Minimum: z.SOA.Minimum, TTL: z.SOA.TTL,
		},
		NSTTL:    z.NSTTL,
		Records:  slices.Clone(z.Records),
		ZoneFile: z.ZoneFile,
	}
	for j, ns := range z.NameServers {
		out.NameServers = append(out.NameServers, gslb.NameServer{
			Name:      ns.Name,
			Addresses: parseAddrs(p, fmt.Sprintf("%s.nameservers[%d].addresses", path, j), ns.Addresses),
		})
	}
	if z.DNSSEC != nil {
		out.DNSSEC = z.DNSSEC.toDNSSEC(p, path+".dnssec", keyDir)
	}
	return out
}

// toService converts a service; siteNames interns the members' site
// names.
func (s *ServiceConfig) toService(p *problems, path string, siteNames map[string]string) gslb.Service {
	pol := s.Policy.toPolicy(p, path+".policy")
	out := gslb.Service{Name: s.Name, Policy: pol}
	if len(s.Members) > 0 {
		out.Members = make([]gslb.Member, len(s.Members))
	}
	for j := range s.Members {
		m := s.Members[j].toMember(p, indexPath(path+".members", j))
		if name, ok := siteNames[m.Site]; ok {
			m.Site = name
		}
		out.Members[j] = m
	}
	if err := gslb.CheckWeights(out.Members); err != nil {
		p.add(path+".members", "%v; give at least one member a weight, or drain members with admin.members", err)
	}
	return out
}

// toPolicy converts a policy written at path (services[i].policy,
// kubernetes.default_policy).
func (pc *PolicyConfig) toPolicy(p *problems, pp string) gslb.Policy {
	pol := gslb.Policy{
		Strategy:     gslb.Strategy(pc.Strategy),
		TTL:          pc.TTL,
		DegradedTTL:  pc.DegradedTTL,
		MinUp:        pc.MinUp,
		Answers:      pc.Answers,
		GeoTieKm:     pc.GeoTieKm,
		LatencyTieMs: pc.LatencyTieMs,
		HashMask:     gslb.Mask{IPv4: pc.HashMask.IPv4, IPv6: pc.HashMask.IPv6},
		Persistence: gslb.Persistence{
			Enabled: pc.Persistence.Enabled,
			Mask:    gslb.Mask{IPv4: pc.Persistence.IPv4Mask, IPv6: pc.Persistence.IPv6Mask},
		},
		Down: gslb.DownResponse{
			Type:      gslb.DownType(strings.ToLower(pc.DownResponse.Type)),
			Addresses: parseAddrs(p, pp+".down_response.addresses", pc.DownResponse.Addresses),
		},
	}
	if lc := pc.Load; lc != nil {
		pol.Load = gslb.LoadPolicy{
			Low: lc.Low, High: lc.High, HardLimit: lc.HardLimit,
			MaxAge: time.Duration(lc.MaxAge), StickyFor: time.Duration(lc.StickyFor),
			Prometheus: lc.Prometheus, MatchLabel: lc.MatchLabel, MatchOn: lc.MatchOn,
			SpareWeights: lc.SpareWeights,
		}
		if lc.High == 0 {
			// gslb reports a half-written policy the same way (at the
			// same path, so once); this also covers load: {}, which gslb
			// cannot tell from no load at all.
			p.add(pp+".load.high", "a load policy needs a high watermark above 0")
		}
	}
	for j, t := range pc.Topology {
		tp := fmt.Sprintf("%s.topology[%d]", pp, j)
		rule := gslb.TopologyRule{Countries: slices.Clone(t.Countries), Continents: slices.Clone(t.Continents), Sites: slices.Clone(t.Sites)}
		for k, cidr := range t.CIDRs {
			pfx, _ := parsePrefix(p, fmt.Sprintf("%s.cidrs[%d]", tp, k), cidr)
			rule.CIDRs = append(rule.CIDRs, pfx)
		}
		pol.Topology = append(pol.Topology, rule)
	}
	return pol
}

func (m *MemberConfig) toMember(p *problems, path string) gslb.Member {
	out := gslb.Member{
		Site:      m.Site,
		Hostname:  m.Hostname,
		Addresses: parseAddrs(p, path+".addresses", m.Addresses),
		Weight:    gslb.DefaultWeight,
		Priority:  m.Priority,
	}
	if m.ProbeAddress != "" {
		out.ProbeAddress = parseAddr(p, path+".probe_address", m.ProbeAddress).Unmap()
	}
	if m.Weight != nil {
		switch w := *m.Weight; {
		case w < 0 || int64(w) > math.MaxUint32:
			p.add(path+".weight", "must be between 0 (drain) and %d, got %d", uint32(math.MaxUint32), w)
		default:
			out.Weight = uint32(w)
		}
	}
	return out
}

// geoRules converts geo.rules. A rule places its network at a configured
// site or at a location, never both: a site already has a location.
func (c *Config) geoRules(p *problems) []geo.Rule {
	sites := map[string]bool{}
	for _, s := range c.Sites {
		sites[s.Name] = true
	}
	var rules []geo.Rule
	for i, r := range c.Geo.Rules {
		path := fmt.Sprintf("geo.rules[%d]", i)
		pfx, ok := parsePrefix(p, path+".cidr", r.CIDR)
		switch {
		case r.Site != "" && r.Location != nil:
			p.add(path, "give a site or a location, not both")
			ok = false
		case r.Site == "" && r.Location == nil:
			p.add(path, "a rule needs a site or a location")
			ok = false
		case r.Site != "" && !sites[r.Site]:
			p.add(path+".site", "unknown site %q", r.Site)
			ok = false
		}
		var loc geo.Location
		if r.Location != nil {
			n := len(p.list)
			loc = r.Location.toLocation(p, path+".location")
			ok = ok && len(p.list) == n
		}
		if ok {
			rules = append(rules, geo.Rule{Prefix: pfx, Site: r.Site, Location: loc})
		}
	}
	return rules
}

// toLocation converts a location; nil is "nowhere known".
func (l *LocationConfig) toLocation(p *problems, path string) geo.Location {
	if l == nil {
		return geo.Location{}
	}
	out := geo.Location{Country: strings.ToUpper(l.Country), Continent: strings.ToUpper(l.Continent)}
	switch {
	case (l.Lat == nil) != (l.Lon == nil):
		p.add(path, "give both lat and lon, or neither")
	case l.Lat != nil:
		out.Lat, out.Lon, out.HasCoords = *l.Lat, *l.Lon, true
		p.addErr(path+".lat", geo.CheckLatitude(out.Lat))
		p.addErr(path+".lon", geo.CheckLongitude(out.Lon))
	}
	if out.Country != "" {
		p.addErr(path+".country", geo.CheckCountry(out.Country))
	}
	if out.Continent != "" {
		p.addErr(path+".continent", geo.CheckContinent(out.Continent))
	}
	return out
}

// parseAddrs parses a list of IP addresses; a bad one is reported at its
// index and kept as the invalid zero address.
func parseAddrs(p *problems, path string, in []string) []netip.Addr {
	if len(in) == 0 {
		return nil
	}
	out := make([]netip.Addr, len(in))
	for i, s := range in {
		a, err := gslb.ParseAddr(s)
		if err != nil {
			p.addErr(indexPath(path, i), err) // the path only when it is needed
		}
		out[i] = a
	}
	return out
}

// parseAddr parses one IP address; a bad one is reported at path and
// returned as the invalid zero address.
func parseAddr(p *problems, path, s string) netip.Addr {
	a, err := gslb.ParseAddr(s)
	p.addErr(path, err)
	return a
}

// parsePrefix parses a client network (geo.ParseNetwork's rule); a bad
// one is reported at path.
func parsePrefix(p *problems, path, s string) (netip.Prefix, bool) {
	pfx, err := geo.ParseNetwork(s)
	if err != nil {
		p.add(path, "%v", err)
		return netip.Prefix{}, false
	}
	return pfx, true
}
