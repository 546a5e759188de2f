package gslb

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
)

// Policy.Validate names fields relative to the policy; State.Validate
// reports the same problems under services[i].policy.
func TestPolicyValidate(t *testing.T) {
	pol := Policy{
		Strategy:    StrategyTopology,
		MinUp:       -1,
		Persistence: Persistence{Mask: Mask{IPv4: 40}},
		Down:        DownResponse{Type: DownFallback},
		Topology:    []TopologyRule{{Countries: []string{"ie"}, Sites: []string{"a", "moon"}}},
	}
	pol.ApplyDefaults()
	var got []string
	for _, fe := range FieldErrors(pol.Validate(map[string]bool{"a": true})) {
		got = append(got, fe.Error())
	}
	want := []string{
		"min_up: must be at least 1, got -1",
		"persistence.mask.ipv4: must be between 0 and 32, got 40",
		`down_response.addresses: type "fallback" needs at least one address`,
		`topology[0].sites[1]: unknown site "moon"`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("Policy.Validate:\n got %q\nwant %q", got, want)
	}

	st := State{
		Zones: []Zone{{Name: "z.example.", NameServers: []NameServer{{Name: "ns.other.example."}}}},
		Sites: []Site{{Name: "a"}},
		Services: []Service{{Name: "s.z.example.", Policy: pol.Clone(),
			Members: []Member{{Site: "a", Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.1")}, Weight: 1}}}},
	}
	st.ApplyDefaults()
	var inState []string
	for _, fe := range FieldErrors(st.Validate()) {
		inState = append(inState, fe.Error())
	}
	for i := range want {
		want[i] = "services[0].policy." + want[i]
	}
	if !slices.Equal(inState, want) {
		t.Errorf("State.Validate:\n got %q\nwant %q", inState, want)
	}
}

func TestPolicyCloneIsDeep(t *testing.T) {
	p := Policy{Topology: []TopologyRule{{Sites: []string{"a"}, CIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}},
		Down: DownResponse{Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.1")}}}
	c := p.Clone()
	c.Topology[0].Sites[0], c.Topology[0].CIDRs[0], c.Down.Addresses[0] = "b", netip.Prefix{}, netip.Addr{}
	if p.Topology[0].Sites[0] != "a" || !p.Topology[0].CIDRs[0].IsValid() || !p.Down.Addresses[0].IsValid() {
		t.Errorf("Clone shares memory with the original: %+v", p)
	}
}

func TestCheckWeights(t *testing.T) {
	m := func(w uint32) Member { return Member{Weight: w} }
	for _, tc := range []struct {
		members []Member
		want    error
	}{
		{nil, nil},
		{[]Member{m(0), m(1)}, nil},
		{[]Member{m(0)}, ErrEveryMemberDrained},
		{[]Member{m(0), m(0)}, ErrEveryMemberDrained},
	} {
		if got := CheckWeights(tc.members); !errors.Is(got, tc.want) {
			t.Errorf("CheckWeights(%v) = %v, want %v", tc.members, got, tc.want)
		}
	}
}

func TestCheckKind(t *testing.T) {
	for in, want := range map[string]string{"": CheckTCP, " HTTPS ": CheckHTTPS, "None": CheckNone} {
		if got := CheckKind(in); got != want {
			t.Errorf("CheckKind(%q) = %q, want %q", in, got, want)
		}
	}
	var none *HealthCheck
	if none.Probes() || (&HealthCheck{Kind: "NONE"}).Probes() || !(&HealthCheck{}).Probes() {
		t.Error("Probes: want false for nil and kind none, true for the default kind")
	}
}
