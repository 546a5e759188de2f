// Package dnstest starts real Meridian DNS servers for tests: a gslb.State
// builder, a server on 127.0.0.1:0 (UDP and TCP on one port, like CoreDNS's
// plugin/pkg/dnstest) and small query helpers. Any package's tests may use
// it; it is not for production code.
package dnstest

import (
	"context"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/geo"
	"github.com/meridian-gslb/meridian/gslb"
)

// Zone is the zone of Demo.
const Zone = "gslb.example."

// Site locations of Demo.
var (
	USEast  = geo.Location{Lat: 39.04, Lon: -77.49, HasCoords: true, Country: "US", Continent: "NA"}
	EUWest  = geo.Location{Lat: 53.35, Lon: -6.26, HasCoords: true, Country: "IE", Continent: "EU"}
	APSouth = geo.Location{Lat: 19.08, Lon: 72.88, HasCoords: true, Country: "IN", Continent: "AS"}
)

// Rules place test client networks, standing in for an mmdb: London,
// Tokyo and Boston clients, and loopback at us-east.
var Rules = []geo.Rule{
	{Prefix: netip.MustParsePrefix("81.2.69.0/24"), Location: geo.Location{Lat: 51.51, Lon: -0.13, HasCoords: true, Country: "GB", Continent: "EU"}},
	{Prefix: netip.MustParsePrefix("202.12.27.0/24"), Location: geo.Location{Lat: 35.68, Lon: 139.69, HasCoords: true, Country: "JP", Continent: "AS"}},
	{Prefix: netip.MustParsePrefix("8.8.8.0/24"), Location: geo.Location{Lat: 42.36, Lon: -71.06, HasCoords: true, Country: "US", Continent: "NA"}},
	{Prefix: netip.MustParsePrefix("2001:67c:2e8::/48"), Location: geo.Location{Lat: 51.51, Lon: -0.13, HasCoords: true, Country: "GB", Continent: "EU"}},
	{Prefix: netip.MustParsePrefix("127.0.0.0/8"), Site: "us-east"},
	{Prefix: netip.MustParsePrefix("::1/128"), Site: "us-east"},
}

// Builder assembles a gslb.State.
type Builder struct{ st gslb.State }

// NewState starts a state with one zone (SOA TTL 3600, MINIMUM 60, so a
// negative TTL of 60; ns1 inside the zone with glue 127.0.0.1, ns2
// outside) and the three sites of Demo.
func NewState(zone string) *Builder {
	b := &Builder{}
	b.Zone(zone)
	b.st.Sites = []gslb.Site{{Name: "us-east", Location: USEast}, {Name: "eu-west", Location: EUWest}, {Name: "ap-south", Location: APSouth}}
	return b
}

