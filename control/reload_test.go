package control

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/config"
)

// watchTest is a watcher under test, with a marker file beside the files
// it watches: the positive sync point of every check (see sync).
type watchTest struct {
	t       *testing.T
	w       *watcher
	log     *lockedBuffer // the watcher's debug log: one line per relevant event
	marker  string
	checked int // how much of log earlier checks have read
}

// startWatcher watches files, and a marker file in the first one's
// directory, until the test ends. The debounce is short, but long enough
// that one burst of a test's file operations stays one burst on a loaded
// machine under the race detector (at 100ms a ConfigMap swap was seen
// split in two).
func startWatcher(t *testing.T, files ...string) *watchTest {
	t.Helper()
	wt := &watchTest{t: t, log: &lockedBuffer{}, marker: filepath.Join(filepath.Dir(files[0]), "marker.yaml")}
	writeFile(t, wt.marker, "0\n")
	w, err := newWatcher(300*time.Millisecond, slog.New(slog.NewTextHandler(wt.log, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	w.set(append(files, wt.marker))
	wt.w = w
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; w.close() })
	return wt
}

// next waits for one change signal.
func (wt *watchTest) next(what string) {
	wt.t.Helper()
	select {
	case <-wt.w.changed:
	case <-time.After(5 * time.Second):
		wt.t.Fatalf("no change signal after %s", what)
	}
}

// sync renames a new version over the marker (one relevant event) and
// waits until the watcher logs it. The watcher handles events one at a
// time, in the order the kernel queued them, and the marker's event resets
// the debounce timer, so at that point every earlier event has been
// handled and no earlier burst can signal any more. sync fails on a
// signal logged before the marker's event (an extra one: events were not
// debounced) and on any event before it that the watcher took as
// relevant, then waits for the marker's own signal. It reads signals from
// the log, in the watcher's own order: looking at the channel instead
// raced with the marker's own signal on a loaded machine. No fixed sleep:
// only the marker's debounce delay.
func (wt *watchTest) sync(after string) {
	wt.t.Helper()
	tmp := wt.marker + ".tmp"
	writeFile(wt.t, tmp, time.Now().String())
	must(wt.t, os.Rename(tmp, wt.marker))
	markerLine := "file=" + wt.marker + " "
	var lines []string
	eventually(wt.t, "the watcher to see the marker after "+after, func() bool {
		lines = strings.Split(wt.log.String()[wt.checked:], "\n")
		return slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, markerLine) })
	})
	for _, l := range lines {
		if strings.Contains(l, markerLine) {
			break
		}
		if strings.Contains(l, `msg="config file event"`) {
			wt.t.Fatalf("after %s, an event before the marker's was taken as a change (an unrelated event, or a late one of a burst already signalled): %s", after, l)
		}
		if strings.Contains(l, `msg="config change signalled"`) {
			wt.t.Fatalf("a signal after %s besides the one expected: events were not debounced", after)
		}
	}
	wt.next("the marker's rename")
	wt.checked = len(wt.log.String()) // past the marker's signal line
}

// wantSignal: what was done is seen, as one signal (a burst of events is
// debounced into one).
func (wt *watchTest) wantSignal(what string) {
	wt.t.Helper()
	wt.next(what)
	// Events logged up to here belong to what was done; only those after
	// the signal may not be taken as a change.
	wt.checked = len(wt.log.String())
	wt.sync(what)
}

// wantNoSignal: what was done is not taken as a change.
func (wt *watchTest) wantNoSignal(what string) {
	wt.t.Helper()
	wt.sync(what)
}

func TestWatcherSeesEditorSaves(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "meridian.yaml")
	writeFile(t, cfg, "a: 1\n")
	w := startWatcher(t, cfg)
	if got := w.w.watchedDirs(); len(got) != 1 || got[0] != dir {
		t.Fatalf("watched dirs %v, want [%s]", got, dir)
	}

	// Rename over the file, as editors and config management do.
	writeFile(t, cfg+".swp", "a: 2\n")
	if err := os.Rename(cfg+".swp", cfg); err != nil {
		t.Fatal(err)
	}
	w.wantSignal("a rename over the file")

	// Rewrite in place.
	writeFile(t, cfg, "a: 3\n")
	w.wantSignal("an in-place write")

	// Another file in the directory, and a chmod, are no change.
	writeFile(t, filepath.Join(dir, "notes.txt"), "x")
	if err := os.Chmod(cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	w.wantNoSignal("an unrelated file and a chmod")
}

