package gslb

import (
	"errors"
	"math"
	"net/netip"
	"strings"
	"testing"
)

func TestValidateNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*State)
		path   string
		msg    string
	}{
		{"unknown site", func(s *State) { s.Services[0].Members[1].Site = "mars" }, "services[0].members[1].site", `unknown site "mars"`},
		{"bad strategy", func(s *State) { s.Services[1].Policy.Strategy = "fastest" }, "services[1].policy.strategy", "unknown strategy"},
		{"outside zone", func(s *State) { s.Services[2].Name = "w.other.example." }, "services[2].name", "not inside any configured zone"},
		{"no members", func(s *State) { s.Services[0].Members = nil }, "services[0].members", "at least one member"},
		{"both kinds", func(s *State) { s.Services[7].Members[0].Addresses = ips("192.0.2.1") }, "services[7].members[0]", "not both"},
		{"duplicate service", func(s *State) { s.Services[1].Name = s.Services[0].Name }, "services[1].name", "defined twice"},
		{"duplicate member", func(s *State) {
			s.Services[0].Members[2].Addresses = s.Services[0].Members[0].Addresses
			s.Services[0].Members[2].Site = "us-east"
		}, "services[0].members[2]", "duplicate member us-east/192.0.2.10"},
		{"empty last label", func(s *State) { s.Services[0].Name = "app.gslb.example.." }, "services[0].name", "empty label"},
		{"missing glue", func(s *State) { s.Zones[0].NameServers[0].Addresses = nil }, "zones[0].nameservers[0].addresses", "needs glue"},
		{"no nameservers", func(s *State) { s.Zones[0].NameServers = nil }, "zones[0].nameservers", "at least one name server"},
		{"fallback without addresses", func(s *State) { s.Services[3].Policy.Down.Addresses = nil }, "services[3].policy.down_response.addresses", "needs at least one address"},
		{"bad down type", func(s *State) { s.Services[0].Policy.Down.Type = "nxdomain" }, "services[0].policy.down_response.type", "unknown down response"},
		{"topology site", func(s *State) { s.Services[6].Policy.Topology[1].Sites[0] = "moon" }, "services[6].policy.topology[1].sites[0]", `unknown site "moon"`},
		{"topology continent", func(s *State) { s.Services[6].Policy.Topology[1].Continents[0] = "XX" }, "services[6].policy.topology[1].continents[0]", "is not a continent code"},
		{"mask", func(s *State) { s.Services[5].Policy.HashMask.IPv4 = 33 }, "services[5].policy.hash_mask.ipv4", "between 0 and 32"},
		{"min_up", func(s *State) { s.Services[0].Policy.MinUp = -1 }, "services[0].policy.min_up", "at least 1"},
		{"latitude", func(s *State) { s.Sites[0].Location.Lat = 91 }, "sites[0].location.lat", "outside -90..90"},
		{"bias too high", func(s *State) { s.Sites[1].Bias = 100 }, "sites[1].bias", "bias 100 is out of range: it must be from -99 to 99"},
		{"bias too low", func(s *State) { s.Sites[2].Bias = -100 }, "sites[2].bias", "from -99 to 99"},
		// geo's rules, the same as the config loader's and NewLocator's
		{"latitude NaN", func(s *State) { s.Sites[0].Location.Lat = math.NaN() }, "sites[0].location.lat", "outside -90..90"},
		{"topology country", func(s *State) { s.Services[6].Policy.Topology[1].Countries = []string{"12"} }, "services[6].policy.topology[1].countries[0]", "ISO 3166-1 alpha-2"},
		{"cname loop", func(s *State) { s.Services[7].Members[0].Hostname = "edge.gslb.example." }, "services[7].members[0].hostname", "loop"},
		{"long label", func(s *State) { s.Services[0].Name = strings.Repeat("a", 64) + ".gslb.example." }, "services[0].name", "longer than 63"},
		{"health check kind", func(s *State) { s.Services[0].HealthCheck = &HealthCheck{Kind: "icmp"} }, "services[0].health_check.kind", `must be one of [tcp http https none], got "icmp"`},
		{"tcp check without port", func(s *State) { s.Services[1].HealthCheck = &HealthCheck{Kind: "tcp"} }, "services[1].health_check.port", "required for tcp checks"},
		{"http field on tcp check", func(s *State) { s.Services[1].HealthCheck = &HealthCheck{Port: 80, Path: "/x"} }, "services[1].health_check.path", "only for http and https checks"},
		{"check status", func(s *State) {
			s.Services[2].HealthCheck = &HealthCheck{Kind: "http", ExpectStatus: []string{"200", "700"}}
		}, "services[2].health_check.expect_status[1]", "within 100-599, got 700"},
		{"check jitter", func(s *State) { s.Services[2].HealthCheck = &HealthCheck{Kind: "http", Jitter: "lots"} }, "services[2].health_check.jitter", `got "lots"`},
		// The Host a check gets from a wildcard service cannot be sent:
		// refused here, never accepted and left unprobed.
		{"host from a wildcard service", func(s *State) {
			s.Services[2].Name = "*.gslb.example."
			s.Services[2].HealthCheck = &HealthCheck{Kind: "http"}
		}, "services[2].health_check.host", `got "*.gslb.example"`},
		{"nested zone", func(s *State) {
			s.Zones = append(s.Zones, Zone{Name: "sub.gslb.example.", SOA: s.Zones[0].SOA, NameServers: s.Zones[0].NameServers})
		}, "zones[1].name", "nested inside zone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := testState()
			tc.mutate(st)
			err := st.Validate()
			if err == nil {
				t.Fatal("no error")
			}
			var fe *FieldError
			found := false
			for _, e := range unjoin(err) {
				if errors.As(e, &fe) && fe.Path == tc.path && strings.Contains(fe.Msg, tc.msg) {
					found = true
				}
			}
			if !found {
				t.Fatalf("want %s: ...%s..., got:\n%v", tc.path, tc.msg, err)
			}
		})
	}
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestValidateGoodStateAndDefaults(t *testing.T) {
	st := testState()
	// A check as written (not defaulted) is judged with its defaults.
	st.Services[0].HealthCheck = &HealthCheck{Kind: "HTTPS", ExpectStatus: []string{"200, 204"}, Jitter: "250ms"}
	st.Sites[0].Bias, st.Sites[1].Bias = MaxBias, MinBias // the extremes are valid
	if err := st.Validate(); err != nil {
		t.Fatal(err)
	}
	if hc := st.Services[0].HealthCheck; hc.Kind != "HTTPS" || hc.Port != 0 {
		t.Errorf("Validate changed the check: %+v", hc)
	}
	st = &State{
		Zones:    []Zone{{Name: "Example.ORG", NameServers: []NameServer{{Name: "ns.example.net"}}}},
		Sites:    []Site{{Name: "a"}},
		Services: []Service{{Name: "WWW.example.org", Members: []Member{{Site: "a", Addresses: []netip.Addr{netip.MustParseAddr("::ffff:192.0.2.1")}, Weight: 1}}}},
	}
	st.ApplyDefaults()
	if err := st.Validate(); err != nil {
		t.Fatal(err)
	}
	z, s := st.Zones[0], st.Services[0]
	if z.Name != "example.org." || z.SOA.MName != "ns.example.net." || z.SOA.RName != "hostmaster.example.org." || z.SOA.NegativeTTL() != DefaultSOAMinimum {
		t.Errorf("zone defaults: %+v", z)
	}
	if s.Name != "www.example.org." || s.Policy.Strategy != StrategyGeo || s.Policy.TTL != DefaultTTL || s.Policy.Persistence.Mask != (Mask{24, 56}) || s.Policy.Down.Type != DownNone {
		t.Errorf("service defaults: %+v", s)
	}
	if !s.Members[0].Addresses[0].Is4() {
		t.Errorf("4in6 address not unmapped: %v", s.Members[0].Addresses[0])
	}
}
