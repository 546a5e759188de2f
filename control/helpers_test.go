package control

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/gslb"
)

// goodFixture is the config package's test configuration, with a zone
// file beside it.
const goodFixture = "../config/testdata/good.yaml"

// fixtureDir copies goodFixture and its zone file into a temporary
// directory, so a test can change the copy, and returns the config path.
func fixtureDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile("../config/testdata/zones/static.example.zone")
	must(t, err)
	writeFile(t, filepath.Join(dir, "zones", "static.example.zone"), string(b))
	b, err = os.ReadFile(goodFixture)
	must(t, err)
	path := filepath.Join(dir, "meridian.yaml")
	writeFile(t, path, string(b))
	return path
}

// newTestPublisher loads goodFixture and starts a Publisher with its
// health settings and an empty Store; nothing is published yet. Both are
// closed when the test ends.
func newTestPublisher(t *testing.T) (*config.Loaded, *Publisher) {
	t.Helper()
	l, err := config.Load(config.Options{File: goodFixture})
	must(t, err)
	pub := NewPublisher(&gslb.Store{}, l.Config.HealthSettings(), slog.New(slog.DiscardHandler))
	t.Cleanup(pub.Stop)
	return l, pub
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(path), 0o755))
	must(t, os.WriteFile(path, []byte(text), 0o644))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// serveFlags parses serve's listener override flags.
func serveFlags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	fs.StringSlice("dns-listen", nil, "")
	fs.String("http-listen", "", "")
	must(t, fs.Parse(args))
	return fs
}

// eventually polls cond every 50ms for at most 10s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lockedBuffer collects a server's log while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
