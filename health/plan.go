package health

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

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
// member. Build the first with NewPlan and each next one with Next, which
// shares what did not change; a Plan is immutable.
type Plan struct {
	// state is what the plan was made from: Next compares the next
	// State with it.
	state *gslb.State
	// targets are the distinct targets. Next shares them with the plan
	// before when no target came or went, so the monitor's SetTargets
	// can be skipped (SameTargets).
	targets targetSet
	// services holds each probed service's members and their targets;
	// a service without check (or refused) has none.
	services *gslb.SharedMap[*servicePlan]
	// users are the services that use each target: what to recompile
	// when its verdict changes. len(users[k]) counts the target's users.
	users map[Key][]string
	// refused holds the services whose check gslb's rule refused, with
	// the reason: they are not probed.
	refused map[string]error
}

// targetSet is a plan's targets; id tells one set from another without
// comparing them (Plan.SameTargets).
type targetSet struct {
	m  map[Key]Target
	id *int
}

func newTargetSet(m map[Key]Target) targetSet { return targetSet{m: m, id: new(int)} }

// servicePlan is the targets of one service's members, in one slice: the
// targets of member i are keys[members[i].from:members[i].to].
type servicePlan struct {
	members []memberKeys
	keys    []Key
	// byID indexes members by ID for MemberKeysOf, built at the first
	// lookup of a service with more than indexFrom members: the load and
	// latency refreshes ask for every member twice a second, and a scan
	// each would cost the square of the members.
	indexOnce sync.Once
	byID      map[string]int32
}

// indexFrom is the most members MemberKeysOf scans without an index.
const indexFrom = 16

type memberKeys struct {
	id       string // gslb.Member.ID
	from, to int32
}

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
	if st == nil {
		st = &gslb.State{}
	}
	p := &Plan{
		state:    st,
		targets:  newTargetSet(make(map[Key]Target)),
		services: &gslb.SharedMap[*servicePlan]{},
		users:    make(map[Key][]string),
		refused:  make(map[string]error),
	}
	var errs []error
	pl := planner{opts: opts}
	var pc gslb.Pacer
	for i := range st.Services {
		pc.Step()
		svc := &st.Services[i]
		sp, err := pl.plan(svc, func(t Target) {
			if _, ok := p.targets.m[t.key]; !ok {
				p.targets.m[t.key] = t
			}
		})
		p.add(svc.Name, sp, err)
		if err != nil {
			errs = append(errs, fmt.Errorf("service %s: health check: %w", svc.Name, err))
		}
	}
	opts.Metrics.setRefused(len(p.refused))
	return p, errors.Join(errs...)
}

// add records the plan of service name (nil: not probed), or why its
// check was refused. Its targets are in p.targets already.
func (p *Plan) add(name string, sp *servicePlan, err error) {
	if err != nil {
		p.refused[name] = err
	}
	if sp == nil {
		return
	}
	p.services.Set(name, sp)
	for _, k := range sp.distinctKeys() {
		p.users[k] = append(p.users[k], name)
	}
}

// distinctKeys are the service's targets without repeats, in order of
// first use.
func (sp *servicePlan) distinctKeys() []Key {
	out := sp.keys
	for i, k := range sp.keys {
		if slices.Contains(sp.keys[:i], k) {
			// Rare (two members probed at one address): copy.
			out = nil
			for _, k := range sp.keys {
				if !slices.Contains(out, k) {
					out = append(out, k)
				}
			}
			break
		}
	}
	return out
}

// planner compiles the services' checks, remembering the last one: in a
// large State most services share one check (a default_check), which is
// then compiled and hashed once, not once per service or member.
type planner struct {
	opts PlanOptions
	last struct {
		raw   *gslb.HealthCheck // the service's own check it came from
		check Check
		err   error
		fps   map[uint16][2]Fingerprint // key and probe fingerprints by port
	}
}

// plan compiles svc's check and makes the targets of its members, each
// passed to add. nil: svc is not probed.
func (pl *planner) plan(svc *gslb.Service, add func(Target)) (*servicePlan, error) {
	c, ok, err := pl.checkOf(svc)
	if !ok {
		return nil, err
	}
	n := 0
	for j := range svc.Members {
		if svc.Members[j].ProbeAddress.IsValid() {
			n++
		} else {
			n += len(svc.Members[j].Addresses)
		}
	}
	sp := &servicePlan{members: make([]memberKeys, len(svc.Members)), keys: make([]Key, 0, n)}
	for j := range svc.Members {
		m := &svc.Members[j]
		mk := memberKeys{id: m.ID(), from: int32(len(sp.keys))}
		addrs := m.Addresses
		if m.ProbeAddress.IsValid() {
			addrs = []netip.Addr{m.ProbeAddress}
		}
		for _, a := range addrs {
			ap := netip.AddrPortFrom(a, m.ProbePort)
			if pl.opts.ProbeAddr != nil {
				ap = pl.opts.ProbeAddr(svc, m, a)
			}
			if !ap.Addr().IsValid() {
				continue
			}
			// A member's probe port changes only the port, which the
			// rule accepts whatever it is: nothing is compiled again.
			tc := c
			if ap.Port() != 0 {
				tc.Port = ap.Port()
			}
			t := pl.target(ap.Addr(), tc)
			if !slices.Contains(sp.keys[mk.from:], t.key) {
				sp.keys = append(sp.keys, t.key)
			}
			add(t)
		}
		mk.to = int32(len(sp.keys))
		sp.members[j] = mk
	}
	return sp, nil
}

