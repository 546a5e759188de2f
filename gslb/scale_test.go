package gslb

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/meridian-gslb/meridian/geo"
	"github.com/meridian-gslb/meridian/test/scale"
)

// scaleState is the State of the configuration test/scale writes for o
// (zones, sites, services, members and the shared tcp check), built
// directly: gslb's benchmarks measure gslb, not the config loader.
func scaleState(o scale.Options) *State {
	o = o.Defaults()
	st := &State{Zones: []Zone{{
		Name:        scale.Zone,
		SOA:         SOA{MName: "ns1." + scale.Zone, RName: "hostmaster." + scale.Zone, Serial: 1},
		NameServers: []NameServer{{Name: "ns1." + scale.Zone, Addresses: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}},
	}}}
	for j := range o.Sites {
		st.Sites = append(st.Sites, Site{Name: scale.SiteName(j), Location: geo.Location{Lat: float64(j * 10), Lon: float64(j * 20), HasCoords: true}})
	}
	var check *HealthCheck
	if o.Check == scale.CheckSharedTCP {
		check = &HealthCheck{Kind: CheckTCP, Port: uint16(o.ProbePort), Interval: 1e9, Timeout: 5e8, Rise: 1, Fall: 2}
	}
	strategies := []Strategy{StrategyGeo, StrategyWeighted, StrategyRoundRobin, StrategyConsistentHash}
	st.Services = make([]Service, o.Services)
	for i := range st.Services {
		svc := Service{Name: scale.ServiceName(i), Policy: Policy{Strategy: strategies[i%len(strategies)], TTL: 30}, HealthCheck: check}
		if o.Variant != 0 && i == o.Variant%o.Services {
			svc.Policy.TTL = uint32(30 + o.Variant%3600)
		}
		if o.Check == scale.CheckPerServiceNone {
			svc.HealthCheck = &HealthCheck{Kind: CheckNone}
		}
		for k := range o.Members {
			j := (i + k) % o.Sites
			m := Member{Site: scale.SiteName(j), Addresses: []netip.Addr{scale.MemberAddr(i, j)}, Weight: 1}
			if o.Check == scale.CheckSharedTCP {
				m.ProbeAddress = scale.ProbeAddr(o, j)
			}
			svc.Members = append(svc.Members, m)
		}
		st.Services[i] = svc
	}
	st.ApplyDefaults()
	return st
}

// scaleSizes are the sizes of the scale benchmarks: growth from one to
// the next should be linear.
var scaleSizes = []int{10_000, 40_000, 100_000}

func sizeName(n int) string { return fmt.Sprintf("%dk", n/1000) }

func mustValid(tb testing.TB, st *State) *State {
	tb.Helper()
	if err := st.Validate(); err != nil {
		tb.Fatal(err)
	}
	return st
}
