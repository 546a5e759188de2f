package sites

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/gslb"
)

func TestConfigValidation(t *testing.T) {
	ok := testConfig("n1", "eu-west", RoleFollower)
	cases := []struct {
		name  string
		edit  func(*Config)
		field string
		msg   string
	}{
		{"no name", func(c *Config) { c.NodeName = "" }, "NodeName", "required"},
		{"no site", func(c *Config) { c.Site = "" }, "Site", "required"},
		{"bad role", func(c *Config) { c.Role = "boss" }, "Role", `"boss"`},
		{"no key", func(c *Config) { c.Keys = nil }, "KeyFile", "set Insecure"},
		{"both keys", func(c *Config) { c.KeyFile = "/k" }, "KeyFile", "not both"},
		{"short key", func(c *Config) { c.Keys = [][]byte{[]byte("short")} }, "Keys[0]", "16, 24 or 32"},
		{"bad bind", func(c *Config) { c.BindAddr = "localhost" }, "BindAddr", "not an IP"},
		{"bad port", func(c *Config) { c.BindPort = 70000 }, "BindPort", "outside"},
		{"bad timing", func(c *Config) { c.Timing = "fast" }, "Timing", `"fast"`},
		{"empty join", func(c *Config) { c.Join = []string{"a", ""} }, "Join[1]", "empty"},
		{"missing key file", func(c *Config) { c.Keys = nil; c.KeyFile = "/nonexistent/keys" }, "KeyFile", "no such file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			_, err := New(c)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("New: %v, want a ConfigError", err)
			}
			if !strings.Contains(err.Error(), tc.field+": ") || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q, want field %s and %q", err, tc.field, tc.msg)
			}
		})
	}
	insecure := ok
	insecure.Keys, insecure.Insecure = nil, true
	if _, err := New(insecure); err != nil {
		t.Errorf("Insecure without keys: %v", err)
	}
}

func TestPublishReachesAll3(t *testing.T) {
	metrics := NewMetrics()
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics)
	leader, fs := startCluster(t, 2, func(i int, c *Config) {
		if i == 1 {
			c.Metrics = metrics
		}
	})
	all := append([]*testNode{leader}, fs...)

	for gen := uint64(1); gen <= 3; gen++ {
		if err := leader.Publish(makeState(1, gen, 20)); err != nil {
			t.Fatal(err)
		}
		waitVersion(t, v(1, gen), all...)
	}
	for _, f := range fs {
		if got := f.rec.delivered(t, len([]gslb.Version{v(1, 1), v(1, 2), v(1, 3)})); !slices.Equal(got, []gslb.Version{v(1, 1), v(1, 2), v(1, 3)}) {
			t.Errorf("%s OnState saw %v, want each version once in order", f.Name(), got)
		}
	}
	if got := leader.rec.versions(); len(got) != 0 {
		t.Errorf("the leader's OnState was called for its own publications: %v", got)
	}

	// Visibility: members with site and role, and the state each holds
	// (from metadata, so after a gossip round).
	f := fs[0]
	waitFor(t, "metadata with state versions", func() bool {
		for _, m := range f.Members() {
			if m.StateVersion != v(1, 3) {
				return false
			}
		}
		return true
	})
	ms := f.Members()
	if len(ms) != 3 {
		t.Fatalf("members %+v", ms)
	}
	byName := map[string]Member{}
	for _, m := range ms {
		byName[m.Name] = m
		if m.Status != StatusAlive || m.Version != "test" {
			t.Errorf("member %+v", m)
		}
	}
	if l := byName["leader"]; l.Site != "gslb" || l.Role != RoleLeader {
		t.Errorf("leader as seen: %+v", l)
	}
	if s := byName["f01"]; s.Site != "site-01" || s.Role != RoleFollower || !s.Self {
		t.Errorf("self as seen: %+v", s)
	}

	st := f.Status()
	if st.State == nil || st.State.Version != v(1, 3) || st.State.Origin != "leader" || st.State.Published.IsZero() || st.Pending != nil {
		t.Errorf("status state %+v pending %v", st.State, st.Pending)
	}
	if _, err := json.Marshal(st); err != nil {
		t.Error(err)
	}

	// Metrics of follower f01.
	if got := gauge(t, reg, "meridian_sites_members", map[string]string{"status": "alive"}); got != 3 {
		t.Errorf("members alive = %v", got)
	}
	if got := counter(t, reg, "meridian_sites_state_transfers_total", map[string]string{"direction": "in", "result": "ok"}); got != 3 {
		t.Errorf("transfers in ok = %v", got)
	}
	if got := gauge(t, reg, "meridian_sites_state_generation", nil); got != 3 {
		t.Errorf("state generation = %v", got)
	}
	if got := gauge(t, reg, "meridian_sites_member_state_generation", map[string]string{"member": "leader", "site": "gslb"}); got != 3 {
		t.Errorf("leader's state generation = %v", got)
	}
	if got := histCount(t, reg, "meridian_sites_propagation_lag_seconds"); got != 3 {
		t.Errorf("propagation lag samples = %v", got)
	}
}

