package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/gslb"
)

// Timing of the serve process.
const (
	shutdownTimeout = 5 * time.Second        // DNS and HTTP drain within this
	reloadDebounce  = 200 * time.Millisecond // file events closer than this are one change
	dbCloseGrace    = 5 * time.Second        // an in-flight query may still use a replaced geo database
)

func runServe(args []string, stdout, stderr io.Writer) int {
	// SIGHUP's default action ends the process: catch it before anything
	// slow, so that an early reload request cannot kill the server.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal, a second one ends the process at once
		// (the default action): an operator's second Ctrl-C means it.
		<-ctx.Done()
		stop()
	}()

	fs := newFlagSet("serve", "meridian serve [--config FILE] [flags]",
		"Serve DNS and the HTTP API from a configuration file. SIGHUP or a change of the\n"+
			"file (or of its zone files or geo database) reloads it; a configuration that\n"+
			"does not validate is logged and the running one kept. SIGINT/SIGTERM stop.")
	file := fs.StringP("config", "c", os.Getenv("MERIDIAN_CONFIG"), "configuration file; $MERIDIAN_CONFIG sets the default")
	fs.StringSlice("dns-listen", nil, "DNS listen addresses, host:port, comma separated (overrides dns.listen)")
	fs.String("http-listen", "", "HTTP API listen address, host:port (overrides http.listen)")
	fs.String("log-level", "", "debug, info, warn or error (overrides log.level)")
	fs.String("log-format", "", "text or json (overrides log.format)")
	fs.String("geo-database", "", "MaxMind-format database file (overrides geo.database)")
	readyFile := fs.String("ready-file", "", "once serving, write the bound addresses as JSON to this file\n(useful with port 0)")
	if code, done := fs.parse(args, stdout, stderr); done {
		return code
	}
	switch {
	case fs.NArg() > 0:
		return fs.fail(stderr, "unexpected arguments %q (the file goes after --config)", fs.Args())
	case *file == "":
		return fs.fail(stderr, "no configuration: give --config FILE or set MERIDIAN_CONFIG")
	}

	opts := loadOptions{file: *file, flags: fs.FlagSet}
	l, err := load(opts)
	if err != nil {
		fmt.Fprintf(stderr, "meridian: %s is not a valid configuration:\n", *file)
		printErrors(stderr, err)
		return exitFail
	}
	level := new(slog.LevelVar)
	lv, _ := parseLevel(l.config.Log.Level) // validated by load
	level.Set(lv)
	log := newLogger(stderr, l.config.Log.Format, level)
	slog.SetDefault(log)

	s, err := newServer(l, opts, log, level)
	if err != nil {
		log.Error("cannot start", "error", err)
		l.close()
		return exitFail
	}
	return s.run(ctx, hup, *readyFile)
}

// server is one running serve process.
type server struct {
	opts     loadOptions
	log      *slog.Logger
	level    *slog.LevelVar
	store    *gslb.Store
	pub      *publisher  // publishes every snapshot; pub.current is the configuration behind it
	gossip   *gossip     // nil when standalone
	kube     *kubeLeader // nil without the kubernetes section
	dns      *dnsserver.Server
	http     *http.Server
	httpLn   net.Listener
	registry *prometheus.Registry
	metrics  *configMetrics
	stopping atomic.Bool // set at shutdown so /readyz turns away new traffic

	retiredMu sync.Mutex
	retired   []*loaded // replaced configurations whose geo database is not yet closed
}

