package sites

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// peerLogInterval is how often one kind of peer error reaches the log.
const peerLogInterval = 10 * time.Second

// peerLogKeys bounds the messages tracked at once: garbage can make
// memberlist's error texts vary without end.
const peerLogKeys = 256

// Peer error kinds, the label of meridian_sites_peer_errors_total: a
// fixed set, whatever the peers send.
const (
	peerErrKey      = "key"      // a peer with another gossip key, or none
	peerErrGossip   = "gossip"   // memberlist's warnings and errors: bad packets, failed probes
	peerErrTransfer = "transfer" // a state transfer request refused
)

// peerLog writes the log lines that another host can cause, with or
// without the gossip key (a packet of garbage at the gossip port makes
// memberlist log an error): each message at most once per
// peerLogInterval, with the count of those left out since, and every
// occurrence counted in meridian_sites_peer_errors_total. Unlimited,
// 20,000 garbage packets wrote 7,664 lines in 0.2 s (issue 13).
type peerLog struct {
	log     *slog.Logger
	metrics *Metrics
	now     func() time.Time

	mu   sync.Mutex
	last map[string]peerLogEntry // by message
}

type peerLogEntry struct {
	at         time.Time
	suppressed int
}

func newPeerLog(log *slog.Logger, m *Metrics) *peerLog {
	return &peerLog{log: log, metrics: m, now: time.Now, last: map[string]peerLogEntry{}}
}

// logf logs msg at level unless the same msg was logged within
// peerLogInterval; kind is its metric label.
func (p *peerLog) logf(level slog.Level, kind, msg string, args ...any) {
	if p == nil {
		return
	}
	p.metrics.peerError(kind)
	now := p.now()
	p.mu.Lock()
	e, seen := p.last[msg]
	if seen && now.Sub(e.at) < peerLogInterval {
		e.suppressed++
		p.last[msg] = e
		p.mu.Unlock()
		return
	}
	if len(p.last) >= peerLogKeys {
		for k, old := range p.last {
			if now.Sub(old.at) >= peerLogInterval {
				delete(p.last, k)
			}
		}
		if len(p.last) >= peerLogKeys {
			p.mu.Unlock() // a flood of distinct messages: counted only
			return
		}
	}
	p.last[msg] = peerLogEntry{at: now}
	p.mu.Unlock()
	if e.suppressed > 0 {
		args = append(args, "suppressed", e.suppressed, "suppressed_over", peerLogInterval.String())
	}
	p.log.Log(context.Background(), level, msg, args...)
}
