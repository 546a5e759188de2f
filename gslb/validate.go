package gslb

import (
	"errors"
	"fmt"
	"strings"

	"github.com/meridian-gslb/meridian/geo"
)

// Defaults applied by ApplyDefaults. They are documented in docs/configuration.md.
const (
	DefaultTTL      = 30
	DefaultMinUp    = 1
	DefaultWeight   = 1
	DefaultGeoTieKm = 100
	// DefaultLatencyTieMs: probe RTTs within 5 ms are noise next to the
	// tens of milliseconds between regions.
	DefaultLatencyTieMs = 5
	// MaxLatencyTieMs bounds latency_tie_ms (a minute would tie every
	// member, which the strategy weighted says better).
	MaxLatencyTieMs    = 10000
	DefaultMaskIPv4    = 24
	DefaultMaskIPv6    = 56
	DefaultSOARefresh  = 3600
	DefaultSOARetry    = 600
	DefaultSOAExpire   = 1209600
	DefaultSOAMinimum  = 60
	DefaultSOATTL      = 3600
	DefaultNSTTL       = 3600
	maxMembersAnswered = MaxAddrs
)

// CanonicalName lower-cases a DNS name and makes it fully qualified.
func CanonicalName(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" || strings.HasSuffix(s, ".") {
		return s
	}
	return s + "."
}

// ApplyDefaults fills unset fields and canonicalises names in place. Call
// it before Validate. Weights are not defaulted here: a zero weight is a
// valid drain, so loaders must set DefaultWeight themselves when the field
// was absent.
func (st *State) ApplyDefaults() {
	st.ApplyZoneDefaults()
	for i := range st.Services {
		st.Services[i].ApplyDefaults()
	}
}

// ApplyZoneDefaults is ApplyDefaults for the zones alone: a loader that
// reuses services defaulted before defaults only the others itself.
func (st *State) ApplyZoneDefaults() {
	for i := range st.Zones {
		z := &st.Zones[i]
		z.Name = CanonicalName(z.Name)
		z.SOA.MName = CanonicalName(z.SOA.MName)
		z.SOA.RName = CanonicalName(z.SOA.RName)
		setDefault(&z.SOA.Refresh, DefaultSOARefresh)
		setDefault(&z.SOA.Retry, DefaultSOARetry)
		setDefault(&z.SOA.Expire, DefaultSOAExpire)
		setDefault(&z.SOA.Minimum, DefaultSOAMinimum)
		setDefault(&z.SOA.TTL, DefaultSOATTL)
		setDefault(&z.NSTTL, DefaultNSTTL)
		for j := range z.NameServers {
			z.NameServers[j].Name = CanonicalName(z.NameServers[j].Name)
		}
		if z.SOA.MName == "" && len(z.NameServers) > 0 {
			z.SOA.MName = z.NameServers[0].Name
		}
		if z.SOA.RName == "" && z.Name != "" {
			z.SOA.RName = "hostmaster." + z.Name
		}
	}
}

// ApplyDefaults is State.ApplyDefaults for one service, for callers that
// add services to a State already defaulted.
func (s *Service) ApplyDefaults() {
	s.Name = CanonicalName(s.Name)
	s.Policy.ApplyDefaults()
	for j := range s.Members {
		m := &s.Members[j]
		m.Hostname = CanonicalName(m.Hostname)
		for k, a := range m.Addresses {
			m.Addresses[k] = a.Unmap()
		}
	}
}

func setDefault(v *uint32, d uint32) {
	if *v == 0 {
		*v = d
	}
}

func defaultMask(m *Mask) {
	if m.IPv4 == 0 {
		m.IPv4 = DefaultMaskIPv4
	}
	if m.IPv6 == 0 {
		m.IPv6 = DefaultMaskIPv6
	}
}

// Validate checks the State and returns every problem found, each a
// *FieldError naming the field path, joined with errors.Join.
func (st *State) Validate() error {
	return st.ValidateChanged(nil)
}

// ValidateChanged is Validate for a State that differs from prev, a State
// that passed Validate, in some services: when both have the same zones
// and sites, services Equal to prev's (MatchServices) are not judged
// again, only the new and changed ones and the rules across services
// (names defined twice). Otherwise, or with a nil prev, it judges
// everything. The rules are Validate's, for one service at a time
// (validateService), so both always agree.
func (st *State) ValidateChanged(prev *State) error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	zones, sites := st.validatePlaces(bad)
	var match []int
	if prev != nil && sameSitesAndZones(prev, st) {
		match = MatchServices(prev, st)
	}
	// When every service keeps its name and position, the names are
	// prev's, which were all distinct: only the changed services need a
	// look.
	aligned := match != nil && len(prev.Services) == len(st.Services)
	var pc Pacer
	for i := 0; aligned && i < len(st.Services); i++ {
		pc.Step()
		aligned = st.Services[i].Name == prev.Services[i].Name
	}
	services := map[string]bool{}
	for i := range st.Services {
		pc.Step()
		switch {
		case match == nil || match[i] < 0:
			st.validateService(i, zones, sites, services, bad)
		case !aligned:
			st.checkUnique(i, services, bad)
		}
	}
	return errors.Join(errs...)
}

