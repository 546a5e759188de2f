package health

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/meridian-gslb/meridian/gslb"
)

// PlanOptions say how a gslb.State's services are checked. The zero
// value probes what the State says: each service's HealthCheck, each
// member at its ProbeAddress or addresses and its ProbePort or the
// check's port.
type PlanOptions struct {
	// Check returns the health check of a service, or false when it has
	// none: its members are not probed and stay unknown, which answers as
	// up. nil means the service's own gslb.Service.HealthCheck. An
	// HTTP(S) check without Host gets the service name (without the final
	// dot) as Host header and SNI, so the backend's virtual host routing
	// sees what a client would send.
	Check func(svc *gslb.Service) (Check, bool)
	// ProbeAddr, if set, maps a member address to where it is probed: a
	// member behind NAT answers its public VIP in DNS but is probed at a
	// private address or port. An invalid result means "not probed"; a
	// zero port means the check's port. nil probes each address itself at
	// the member's ProbePort, or else the check's port.
	//
	// A member with a valid gslb.Member.ProbeAddress is probed there
	// instead of at each of its addresses (a hostname member only that
	// way); ProbeAddr then receives the ProbeAddress as addr.
	ProbeAddr func(svc *gslb.Service, m *gslb.Member, addr netip.Addr) netip.AddrPort
}

// Plan is what to probe for one State, and which targets stand for which
// member. Build one per published State; it is immutable.
type Plan struct {
	targets  map[Key]Target
	members  map[memberRef][]Key
	services map[Key][]string
}

// memberRef names a member within its service.
type memberRef struct{ service, member string }

// NewPlan lists the targets of every checked member of st: each member
// address, probed with its service's check. Members that share an
// address, a port and an identical check share one target. A service with
// an invalid check is skipped (its members stay unknown) and reported in
// the returned error; the plan is usable either way.
func NewPlan(st *gslb.State, opts PlanOptions) (*Plan, error) {
	p := &Plan{
		targets:  make(map[Key]Target),
		members:  make(map[memberRef][]Key),
		services: make(map[Key][]string),
	}
	if st == nil {
		return p, nil
	}
	var errs []error
	for i := range st.Services {
		svc := &st.Services[i]
		var c Check
		var ok bool
		if opts.Check != nil {
			c, ok = opts.Check(svc)
		} else {
			var err error
			if c, ok, err = SpecChecks(svc); err != nil {
				errs = append(errs, fmt.Errorf("service %s: health check: %w", svc.Name, err))
			}
		}
		if !ok {
			continue
		}
		if kind := Kind(strings.ToLower(string(c.Kind))); (kind == KindHTTP || kind == KindHTTPS) && c.Host == "" {
			c.Host = strings.TrimSuffix(svc.Name, ".")
		}
		if err := p.addService(svc, c, opts.ProbeAddr); err != nil {
			errs = append(errs, fmt.Errorf("service %s: health check: %w", svc.Name, err))
		}
	}
	return p, errors.Join(errs...)
}

func (p *Plan) addService(svc *gslb.Service, c Check, probeAddr func(*gslb.Service, *gslb.Member, netip.Addr) netip.AddrPort) error {
	// Validate once per service, not once per address.
	probe := c
	probe.Defaults()
	if err := probe.Validate(); err != nil {
		return err
	}
	for j := range svc.Members {
		m := &svc.Members[j]
		ref := memberRef{svc.Name, m.ID()}
		addrs := m.Addresses
		if m.ProbeAddress.IsValid() {
			addrs = []netip.Addr{m.ProbeAddress}
		}
		for _, a := range addrs {
			ap := netip.AddrPortFrom(a, m.ProbePort)
			if probeAddr != nil {
				ap = probeAddr(svc, m, a)
			}
			if !ap.Addr().IsValid() {
				continue
			}
			t, err := NewTarget(ap.Addr(), ap.Port(), c)
			if err != nil {
				return err
			}
			k := t.Key()
			p.targets[k] = t
			if !slices.Contains(p.members[ref], k) {
				p.members[ref] = append(p.members[ref], k)
			}
			if !slices.Contains(p.services[k], svc.Name) {
				p.services[k] = append(p.services[k], svc.Name)
			}
		}
	}
	return nil
}

// Targets is every distinct target, for Monitor.SetTargets. The map is the
// plan's own: do not modify it.
func (p *Plan) Targets() map[Key]Target { return p.targets }

// MemberKeys returns the targets that stand for a member (one per probed
// address), or nil when it is not probed.
func (p *Plan) MemberKeys(service, memberID string) []Key {
	return p.members[memberRef{service, memberID}]
}

// Services returns the names of the services that use any of keys, sorted
// and without repeats: what to recompile when their verdicts change.
func (p *Plan) Services(keys []Key) []string {
	var out []string
	for _, k := range keys {
		out = append(out, p.services[k]...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
