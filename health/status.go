package health

import (
	"cmp"
	"slices"
	"time"
)

// TargetStatus is one target as the status list shows it: the body of the
// future /api/v1/health.
type TargetStatus struct {
	Key    Key    `json:"key"`
	Target string `json:"target"` // "addr:port/kind"
	Kind   Kind   `json:"kind"`
	State  State  `json:"state"`
	// Since is when State was entered; for unknown, when the target was
	// added.
	Since     time.Time `json:"since"`
	Successes int       `json:"consecutive_successes"`
	Failures  int       `json:"consecutive_failures"`
	Probes    uint64    `json:"probes"`
	Skipped   uint64    `json:"skipped_ticks"`
	LastProbe time.Time `json:"last_probe,omitzero"`
	// LastLatency is the last probe's duration, successful or not.
	LastLatency time.Duration `json:"-"`
	LatencyMS   float64       `json:"last_latency_ms"`
	// RTT is the smoothed duration of the successful probes from this
	// site (rtt.go); 0 before the first success.
	RTT   time.Duration `json:"-"`
	RTTMS float64       `json:"rtt_ms"`
	// LastError is the last failure, kept after the target recovers so an
	// operator can see why it went down; LastErrorAt says when.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	LastReason  Reason    `json:"last_reason,omitempty"`
	// Load is the member's load as the last probe that read one found it
	// (the check's load_from), LoadAt when; nil before the first.
	// LoadError is why the latest probe could not read it, cleared by a
	// probe that can; the target stays up either way.
	Load      *float64  `json:"load,omitempty"`
	LoadAt    time.Time `json:"load_at,omitzero"`
	LoadError string    `json:"load_error,omitempty"`
	Interval  Duration  `json:"interval"`
	// FastInterval: the re-probe interval while the target is in doubt.
	FastInterval Duration `json:"fast_interval"`
	Rise         int      `json:"rise"`
	Fall         int      `json:"fall"`
}

// Duration is a time.Duration written as text ("1.5s") in JSON.
type Duration time.Duration

// MarshalText writes time.Duration's String.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads a time.ParseDuration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = Duration(v)
	return err
}

// Status lists every target, sorted by address, port and check.
func (m *Monitor) Status() []TargetStatus {
	m.mu.Lock()
	out := make([]TargetStatus, 0, len(m.targets))
	for _, t := range m.targets {
		out = append(out, t.statusLocked())
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b TargetStatus) int {
		return cmp.Or(compareKeys(a.Key, b.Key), cmp.Compare(a.Target, b.Target))
	})
	return out
}

// TargetStatus returns one target's status.
func (m *Monitor) TargetStatus(k Key) (TargetStatus, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.targets[k]
	if !ok {
		return TargetStatus{}, false
	}
	return t.statusLocked(), true
}

func (t *target) statusLocked() TargetStatus {
	var load *float64
	if t.loadOK {
		v := t.load
		load = &v
	}
	return TargetStatus{
		Key:          t.key,
		Target:       t.label,
		Kind:         t.Check.Kind,
		State:        t.tr.state,
		Since:        t.tr.since,
		Successes:    t.tr.successes,
		Failures:     t.tr.failures,
		Probes:       t.probes,
		Skipped:      t.skipped,
		LastProbe:    t.lastProbe,
		LastLatency:  t.lastLatency,
		LatencyMS:    float64(t.lastLatency.Microseconds()) / 1000,
		RTT:          t.rtt.avg,
		RTTMS:        float64(t.rtt.avg.Microseconds()) / 1000,
		LastError:    t.lastErr,
		LastErrorAt:  t.lastErrAt,
		LastReason:   t.lastReason,
		Load:         load,
		LoadAt:       t.loadAt,
		LoadError:    t.loadErr,
		Interval:     Duration(t.Check.Interval),
		FastInterval: Duration(t.Check.FastInterval),
		Rise:         t.Check.Rise,
		Fall:         t.Check.Fall,
	}
}
