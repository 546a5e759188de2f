package sites

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
)

// loadEvent is one LoadSink call.
type loadEvent struct {
	op, site, key string
	value         float64
	at            time.Time
}

// loadSink is a recording sink that also takes load readings.
type loadSink struct {
	*sink
	lmu   sync.Mutex
	loads []loadEvent
}

var _ LoadSink = (*loadSink)(nil)

func newLoadSink() *loadSink { return &loadSink{sink: &sink{}} }

func (s *loadSink) ObserveSiteLoad(site, key string, value float64, at time.Time) {
	s.addLoad(loadEvent{op: "load", site: site, key: key, value: value, at: at})
}

func (s *loadSink) RemoveSiteLoad(site, key string) {
	s.addLoad(loadEvent{op: "unload", site: site, key: key})
}

func (s *loadSink) addLoad(e loadEvent) {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	s.loads = append(s.loads, e)
}

// last is the last load event of site and key.
func (s *loadSink) last(site, key string) (loadEvent, bool) {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	for i := len(s.loads) - 1; i >= 0; i-- {
		if e := s.loads[i]; e.site == site && e.key == key {
			return e, true
		}
	}
	return loadEvent{}, false
}

// waitLoad waits until the last load event of site and key is a reading
// of value read at at.
func (s *loadSink) waitLoad(t *testing.T, who, site, key string, value float64, at time.Time) {
	t.Helper()
	waitFor(t, who+" to read the load "+site+" shared", func() bool {
		e, ok := s.last(site, key)
		return ok && e.op == "load" && e.value == value && e.at.Equal(at)
	})
}

func withLoadSink(ls *loadSink) func(*Config) {
	return func(c *Config) { c.Observations = ls }
}

// count is how many events of s match.
func (s *sink) count(match func(sinkEvent) bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, e := range s.events {
		if match(e) {
			n++
		}
	}
	return n
}

const loadKey = "192.0.2.20:443#" + "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

// A reading shared at one site reaches the other sites' LoadSink with its
// value and time; it never looks like a health change, to a LoadSink or to
// a health-only sink; health and load share the entry either way round.
func TestLoadSharedReachesSites(t *testing.T) {
	ls := newLoadSink()
	leader, fs := startCluster(t, 2, func(i int, c *Config) {
		if i == 0 {
			withLoadSink(ls)(c)
		}
	})
	plain, src := fs[0], fs[1] // plain: a health-only sink
	at := time.Unix(1700000000, 123456789)

	// Load only: no health observation yet.
	src.ShareLoad(loadKey, 0.42, at)
	ls.waitLoad(t, "the leader", "site-02", loadKey, 0.42, at)
	waitFor(t, "site-01 to hold the reading", func() bool {
		return entryLoad(plain.Node, "f02", loadKey) == 0.42
	})
	if n := ls.count(func(sinkEvent) bool { return true }); n != 0 {
		t.Errorf("a load-only entry reached the health sink: %+v", ls.events)
	}
	if n := plain.sink.count(func(sinkEvent) bool { return true }); n != 0 {
		t.Errorf("a load-only entry reached the health-only sink: %+v", plain.sink.events)
	}
	for _, o := range leader.Observations() {
		if o.Key == loadKey {
			t.Errorf("a load-only entry is listed as an observation: %+v", o)
		}
	}

	// Then health: one observation, with the reading kept.
	since := at.Add(-time.Minute)
	src.ShareObservation(loadKey, true, since, "")
	isObs := func(e sinkEvent) bool {
		return e.op == "observe" && e.site == "site-02" && e.key == loadKey && e.up && e.since.Equal(since)
	}
	for _, s := range []*sink{ls.sink, plain.sink} {
		waitFor(t, "the observation", func() bool { return s.count(isObs) == 1 })
	}
	waitFor(t, "the listed observation with its load", func() bool {
		for _, o := range leader.Observations() {
			if o.Site == "site-02" && o.Key == loadKey && o.Up && o.Load != nil && *o.Load == 0.42 && o.LoadAt.Equal(at) {
				return true
			}
		}
		return false
	})

	// Load updates of an observed key: readings only.
	for i, v := range []float64{0.5, 0.6, 0.7} {
		at2 := at.Add(time.Duration(i+1) * time.Second)
		src.ShareLoad(loadKey, v, at2)
		ls.waitLoad(t, "the leader", "site-02", loadKey, v, at2)
		waitFor(t, "site-01 to hold the reading", func() bool { return entryLoad(plain.Node, "f02", loadKey) == v })
	}
	time.Sleep(200 * time.Millisecond) // a push/pull or two
	if n := ls.count(func(sinkEvent) bool { return true }); n != 1 {
		t.Errorf("load updates reached the health sink: %+v", ls.events)
	}
	if n := plain.sink.count(func(sinkEvent) bool { return true }); n != 1 {
		t.Errorf("load updates reached the health-only sink: %+v", plain.sink.events)
	}
	if _, ok := src.sink.find(func(sinkEvent) bool { return true }); ok {
		t.Error("a site's own entries reached its sink")
	}

	// A health change keeps the reading, and is one.
	src.ShareObservation(loadKey, false, at, "refused")
	waitFor(t, "the health change", func() bool {
		_, ok := ls.find(func(e sinkEvent) bool { return e.op == "observe" && !e.up && e.err == "refused" })
		return ok
	})
	if e, _ := ls.last("site-02", loadKey); e.op != "load" || e.value != 0.7 {
		t.Errorf("after a health change the last load event is %+v", e)
	}
	if got := entryLoad(src.Node, "f02", loadKey); got != 0.7 {
		t.Errorf("own entry's load after a health change: %v", got)
	}

	// Withdrawn: both go.
	src.WithdrawObservation(loadKey)
	waitFor(t, "the withdrawal", func() bool {
		e, ok := ls.last("site-02", loadKey)
		_, removed := ls.find(func(e sinkEvent) bool { return e.op == "remove" && e.key == loadKey })
		return ok && e.op == "unload" && removed
	})

	// The site leaves: ForgetSite covers its readings.
	src.ShareLoad(loadKey, 0.9, at.Add(time.Hour))
	ls.waitLoad(t, "the leader", "site-02", loadKey, 0.9, at.Add(time.Hour))
	if err := src.Leave(time.Second); err != nil {
		t.Fatal(err)
	}
	_ = src.Shutdown()
	waitFor(t, "the leader to forget site-02", func() bool {
		_, ok := ls.find(func(e sinkEvent) bool { return e.op == "forget" && e.site == "site-02" })
		return ok
	})
}