// newServer publishes the first snapshot (generation 1) and prepares the
// listeners. Nothing is served until run.
//
// The health monitor starts here too: every probed member counts as up
// until its probes say otherwise (rise successes or fall failures).
func newServer(l *loaded, opts loadOptions, log *slog.Logger, level *slog.LevelVar) (_ *server, err error) {
	s := &server{opts: opts, log: log, level: level, store: &gslb.Store{}, registry: prometheus.NewRegistry()}
	s.pub = newPublisher(s.store, l.config.healthSettings(), log)
	defer func() {
		if err != nil {
			s.pub.stop()
		}
	}()
	l.state.Generation = 1
	if err := s.pub.publishConfig(l); err != nil {
		return nil, err
	}

	s.dns, err = dnsserver.New(l.dnsConfig(log.With("component", "dns")), s.store)
	if err != nil {
		return nil, fmt.Errorf("dns server: %w", err)
	}
	s.metrics = newConfigMetrics(currentBuild())
	s.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		s.dns.Collector(),
		s.metrics,
	)
	s.registry.MustRegister(s.pub.collectors()...)
	s.metrics.published(1)

	if l.config.Gossip.enabled() {
		if s.gossip, err = newGossip(l, s.pub, log); err != nil {
			return nil, err
		}
		s.registry.MustRegister(s.gossip.collectors()...)
	}
	if l.config.Kubernetes.enabled() {
		if s.kube, err = newKube(l, s.pub, s.gossip, log); err != nil {
			return nil, err
		}
		s.registry.MustRegister(s.kube.collectors()...)
		if s.gossip != nil && s.kube.elector != nil {
			s.gossip.standby = func() bool { return !s.kube.leading.Load() }
		}
	}

	// Listen now, so a taken port fails startup rather than a goroutine.
	s.httpLn, err = net.Listen("tcp", l.config.HTTP.Listen)
	if err != nil {
		return nil, fmt.Errorf("http.listen: %w", err)
	}
	s.http = &http.Server{
		Handler:           newAPI(s).routes(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.With("component", "http").Handler(), slog.LevelWarn),
	}
	return s, nil
}

// run serves until ctx ends (SIGINT, SIGTERM) or a listener fails, then
// shuts down gracefully. It returns the exit code.
func (s *server) run(ctx context.Context, hup <-chan os.Signal, readyFile string) int {
	// The file watcher starts before DNS does, so that once the server
	// reports ready (readyz, the ready file) no edit of the config can be
	// missed.
	rl := newReloader(s)
	// A follower serves its state file before DNS starts, and before it
	// joins: static stability.
	if s.gossip != nil {
		if err := s.gossip.start(ctx); err != nil {
			s.log.Error("cannot start gossip", "error", err)
			rl.close()
			s.httpLn.Close()
			s.pub.stop()
			s.pub.current.Load().close()
			return exitFail
		}
	}
	kubeDone := make(chan struct{})
	kctx, stopKube := context.WithCancel(ctx)
	defer func() { stopKube(); <-kubeDone }()
	go func() {
		defer close(kubeDone)
		if s.kube != nil {
			s.kube.run(kctx)
		}
	}()
	if err := s.dns.Start(); err != nil {
		rl.close()
		s.log.Error("cannot start the DNS server", "error", err)
		s.httpLn.Close()
		s.pub.stop()
		s.pub.current.Load().close()
		return exitFail
	}
	httpErr := make(chan error, 1)
	go func() { httpErr <- s.http.Serve(s.httpLn) }()

	udp, tcp := s.dns.Addrs()
	ready := readyInfo{DNSUDP: addrStrings(udp), DNSTCP: addrStrings(tcp), HTTP: s.httpLn.Addr().String(), PID: os.Getpid()}
	s.log.Info("serving", "dns_udp", ready.DNSUDP, "dns_tcp", ready.DNSTCP, "http", ready.HTTP,
		"config", s.pub.current.Load().file, "generation", 1, "version", version,
		"health_targets", len(s.pub.mon.Status()))
	if readyFile != "" {
		if err := writeReadyFile(readyFile, ready); err != nil {
			s.log.Error("cannot write the ready file", "file", readyFile, "error", err)
		}
		defer os.Remove(readyFile)
	}

	rctx, stopReloads := context.WithCancel(ctx)
	reloadsDone := make(chan struct{})
	go func() {
		defer close(reloadsDone)
		rl.loop(rctx, hup)
	}()

	code := exitOK
	select {
	case <-ctx.Done():
		s.log.Info("shutting down", "reason", "signal")
	case err := <-httpErr:
		s.log.Error("http server failed", "error", err)
		code = exitFail
	}
	stopReloads()
	<-reloadsDone // no reload may publish (or open a database) after this
	if err := s.shutdown(); err != nil {
		s.log.Error("shutdown", "error", err)
		code = exitFail
	}
	return code
}