func TestPublishRules(t *testing.T) {
	leader, fs := startCluster(t, 1, nil)
	if err := fs[0].Publish(makeState(1, 1, 1)); !errors.Is(err, ErrNotLeader) {
		t.Errorf("follower Publish: %v, want ErrNotLeader", err)
	}
	if err := leader.Publish(makeState(1, 2, 1)); err != nil {
		t.Fatal(err)
	}
	for _, ver := range []gslb.Version{v(1, 2), v(1, 1), v(0, 9)} {
		if err := leader.Publish(makeState(ver.Term, ver.Generation, 1)); !errors.Is(err, ErrStale) {
			t.Errorf("Publish %s after 1.2: %v, want ErrStale", ver, err)
		}
	}
	if err := leader.Publish(makeState(2, 1, 1)); err != nil {
		t.Errorf("Publish of a higher term: %v", err)
	}
	waitVersion(t, v(2, 1), fs...)
	invalid := makeState(2, 2, 1)
	invalid.Services[0].Members[0].Site = "mars"
	if err := leader.Publish(invalid); err == nil || !strings.Contains(err.Error(), "mars") {
		t.Errorf("Publish of an invalid state: %v", err)
	}
	// The very first state may carry any version, 0.0 included.
	solo := startNode(t, "solo", "gslb", RoleLeader, nil)
	if err := solo.Publish(makeState(0, 0, 1)); err != nil {
		t.Errorf("first Publish of 0.0: %v", err)
	}
}

// Direct notification, gossip relay and anti-entropy each bring a
// publication to 21 nodes on their own.
func TestConvergence21(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"direct+gossip", nil},
		{"gossip relay only", func(c *Config) { c.noDirect = true }},
		{"anti-entropy only", func(c *Config) { c.noBroadcast = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leader, fs := startCluster(t, 20, func(_ int, c *Config) {
				if tc.edit != nil {
					tc.edit(c)
				}
			})
			all := append([]*testNode{leader}, fs...)
			start := time.Now()
			for gen := uint64(1); gen <= 3; gen++ {
				if err := leader.Publish(makeState(1, gen, 50)); err != nil {
					t.Fatal(err)
				}
			}
			waitVersion(t, v(1, 3), all...)
			t.Logf("21 nodes hold 1.3 after %v", time.Since(start).Round(time.Millisecond))
			for _, f := range fs {
				vs := f.rec.versions()
				if !slices.IsSortedFunc(vs, func(a, b gslb.Version) int {
					if a.Newer(b) {
						return 1
					}
					return -1
				}) {
					t.Errorf("%s saw versions out of order: %v", f.Name(), vs)
				}
			}
		})
	}
}