// Zone adds a zone like NewState's.
func (b *Builder) Zone(name string, records ...string) *Builder {
	name = gslb.CanonicalName(name)
	b.st.Zones = append(b.st.Zones, gslb.Zone{
		Name: name,
		SOA: gslb.SOA{MName: "ns1." + name, RName: "hostmaster." + name, Serial: 2026112101,
			Refresh: 3600, Retry: 600, Expire: 1209600, Minimum: 60, TTL: 3600},
		NameServers: []gslb.NameServer{
			{Name: "ns1." + name, Addresses: []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")}},
			{Name: "ns2.example.net."},
		},
		NSTTL:   3600,
		Records: records,
	})
	return b
}

// Records appends static records to the last zone.
func (b *Builder) Records(rr ...string) *Builder {
	z := &b.st.Zones[len(b.st.Zones)-1]
	z.Records = append(z.Records, rr...)
	return b
}

// Site adds a site.
func (b *Builder) Site(name string, loc geo.Location) *Builder {
	b.st.Sites = append(b.st.Sites, gslb.Site{Name: name, Location: loc})
	return b
}

// Service adds a service. Members with weight 0 get weight 1: use
// DrainedMember for a drained one.
func (b *Builder) Service(name string, pol gslb.Policy, members ...gslb.Member) *Builder {
	for i := range members {
		if members[i].Weight == 0 {
			members[i].Weight = 1
		}
		if members[i].Weight == drained {
			members[i].Weight = 0
		}
	}
	b.st.Services = append(b.st.Services, gslb.Service{Name: name, Policy: pol, Members: members})
	return b
}

const drained = ^uint32(0)

// Member is a member at site with addresses (IPv4 and/or IPv6).
func Member(site string, addrs ...string) gslb.Member {
	m := gslb.Member{Site: site}
	for _, a := range addrs {
		m.Addresses = append(m.Addresses, netip.MustParseAddr(a))
	}
	return m
}

// HostMember is a member answered as a CNAME to host.
func HostMember(site, host string) gslb.Member { return gslb.Member{Site: site, Hostname: host} }

// DrainedMember is a member with weight 0.
func DrainedMember(site string, addrs ...string) gslb.Member {
	m := Member(site, addrs...)
	m.Weight = drained
	return m
}

// Build applies defaults and returns the state; it does not validate.
func (b *Builder) Build() *gslb.State {
	st := b.st
	st.ApplyDefaults()
	return &st
}

// Demo is the state most dnsserver tests use: the demo zone's records plus
// edge cases (chains, loops, a delegation, wildcards, a big RRset), and
// one service per interesting shape.
func Demo() *gslb.State {
	big := make([]string, 0, 24)
	for i := range 24 {
		big = append(big, "big 300 IN TXT \"record "+string(rune('a'+i))+" of a set too big for 512 bytes.....\"")
	}
	return NewState(Zone).
		Records(
			`@ 300 IN TXT "Meridian GSLB demo zone"`,
			`@ 300 IN MX 10 mail.gslb.example.`,
			`mail 300 IN A 192.0.2.25`,
			`_sip._udp 300 IN SRV 10 60 5060 sip.gslb.example.`,
			`sip 300 IN A 192.0.2.26`,
			`@ 300 IN CAA 0 issue "letsencrypt.org"`,
			`docs 300 IN CNAME app.gslb.example.`,
			`alias 300 IN CNAME docs.gslb.example.`,
			`loop1 300 IN CNAME loop2.gslb.example.`,
			`loop2 300 IN CNAME loop1.gslb.example.`,
			`ext 300 IN CNAME www.example.net.`,
			`dangling 300 IN CNAME nothere.gslb.example.`,
			`sub 3600 IN NS ns1.sub.gslb.example.`,
			`sub 3600 IN NS ns.example.net.`,
			`ns1.sub 3600 IN A 192.0.2.53`,
			`*.wild 300 IN TXT "wildcard"`,
			`*.wild 300 IN A 192.0.2.77`,
			`app 300 IN TXT "service txt"`,
			`_http._tcp.app 300 IN SRV 0 0 80 app.gslb.example.`,
			`a.b.c 300 IN A 192.0.2.5`,
			`v6 300 IN AAAA 2001:db8::5`,
			`multi 60 IN A 192.0.2.1`,
			`multi 60 IN A 192.0.2.2`,
			`multi 60 IN A 192.0.2.3`,
			`ptr 300 IN PTR app.gslb.example.`,
		).
		Records(big...).
		Service("app.gslb.example.", gslb.Policy{Strategy: gslb.StrategyGeo, TTL: 30},
			Member("us-east", "192.0.2.10", "2001:db8:1::10"),
			Member("eu-west", "198.51.100.10", "2001:db8:2::10"),
			Member("ap-south", "203.0.113.10", "2001:db8:3::10")).
		Service("www.gslb.example.", gslb.Policy{Strategy: gslb.StrategyWeighted, TTL: 30, Persistence: gslb.Persistence{Enabled: true}},
			Member("us-east", "192.0.2.20"), Member("eu-west", "198.51.100.20")).
		Service("rr.gslb.example.", gslb.Policy{Strategy: gslb.StrategyRoundRobin, TTL: 20},
			Member("us-east", "192.0.2.30"), Member("eu-west", "198.51.100.30"), Member("ap-south", "203.0.113.30")).
		Service("edge.gslb.example.", gslb.Policy{Strategy: gslb.StrategyGeo, TTL: 30},
			HostMember("us-east", "edge-lb.us-east.example.net."), Member("eu-west", "198.51.100.40")).
		Service("inedge.gslb.example.", gslb.Policy{Strategy: gslb.StrategyGeo, TTL: 25},
			HostMember("us-east", "mail.gslb.example."), Member("eu-west", "198.51.100.41")).
		Service("v4only.gslb.example.", gslb.Policy{Strategy: gslb.StrategyGeo},
			Member("us-east", "192.0.2.50")).
		Service("deep.svc.gslb.example.", gslb.Policy{Strategy: gslb.StrategyGeo},
			Member("us-east", "192.0.2.60")).
		// A second zone without wildcards or delegations (whose negative
		// answers the fast path gives).
		Zone(PlainZone,
			`www 300 IN A 192.0.2.100`,
			`www 300 IN AAAA 2001:db8::100`,
			`x.y.z 300 IN TXT "deep"`,
			`alias 300 IN CNAME www.plain.example.`).
		Service("api.plain.example.", gslb.Policy{Strategy: gslb.StrategyGeo, TTL: 15},
			Member("us-east", "192.0.2.110"), Member("eu-west", "198.51.100.110", "2001:db8:2::110")).
		Build()
}

// PlainZone is Demo's second zone.
const PlainZone = "plain.example."

// Snapshot validates st and compiles it with Rules.
func Snapshot(t testing.TB, st *gslb.State) *gslb.Snapshot {
	t.Helper()
	if err := st.Validate(); err != nil {
		t.Fatalf("test state does not validate: %v", err)
	}
	loc, err := geo.NewLocator(nil, Rules)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gslb.NewSnapshot(st, loc, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Store returns a store holding st's snapshot.
func Store(t testing.TB, st *gslb.State) *gslb.Store {
	store := &gslb.Store{}
	store.Publish(Snapshot(t, st))
	return store
}

// Quiet is a logger that drops everything (tests keep their output clean).
func Quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// StartServer starts a server for store on 127.0.0.1:0 with a quiet
// logger, after applying opts to its Config, and stops it when the test
// ends. It returns the server and its address (UDP and TCP share it).
func StartServer(t testing.TB, store *gslb.Store, opts ...func(*dnsserver.Config)) (*dnsserver.Server, string) {
	t.Helper()
	cfg := dnsserver.Config{Listen: []string{"127.0.0.1:0"}, Logger: Quiet(), UDPSockets: 2}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := dnsserver.New(cfg, store)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	udp, _ := s.Addrs()
	return s, udp[0].String()
}
