package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/health"
)

// BenchmarkFailover measures how long a dead backend stays in the answers
// (issue #3): the time from a backend's death to the first DNS answer
// without it, over a series of trials, with the health check at interval
// 1 s, fast_interval 200 ms (the default for 1 s: the re-probe interval
// while a member is in doubt), timeout 500 ms, fall 2, rise 2 (jitter: the
// default 10%).
//
// The whole server runs in process (config.Load, New, Run, as `meridian
// serve` does) on loopback: one service, app.bench.example., with member
// A (127.30.1.1, site a, priority 1) and member B (127.30.2.1, site b,
// priority 2), each probed with GET /healthz at a real HTTP backend on
// its own address. Each trial waits until A is up and answered, waits a
// random fraction of the interval (a backend dies at any point of the
// probe schedule, not just after a probe), kills A's backend, and queries
// the server over UDP every 10 ms until the answer no longer holds A; it
// then waits a random fraction of the interval again, revives the
// backend, and waits for A to come back.
//
// Two deaths, as sub-benchmarks:
//
//   - death=refused: the backend's listener and connections close, so
//     probes are refused at once (a crashed process, a stopped pod).
//   - death=timeout: the backend accepts but never answers, so each probe
//     fails only at its 500 ms timeout (a hung process).
//
// Metrics: p50-s, p99-s and max-s of the failover time over all trials
// (nearest-rank percentiles: with 20 trials p99 is the largest), trials,
// and back-p50-s, the median time from revival to the first answer with A
// again (rise 2). Resolver caches are not included: a resolver that
// cached an answer with A keeps it for that answer's TTL (policy.ttl), so
// for clients the ttl adds to these times.
//
// One op is one whole series, about 4.5 s a trial; run it once:
//
//	go test -run '^$' -bench Failover -benchtime 1x -count 1 ./control
//
// (More ops run more series against the same server, and the metrics
// cover every trial.)
// MERIDIAN_BENCH_FAILOVER_TRIALS sets the trials of a series (default 20),
// MERIDIAN_BENCH_FAILOVER_FAST_INTERVAL the check's fast_interval (default
// 200ms; 1s, the interval, turns fast re-probing off).
func BenchmarkFailover(b *testing.B) {
	for _, death := range []deathMode{deathRefused, deathTimeout} {
		b.Run("death="+string(death), func(b *testing.B) { benchFailover(b, death) })
	}
}

// deathMode is how a backend dies.
type deathMode string

const (
	deathRefused deathMode = "refused" // listener and connections closed
	deathTimeout deathMode = "timeout" // accepts, never answers
)

const (
	defaultFailoverTrials = 20
	failoverPoll          = 10 * time.Millisecond
	failoverInterval      = time.Second // the check's interval, in the config below
	failoverGuard         = 15 * time.Second
	failoverService       = "app.bench.example."
)

const failoverConfig = `# BenchmarkFailover's server
dns:
  listen: ["127.0.0.1:0"]
http:
  listen: "127.0.0.1:0"
log:
  level: warn
zones:
  - name: bench.example.
    nameservers:
      - name: ns1.bench.example.
        addresses: [127.0.0.1]
sites:
  - name: a
  - name: b
services:
  - name: app.bench.example.
    policy:
      ttl: 30
      degraded_ttl: 1
    health_check:
      kind: http
      port: %d
      path: /healthz
      interval: 1s
      fast_interval: %s
      timeout: 500ms
      rise: 2
      fall: 2
    members:
      - {site: a, addresses: [%s], priority: 1}
      - {site: b, addresses: [%s], priority: 2}
`

