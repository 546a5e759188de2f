package sites

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/gslb"
)

// fetchCounts reads a node's meridian_sites_state_fetches_total by kind
// and its refused deltas.
type fetchCounts struct{ full, delta, refused float64 }

func countsOf(t testing.TB, reg *prometheus.Registry) fetchCounts {
	return fetchCounts{
		full:    counter(t, reg, "meridian_sites_state_fetches_total", map[string]string{"kind": "full"}),
		delta:   counter(t, reg, "meridian_sites_state_fetches_total", map[string]string{"kind": "delta"}),
		refused: counter(t, reg, "meridian_sites_state_deltas_refused_total", nil),
	}
}

// withMetrics gives each follower registered metrics; regs[i] is node
// i's registry (nil for the leader).
func withMetrics(regs []*prometheus.Registry, more func(i int, c *Config)) func(i int, c *Config) {
	return func(i int, c *Config) {
		if i > 0 {
			c.Metrics = NewMetrics()
			regs[i] = prometheus.NewRegistry()
			regs[i].MustRegister(c.Metrics)
		}
		if more != nil {
			more(i, c)
		}
	}
}

// changed is base's next generation with one service changed, one
// removed and one added.
func changed(base *gslb.State) *gslb.State {
	next := *base
	next.Generation++
	next.Services = slices.Clone(base.Services)
	added := next.Services[10]
	added.Name = fmt.Sprintf("added-%d.scale.example.", next.Generation)
	next.Services = slices.Insert(slices.Delete(next.Services, 20, 21), 100, added)
	next.Services[50].Policy.TTL = 99
	return &next
}

// sameAsLeader checks that f holds exactly the leader's state.
func sameAsLeader(t *testing.T, leader, f *testNode) {
	t.Helper()
	l, h := leader.cur.Load(), f.cur.Load()
	if h.ann.SHA != l.ann.SHA || h.ann.Version != l.ann.Version {
		t.Fatalf("%s holds %s %x, the leader %s %x", f.Name(), h.ann.Version, h.ann.SHA[:4], l.ann.Version, l.ann.SHA[:4])
	}
}

func TestDeltaTransfer(t *testing.T) {
	dir := t.TempDir()
	regs := make([]*prometheus.Registry, 3)
	leader, fs := startCluster(t, 2, withMetrics(regs, func(i int, c *Config) {
		c.StateFile = filepath.Join(dir, c.NodeName)
	}))
	base := scaleState(1, 1, 300)
	if err := leader.Publish(base); err != nil {
		t.Fatal(err)
	}
	waitVersion(t, v(1, 1), fs...)
	held11 := &held{ann: leader.cur.Load().ann, st: base}
	next := changed(base)
	if err := leader.Publish(next); err != nil {
		t.Fatal(err)
	}
	waitVersion(t, v(1, 2), fs...)
	// A follower serves the delta it received on to a peer still at 1.1.
	got, err := fs[1].fetch(context.Background(), fs[0].addr(), fs[0].cur.Load().ann, held11, true)
	if err != nil || got.delta == nil || got.ann.SHA != leader.cur.Load().ann.SHA {
		t.Fatalf("fetch from a follower: delta %v, err %v", got != nil && got.delta != nil, err)
	}
	for i, f := range fs {
		sameAsLeader(t, leader, f)
		waitFor(t, "the counters", func() bool { return countsOf(t, regs[i+1]).delta == 1 })
		if c := countsOf(t, regs[i+1]); c != (fetchCounts{full: 1, delta: 1}) {
			t.Errorf("%s fetched %+v, want one full state and one delta", f.Name(), c)
		}
		full := counter(t, regs[i+1], "meridian_sites_state_fetch_bytes_total", map[string]string{"kind": "full"})
		delta := counter(t, regs[i+1], "meridian_sites_state_fetch_bytes_total", map[string]string{"kind": "delta"})
		if delta <= 0 || delta*5 > full {
			t.Errorf("%s: %v bytes for the delta, %v for the whole state", f.Name(), delta, full)
		}
		// The state file and OnState have the new state, whole. The
		// file is written after the state is served, so wait for it.
		var st *gslb.State
		waitFor(t, f.Name()+"'s state file at 1.2", func() bool {
			var err error
			st, _, err = ReadStateFile(filepath.Join(dir, f.Name()))
			return err == nil && st.Version() == v(1, 2)
		})
		if st.Version() != v(1, 2) || len(st.Services) != len(next.Services) || st.Services[50].Policy.TTL != 99 ||
			st.Services[100].Name != "added-2.scale.example." {
			t.Errorf("%s: state file holds %s, %d services", f.Name(), st.Version(), len(st.Services))
		}
		if got := f.rec.delivered(t, 2); got[1] != v(1, 2) {
			t.Errorf("%s: OnState saw %v", f.Name(), got)
		}
		// It keeps the delta, to serve it on.
		if f.cur.Load().delta == nil {
			t.Errorf("%s does not keep the delta", f.Name())
		}
	}
}

