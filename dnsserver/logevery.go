package dnsserver

import (
	"sync"
	"time"
)

// logEvery is the pace of a log line that queries can cause (a flood
// limited by RRL, answers that cannot be signed): at most one line per
// logInterval, saying how many occurrences it stands for. The log of a
// flood must not be a flood.
type logEvery struct {
	mu      sync.Mutex
	logged  time.Time // the last line
	unshown uint64    // occurrences since
}

// logInterval spaces the lines of one logEvery.
const logInterval = 10 * time.Second

// note records one occurrence at now; when a line is due it returns true
// and the occurrences the line stands for.
func (l *logEvery) note(now time.Time) (n uint64, due bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.unshown++
	if now.Sub(l.logged) < logInterval {
		return 0, false
	}
	n = l.unshown
	l.unshown, l.logged = 0, now
	return n, true
}