// TestWatcherSeesConfigMapSwap replays how the kubelet updates a mounted
// ConfigMap: the file is a symlink through "..data", and an update swaps
// "..data" to a new timestamped directory in one rename.
func TestWatcherSeesConfigMapSwap(t *testing.T) {
	dir := t.TempDir()
	v1 := filepath.Join(dir, "..2026_11_21_10_00_00.1")
	writeFile(t, filepath.Join(v1, "meridian.yaml"), "a: 1\n")
	must(t, os.Symlink(filepath.Base(v1), filepath.Join(dir, "..data")))
	must(t, os.Symlink(filepath.Join("..data", "meridian.yaml"), filepath.Join(dir, "meridian.yaml")))
	w := startWatcher(t, filepath.Join(dir, "meridian.yaml"))

	v2 := filepath.Join(dir, "..2026_11_21_10_05_00.2")
	writeFile(t, filepath.Join(v2, "meridian.yaml"), "a: 2\n")
	must(t, os.Symlink(filepath.Base(v2), filepath.Join(dir, "..data_tmp")))
	must(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
	must(t, os.RemoveAll(v1))
	w.wantSignal("a ConfigMap symlink swap")
}

// TestServerReloadsInProcess runs serve's server, reloader and watcher in
// the test process, so the race detector sees them work together.
func TestServerReloadsInProcess(t *testing.T) {
	path := fixtureDir(t)
	fs := serveFlags(t, "--dns-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0")
	opts := config.Options{File: path, Flags: fs}
	l, err := config.Load(opts)
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	level := new(slog.LevelVar)
	s, err := New(l, Options{Load: opts, Log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: level})), Level: level})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	hup := make(chan os.Signal, 1)
	done := make(chan error, 1)
	readyFile := filepath.Join(t.TempDir(), "ready.json")
	go func() { done <- s.Run(ctx, hup, readyFile) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	eventually(t, "ready", func() bool { ok, _ := s.Ready(); return ok })

	generation := func() uint64 { return s.store.Load().Generation() }
	edit := func(old, new string) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		must(t, os.WriteFile(path+".new", []byte(strings.Replace(string(b), old, new, 1)), 0o644))
		must(t, os.Rename(path+".new", path))
	}

	edit("level: info", "level: debug")
	eventually(t, "a reload after a file change", func() bool { return generation() == 2 })
	if level.Level() != slog.LevelDebug {
		t.Errorf("log level %v after reload, want debug", level.Level())
	}

	edit("ttl: 30", "ttl: -1")
	eventually(t, "a rejected reload", func() bool { return strings.Contains(logs.String(), `msg="config reload rejected"`) })
	if generation() != 2 {
		t.Errorf("generation %d after a rejected reload", generation())
	}

	// Fixed, with a DNS setting that needs a restart: served, and the
	// setting logged as not applied.
	b, _ := os.ReadFile(path)
	fixed := strings.Replace(strings.Replace(string(b), "ttl: -1", "ttl: 31", 1), "tcp_idle_timeout: 15s", "tcp_idle_timeout: 20s", 1)
	writeFile(t, path, fixed)
	eventually(t, "generation 3", func() bool { return generation() == 3 })
	if svc := s.store.Load().Service("app.gslb.example."); svc == nil || svc.Policy.TTL != 31 {
		t.Errorf("reloaded service: %+v", svc)
	}
	if !strings.Contains(logs.String(), `msg="setting changed; it takes effect after a restart" key=dns`) {
		t.Errorf("no restart warning in:\n%s", logs.String())
	}

	// SIGHUP reloads even when nothing changed.
	hup <- syscall.SIGHUP
	eventually(t, "the SIGHUP reload", func() bool { return generation() == 4 })
}