// entryLoad is n's table's load reading of key from origin; -1 for none.
func entryLoad(n *Node, origin, key string) float64 {
	n.obs.mu.Lock()
	defer n.obs.mu.Unlock()
	if o := n.obs.origins[origin]; o != nil {
		if e := o.entries[key]; e != nil && e.Load != nil {
			return *e.Load
		}
	}
	return -1
}

// A reading is gossiped when it moves by more than 1% or the last one
// gossiped is 5 s old; the table keeps every newest one.
func TestLoadThrottle(t *testing.T) {
	ls := newLoadSink()
	_, fs := startCluster(t, 1, func(i int, c *Config) {
		c.PushPullInterval = time.Hour // gossip only, after the join
		if i == 0 {
			withLoadSink(ls)(c)
		}
	})
	src := fs[0]
	at := time.Unix(1700000000, 0)
	src.ShareLoad(loadKey, 100, at)
	ls.waitLoad(t, "the leader", "site-01", loadKey, 100, at)

	// 0.1%: kept, not gossiped.
	src.ShareLoad(loadKey, 100.1, at.Add(time.Second))
	if got := entryLoad(src.Node, "f01", loadKey); got != 100.1 {
		t.Fatalf("own table holds %v, want the newest reading 100.1", got)
	}
	time.Sleep(500 * time.Millisecond)
	if e, _ := ls.last("site-01", loadKey); e.value != 100 {
		t.Fatalf("a 0.1%% change was gossiped: %+v", e)
	}

	// 5%: gossiped.
	src.ShareLoad(loadKey, 105, at.Add(2*time.Second))
	ls.waitLoad(t, "the leader", "site-01", loadKey, 105, at.Add(2*time.Second))

	// A steady load is gossiped again once the last one sent is 5 s old
	// (aged here rather than waited for).
	src.ShareLoad(loadKey, 105.01, at.Add(3*time.Second))
	time.Sleep(300 * time.Millisecond)
	if e, _ := ls.last("site-01", loadKey); e.value != 105 {
		t.Fatalf("a 0.01%% change was gossiped: %+v", e)
	}
	src.obs.mu.Lock()
	src.obs.origins["f01"].entries[loadKey].sentLoadAt = time.Now().Add(-loadRefresh)
	src.obs.mu.Unlock()
	src.ShareLoad(loadKey, 105.01, at.Add(6*time.Second))
	ls.waitLoad(t, "the leader", "site-01", loadKey, 105.01, at.Add(6*time.Second))

	// A reading older than the one held, or the same again, changes
	// nothing; nor does one that is not a number.
	src.obs.mu.Lock()
	stamp := src.obs.origins["f01"].entries[loadKey].Stamp
	src.obs.mu.Unlock()
	src.ShareLoad(loadKey, 1, at)
	src.ShareLoad(loadKey, 105.01, at.Add(6*time.Second))
	src.ShareLoad(loadKey, nan(), at.Add(time.Hour))
	src.obs.mu.Lock()
	after := src.obs.origins["f01"].entries[loadKey].Stamp
	src.obs.mu.Unlock()
	if after != stamp || entryLoad(src.Node, "f01", loadKey) != 105.01 {
		t.Errorf("stale, repeated or NaN readings changed the entry (stamp %d -> %d)", stamp, after)
	}
}