// A delta that does not make the announced state is refused, and the
// whole state fetched instead.
func TestDeltaHashMismatchFetchesFull(t *testing.T) {
	base := scaleState(1, 1, 300)
	next := changed(base)
	wrong := changed(base) // the same version, other content
	wrong.Services[50].Policy.TTL = 98
	wrongDelta, ok := gslb.EncodeDelta(base.EncodeParts(), wrong.EncodeParts())
	if !ok {
		t.Fatal("no delta")
	}
	wrongGz, err := compress(wrongDelta)
	if err != nil {
		t.Fatal(err)
	}
	regs := make([]*prometheus.Registry, 2)
	leader, fs := startCluster(t, 1, withMetrics(regs, func(i int, c *Config) {
		if i == 0 {
			c.deltaOverride = func([]byte) []byte { return wrongGz }
		}
	}))
	f := fs[0]
	if err := leader.Publish(base); err != nil {
		t.Fatal(err)
	}
	waitVersion(t, v(1, 1), f)
	if err := leader.Publish(next); err != nil {
		t.Fatal(err)
	}
	waitVersion(t, v(1, 2), f)
	sameAsLeader(t, leader, f)
	if ttl := f.cur.Load().st.Services[50].Policy.TTL; ttl != 99 {
		t.Errorf("the follower serves TTL %d, want the leader's 99", ttl)
	}
	if c := countsOf(t, regs[1]); c != (fetchCounts{full: 2, refused: 1}) {
		t.Errorf("fetched %+v, want a refused delta and two full states", c)
	}
}

// A follower two versions behind cannot use the leader's delta (its base
// is the version it missed): it fetches the whole state, while the one
// that kept up takes deltas.
func TestDeltaTwoVersionsBehindFetchesFull(t *testing.T) {
	regs := make([]*prometheus.Registry, 3)
	leader, fs := startCluster(t, 2, withMetrics(regs, nil))
	behind, current := fs[0], fs[1]
	st := scaleState(1, 1, 300)
	if err := leader.Publish(st); err != nil {
		t.Fatal(err)
	}
	waitVersion(t, v(1, 1), fs...)
	partition([]*testNode{leader, current}, []*testNode{behind})
	for range 2 {
		st = changed(st)
		if err := leader.Publish(st); err != nil {
			t.Fatal(err)
		}
		waitVersion(t, st.Version(), current)
	}
	heal(leader, current, behind)
	waitVersion(t, v(1, 3), behind)
	sameAsLeader(t, leader, behind)
	if c := countsOf(t, regs[1]); c != (fetchCounts{full: 2}) {
		t.Errorf("the follower two versions behind fetched %+v, want two full states", c)
	}
	if c := countsOf(t, regs[2]); c != (fetchCounts{full: 1, delta: 2}) {
		t.Errorf("the follower that kept up fetched %+v, want one full state and two deltas", c)
	}
}

// A restarted leader has no encoding of the state it published before:
// its first publication reaches followers whole, the next as a delta.
func TestDeltaAfterLeaderRestartFetchesFull(t *testing.T) {
	regs := make([]*prometheus.Registry, 2)
	leader, fs := startCluster(t, 1, withMetrics(regs, nil))
	f := fs[0]
	if err := leader.Publish(scaleState(1, 1, 300)); err != nil {
		t.Fatal(err)
	}
	waitVersion(t, v(1, 1), f)
	_ = leader.Shutdown()

	restarted := startNode(t, "leader-2", "gslb", RoleLeader, joinTo(f))
	waitMembers(t, restarted, f)
	st := scaleState(2, 1, 300)
	if err := restarted.Publish(st); err != nil {
		t.Fatal(err)
	}
	waitVersion(t, v(2, 1), f)
	if err := restarted.Publish(changed(st)); err != nil {
		t.Fatal(err)
	}
	waitVersion(t, v(2, 2), f)
	sameAsLeader(t, restarted, f)
	if c := countsOf(t, regs[1]); c != (fetchCounts{full: 2, delta: 1}) {
		t.Errorf("fetched %+v, want two full states (before and after the restart) and one delta", c)
	}
}
