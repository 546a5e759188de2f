package health

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/test/scale"
)

// scaleState is the State of the configuration test/scale writes for o,
// built directly (health's benchmarks measure health, not the loader):
// with CheckSharedTCP every service has the tcp check and each site's
// members share that site's probe address.
func scaleState(o scale.Options) *gslb.State {
	o = o.Defaults()
	st := &gslb.State{Zones: []gslb.Zone{{
		Name:        scale.Zone,
		SOA:         gslb.SOA{MName: "ns1." + scale.Zone, RName: "hostmaster." + scale.Zone},
		NameServers: []gslb.NameServer{{Name: "ns1." + scale.Zone, Addresses: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}},
	}}}
	for j := range o.Sites {
		st.Sites = append(st.Sites, gslb.Site{Name: scale.SiteName(j)})
	}
	check := &gslb.HealthCheck{Kind: gslb.CheckTCP, Port: uint16(o.ProbePort), Interval: 1e9, Timeout: 5e8, Rise: 1, Fall: 2}
	st.Services = make([]gslb.Service, o.Services)
	for i := range st.Services {
		svc := gslb.Service{Name: scale.ServiceName(i), Policy: gslb.Policy{TTL: 30}}
		if o.Variant != 0 && i == o.Variant%o.Services {
			svc.Policy.TTL = uint32(30 + o.Variant%3600)
		}
		switch o.Check {
		case scale.CheckSharedTCP:
			svc.HealthCheck = check
		case scale.CheckPerServiceNone:
			svc.HealthCheck = &gslb.HealthCheck{Kind: gslb.CheckNone}
		}
		for k := range o.Members {
			j := (i + k) % o.Sites
			m := gslb.Member{Site: scale.SiteName(j), Addresses: []netip.Addr{scale.MemberAddr(i, j)}, Weight: 1}
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

// editChecks changes st the ways that matter to a plan: checks changed
// or dropped, probe addresses and ports moved, members added, services
// added and removed, and TTLs (which change no target).
func editChecks(r *rand.Rand, st *gslb.State, edits int) *gslb.State {
	out := *st
	out.Services = slices.Clone(st.Services)
	for range edits {
		i := r.IntN(len(out.Services))
		s := out.Services[i]
		s.Members = slices.Clone(s.Members)
		switch r.IntN(8) {
		case 0:
			s.Policy.TTL++
		case 1:
			s.HealthCheck = &gslb.HealthCheck{Kind: gslb.CheckTCP, Port: uint16(8000 + r.IntN(3))}
		case 2:
			s.HealthCheck = nil
			for j := range s.Members {
				s.Members[j].ProbeAddress, s.Members[j].ProbePort = netip.Addr{}, 0
			}
		case 3:
			if s.HealthCheck != nil {
				s.Members[0].ProbePort = uint16(9000 + r.IntN(2))
			}
		case 4:
			if s.HealthCheck != nil {
				s.Members[0].ProbeAddress = netip.AddrFrom4([4]byte{127, 88, 0, byte(r.IntN(4))})
			}
		case 5:
			out.Services = slices.Delete(out.Services, i, i+1)
			continue
		case 6:
			s.Name = fmt.Sprintf("new%d.%s", r.Uint32(), scale.Zone)
			out.Services = append(out.Services, s)
			continue
		case 7:
			s.HealthCheck = &gslb.HealthCheck{Kind: gslb.CheckHTTP, Port: 80}
			for j := range s.Members {
				s.Members[j].ProbePort = 0
			}
		}
		out.Services[i] = s
	}
	return &out
}

// samePlan fails t unless a and b plan the same targets for the same
// members, with the same users and refusals.
func samePlan(t *testing.T, a, b *Plan) {
	t.Helper()
	if len(a.Targets()) != len(b.Targets()) {
		t.Fatalf("%d targets, want %d", len(a.Targets()), len(b.Targets()))
	}
	for k := range b.Targets() {
		if _, ok := a.Targets()[k]; !ok {
			t.Fatalf("target %s missing", k)
		}
		if got, want := a.Services([]Key{k}), b.Services([]Key{k}); !slices.Equal(got, want) {
			t.Fatalf("target %s: services %v, want %v", k, got, want)
		}
	}
	for _, svc := range b.state.Services {
		for _, m := range svc.Members {
			if got, want := a.MemberKeys(svc.Name, m.ID()), b.MemberKeys(svc.Name, m.ID()); !slices.Equal(got, want) {
				t.Fatalf("%s %s: keys %v, want %v", svc.Name, m.ID(), got, want)
			}
		}
	}
	if !slices.Equal(a.Refused(), b.Refused()) {
		t.Fatalf("refused %v, want %v", a.Refused(), b.Refused())
	}
	if a.services.Len() != b.services.Len() || len(a.users) != len(b.users) {
		t.Fatalf("%d services and %d users, want %d and %d", a.services.Len(), len(a.users), b.services.Len(), len(b.users))
	}
}
