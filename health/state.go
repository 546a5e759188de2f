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

// inDoubt reports whether the last results point to a state the target is
// not in and that changes the answers: failures short of fall while up or
// unknown (both answer), successes short of rise while down. An unknown
// target's successes are not doubt: it answers already, and re-probing
// every new target quickly would double the probes of a server's start.
// The Monitor re-probes a target in doubt at the check's FastInterval, so
// the verdict takes fall (or rise) quick probes rather than as many
// intervals. Only a target in doubt is probed that often: one
// that stays up or down, however long, is probed every interval, and a
// flapping one returns to the interval at each result that agrees with
// its state.
func (t *tracker) inDoubt() bool {
	return t.failures > 0 && t.state != StateDown || t.successes > 0 && t.state == StateDown
}
