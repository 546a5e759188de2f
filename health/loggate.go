package health

import "time"

// logGate rate limits a log line: it allows a condition when it differs
// from the last one allowed, or when that was every ago. One condition
// ("") limits a line to one per every.
type logGate struct {
	last string
	at   time.Time
}

func (g *logGate) allow(cond string, now time.Time, every time.Duration) bool {
	if g.at.IsZero() || cond != g.last || now.Sub(g.at) >= every {
		g.last, g.at = cond, now
		return true
	}
	return false
}
