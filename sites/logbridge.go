package sites

import (
	"context"
	"log/slog"
	"strings"
)

// logBridge turns memberlist's log lines ("[LEVEL] memberlist: msg")
// into slog records, and says plainly when a peer's key differs. Its
// warnings and errors are what other hosts cause (bad packets, failed
// probes): they go through the peer log's rate limit.
type logBridge struct {
	log   *slog.Logger
	peers *peerLog
}

func (b *logBridge) Write(p []byte) (int, error) {
	s := strings.TrimSpace(string(p))
	level := slog.LevelInfo
	for prefix, l := range map[string]slog.Level{
		"[DEBUG]": slog.LevelDebug, "[INFO]": slog.LevelInfo, "[WARN]": slog.LevelWarn,
		"[ERR]": slog.LevelError, "[ERROR]": slog.LevelError,
	} {
		if strings.HasPrefix(s, prefix) {
			level = l
			s = strings.TrimSpace(strings.TrimPrefix(s, prefix))
			break
		}
	}
	s = strings.TrimPrefix(s, "memberlist: ")
	switch {
	case isKeyError(s):
		b.peers.logf(slog.LevelWarn, peerErrKey, "gossip with a peer failed: its key differs from ours (or one side has none); nothing is exchanged with it", "detail", s)
	case level >= slog.LevelWarn && b.peers != nil:
		// The message alone, without the peer's address, is the rate
		// limit's key: one flood is one line per interval.
		msg, from := splitFrom(s)
		b.peers.logf(level, peerErrGossip, "memberlist: "+msg, "from", from)
	default:
		b.log.Log(context.Background(), level, "memberlist: "+s)
	}
	return len(p), nil
}

// isKeyError recognises memberlist's errors for a key mismatch.
func isKeyError(s string) bool {
	s = strings.ToLower(s)
	return strings.Contains(s, "no installed keys could decrypt") ||
		strings.Contains(s, "encryption is not configured") ||
		strings.Contains(s, "remote state is not encrypted")
}

// splitFrom cuts memberlist's " from=ADDR" suffix off a message.
func splitFrom(s string) (msg, from string) {
	if i := strings.LastIndex(s, " from="); i >= 0 {
		return s[:i], s[i+len(" from="):]
	}
	return s, ""
}
