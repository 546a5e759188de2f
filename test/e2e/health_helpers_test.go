package e2e

// Helpers of the health tests: real HTTP, HTTPS and TCP backends on
// loopback VIPs (127.x.y.z), config files with health checks, and bounded
// polling of DNS answers and /api/v1/health. Assertions never depend on
// elapsed time: a transition is awaited by polling, and the bound
// (hangGuard) only turns a hang into a failure.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/test/proctest"
)

// hangGuard bounds every wait of the health tests.
const hangGuard = 20 * time.Second

// The fast check the health tests use: transitions take a few hundred ms.
const (
	testInterval = "250ms"
	testTimeout  = "200ms"
	testRise     = 2
	testFall     = 2
)

// Backend behaviours, switched while the backend runs.
const (
	modeOK        int32 = iota // 200 with healthyBody
	modeFail                   // 503
	modeWrongBody              // 200 with another body
	modeSlow                   // 200, but only after slowFor (longer than the check's timeout)
	modeAlternate              // 200, 503, 200, 503... by request
)

const (
	healthyBody = "status: healthy"
	slowFor     = 2 * time.Second
)

// backend is an HTTP(S) server, or a bare TCP listener, on addr, which a
// test can kill (nothing listens: connects are refused) and revive on the
// same address, and whose answers it can switch.
type backend struct {
	t        *testing.T
	addr     string
	tlsConf  *tls.Config // HTTPS when set
	rawTCP   bool        // accept and close, no HTTP
	mode     atomic.Int32
	requests atomic.Int64 // HTTP requests answered (or TCP connections accepted)
	// delay holds every HTTP answer back this long (nanoseconds): a far
	// away member, for the latency strategy.
	delay atomic.Int64

	mu     sync.Mutex
	ln     net.Listener
	srv    *http.Server
	sni    []string
	closed chan struct{} // rawTCP: closed when the accept loop ends
}

// startBackendOn serves HTTP (HTTPS with tlsConf) on ln, bound already:
// no other process can take its port before the backend serves.
func startBackendOn(t *testing.T, ln net.Listener, tlsConf *tls.Config) *backend {
	t.Helper()
	return serveBackend(t, &backend{t: t, addr: ln.Addr().String(), tlsConf: tlsConf}, ln)
}

// startTCPBackendOn accepts and closes TCP connections on ln.
func startTCPBackendOn(t *testing.T, ln net.Listener) *backend {
	t.Helper()
	return serveBackend(t, &backend{t: t, addr: ln.Addr().String(), rawTCP: true}, ln)
}

func serveBackend(t *testing.T, b *backend, ln net.Listener) *backend {
	t.Helper()
	b.serve(ln)
	t.Cleanup(b.kill)
	return b
}

// revive listens on the backend's address again, after kill.
func (b *backend) revive() {
	b.t.Helper()
	b.serve(b.listen())
}

func (b *backend) listen() net.Listener {
	b.t.Helper()
	var ln net.Listener
	var err error
	// The port was just released by kill; a moment may pass before the
	// kernel lets it go (a listener has no TIME_WAIT, but be patient).
	for i := 0; ; i++ {
		if ln, err = net.Listen("tcp", b.addr); err == nil || i == 50 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		b.t.Fatalf("backend listen %s: %v", b.addr, err)
	}
	return ln
}

// serve accepts on ln until kill.
func (b *backend) serve(ln net.Listener) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ln = ln
	if b.rawTCP {
		b.closed = make(chan struct{})
		go func(done chan struct{}) {
			defer close(done)
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				b.requests.Add(1)
				c.Close()
			}
		}(b.closed)
		return
	}
	srv := &http.Server{Handler: http.HandlerFunc(b.handle), ErrorLog: log.New(io.Discard, "", 0)}
	b.srv = srv
	if b.tlsConf != nil {
		ln = tls.NewListener(ln, b.tlsConf)
	}
	go func() { _ = srv.Serve(ln) }() // ends with ErrServerClosed
}

// kill closes the listener and every open connection.
func (b *backend) kill() {
	b.mu.Lock()
	ln, srv, closed := b.ln, b.srv, b.closed
	b.ln, b.srv, b.closed = nil, nil, nil
	b.mu.Unlock()
	if srv != nil {
		srv.Close()
	} else if ln != nil {
		ln.Close()
		<-closed
	}
}

