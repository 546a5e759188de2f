// Package gslb holds Meridian's model and its decision: which member of a
// GSLB service answers a given client. It does no I/O. Everything that
// reaches the DNS hot path is an immutable Snapshot read through Store.
//
// It is also the one home of the model's rules, which the config loader,
// the Kubernetes policy compiler and followers receiving a State all call:
// State.ApplyDefaults and State.Validate (validate.go) for a whole State
// (State.ValidateChanged for one that differs from a validated one in a
// few services, with Service.Equal, equal.go, the one rule of "unchanged"),
// Policy.ApplyDefaults and Policy.Validate (policy.go) for a policy on
// its own, HealthCheck.Defaults and Validate (healthcheck.go) for a check,
// CheckWeights (weights.go) where a person writes weights, ParseAddr and
// CheckProbeAddress (addr.go) for addresses. Rules of places and client
// networks (ParseNetwork, CheckCountry, ...) are geo's. Field errors are
// *FieldError values with paths relative to what was judged
// (fielderror.go).
package gslb

import (
	"net/netip"

	"github.com/meridian-gslb/meridian/geo"
)

// State is the whole desired configuration of a Meridian deployment: zones,
// sites and services. A State is built by the config loader (standalone) or
// the Kubernetes leader, normalised with ApplyDefaults, checked with
// Validate and then compiled into a Snapshot. Treat it as immutable once a
// Snapshot has been built from it.
type State struct {
	// Term and Generation order published States (see Version): a
	// leader takes a higher Term when it starts leading, and Generation
	// increases with every State it publishes. Followers refuse older
	// versions.
	Term       uint64    `json:"term,omitempty"`
	Generation uint64    `json:"generation"`
	Zones      []Zone    `json:"zones"`
	Sites      []Site    `json:"sites"`
	Services   []Service `json:"services"`
}

// Zone is one authoritative zone. Static records are kept in RFC 1035
// presentation format because only dnsserver may parse DNS wire types.
type Zone struct {
	Name        string       `json:"name"` // lower case, fully qualified
	SOA         SOA          `json:"soa"`
	NameServers []NameServer `json:"nameservers"`
	NSTTL       uint32       `json:"ns_ttl"`
	// Records are static resource records, one per string, relative names
	// resolved against Name ("@ 300 IN TXT \"hello\"").
	Records []string `json:"records,omitempty"`
	// ZoneFile is an RFC 1035 master file with more static records.
	ZoneFile string `json:"zone_file,omitempty"`
	// DNSSEC, when set, signs the zone online (dnssec.go).
	DNSSEC *ZoneDNSSEC `json:"dnssec,omitempty"`
}

// SOA carries the zone's SOA fields. TTL is the SOA record's own TTL; the
// negative-caching TTL is min(TTL, Minimum) (RFC 2308 section 5).
type SOA struct {
	MName   string `json:"mname"`
	RName   string `json:"rname"`
	Serial  uint32 `json:"serial"`
	Refresh uint32 `json:"refresh"`
	Retry   uint32 `json:"retry"`
	Expire  uint32 `json:"expire"`
	Minimum uint32 `json:"minimum"`
	TTL     uint32 `json:"ttl"`
}

// NegativeTTL is the TTL of the SOA in negative answers (RFC 2308 section 3).
func (s SOA) NegativeTTL() uint32 { return min(s.TTL, s.Minimum) }

// NameServer is one NS target of a zone. Addresses are glue, required when
// the name is inside the zone.
type NameServer struct {
	Name      string       `json:"name"`
	Addresses []netip.Addr `json:"addresses,omitempty"`
}

// Site is a place that serves members: a cluster, a region, a data centre.
type Site struct {
	Name     string       `json:"name"`
	Location geo.Location `json:"location"`
	// Bias (-99..99) grows (positive) or shrinks (negative) the site's
	// catchment for the geo strategy, as Route 53's geoproximity bias: a
	// client's distance to the site counts as distance * (1 - Bias/100).
	Bias int `json:"bias,omitempty"`
}

// The range of Site.Bias: Route 53's, so that a site's biased distance
// stays between 1% and 199% of its distance.
const (
	MinBias = -99
	MaxBias = 99
)

// Service is one GSLB name: an FQDN answered with the best member(s).
type Service struct {
	Name    string   `json:"name"` // lower case, fully qualified
	Policy  Policy   `json:"policy"`
	Members []Member `json:"members"`
	// HealthCheck is how every member is probed; nil: not probed, members
	// count as up. It travels with the State so that every site probes
	// alike.
	HealthCheck *HealthCheck `json:"health_check,omitempty"`
}

// Member is one place a service runs: addresses (IPv4 and/or IPv6) or a
// hostname answered as a CNAME (a cloud load balancer).
type Member struct {
	Site      string       `json:"site"`
	Addresses []netip.Addr `json:"addresses,omitempty"`
	Hostname  string       `json:"hostname,omitempty"`
	// Weight shares traffic among equal candidates; 0 drains the member.
	Weight uint32 `json:"weight"`
	// Priority groups members: the lowest number is preferred, as in MX
	// and SRV records.
	Priority int `json:"priority"`
	// ProbeAddress, when valid, is where health checks reach the member
	// instead of its answered addresses (a VIP behind NAT); it also lets a
	// hostname member be probed.
	ProbeAddress netip.Addr `json:"probe_address,omitzero"`
	// ProbePort, when not 0, replaces the health check's port for this
	// member (a port mapping behind NAT).
	ProbePort uint16 `json:"probe_port,omitempty"`
	// Unready is the control plane's verdict: Kubernetes reports no ready
	// endpoint behind the member. It is a veto: the member is down
	// whatever the probes see (an operator's force-up still wins). It
	// travels in the State, so every site applies the leader's view.
	Unready bool `json:"unready,omitempty"`
	// Capacity is the share of the member's capacity on offer, in
	// thousandths, as the control plane measured it (Kubernetes: the
	// ready share of the endpoints behind it); 0 is no measurement, which
	// counts as all of it. It scales the member's weight.
	Capacity uint16 `json:"capacity,omitempty"`
}

