package health

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Monitor tests are not parallel: they count probes against real sockets
// on a shared two-core machine, and checkNoLeaks looks at every goroutine.

// firstRun returns the probe number (1-based) at which n consecutive
// results equal to ok first complete, looking only at probes after the
// probe numbered after; 0 when there is none. It is the rise/fall rule
// written independently of tracker.
func firstRun(results []error, after int, ok bool, n int) int {
	run := 0
	for i := after; i < len(results); i++ {
		if (results[i] == nil) == ok {
			run++
			if run == n {
				return i + 1
			}
		} else {
			run = 0
		}
	}
	return 0
}

func newTestMonitor(t *testing.T, opts Options) *Monitor {
	t.Helper()
	m := NewMonitor(opts)
	t.Cleanup(m.Stop)
	return m
}

func setTargets(t *testing.T, m *Monitor, ts ...Target) {
	t.Helper()
	set := make(map[Key]Target, len(ts))
	for _, tg := range ts {
		set[tg.Key()] = tg
	}
	if err := m.SetTargets(set); err != nil {
		t.Fatalf("SetTargets: %v", err)
	}
}

// A killed backend goes down on exactly the fall-th failed probe, and a
// revived one comes up on the rise-th success; the Observations follow.
func TestMonitorFallAndRise(t *testing.T) {
	b := startBackend(t, "127.10.5.1", nil)
	plog, changes := newProbeLog(), newChangeLog()
	obs := NewObservations(ObservationsOptions{})
	t.Cleanup(obs.Close)
	m := newTestMonitor(t, Options{NewProber: plog.newProber, OnChange: changes.add, Observations: obs})
	c := fastCheck(KindHTTP)
	c.BodyContains = "healthy"
	tg := mustTarget(t, b.addrPort(), c)
	k := tg.Key()
	if up, known := obs.Verdict(k); !up || known {
		t.Fatalf("before any probe: verdict (%v, %v), want unknown", up, known)
	}
	setTargets(t, m, tg)

	up := changes.waitChanges(t, k, 1)[0]
	results := plog.get(k)
	if want := firstRun(results, 0, true, c.Rise); up.From != StateUnknown || up.To != StateUp || int(up.Probes) != want {
		t.Fatalf("first change %+v, want unknown->up at probe %d (%s)", up, want, fmtResults(results))
	}
	if v, known := obs.Verdict(k); !v || !known {
		t.Errorf("after up: verdict (%v, %v)", v, known)
	}

	b.kill()
	down := changes.waitChanges(t, k, 2)[1]
	results = plog.get(k)
	if want := firstRun(results, int(up.Probes), false, c.Fall); down.To != StateDown || int(down.Probes) != want {
		t.Fatalf("second change %+v, want down at probe %d (%s)", down, want, fmtResults(results))
	}
	// The fall-th failure and no earlier one: fall failed probes in a row,
	// preceded by a success.
	for i := int(down.Probes) - c.Fall; i < int(down.Probes); i++ {
		if results[i] == nil {
			t.Fatalf("probe %d succeeded inside the failure run (%s)", i+1, fmtResults(results))
		}
	}
	if results[int(down.Probes)-c.Fall-1] != nil {
		t.Fatalf("down needed more than fall failures (%s)", fmtResults(results))
	}
	if down.Reason != ReasonRefused {
		t.Errorf("down reason %q (%s), want refused", down.Reason, down.Error)
	}
	if v, known := obs.Verdict(k); v || !known {
		t.Errorf("after down: verdict (%v, %v)", v, known)
	}

	b.revive()
	again := changes.waitChanges(t, k, 3)[2]
	results = plog.get(k)
	if want := firstRun(results, int(down.Probes), true, c.Rise); again.To != StateUp || int(again.Probes) != want {
		t.Fatalf("third change %+v, want up at probe %d (%s)", again, want, fmtResults(results))
	}
	st, _ := m.TargetStatus(k)
	if st.State != StateUp || !st.Since.Equal(again.At) || st.LastReason != ReasonRefused || st.LastError == "" {
		t.Errorf("status %+v", st)
	}
}

