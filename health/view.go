package health

import "github.com/meridian-gslb/meridian/gslb"

// View answers gslb.HealthView from a Plan and the Observations: give it
// to gslb.NewSnapshot. It reads the verdicts at the moment the snapshot is
// built; a later change reaches DNS through the next snapshot, which the
// Observations' OnChange should trigger.
type View struct {
	plan *Plan
	obs  *Observations
}

var _ gslb.HealthView = (*View)(nil)

// NewView joins a plan and a store.
func NewView(p *Plan, o *Observations) *View { return &View{plan: p, obs: o} }

// MemberUp is the member's health: known when at least one of its probed
// addresses has a verdict, up unless one of those verdicts is down. A
// dual-stack member with a dead IPv6 VIP is down for both families,
// because gslb keeps one health bit per member; answering the dead address
// would send clients to it.
func (v *View) MemberUp(service string, m *gslb.Member) (up, known bool) {
	if v == nil || v.plan == nil || v.obs == nil {
		return true, false
	}
	up = true
	for _, k := range v.plan.MemberKeys(service, m.ID()) {
		u, kn := v.obs.Verdict(k)
		if !kn {
			continue
		}
		known = true
		up = up && u
	}
	return up, known
}