func nan() float64 { var z float64; return z / z }

func TestLoadMoved(t *testing.T) {
	for _, tc := range []struct {
		sent, v float64
		want    bool
	}{
		{100, 100.1, false}, {100, 99.5, false}, {100, 101.5, true}, {100, 98, true},
		{0, 0, false}, {0, 0.001, true}, {-10, -10.05, false}, {-10, -11, true},
	} {
		if got := loadMoved(tc.sent, tc.v); got != tc.want {
			t.Errorf("loadMoved(%v, %v) = %v", tc.sent, tc.v, got)
		}
	}
}

// Push/pull gives a late joiner the newest reading, gossiped or not.
func TestLoadLateJoinerGetsNewest(t *testing.T) {
	ls := newLoadSink()
	leader, fs := startCluster(t, 1, func(i int, c *Config) {
		if i == 0 {
			withLoadSink(ls)(c)
		}
	})
	src := fs[0]
	at := time.Unix(1700000000, 0)
	src.ShareLoad(loadKey, 100, at)
	ls.waitLoad(t, "the leader", "site-01", loadKey, 100, at)
	src.ShareLoad(loadKey, 100.5, at.Add(time.Second)) // not gossiped
	// The leader hears it by push/pull.
	ls.waitLoad(t, "the leader", "site-01", loadKey, 100.5, at.Add(time.Second))

	late := newLoadSink()
	startNode(t, "late", "late-site", RoleFollower, both(joinTo(leader), withLoadSink(late)))
	late.waitLoad(t, "the late site", "site-01", loadKey, 100.5, at.Add(time.Second))
	if n := late.count(func(sinkEvent) bool { return true }); n != 0 {
		t.Errorf("a load-only entry reached the late site's health sink: %+v", late.events)
	}
}

// Several replicas of one site: the newest reading of any is the site's;
// when the replica that read it leaves, another's stands.
func TestLoadReplicasOfOneSite(t *testing.T) {
	ls := newLoadSink()
	leader := startNode(t, "leader", "gslb", RoleLeader, withLoadSink(ls))
	a := startNode(t, "a", "eu", RoleFollower, joinTo(leader))
	b := startNode(t, "b", "eu", RoleFollower, joinTo(leader))
	waitMembers(t, leader, a, b)
	at := time.Unix(1700000000, 0)
	a.ShareLoad(loadKey, 10, at)
	ls.waitLoad(t, "the leader", "eu", loadKey, 10, at)
	b.ShareLoad(loadKey, 20, at.Add(time.Second))
	ls.waitLoad(t, "the leader", "eu", loadKey, 20, at.Add(time.Second))
	_ = b.Leave(time.Second)
	_ = b.Shutdown()
	ls.waitLoad(t, "the leader", "eu", loadKey, 10, at)
	if _, ok := ls.find(func(e sinkEvent) bool { return e.op == "forget" }); ok {
		t.Error("the site was forgotten while a replica remains")
	}
}

// Older releases read a load-only entry as a withdrawal, and the health
// part of any other as before.
func TestLoadWireCompatible(t *testing.T) {
	type oldWireObs struct {
		Key     string `json:"k"`
		Up      bool   `json:"u,omitempty"`
		Since   int64  `json:"s,omitempty"`
		Err     string `json:"e,omitempty"`
		Stamp   int64  `json:"st"`
		Deleted bool   `json:"d,omitempty"`
	}
	v := 0.5
	for _, tc := range []struct {
		w    wireObs
		want oldWireObs
	}{
		{wireObs{Key: "k", Stamp: 2, Deleted: true, Load: &v, LoadAt: 7}, oldWireObs{Key: "k", Stamp: 2, Deleted: true}},
		{wireObs{Key: "k", Stamp: 3, Up: true, Since: 5, HStamp: 1, Load: &v, LoadAt: 7}, oldWireObs{Key: "k", Stamp: 3, Up: true, Since: 5}},
	} {
		b, err := json.Marshal(tc.w)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"l":0.5,"la":7`) {
			t.Errorf("wire form %s", b)
		}
		var old oldWireObs
		if err := json.Unmarshal(b, &old); err != nil || old != tc.want {
			t.Errorf("an older release reads %s as %+v (%v), want %+v", b, old, err, tc.want)
		}
	}
}