// A backend that alternates success and failure never reaches rise=3 or
// fall=3 in a row, so its state never changes.
func TestMonitorFlapping(t *testing.T) {
	steady := startBackend(t, "127.10.5.2", nil)
	flappy := startBackend(t, "127.10.5.3", nil)
	flappy.mode.Store(modeAlternate)
	plog, changes := newProbeLog(), newChangeLog()
	m := newTestMonitor(t, Options{NewProber: plog.newProber, OnChange: changes.add})
	c := fastCheck(KindHTTP)
	// Slower than fastCheck: a healthy probe that timed out on a loaded
	// machine would break the alternation this test relies on.
	c.Interval, c.Timeout, c.Rise, c.Fall = 250*time.Millisecond, 200*time.Millisecond, 3, 3
	ts, tf := mustTarget(t, steady.addrPort(), c), mustTarget(t, flappy.addrPort(), c)
	setTargets(t, m, ts, tf)

	up := changes.waitChanges(t, ts.Key(), 1)[0]
	steady.mode.Store(modeAlternate)
	const flips = 10
	results := plog.waitProbes(t, ts.Key(), int(up.Probes)+flips)
	fresults := plog.waitProbes(t, tf.Key(), flips)

	if got := changes.of(ts.Key()); len(got) != 1 {
		t.Errorf("steady-then-flapping target changed %d times: %+v (%s)", len(got), got, fmtResults(results))
	}
	if got := changes.of(tf.Key()); len(got) != 0 {
		t.Errorf("flapping target changed: %+v (%s)", got, fmtResults(fresults))
	}
	for _, r := range [][]error{results[up.Probes:], fresults} {
		if firstRun(r, 0, false, 3) != 0 || firstRun(r, 0, true, 3) != 0 {
			t.Fatalf("backend did not alternate: %s", fmtResults(r))
		}
	}
	if st, _ := m.TargetStatus(ts.Key()); st.State != StateUp || st.RTT <= 0 || st.RTT > st.LastLatency*10 {
		t.Errorf("steady target %v, rtt %v (last probe %v), want up with an rtt", st.State, st.RTT, st.LastLatency)
	}
	if st, _ := m.TargetStatus(tf.Key()); st.State != StateUnknown {
		t.Errorf("flapping target %v, want unknown", st.State)
	}
}

// A probe that outlives its timeout is a timeout failure.
func TestMonitorTimeout(t *testing.T) {
	b := startBackend(t, "127.10.5.4", nil)
	b.mode.Store(modeSlow)
	changes := newChangeLog()
	metrics := NewMetrics()
	m := newTestMonitor(t, Options{OnChange: changes.add, Metrics: metrics})
	c := fastCheck(KindHTTP)
	c.Timeout, c.Fall = 50*time.Millisecond, 1
	tg := mustTarget(t, b.addrPort(), c)
	setTargets(t, m, tg)
	down := changes.waitChanges(t, tg.Key(), 1)[0]
	if down.To != StateDown || down.Reason != ReasonTimeout {
		t.Errorf("change %+v, want down by timeout", down)
	}
	st, _ := m.TargetStatus(tg.Key())
	if st.LastReason != ReasonTimeout || st.LastLatency < c.Timeout || st.RTT != 0 {
		t.Errorf("status reason %q latency %v rtt %v (a failed probe is no rtt sample)", st.LastReason, st.LastLatency, st.RTT)
	}
	if n := counterValue(t, metrics, "meridian_health_probe_failures_total", map[string]string{"target": tg.Label(), "reason": "timeout"}); n < 1 {
		t.Errorf("timeout failures metric = %v", n)
	}
}

