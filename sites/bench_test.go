package sites

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/gslb"
)

// arrivals waits for one generation to reach every follower.
type arrivals struct {
	mu        sync.Mutex
	gen       uint64
	remaining int
	done      chan struct{}
}

func (a *arrivals) expect(gen uint64, n int) <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.gen, a.remaining, a.done = gen, n, make(chan struct{})
	return a.done
}

func (a *arrivals) onState(st *gslb.State) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if st.Generation == a.gen && a.remaining > 0 {
		a.remaining--
		if a.remaining == 0 {
			close(a.done)
		}
	}
}

// benchPropagation measures, per publication, the time from Publish to
// the moment the last follower's OnState has the new state: announcement,
// transfer, hash check, decode, state file, callback.
func benchPropagation(b *testing.B, sites int, timing Timing) {
	arr := &arrivals{}
	dir := b.TempDir()
	leader, _ := startCluster(b, sites-1, func(i int, c *Config) {
		c.Timing = timing
		c.PushPullInterval = 0 // the profile's
		if i > 0 {
			c.OnState = arr.onState
			c.StateFile = fmt.Sprintf("%s/state-%d.json", dir, i)
		}
	})
	var lat []time.Duration
	gen := uint64(0)
	for b.Loop() {
		gen++
		st := makeState(1, gen, 100)
		done := arr.expect(gen, sites-1)
		start := time.Now()
		if err := leader.Publish(st); err != nil {
			b.Fatal(err)
		}
		select {
		case <-done:
			lat = append(lat, time.Since(start))
		case <-time.After(hangGuard):
			b.Fatalf("generation %d did not reach every site", gen)
		}
	}
	slices.Sort(lat)
	q := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}

// BenchmarkPropagation3 is a change reaching 3 sites (leader and two
// followers) on loopback; run with -benchtime=200x for a stable p99.
func BenchmarkPropagation3(b *testing.B) {
	for _, tm := range []Timing{TimingWAN, TimingLAN} {
		b.Run(string(tm), func(b *testing.B) { benchPropagation(b, 3, tm) })
	}
}

// BenchmarkPropagation20 is the same with 20 sites.
func BenchmarkPropagation20(b *testing.B) {
	for _, tm := range []Timing{TimingWAN, TimingLAN} {
		b.Run(string(tm), func(b *testing.B) { benchPropagation(b, 20, tm) })
	}
}

// benchTransfer reports a state's encoded and compressed size and the
// leader's publish cost, then times one follower fetch per iteration:
// TCP transfer (sealed frames), gunzip, SHA-256, gslb.DecodeState with
// validation.
func benchTransfer(b *testing.B, services int) {
	st := makeState(1, 1, services)
	leader := startNode(b, "leader", "gslb", RoleLeader, nil)
	f := startNode(b, "f", "site", RoleFollower, nil)
	start := time.Now()
	if err := leader.Publish(st); err != nil {
		b.Fatal(err)
	}
	publish := time.Since(start)
	h := leader.cur.Load()
	raw, err := st.Encode()
	if err != nil {
		b.Fatal(err)
	}
	start = time.Now()
	if _, err := gslb.DecodeState(raw); err != nil {
		b.Fatal(err)
	}
	decode := time.Since(start)
	ctx := context.Background()
	for b.Loop() {
		got, err := f.fetch(ctx, leader.addr(), h.ann)
		if err != nil {
			b.Fatal(err)
		}
		if len(got.st.Services) != services {
			b.Fatalf("%d services", len(got.st.Services))
		}
	}
	// After the loop: ResetTimer, which b.Loop calls, drops metrics.
	b.ReportMetric(float64(h.ann.Size)/1e6, "raw-MB")
	b.ReportMetric(float64(len(h.gz))/1e6, "gzip-MB")
	b.ReportMetric(float64(publish.Milliseconds()), "publish-ms")
	b.ReportMetric(float64(decode.Milliseconds()), "decode-ms")
}

// BenchmarkStateTransfer10k and 100k: run with -benchtime=3x; one
// iteration of 100k takes about two seconds.
func BenchmarkStateTransfer10k(b *testing.B)  { benchTransfer(b, 10_000) }
func BenchmarkStateTransfer100k(b *testing.B) { benchTransfer(b, 100_000) }
