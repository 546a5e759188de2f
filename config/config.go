package main

import (
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meridian-gslb/meridian/geo"
	"github.com/meridian-gslb/meridian/gslb"
)

// Config mirrors the configuration file key for key (see
// testdata/demo/meridian.yaml and docs/configuration.md: those keys are the
// contract). It is decoded strictly, so every field carries the key it is
// read from; the json tags give /api/v1/config the same names.
//
// Values stay as written (addresses and prefixes are strings) so that the
// conversion into gslb types can name the exact field of a bad value.
type Config struct {
	DNS    DNSConfig    `mapstructure:"dns" json:"dns"`
	HTTP   HTTPConfig   `mapstructure:"http" json:"http"`
	Log    LogConfig    `mapstructure:"log" json:"log"`
	Geo    GeoConfig    `mapstructure:"geo" json:"geo"`
	Health HealthConfig `mapstructure:"health" json:"health"`
	Admin  AdminConfig  `mapstructure:"admin" json:"admin"`
	Gossip GossipConfig `mapstructure:"gossip" json:"gossip"`
	// Kubernetes is named in full: "kubernetes" is the key users know.
	Kubernetes KubernetesConfig `mapstructure:"kubernetes" json:"kubernetes"`
	Zones      []ZoneConfig     `mapstructure:"zones" json:"zones"`
	Sites      []SiteConfig     `mapstructure:"sites" json:"sites"`
	Services   []ServiceConfig  `mapstructure:"services" json:"services"`
}

// DNSConfig is the DNS listener. None of it changes without a restart.
type DNSConfig struct {
	// Listen addresses, host:port; UDP and TCP are served on each.
	Listen            []string `mapstructure:"listen" json:"listen"`
	TCPIdleTimeout    Duration `mapstructure:"tcp_idle_timeout" json:"tcp_idle_timeout"`
	MaxTCPConnections int      `mapstructure:"max_tcp_connections" json:"max_tcp_connections"`
	UDPSockets        int      `mapstructure:"udp_sockets" json:"udp_sockets"`
	NSID              string   `mapstructure:"nsid" json:"nsid,omitempty"`
}

// HTTPConfig is the HTTP API listener.
type HTTPConfig struct {
	Listen string `mapstructure:"listen" json:"listen"`
}

// LogConfig sets the process logger. The level follows reloads; the
// format needs a restart.
type LogConfig struct {
	Level  string `mapstructure:"level" json:"level"`
	Format string `mapstructure:"format" json:"format"`
}

// GeoConfig locates clients: rules first (longest prefix wins), then the
// MaxMind-format database.
type GeoConfig struct {
	Database string          `mapstructure:"database" json:"database,omitempty"`
	Rules    []GeoRuleConfig `mapstructure:"rules" json:"rules,omitempty"`
}

// GeoRuleConfig places the clients of one network at a site or a location.
type GeoRuleConfig struct {
	CIDR     string          `mapstructure:"cidr" json:"cidr"`
	Site     string          `mapstructure:"site" json:"site,omitempty"`
	Location *LocationConfig `mapstructure:"location" json:"location,omitempty"`
}

// LocationConfig is a place. Lat and Lon are pointers because 0 is a real
// coordinate: only their absence means "no coordinates".
type LocationConfig struct {
	Lat       *float64 `mapstructure:"lat" json:"lat,omitempty"`
	Lon       *float64 `mapstructure:"lon" json:"lon,omitempty"`
	Country   string   `mapstructure:"country" json:"country,omitempty"`
	Continent string   `mapstructure:"continent" json:"continent,omitempty"`
}

// ZoneConfig is one authoritative zone.
type ZoneConfig struct {
	Name        string             `mapstructure:"name" json:"name"`
	SOA         SOAConfig          `mapstructure:"soa" json:"soa"`
	NameServers []NameServerConfig `mapstructure:"nameservers" json:"nameservers,omitempty"`
	NSTTL       uint32             `mapstructure:"ns_ttl" json:"ns_ttl,omitempty"`
	Records     []string           `mapstructure:"records" json:"records,omitempty"`
	ZoneFile    string             `mapstructure:"zone_file" json:"zone_file,omitempty"`
}