// Fifty services on one VIP with one check are one target: the backend
// sees one probe per interval, not fifty.
func TestMonitorSharedTarget(t *testing.T) {
	b := startBackend(t, "127.10.6.1", nil)
	c := fastCheck(KindHTTP)
	c.Interval, c.Timeout = 200*time.Millisecond, 150*time.Millisecond
	c.Port = b.addrPort().Port()
	c.Host = "shared.example.test"
	plan, err := NewPlan(fiftyServices(b.addrPort().Addr()), PlanOptions{Check: constCheck(c)})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(plan.Targets()); n != 1 {
		t.Fatalf("plan has %d targets for 50 services on one VIP, want 1", n)
	}
	plog := newProbeLog()
	m := NewMonitor(Options{NewProber: plog.newProber})
	start := time.Now()
	if err := m.SetTargets(plan.Targets()); err != nil {
		t.Fatal(err)
	}
	var k Key
	for k = range plan.Targets() {
	}
	plog.waitProbes(t, k, 8)
	m.Stop()
	elapsed := time.Since(start)
	probes := len(plog.get(k))
	if got := b.requests.Load(); got != int64(probes) {
		t.Errorf("backend saw %d requests for %d probes", got, probes)
	}
	if got := b.conns.Load(); got != int64(probes) {
		t.Errorf("backend saw %d connections for %d probes", got, probes)
	}
	// Never more than one probe per interval (jitter is off): an upper
	// bound from the schedule, which no slowness of the machine can break.
	if limit := int(elapsed/c.Interval) + 1; probes > limit {
		t.Errorf("%d probes in %v at %v intervals: more than %d", probes, elapsed, c.Interval, limit)
	}
}

// A probe that ignores its deadline and outlives several intervals makes
// the Monitor skip those ticks instead of starting another.
func TestMonitorOneProbeInFlight(t *testing.T) {
	var running, maxRunning, done atomic.Int32
	release := make(chan struct{})
	slow := func(Target) (Prober, error) {
		return ProberFunc(func(context.Context) error {
			n := running.Add(1)
			defer running.Add(-1)
			for {
				if m := maxRunning.Load(); n <= m || maxRunning.CompareAndSwap(m, n) {
					break
				}
			}
			select { // ignores ctx on purpose, like a broken prober
			case <-time.After(350 * time.Millisecond):
			case <-release:
			}
			done.Add(1)
			return nil
		}), nil
	}
	metrics := NewMetrics()
	m := newTestMonitor(t, Options{NewProber: slow, Metrics: metrics})
	tg := mustTarget(t, netip.MustParseAddrPort("127.10.7.1:9"), fastCheck(KindTCP))
	setTargets(t, m, tg)
	waitFor(t, "3 slow probes", func() bool { return done.Load() >= 3 })
	if got := maxRunning.Load(); got != 1 {
		t.Errorf("%d probes of one target ran at once, want 1", got)
	}
	st, _ := m.TargetStatus(tg.Key())
	if st.Skipped == 0 {
		t.Errorf("no tick skipped while probes took 3.5 intervals: %+v", st)
	}
	if st.LastReason != ReasonTimeout {
		t.Errorf("a success after the timeout counted as %q, want timeout", st.LastReason)
	}
	if n := counterValue(t, metrics, "meridian_health_probes_skipped_total", nil); n == 0 {
		t.Error("skipped metric is 0")
	}
	close(release)
}

// A real backend that sleeps longer than the interval sees one request at
// a time: the timeout cancels each probe before the next starts.
func TestMonitorOneProbeInFlightBackend(t *testing.T) {
	b := startBackend(t, "127.10.7.2", nil)
	b.mode.Store(modeSlow)
	b.slowFor = 2 * time.Second
	plog := newProbeLog()
	m := newTestMonitor(t, Options{NewProber: plog.newProber})
	c := fastCheck(KindHTTP)
	// 600 ms between a probe's timeout and the next tick for the server
	// to see the client leave (300 ms was not always enough on a loaded
	// CI machine running -race).
	c.Interval, c.Timeout = 700*time.Millisecond, 100*time.Millisecond
	tg := mustTarget(t, b.addrPort(), c)
	setTargets(t, m, tg)
	results := plog.waitProbes(t, tg.Key(), 5)
	if got := b.maxInflight.Load(); got != 1 {
		t.Errorf("backend saw %d concurrent requests, want 1", got)
	}
	for i, r := range results {
		if reasonOf(r) != ReasonTimeout {
			t.Errorf("probe %d: %v, want timeout", i+1, r)
		}
	}
}

