package sites

import (
	"context"
	"crypto/sha256"
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

// benchSizes are the scale benchmarks' sizes: linear growth shows.
var benchSizes = []int{10_000, 40_000, 100_000}

// BenchmarkStateTransfer times one follower fetch of the whole state per
// iteration, at test/scale's shape (5 sites, 3 members per service): TCP
// transfer (sealed frames), gunzip, SHA-256, decode and validation
// (gslb.DecodeState). It also reports the encoded and compressed sizes
// and the leader's encode+compress and publish (validation included).
// Run with -benchtime=2x; one 100k iteration is a few hundred ms.
func BenchmarkStateTransfer(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("%dk", n/1000), func(b *testing.B) {
			st := scaleState(1, 1, n)
			leader := startNode(b, "leader", "gslb", RoleLeader, nil)
			f := startNode(b, "f", "site", RoleFollower, nil)
			start := time.Now()
			raw := st.EncodeParts().Raw
			encode := time.Since(start)
			if _, err := compress(raw); err != nil {
				b.Fatal(err)
			}
			encodeGzip := time.Since(start)
			start = time.Now()
			if err := leader.Publish(st); err != nil {
				b.Fatal(err)
			}
			publish := time.Since(start)
			h := leader.cur.Load()
			b.ReportAllocs()
			for b.Loop() {
				got, err := f.fetch(context.Background(), leader.addr(), h.ann, nil, false)
				if err != nil {
					b.Fatal(err)
				}
				if len(got.st.Services) != n {
					b.Fatalf("%d services", len(got.st.Services))
				}
			}
			// After the loop: ResetTimer, which b.Loop calls, drops metrics.
			reportFollowerSteps(b, h, st)
			// A follower that holds an older state (two versions behind,
			// say) fetches it all too, but judges only what changed.
			older := *st
			older.Generation = 0
			older.Services = slices.Clone(st.Services)
			older.Services[n/2].Policy.TTL = 99
			start = time.Now()
			if _, err := f.fetch(context.Background(), leader.addr(), h.ann, &held{st: &older}, false); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "fetch-held-ms")
			b.ReportMetric(float64(h.ann.Size)/1e6, "raw-MB")
			b.ReportMetric(float64(len(h.gz))/1e6, "gzip-MB")
			b.ReportMetric(float64(encode.Microseconds())/1000, "encode-ms")
			b.ReportMetric(float64(encodeGzip.Microseconds())/1000, "encode+gzip-ms")
			b.ReportMetric(float64(publish.Microseconds())/1000, "publish-ms")
		})
	}
}

// reportFollowerSteps times, once each, the steps of a follower's whole
// fetch after the bytes arrive: where the time goes.
func reportFollowerSteps(b *testing.B, h *held, st *gslb.State) {
	step := func(name string, f func() error) {
		start := time.Now()
		if err := f(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(time.Since(start).Microseconds())/1000, name+"-ms")
	}
	var raw []byte
	step("gunzip", func() (err error) { raw, err = decompress(h.gz, h.ann.Size); return err })
	step("sha256", func() error { sha256.Sum256(raw); return nil })
	// Decoding against an equal held state re-judges nothing: decoding
	// alone (plus a comparison per service).
	step("decode", func() error { _, err := gslb.DecodeStateChanged(raw, st); return err })
	step("validate", st.Validate)
}

// BenchmarkStateDelta times one follower fetch of a one-service change
// per iteration: the delta's transfer, applying it to the held state,
// re-encoding and hashing the result, validating what changed, and
// compressing the new state to serve it on. It also reports the delta's
// size and the leader's publish of the change (encode, delta, compress).
func BenchmarkStateDelta(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("%dk", n/1000), func(b *testing.B) {
			leader := startNode(b, "leader", "gslb", RoleLeader, nil)
			f := startNode(b, "f", "site", RoleFollower, nil)
			base := scaleState(1, 1, n)
			if err := leader.Publish(base); err != nil {
				b.Fatal(err)
			}
			first, err := f.fetch(context.Background(), leader.addr(), leader.cur.Load().ann, nil, false)
			if err != nil {
				b.Fatal(err)
			}
			fh := &held{ann: first.ann, st: first.st}
			next := *base
			next.Generation = 2
			next.Services = slices.Clone(base.Services)
			next.Services[n/2].Policy.TTL = 99
			start := time.Now()
			if err := leader.Publish(&next); err != nil {
				b.Fatal(err)
			}
			publish := time.Since(start)
			h := leader.cur.Load()
			if h.delta == nil {
				b.Fatal("no delta published")
			}
			b.ReportAllocs()
			for b.Loop() {
				got, err := f.fetch(context.Background(), leader.addr(), h.ann, fh, true)
				if err != nil {
					b.Fatal(err)
				}
				if got.delta == nil {
					b.Fatal("a full transfer, not a delta")
				}
			}
			b.ReportMetric(float64(h.delta.size), "delta-B")
			b.ReportMetric(float64(len(h.delta.gz)), "delta-gzip-B")
			b.ReportMetric(float64(publish.Microseconds())/1000, "publish-ms")
		})
	}
}
