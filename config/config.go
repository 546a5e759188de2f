package config

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/meridian-gslb/meridian/dnsserver"
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
	// MaxTCPConnectionsPerSource caps one client's share (an IPv4
	// address, an IPv6 /64).
	MaxTCPConnectionsPerSource int    `mapstructure:"max_tcp_connections_per_source" json:"max_tcp_connections_per_source"`
	UDPSockets                 int    `mapstructure:"udp_sockets" json:"udp_sockets"`
	ServiceMetrics             int    `mapstructure:"service_metrics" json:"service_metrics,omitempty"`
	NSID                       string `mapstructure:"nsid" json:"nsid,omitempty"`
	// RRL limits UDP responses per client network (response rate
	// limiting); off without responses_per_second.
	RRL RRLConfig `mapstructure:"rrl" json:"rrl"`
	// TSIGKeys may sign queries (RFC 8945); the secrets are read from
	// their files at start.
	TSIGKeys []TSIGConfig `mapstructure:"tsig_keys" json:"tsig_keys,omitempty"`
	// CookieSecretFile holds the DNS cookie secrets (RFC 9018), one per
	// line in hex, the first making cookies; every site should share it.
	CookieSecretFile string `mapstructure:"cookie_secret_file" json:"cookie_secret_file,omitempty"`
	// DNSSECKeyDirectory holds this site's private DNSSEC keys (BIND's
	// K<zone>+<alg>+<tag>.key and .private) for the zones signed with
	// zones[i].dnssec; every site needs its own copy.
	DNSSECKeyDirectory string `mapstructure:"dnssec_key_directory" json:"dnssec_key_directory,omitempty"`
	// cookieSecrets, behind a pointer that fmt prints as an address, so
	// that no printed form of the configuration shows them.
	cookieSecrets *cookieSecrets
}

type cookieSecrets struct {
	list [][dnsserver.CookieSecretLength]byte
}

// RRLConfig is dns.rrl: see dnsserver.RRLConfig.
type RRLConfig struct {
	ResponsesPerSecond int      `mapstructure:"responses_per_second" json:"responses_per_second"`
	Window             int      `mapstructure:"window" json:"window,omitempty"`
	Slip               *int     `mapstructure:"slip" json:"slip,omitempty"`
	IPv4Prefix         int      `mapstructure:"ipv4_prefix" json:"ipv4_prefix,omitempty"`
	IPv6Prefix         int      `mapstructure:"ipv6_prefix" json:"ipv6_prefix,omitempty"`
	Exempt             []string `mapstructure:"exempt" json:"exempt,omitempty"`
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
	// CompiledMaxMB bounds the memory of the compiled geo and topology
	// decisions (0: DefaultCompiledMaxMB); services whose decision does
	// not fit answer uncompiled.
	CompiledMaxMB int `mapstructure:"compiled_max_mb" json:"compiled_max_mb,omitempty"`
}

// DefaultCompiledMaxMB is geo.compiled_max_mb's default: room for about
// twenty decisions over five sites on a GeoIP2 City-sized database, or
// hundreds on a Country one.
const DefaultCompiledMaxMB = 256

// CompiledMaxBytes is geo.compiled_max_mb in bytes, the default applied.
func (g GeoConfig) CompiledMaxBytes() int {
	if g.CompiledMaxMB <= 0 {
		return DefaultCompiledMaxMB << 20
	}
	return g.CompiledMaxMB << 20
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
	Delegation  *DelegationConfig  `mapstructure:"delegation" json:"delegation,omitempty"` // config/delegation.go
	DNSSEC      *ZoneDNSSECConfig  `mapstructure:"dnssec" json:"dnssec,omitempty"`         // config/dnssec.go
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
	Site      string   `mapstructure:"site" json:"site,omitempty"` // runs at this site: delegated while it is live
}

// SiteConfig is a place that serves members.
type SiteConfig struct {
	Name     string          `mapstructure:"name" json:"name"`
	Location *LocationConfig `mapstructure:"location" json:"location,omitempty"`
	// Bias (-99..99) is the site's geoproximity bias for the geo
	// strategy (gslb.Site.Bias).
	Bias int `mapstructure:"bias" json:"bias,omitempty"`
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
	LatencyTieMs uint32             `mapstructure:"latency_tie_ms" json:"latency_tie_ms,omitempty"`
	Topology     []TopologyConfig   `mapstructure:"topology" json:"topology,omitempty"`
	HashMask     MaskConfig         `mapstructure:"hash_mask" json:"hash_mask"`
	Persistence  PersistenceConfig  `mapstructure:"persistence" json:"persistence"`
	DownResponse DownResponseConfig `mapstructure:"down_response" json:"down_response"`
	Load         *LoadConfig        `mapstructure:"load" json:"load,omitempty"`
}

// LoadConfig is a policy's load shedding (gslb.LoadPolicy): watermarks
// in the signal's unit, and where the signal comes from besides the
// health check's load_from.
type LoadConfig struct {
	Low        float64  `mapstructure:"low" json:"low"`
	High       float64  `mapstructure:"high" json:"high"`
	HardLimit  float64  `mapstructure:"hard_limit" json:"hard_limit,omitempty"`
	MaxAge     Duration `mapstructure:"max_age" json:"max_age,omitempty"`
	StickyFor  Duration `mapstructure:"sticky_for" json:"sticky_for,omitempty"`
	Prometheus string   `mapstructure:"prometheus" json:"prometheus,omitempty"`
	MatchLabel string   `mapstructure:"match_label" json:"match_label,omitempty"`
	MatchOn    string   `mapstructure:"match_on" json:"match_on,omitempty"`
	// SpareWeights scales the weights by the spare capacity below high.
	SpareWeights bool `mapstructure:"spare_weights" json:"spare_weights,omitempty"`
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
