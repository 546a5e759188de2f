package health

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// obsList builds observations from a compact form: "local+ a- b+" is
// local up, site a down, site b up; "k8s-" is the Kubernetes veto down.
func obsList(spec string) []Observation {
	var out []Observation
	for _, f := range strings.Fields(spec) {
		name, up := f[:len(f)-1], f[len(f)-1] == '+'
		switch name {
		case "local":
			name = SourceLocalProbe
		case "k8s":
			name = SourceKubernetes
		default:
			name = SourceSite(name)
		}
		out = append(out, Observation{Source: name, Up: up})
	}
	return out
}

func TestCombine(t *testing.T) {
	t.Parallel()
	type want struct{ local, any, majority, all string } // "up", "down", "?" (unknown)
	tests := []struct {
		obs  string
		want want
	}{
		{"", want{"?", "?", "?", "?"}},
		// one source
		{"local+", want{"up", "up", "up", "up"}},
		{"local-", want{"down", "down", "down", "down"}},
		{"a-", want{"?", "down", "down", "down"}}, // local ignores other sites
		// two sources
		{"local+ a+", want{"up", "up", "up", "up"}},
		{"local+ a-", want{"up", "up", "up", "down"}}, // tie is up under majority
		{"local- a+", want{"down", "up", "up", "down"}},
		{"local- a-", want{"down", "down", "down", "down"}},
		// three sources
		{"local+ a+ b-", want{"up", "up", "up", "down"}},
		{"local+ a- b-", want{"up", "up", "down", "down"}},
		{"local- a- b+", want{"down", "up", "down", "down"}},
		{"local- a- b-", want{"down", "down", "down", "down"}},
		// four sources
		{"local+ a+ b- c-", want{"up", "up", "up", "down"}},
		{"local- a+ b- c-", want{"down", "up", "down", "down"}},
		{"local+ a+ b+ c+", want{"up", "up", "up", "up"}},
		// five sources
		{"local+ a+ b+ c- d-", want{"up", "up", "up", "down"}},
		{"local+ a+ b- c- d-", want{"up", "up", "down", "down"}},
		{"local- a- b- c- d+", want{"down", "up", "down", "down"}},
		{"local+ a+ b+ c+ d+", want{"up", "up", "up", "up"}},
		// the Kubernetes veto only takes down
		{"k8s+", want{"up", "up", "up", "up"}},
		{"k8s-", want{"down", "down", "down", "down"}},
		{"local+ a+ k8s-", want{"down", "down", "down", "down"}},
		{"local- k8s+", want{"down", "down", "down", "down"}},
		{"a+ k8s+", want{"up", "up", "up", "up"}},
	}
	show := func(v verdict) string {
		switch {
		case !v.known:
			return "?"
		case v.up:
			return "up"
		}
		return "down"
	}
	vetoes := map[string]bool{SourceKubernetes: true}
	all := func(string) bool { return true }
	for _, tt := range tests {
		obs := obsList(tt.obs)
		got := want{
			local:    show(combine(RuleLocal, obs, vetoes, all)),
			any:      show(combine(RuleAny, obs, vetoes, all)),
			majority: show(combine(RuleMajority, obs, vetoes, all)),
			all:      show(combine(RuleAll, obs, vetoes, all)),
		}
		if got != tt.want {
			t.Errorf("%q: local/any/majority/all = %v, want %v", tt.obs, got, tt.want)
		}
	}
	// Sources that are not live do not vote.
	obs := obsList("local+ a- b-")
	notB := func(s string) bool { return s != SourceSite("b") }
	if v := combine(RuleMajority, obs, vetoes, notB); !v.up || !v.known {
		t.Errorf("majority without b: %+v, want up (1 of 2)", v)
	}
}

