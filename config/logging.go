package config

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// logFormats are the values of log.format.
var logFormats = []string{"text", "json"}

// ParseLevel reads log.level: debug, info, warn (or warning), error.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unknown level %q (want debug, info, warn or error)", s)
}

// Logger builds the process logger the log section describes, writing to
// w. The level is a LevelVar so that a reload can change it (ParseLevel)
// without rebuilding the handler chain; the format (text or JSON) is
// fixed for the life of the process. The section must have been
// validated by Load.
func (lc LogConfig) Logger(w io.Writer) (*slog.Logger, *slog.LevelVar) {
	level := new(slog.LevelVar)
	lv, _ := ParseLevel(lc.Level) // validated by Load
	level.Set(lv)
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(lc.Format, "json") {
		return slog.New(slog.NewJSONHandler(w, opts)), level
	}
	return slog.New(slog.NewTextHandler(w, opts)), level
}