func benchFailover(b *testing.B, death deathMode) {
	trials := defaultFailoverTrials
	if v := os.Getenv("MERIDIAN_BENCH_FAILOVER_TRIALS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("MERIDIAN_BENCH_FAILOVER_TRIALS=%q: want a positive number", v)
		}
		trials = n
	}

	addrA, addrB := netip.MustParseAddr("127.30.1.1"), netip.MustParseAddr("127.30.2.1")
	backA, _ := startBackendPair(b, addrA, addrB) // B serves throughout
	dir := b.TempDir()
	path := filepath.Join(dir, "meridian.yaml")
	fast := "200ms"
	if v := os.Getenv("MERIDIAN_BENCH_FAILOVER_FAST_INTERVAL"); v != "" {
		fast = v // the config loader judges it
	}
	cfg := fmt.Sprintf(failoverConfig, backA.addr.Port(), fast, addrA, addrB)
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		b.Fatal(err)
	}
	s, dnsAddr := startInProcess(b, path)
	q := &dnsProbe{addr: dnsAddr, client: &dns.Client{Net: "udp", Timeout: 500 * time.Millisecond}}
	aUp := func() bool {
		for _, st := range s.pub.Targets() {
			if st.Key.Addr == addrA {
				return st.State == health.StateUp
			}
		}
		return false
	}

	var failover, back []time.Duration
	for b.Loop() {
		for i := range trials {
			// A up (not just unknown, which also answers) and answered.
			q.waitFor(b, fmt.Sprintf("trial %d: A up and answered", i), func(ans []netip.Addr) bool {
				return aUp() && slices.Equal(ans, []netip.Addr{addrA})
			})
			time.Sleep(rand.N(failoverInterval))

			backA.kill(b, death)
			died := time.Now()
			var last []netip.Addr
			gone := q.waitFor(b, fmt.Sprintf("trial %d: an answer without A after its death", i), func(ans []netip.Addr) bool {
				last = ans
				return !slices.Contains(ans, addrA)
			})
			if !slices.Equal(last, []netip.Addr{addrB}) {
				b.Fatalf("trial %d: after A died the answer is %v, want [%v] (priority 2)", i, last, addrB)
			}
			failover = append(failover, gone.Sub(died))

			// The answer changed right after a probe; revive at a random
			// point of the schedule too, or back-p50-s would measure one
			// phase only.
			time.Sleep(rand.N(failoverInterval))
			backA.revive(b)
			revived := time.Now()
			again := q.waitFor(b, fmt.Sprintf("trial %d: A back in the answer after revival", i), func(ans []netip.Addr) bool {
				return slices.Contains(ans, addrA)
			})
			back = append(back, again.Sub(revived))
		}
	}
	if q.errors > 0 {
		b.Logf("%d DNS queries failed (timeouts or errors) during the series", q.errors)
	}
	slices.Sort(failover)
	slices.Sort(back)
	b.ReportMetric(percentile(failover, 0.50).Seconds(), "p50-s")
	b.ReportMetric(percentile(failover, 0.99).Seconds(), "p99-s")
	b.ReportMetric(failover[len(failover)-1].Seconds(), "max-s")
	b.ReportMetric(float64(len(failover)), "trials")
	b.ReportMetric(percentile(back, 0.50).Seconds(), "back-p50-s")
	b.Logf("death=%s failover times: %v", death, roundAll(failover))
}

// percentile is the nearest-rank percentile of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}

// startInProcess runs the server of `meridian serve --config path` in
// this process until the benchmark ends, and returns it with its DNS
// address.
func startInProcess(b *testing.B, path string) (*Server, string) {
	b.Helper()
	opts := config.Options{File: path}
	l, err := config.Load(opts)
	if err != nil {
		b.Fatal(err)
	}
	level := new(slog.LevelVar)
	level.Set(slog.LevelWarn)
	s, err := New(l, Options{Load: opts, Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})), Level: level})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, make(chan os.Signal), "") }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("serve: %v", err)
		}
	})
	deadline := time.Now().Add(failoverGuard)
	for ok, why := s.Ready(); !ok; ok, why = s.Ready() {
		if time.Now().After(deadline) {
			b.Fatalf("server not ready: %s", why)
		}
		time.Sleep(10 * time.Millisecond)
	}
	udp, _ := s.dns.Addrs()
	if len(udp) == 0 {
		b.Fatal("no DNS UDP address")
	}
	return s, udp[0].String()
}

// dnsProbe asks the server for the service's A records.
type dnsProbe struct {
	addr   string
	client *dns.Client
	errors int
}

