package health

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// hangGuard bounds every wait in these tests. Assertions never depend on
// it: they count probes, and the guard only turns a hang into a failure.
const hangGuard = 20 * time.Second

// Backend behaviours, switched at run time.
const (
	modeOK        int32 = iota // 200 "status: healthy"
	modeFail                   // 503
	modeWrongBody              // 200 "status: degraded"
	modeSlow                   // waits slowFor (or until the client leaves), then 200
	modeAlternate              // 200, 503, 200, ... by request count
)

const healthyBody = "status: healthy"

// backend is an HTTP or HTTPS server on a loopback VIP whose behaviour a
// test switches, and which counts what it sees.
type backend struct {
	t       *testing.T
	ip      string
	tlsConf *tls.Config
	slowFor time.Duration
	mode    atomic.Int32

	requests    atomic.Int64
	conns       atomic.Int64 // connections accepted
	inflight    atomic.Int64
	maxInflight atomic.Int64

	mu       sync.Mutex
	addr     netip.AddrPort
	srv      *http.Server
	hosts    []string // Host header of each request
	sni      []string // TLS server name of each request
	paths    []string
	methods  []string
	lastBody []byte // overrides the body of modeOK when set
}

func startBackend(t *testing.T, ip string, tlsConf *tls.Config) *backend {
	t.Helper()
	b := &backend{t: t, ip: ip, tlsConf: tlsConf, slowFor: 5 * time.Second}
	b.serve(ip + ":0")
	t.Cleanup(b.kill)
	return b
}

func (b *backend) serve(listen string) {
	b.t.Helper()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		b.t.Fatalf("listen %s: %v", listen, err)
	}
	srv := &http.Server{
		Handler:  http.HandlerFunc(b.handle),
		ErrorLog: log.New(io.Discard, "", 0), // TLS failures are what some tests want
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				b.conns.Add(1)
			}
		},
	}
	b.mu.Lock()
	b.addr = netip.MustParseAddrPort(ln.Addr().String())
	b.srv = srv
	b.mu.Unlock()
	if b.tlsConf != nil {
		ln = tls.NewListener(ln, b.tlsConf)
	}
	go srv.Serve(ln) // ends with ErrServerClosed
}

func (b *backend) handle(w http.ResponseWriter, r *http.Request) {
	n := b.requests.Add(1)
	cur := b.inflight.Add(1)
	defer b.inflight.Add(-1)
	for {
		m := b.maxInflight.Load()
		if cur <= m || b.maxInflight.CompareAndSwap(m, cur) {
			break
		}
	}
	b.mu.Lock()
	b.hosts = append(b.hosts, r.Host)
	b.paths = append(b.paths, r.URL.RequestURI())
	b.methods = append(b.methods, r.Method)
	if r.TLS != nil {
		b.sni = append(b.sni, r.TLS.ServerName)
	}
	body := b.lastBody
	b.mu.Unlock()
	if body == nil {
		body = []byte(healthyBody)
	}
	switch b.mode.Load() {
	case modeFail:
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	case modeWrongBody:
		body = []byte("status: degraded")
	case modeSlow:
		select {
		case <-time.After(b.slowFor):
		case <-r.Context().Done():
			return
		}
	case modeAlternate:
		if n%2 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
	}
	w.Write(body) // the client may be gone
}

// kill closes the listener and every connection: nothing listens, so
// connects are refused.
func (b *backend) kill() {
	b.mu.Lock()
	srv := b.srv
	b.srv = nil
	b.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// revive listens again on the same address and port.
func (b *backend) revive() { b.serve(b.addrPort().String()) }

func (b *backend) addrPort() netip.AddrPort {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.addr
}

func (b *backend) seen() (hosts, sni, paths, methods []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.hosts...), append([]string(nil), b.sni...),
		append([]string(nil), b.paths...), append([]string(nil), b.methods...)
}

// testCert is a self-signed certificate for app.example.test, made fresh
// for the test run, and a pool that trusts it.
type testCert struct {
	cert tls.Certificate
	pool *x509.CertPool
	pem  string
}

var (
	certOnce sync.Once
	certVal  testCert
)

func appCert(t *testing.T) testCert {
	t.Helper()
	certOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(1),
			Subject:               pkix.Name{CommonName: "app.example.test"},
			DNSNames:              []string{"app.example.test"},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(24 * time.Hour),
			KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
			ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			BasicConstraintsValid: true,
			IsCA:                  true,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			panic(err)
		}
		leaf, err := x509.ParseCertificate(der)
		if err != nil {
			panic(err)
		}
		pool := x509.NewCertPool()
		pool.AddCert(leaf)
		certVal = testCert{
			cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
			pool: pool,
			pem:  string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		}
	})
	return certVal
}

func serverTLS(t *testing.T) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{appCert(t).cert}, MinVersion: tls.VersionTLS12}
}