func TestLateJoinerGetsStateByPushPull(t *testing.T) {
	leader, fs := startCluster(t, 2, nil)
	if err := leader.Publish(makeState(1, 1, 10)); err != nil {
		t.Fatal(err)
	}
	waitVersion(t, v(1, 1), fs...)
	// The announcement is long gone from every queue; the late node
	// joins a follower, learns the version in the join's push/pull, and
	// fetches it from a holder.
	late := startNode(t, "late", "late-site", RoleFollower, joinTo(fs[1]))
	waitVersion(t, v(1, 1), late)
	if got := late.rec.delivered(t, len([]gslb.Version{v(1, 1)})); !slices.Equal(got, []gslb.Version{v(1, 1)}) {
		t.Errorf("late OnState saw %v", got)
	}
}

func TestFollowerRestartServesStateFileFirst(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	leader, fs := startCluster(t, 1, func(i int, c *Config) {
		if i == 1 {
			c.StateFile = path
		}
	})
	if err := leader.Publish(makeState(3, 7, 10)); err != nil {
		t.Fatal(err)
	}
	// OnState comes after the state file is written.
	waitFor(t, "OnState 3.7", func() bool { last, _ := fs[0].rec.last(); return last == v(3, 7) })
	st, _, err := ReadStateFile(path)
	if err != nil || st.Version() != v(3, 7) {
		t.Fatalf("state file: %v %v", st, err)
	}
	leaderAddr := leader.addr()
	_ = fs[0].Shutdown()
	_ = leader.Shutdown() // the leader is gone for good

	// The restarted follower gets the file's state before it even
	// listens, and keeps it while its only peer is unreachable.
	var node atomic.Pointer[Node]
	var beforeGossip atomic.Bool
	restarted := startNodeDeferred(t, "f01", "site-01", RoleFollower, func(c *Config) {
		c.StateFile = path
		c.Join = []string{leaderAddr}
		c.OnState = func(st *gslb.State) {
			n := node.Load()
			beforeGossip.Store(n != nil && n.ml.Load() == nil && st.Version() == v(3, 7))
		}
	}, &node)
	if !beforeGossip.Load() {
		t.Fatal("OnState was not called with the state file before gossip started")
	}
	if ver, ok := restarted.StateVersion(); !ok || ver != v(3, 7) {
		t.Fatalf("restarted node holds %v %v", ver, ok)
	}
	waitFor(t, "a failed join attempt", func() bool { return restarted.JoinError() != nil })
	select {
	case <-restarted.Joined():
		t.Fatal("joined a dead leader")
	default:
	}
	if ver, _ := restarted.StateVersion(); ver != v(3, 7) {
		t.Errorf("state after failed joins: %v", ver)
	}
}

// startNodeDeferred is startNode for tests that need the Node before
// Start runs.
func startNodeDeferred(t *testing.T, name, site string, role Role, edit func(*Config), out *atomic.Pointer[Node]) *Node {
	t.Helper()
	cfg := testConfig(name, site, role)
	edit(&cfg)
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out.Store(n)
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Shutdown() })
	return n
}

func TestOlderVersionIgnored(t *testing.T) {
	leader, fs := startCluster(t, 1, nil)
	f := fs[0]
	if err := leader.Publish(makeState(1, 5, 5)); err != nil {
		t.Fatal(err)
	}
	waitVersion(t, v(1, 5), f)

	// A second leader, outside the cluster, publishes an older version.
	old := startNode(t, "old-leader", "gslb", RoleLeader, nil)
	if err := old.Publish(makeState(1, 3, 5)); err != nil {
		t.Fatal(err)
	}
	// Its announcement, sent straight to the follower, is ignored...
	msg := encodeMessage(msgAnnounce, old.cur.Load().ann.wire())
	if err := old.ml.Load().SendToAddress(memberlist.Address{Addr: f.addr(), Name: f.Name()}, msg); err != nil {
		t.Fatal(err)
	}
	// ...and when it joins, push/pull brings it the newer state instead.
	if _, err := old.ml.Load().Join([]string{f.addr()}); err != nil {
		t.Fatal(err)
	}
	waitVersion(t, v(1, 5), old)
	if err := old.Publish(makeState(1, 4, 5)); !errors.Is(err, ErrStale) {
		t.Errorf("old leader Publish 1.4: %v, want ErrStale", err)
	}
	time.Sleep(300 * time.Millisecond) // a push/pull interval for a wrong turn to show
	if got := f.rec.delivered(t, len([]gslb.Version{v(1, 5)})); !slices.Equal(got, []gslb.Version{v(1, 5)}) {
		t.Errorf("follower OnState saw %v, want only 1.5", got)
	}
}

