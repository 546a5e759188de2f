package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// logFormats are the values of log.format.
var logFormats = []string{"text", "json"}

// parseLevel reads log.level: debug, info, warn (or warning), error.
func parseLevel(s string) (slog.Level, error) {
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

// newLogger builds the process logger. The level is a LevelVar so that a
// reload can change it without rebuilding the handler chain; the format
// (text or JSON) is fixed for the life of the process.
func newLogger(w io.Writer, format string, level *slog.LevelVar) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(format, "json") {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
