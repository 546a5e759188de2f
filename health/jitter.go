package health

import (
	"math/rand/v2"
	"time"

	"github.com/meridian-gslb/meridian/gslb"
)

// Jitter spreads a target's probes in time: a fraction of the interval or
// a fixed duration, gslb's (its text form and limits belong to the
// health-check rule).
//
// Each wait between two probes of a target is interval + u, with u uniform
// in [-J/2, +J/2) and J the jitter amount; the mean interval stays the
// configured one. A new target's first probe waits uniform [0, J), so a
// verdict comes quickly but a thousand new targets do not fire at once.
type Jitter = gslb.Jitter

// nextWait is the wait before the next probe: interval ± J/2.
func nextWait(interval, j time.Duration) time.Duration {
	if j <= 0 {
		return interval
	}
	return interval - j/2 + rand.N(j)
}

// fastJitter is the jitter amount of the fast re-probe: j's rule applied
// to the fast interval, capped at half of it so that every wait stays at
// least fast/2 however large a duration jitter is.
func fastJitter(j Jitter, fast time.Duration) time.Duration {
	return min(j.Amount(fast), fast/2)
}

// firstWait is the wait before a new target's first probe: [0, J).
func firstWait(j time.Duration) time.Duration {
	if j <= 0 {
		return 0
	}
	return rand.N(j)
}
