package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/meridian-gslb/meridian/sites"
)

// reloader runs every reload of one serve process, one at a time, in the
// goroutine that calls loop: a slow load never races a newer one, and the
// generation only grows.
type reloader struct {
	s       *server
	watcher *watcher // nil when file watching could not start
}

func newReloader(s *server) *reloader {
	r := &reloader{s: s}
	w, err := newWatcher(reloadDebounce, s.log)
	if err != nil {
		s.log.Warn("file watching disabled; reload with SIGHUP", "error", err)
		return r
	}
	r.watcher = w
	r.watcher.set(s.pub.current.Load().watch)
	return r
}

// close releases the watcher of a reloader whose loop never ran.
func (r *reloader) close() {
	if r.watcher != nil {
		r.watcher.close()
	}
}

// loop reloads on SIGHUP and on file changes until ctx ends.
func (r *reloader) loop(ctx context.Context, hup <-chan os.Signal) {
	var changed <-chan struct{}
	if r.watcher != nil {
		defer r.watcher.close()
		go r.watcher.run(ctx)
		changed = r.watcher.changed
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			r.reload("signal", true)
		case <-changed:
			r.reload("file change", false)
		}
	}
}

// reload loads the configuration off to the side and publishes it only
// when it validates; otherwise the running snapshot stays. A file event
// that changed nothing that matters (a chmod, an editor's backup file, a
// save without edits) publishes nothing; SIGHUP always publishes, because
// the operator asked for it.
func (r *reloader) reload(trigger string, always bool) {
	s := r.s
	start := time.Now()
	prev := s.pub.current.Load()
	next, err := load(s.opts)
	if err != nil {
		s.metrics.reloads.WithLabelValues("failure").Inc()
		s.log.Error("config reload rejected", "trigger", trigger, "file", prev.file,
			"error", oneLine(err), "generation", prev.state.Generation)
		return
	}
	// Files read outside the config's own state: the gossip keys
	// (rotation) and the member kubeconfig (clusters added or removed)
	// may be all that changed.
	if s.gossip != nil {
		s.gossip.reloadKeys()
	}
	if s.kube != nil {
		s.kube.reload(next)
	}
	if !always && sameConfig(prev, next) {
		next.close()
		s.log.Debug("config unchanged; nothing to reload", "trigger", trigger)
		return
	}
	next.state.Generation = prev.state.Generation + 1
	next.state.Term = prev.state.Term
	// Publish plans the health checks, hands the targets to the monitor
	// (probes of unchanged targets go on undisturbed) and publishes the
	// snapshot with the current verdicts and the admin overrides.
	if err := s.pub.publishConfig(next); err != nil {
		next.close()
		s.metrics.reloads.WithLabelValues("failure").Inc()
		s.log.Error("config reload rejected", "trigger", trigger, "error", err.Error(), "generation", prev.state.Generation)
		return
	}
	warnRestartOnly(s.log, prev, next)
	if lv, err := parseLevel(next.config.Log.Level); err == nil {
		s.level.Set(lv)
	}
	if s.gossip != nil && s.gossip.role == sites.RoleLeader {
		s.gossip.publish(s.pub.current.Load().state)
	}
	// The old geo database goes only now that nothing new can reach it.
	s.retire(prev)
	s.metrics.reloads.WithLabelValues("success").Inc()
	s.metrics.published(next.state.Generation)
	if r.watcher != nil {
		r.watcher.set(next.watch) // zone files or the database may have moved
	}
	s.log.Info("config reloaded", "trigger", trigger, "generation", next.state.Generation,
		"zones", len(next.state.Zones), "sites", len(next.state.Sites), "services", len(next.state.Services),
		"took", time.Since(start).Round(time.Microsecond))
}

// sameConfig reports whether next would serve exactly what prev serves:
// the same decoded file, the same state (zone files included) and the
// same geo database file.
func sameConfig(prev, next *loaded) bool {
	// The file's own states: the served one may hold the leader's
	// (follower) or Kubernetes' services.
	a, b := *prev.fileState, *next.fileState
	a.Term, b.Term, a.Generation, b.Generation = 0, 0, 0, 0
	return prev.dbStamp == next.dbStamp &&
		reflect.DeepEqual(prev.config, next.config) &&
		// the CA files are read into the state's checks
		reflect.DeepEqual(a, b) &&
		// and the token file into this
		prev.adminToken == next.adminToken
}

// warnRestartOnly logs the settings that changed in the file but only
// take effect at the next start: the listeners are bound, the log
// format is fixed.
func warnRestartOnly(log *slog.Logger, prev, next *loaded) {
	p, n := prev.config, next.config
	check := func(key string, running, configured any) {
		if !reflect.DeepEqual(running, configured) {
			log.Warn("setting changed; it takes effect after a restart", "key", key, "running", running, "configured", configured)
		}
	}
	check("dns", p.DNS, n.DNS)
	check("http.listen", p.HTTP.Listen, n.HTTP.Listen)
	check("log.format", p.Log.Format, n.Log.Format)
	check("health", p.healthSettings(), n.healthSettings())
	pg, ng := p.Gossip, n.Gossip
	pg.KeyFile, ng.KeyFile = "", "" // its content is reread; the path is not
	check("gossip", pg, ng)
}

// oneLine joins every problem with "; " so that one log record carries
// them all, each with its field path.
func oneLine(err error) string {
	var parts []string
	for _, e := range leaves(err) {
		parts = append(parts, e.Error())
	}
	return strings.Join(parts, "; ")
}

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