// Two leaders publish on both sides of a partition; once it heals,
// every node, the lower-term leader included, holds the higher term,
// although the other side's generation is higher.
func TestHigherTermWinsAfterPartition(t *testing.T) {
	l1, fs := startCluster(t, 1, nil)
	l2 := startNode(t, "leader-2", "gslb", RoleLeader, joinTo(l1))
	f2 := startNode(t, "f02", "site-02", RoleFollower, joinTo(l2))
	f1 := fs[0]
	all := []*testNode{l1, f1, l2, f2}
	waitMembers(t, all...)

	partition([]*testNode{l1, f1}, []*testNode{l2, f2})
	if err := l1.Publish(makeState(1, 9, 5)); err != nil {
		t.Fatal(err)
	}
	if err := l2.Publish(makeState(2, 1, 5)); err != nil {
		t.Fatal(err)
	}
	waitVersion(t, v(1, 9), f1)
	waitVersion(t, v(2, 1), f2)
	time.Sleep(500 * time.Millisecond)
	if ver, _ := f1.StateVersion(); ver != v(1, 9) {
		t.Fatalf("the partition leaked: f1 holds %s", ver)
	}

	heal(all...)
	waitVersion(t, v(2, 1), all...)
	if got := f1.rec.delivered(t, len([]gslb.Version{v(1, 9), v(2, 1)})); !slices.Equal(got, []gslb.Version{v(1, 9), v(2, 1)}) {
		t.Errorf("f1 OnState saw %v", got)
	}
	if err := l1.Publish(makeState(1, 10, 5)); !errors.Is(err, ErrStale) {
		t.Errorf("lower-term leader Publish: %v, want ErrStale", err)
	}
	if got := l1.HighestVersion(); got != v(2, 1) {
		t.Errorf("HighestVersion = %s", got)
	}
}

