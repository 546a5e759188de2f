package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/sites"
)

// Timing of the serve process.
const (
	ShutdownTimeout = 5 * time.Second        // DNS and HTTP drain within this
	reloadDebounce  = 200 * time.Millisecond // file events closer than this are one change
)

// Options configure a Server.
type Options struct {
	// Load is where the configuration comes from; every reload reads it
	// the same way.
	Load  config.Options
	Log   *slog.Logger
	Level *slog.LevelVar // the log level, which a reload may change; nil: one of its own that nothing reads
	Build Build
	// API makes the HTTP API's handler; nil serves 404 everywhere.
	API func(*Server) http.Handler
}

// Server is one serve process: the DNS server, the HTTP API, the health
// probes, gossip and the Kubernetes leader around one Store.
type Server struct {
	opts     Options
	log      *slog.Logger
	level    *slog.LevelVar
	store    *gslb.Store
	pub      *Publisher // publishes every snapshot
	gossip   *Gossip    // nil when standalone
	kube     *Kube      // nil without the kubernetes section
	deleg    *delegator // keeps the parent zones' delegations (delegation.go)
	dns      *dnsserver.Server
	http     *http.Server
	httpLn   net.Listener
	registry *prometheus.Registry
	metrics  *configMetrics
	stopping atomic.Bool // set at shutdown so /readyz turns away new traffic
}

// New publishes the first snapshot of l (generation 1) and prepares the
// listeners. Nothing is served until Run.
//
// The health monitor starts here too: every probed member counts as up
// until its probes say otherwise (rise successes or fall failures).
func New(l *config.Loaded, opts Options) (_ *Server, err error) {
	if opts.Level == nil {
		opts.Level = new(slog.LevelVar) // a reload sets it: never nil
	}
	s := &Server{opts: opts, log: opts.Log, level: opts.Level, store: &gslb.Store{}, registry: prometheus.NewRegistry()}
	s.pub = NewPublisher(s.store, l.Config.HealthSettings(), s.log)
	defer func() {
		if err != nil {
			s.pub.Stop()
			if s.httpLn != nil {
				s.httpLn.Close()
			}
		}
	}()
	if err := s.pub.PublishConfig(l); err != nil {
		return nil, err
	}

	s.dns, err = dnsserver.New(l.DNSConfig(s.log.With("component", "dns")), s.store)
	if err != nil {
		return nil, fmt.Errorf("dns server: %w", err)
	}
	s.metrics = newConfigMetrics(opts.Build)
	s.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		s.dns.Collector(),
	)
	s.registry.MustRegister(s.metrics.collectors()...)
	s.registry.MustRegister(s.pub.collectors()...)
	s.deleg = newDelegator(s)
	s.registry.MustRegister(s.deleg.collectors()...)
	s.metrics.published(1)

	if l.Config.Gossip.Enabled() {
		if s.gossip, err = newGossip(l, s.pub, s.log, opts.Build.Version); err != nil {
			return nil, err
		}
		s.registry.MustRegister(s.gossip.collectors()...)
	}
	if l.Config.Kubernetes.Enabled() {
		if s.kube, err = newKube(l, s.pub, s.gossip, s.log); err != nil {
			return nil, err
		}
		s.registry.MustRegister(s.kube.collectors()...)
		if s.gossip != nil && s.kube.elector != nil {
			s.gossip.standby = func() bool { return !s.kube.leading.Load() }
		}
	}

	// Listen now, so a taken port fails startup rather than a goroutine.
	s.httpLn, err = net.Listen("tcp", l.Config.HTTP.Listen)
	if err != nil {
		return nil, fmt.Errorf("http.listen: %w", err)
	}
	handler := http.NotFoundHandler()
	if opts.API != nil {
		handler = opts.API(s)
	}
	s.http = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.With("component", "http").Handler(), slog.LevelWarn),
	}
	return s, nil
}

// Store is the store every snapshot is published to.
func (s *Server) Store() *gslb.Store { return s.store }

// Publisher publishes the snapshots; it holds health and the overrides.
func (s *Server) Publisher() *Publisher { return s.pub }

// Gossip is the gossip member; nil when standalone.
func (s *Server) Gossip() *Gossip { return s.gossip }

// Kube is the Kubernetes leader; nil without the kubernetes section.
func (s *Server) Kube() *Kube { return s.kube }

// Registry holds every metric of the process.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// Version is the build's version.
func (s *Server) Version() string { return s.opts.Build.Version }

// AnswersBySite counts the A and AAAA answers of service names by the
// site they named, since the start (dnsserver.Server.AnswersBySite).
func (s *Server) AnswersBySite() map[string]uint64 { return s.dns.AnswersBySite() }

// Logger is the process logger.
func (s *Server) Logger() *slog.Logger { return s.log }

// cfg is the configuration being served.
func (s *Server) cfg() *config.Loaded {
	l, _ := s.pub.Current()
	return l
}