// The concurrency bound holds across targets.
func TestMonitorConcurrencyBound(t *testing.T) {
	var running, maxRunning atomic.Int32
	var mu sync.Mutex
	probed := make(map[Key]int)
	prober := func(tg Target) (Prober, error) {
		return ProberFunc(func(ctx context.Context) error {
			n := running.Add(1)
			defer running.Add(-1)
			for {
				if m := maxRunning.Load(); n <= m || maxRunning.CompareAndSwap(m, n) {
					break
				}
			}
			<-ctx.Done() // every probe takes its whole timeout
			mu.Lock()
			probed[tg.Key()]++
			mu.Unlock()
			return ctx.Err()
		}), nil
	}
	m := newTestMonitor(t, Options{NewProber: prober, Concurrency: 2})
	var ts []Target
	for i := range 6 {
		ts = append(ts, mustTarget(t, netip.AddrPortFrom(netip.MustParseAddr("127.10.7.3"), uint16(1000+i)), Check{
			Kind: KindTCP, Interval: 100 * time.Millisecond, Timeout: 30 * time.Millisecond, Jitter: Jitter{Off: true},
		}))
	}
	setTargets(t, m, ts...)
	waitFor(t, "every target probed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(probed) == len(ts)
	})
	if got := maxRunning.Load(); got > 2 {
		t.Errorf("%d probes ran at once with Concurrency 2", got)
	}
}

// SetTargets keeps unchanged targets as they are, starts new ones and
// stops removed ones.
func TestMonitorSetTargets(t *testing.T) {
	ba, bb, bc := startBackend(t, "127.10.8.1", nil), startBackend(t, "127.10.8.2", nil), startBackend(t, "127.10.8.3", nil)
	plog, changes := newProbeLog(), newChangeLog()
	obs := NewObservations(ObservationsOptions{})
	t.Cleanup(obs.Close)
	metrics := NewMetrics()
	m := newTestMonitor(t, Options{NewProber: plog.newProber, OnChange: changes.add, Observations: obs, Metrics: metrics})
	c := fastCheck(KindHTTP)
	ta, tb, tc := mustTarget(t, ba.addrPort(), c), mustTarget(t, bb.addrPort(), c), mustTarget(t, bc.addrPort(), c)
	setTargets(t, m, ta, tb)
	changes.waitChanges(t, ta.Key(), 1)
	changes.waitChanges(t, tb.Key(), 1)
	before, _ := m.TargetStatus(ta.Key())

	// The same set again changes nothing.
	setTargets(t, m, ta, tb)
	if again, _ := m.TargetStatus(ta.Key()); again.State != StateUp || !again.Since.Equal(before.Since) || again.Probes < before.Probes {
		t.Errorf("same set reset A: %+v, was %+v", again, before)
	}

	setTargets(t, m, ta, tc)
	stoppedAt := bb.requests.Load()
	after, ok := m.TargetStatus(ta.Key())
	if !ok || after.State != StateUp || !after.Since.Equal(before.Since) || after.Probes < before.Probes {
		t.Errorf("A after reconcile: %+v, was %+v", after, before)
	}
	if _, ok := m.TargetStatus(tb.Key()); ok {
		t.Error("B still listed after removal")
	}
	if _, known := obs.Verdict(tb.Key()); known {
		t.Error("B still has a local observation after removal")
	}
	if labelled(t, metrics, "meridian_health_target_up", tb.Label()) {
		t.Error("B's metrics survived its removal")
	}
	changes.waitChanges(t, tc.Key(), 1)
	plog.waitProbes(t, ta.Key(), int(after.Probes)+4)
	// A probe of B in flight during SetTargets may still have reached it;
	// nothing after that.
	if got := bb.requests.Load(); got > stoppedAt+1 {
		t.Errorf("B saw %d requests after removal", got-stoppedAt)
	}
	if got := len(m.Status()); got != 2 {
		t.Errorf("Status lists %d targets, want 2", got)
	}

	// A target must be under its own key.
	if err := m.SetTargets(map[Key]Target{tb.Key(): ta}); err == nil {
		t.Error("a target under another key was accepted")
	}
}