// A partition long enough for memberlist to declare the other side
// failed heals through the rejoin loop, and the missed publication
// arrives by push/pull.
func TestPartitionHealsAfterFailure(t *testing.T) {
	// Fast failure detection, and no gossip to the dead: only the
	// rejoin loop can merge the two sides back.
	leader, fs := startCluster(t, 2, func(_ int, c *Config) {
		c.tune = func(mc *memberlist.Config) {
			mc.ProbeInterval = 100 * time.Millisecond
			mc.ProbeTimeout = 50 * time.Millisecond
			mc.SuspicionMult = 1
			mc.SuspicionMaxTimeoutMult = 2
			mc.GossipToTheDeadTime = 0
		}
	})
	all := append([]*testNode{leader}, fs...)
	if err := leader.Publish(makeState(1, 1, 5)); err != nil {
		t.Fatal(err)
	}
	waitVersion(t, v(1, 1), all...)

	partition([]*testNode{leader}, fs)
	waitFor(t, "the leader to see the followers fail", func() bool {
		failed := 0
		for _, m := range leader.Members() {
			if m.Status == StatusFailed {
				failed++
			}
		}
		return failed == 2
	})
	if err := leader.Publish(makeState(1, 2, 5)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	heal(all...)
	waitMembers(t, all...)
	waitVersion(t, v(1, 2), all...)
}

func TestWrongKeyRejected(t *testing.T) {
	leader, fs := startCluster(t, 1, nil)
	f := fs[0]
	if err := leader.Publish(makeState(1, 1, 5)); err != nil {
		t.Fatal(err)
	}
	waitVersion(t, v(1, 1), f)

	// A leader with another key, and a higher term, tries to join.
	stranger := startNode(t, "stranger", "gslb", RoleLeader, func(c *Config) {
		c.Keys = [][]byte{otherKey}
		c.Join = []string{leader.addr()}
	})
	if err := stranger.Publish(makeState(9, 1, 5)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the stranger's join to fail", func() bool { return stranger.JoinError() != nil })
	if err := stranger.JoinError(); !errors.Is(err, ErrKeyMismatch) || !strings.Contains(err.Error(), "KeyFile") {
		t.Errorf("join error %q, want ErrKeyMismatch naming KeyFile", err)
	}
	// Its announcement, sent straight to the follower, is dropped.
	msg := encodeMessage(msgAnnounce, stranger.cur.Load().ann.wire())
	if err := stranger.ml.Load().SendToAddress(memberlist.Address{Addr: f.addr(), Name: f.Name()}, msg); err != nil {
		t.Fatal(err)
	}
	// Neither side of a transfer works across keys.
	ctx := context.Background()
	if _, err := f.fetch(ctx, stranger.addr(), stranger.cur.Load().ann, nil, false); !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("fetch from the stranger: %v, want ErrKeyMismatch", err)
	}
	if _, err := stranger.fetch(ctx, leader.addr(), leader.cur.Load().ann, nil, false); !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("the stranger's fetch from the leader: %v, want ErrKeyMismatch", err)
	}

	// A node without any key cannot join either.
	plain := startNode(t, "plain", "gslb", RoleFollower, func(c *Config) {
		c.Keys, c.Insecure = nil, true
		c.Join = []string{leader.addr()}
	})
	waitFor(t, "the keyless join to fail", func() bool { return plain.JoinError() != nil })
	if err := plain.JoinError(); !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("keyless join error %q, want ErrKeyMismatch", err)
	}
	if _, err := plain.fetch(ctx, leader.addr(), leader.cur.Load().ann, nil, false); !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("keyless fetch: %v, want ErrKeyMismatch", err)
	}

	time.Sleep(300 * time.Millisecond)
	if got := f.rec.delivered(t, len([]gslb.Version{v(1, 1)})); !slices.Equal(got, []gslb.Version{v(1, 1)}) {
		t.Errorf("follower OnState saw %v", got)
	}
	for _, m := range f.Members() {
		if m.Name == "stranger" || m.Name == "plain" {
			t.Errorf("follower lists %s", m.Name)
		}
	}
}

func TestInsecureCluster(t *testing.T) {
	insecure := func(_ int, c *Config) { c.Keys, c.Insecure = nil, true }
	leader, fs := startCluster(t, 2, insecure)
	if err := leader.Publish(makeState(1, 1, 5)); err != nil {
		t.Fatal(err)
	}
	waitVersion(t, v(1, 1), fs...)
	if leader.Status().Encrypted {
		t.Error("status says encrypted")
	}
}

// A holder that serves other bytes than it announced is refused; the
// follower keeps retrying and takes the right bytes when they come.
func TestCorruptTransferRefused(t *testing.T) {
	var corrupt atomic.Bool
	corrupt.Store(true)
	wrong, err := makeState(1, 1, 6).Encode() // valid, same version, other content
	if err != nil {
		t.Fatal(err)
	}
	wrongGz, err := compress(wrong)
	if err != nil {
		t.Fatal(err)
	}
	metrics := NewMetrics()
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics)
	leader, fs := startCluster(t, 1, func(i int, c *Config) {
		switch i {
		case 0:
			c.serveOverride = func(b []byte) []byte {
				if corrupt.Load() {
					return wrongGz
				}
				return b
			}
		case 1:
			c.Metrics = metrics
		}
	})
	f := fs[0]
	if err := leader.Publish(makeState(1, 1, 5)); err != nil {
		t.Fatal(err)
	}
	sha := map[string]string{"direction": "in", "result": "sha256"}
	waitFor(t, "a refused transfer", func() bool { return counter(t, reg, "meridian_sites_state_transfers_total", sha) >= 1 })
	if _, ok := f.StateVersion(); ok {
		t.Fatal("the follower accepted bytes that do not match the announced hash")
	}
	if got := f.rec.versions(); len(got) != 0 {
		t.Fatalf("OnState saw %v", got)
	}
	corrupt.Store(false)
	waitVersion(t, v(1, 1), f)
	raw, _ := makeState(1, 1, 5).Encode()
	if h := f.cur.Load(); h.ann.Size != int64(len(raw)) {
		t.Errorf("accepted %d bytes, want %d", h.ann.Size, len(raw))
	}
}