// Run serves until ctx ends (SIGINT, SIGTERM) or the HTTP listener
// fails, then shuts down in order (shutdown). It logs every failure and
// returns nil after a clean stop on ctx. A SIGHUP on hup, or a change of a watched file,
// reloads the configuration. Once serving, it writes the bound addresses
// to readyFile ("" for none).
func (s *Server) Run(ctx context.Context, hup <-chan os.Signal, readyFile string) error {
	// The file watcher starts before DNS does, so that once the server
	// reports ready (readyz, the ready file) no edit of the config can be
	// missed.
	rl := newReloader(s)
	// A follower serves its state file before DNS starts, and before it
	// joins: static stability.
	if s.gossip != nil {
		if err := s.gossip.start(); err != nil {
			s.log.Error("cannot start gossip", "error", err)
			rl.close()
			s.abort()
			return err
		}
	}
	kctx, stopKube := context.WithCancel(context.Background())
	kubeDone := make(chan struct{})
	go func() {
		defer close(kubeDone)
		if s.kube != nil {
			s.kube.run(kctx)
		}
	}()
	if err := s.dns.Start(); err != nil {
		rl.close()
		stopKube()
		<-kubeDone
		if s.gossip != nil {
			s.gossip.stop()
		}
		s.log.Error("cannot start the DNS server", "error", err)
		s.abort()
		return err
	}
	// From now on queries share the CPUs with reloads and gossip
	// states: their long loops step aside (gslb.Pacer).
	gslb.SetPacing(true)
	s.deleg.start()
	httpErr := make(chan error, 1)
	go func() { httpErr <- s.http.Serve(s.httpLn) }()

	udp, tcp := s.dns.Addrs()
	ready := ReadyInfo{DNSUDP: addrStrings(udp), DNSTCP: addrStrings(tcp), HTTP: s.httpLn.Addr().String(), PID: os.Getpid()}
	// The plan's count: Targets() would build and sort every target's
	// status (300k of them with a check per member at 100k services).
	_, plan, _ := s.pub.HealthSnapshot()
	s.log.Info("serving", "dns_udp", ready.DNSUDP, "dns_tcp", ready.DNSTCP, "http", ready.HTTP,
		"config", s.cfg().File, "generation", 1, "version", s.opts.Build.Version,
		"health_targets", len(plan.Targets()))
	if readyFile != "" {
		if err := writeReadyFile(readyFile, ready); err != nil {
			s.log.Error("cannot write the ready file", "file", readyFile, "error", err)
		}
		defer os.Remove(readyFile)
	}

	rctx, stopReloads := context.WithCancel(context.Background())
	reloadsDone := make(chan struct{})
	go func() {
		defer close(reloadsDone)
		rl.loop(rctx, hup)
	}()

	var runErr error
	select {
	case <-ctx.Done():
		s.log.Info("shutting down", "reason", "signal")
	case err := <-httpErr:
		s.log.Error("http server failed", "error", err)
		runErr = fmt.Errorf("http server: %w", err)
	}
	s.deleg.stop() // before gossip leaves: no pass sees the cluster shrink
	err := s.shutdown(shutdownSteps{
		stopReloads: func() { stopReloads(); <-reloadsDone },
		stopKube:    func() { stopKube(); <-kubeDone },
	})
	if err != nil {
		s.log.Error("shutdown", "error", err)
	}
	return errors.Join(runErr, err)
}

// shutdownSteps are the parts of the shutdown that Run started.
type shutdownSteps struct {
	stopReloads func() // returns once no reload can publish any more
	stopKube    func() // returns once the watchers and the election stopped
}

// shutdown stops the process in one order, once:
//  1. readiness turns false, and no reload may start or publish (nor open
//     a geo database);
//  2. the Kubernetes watchers and the leader election stop, so no build
//     is published any more;
//  3. gossip leaves the cluster (peers drop this node at once) and shuts
//     down, once;
//  4. the probes stop;
//  5. DNS and HTTP drain together within ShutdownTimeout: answers go on
//     from the last snapshot until then.
func (s *Server) shutdown(steps shutdownSteps) error {
	s.stopping.Store(true)
	steps.stopReloads()
	steps.stopKube()
	if s.gossip != nil {
		s.gossip.stop()
	}
	s.pub.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	var dnsErr, httpErr error
	wg.Add(2)
	go func() { defer wg.Done(); dnsErr = s.dns.Shutdown(ctx) }()
	go func() { defer wg.Done(); httpErr = s.http.Shutdown(ctx) }()
	wg.Wait()

	if dnsErr != nil {
		dnsErr = fmt.Errorf("dns: %w", dnsErr)
	}
	if httpErr != nil {
		httpErr = fmt.Errorf("http: %w", httpErr)
	}
	return errors.Join(dnsErr, httpErr)
}

// abort releases what New opened when Run cannot start serving.
func (s *Server) abort() {
	s.httpLn.Close()
	s.pub.Stop()
}

// ReadyInfo is the --ready-file content: where the server really listens,
// which matters when the configuration asked for port 0.
type ReadyInfo struct {
	DNSUDP []string `json:"dns_udp"`
	DNSTCP []string `json:"dns_tcp"`
	HTTP   string   `json:"http"`
	PID    int      `json:"pid"`
}

// writeReadyFile writes atomically (temporary file, then rename) so a
// reader polling for the file never sees half of it.
func writeReadyFile(path string, info ReadyInfo) error {
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	// Atomic, so that a test or script polling for the file never reads
	// half of it.
	return sites.WriteFileAtomic(path, append(b, '\n'), 0o644)
}

func addrStrings(addrs []net.Addr) []string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return out
}

// Ready says whether the server should receive traffic, and why not.
func (s *Server) Ready() (bool, string) {
	switch {
	case s.stopping.Load():
		return false, "shutting down"
	case s.store.Load() == nil:
		return false, "no configuration published"
	case !s.dns.Ready():
		return false, "dns server not ready"
	case s.pub.waitingForLeader():
		return false, "no state from the leader yet (follower without a state file)"
	case s.kube != nil && !s.kube.hasBuild():
		// Bounded by the controller's initial sync timeout: unreachable
		// clusters then count as stale and the build comes anyway.
		return false, "waiting for the first build from the member clusters"
	}
	return true, ""
}
