package health

import (
	"fmt"
	"strings"
	"time"

	"github.com/meridian-gslb/meridian/gslb"
)

// View answers gslb.HealthView from a Plan and the Observations: give it
// to gslb.NewSnapshot. It reads the verdicts at the moment the snapshot is
// built; a later change reaches DNS through the next snapshot, which the
// Observations' OnChange should trigger.
type View struct {
	plan *Plan
	obs  *Observations
	mon  *Monitor // optional: probe counts and errors for MemberDetail
	sig  *Signals // optional: load signals for gslb.LoadView
}

var (
	_ gslb.HealthView     = (*View)(nil)
	_ gslb.HealthDetailer = (*View)(nil)
	_ gslb.RTTView        = (*View)(nil)
	_ gslb.LoadView       = (*View)(nil)
)

// NewView joins a plan and a store.
func NewView(p *Plan, o *Observations) *View { return &View{plan: p, obs: o} }

// WithMonitor returns a copy of v whose MemberDetail also reports the
// local probes of m: consecutive counts, the last error, since when.
func (v *View) WithMonitor(m *Monitor) *View {
	c := *v
	c.mon = m
	return &c
}

// WithSignals returns a copy of v that answers gslb.LoadView from s.
func (v *View) WithSignals(s *Signals) *View {
	c := *v
	c.sig = s
	return &c
}

// MemberLoad implements gslb.LoadView: the highest of the member's
// readings (the freshest of each probed address, and Prometheus'), see
// combineLoad.
func (v *View) MemberLoad(service string, m *gslb.Member, maxAge time.Duration, now time.Time) (gslb.LoadSignal, bool) {
	if v == nil || v.sig == nil {
		return gslb.LoadSignal{}, false
	}
	var buf [4]gslb.LoadSignal
	sigs := buf[:0]
	if v.plan != nil {
		for _, k := range v.plan.MemberKeysOf(service, m) {
			if sig, ok := v.sig.Target(k); ok {
				sigs = append(sigs, sig)
			}
		}
	}
	if sig, ok := v.sig.memberOf(service, m); ok {
		sigs = append(sigs, sig)
	}
	return combineLoad(sigs, now, maxAge)
}

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
	for _, k := range v.plan.MemberKeysOf(service, m) {
		u, kn := v.obs.Verdict(k)
		if !kn {
			continue
		}
		known = true
		up = up && u
	}
	return up, known
}

// MemberRTT implements gslb.RTTView for the latency strategy: the
// smoothed round-trip time of this site's successful probes of the member
// (the slowest of its probed addresses, as one answer sends clients to
// all of them); unknown without a monitor or before a probe succeeded.
func (v *View) MemberRTT(service string, m *gslb.Member) (time.Duration, bool) {
	if v == nil || v.plan == nil || v.mon == nil {
		return 0, false
	}
	var worst time.Duration
	for _, k := range v.plan.MemberKeysOf(service, m) {
		worst = max(worst, v.mon.RTT(k))
	}
	return worst, worst > 0
}

// MemberDetail implements gslb.HealthDetailer for explain: one clause per
// probed address, such as
//
//	down since 12:01:02 UTC: refused: dial tcp 127.10.2.1:8080: connect: connection refused (3 failed probes in a row)
//	up since 12:00:58 UTC
//
// prefixed by the target ("127.10.2.1:8080/http ") when the member has
// more than one, and followed by the other sources' views when any
// reported. A member whose service has no check is "not checked".
func (v *View) MemberDetail(service string, m *gslb.Member) string {
	if v == nil || v.plan == nil {
		return "not checked"
	}
	keys := v.plan.MemberKeysOf(service, m)
	if err := v.plan.refused[service]; err != nil {
		return "not probed, answered as up: health check refused: " + oneLine(err)
	}
	if len(keys) == 0 {
		return "not checked"
	}
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		d := v.targetDetail(k)
		if len(keys) > 1 {
			d = v.plan.targets.m[k].Label() + " " + d
		}
		parts = append(parts, d)
	}
	return strings.Join(parts, "; ")
}

// targetDetail is one target's clause of MemberDetail.
func (v *View) targetDetail(k Key) string {
	var b strings.Builder
	st, probed := TargetStatus{}, false
	if v.mon != nil {
		st, probed = v.mon.TargetStatus(k)
	}
	up, known := true, false
	if v.obs != nil {
		up, known = v.obs.Verdict(k)
	}
	switch {
	case probed && st.State == StateDown:
		fmt.Fprintf(&b, "down since %s: %s", clock(st.Since), st.LastError)
		if st.Successes > 0 {
			fmt.Fprintf(&b, " (%d of %d successes to come back)", st.Successes, st.Rise)
		} else {
			fmt.Fprintf(&b, " (%d failed probes in a row)", st.Failures)
		}
	case probed && st.State == StateUp:
		fmt.Fprintf(&b, "up since %s", clock(st.Since))
		if st.Failures > 0 {
			fmt.Fprintf(&b, " (%d of %d failures to go down; last: %s)", st.Failures, st.Fall, st.LastError)
		}
	case probed:
		fmt.Fprintf(&b, "unknown (answered as up): %d ok, %d failed in a row; needs %d ok or %d failed", st.Successes, st.Failures, st.Rise, st.Fall)
		if st.LastError != "" {
			fmt.Fprintf(&b, "; last error: %s", st.LastError)
		}
	case known && up:
		b.WriteString("up")
	case known:
		b.WriteString("down")
	default:
		b.WriteString("unknown (answered as up)")
	}
	if v.obs == nil {
		return b.String()
	}
	// Other sources (other sites, Kubernetes readiness) and the verdict
	// they make together, when the local probe is not the whole story.
	obs := v.obs.Sources(k)
	if len(obs) > 1 || len(obs) == 1 && obs[0].Source != SourceLocalProbe {
		srcs := make([]string, 0, len(obs))
		for _, o := range obs {
			s := o.Source + " down"
			if o.Up {
				s = o.Source + " up"
			}
			srcs = append(srcs, s)
		}
		fmt.Fprintf(&b, " [sources: %s; rule %s: %s]", strings.Join(srcs, ", "), v.obs.Rule(), VerdictWord(up, known))
	}
	return b.String()
}

// VerdictWord is how explain and the health API write a verdict: "up",
// "down", or "unknown" before any probe has decided.
func VerdictWord(up, known bool) string {
	switch {
	case !known:
		return "unknown"
	case up:
		return "up"
	}
	return "down"
}

// clock is a time of day in UTC: explain reads "since 12:01:02 UTC"; a
// state older than a day also gets its date.
func clock(t time.Time) string {
	if t.IsZero() {
		return "start"
	}
	t = t.UTC()
	if time.Since(t) > 24*time.Hour {
		return t.Format("2006-01-02 15:04:05 UTC")
	}
	return t.Format("15:04:05 UTC")
}

// oneLine joins the lines of an error (errors.Join) with "; ".
func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }
