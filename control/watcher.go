package control

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watcher turns file system events into debounced change signals. It
// watches the DIRECTORIES of the files, not the files: an editor saves by
// writing a new file and renaming it over the old one, and Kubernetes
// updates a mounted ConfigMap by swapping a "..data" symlink, and both
// replace the inode a file watch would be on.
type watcher struct {
	fsw     *fsnotify.Watcher
	log     *slog.Logger
	delay   time.Duration
	changed chan struct{} // one pending signal at most

	mu    sync.Mutex
	files map[string]bool // watched files, and the targets of symlinked ones
	dirs  map[string]bool // their directories, each watched once
}

func newWatcher(delay time.Duration, log *slog.Logger) (*watcher, error) {
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	return &watcher{fsw: fsw, log: log, delay: delay, changed: make(chan struct{}, 1), files: map[string]bool{}, dirs: map[string]bool{}}, nil
}

// set replaces the watched files.
func (w *watcher) set(files []string) {
	want := map[string]bool{}
	for _, f := range files {
		f = filepath.Clean(f)
		want[f] = true
		if t, err := filepath.EvalSymlinks(f); err == nil && t != f {
			want[t] = true
		}
	}
	dirs := map[string]bool{}
	for f := range want {
		dirs[filepath.Dir(f)] = true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for d := range w.dirs {
		if !dirs[d] {
			_ = w.fsw.Remove(d)
		}
	}
	for d := range dirs {
		if w.dirs[d] {
			continue
		}
		if err := w.fsw.Add(d); err != nil {
			w.log.Warn("cannot watch directory; reload with SIGHUP after changing files in it", "dir", d, "error", err)
			delete(dirs, d)
		}
	}
	w.files, w.dirs = want, dirs
}

// relevant says whether an event may change a watched file: the file
// itself, or Kubernetes' "..data"-style entries beside it.
func (w *watcher) relevant(ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod {
		return false
	}
	name := filepath.Clean(ev.Name)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.files[name] {
		return true
	}
	return w.dirs[filepath.Dir(name)] && strings.HasPrefix(filepath.Base(name), "..")
}

// run forwards relevant events, debounced: a burst of events (write,
// rename, symlink swap) becomes one signal, delay after the last event.
func (w *watcher) run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return
			}
			if w.relevant(ev) {
				w.log.Debug("config file event", "file", ev.Name, "op", ev.Op.String())
				timer.Reset(w.delay)
			}
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return
			}
			w.log.Warn("file watch error", "error", err)
		case <-timer.C:
			// Logged before the send, so a reader of the log who has
			// received the signal has also seen its line.
			w.log.Debug("config change signalled")
			select {
			case w.changed <- struct{}{}:
			default: // a signal is already pending; it covers this change too
			}
		}
	}
}

func (w *watcher) close() {
	_ = w.fsw.Close()
}

// watchedDirs lists the watched directories, for tests and logs.
func (w *watcher) watchedDirs() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for d := range w.dirs {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}