// checkOf compiles the check of svc: its own, or PlanOptions.Check's.
// ok is false when it has none or it was refused (err).
func (pl *planner) checkOf(svc *gslb.Service) (c Check, ok bool, err error) {
	if pl.opts.Check != nil {
		c, ok := pl.opts.Check(svc)
		if !ok {
			return Check{}, false, nil
		}
		spec := c.Spec()
		withCheck := *svc
		withCheck.HealthCheck = &spec
		svc = &withCheck
	} else if pl.last.raw != nil && pl.last.raw.Equal(svc.HealthCheck) && !hostFromName(svc.HealthCheck) {
		return pl.last.check, pl.last.err == nil, pl.last.err
	}
	spec := svc.ProbeHealthCheck()
	if !spec.Probes() {
		// Kind none: nothing is probed and the members answer as up, as
		// without a check. No target per member: at 100k services, one
		// each (with its prober and metric series) took 6 GB (issue 10).
		return Check{}, false, nil
	}
	c, err = Compile(spec)
	if pl.opts.Check == nil {
		pl.last.raw, pl.last.check, pl.last.err, pl.last.fps = svc.HealthCheck, c, err, nil
	}
	return c, err == nil, err
}

// hostFromName: the probe spec of h depends on the service's name
// (gslb.Service.ProbeHealthCheck), so it cannot be shared.
func hostFromName(h *gslb.HealthCheck) bool {
	k := gslb.CheckKind(h.Kind)
	return (k == gslb.CheckHTTP || k == gslb.CheckHTTPS) && strings.TrimSpace(h.Host) == ""
}

// target is compiledTarget(addr, c), with the fingerprints of the last
// check remembered by port.
func (pl *planner) target(addr netip.Addr, c Check) Target {
	if pl.opts.Check != nil || pl.last.raw == nil {
		return compiledTarget(addr, c)
	}
	fp, ok := pl.last.fps[c.Port]
	if !ok {
		t := compiledTarget(addr, c)
		if pl.last.fps == nil {
			pl.last.fps = map[uint16][2]Fingerprint{}
		}
		pl.last.fps[c.Port] = [2]Fingerprint{t.key.Check, t.probe}
		return t
	}
	a := addr.Unmap()
	return Target{Addr: a, Port: c.Port, Check: c, key: Key{Addr: a, Port: c.Port, Check: fp[0]}, probe: fp[1]}
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
func (p *Plan) Targets() map[Key]Target { return p.targets.m }

// MemberKeys returns the targets that stand for a member (one per probed
// address), or nil when it is not probed.
func (p *Plan) MemberKeys(service, memberID string) []Key {
	sp, _ := p.services.Get(service)
	if sp == nil {
		return nil
	}
	for _, mk := range sp.members {
		if mk.id == memberID {
			return sp.memberKeys(mk)
		}
	}
	return nil
}

// index builds byID.
func (sp *servicePlan) index() {
	sp.byID = make(map[string]int32, len(sp.members))
	for i, mk := range sp.members {
		if _, dup := sp.byID[mk.id]; !dup { // the first, as the scan finds
			sp.byID[mk.id] = int32(i)
		}
	}
}

// memberKeys returns mk's targets, nil for none.
func (sp *servicePlan) memberKeys(mk memberKeys) []Key {
	if mk.from == mk.to {
		return nil
	}
	return sp.keys[mk.from:mk.to:mk.to]
}

// MemberKeysOf is MemberKeys for a member itself, without building its
// ID (the API's index reads it for every member of 100k services).
func (p *Plan) MemberKeysOf(service string, m *gslb.Member) []Key {
	sp, _ := p.services.Get(service)
	if sp == nil {
		return nil
	}
	if len(sp.members) > indexFrom {
		sp.indexOnce.Do(sp.index)
		var buf [64]byte
		if i, ok := sp.byID[string(m.AppendID(buf[:0]))]; ok {
			return sp.memberKeys(sp.members[i])
		}
		return nil
	}
	for _, mk := range sp.members {
		if m.HasID(mk.id) {
			return sp.memberKeys(mk)
		}
	}
	return nil
}

// Services returns the names of the services that use any of keys, sorted
// and without repeats: what to recompile when their verdicts change.
func (p *Plan) Services(keys []Key) []string {
	var out []string
	for _, k := range keys {
		out = append(out, p.users[k]...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
