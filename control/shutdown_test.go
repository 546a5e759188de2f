package control

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/config"
)

// TestShutdownWithGossip stops a leader that gossips, as SIGTERM does: the
// shutdown leaves the cluster and shuts the node down once, in order, and
// Run returns nil (exit 0). It used to panic with "leave after shutdown":
// the node shut itself down on the signal's context and serve left again.
func TestShutdownWithGossip(t *testing.T) {
	path := fixtureDir(t)
	b, err := os.ReadFile(path)
	must(t, err)
	writeFile(t, path, string(b)+"\ngossip: {role: leader, site: us-east, listen: 127.0.0.1:0, insecure: true, timing: local}\n")
	opts := config.Options{File: path, Flags: serveFlags(t, "--dns-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0")}
	for i := range 3 { // the panic was a race: try a few times
		l, err := config.Load(opts)
		must(t, err)
		logs := &lockedBuffer{}
		s, err := New(l, Options{Load: opts, Log: slog.New(slog.NewTextHandler(logs, nil)), Level: new(slog.LevelVar)})
		must(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx, make(chan os.Signal), filepath.Join(t.TempDir(), "ready.json")) }()
		eventually(t, "ready", func() bool { ok, _ := s.Ready(); return ok })
		eventually(t, "the leader's first publication", func() bool { return strings.Contains(logs.String(), "state published") })
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("round %d: Run: %v\n%s", i, err, logs.String())
			}
		case <-time.After(2*ShutdownTimeout + 5*time.Second):
			t.Fatalf("round %d: no return from Run after the signal", i)
		}
		if ok, why := s.Ready(); ok || why != "shutting down" {
			t.Errorf("round %d: ready %v (%s) after shutdown", i, ok, why)
		}
	}
}
