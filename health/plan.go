package health

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/meridian-gslb/meridian/gslb"
)

// PlanOptions say how a gslb.State's services are checked. The zero
// value probes what the State says: each service's HealthCheck, each
// member at its ProbeAddress or addresses and its ProbePort or the
// check's port.
type PlanOptions struct {
	// Check returns the health check of a service, or false when it has
	// none: its members are not probed and stay unknown, which answers as
	// up. nil means the service's own gslb.Service.HealthCheck. Either
	// way the check is compiled with gslb's rule (see Compile), an
	// HTTP(S) check without Host getting the service name
	// (gslb.Service.ProbeHealthCheck).
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
	// Metrics, if set, counts the services whose check was refused
	// (meridian_health_checks_refused).
	Metrics *Metrics
}

// Plan is what to probe for one State, and which targets stand for which
// member. Build one per published State; it is immutable.
type Plan struct {
	targets  map[Key]Target
	members  map[memberRef][]Key
	services map[Key][]string
	// refused holds the services whose check gslb's rule refused, with
	// the reason: they are not probed.
	refused map[string]error
}

// memberRef names a member within its service.
type memberRef struct{ service, member string }

// NewPlan lists the targets of every checked member of st: each member
// address, probed with its service's check. Members that share an
// address, a port and an identical check share one target.
//
// A service whose check gslb's rule refuses cannot be probed. That is
// unreachable for a State that passed gslb.State.Validate (which applies
// the same rule), so it is a bug upstream, and loud: every such service is
// in the returned error, in Refused, in MemberDetail (explain) and in the
// meridian_health_checks_refused gauge. Its members have no target, so no
// verdict: they answer as up (like members of a service without check),
// which keeps a service answering rather than silently dropping it. The
// plan is usable either way.
func NewPlan(st *gslb.State, opts PlanOptions) (*Plan, error) {
	p := &Plan{
		targets:  make(map[Key]Target),
		members:  make(map[memberRef][]Key),
		services: make(map[Key][]string),
		refused:  make(map[string]error),
	}
	var errs []error
	if st != nil {
		for i := range st.Services {
			svc := &st.Services[i]
			c, ok, err := checkOf(svc, opts.Check)
			if ok {
				p.addService(svc, c, opts.ProbeAddr)
			}
			if err != nil {
				p.refused[svc.Name] = err
				errs = append(errs, fmt.Errorf("service %s: health check: %w", svc.Name, err))
			}
		}
	}
	opts.Metrics.setRefused(len(p.refused))
	return p, errors.Join(errs...)
}

// checkOf compiles the check of svc: its own, or custom's.
func checkOf(svc *gslb.Service, custom func(*gslb.Service) (Check, bool)) (Check, bool, error) {
	if custom != nil {
		c, ok := custom(svc)
		if !ok {
			return Check{}, false, nil
		}
		spec := c.Spec()
		withCheck := *svc
		withCheck.HealthCheck = &spec
		svc = &withCheck
	}
	spec := svc.ProbeHealthCheck()
	if spec == nil {
		return Check{}, false, nil
	}
	c, err := Compile(spec)
	return c, err == nil, err
}

// addService adds the targets of every member of svc, probed with c (a
// compiled check). A member's probe port changes only the port, which the
// rule accepts whatever it is: nothing is compiled again per address.
func (p *Plan) addService(svc *gslb.Service, c Check, probeAddr func(*gslb.Service, *gslb.Member, netip.Addr) netip.AddrPort) {
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
			tc := c
			if ap.Port() != 0 {
				tc.Port = ap.Port()
			}
			t := compiledTarget(ap.Addr(), tc)
			k := t.Key()
			p.targets[k] = t
			if !slices.Contains(p.members[ref], k) {
				p.members[ref] = append(p.members[ref], k)
			}
			// A service's targets are all added here, one service after
			// another, so the name can only repeat at the end of the
			// list: checking the last entry keeps a target shared by
			// every service (one tcp check on shared VIPs) linear, where
			// a search of the whole list was quadratic (issue 10: ~100 s
			// at 100k services).
			if names := p.services[k]; len(names) == 0 || names[len(names)-1] != svc.Name {
				p.services[k] = append(names, svc.Name)
			}
		}
	}
}

// Refused returns the names of the services whose check was refused
// (see NewPlan), sorted.
func (p *Plan) Refused() []string {
	out := make([]string, 0, len(p.refused))
	for name := range p.refused {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
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
