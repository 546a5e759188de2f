package health

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Fast re-probe: a target in doubt is probed every FastInterval instead of
// every Interval. These tests drive a fake prober whose result the test
// switches, and judge the gaps between probe starts against interval/2:
// a fast gap is FastInterval (100ms), an ordinary one Interval (1s), so
// the boundary leaves each side room for a loaded machine.

// switchProber returns what the test sets and records when each probe
// started and what it returned.
type switchProber struct {
	fail atomic.Bool
	hang atomic.Bool // block until the probe's context ends

	mu     sync.Mutex
	starts []time.Time
	oks    []bool
}

func (p *switchProber) Probe(ctx context.Context) error {
	start := time.Now()
	var err error
	switch {
	case p.hang.Load():
		<-ctx.Done()
		err = ctx.Err()
	case p.fail.Load():
		err = &ProbeError{Reason: ReasonRefused, Err: context.Canceled}
	}
	p.mu.Lock()
	p.starts = append(p.starts, start)
	p.oks = append(p.oks, err == nil)
	p.mu.Unlock()
	return err
}

// after returns the gaps between the starts of the probes from probe
// number from (0-based) on, each with the result of the probe that
// opened it.
func (p *switchProber) after(from int) (gaps []time.Duration, before []bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := from + 1; i < len(p.starts); i++ {
		gaps = append(gaps, p.starts[i].Sub(p.starts[i-1]))
		before = append(before, p.oks[i-1])
	}
	return gaps, before
}

func (p *switchProber) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.starts)
}

// fastReprobeCheck is a check whose fast and ordinary gaps are far apart.
func fastReprobeCheck() Check {
	return Check{
		Kind: KindTCP, Port: 9, Interval: time.Second, FastInterval: 100 * time.Millisecond,
		Timeout: 300 * time.Millisecond, Rise: 2, Fall: 3, Jitter: Jitter{Off: true},
	}
}

func startSwitched(t *testing.T, c Check) (*switchProber, *changeLog, Key, *Monitor) {
	t.Helper()
	p, changes := &switchProber{}, newChangeLog()
	m := newTestMonitor(t, Options{
		NewProber: func(Target) (Prober, error) { return p, nil },
		OnChange:  changes.add,
	})
	tg := mustTarget(t, netip.MustParseAddrPort("127.10.9.1:9"), c)
	setTargets(t, m, tg)
	return p, changes, tg.Key(), m
}

// An up target that fails is re-probed every FastInterval and goes down
// at the fall-th failure, fall-1 fast gaps after the first; a down target
// that keeps failing is probed every Interval; its first success brings
// the fast re-probe back, up to rise.
func TestMonitorFastReprobe(t *testing.T) {
	c := fastReprobeCheck()
	p, changes, k, _ := startSwitched(t, c)
	half := c.Interval / 2

	up := changes.waitChanges(t, k, 1)[0]
	if up.To != StateUp || up.Probes != uint64(c.Rise) {
		t.Fatalf("first change %+v, want up at probe %d", up, c.Rise)
	}
	// An unknown target's successes are not doubt: ordinary gaps.
	if gaps, _ := p.after(0); len(gaps) != 1 || gaps[0] < half {
		t.Errorf("gaps while rising from unknown %v, want one of about %v", gaps, c.Interval)
	}

	p.fail.Store(true)
	from := p.count()
	died := time.Now()
	down := changes.waitChanges(t, k, 2)[1]
	took := time.Since(died)
	gaps, _ := p.after(from)
	if down.To != StateDown || int(down.Probes) != from+c.Fall {
		t.Fatalf("second change %+v, want down at probe %d", down, from+c.Fall)
	}
	if len(gaps) != c.Fall-1 {
		t.Fatalf("%d gaps inside the failure run, want %d", len(gaps), c.Fall-1)
	}
	for i, g := range gaps {
		if g >= half {
			t.Errorf("failure run: gap %d is %v, want about FastInterval %v (all: %v)", i, g, c.FastInterval, gaps)
		}
	}
	if limit := c.Interval + time.Duration(c.Fall-1)*c.FastInterval + half; took > limit {
		t.Errorf("down %v after the first failing result could start, want within %v", took, limit)
	}

	// Down and failing: no doubt, ordinary gaps.
	from = p.count()
	for p.count() < from+2 {
		time.Sleep(20 * time.Millisecond)
	}
	if gaps, _ := p.after(from - 1); len(gaps) < 2 || gaps[0] < half || gaps[1] < half {
		t.Errorf("gaps of a down target that fails %v, want about %v", gaps, c.Interval)
	}

	p.fail.Store(false)
	from = p.count()
	back := changes.waitChanges(t, k, 3)[2]
	if back.To != StateUp || int(back.Probes) != from+c.Rise {
		t.Fatalf("third change %+v, want up at probe %d", back, from+c.Rise)
	}
	if gaps, _ := p.after(from); len(gaps) != c.Rise-1 || gaps[0] >= half {
		t.Errorf("success run of a down target: gaps %v, want %d of about %v", gaps, c.Rise-1, c.FastInterval)
	}
}