// SOAConfig holds the SOA fields; zeros take the documented defaults.
type SOAConfig struct {
	MName   string `mapstructure:"mname" json:"mname,omitempty"`
	RName   string `mapstructure:"rname" json:"rname,omitempty"`
	Serial  uint32 `mapstructure:"serial" json:"serial"`
	Refresh uint32 `mapstructure:"refresh" json:"refresh,omitempty"`
	Retry   uint32 `mapstructure:"retry" json:"retry,omitempty"`
	Expire  uint32 `mapstructure:"expire" json:"expire,omitempty"`
	Minimum uint32 `mapstructure:"minimum" json:"minimum,omitempty"`
	TTL     uint32 `mapstructure:"ttl" json:"ttl,omitempty"`
}

// NameServerConfig is one NS of a zone, with glue when it is in the zone.
type NameServerConfig struct {
	Name      string   `mapstructure:"name" json:"name"`
	Addresses []string `mapstructure:"addresses" json:"addresses,omitempty"`
}

// SiteConfig is a place that serves members.
type SiteConfig struct {
	Name     string          `mapstructure:"name" json:"name"`
	Location *LocationConfig `mapstructure:"location" json:"location,omitempty"`
}

// ServiceConfig is one GSLB name.
type ServiceConfig struct {
	Name    string         `mapstructure:"name" json:"name"`
	Policy  PolicyConfig   `mapstructure:"policy" json:"policy"`
	Members []MemberConfig `mapstructure:"members" json:"members"`
	// HealthCheck probes the members; nil: health.default_check, or no
	// probing at all (members count as up).
	HealthCheck *HealthCheckConfig `mapstructure:"health_check" json:"health_check,omitempty"`
}

// PolicyConfig is how a service picks its answer.
type PolicyConfig struct {
	Strategy     string             `mapstructure:"strategy" json:"strategy,omitempty"`
	TTL          uint32             `mapstructure:"ttl" json:"ttl,omitempty"`
	DegradedTTL  uint32             `mapstructure:"degraded_ttl" json:"degraded_ttl,omitempty"`
	MinUp        int                `mapstructure:"min_up" json:"min_up,omitempty"`
	Answers      int                `mapstructure:"answers" json:"answers,omitempty"`
	GeoTieKm     float64            `mapstructure:"geo_tie_km" json:"geo_tie_km,omitempty"`
	Topology     []TopologyConfig   `mapstructure:"topology" json:"topology,omitempty"`
	HashMask     MaskConfig         `mapstructure:"hash_mask" json:"hash_mask"`
	Persistence  PersistenceConfig  `mapstructure:"persistence" json:"persistence"`
	DownResponse DownResponseConfig `mapstructure:"down_response" json:"down_response"`
}

// TopologyConfig maps clients (by network, country or continent) to an
// ordered list of sites.
type TopologyConfig struct {
	CIDRs      []string `mapstructure:"cidrs" json:"cidrs,omitempty"`
	Countries  []string `mapstructure:"countries" json:"countries,omitempty"`
	Continents []string `mapstructure:"continents" json:"continents,omitempty"`
	Sites      []string `mapstructure:"sites" json:"sites"`
}

// MaskConfig is a client-subnet mask per family; 0 takes the default.
type MaskConfig struct {
	IPv4 int `mapstructure:"ipv4" json:"ipv4,omitempty"`
	IPv6 int `mapstructure:"ipv6" json:"ipv6,omitempty"`
}

// PersistenceConfig is written flat in the file (ipv4_mask, ipv6_mask)
// while gslb nests the masks; toState maps one onto the other.
type PersistenceConfig struct {
	Enabled  bool `mapstructure:"enabled" json:"enabled"`
	IPv4Mask int  `mapstructure:"ipv4_mask" json:"ipv4_mask,omitempty"`
	IPv6Mask int  `mapstructure:"ipv6_mask" json:"ipv6_mask,omitempty"`
}

// DownResponseConfig is the answer when nothing is healthy.
type DownResponseConfig struct {
	Type      string   `mapstructure:"type" json:"type,omitempty"`
	Addresses []string `mapstructure:"addresses" json:"addresses,omitempty"`
}

// MemberConfig is one place a service runs. Weight is a pointer because
// an absent weight means the default (1) while an explicit 0 drains.
type MemberConfig struct {
	Site      string   `mapstructure:"site" json:"site"`
	Addresses []string `mapstructure:"addresses" json:"addresses,omitempty"`
	Hostname  string   `mapstructure:"hostname" json:"hostname,omitempty"`
	Weight    *int     `mapstructure:"weight" json:"weight,omitempty"`
	Priority  int      `mapstructure:"priority" json:"priority,omitempty"`
	// ProbeAddress and ProbePort are where the health check reaches the
	// member when that is not its answered address and the check's port
	// (NAT); either may be set alone.
	ProbeAddress string `mapstructure:"probe_address" json:"probe_address,omitempty"`
	ProbePort    uint16 `mapstructure:"probe_port" json:"probe_port,omitempty"`
}