// shutdown drains DNS and HTTP together within shutdownTimeout, stops the
// probes, then closes every geo database: no query can use one any more.
func (s *server) shutdown() error {
	s.stopping.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	var dnsErr, httpErr error
	wg.Add(2)
	go func() { defer wg.Done(); dnsErr = s.dns.Shutdown(ctx) }()
	go func() { defer wg.Done(); httpErr = s.http.Shutdown(ctx) }()
	wg.Wait()
	if s.gossip != nil {
		s.gossip.stop()
	}
	s.pub.stop()
	s.retiredMu.Lock()
	for _, l := range s.retired {
		l.close()
	}
	s.retired = nil
	s.retiredMu.Unlock()
	s.pub.current.Load().close()
	if dnsErr != nil {
		dnsErr = fmt.Errorf("dns: %w", dnsErr)
	}
	if httpErr != nil {
		httpErr = fmt.Errorf("http: %w", httpErr)
	}
	return errors.Join(dnsErr, httpErr)
}

// retire closes a replaced configuration's geo database after a grace
// period: a query or explain that loaded the old snapshot just before the
// swap may still be reading it.
func (s *server) retire(l *loaded) {
	if l.db == nil {
		return
	}
	s.retiredMu.Lock()
	s.retired = append(s.retired, l)
	s.retiredMu.Unlock()
	time.AfterFunc(dbCloseGrace, func() {
		s.retiredMu.Lock()
		defer s.retiredMu.Unlock()
		for i, r := range s.retired {
			if r == l {
				l.close()
				s.retired = append(s.retired[:i], s.retired[i+1:]...)
				return
			}
		}
	})
}

// readyInfo is the --ready-file content: where the server really listens,
// which matters when the configuration asked for port 0.
type readyInfo struct {
	DNSUDP []string `json:"dns_udp"`
	DNSTCP []string `json:"dns_tcp"`
	HTTP   string   `json:"http"`
	PID    int      `json:"pid"`
}

// writeReadyFile writes atomically (temporary file, then rename) so a
// reader polling for the file never sees half of it.
func writeReadyFile(path string, info readyInfo) error {
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".ready-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func addrStrings(addrs []net.Addr) []string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return out
}

// ready says whether the server should receive traffic, and why not.
func (s *server) ready() (bool, string) {
	switch {
	case s.stopping.Load():
		return false, "shutting down"
	case s.store.Load() == nil:
		return false, "no configuration published"
	case !s.dns.Ready():
		return false, "dns server not ready"
	case s.pub.waitingForLeader():
		return false, "no state from the leader yet (follower without a state file)"
	case s.kube != nil && s.kube.ctrl.Last() == nil:
		// Bounded by the controller's initial sync timeout: unreachable
		// clusters then count as stale and the build comes anyway.
		return false, "waiting for the first build from the member clusters"
	}
	return true, ""
}

// configMetrics are the configuration's metrics. It is one collector so
// that serve registers it in one call.
type configMetrics struct {
	generation  prometheus.Gauge
	reloads     *prometheus.CounterVec
	lastSuccess prometheus.Gauge
	build       prometheus.Gauge
}

func newConfigMetrics(b buildInfo) *configMetrics {
	m := &configMetrics{
		generation: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meridian_config_generation",
			Help: "Generation of the configuration being served; 1 at start, +1 per successful reload.",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meridian_config_reloads_total",
			Help: "Configuration reloads by result (success or failure).",
		}, []string{"result"}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meridian_config_last_reload_success_timestamp_seconds",
			Help: "Unix time the configuration being served was published.",
		}),
		build: prometheus.NewGauge(prometheus.GaugeOpts{
			Name:        "meridian_build_info",
			Help:        "Always 1; the labels say which build is running.",
			ConstLabels: prometheus.Labels{"version": b.Version, "commit": b.Commit, "goversion": b.GoVersion},
		}),
	}
	// Both results exist from the start, so rate() and alerts see a 0.
	m.reloads.WithLabelValues("success")
	m.reloads.WithLabelValues("failure")
	m.build.Set(1)
	return m
}

func (m *configMetrics) Describe(ch chan<- *prometheus.Desc) {
	m.generation.Describe(ch)
	m.reloads.Describe(ch)
	m.lastSuccess.Describe(ch)
	m.build.Describe(ch)
}

func (m *configMetrics) Collect(ch chan<- prometheus.Metric) {
	m.generation.Collect(ch)
	m.reloads.Collect(ch)
	m.lastSuccess.Collect(ch)
	m.build.Collect(ch)
}

// published records that generation gen is now served.
func (m *configMetrics) published(gen uint64) {
	m.generation.Set(float64(gen))
	m.lastSuccess.SetToCurrentTime()
}
