package gslb

import (
	"testing"
	"time"
)

// rttByAddr is an RTTView from each member's first address.
type rttByAddr map[string]time.Duration

func (r rttByAddr) MemberRTT(_ string, m *Member) (time.Duration, bool) {
	d, ok := r[m.Addresses[0].String()]
	return d, ok
}

func latencyState() *State {
	st := testState()
	st.Services = append(st.Services, Service{Name: "lat.gslb.example.", Policy: Policy{Strategy: StrategyLatency}, Members: []Member{
		{Site: "us-east", Addresses: ips("192.0.2.40"), Weight: 1},
		{Site: "eu-west", Addresses: ips("198.51.100.40"), Weight: 1},
		{Site: "ap-south", Addresses: ips("203.0.113.40"), Weight: 1},
	}})
	st.ApplyDefaults()
	return st
}

func TestLatencyStrategy(t *testing.T) {
	s := snapshot(t, latencyState(), nil)
	if s.Service("lat.gslb.example.").Policy.LatencyTieMs != DefaultLatencyTieMs {
		t.Fatalf("default tie: %d", s.Service("lat.gslb.example.").Policy.LatencyTieMs)
	}
	answers := func(s *Snapshot, n int) map[string]int {
		got := map[string]int{}
		for i := range n {
			qq := q("lat.gslb.example.", TypeA, "81.2.69.0/24")
			qq.Rand = uint64(i) * 0x9e3779b97f4a7c15
			a := Select(s, qq)
			if a.ScopePrefix != 0 {
				t.Fatalf("latency answer with ECS scope /%d", a.ScopePrefix)
			}
			got[a.Addrs()[0].String()]++
		}
		return got
	}
	// Nothing measured yet: every candidate, as weighted.
	if got := answers(s, 300); len(got) != 3 {
		t.Errorf("unmeasured: %v, want all three", got)
	}
	if a := Select(s, q("lat.gslb.example.", TypeA, "81.2.69.0/24")); a.Reason.Rule != RuleLatencyUnmeasured {
		t.Errorf("unmeasured rule %s", a.Reason.Rule)
	}
	// The fastest answers, wherever the client is; within the tie band,
	// both; unmeasured members wait.
	rtt := rttByAddr{"192.0.2.40": 30 * time.Millisecond, "198.51.100.40": 8 * time.Millisecond}
	s2 := s.WithRTT(rtt, []string{"lat.gslb.example."})
	if got := answers(s2, 100); got["198.51.100.40"] != 100 {
		t.Errorf("eu-west 8 ms, us-east 30 ms: %v", got)
	}
	rtt["192.0.2.40"] = 12 * time.Millisecond // within 5 ms of 8
	s3 := s2.WithRTT(rtt, []string{"lat.gslb.example."})
	if got := answers(s3, 400); got["192.0.2.40"] < 100 || got["198.51.100.40"] < 100 || got["203.0.113.40"] != 0 {
		t.Errorf("8 and 12 ms tie within 5 ms: %v", got)
	}
	// The old snapshot is unchanged (immutable), and explain says why.
	if got := answers(s2, 50); got["198.51.100.40"] != 50 {
		t.Errorf("WithRTT changed its receiver: %v", got)
	}
	a, tr := Explain(s2, q("lat.gslb.example.", TypeA, "81.2.69.0/24"))
	if a.Reason.Rule != RuleLatency {
		t.Errorf("rule %s", a.Reason.Rule)
	}
	for _, m := range tr.Members {
		switch m.Site {
		case "eu-west":
			if m.RTTMs == nil || *m.RTTMs != 8 || m.Verdict != "answered" {
				t.Errorf("eu-west in explain: %+v", m)
			}
		case "us-east":
			if m.RTTMs == nil || *m.RTTMs != 30 || m.Verdict != "slower" {
				t.Errorf("us-east in explain: %+v", m)
			}
		case "ap-south":
			if m.RTTMs != nil || m.Verdict != "slower" {
				t.Errorf("ap-south (unmeasured) in explain: %+v", m)
			}
		}
	}
	// Health still comes first: the fastest member down, the next one.
	down := snapshot(t, latencyState(), health{"lat.gslb.example. eu-west/198.51.100.40": true}).WithRTT(rtt, []string{"lat.gslb.example."})
	if got := answers(down, 50); got["192.0.2.40"] != 50 {
		t.Errorf("eu-west down: %v", got)
	}
	qq := q("lat.gslb.example.", TypeA, "81.2.69.0/24")
	if n := testing.AllocsPerRun(200, func() { Select(s3, qq) }); n != 0 {
		t.Errorf("%v allocs per latency answer", n)
	}
}

func TestLatencyTieValidation(t *testing.T) {
	p := Policy{Strategy: StrategyLatency, LatencyTieMs: MaxLatencyTieMs + 1}
	p.ApplyDefaults()
	if err := p.Validate(nil); err == nil || err.Error() != "latency_tie_ms: must be at most 10000, got 10001" {
		t.Errorf("got %v", err)
	}
}