func TestObservationsShareAndForget(t *testing.T) {
	leader, fs := startCluster(t, 2, nil)
	f1, f2 := fs[0], fs[1]
	const key = "192.0.2.10:443#" + "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	const gone = "192.0.2.11:443#" + "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	since := time.Unix(1700000000, 0)
	f2.ShareObservation(key, false, since, "refused")
	f2.ShareObservation(gone, true, since, "")
	f2.ShareObservation(gone, true, since, "") // unchanged: not sent again

	for _, n := range []*testNode{leader, f1} {
		waitFor(t, n.Name()+" to hear site-02", func() bool {
			_, ok := n.sink.find(func(e sinkEvent) bool {
				return e.op == "observe" && e.site == "site-02" && e.key == key && !e.up && e.since.Equal(since) && e.err == "refused"
			})
			return ok
		})
	}
	if _, ok := f2.sink.find(func(sinkEvent) bool { return true }); ok {
		t.Error("a site's own observations reached its sink")
	}

	f2.WithdrawObservation(gone)
	waitFor(t, "the withdrawal", func() bool {
		_, ok := f1.sink.find(func(e sinkEvent) bool { return e.op == "remove" && e.site == "site-02" && e.key == gone })
		return ok
	})
	f2.ShareObservation(key, true, since.Add(time.Minute), "")
	waitFor(t, "the recovery", func() bool {
		_, ok := leader.sink.find(func(e sinkEvent) bool { return e.op == "observe" && e.key == key && e.up })
		return ok
	})

	// A site that joins later learns the table by push/pull.
	late := startNode(t, "late", "late-site", RoleFollower, joinTo(f1))
	waitFor(t, "the late site to hear site-02", func() bool {
		_, ok := late.sink.find(func(e sinkEvent) bool { return e.op == "observe" && e.site == "site-02" && e.key == key && e.up })
		return ok
	})
	if _, ok := late.sink.find(func(e sinkEvent) bool { return e.key == gone && e.op == "observe" }); ok {
		t.Error("the late site heard a withdrawn observation")
	}

	// The observer leaves: every other site forgets it, and its entries
	// leave the table.
	if err := f2.Leave(time.Second); err != nil {
		t.Fatal(err)
	}
	_ = f2.Shutdown()
	for _, n := range []*testNode{leader, f1, late} {
		waitFor(t, n.Name()+" to forget site-02", func() bool {
			_, ok := n.sink.find(func(e sinkEvent) bool { return e.op == "forget" && e.site == "site-02" })
			return ok
		})
		for _, o := range n.Observations() {
			if o.Site == "site-02" {
				t.Errorf("%s still lists %+v", n.Name(), o)
			}
		}
	}
}

// Many observations at once: batched into gossip packets, the rest by
// push/pull; every one arrives, the last word per key wins.
func TestObservationsAtScale(t *testing.T) {
	leader, fs := startCluster(t, 2, nil)
	const targets = 2000
	key := func(i int) string {
		return fmt.Sprintf("10.%d.%d.1:443#%064x", i>>8, i&255, i)
	}
	since := time.Unix(1700000000, 0)
	start := time.Now()
	for i := range targets {
		fs[0].ShareObservation(key(i), false, since, "timeout")
	}
	for i := range targets {
		fs[0].ShareObservation(key(i), i%2 == 0, since.Add(time.Second), "")
	}
	for _, n := range []*testNode{leader, fs[1]} {
		waitFor(t, n.Name()+" to hear every observation", func() bool {
			seen := 0
			for _, o := range n.Observations() {
				if o.Site == "site-01" && o.Since.Equal(since.Add(time.Second)) {
					seen++
				}
			}
			return seen == targets
		})
	}
	t.Logf("%d observations everywhere after %v", targets, time.Since(start).Round(time.Millisecond))
	final := map[string]bool{}
	leader.sink.mu.Lock()
	for _, e := range leader.sink.events {
		final[e.key] = e.up
	}
	leader.sink.mu.Unlock()
	for i := range targets {
		if up, ok := final[key(i)]; !ok || up != (i%2 == 0) {
			t.Fatalf("the sink's last word on %s: up=%v (present %v)", key(i), up, ok)
		}
	}
}

