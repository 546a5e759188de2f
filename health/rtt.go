package health

import "time"

// rttWeight is the weight of a new sample in a target's round-trip time
// average: an exponentially weighted moving average over successful
// probes, as Cloudflare's dynamic steering keeps per pool. A quarter
// follows a lasting change within a few probes (after 5 probes 76% of
// it) while one slow probe moves the average by a quarter of its excess.
const rttWeight = 0.25

// rtt is the smoothed duration of a target's successful probes: from this
// site, the time to reach the member and hear back, which is what a
// latency decision compares. Failed probes are not samples: their
// duration is a timeout or a refusal, not the path's.
type rtt struct {
	avg     time.Duration
	samples uint64
}

// RTT is target k's smoothed round-trip time (0 before a probe
// succeeded): what the latency strategy reads, without building the
// target's whole status.
func (m *Monitor) RTT(k Key) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t, ok := m.targets[k]; ok {
		return t.rtt.avg
	}
	return 0
}

func (r *rtt) observe(d time.Duration) {
	if r.samples == 0 {
		r.avg = d
	} else {
		r.avg += time.Duration(rttWeight * float64(d-r.avg))
	}
	r.samples++
}