// A check that changes only its schedule is a new target that keeps the
// old one's state: a down member must not come back as unknown (= up)
// because its interval was tuned. A change of what is probed starts over.
func TestMonitorSetTargetsCarriesState(t *testing.T) {
	b := startBackend(t, "127.10.8.4", nil)
	plog, changes := newProbeLog(), newChangeLog()
	obs := NewObservations(ObservationsOptions{})
	t.Cleanup(obs.Close)
	metrics := NewMetrics()
	m := newTestMonitor(t, Options{NewProber: plog.newProber, OnChange: changes.add, Observations: obs, Metrics: metrics})
	c := fastCheck(KindHTTP)
	old := mustTarget(t, b.addrPort(), c)
	setTargets(t, m, old)
	changes.waitChanges(t, old.Key(), 1)
	b.kill()
	down := changes.waitChanges(t, old.Key(), 2)[1]

	c.Interval, c.Fall = 150*time.Millisecond, 5
	tuned := mustTarget(t, b.addrPort(), c)
	if tuned.Key() == old.Key() {
		t.Fatal("a new interval kept the key")
	}
	setTargets(t, m, tuned)
	st, ok := m.TargetStatus(tuned.Key())
	if !ok || st.State != StateDown || !st.Since.Equal(down.At) || st.LastReason != ReasonRefused {
		t.Errorf("tuned target %+v, want down since %v", st, down.At)
	}
	if up, known := obs.Verdict(tuned.Key()); up || !known {
		t.Errorf("tuned target verdict (%v, %v), want down at once", up, known)
	}
	if ch := changes.waitChanges(t, tuned.Key(), 1)[0]; !ch.Carried || ch.To != StateDown {
		t.Errorf("change %+v, want a carried down", ch)
	}
	if v := gaugeValue(t, registryOf(t, metrics), "meridian_health_target_up", tuned.Label()); v != 0 {
		t.Errorf("up gauge %v, want 0", v)
	}
	if v := counterValue(t, metrics, "meridian_health_transitions_total", map[string]string{"target": tuned.Label(), "to": "down"}); v != 0 {
		t.Errorf("carrying counted %v transitions", v)
	}

	c.Path = "/other"
	moved := mustTarget(t, b.addrPort(), c)
	setTargets(t, m, moved)
	if st, _ := m.TargetStatus(moved.Key()); st.State != StateUnknown {
		t.Errorf("new path: %v, want unknown", st.State)
	}
	// The fresh target rises as usual once the backend is back.
	b.revive()
	if ch := changes.waitChanges(t, moved.Key(), 1)[0]; ch.To != StateUp {
		t.Errorf("after revive %+v", ch)
	}
}

func TestMonitorKindNone(t *testing.T) {
	changes := newChangeLog()
	obs := NewObservations(ObservationsOptions{})
	t.Cleanup(obs.Close)
	m := newTestMonitor(t, Options{OnChange: changes.add, Observations: obs})
	tg := mustTarget(t, netip.MustParseAddrPort("127.10.7.9:0"), Check{Kind: KindNone})
	setTargets(t, m, tg)
	ch := changes.waitChanges(t, tg.Key(), 1)[0]
	if ch.To != StateUp || ch.Probes != 0 {
		t.Errorf("none target change %+v, want up without probes", ch)
	}
	if up, known := obs.Verdict(tg.Key()); !up || !known {
		t.Errorf("none target verdict (%v, %v)", up, known)
	}
}

// A target whose prober cannot be built stays unknown (answered as up)
// and shows why.
func TestMonitorBuildError(t *testing.T) {
	// The rule refuses a bad CA, so break a compiled target by hand.
	tg := mustTarget(t, netip.MustParseAddrPort("127.10.7.10:443"), Check{Kind: KindHTTPS, CAPEM: appCert(t).pem})
	broken := tg
	broken.Check.CAPEM = "junk"
	m := newTestMonitor(t, Options{})
	err := m.SetTargets(map[Key]Target{tg.Key(): broken})
	if err == nil {
		t.Fatal("SetTargets: no error for a bad CA")
	}
	st, ok := m.TargetStatus(tg.Key())
	if !ok || st.State != StateUnknown || st.LastError == "" {
		t.Errorf("status %+v", st)
	}
	if n := m.Unbuilt(); n != 1 {
		t.Errorf("Unbuilt = %d, want 1", n)
	}
	// The next SetTargets retries it.
	if err := m.SetTargets(map[Key]Target{tg.Key(): tg}); err != nil {
		t.Errorf("SetTargets after the CA was fixed: %v", err)
	}
	if n := m.Unbuilt(); n != 0 {
		t.Errorf("Unbuilt = %d after the retry, want 0", n)
	}
	if st, _ := m.TargetStatus(tg.Key()); st.LastError != "" {
		t.Errorf("status after retry %+v", st)
	}
}