// Duration is a time.Duration written as a Go duration string ("10s") in
// the file and in JSON.
type Duration time.Duration

// MarshalText writes the duration as "10s", not as nanoseconds.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads "10s", so that /api/v1/config's output decodes.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = Duration(v)
	return err
}

// Default server settings. The gslb defaults (TTL, masks, SOA timers) are
// applied by gslb.State.ApplyDefaults.
const (
	defaultDNSListen      = ":53"
	defaultHTTPListen     = "127.0.0.1:8053"
	defaultLogLevel       = "info"
	defaultLogFormat      = "text"
	defaultTCPIdleTimeout = Duration(10 * time.Second)
	defaultMaxTCPConns    = 1024
)

// applyServerDefaults fills the process settings that were left out.
func (c *Config) applyServerDefaults() {
	if len(c.DNS.Listen) == 0 {
		c.DNS.Listen = []string{defaultDNSListen}
	}
	if c.DNS.TCPIdleTimeout == 0 {
		c.DNS.TCPIdleTimeout = defaultTCPIdleTimeout
	}
	if c.DNS.MaxTCPConnections == 0 {
		c.DNS.MaxTCPConnections = defaultMaxTCPConns
	}
	if c.HTTP.Listen == "" {
		c.HTTP.Listen = defaultHTTPListen
	}
	if c.Log.Level == "" {
		c.Log.Level = defaultLogLevel
	}
	if c.Log.Format == "" {
		c.Log.Format = defaultLogFormat
	}
}

// Redacted returns a copy that is safe to show: in logs, in
// /api/v1/config. Every secret field (admin.token; later TSIG keys,
// kubeconfig tokens) is blanked here, so every printer of the config
// inherits the redaction. A token file's path is not secret; its content
// is never in the Config.
func (c Config) Redacted() Config {
	if c.Admin.Token != "" {
		c.Admin.Token = redacted
	}
	return c
}

// String prints the redacted configuration as JSON, so that formatting a
// Config with %v can never leak a secret.
func (c Config) String() string {
	b, err := json.Marshal(c.Redacted())
	if err != nil {
		return fmt.Sprintf("config: %v", err)
	}
	return string(b)
}

// checkServer checks the process settings, which gslb does not know.
func (c *Config) checkServer(p *problems) {
	if len(c.Zones) == 0 && !c.Gossip.follower() {
		p.add("zones", "at least one zone is required")
	}
	for i, l := range c.DNS.Listen {
		checkListen(p, fmt.Sprintf("dns.listen[%d]", i), l)
	}
	if c.DNS.TCPIdleTimeout < 0 {
		p.add("dns.tcp_idle_timeout", "must not be negative")
	}
	if c.DNS.MaxTCPConnections < 0 {
		p.add("dns.max_tcp_connections", "must not be negative, got %d", c.DNS.MaxTCPConnections)
	}
	if c.DNS.UDPSockets < 0 {
		p.add("dns.udp_sockets", "must not be negative, got %d", c.DNS.UDPSockets)
	}
	if len(c.DNS.NSID) > 128 {
		p.add("dns.nsid", "must be at most 128 characters")
	}
	checkListen(p, "http.listen", c.HTTP.Listen)
	if _, err := parseLevel(c.Log.Level); err != nil {
		p.add("log.level", "%v", err)
	}
	if !slices.Contains(logFormats, strings.ToLower(c.Log.Format)) {
		p.add("log.format", "unknown format %q (want one of %v)", c.Log.Format, logFormats)
	}
}

// checkListen wants host:port with a numeric port; the host may be empty
// (every address).
func checkListen(p *problems, path, addr string) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		p.add(path, "want host:port, got %q", addr)
		return
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		p.add(path, "port %q is not a number from 0 to 65535", port)
	}
}

// toState converts the file's services, sites and zones into gslb's model.
// Values that do not parse are reported at their exact path and kept as
// zero values, so that every index in later errors still matches the file.
func (c *Config) toState(p *problems) *gslb.State {
	st := &gslb.State{
		Zones:    make([]gslb.Zone, len(c.Zones)),
		Sites:    make([]gslb.Site, len(c.Sites)),
		Services: make([]gslb.Service, len(c.Services)),
	}
	for i := range c.Zones {
		st.Zones[i] = c.Zones[i].toZone(p, fmt.Sprintf("zones[%d]", i))
	}
	for i, s := range c.Sites {
		st.Sites[i] = gslb.Site{Name: s.Name, Location: s.Location.toLocation(p, fmt.Sprintf("sites[%d].location", i))}
	}
	for i := range c.Services {
		st.Services[i] = c.Services[i].toService(p, fmt.Sprintf("services[%d]", i))
	}
	return st
}