// validatePlaces judges the zones and the sites, and returns the names of
// those defined, which services are judged against.
func (st *State) validatePlaces(bad func(string, string, ...any)) (zones, sites map[string]bool) {
	zones = map[string]bool{}
	for i, z := range st.Zones {
		p := fmt.Sprintf("zones[%d]", i)
		if err := CheckName(z.Name); err != nil {
			bad(p+".name", "%v", err)
			continue
		}
		if zones[z.Name] {
			bad(p+".name", "zone %q is defined twice", z.Name)
		}
		zones[z.Name] = true
		if err := CheckName(z.SOA.MName); err != nil {
			bad(p+".soa.mname", "%v", err)
		}
		if err := CheckName(z.SOA.RName); err != nil {
			bad(p+".soa.rname", "%v", err)
		}
		if len(z.NameServers) == 0 {
			bad(p+".nameservers", "a zone needs at least one name server")
		}
		if z.DNSSEC != nil {
			z.DNSSEC.validate(p, bad)
		}
		for j, ns := range z.NameServers {
			np := fmt.Sprintf("%s.nameservers[%d]", p, j)
			if err := CheckName(ns.Name); err != nil {
				bad(np+".name", "%v", err)
				continue
			}
			// RFC 1034 section 4.2.1: a name server inside the zone it
			// serves needs glue, or resolvers cannot reach it.
			if InZone(ns.Name, z.Name) && len(ns.Addresses) == 0 {
				bad(np+".addresses", "name server %s is inside zone %s and needs glue addresses", ns.Name, z.Name)
			}
			for k, a := range ns.Addresses {
				if !a.IsValid() {
					bad(fmt.Sprintf("%s.addresses[%d]", np, k), "not an IP address")
				}
			}
		}
	}
	for i, z := range st.Zones {
		for j, o := range st.Zones {
			if i != j && z.Name != o.Name && InZone(z.Name, o.Name) {
				bad(fmt.Sprintf("zones[%d].name", i), "zone %s is nested inside zone %s; delegate it with an NS record instead", z.Name, o.Name)
			}
		}
	}

	sites = map[string]bool{}
	for i, s := range st.Sites {
		p := fmt.Sprintf("sites[%d]", i)
		switch {
		case s.Name == "":
			bad(p+".name", "a site needs a name")
		case sites[s.Name]:
			bad(p+".name", "site %q is defined twice", s.Name)
		}
		sites[s.Name] = true
		if l := s.Location; l.HasCoords {
			reportError(bad, p+".location.lat", geo.CheckLatitude(l.Lat))
			reportError(bad, p+".location.lon", geo.CheckLongitude(l.Lon))
		}
		if s.Bias < MinBias || s.Bias > MaxBias {
			bad(p+".bias", "bias %d is out of range: it must be from %d to %d", s.Bias, MinBias, MaxBias)
		}
	}

	return zones, sites
}

func (st *State) validateService(i int, zones, sites, seen map[string]bool, bad func(string, string, ...any)) {
	s := &st.Services[i]
	// Paths are made only for a problem: a valid State of 100k services
	// should not format a million of them (issue 10).
	p := func() string { return fmt.Sprintf("services[%d]", i) }
	if err := CheckName(s.Name); err != nil {
		bad(p()+".name", "%v", err)
		return
	}
	st.checkUnique(i, seen, bad)
	if zoneOf(s.Name, zones) == "" {
		bad(p()+".name", "%s is not inside any configured zone", s.Name)
	}
	if err := s.Policy.Validate(sites); err != nil {
		reportFields(bad, p()+".policy.", err)
	}
	if hc := s.ProbeHealthCheck(); hc != nil {
		// The same rule as the config loader's and the policy
		// compiler's: a State from another site gets no easier pass.
		// Judged on the check as health will probe it (defaulted, Host
		// from the service name), so a State that validates is probed.
		if err := hc.Validate(); err != nil {
			reportFields(bad, p()+".health_check.", err)
		}
	}

	if len(s.Members) == 0 {
		bad(p()+".members", "a service needs at least one member")
	}
	for j := range s.Members {
		validateMember(s, j, sites, func() string { return fmt.Sprintf("%s.members[%d]", p(), j) }, bad)
	}
	checkMemberIDs(s, func(j int) string { return fmt.Sprintf("%s.members[%d]", p(), j) }, bad)
}

