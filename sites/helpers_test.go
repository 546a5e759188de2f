package sites

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/geo"
	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/test/scale"
)

// hangGuard bounds every wait. Assertions never depend on it: it only
// turns a hang into a failure.
const hangGuard = 30 * time.Second

// testKey is the cluster key of these tests; otherKey is a stranger's.
var (
	testKey  = []byte("meridian-test-key-0123456789abcd") // 32 bytes
	otherKey = []byte("some-other-clusters-key-01234567")
)

// testLogger discards logs unless SITES_TEST_LOG is set (then debug to
// stderr): memberlist is chatty, and its goroutines outlive t.Log.
func testLogger() *slog.Logger {
	if os.Getenv("SITES_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// makeState builds a valid State with the given version and number of
// services, three members each in three sites.
func makeState(term, gen uint64, services int) *gslb.State {
	st := &gslb.State{
		Term: term, Generation: gen,
		Zones: []gslb.Zone{{
			Name:        "gslb.example.",
			NameServers: []gslb.NameServer{{Name: "ns1.gslb.example.", Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.53")}}},
		}},
		Sites: []gslb.Site{
			{Name: "us-east", Location: geo.Location{Lat: 39, Lon: -77, HasCoords: true, Country: "US", Continent: "NA"}},
			{Name: "eu-west", Location: geo.Location{Lat: 53, Lon: -6, HasCoords: true, Country: "IE", Continent: "EU"}},
			{Name: "ap-south", Location: geo.Location{Lat: 19, Lon: 73, HasCoords: true, Country: "IN", Continent: "AS"}},
		},
	}
	st.Services = make([]gslb.Service, services)
	for i := range services {
		a := func(site byte) netip.Addr {
			return netip.AddrFrom4([4]byte{10, site, byte(i >> 8), byte(i)})
		}
		st.Services[i] = gslb.Service{
			Name:   fmt.Sprintf("svc-%d.gslb.example.", i),
			Policy: gslb.Policy{Strategy: gslb.StrategyGeo},
			Members: []gslb.Member{
				{Site: "us-east", Addresses: []netip.Addr{a(1)}, Weight: 1},
				{Site: "eu-west", Addresses: []netip.Addr{a(2)}, Weight: 1},
				{Site: "ap-south", Addresses: []netip.Addr{a(3)}, Weight: 1, Priority: 1},
			},
		}
	}
	st.ApplyDefaults()
	return st
}

// scaleState builds a valid State in test/scale's shape: services
// app<i>.scale.example. with three members at consecutive sites of five,
// strategies in turn.
func scaleState(term, gen uint64, services int) *gslb.State {
	st := &gslb.State{
		Term: term, Generation: gen,
		Zones: []gslb.Zone{{
			Name:        scale.Zone,
			NameServers: []gslb.NameServer{{Name: "ns1." + scale.Zone, Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.53")}}},
		}},
	}
	for j := range 5 {
		st.Sites = append(st.Sites, gslb.Site{Name: scale.SiteName(j), Location: geo.Location{Lat: float64(10 * j), Lon: float64(20 * j), HasCoords: true}})
	}
	strategies := []gslb.Strategy{gslb.StrategyGeo, gslb.StrategyWeighted, gslb.StrategyRoundRobin, gslb.StrategyConsistentHash}
	st.Services = make([]gslb.Service, services)
	for i := range services {
		s := &st.Services[i]
		s.Name = scale.ServiceName(i)
		s.Policy.Strategy = strategies[i%len(strategies)]
		for k := range 3 {
			j := (i + k) % 5
			s.Members = append(s.Members, gslb.Member{Site: scale.SiteName(j), Addresses: []netip.Addr{scale.MemberAddr(i, j)}, Weight: 1})
		}
	}
	st.ApplyDefaults()
	return st
}

// recorder keeps every state OnState receives.
type recorder struct {
	mu     sync.Mutex
	states []gslb.Version
	notify chan struct{}
	hook   func()
}

func newRecorder() *recorder { return &recorder{notify: make(chan struct{}, 1)} }

func (r *recorder) onState(st *gslb.State) {
	r.mu.Lock()
	r.states = append(r.states, st.Version())
	hook := r.hook
	r.mu.Unlock()
	if hook != nil {
		hook()
	}
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

func (r *recorder) versions() []gslb.Version {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.states)
}

// delivered waits until OnState has received at least n states and
// returns them. A node holds a state (StateVersion) a moment before its
// OnState receives it, so tests that check deliveries wait for them.
func (r *recorder) delivered(t testing.TB, n int) []gslb.Version {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d states delivered to OnState", n), func() bool { return len(r.versions()) >= n })
	return r.versions()
}

func (r *recorder) last() (gslb.Version, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.states) == 0 {
		return gslb.Version{}, false
	}
	return r.states[len(r.states)-1], true
}

// sinkEvent is one call to a recording sink.
type sinkEvent struct {
	op, site, key string
	up            bool
	since         time.Time
	err           string
}

// sink records what a node's ObservationSink is told.
type sink struct {
	mu     sync.Mutex
	events []sinkEvent
}

func (s *sink) ObserveSite(site, key string, up bool, since time.Time, errMsg string) {
	s.add(sinkEvent{op: "observe", site: site, key: key, up: up, since: since, err: errMsg})
}
func (s *sink) RemoveSite(site, key string) { s.add(sinkEvent{op: "remove", site: site, key: key}) }
func (s *sink) ForgetSite(site string)      { s.add(sinkEvent{op: "forget", site: site}) }

func (s *sink) add(e sinkEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, e)
}

func (s *sink) find(match func(sinkEvent) bool) (sinkEvent, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.events {
		if match(e) {
			return e, true
		}
	}
	return sinkEvent{}, false
}

// testNode is a started Node with its recorder, sink and network filter.
type testNode struct {
	*Node
	rec    *recorder
	sink   *sink
	filter *netFilter
}

// testConfig is a node on loopback with a kernel-chosen port and fast
// test timing.
func testConfig(name, site string, role Role) Config {
	return Config{
		NodeName:         name,
		Site:             site,
		Role:             role,
		Version:          "test",
		BindAddr:         "127.0.0.1",
		Keys:             [][]byte{testKey},
		Timing:           TimingLocal,
		PushPullInterval: 300 * time.Millisecond,
		RetryInterval:    50 * time.Millisecond,
		RejoinInterval:   300 * time.Millisecond,
		TransferTimeout:  10 * time.Second,
		Logger:           testLogger(),
	}
}

// startNode starts a node; edit adjusts its config first. It is shut
// down when the test ends.
func startNode(t testing.TB, name, site string, role Role, edit func(*Config)) *testNode {
	t.Helper()
	tn := &testNode{rec: newRecorder(), sink: &sink{}, filter: &netFilter{}}
	cfg := testConfig(name, site, role)
	cfg.OnState = tn.rec.onState
	cfg.Observations = tn.sink
	cfg.netFilter = tn.filter
	if edit != nil {
		edit(&cfg)
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tn.Node = n
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Shutdown() })
	return tn
}

// addr is the node's gossip address.
func (tn *testNode) addr() string { return tn.Addr() }

// joinTo makes edit also join the given nodes.
func joinTo(peers ...*testNode) func(*Config) {
	return func(c *Config) {
		for _, p := range peers {
			c.Join = append(c.Join, p.addr())
		}
	}
}

func both(edits ...func(*Config)) func(*Config) {
	return func(c *Config) {
		for _, e := range edits {
			if e != nil {
				e(c)
			}
		}
	}
}

// startCluster starts a leader and followers that join it (or, when
// chain is set, a random earlier node), and waits until every node sees
// every other alive.
func startCluster(t testing.TB, followers int, edit func(i int, c *Config)) (*testNode, []*testNode) {
	t.Helper()
	e := func(i int) func(*Config) {
		if edit == nil {
			return nil
		}
		return func(c *Config) { edit(i, c) }
	}
	leader := startNode(t, "leader", "gslb", RoleLeader, e(0))
	all := []*testNode{leader}
	var fs []*testNode
	for i := 1; i <= followers; i++ {
		peer := all[(i*7)%len(all)] // spread joins over earlier nodes
		f := startNode(t, fmt.Sprintf("f%02d", i), fmt.Sprintf("site-%02d", i), RoleFollower, both(joinTo(peer), e(i)))
		fs = append(fs, f)
		all = append(all, f)
	}
	waitMembers(t, all...)
	return leader, fs
}

// waitMembers waits until each node sees all of them alive.
func waitMembers(t testing.TB, nodes ...*testNode) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d nodes to see each other", len(nodes)), func() bool {
		for _, n := range nodes {
			if n.ml.Load().NumMembers() != len(nodes) {
				return false
			}
		}
		return true
	})
}

// waitFor polls cond until it holds, failing after hangGuard.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitVersion waits until every node holds v.
func waitVersion(t testing.TB, v gslb.Version, nodes ...*testNode) {
	t.Helper()
	waitFor(t, "state "+v.String()+" everywhere", func() bool {
		for _, n := range nodes {
			if got, ok := n.StateVersion(); !ok || got != v {
				return false
			}
		}
		return true
	})
}

// partition cuts the network between groups; heal restores it.
func partition(groups ...[]*testNode) {
	for i, g := range groups {
		var cut []string
		for j, o := range groups {
			if i != j {
				for _, n := range o {
					cut = append(cut, n.addr())
				}
			}
		}
		for _, n := range g {
			n.filter.set(cut)
		}
	}
}

func heal(nodes ...*testNode) {
	for _, n := range nodes {
		n.filter.set(nil)
	}
}

func v(term, gen uint64) gslb.Version { return gslb.Version{Term: term, Generation: gen} }
