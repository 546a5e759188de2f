package sites

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// A flood of one peer error is one log line per interval, with the count
// of those left out; every one is counted; distinct messages beyond the
// bound are counted only.
func TestPeerLogRateLimit(t *testing.T) {
	var buf bytes.Buffer
	m := NewMetrics()
	p := newPeerLog(slog.New(slog.NewTextHandler(&buf, nil)), m)
	now := time.Unix(1700000000, 0)
	p.now = func() time.Time { return now }

	for range 1000 {
		p.logf(slog.LevelError, peerErrGossip, "memberlist: failed to decrypt packet", "from", "127.0.0.9:1")
	}
	if n := strings.Count(buf.String(), "\n"); n != 1 {
		t.Fatalf("%d lines for 1,000 equal errors within the interval:\n%s", n, buf.String())
	}
	now = now.Add(peerLogInterval)
	p.logf(slog.LevelError, peerErrGossip, "memberlist: failed to decrypt packet", "from", "127.0.0.9:1")
	if !strings.Contains(buf.String(), "suppressed=999") {
		t.Errorf("the next line after the interval does not count those left out:\n%s", buf.String())
	}
	if v := testutil.ToFloat64(m.peerErrors.WithLabelValues(peerErrGossip)); v != 1001 {
		t.Errorf("peer errors counted %v, want 1001", v)
	}

	buf.Reset()
	for i := range 2 * peerLogKeys {
		p.logf(slog.LevelWarn, peerErrGossip, fmt.Sprintf("memberlist: garbage %d", i))
	}
	if n := strings.Count(buf.String(), "\n"); n > peerLogKeys {
		t.Errorf("%d lines for %d distinct messages, want at most %d", n, 2*peerLogKeys, peerLogKeys)
	}
}
