package dnsserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/gslb"
)

// Config is how the server listens. Zero values take the documented
// defaults.
type Config struct {
	// Listen are the addresses to serve, "127.0.0.1:5353" or "[::1]:5353";
	// each gets UDP and TCP on the same port (port 0: one free port for both).
	Listen []string
	// TCPIdleTimeout closes a TCP connection that sends nothing for this
	// long; default 10s (RFC 7766 section 6.2.3).
	TCPIdleTimeout time.Duration
	// MaxTCPConns caps open TCP connections. At the cap a new connection
	// closes the one idle the longest (RFC 7766 section 6.2.2), or is
	// closed at once when every connection has a query in hand. Default
	// 1024.
	MaxTCPConns int
	// MaxTCPConnsPerSource caps the connections of one client (an IPv4
	// address, an IPv6 /64): beyond it its new connections are closed at
	// once, so that one client cannot hold every slot. Default
	// DefaultMaxTCPConnsPerSource, at most MaxTCPConns.
	MaxTCPConnsPerSource int
	// UDPSockets is the number of SO_REUSEPORT sockets, each with its own
	// goroutine, per UDP address; default runtime.GOMAXPROCS(0).
	UDPSockets int
	// CookieSecrets make DNS server cookies (RFC 9018); the first makes
	// them, all verify them. Sites that share them accept each other's
	// cookies. Empty: a random secret of this process.
	CookieSecrets [][CookieSecretLength]byte
	// DNSSECKeyDir holds this site's private DNSSEC keys, which sign the
	// zones whose settings (gslb.Zone.DNSSEC) name them (zonekeys.go).
	DNSSECKeyDir string
	// TSIGKeys may sign queries (RFC 8945); a query signed with another
	// key gets BADKEY.
	TSIGKeys []TSIGKey
	// RRL limits the rate of UDP responses per client network; the zero
	// value is off.
	RRL RRLConfig
	// NSID is returned to queries that ask for it (RFC 5001); "" is off.
	NSID string
	// ServiceMetrics is the most services whose queries are counted by
	// service name; a State with more is counted by zone and site only,
	// so /metrics stays bounded (at 100k services it was 33 MB and 3 s a
	// scrape). Default DefaultServiceMetrics.
	ServiceMetrics int
	// Logger receives errors and panics; nil means slog.Default().
	Logger *slog.Logger
}

// Defaults of Config.
const (
	DefaultTCPIdleTimeout = 10 * time.Second
	DefaultMaxTCPConns    = 1024
	// DefaultMaxTCPConnsPerSource leaves a resolver farm behind one
	// address room for its retries over TCP, and any single client far
	// from the cap.
	DefaultMaxTCPConnsPerSource = 32
	DefaultServiceMetrics       = 10_000
)

// Server is an authoritative DNS server for the zones of a gslb.Store.
type Server struct {
	cfg  Config
	log  *slog.Logger
	m    *metrics
	h    *handler
	comp *compiler
	// store is where the snapshots come from (nil in some tests);
	// pubMu orders publishing, so a view compiled from an older snapshot
	// never replaces one from a newer.
	store *gslb.Store
	pubMu sync.Mutex

	mu       sync.Mutex
	udp      []*net.UDPConn
	tcp      []net.Listener
	udpAddrs []net.Addr
	tcpAddrs []net.Addr
	conns    map[net.Conn]*tcpConn
	perSrc   map[netip.Prefix]int // open connections by source (tcpSource)
	bound    atomic.Bool
	closing  atomic.Bool
	wg       sync.WaitGroup
	// stop ends the background work (retrySigners) at Shutdown.
	stop chan struct{}
	// signerRetry: how often the keys of a signed zone this site cannot
	// sign are looked for again (a Secret mounted after the zone was
	// signed, a key file copied late).
	signerRetry time.Duration
}

// DefaultSignerRetry is how often a site without a signed zone's keys
// looks for them again.
const DefaultSignerRetry = 10 * time.Second

// New returns a server for store. It subscribes to the store: every
// published snapshot is compiled into the server's own view (static
// records parsed, apex SOA/NS and glue built) and swapped in atomically. A
// snapshot that fails to compile is logged and the previous view kept.
func New(cfg Config, store *gslb.Store) (*Server, error) {
	if len(cfg.Listen) == 0 {
		return nil, errors.New("dnsserver: no listen address")
	}
	if cfg.TCPIdleTimeout <= 0 {
		cfg.TCPIdleTimeout = DefaultTCPIdleTimeout
	}
	if cfg.MaxTCPConns <= 0 {
		cfg.MaxTCPConns = DefaultMaxTCPConns
	}
	if cfg.MaxTCPConnsPerSource <= 0 {
		cfg.MaxTCPConnsPerSource = DefaultMaxTCPConnsPerSource
	}
	cfg.MaxTCPConnsPerSource = min(cfg.MaxTCPConnsPerSource, cfg.MaxTCPConns)
	if cfg.ServiceMetrics <= 0 {
		cfg.ServiceMetrics = DefaultServiceMetrics
	}
	if cfg.UDPSockets <= 0 {
		cfg.UDPSockets = runtime.GOMAXPROCS(0)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, log: cfg.Logger, m: newMetrics(), conns: map[net.Conn]*tcpConn{}, perSrc: map[netip.Prefix]int{},
		stop: make(chan struct{}), signerRetry: DefaultSignerRetry}
	s.h = newHandler(s.m, s.log, cfg.NSID)
	s.h.rrl = newRRL(cfg.RRL, s.m, s.log)
	if err := checkTSIGKeys(cfg.TSIGKeys); err != nil {
		return nil, err
	}
	s.h.tsig = tsigKeys(cfg.TSIGKeys)
	s.h.cookies = newCookies(cfg.CookieSecrets)
	if s.h.rrl != nil {
		s.h.rrl.cookies = s.h.cookies
	}
	s.m.serviceLimit = cfg.ServiceMetrics
	s.comp = &compiler{metrics: s.m, keyDir: cfg.DNSSECKeyDir, log: s.log}
	s.store = store
	if store != nil {
		store.Subscribe(s.publish)
	}
	return s, nil
}

