package control

import (
	"context"
	"log/slog"
	"os"
	"reflect"
	"time"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/sites"
)

// reloader runs every reload of one serve process, one at a time, in the
// goroutine that calls loop: a slow load never races a newer one, and the
// generation only grows.
type reloader struct {
	s       *Server
	watcher *watcher // nil when file watching could not start
	// bounded runs the loader's loads with a bound, so that no read can
	// hold the loop (and with it every later SIGHUP and file change).
	bounded boundedLoad
}

func newReloader(s *Server) *reloader {
	// The loader keeps the running configuration's decoded services, so
	// a reload decodes only the services whose text changed.
	loader := config.NewLoader(s.opts.Load, s.cfg())
	r := &reloader{s: s, bounded: boundedLoad{load: loader.Load, timeout: loadTimeout}}
	w, err := newWatcher(reloadDebounce, s.log)
	if err != nil {
		s.log.Warn("file watching disabled; reload with SIGHUP", "error", err)
		return r
	}
	r.watcher = w
	r.watcher.set(s.cfg().Watch)
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
	prev, prevState := s.pub.Current()
	next, err := r.bounded.run()
	if err != nil {
		s.metrics.reloads.WithLabelValues("failure").Inc()
		s.log.Error("config reload rejected", "trigger", trigger, "file", prev.File,
			"error", config.OneLine(err), "generation", prevState.Generation)
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
	if !always && prev.Same(next) {
		s.log.Debug("config unchanged; nothing to reload", "trigger", trigger)
		return
	}
	// Publish plans the health checks, hands the targets to the monitor
	// (probes of unchanged targets go on undisturbed) and publishes the
	// snapshot with the current verdicts and the admin overrides.
	if err := s.pub.PublishConfig(next); err != nil {
		s.metrics.reloads.WithLabelValues("failure").Inc()
		s.log.Error("config reload rejected", "trigger", trigger, "error", err.Error(), "generation", prevState.Generation)
		return
	}
	warnRestartOnly(s.log, prev, next)
	if lv, err := config.ParseLevel(next.Config.Log.Level); err == nil {
		s.level.Set(lv)
	}
	_, st := s.pub.Current()
	if s.gossip != nil && s.gossip.role == sites.RoleLeader {
		s.gossip.publish(st)
	}
	s.metrics.reloads.WithLabelValues("success").Inc()
	s.metrics.published(st.Generation)
	if r.watcher != nil {
		r.watcher.set(next.Watch) // zone files or the database may have moved
	}
	s.log.Info("config reloaded", "trigger", trigger, "generation", st.Generation,
		"zones", len(st.Zones), "sites", len(st.Sites), "services", len(st.Services),
		"took", time.Since(start).Round(time.Microsecond))
}

// warnRestartOnly logs the settings that changed in the file but only
// take effect at the next start: the listeners are bound, the log
// format is fixed.
func warnRestartOnly(log *slog.Logger, prev, next *config.Loaded) {
	p, n := prev.Config, next.Config
	check := func(key string, running, configured any) {
		if !reflect.DeepEqual(running, configured) {
			log.Warn("setting changed; it takes effect after a restart", "key", key, "running", running, "configured", configured)
		}
	}
	check("dns", p.DNS, n.DNS)
	check("http.listen", p.HTTP.Listen, n.HTTP.Listen)
	check("log.format", p.Log.Format, n.Log.Format)
	check("health", p.HealthSettings(), n.HealthSettings())
	pg, ng := p.Gossip, n.Gossip
	pg.KeyFile, ng.KeyFile = "", "" // its content is reread; the path is not
	check("gossip", pg, ng)
}
