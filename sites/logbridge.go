package sites

import (
	"context"
	"log/slog"
	"strings"
)

// logBridge turns memberlist's log lines ("[LEVEL] memberlist: msg")
// into slog records, and says plainly when a peer's key differs.
type logBridge struct{ log *slog.Logger }

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
	if isKeyError(s) {
		b.log.Warn("gossip with a peer failed: its key differs from ours (or one side has none); nothing is exchanged with it", "detail", s)
		return len(p), nil
	}
	b.log.Log(context.Background(), level, "memberlist: "+s)
	return len(p), nil
}

// isKeyError recognises memberlist's errors for a key mismatch.
func isKeyError(s string) bool {
	s = strings.ToLower(s)
	return strings.Contains(s, "no installed keys could decrypt") ||
		strings.Contains(s, "encryption is not configured") ||
		strings.Contains(s, "remote state is not encrypted")
}