// A flapping up target is re-probed fast after each failure and back on
// its interval after each success: it never goes down, and its load stays
// within one fast probe per interval more.
func TestMonitorFastReprobeFlapping(t *testing.T) {
	c := fastReprobeCheck()
	c.Fall = 2
	p, changes, k, m := startSwitched(t, c)
	half := c.Interval / 2
	changes.waitChanges(t, k, 1)

	from := p.count()
	for range 3 {
		// One failure, re-probed fast, then a success.
		next := p.count() + 1
		p.fail.Store(true)
		for p.count() < next {
			time.Sleep(5 * time.Millisecond)
		}
		p.fail.Store(false)
		for p.count() < next+1 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	gaps, before := p.after(from - 1)
	for i, g := range gaps {
		if fast := g < half; fast == before[i] {
			t.Errorf("gap %d is %v after a probe that returned ok=%v: want fast only after a failure (gaps %v)", i, g, before[i], gaps)
		}
	}
	if got := changes.of(k); len(got) != 1 {
		t.Errorf("flapping target changed: %+v", got)
	}
	if st, _ := m.TargetStatus(k); st.State != StateUp {
		t.Errorf("flapping target %v, want up", st.State)
	}
}

// A re-probe of a target whose probes time out starts when the previous
// one ends, not while it is in flight: no skipped ticks, no backlog.
func TestMonitorFastReprobeAfterTimeout(t *testing.T) {
	c := fastReprobeCheck()
	p, changes, k, m := startSwitched(t, c)
	changes.waitChanges(t, k, 1)

	p.hang.Store(true)
	from := p.count()
	down := changes.waitChanges(t, k, 2)[1]
	if down.To != StateDown || down.Reason != ReasonTimeout {
		t.Fatalf("change %+v, want down by timeout", down)
	}
	gaps, _ := p.after(from)
	for i, g := range gaps {
		if g < c.Timeout || g >= c.Timeout+c.Interval/2 {
			t.Errorf("gap %d is %v, want the timeout %v and little more (gaps %v)", i, g, c.Timeout, gaps)
		}
	}
	if st, _ := m.TargetStatus(k); st.Skipped != 0 {
		t.Errorf("%d ticks skipped: a re-probe came while a probe was in flight", st.Skipped)
	}
}

// Without FastInterval below Interval there is no fast re-probe.
func TestMonitorFastReprobeOff(t *testing.T) {
	c := fastReprobeCheck()
	c.FastInterval = c.Interval
	p, changes, k, _ := startSwitched(t, c)
	changes.waitChanges(t, k, 1)

	p.fail.Store(true)
	from := p.count()
	for p.count() < from+2 {
		time.Sleep(20 * time.Millisecond)
	}
	if gaps, _ := p.after(from); len(gaps) == 0 || gaps[0] < c.Interval/2 {
		t.Errorf("gaps after a failure %v with fast_interval = interval, want about %v", gaps, c.Interval)
	}
}

func TestTrackerInDoubt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		state    State
		ok, fail int
		want     bool
	}{
		{"new", StateUnknown, 0, 0, false},
		{"unknown failing", StateUnknown, 0, 1, true},
		{"unknown rising", StateUnknown, 1, 0, false}, // it answers already
		{"up steady", StateUp, 3, 0, false},
		{"up failing", StateUp, 0, 1, true},
		{"down failing", StateDown, 0, 5, false},
		{"down rising", StateDown, 1, 0, true},
	} {
		tr := tracker{state: tc.state, successes: tc.ok, failures: tc.fail}
		if got := tr.inDoubt(); got != tc.want {
			t.Errorf("%s: inDoubt = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The fast re-probe's waits stay within [fast/2, 3*fast/2) whatever the
// jitter, a duration larger than the fast interval included.
func TestFastJitter(t *testing.T) {
	t.Parallel()
	fast := 200 * time.Millisecond
	for _, j := range []Jitter{{Fraction: 0.1}, {Duration: 900 * time.Millisecond}, {Off: true}} {
		fj := fastJitter(j, fast)
		for range 1000 {
			if w := nextWait(fast, fj); w < fast/2 || w >= fast*3/2 {
				t.Fatalf("jitter %v: fast wait %v outside [%v, %v)", j, w, fast/2, fast*3/2)
			}
		}
	}
	if got := fastJitter(Jitter{Fraction: 0.1}, fast); got != 20*time.Millisecond {
		t.Errorf("10%% of %v = %v, want 20ms", fast, got)
	}
}

// fast_interval is schedule: another value is another target (its own
// prober and schedule) that keeps the old one's state on SetTargets.
func TestFastIntervalIsSchedule(t *testing.T) {
	t.Parallel()
	ap := netip.MustParseAddrPort("127.10.9.2:9")
	c := fastReprobeCheck()
	a := mustTarget(t, ap, c)
	c.FastInterval = 300 * time.Millisecond
	b := mustTarget(t, ap, c)
	if a.Key() == b.Key() {
		t.Error("another fast_interval kept the key")
	}
	if a.probeID() != b.probeID() {
		t.Error("another fast_interval changed what is probed: the state would not carry over")
	}
}