// validateMember judges member j of s; mp is its path.
func validateMember(s *Service, j int, sites map[string]bool, mp func() string, bad func(string, string, ...any)) {
	m := &s.Members[j]
	if !sites[m.Site] {
		bad(mp()+".site", "unknown site %q", m.Site)
	}
	switch {
	case m.Hostname != "" && len(m.Addresses) > 0:
		bad(mp(), "give addresses or a hostname, not both")
	case m.Hostname == "" && len(m.Addresses) == 0:
		bad(mp(), "a member needs addresses or a hostname")
	case m.Hostname != "":
		if err := CheckName(m.Hostname); err != nil {
			bad(mp()+".hostname", "%v", err)
		} else if m.Hostname == s.Name {
			bad(mp()+".hostname", "a CNAME to the service itself would loop")
		}
	}
	for k, a := range m.Addresses {
		if !a.IsValid() {
			bad(fmt.Sprintf("%s.addresses[%d]", mp(), k), "not an IP address")
		}
	}
	if m.Capacity > FullCapacity {
		bad(mp()+".capacity", "%d thousandths is more than all of it (%d)", m.Capacity, FullCapacity)
	}
	if a := m.ProbeAddress; a.IsValid() {
		if err := CheckProbeAddress(a); err != nil {
			bad(mp()+".probe_address", "%v", err)
		}
	}
	for _, f := range [...]struct {
		key string
		set bool
	}{{"probe_address", m.ProbeAddress.IsValid()}, {"probe_port", m.ProbePort != 0}} {
		switch {
		case !f.set:
		case s.HealthCheck == nil:
			bad(mp()+"."+f.key, "the service has no health check")
		case !s.HealthCheck.Probes():
			bad(mp()+"."+f.key, "the service's health check is kind none: nothing is probed")
		}
	}
}

// checkMemberIDs reports a member whose ID an earlier one has. A few
// members are compared pairwise, without building their IDs; many go
// through a map.
func checkMemberIDs(s *Service, mp func(int) string, bad func(string, string, ...any)) {
	if len(s.Members) <= 8 {
		for j := range s.Members {
			for k := range j {
				if s.Members[k].sameID(&s.Members[j]) {
					bad(mp(j), "duplicate member %s", s.Members[j].ID())
					break
				}
			}
		}
		return
	}
	ids := make(map[string]bool, len(s.Members))
	for j := range s.Members {
		id := s.Members[j].ID()
		if ids[id] {
			bad(mp(j), "duplicate member %s", id)
		}
		ids[id] = true
	}
}

// checkUnique reports service i when an earlier one has its name.
func (st *State) checkUnique(i int, seen map[string]bool, bad func(string, string, ...any)) {
	name := st.Services[i].Name
	if seen[name] {
		bad(fmt.Sprintf("services[%d].name", i), "service %q is defined twice", name)
	}
	seen[name] = true
}

func checkMask(path string, m Mask, bad func(string, string, ...any)) {
	if m.IPv4 < 0 || m.IPv4 > 32 {
		bad(path+".ipv4", "must be between 0 and 32, got %d", m.IPv4)
	}
	if m.IPv6 < 0 || m.IPv6 > 128 {
		bad(path+".ipv6", "must be between 0 and 128, got %d", m.IPv6)
	}
}

// CheckName checks a canonical (lower case, fully qualified) name
// against RFC 1035 length limits.
func CheckName(n string) error {
	switch {
	case n == "":
		return errors.New("a domain name is required")
	case !strings.HasSuffix(n, "."):
		return fmt.Errorf("%q is not fully qualified", n)
	case len(n) > 254:
		return fmt.Errorf("%q is longer than 255 octets", n)
	case n == ".":
		return nil
	}
	for rest, more := strings.TrimSuffix(n, "."), true; more; {
		var l string
		l, rest, more = strings.Cut(rest, ".")
		if l == "" {
			return fmt.Errorf("%q has an empty label", n)
		}
		if len(l) > 63 {
			return fmt.Errorf("%q has a label longer than 63 octets", n)
		}
		if strings.ContainsAny(l, " \t\n\\\"()@;$") || strings.ContainsFunc(l, isControl) {
			return fmt.Errorf("%q has a character that does not belong in a host name", n)
		}
	}
	return nil
}

// isControl reports a control character: legal in a DNS label (RFC 2181
// 11) but never in a name a GSLB serves, and a NUL ends the name in C
// resolvers.
func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// InZone reports whether name is zone or below it. Both must be canonical.
func InZone(name, zone string) bool {
	if zone == "." || name == zone {
		return true
	}
	return strings.HasSuffix(name, "."+zone)
}

func zoneOf(name string, zones map[string]bool) string {
	for n := name; ; {
		if zones[n] {
			return n
		}
		i := strings.IndexByte(n, '.')
		if i < 0 || i == len(n)-1 {
			if zones["."] {
				return "."
			}
			return ""
		}
		n = n[i+1:]
	}
}