// ID is a stable identity of the member within its service, used for
// hashing and health: the same config always gives the same ID.
func (m *Member) ID() string {
	if m.Hostname == "" && len(m.Addresses) == 0 {
		return m.Site
	}
	var buf [64]byte
	return string(m.AppendID(buf[:0]))
}

// HasID reports whether m.ID() == id, without building the ID.
func (m *Member) HasID(id string) bool {
	var buf [64]byte
	return string(m.AppendID(buf[:0])) == id
}

// sameID reports whether m and o have the same ID, without building
// either.
func (m *Member) sameID(o *Member) bool {
	var a, b [64]byte
	return string(m.AppendID(a[:0])) == string(o.AppendID(b[:0]))
}

// AppendID appends ID to b: callers pass a stack buffer to hash, compare
// or look up an ID (a map index of string(b) does not allocate) without
// building it.
func (m *Member) AppendID(b []byte) []byte {
	b = append(b, m.Site...)
	switch {
	case m.Hostname != "":
		b = append(append(b, '/'), m.Hostname...)
	case len(m.Addresses) > 0:
		b = m.Addresses[0].AppendTo(append(b, '/'))
	}
	return b
}

// Strategy orders the members of a priority group.
type Strategy string

// The strategies. See shared/design.md, "Decision order in Select".
const (
	StrategyGeo            Strategy = "geo"
	StrategyTopology       Strategy = "topology"
	StrategyWeighted       Strategy = "weighted"
	StrategyRoundRobin     Strategy = "roundrobin"
	StrategyConsistentHash Strategy = "consistenthash"
	// StrategyLatency answers the members whose probes from the answering
	// site are fastest (health's smoothed RTT), within LatencyTieMs.
	StrategyLatency Strategy = "latency"
)

// Strategies lists every valid strategy, for validation messages.
var Strategies = []Strategy{StrategyGeo, StrategyTopology, StrategyWeighted, StrategyRoundRobin, StrategyConsistentHash, StrategyLatency}

// DownType says what to answer when no member is healthy.
type DownType string

// The down responses.
const (
	DownNone     DownType = "none"     // NODATA
	DownAll      DownType = "all"      // every member, ignoring health
	DownFallback DownType = "fallback" // the configured addresses
)

// Policy is how a service picks its answer.
type Policy struct {
	Strategy Strategy `json:"strategy"`
	TTL      uint32   `json:"ttl"`
	// DegradedTTL replaces TTL while the answer is degraded (members down,
	// a priority fallback, or the down response), so clients come back
	// sooner when things heal. 0 means TTL.
	DegradedTTL uint32 `json:"degraded_ttl,omitempty"`
	// MinUp is how many healthy members a priority group needs to be used.
	MinUp int `json:"min_up"`
	// Answers is the most members answered at once; 0 means the
	// strategy's default (every candidate for roundrobin, else 1).
	Answers int `json:"answers,omitempty"`
	// GeoTieKm: members whose distance is within this many km of the
	// nearest count as equally near.
	GeoTieKm float64 `json:"geo_tie_km"`
	// LatencyTieMs: for the latency strategy, members whose round-trip
	// time from the answering site is within this many milliseconds of
	// the fastest count as equally fast.
	LatencyTieMs uint32         `json:"latency_tie_ms,omitempty"`
	Topology     []TopologyRule `json:"topology,omitempty"`
	HashMask     Mask           `json:"hash_mask"`
	Persistence  Persistence    `json:"persistence"`
	Down         DownResponse   `json:"down_response"`
	// Load sheds client networks off loaded members (load.go).
	Load LoadPolicy `json:"load,omitzero"`
}

// Mask is a client-subnet mask per address family.
type Mask struct {
	IPv4 int `json:"ipv4"`
	IPv6 int `json:"ipv6"`
}

// Bits returns the mask length for the family of a.
func (m Mask) Bits(a netip.Addr) int {
	if a.Is4() {
		return m.IPv4
	}
	return m.IPv6
}

// Persistence keeps a client network on the same member while it stays
// eligible, by weighted rendezvous hashing of the masked client subnet.
type Persistence struct {
	Enabled bool `json:"enabled"`
	Mask    Mask `json:"mask"`
}

// DownResponse is the answer when nothing is healthy.
type DownResponse struct {
	Type      DownType     `json:"type"`
	Addresses []netip.Addr `json:"addresses,omitempty"`
}

// TopologyRule maps clients to an ordered list of sites. A rule matches
// when the client is inside one of CIDRs, or located in one of Countries or
// Continents. The first rule that matches decides.
type TopologyRule struct {
	CIDRs      []netip.Prefix `json:"cidrs,omitempty"`
	Countries  []string       `json:"countries,omitempty"`
	Continents []string       `json:"continents,omitempty"`
	Sites      []string       `json:"sites"`
}