// answer is the A records of one query, sorted; ok is false when the
// query failed (timeout, error rcode).
func (p *dnsProbe) answer() ([]netip.Addr, bool) {
	m := new(dns.Msg)
	m.SetQuestion(failoverService, dns.TypeA)
	r, _, err := p.client.Exchange(m, p.addr)
	if err != nil || r.Rcode != dns.RcodeSuccess {
		p.errors++
		return nil, false
	}
	var out []netip.Addr
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			if ip, ok := netip.AddrFromSlice(a.A); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out, true
}

// waitFor queries every failoverPoll until cond holds for an answer, and
// returns when that answer arrived.
func (p *dnsProbe) waitFor(b *testing.B, what string, cond func([]netip.Addr) bool) time.Time {
	b.Helper()
	deadline := time.Now().Add(failoverGuard)
	for {
		ans, ok := p.answer()
		at := time.Now()
		if ok && cond(ans) {
			return at
		}
		if at.After(deadline) {
			b.Fatalf("timed out waiting for %s (last answer %v)", what, ans)
		}
		time.Sleep(failoverPoll)
	}
}

// testBackend is an HTTP backend on a loopback VIP that can die and come
// back on the same address.
type testBackend struct {
	addr netip.AddrPort

	mu   sync.Mutex
	srv  *http.Server  // nil while dead by deathRefused
	hang chan struct{} // non-nil while dead by deathTimeout: handlers wait on it
}

// startBackendPair starts two backends on the same free port of two
// addresses: the service's check has one port.
func startBackendPair(b *testing.B, a, c netip.Addr) (*testBackend, *testBackend) {
	b.Helper()
	for range 50 {
		lnA, err := net.Listen("tcp", netip.AddrPortFrom(a, 0).String())
		if err != nil {
			b.Fatal(err)
		}
		port := netip.MustParseAddrPort(lnA.Addr().String()).Port()
		lnC, err := net.Listen("tcp", netip.AddrPortFrom(c, port).String())
		if err != nil {
			lnA.Close() // taken on the second address: try another port
			continue
		}
		ba := &testBackend{addr: netip.AddrPortFrom(a, port)}
		bc := &testBackend{addr: netip.AddrPortFrom(c, port)}
		ba.serve(lnA)
		bc.serve(lnC)
		b.Cleanup(func() { ba.close(); bc.close() })
		return ba, bc
	}
	b.Fatalf("no port free on both %v and %v", a, c)
	return nil, nil
}

func (k *testBackend) serve(ln net.Listener) {
	srv := &http.Server{Handler: k, ReadHeaderTimeout: 5 * time.Second}
	k.mu.Lock()
	k.srv = srv
	k.mu.Unlock()
	go srv.Serve(ln) // ErrServerClosed at kill
}

func (k *testBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	hang := k.hang
	k.mu.Unlock()
	if hang != nil {
		select {
		case <-hang:
			// Revived: a request that hung does not succeed late (the
			// connection closes without an answer), so the time back
			// counts from the probes after the revival.
			panic(http.ErrAbortHandler)
		case <-r.Context().Done(): // the probe gave up
		}
		return
	}
	io.WriteString(w, "ok\n")
}

// kill makes the backend dead; the death has happened when it returns.
func (k *testBackend) kill(b *testing.B, mode deathMode) {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch mode {
	case deathRefused:
		// Close closes the listener and every connection: the next
		// connect is refused and a probe in flight fails.
		if err := k.srv.Close(); err != nil {
			b.Fatal(err)
		}
		k.srv = nil
	case deathTimeout:
		k.hang = make(chan struct{})
	}
}

// revive brings the backend back on its address.
func (k *testBackend) revive(b *testing.B) {
	k.mu.Lock()
	if k.hang != nil {
		close(k.hang)
		k.hang = nil
	}
	dead := k.srv == nil
	k.mu.Unlock()
	if !dead {
		return
	}
	deadline := time.Now().Add(failoverGuard)
	for {
		ln, err := net.Listen("tcp", k.addr.String())
		if err == nil {
			k.serve(ln)
			return
		}
		if !errors.Is(err, syscall.EADDRINUSE) || time.Now().After(deadline) {
			b.Fatalf("revive %v: %v", k.addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (k *testBackend) close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.hang != nil {
		close(k.hang)
		k.hang = nil
	}
	if k.srv != nil {
		k.srv.Close()
		k.srv = nil
	}
}