func TestKeyRotation(t *testing.T) {
	newKey := []byte("the-next-cluster-key-0123456789a")
	keyFile := filepath.Join(t.TempDir(), "gossip.key")
	writeKeys := func(keys ...[]byte) {
		var lines []string
		for _, k := range keys {
			lines = append(lines, b64(k))
		}
		if err := os.WriteFile(keyFile, []byte("# primary first\n"+strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeKeys(testKey)
	leader, fs := startCluster(t, 2, func(i int, c *Config) {
		if i == 0 {
			c.Keys, c.KeyFile = nil, keyFile
		}
	})
	all := append([]*testNode{leader}, fs...)
	gen := uint64(0)
	publish := func(step string) {
		t.Helper()
		gen++
		if err := leader.Publish(makeState(1, gen, 5)); err != nil {
			t.Fatal(err)
		}
		waitVersion(t, v(1, gen), all...)
		t.Logf("%s: 1.%d everywhere", step, gen)
	}
	rotate := func(fileKeys [][]byte, edit func(*Node) error) {
		t.Helper()
		writeKeys(fileKeys...)
		if err := leader.ReloadKeys(); err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			if err := edit(f.Node); err != nil {
				t.Fatal(err)
			}
		}
	}
	publish("start")
	rotate([][]byte{testKey, newKey}, func(n *Node) error { return n.AddKey(newKey) })
	publish("new key added")
	rotate([][]byte{newKey, testKey}, func(n *Node) error { return n.UseKey(newKey) })
	publish("new key primary")
	rotate([][]byte{newKey}, func(n *Node) error { return n.RemoveKey(testKey) })
	publish("old key removed")
	if got := leader.Keys(); len(got) != 1 || string(got[0]) != string(newKey) {
		t.Errorf("leader keys after rotation: %d", len(got))
	}
	// A node that only knows the old key is now a stranger.
	old := startNode(t, "old", "site-old", RoleFollower, joinTo(leader))
	waitFor(t, "the old-key join to fail", func() bool { return old.JoinError() != nil })
	if !errors.Is(old.JoinError(), ErrKeyMismatch) {
		t.Errorf("old-key join: %v", old.JoinError())
	}
}

func TestShutdownAndContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cfg := testConfig("solo", "solo", RoleLeader)
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Publish(makeState(1, 1, 1)); !errors.Is(err, ErrNotStarted) {
		t.Errorf("Publish before Start: %v", err)
	}
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n.Start(ctx); err == nil {
		t.Error("second Start succeeded")
	}
	if err := n.WaitJoined(ctx); err != nil {
		t.Errorf("a node without peers is joined at once: %v", err)
	}
	cancel()
	waitFor(t, "shutdown on context end", func() bool { return n.ctx.Err() != nil })
	if err := n.Shutdown(); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

// Metric helpers. They read values through the generated getters, so
// the test needs no direct import of client_model.

// metricValue is a counter's or gauge's value, or a histogram's sample
// count, of the first series of name whose labels include labels.
func metricValue(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue next
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue(), true
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue(), true
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func counter(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	val, _ := metricValue(t, reg, name, labels)
	return val
}

func gauge(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	if val, ok := metricValue(t, reg, name, labels); ok {
		return val
	}
	return -1
}

func histCount(t testing.TB, reg *prometheus.Registry, name string) uint64 {
	val, _ := metricValue(t, reg, name, nil)
	return uint64(val)
}

func b64(k []byte) string { return base64.StdEncoding.EncodeToString(k) }
