package health

import (
	"fmt"
	"time"
)

// State is what the rise/fall thresholds have made of a target's probes.
type State uint8

// The states. A target starts Unknown and never returns to it.
const (
	StateUnknown State = iota
	StateUp
	StateDown
)

func (s State) String() string {
	switch s {
	case StateUp:
		return "up"
	case StateDown:
		return "down"
	}
	return "unknown"
}

// MarshalText writes "up", "down" or "unknown".
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads the text form.
func (s *State) UnmarshalText(b []byte) error {
	switch string(b) {
	case "up":
		*s = StateUp
	case "down":
		*s = StateDown
	case "unknown":
		*s = StateUnknown
	default:
		return fmt.Errorf("health state %q: want up, down or unknown", b)
	}
	return nil
}

// tracker applies the rise/fall thresholds to a stream of probe results.
// Counting consecutive results (rather than k of the last n) is what
// HAProxy, Avi and gdnsd do; it makes a flapping backend, one that
// alternates, keep its current state as long as it never reaches rise
// successes or fall failures in a row.
type tracker struct {
	state     State
	since     time.Time // when state was entered (for Unknown: when the target was added)
	successes int       // consecutive, reset by a failure
	failures  int       // consecutive, reset by a success
}

// observe records one probe result at time at and reports whether the
// state changed.
func (t *tracker) observe(ok bool, at time.Time, rise, fall int) bool {
	if ok {
		t.successes++
		t.failures = 0
		if t.state != StateUp && t.successes >= rise {
			t.state, t.since = StateUp, at
			return true
		}
		return false
	}
	t.failures++
	t.successes = 0
	if t.state != StateDown && t.failures >= fall {
		t.state, t.since = StateDown, at
		return true
	}
	return false
}
