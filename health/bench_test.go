package health

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"
)

// BenchmarkMonitor1000Targets measures the CPU cost of probing 1,000 TCP
// targets every second: each op is one second of steady-state probing,
// and cpu-ms/s is the process's user+system CPU time per wall second
// (getrusage), 1000 meaning one full core.
//
// The listeners never accept: the kernel completes each handshake into
// the accept queue, so the figure is the prober's cost (its goroutines,
// timers, sockets and the kernel's work for its connects) and not a test
// server's. At 1 probe per listener per second the queues cannot fill.
func BenchmarkMonitor1000Targets(b *testing.B) {
	const n = 1000
	targets := make(map[Key]Target, n)
	for i := range n {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.20.%d.1:0", i/250))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { ln.Close() })
		tg, err := NewTarget(netip.MustParseAddrPort(ln.Addr().String()).Addr(),
			netip.MustParseAddrPort(ln.Addr().String()).Port(),
			Check{Kind: KindTCP, Interval: time.Second}) // timeout 500ms, jitter 10%: the defaults for 1 s
		if err != nil {
			b.Fatal(err)
		}
		targets[tg.Key()] = tg
	}
	m := NewMonitor(Options{Metrics: NewMetrics()})
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

	p0, s0 := probes()
	ru0, t0 := rusage(b), time.Now()
	b.ResetTimer()
	for range b.N {
		time.Sleep(time.Second)
	}
	b.StopTimer()
	elapsed, ru1 := time.Since(t0), rusage(b)
	p1, s1 := probes()
	cpu := cpuTime(ru1) - cpuTime(ru0)
	b.ReportMetric(float64(cpu.Milliseconds())/elapsed.Seconds(), "cpu-ms/s")
	b.ReportMetric(float64(p1-p0)/elapsed.Seconds(), "probes/s")
	b.ReportMetric(float64(s1-s0)/elapsed.Seconds(), "skipped/s")
	for _, s := range m.Status() {
		if s.State != StateUp {
			b.Errorf("%s went %s: %s", s.Target, s.State, s.LastError)
			break
		}
	}
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