func (b *backend) handle(w http.ResponseWriter, r *http.Request) {
	n := b.requests.Add(1)
	if r.TLS != nil {
		b.mu.Lock()
		b.sni = append(b.sni, r.TLS.ServerName)
		b.mu.Unlock()
	}
	if d := time.Duration(b.delay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	switch b.mode.Load() {
	case modeFail:
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	case modeWrongBody:
		_, _ = io.WriteString(w, "status: degraded")
		return
	case modeSlow:
		select {
		case <-time.After(slowFor):
		case <-r.Context().Done():
			return
		}
	case modeAlternate:
		if n%2 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
	}
	_, _ = io.WriteString(w, healthyBody)
}

// freePortOn returns a port free (TCP and UDP) on every one of ips, for a
// program that cannot listen on port 0 and report its port (see
// proctest.PortFreeOn: gossip listeners, for example). For the test's own
// backends use listenSamePort, which keeps the port bound.
func freePortOn(t *testing.T, ips ...string) int {
	t.Helper()
	port, err := proctest.PortFreeOn(ips...)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// listenSamePort binds one TCP port on every one of ips, so that the
// backends of one service share the check's port, and returns the port
// and the listeners in the order of ips, for startBackendOn. Listeners no
// backend took are closed when the test ends.
func listenSamePort(t *testing.T, ips ...string) (int, []net.Listener) {
	t.Helper()
	for range 100 {
		first, err := net.Listen("tcp", hostPort(ips[0], 0))
		if err != nil {
			t.Fatalf("listen on %s: %v", ips[0], err)
		}
		port := first.Addr().(*net.TCPAddr).Port
		lns := []net.Listener{first}
		for _, ip := range ips[1:] {
			ln, err := net.Listen("tcp", hostPort(ip, port))
			if err != nil {
				break
			}
			lns = append(lns, ln)
		}
		if len(lns) == len(ips) {
			t.Cleanup(func() {
				for _, ln := range lns {
					ln.Close() // "use of closed" for those a backend closed: harmless
				}
			})
			return port, lns
		}
		for _, ln := range lns {
			ln.Close()
		}
	}
	t.Fatalf("no TCP port free on all of %v", ips)
	return 0, nil
}

// ---- configuration ----

// hsvc is one service of a health test's config, each part written as a
// YAML flow map.
type hsvc struct {
	name    string   // "app" -> app.health.test.
	policy  string   // "{strategy: roundrobin, ttl: 30}"
	check   string   // "{kind: http, port: 8080}", "" for none
	members []string // "{site: a, addresses: [127.31.1.1]}"
}

// healthConfig writes the config of a health test into dir: zone
// health.test., sites a b c, the services, and extra top-level YAML.
func healthConfig(t *testing.T, dir string, svcs []hsvc, extra string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(`log: {level: debug}
zones:
  - name: health.test.
    soa: {mname: ns1.health.test., rname: hostmaster.health.test., serial: 1, minimum: 60}
    nameservers: [{name: ns1.health.test., addresses: [127.0.0.1]}]
sites:
  - {name: a, location: {lat: 39.04, lon: -77.49, country: US, continent: NA}}
  - {name: b, location: {lat: 53.35, lon: -6.26, country: IE, continent: EU}}
  - {name: c, location: {lat: 19.08, lon: 72.88, country: IN, continent: AS}}
services:
`)
	for _, s := range svcs {
		fmt.Fprintf(&b, "  - name: %s.health.test.\n    policy: %s\n", s.name, s.policy)
		if s.check != "" {
			fmt.Fprintf(&b, "    health_check: %s\n", s.check)
		}
		b.WriteString("    members:\n")
		for _, m := range s.members {
			fmt.Fprintf(&b, "      - %s\n", m)
		}
	}
	b.WriteString(extra)
	return writeFile(t, dir, "meridian.yaml", b.String())
}

// httpCheck is the tests' fast HTTP check on port, with more YAML keys.
func httpCheck(kind string, port int, more string) string {
	s := fmt.Sprintf("{kind: %s, port: %d, interval: %s, timeout: %s, rise: %d, fall: %d", kind, port, testInterval, testTimeout, testRise, testFall)
	if more != "" {
		s += ", " + more
	}
	return s + "}"
}

// startHealthMeridian serves the config on loopback, on ports the server
// chooses.
func startHealthMeridian(t *testing.T, cfg string) *meridian {
	t.Helper()
	return startMeridian(t, cfg, []string{"127.0.0.1:0"}, "127.0.0.1:0")
}

// ---- DNS ----

// answer is one DNS response, reduced to what the health tests compare.
type answer struct {
	rcode int
	addrs []string // sorted
	ttl   uint32   // of the first address record; 0 when none
}

func (a answer) String() string {
	return fmt.Sprintf("%s %v ttl=%d", dns.RcodeToString[a.rcode], a.addrs, a.ttl)
}

// ask queries m for name (A, over UDP, from 127.0.0.1: no ECS).
func ask(t *testing.T, m *meridian, name string) answer {
	t.Helper()
	r := exchange(t, m.DNS[0], dnsQuery{name: name, qtype: dns.TypeA})
	a := answer{rcode: r.Rcode, addrs: addrs(r)}
	slices.Sort(a.addrs)
	if len(r.Answer) > 0 {
		a.ttl = r.Answer[0].Header().Ttl
	}
	return a
}

// waitAnswer polls name until want accepts the answer, and returns it.
// On a hang it fails with the last answer and the health status.
func waitAnswer(t *testing.T, m *meridian, name, what string, want func(answer) bool) answer {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	var last answer
	for {
		last = ask(t, m, name)
		if want(last) {
			return last
		}
		if time.Now().After(deadline) {
			_, body := proctest.HTTP(t, "GET", m.HTTP+"/api/v1/health")
			t.Fatalf("%s: %s still answers %s after %v\n/api/v1/health:\n%s", what, name, last, hangGuard, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// exactly accepts an answer with exactly these addresses.
func exactly(want ...string) func(answer) bool {
	slices.Sort(want)
	return func(a answer) bool { return a.rcode == dns.RcodeSuccess && slices.Equal(a.addrs, want) }
}

// ---- /api/v1/health ----

// healthStatus is the part of /api/v1/health the tests read.
type healthStatus struct {
	Targets []struct {
		Target     string `json:"target"`
		State      string `json:"state"`
		Verdict    string `json:"verdict"`
		Successes  int    `json:"consecutive_successes"`
		Failures   int    `json:"consecutive_failures"`
		Probes     uint64 `json:"probes"`
		LastError  string `json:"last_error"`
		LastReason string `json:"last_reason"`
		Services   []string
	} `json:"targets"`
	Services []struct {
		Name    string `json:"name"`
		Members []struct {
			Member   string `json:"member"`
			Health   string `json:"health"`
			Admin    string `json:"admin"`
			Eligible bool   `json:"eligible"`
			Detail   string `json:"detail"`
		} `json:"members"`
	} `json:"services"`
}

func getHealth(t *testing.T, m *meridian) healthStatus {
	t.Helper()
	code, body := proctest.HTTP(t, "GET", m.HTTP+"/api/v1/health")
	var h healthStatus
	if code != http.StatusOK || json.Unmarshal([]byte(body), &h) != nil {
		t.Fatalf("/api/v1/health: %d %s", code, body)
	}
	return h
}

// target returns the status of the target probing addr ("ip:port").
func (h healthStatus) target(t *testing.T, addr string) (state string, failures, successes int, reason, lastErr string) {
	t.Helper()
	for _, tg := range h.Targets {
		if strings.HasPrefix(tg.Target, addr+"/") {
			return tg.State, tg.Failures, tg.Successes, tg.LastReason, tg.LastError
		}
	}
	t.Fatalf("no target %s in /api/v1/health: %+v", addr, h.Targets)
	return
}

// waitTargets polls /api/v1/health until every listed target is in state.
func waitTargets(t *testing.T, m *meridian, state string, addrs ...string) healthStatus {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for {
		h := getHealth(t, m)
		done := true
		for _, a := range addrs {
			if s, _, _, _, _ := h.target(t, a); s != state {
				done = false
			}
		}
		if done {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("targets %v not all %s after %v: %+v", addrs, state, hangGuard, h.Targets)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ---- TLS ----

// testCA is a CA and a server certificate it signed for some names.
type testCA struct {
	pemFile string // the CA certificate, PEM, in the test's directory
	server  tls.Certificate
}

// newTestCA makes a CA in dir and a certificate for names signed by it.
func newTestCA(t *testing.T, dir string, names ...string) testCA {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "meridian e2e test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "ca-"+strconv.Itoa(len(names))+"-"+names[0]+".pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	return testCA{pemFile: file, server: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}
}

func (c testCA) serverConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{c.server}, MinVersion: tls.VersionTLS12}
}

// ---- admin API ----

// adminCall sends an admin request with token ("" for none) and returns
// the status and body.
func adminCall(t *testing.T, m *meridian, method, path, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, m.HTTP+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return proctest.HTTPDo(t, req)
}
