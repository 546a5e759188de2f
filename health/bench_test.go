package health

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkMonitor measures the CPU cost of probing 1,000 and 10,000 TCP
// targets every second (issue #3). Each op is one second of steady-state
// probing; cpu-ms/s is the process's user+system CPU time per wall
// second (getrusage), 1000 meaning one full core, split into user-ms/s
// and sys-ms/s (the kernel's share), and cpu-us/probe the same per probe.
// probes/s says whether the monitor kept up (n targets: n probes/s);
// probe-ms and probe-max-ms are the mean and largest latency of every
// target's last probe. B/op and allocs/op are what the process allocated
// in that second. Run it with a fixed number of seconds (b.Loop: the
// listeners are set up once):
//
//	go test -run '^$' -bench Monitor -benchtime 10x -count 1 ./health
//
// The listeners never accept: the kernel completes each handshake into
// the accept queue, so no test server's goroutines are counted, only the
// prober's (its goroutines, timers and sockets) and the kernel's work for
// its connects. On loopback that kernel work includes most of the
// listening side's (the SYN-ACK, the queued socket), which the sending
// thread does, so the figure is if anything above what probing remote
// backends costs.
//
// Nothing accepts, so every probe leaves one closed connection in its
// listener's accept queue until the listener closes: one more per target
// per second. A queue holds min(net.core.somaxconn, 65535) connections
// (4096 on current kernels), so it would fill, and SYNs be dropped, only
// after that many seconds; the benchmark stops before (maxProbeTime).
// The queued sockets cost kernel memory, about 2.5 KB each: 10,000
// targets for 20 s hold about 200,000 of them, 0.5 GB, freed at the end.
func BenchmarkMonitor(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("targets=%d", n), func(b *testing.B) { benchMonitor(b, n) })
	}
}

// listenersPerAddr spreads the listeners over several loopback addresses
// (127.20.0.1, 127.20.1.1, ...), as many targets of a real deployment are
// spread over many VIPs.
const listenersPerAddr = 250

func benchMonitor(b *testing.B, n int) {
	// One descriptor per listener, one per probe in flight, and some for
	// the runtime and the test binary. Go raises the soft limit to the
	// hard one at start.
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < uint64(n+DefaultConcurrency+128) {
		b.Skipf("%d targets need about %d file descriptors; RLIMIT_NOFILE is %d (raise it with ulimit -n)", n, n+DefaultConcurrency+128, lim.Cur)
	}
	opened := time.Now()
	targets := make(map[Key]Target, n)
	for i := range n {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.20.%d.1:0", i/listenersPerAddr))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { ln.Close() })
		ap := netip.MustParseAddrPort(ln.Addr().String())
		tg, err := NewTarget(ap.Addr(), ap.Port(),
			Check{Kind: KindTCP, Interval: time.Second}) // timeout 500ms, jitter 10%: the defaults for 1 s
		if err != nil {
			b.Fatal(err)
		}
		targets[tg.Key()] = tg
	}
	m := NewMonitor(Options{Metrics: NewMetrics()}) // concurrency: DefaultConcurrency
	defer m.Stop()
	if err := m.SetTargets(targets); err != nil {
		b.Fatal(err)
	}
	// Warm up until every target is up (rise 2: about 1-2 s), so the
	// measurement is steady state.
	deadline := time.Now().Add(hangGuard)
	for {
		up := 0
		for _, s := range m.Status() {
			if s.State == StateUp {
				up++
			}
		}
		if up == n {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d targets up", up, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	probes := func() (total, skipped uint64) {
		for _, s := range m.Status() {
			total += s.Probes
			skipped += s.Skipped
		}
		return total, skipped
	}
	maxProbing := maxProbeTime()

	p0, s0 := probes()
	ru0, t0 := rusage(b), time.Now()
	for b.Loop() {
		time.Sleep(time.Second)
		if time.Since(opened) > maxProbing {
			b.Fatalf("stopping after %v: the listeners' accept queues (net.core.somaxconn) would fill; run fewer seconds", maxProbing)
		}
	}
	elapsed, ru1 := time.Since(t0), rusage(b)
	p1, s1 := probes()
	cpu := cpuTime(ru1) - cpuTime(ru0)
	perSecond := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / elapsed.Seconds() }
	b.ReportMetric(perSecond(cpu), "cpu-ms/s")
	b.ReportMetric(perSecond(time.Duration(ru1.Utime.Nano()-ru0.Utime.Nano())), "user-ms/s")
	b.ReportMetric(perSecond(time.Duration(ru1.Stime.Nano()-ru0.Stime.Nano())), "sys-ms/s")
	b.ReportMetric(float64(p1-p0)/elapsed.Seconds(), "probes/s")
	b.ReportMetric(float64(s1-s0)/elapsed.Seconds(), "skipped/s")
	if p1 > p0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(p1-p0), "cpu-us/probe")
	}
	// The latency of each target's last probe: a loopback connect takes
	// well under a millisecond, so more is time spent waiting for a CPU.
	status := m.Status()
	var latSum, latMax time.Duration
	for _, s := range status {
		latSum += s.LastLatency
		latMax = max(latMax, s.LastLatency)
	}
	b.ReportMetric(float64(latSum.Microseconds())/1000/float64(len(status)), "probe-ms")
	b.ReportMetric(float64(latMax.Microseconds())/1000, "probe-max-ms")
	down := 0
	for _, s := range status {
		if s.State != StateUp {
			if down == 0 {
				b.Errorf("%s went %s: %s", s.Target, s.State, s.LastError)
			}
			down++
		}
	}
	if down > 0 {
		b.Errorf("%d of %d targets not up after the measurement", down, n)
	}
}

// maxProbeTime is how long the listeners can take one probe a second
// without accepting before their accept queues fill, with a margin: Go
// listens with a backlog of net.core.somaxconn, at most 65535.
func maxProbeTime() time.Duration {
	backlog := 128 // Linux's historical default, if /proc cannot tell
	if b, err := os.ReadFile("/proc/sys/net/core/somaxconn"); err == nil {
		if v, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && v > 0 {
			backlog = min(v, 65535)
		}
	}
	return time.Duration(backlog) * time.Second * 9 / 10
}

func rusage(b *testing.B) syscall.Rusage {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru
}

func cpuTime(ru syscall.Rusage) time.Duration {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