// publish compiles snap and makes it the view queries use.
func (s *Server) publish(snap *gslb.Snapshot) {
	if snap == nil {
		return
	}
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	v, err := s.comp.compile(snap)
	if err != nil {
		s.log.Error("dns: cannot compile snapshot; still serving the previous one", "generation", snap.Generation(), "err", err)
		return
	}
	s.h.view.Store(v)
}

// Start binds every listener, failing at the first address that cannot be
// bound (and releasing the others), then serves in goroutines.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bound.Load() || s.closing.Load() {
		return errors.New("dnsserver: already started")
	}
	for _, addr := range s.cfg.Listen {
		if err := s.listen(addr); err != nil {
			s.closeListeners()
			return err
		}
	}
	for _, c := range s.udp {
		s.wg.Add(1)
		go s.serveUDP(c)
	}
	for _, l := range s.tcp {
		s.wg.Add(1)
		go s.serveTCP(l)
	}
	s.wg.Add(1)
	go s.retrySigners()
	s.bound.Store(true)
	return nil
}

// retrySigners looks again, every signerRetry, for the keys of the signed
// zones this site could not sign, and serves the zones signed once they
// load: a site must not need a restart because its keys came late.
func (s *Server) retrySigners() {
	defer s.wg.Done()
	t := time.NewTicker(s.signerRetry)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if v := s.h.view.Load(); v != nil && v.signed && s.comp.retrySigners(v) {
			// Compile the newest snapshot, not v's: one may have been
			// published since v was read.
			snap := v.snap
			if s.store != nil {
				snap = s.store.Load()
			}
			s.publish(snap)
		}
	}
}

// listen binds UDP (cfg.UDPSockets sockets) and TCP on one address. With
// port 0 the UDP socket picks the port and TCP follows it; if TCP cannot
// have that port, a few fresh ports are tried.
func (s *Server) listen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("dns listen %q: %w", addr, err)
	}
	tries := 1
	if port == "0" {
		tries = 10
	}
	for try := 0; ; try++ {
		udps, err := listenUDP(addr, s.cfg.UDPSockets)
		if err != nil {
			return fmt.Errorf("dns listen udp %s: %w", addr, err)
		}
		bound := udps[0].LocalAddr().(*net.UDPAddr)
		tcpAddr := net.JoinHostPort(host, fmt.Sprint(bound.Port))
		l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", tcpAddr)
		if err != nil {
			for _, c := range udps {
				c.Close()
			}
			if try+1 < tries {
				continue
			}
			return fmt.Errorf("dns listen tcp %s: %w", addr, err)
		}
		s.udp = append(s.udp, udps...)
		s.tcp = append(s.tcp, l)
		s.udpAddrs = append(s.udpAddrs, bound)
		s.tcpAddrs = append(s.tcpAddrs, l.Addr())
		return nil
	}
}

func (s *Server) closeListeners() {
	for _, c := range s.udp {
		c.Close()
	}
	for _, l := range s.tcp {
		l.Close()
	}
}

// Addrs returns the bound UDP and TCP addresses, one of each per Listen
// entry, in order.
func (s *Server) Addrs() (udp, tcp []net.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]net.Addr(nil), s.udpAddrs...), append([]net.Addr(nil), s.tcpAddrs...)
}

// Ready reports whether the listeners are bound and a snapshot compiled.
func (s *Server) Ready() bool {
	return s.bound.Load() && !s.closing.Load() && s.h.view.Load() != nil
}

// Collector returns the query metrics (meridian_dns_*).
func (s *Server) Collector() prometheus.Collector { return collector{s.m} }

// Shutdown stops accepting queries, lets TCP connections finish the query
// in hand, and waits for every goroutine until ctx ends; then it closes
// what is left and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.closing.Swap(true) {
		return nil
	}
	close(s.stop)
	s.mu.Lock()
	s.closeListeners()
	for c := range s.conns {
		// Unblock the read; the connection goroutine closes it.
		c.SetReadDeadline(time.Now())
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}