func TestMonitorStopLeavesNothing(t *testing.T) {
	checkNoLeaks(t)
	slow := startBackend(t, "127.10.7.11", nil)
	slow.mode.Store(modeSlow)
	fast := startBackend(t, "127.10.7.12", nil)
	plog := newProbeLog()
	obs := NewObservations(ObservationsOptions{OnChange: func([]Key) {}})
	block := make(chan struct{})
	m := NewMonitor(Options{NewProber: plog.newProber, Observations: obs, OnChange: func([]Change) { <-block }})
	c := fastCheck(KindHTTP)
	c.Timeout = 90 * time.Millisecond
	ts, tf := mustTarget(t, slow.addrPort(), c), mustTarget(t, fast.addrPort(), c)
	setTargets(t, m, ts, tf)
	plog.waitProbes(t, tf.Key(), 3)
	plog.waitProbes(t, ts.Key(), 1)
	obs.Observe(SourceSite("eu"), ts.Key(), true, time.Now(), "")
	obs.Forget(SourceSite("eu")) // an expiry timer pending
	close(block)
	m.Stop()
	m.Stop()
	obs.Close()
	if err := m.SetTargets(nil); !errors.Is(err, ErrStopped) {
		t.Errorf("SetTargets after Stop: %v", err)
	}
	checkNoLeaks(t)
}

func TestMonitorMetrics(t *testing.T) {
	b := startBackend(t, "127.10.7.13", nil)
	metrics := NewMetrics()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(metrics)
	plog, changes := newProbeLog(), newChangeLog()
	m := newTestMonitor(t, Options{NewProber: plog.newProber, OnChange: changes.add, Metrics: metrics})
	c := fastCheck(KindHTTP)
	tg := mustTarget(t, b.addrPort(), c)
	setTargets(t, m, tg)
	if v := gaugeValue(t, reg, "meridian_health_target_up", tg.Label()); v != -1 {
		t.Errorf("up gauge before any verdict = %v, want -1", v)
	}
	changes.waitChanges(t, tg.Key(), 1)
	b.mode.Store(modeFail)
	changes.waitChanges(t, tg.Key(), 2)
	m.Stop() // freeze the numbers
	probes := len(plog.get(tg.Key()))
	lbl := map[string]string{"target": tg.Label()}
	if v := gaugeValue(t, reg, "meridian_health_target_up", tg.Label()); v != 0 {
		t.Errorf("up gauge after down = %v", v)
	}
	if v := counterValue(t, metrics, "meridian_health_transitions_total", map[string]string{"target": tg.Label(), "to": "up"}); v != 1 {
		t.Errorf("transitions to up = %v", v)
	}
	if v := counterValue(t, metrics, "meridian_health_transitions_total", map[string]string{"target": tg.Label(), "to": "down"}); v != 1 {
		t.Errorf("transitions to down = %v", v)
	}
	if v := counterValue(t, metrics, "meridian_health_probe_failures_total", map[string]string{"target": tg.Label(), "reason": "status"}); v < float64(c.Fall) {
		t.Errorf("status failures = %v", v)
	}
	if v := histogramCount(t, reg, "meridian_health_probe_duration_seconds", lbl); v != uint64(probes) {
		t.Errorf("latency histogram count %d, want %d probes", v, probes)
	}
	if v := gaugeValue(t, reg, "meridian_health_targets", "down"); v != 1 {
		t.Errorf("targets{state=down} = %v", v)
	}
	// Every series of the target shares one label set shape.
	if problems, err := reg.Gather(); err != nil || len(problems) == 0 {
		t.Errorf("gather: %v", err)
	}
}
