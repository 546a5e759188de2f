package health

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Jitter spreads probes in time so that targets added together (a whole
// snapshot at start-up) do not stay in lock-step, which would make every
// backend and the prober's own CPU see bursts once per interval.
//
// It is either a fraction of the interval (Fraction 0.1 = 10%) or a fixed
// Duration; Off turns it off explicitly (the zero value means "unset" and
// gets the 10% default). Its text form is "10%", "0.1", "250ms" or "0".
//
// Each wait between two probes of a target is interval + u, with u uniform
// in [-J/2, +J/2) and J the jitter amount; the mean interval stays the
// configured one. A new target's first probe waits uniform [0, J), so a
// verdict comes quickly but a thousand new targets do not fire at once.
type Jitter struct {
	Fraction float64
	Duration time.Duration
	Off      bool
}

// IsZero reports whether the jitter is unset.
func (j Jitter) IsZero() bool { return j == Jitter{} }

// Amount is the jitter J for a given interval.
func (j Jitter) Amount(interval time.Duration) time.Duration {
	switch {
	case j.Off:
		return 0
	case j.Duration > 0:
		return j.Duration
	default:
		return time.Duration(j.Fraction * float64(interval))
	}
}

// check returns a problem of j for the interval, or "".
func (j Jitter) check(interval time.Duration) string {
	switch {
	case j.Fraction != 0 && j.Duration != 0:
		return "set a fraction or a duration, not both"
	case j.Fraction < 0 || j.Fraction >= 1:
		return fmt.Sprintf("fraction must be in [0, 1), got %g", j.Fraction)
	case j.Duration < 0 || j.Duration >= interval:
		return fmt.Sprintf("must be less than interval (%v), got %v", interval, j.Duration)
	}
	return ""
}

// ParseJitter reads "10%", "0.1", "250ms", or "0" / "off" / "none".
func ParseJitter(s string) (Jitter, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "0", "0%", "0s", "off", "none":
		return Jitter{Off: true}, nil
	case "":
		return Jitter{}, nil
	}
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return Jitter{}, fmt.Errorf("jitter %q: want a percentage, fraction or duration", s)
		}
		return Jitter{Fraction: f / 100}, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return Jitter{Fraction: f}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return Jitter{}, fmt.Errorf("jitter %q: want a percentage (10%%), fraction (0.1) or duration (250ms)", s)
	}
	return Jitter{Duration: d}, nil
}

func (j Jitter) String() string {
	switch {
	case j.Off:
		return "0"
	case j.Duration > 0:
		return j.Duration.String()
	case j.Fraction == 0:
		return ""
	default:
		return strconv.FormatFloat(j.Fraction*100, 'g', 10, 64) + "%"
	}
}

// MarshalText writes the text form.
func (j Jitter) MarshalText() ([]byte, error) { return []byte(j.String()), nil }

// UnmarshalText reads the text form.
func (j *Jitter) UnmarshalText(b []byte) error {
	v, err := ParseJitter(string(b))
	if err != nil {
		return err
	}
	*j = v
	return nil
}

// nextWait is the wait before the next probe: interval ± J/2.
func nextWait(interval, j time.Duration) time.Duration {
	if j <= 0 {
		return interval
	}
	return interval - j/2 + rand.N(j)
}

// firstWait is the wait before a new target's first probe: [0, J).
func firstWait(j time.Duration) time.Duration {
	if j <= 0 {
		return 0
	}
	return rand.N(j)
}