// mustTarget builds a target or fails the test.
func mustTarget(t *testing.T, ap netip.AddrPort, c Check) Target {
	t.Helper()
	tg, err := NewTarget(ap.Addr(), ap.Port(), c)
	if err != nil {
		t.Fatalf("NewTarget(%s): %v", ap, err)
	}
	return tg
}

// probeOnce builds the target's prober and runs one probe with the
// check's timeout.
func probeOnce(t *testing.T, tg Target) error {
	t.Helper()
	p, err := NewProber(tg)
	if err != nil {
		t.Fatalf("NewProber: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), tg.Check.Timeout)
	defer cancel()
	if err := p.Probe(ctx); err != nil {
		return failure(ctx, err)
	}
	return nil
}

// probeLog wraps the real probers and records every result in order, per
// target: the test's view of the probe sequence the Monitor saw.
type probeLog struct {
	mu      sync.Mutex
	results map[Key][]error
	changed chan struct{} // closed and replaced on every result
}

func newProbeLog() *probeLog {
	return &probeLog{results: make(map[Key][]error), changed: make(chan struct{})}
}

func (l *probeLog) newProber(tg Target) (Prober, error) {
	p, err := NewProber(tg)
	if err != nil {
		return nil, err
	}
	k := tg.Key()
	return ProberFunc(func(ctx context.Context) error {
		err := p.Probe(ctx)
		l.mu.Lock()
		l.results[k] = append(l.results[k], err)
		close(l.changed)
		l.changed = make(chan struct{})
		l.mu.Unlock()
		return err
	}), nil
}

func (l *probeLog) get(k Key) []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.results[k]...)
}

// waitProbes waits until k has at least n recorded probes and returns them.
func (l *probeLog) waitProbes(t *testing.T, k Key, n int) []error {
	t.Helper()
	deadline := time.After(hangGuard)
	for {
		l.mu.Lock()
		got := append([]error(nil), l.results[k]...)
		ch := l.changed
		l.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("hang guard: %s has %d probes, waited for %d", k, len(got), n)
		}
	}
}

// changeLog collects a Monitor's OnChange batches.
type changeLog struct {
	mu      sync.Mutex
	changes []Change
	batches int
	signal  chan struct{}
}

func newChangeLog() *changeLog { return &changeLog{signal: make(chan struct{}, 1)} }

func (c *changeLog) add(batch []Change) {
	c.mu.Lock()
	c.changes = append(c.changes, batch...)
	c.batches++
	c.mu.Unlock()
	select {
	case c.signal <- struct{}{}:
	default:
	}
}

func (c *changeLog) of(k Key) []Change {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Change
	for _, ch := range c.changes {
		if ch.Key == k {
			out = append(out, ch)
		}
	}
	return out
}

// waitChanges waits until k has at least n changes and returns them.
func (c *changeLog) waitChanges(t *testing.T, k Key, n int) []Change {
	t.Helper()
	deadline := time.After(hangGuard)
	for {
		if got := c.of(k); len(got) >= n {
			return got
		}
		select {
		case <-c.signal:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("hang guard: %s has %d changes %v, waited for %d", k, len(c.of(k)), c.of(k), n)
		}
	}
}

// waitFor polls cond; the guard only catches hangs.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("hang guard: still waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// leakMarkers are frames of goroutines this package starts. A goroutine
// that still runs one of them after Stop/Close is a leak.
var leakMarkers = []string{
	"health.(*Monitor)",
	"health.(*batcher[",
	"health.(*Observations).expire",
	"net/http.(*persistConn)", // a probe connection nobody closed
}

// checkNoLeaks fails when goroutines of the package outlive their owner.
// It polls, because a goroutine that was told to stop may need a moment
// to return.
func checkNoLeaks(t *testing.T) {
	t.Helper()
	var leaked []string
	deadline := time.Now().Add(hangGuard)
	for {
		leaked = leaked[:0]
		buf := make([]byte, 4<<20)
		buf = buf[:runtime.Stack(buf, true)]
		for _, g := range strings.Split(string(buf), "\n\n") {
			for _, m := range leakMarkers {
				if strings.Contains(g, m) {
					leaked = append(leaked, g)
					break
				}
			}
		}
		if len(leaked) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines leaked:\n%s", len(leaked), strings.Join(leaked, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fastCheck is an HTTP check at test speed.
func fastCheck(kind Kind) Check {
	return Check{
		Kind:     kind,
		Interval: 100 * time.Millisecond,
		Timeout:  80 * time.Millisecond,
		Rise:     2,
		Fall:     3,
		Jitter:   Jitter{Off: true},
	}
}

func reasonOf(err error) Reason {
	var pe *ProbeError
	if errors.As(err, &pe) {
		return pe.Reason
	}
	return Classify(err)
}

func fmtResults(rs []error) string {
	var sb strings.Builder
	for i, r := range rs {
		if r == nil {
			fmt.Fprintf(&sb, "%d:ok ", i+1)
		} else {
			fmt.Fprintf(&sb, "%d:%s ", i+1, reasonOf(r))
		}
	}
	return sb.String()
}