func (z *ZoneConfig) toZone(p *problems, path string) gslb.Zone {
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
	return out
}

func (s *ServiceConfig) toService(p *problems, path string) gslb.Service {
	pc := &s.Policy
	pp := path + ".policy"
	pol := gslb.Policy{
		Strategy:    gslb.Strategy(pc.Strategy),
		TTL:         pc.TTL,
		DegradedTTL: pc.DegradedTTL,
		MinUp:       pc.MinUp,
		Answers:     pc.Answers,
		GeoTieKm:    pc.GeoTieKm,
		HashMask:    gslb.Mask{IPv4: pc.HashMask.IPv4, IPv6: pc.HashMask.IPv6},
		Persistence: gslb.Persistence{
			Enabled: pc.Persistence.Enabled,
			Mask:    gslb.Mask{IPv4: pc.Persistence.IPv4Mask, IPv6: pc.Persistence.IPv6Mask},
		},
		Down: gslb.DownResponse{
			Type:      gslb.DownType(strings.ToLower(pc.DownResponse.Type)),
			Addresses: parseAddrs(p, pp+".down_response.addresses", pc.DownResponse.Addresses),
		},
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
	out := gslb.Service{Name: s.Name, Policy: pol}
	for j, m := range s.Members {
		out.Members = append(out.Members, m.toMember(p, fmt.Sprintf("%s.members[%d]", path, j)))
	}
	return out
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

var continents = []string{"AF", "AN", "AS", "EU", "NA", "OC", "SA"}

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
		if out.Lat < -90 || out.Lat > 90 {
			p.add(path+".lat", "latitude %v is outside -90..90", out.Lat)
		}
		if out.Lon < -180 || out.Lon > 180 {
			p.add(path+".lon", "longitude %v is outside -180..180", out.Lon)
		}
	}
	if out.Country != "" && !isCountryCode(out.Country) {
		p.add(path+".country", "want an ISO 3166-1 alpha-2 code such as \"IE\", got %q", l.Country)
	}
	if out.Continent != "" && !slices.Contains(continents, out.Continent) {
		p.add(path+".continent", "unknown continent code %q (want one of %v)", l.Continent, continents)
	}
	return out
}

func isCountryCode(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

// parseAddrs parses a list of IP addresses; a bad one is reported at its
// index and kept as the invalid zero address.
func parseAddrs(p *problems, path string, in []string) []netip.Addr {
	if len(in) == 0 {
		return nil
	}
	out := make([]netip.Addr, len(in))
	for i, s := range in {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		switch {
		case err != nil:
			p.add(fmt.Sprintf("%s[%d]", path, i), "%q is not an IP address", s)
		case a.Zone() != "":
			p.add(fmt.Sprintf("%s[%d]", path, i), "%q has a zone; use a plain address", s)
		default:
			out[i] = a
		}
	}
	return out
}

// parseAddr parses one IP address; a bad one is reported at path and
// returned as the invalid zero address.
func parseAddr(p *problems, path, s string) netip.Addr {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	switch {
	case err != nil:
		p.add(path, "%q is not an IP address", s)
	case a.Zone() != "":
		p.add(path, "%q has a zone; use a plain address", s)
	default:
		return a
	}
	return netip.Addr{}
}

// parsePrefix parses a CIDR prefix. Host bits must be zero: "10.1.2.3/8"
// is more likely a typo than a way to write 10.0.0.0/8.
func parsePrefix(p *problems, path, s string) (netip.Prefix, bool) {
	pfx, err := netip.ParsePrefix(strings.TrimSpace(s))
	switch {
	case s == "":
		p.add(path, "a CIDR prefix is required")
	case err != nil:
		p.add(path, "%q is not a CIDR prefix such as 192.0.2.0/24", s)
	case pfx != pfx.Masked():
		p.add(path, "%q has host bits set; did you mean %s?", s, pfx.Masked())
	default:
		// Clients are matched as plain IPv4, so ::ffff:10.0.0.0/104 must
		// become 10.0.0.0/8 to ever match.
		if pfx.Addr().Is4In6() && pfx.Bits() >= 96 {
			pfx = netip.PrefixFrom(pfx.Addr().Unmap(), pfx.Bits()-96)
		}
		return pfx, true
	}
	return netip.Prefix{}, false
}