func TestParseRule(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Rule{"": RuleMajority, "ANY": RuleAny, "local": RuleLocal, " all ": RuleAll} {
		if got, err := ParseRule(in); err != nil || got != want {
			t.Errorf("ParseRule(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseRule("quorum"); err == nil {
		t.Error("ParseRule(quorum): no error")
	}
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func testKey(i int) Key {
	return Key{Addr: netip.AddrFrom4([4]byte{127, 10, 20, byte(i)}), Port: 80}
}

// A forgotten source keeps counting for the TTL, then stops; reporting
// again revives it.
func TestObservationsForget(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Unix(1_000_000, 0)}
	o := NewObservations(ObservationsOptions{Rule: RuleAll, TTL: time.Hour, Now: clock.Now})
	t.Cleanup(o.Close)
	k := testKey(1)
	o.Observe(SourceLocalProbe, k, true, clock.Now(), "")
	o.Observe(SourceSite("eu"), k, false, clock.Now(), "timeout")
	if up, known := o.Verdict(k); up || !known {
		t.Fatalf("all with eu down: (%v, %v)", up, known)
	}
	o.Forget(SourceSite("eu"))
	clock.advance(59 * time.Minute)
	if up, _ := o.Verdict(k); up {
		t.Error("eu stopped counting before its TTL")
	}
	clock.advance(2 * time.Minute)
	if up, known := o.Verdict(k); !up || !known {
		t.Errorf("after the TTL: (%v, %v), want up from local alone", up, known)
	}
	// Reporting again revives the source.
	o.Observe(SourceSite("eu"), k, false, clock.Now(), "timeout")
	if up, _ := o.Verdict(k); up {
		t.Error("eu reported again but does not count")
	}
	srcs := o.Sources(k)
	if len(srcs) != 2 || srcs[0].Source != SourceLocalProbe || srcs[1].Source != "site/eu" || srcs[1].Error != "timeout" {
		t.Errorf("Sources = %+v", srcs)
	}
	o.Remove(SourceSite("eu"), k)
	o.Remove(SourceLocalProbe, k)
	if _, known := o.Verdict(k); known {
		t.Error("verdict known with no observations")
	}
}

// Subscribers hear of verdict changes only, in batches, including the
// change made by an expiry.
func TestObservationsNotify(t *testing.T) {
	t.Parallel()
	got := make(chan []Key, 100)
	o := NewObservations(ObservationsOptions{Rule: RuleMajority, TTL: 50 * time.Millisecond, OnChange: func(k []Key) { got <- k }})
	t.Cleanup(o.Close)
	next := func(what string) []Key {
		t.Helper()
		select {
		case k := <-got:
			return k
		case <-time.After(hangGuard):
			t.Fatalf("hang guard: no notification for %s", what)
		}
		return nil
	}
	quiet := func(what string) {
		t.Helper()
		// Changes are delivered promptly; a notification that did not come
		// within this window would be a wrong one arriving late, so this
		// only ever errs towards passing.
		select {
		case k := <-got:
			t.Errorf("%s: unexpected notification %v", what, k)
		case <-time.After(50 * time.Millisecond):
		}
	}
	k1, k2 := testKey(1), testKey(2)
	now := time.Now()
	o.Observe(SourceLocalProbe, k1, true, now, "")
	if k := next("first observation"); !slices.Equal(k, []Key{k1}) {
		t.Errorf("got %v", k)
	}
	o.Observe(SourceLocalProbe, k1, true, now, "") // same verdict
	o.Observe(SourceSite("a"), k1, true, now, "")  // still up
	quiet("unchanged verdict")

	o.Observe(SourceSite("a"), k2, false, now, "")
	next("k2 known down")
	o.Observe(SourceSite("b"), k1, false, now, "") // 2 up, 1 down: up
	quiet("majority still up")
	o.Observe(SourceSite("c"), k1, false, now, "") // 2 up, 2 down: tie is up
	quiet("tie")
	o.Observe(SourceLocalProbe, k1, false, now, "") // 1 up, 3 down
	next("majority down")

	// Site a leaves: after the TTL, k1 is 0 up / 3 down (still down) and
	// k2 has no source left (unknown): only k2 changes.
	o.Forget(SourceSite("a"))
	if k := next("expiry"); !slices.Equal(k, []Key{k2}) {
		t.Errorf("expiry changed %v, want only %v", k, k2)
	}
	if _, known := o.Verdict(k2); known {
		t.Error("k2 still known after its only source expired")
	}
	if srcs := o.Sources(k1); len(srcs) != 3 {
		t.Errorf("k1 sources after expiry: %+v", srcs)
	}
}

// The batcher delivers everything, in order, in fewer calls than items
// when the subscriber is slow.
func TestBatcher(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var mu sync.Mutex
	var calls [][]int
	b := newBatcher(func(items []int) {
		mu.Lock()
		calls = append(calls, items)
		first := len(calls) == 1
		mu.Unlock()
		if first {
			<-release
		}
	})
	b.add(0)
	waitFor(t, "first call", func() bool { mu.Lock(); defer mu.Unlock(); return len(calls) == 1 })
	for i := 1; i <= 100; i++ {
		b.add(i)
	}
	close(release)
	waitFor(t, "all items", func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, c := range calls {
			n += len(c)
		}
		return n == 101
	})
	b.stop()
	b.stop()
	var all []int
	for _, c := range calls {
		all = append(all, c...)
	}
	for i, v := range all {
		if v != i {
			t.Fatalf("out of order: %v", all)
		}
	}
	if len(calls) != 2 {
		t.Errorf("%d calls for a burst behind a slow subscriber, want 2: %s", len(calls), fmt.Sprint(calls))
	}
}
