package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/meridian-gslb/meridian/gslb"
)

// DefaultConcurrency bounds the probes in flight at once. Loopback and LAN
// probes finish in about a millisecond, so 256 slots cover tens of
// thousands of targets a second; it exists so that a partition, where
// every probe waits its whole timeout, cannot open thousands of sockets.
const DefaultConcurrency = 256

// ErrStopped is returned by SetTargets after Stop.
var ErrStopped = errors.New("health: monitor stopped")

// Options configure a Monitor. The zero value works: nothing is exported
// and nobody is told about changes.
type Options struct {
	// Concurrency bounds probes in flight over all targets (default
	// DefaultConcurrency). A target whose tick comes while every slot is
	// busy waits for one, and counts as in flight while it waits.
	Concurrency int
	// Observations receives every state change as SourceLocalProbe, and
	// forgets a target when it is removed.
	Observations *Observations
	// OnChange receives state changes in order, in batches, on a goroutine
	// of its own (see batcher). It may call the Monitor.
	OnChange func([]Change)
	// Metrics, if set, is updated by this monitor.
	Metrics *Metrics
	// Logger logs transitions (info) and unusable targets (warn).
	// Default: discard.
	Logger *slog.Logger
	// NewProber builds the prober of a target; default NewProber.
	NewProber func(Target) (Prober, error)
	// Signals, if set, receives the load each successful probe reads
	// (a check's load_from) as SignalProbe, and forgets a target's
	// reading when the target is removed.
	Signals *Signals
}

// loadErrLogEvery is how often a target's load read errors are logged:
// every probe may fail to read it, and the metric counts them all.
const loadErrLogEvery = time.Minute

// Change is one state change of a target.
type Change struct {
	Key    Key
	Label  string // "addr:port/kind"
	From   State
	To     State
	At     time.Time
	Probes uint64 // the target's probe count when it changed: the Nth probe did it
	Error  string // the last failure, for a change to down
	Reason Reason
	// Carried: not a transition but a state taken over from the target
	// this one replaces, whose check differed only in interval,
	// fast_interval, timeout, rise, fall, jitter or load_from. At is when the state
	// was entered.
	Carried bool
}

// Monitor probes a set of targets, each on its own interval, and keeps the
// state of each. Create it with NewMonitor, feed it with SetTargets, end it
// with Stop.
type Monitor struct {
	opts    Options
	log     *slog.Logger
	ctx     context.Context
	cancel  context.CancelFunc
	sem     chan struct{} // one token per probe in flight
	wake    chan struct{} // capacity 1: the schedule changed
	changes *batcher[Change]
	wg      sync.WaitGroup // the scheduler and every probe goroutine

	mu      sync.Mutex
	targets map[Key]*target
	queue   schedule
	counts  [3]int // targets per State
	unbuilt int    // targets whose prober could not be built
	stopped bool
}

// target is a Target with its prober and its history. Fields below mu are
// guarded by Monitor.mu.
type target struct {
	Target
	label    string
	prober   Prober
	buildErr error
	ctx      context.Context // ends when the target is removed or the monitor stops
	cancel   context.CancelFunc
	jitter   time.Duration
	// fast: the check re-probes a target in doubt (a fast_interval
	// shorter than its interval); fastJitter spreads those re-probes.
	fast       bool
	fastJitter time.Duration
	metrics    *targetMetrics // nil without Options.Metrics

	// mu: Monitor.mu
	due         time.Time
	index       int  // in Monitor.queue, -1 when not scheduled
	inflight    bool // a probe is running or waiting for a slot
	tr          tracker
	probes      uint64
	skipped     uint64
	lastProbe   time.Time
	lastLatency time.Duration
	rtt         rtt // the successful probes' smoothed duration
	lastErr     string
	lastErrAt   time.Time
	lastReason  Reason
	// The load (load_from): the last value read and when, and the
	// latest probe's read error, cleared by a read that works.
	load        float64
	loadOK      bool
	loadAt      time.Time
	loadErr     string
	loadErrGate logGate // paces the warnings about loadErr

	// loadMu orders the stores of readings into Options.Signals, which
	// happen outside Monitor.mu; loadStored is the probe count of the
	// latest reading stored, so an older one never overwrites it.
	loadMu     sync.Mutex
	loadStored uint64
}

// NewMonitor starts a monitor with no targets.
func NewMonitor(opts Options) *Monitor {
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.NewProber == nil {
		opts.NewProber = NewProber
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Monitor{
		opts:    opts,
		log:     log,
		sem:     make(chan struct{}, opts.Concurrency),
		wake:    make(chan struct{}, 1),
		targets: make(map[Key]*target),
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	if opts.OnChange != nil {
		m.changes = newBatcher(opts.OnChange)
	}
	m.wg.Add(1)
	go m.run()
	return m
}

// SetTargets makes ts the set of probed targets: targets not in ts stop
// (a probe in flight is cancelled and its result dropped), new ones start
// as unknown, and those already probed keep their state and schedule. Call
// it whenever a new snapshot is published; an unchanged set costs a map
// walk. ts must hold targets made by NewTarget under their own Key.
//
// A target whose prober cannot be built (an unreadable CA file) is listed
// by Status with the error and stays unknown, which answers as up: a
// configuration mistake should not take members out of DNS. The errors
// are returned, joined.
func (m *Monitor) SetTargets(ts map[Key]Target) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return ErrStopped
	}
	// Targets whose check changed only in its schedule come back under a
	// new key; they keep the old one's state rather than restart unknown,
	// which would answer a down member again for fall intervals, just
	// when an operator tunes the interval during an incident.
	leaving := make(map[probeID]*target)
	for k, t := range m.targets {
		if _, keep := ts[k]; !keep {
			if t.tr.state != StateUnknown {
				leaving[t.probeID()] = t
			}
			m.removeLocked(t)
		}
	}
	var errs []error
	now := time.Now()
	for k, t := range ts {
		if t.key != k || !k.Addr.IsValid() {
			errs = append(errs, fmt.Errorf("health: target %s is not under its own key (use NewTarget and Target.Key)", t.Label()))
			continue
		}
		if cur, ok := m.targets[k]; ok {
			if cur.buildErr == nil {
				continue
			}
			// Retry a target that could not be built: the CA file may
			// be there now.
			m.removeLocked(cur)
		}
		if err := m.addLocked(t, now, leaving[t.probeID()]); err != nil {
			errs = append(errs, err)
		}
	}
	m.opts.Metrics.setCounts(m.counts)
	m.poke()
	return errors.Join(errs...)
}

// poke wakes the scheduler to look at the due times again; a wake already
// pending is enough.
func (m *Monitor) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Unbuilt counts the targets whose prober could not be built: a caller
// that skips SetTargets because its targets did not change calls it
// anyway while there are some, to retry them.
func (m *Monitor) Unbuilt() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.unbuilt
}

// probeID is what a target keeps across a schedule-only change.
type probeID struct {
	addr  netip.Addr
	port  uint16
	probe Fingerprint
}

func (t *Target) probeID() probeID { return probeID{t.Addr, t.Port, t.probe} }

// addLocked starts probing nt. When prev is not nil, nt replaces it after
// a schedule-only change and starts from its state.
func (m *Monitor) addLocked(nt Target, now time.Time, prev *target) error {
	t := &target{
		Target:     nt,
		label:      nt.Label(),
		jitter:     nt.Check.Jitter.Amount(nt.Check.Interval),
		fast:       0 < nt.Check.FastInterval && nt.Check.FastInterval < nt.Check.Interval,
		fastJitter: fastJitter(nt.Check.Jitter, nt.Check.FastInterval),
		index:      -1,
	}
	t.tr.since = now
	t.ctx, t.cancel = context.WithCancel(m.ctx)
	m.targets[nt.key] = t
	m.counts[StateUnknown]++
	t.metrics = m.opts.Metrics.addTarget(t)
	switch p, err := m.opts.NewProber(nt); {
	case err != nil:
		t.buildErr = err
		m.unbuilt++
		t.lastErr, t.lastErrAt = err.Error(), now
		m.log.Warn("health target not probed", "target", t.label, "error", err)
		return err
	case nt.Check.Kind == KindNone:
		// Nothing to probe: up from the start, never scheduled.
		t.prober = p
		t.tr.state, t.tr.since = StateUp, now
		m.changeLocked(t, StateUnknown, now)
		return nil
	default:
		t.prober = p
		t.due = now.Add(firstWait(t.jitter))
		m.queue.add(t)
		if prev != nil {
			m.carryLocked(t, prev)
		}
		return nil
	}
}

// carryLocked gives t the state and history of prev and publishes it
// under t's key, marked Carried; it is not a transition.
func (m *Monitor) carryLocked(t, prev *target) {
	t.tr = prev.tr
	t.lastErr, t.lastErrAt, t.lastReason = prev.lastErr, prev.lastErrAt, prev.lastReason
	t.lastProbe, t.lastLatency, t.rtt = prev.lastProbe, prev.lastLatency, prev.rtt
	t.load, t.loadOK, t.loadAt = prev.load, prev.loadOK, prev.loadAt
	t.loadErr, t.loadErrGate = prev.loadErr, prev.loadErrGate
	m.counts[StateUnknown]--
	m.counts[t.tr.state]++
	t.metrics.setState(t.tr.state)
	c := Change{Key: t.key, Label: t.label, From: StateUnknown, To: t.tr.state, At: t.tr.since, Carried: true}
	if c.To == StateDown {
		c.Error, c.Reason = t.lastErr, t.lastReason
	}
	if m.opts.Observations != nil {
		m.opts.Observations.Observe(SourceLocalProbe, t.key, c.To == StateUp, c.At, c.Error)
	}
	if m.changes != nil {
		m.changes.add(c)
	}
}

func (m *Monitor) removeLocked(t *target) {
	t.cancel()
	if t.index >= 0 {
		m.queue.remove(t)
	}
	delete(m.targets, t.key)
	if t.buildErr != nil {
		m.unbuilt--
	}
	m.counts[t.tr.state]--
	m.opts.Metrics.removeTarget(t)
	if m.opts.Observations != nil {
		m.opts.Observations.Remove(SourceLocalProbe, t.key)
	}
	if m.opts.Signals != nil {
		m.opts.Signals.RemoveTarget(t.key, SignalProbe)
	}
}

// Stop ends every probe and the scheduler and waits for them. Pending
// change notifications are dropped. Safe to call more than once.
func (m *Monitor) Stop() {
	m.mu.Lock()
	already := m.stopped
	m.stopped = true
	m.mu.Unlock()
	if already {
		return
	}
	m.cancel()
	m.wg.Wait()
	if m.changes != nil {
		m.changes.stop()
	}
}

// run is the scheduler: it starts each due target's probe, one at a time
// per target, within the concurrency bound.
func (m *Monitor) run() {
	defer m.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		t, wait := m.next(time.Now())
		if t != nil {
			select {
			case m.sem <- struct{}{}:
			case <-m.ctx.Done():
				return
			}
			m.wg.Add(1)
			go m.probe(t)
			continue
		}
		timer.Reset(wait)
		select {
		case <-m.ctx.Done():
			return
		case <-timer.C:
		case <-m.wake:
		}
	}
}

// next returns a target due at now and marks it in flight, or the time to
// wait for the next one. A due target whose previous probe is still in
// flight skips this tick.
func (m *Monitor) next(now time.Time) (*target, time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for len(m.queue) > 0 {
		t := m.queue[0]
		if t.due.After(now) {
			return nil, t.due.Sub(now)
		}
		m.queue.advance(t, now)
		if t.inflight {
			t.skipped++
			m.opts.Metrics.skip()
			continue
		}
		t.inflight = true
		return t, 0
	}
	return nil, time.Hour
}

// probe runs one probe of t with the check's timeout and records it.
func (m *Monitor) probe(t *target) {
	defer m.wg.Done()
	if t.ctx.Err() != nil { // removed while waiting for a slot
		<-m.sem
		m.done(t)
		return
	}
	ctx, cancel := context.WithTimeout(t.ctx, t.Check.Timeout)
	m.opts.Metrics.inflight(1)
	start := time.Now()
	err := t.prober.Probe(ctx)
	end := time.Now()
	switch {
	case err != nil:
		err = failure(ctx, err)
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		// A prober that ignores its context and succeeds late has still
		// missed the timeout: the check promised an answer within it.
		err = &ProbeError{Reason: ReasonTimeout, Err: fmt.Errorf("no result within %v", t.Check.Timeout)}
	}
	var load loadReading
	if lp, ok := t.prober.(loadProber); ok && err == nil {
		load.v, load.ok, load.err = lp.LastLoad()
	}
	cancel()
	m.opts.Metrics.inflight(-1)
	<-m.sem
	if seq, ok := m.record(t, start, end, err, load); ok && load.ok && m.opts.Signals != nil {
		m.storeLoad(t, seq, gslb.LoadSignal{Value: load.v, At: end, Source: SignalProbe})
	}
}

// done clears the in-flight mark without recording anything.
func (m *Monitor) done(t *target) {
	m.mu.Lock()
	t.inflight = false
	m.mu.Unlock()
}

// record applies one probe result and the load it read, and returns the
// target's probe count with ok true. The result of a probe whose target
// was removed (or whose monitor stopped) is dropped, ok false: it was
// cancelled, so it says nothing about the target.
func (m *Monitor) record(t *target, start, end time.Time, err error, load loadReading) (probes uint64, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t.inflight = false
	if t.ctx.Err() != nil {
		return 0, false
	}
	t.probes++
	t.lastProbe = start
	t.lastLatency = end.Sub(start)
	var reason Reason
	if err != nil {
		reason = Classify(err)
		t.lastErr, t.lastErrAt, t.lastReason = err.Error(), end, reason
	} else {
		t.rtt.observe(t.lastLatency)
	}
	t.metrics.probed(t.lastLatency, reason)
	from := t.tr.state
	if t.tr.observe(err == nil, end, t.Check.Rise, t.Check.Fall) {
		m.changeLocked(t, from, end)
	}
	// next already moved t a whole interval on; a target in doubt comes
	// back sooner. Out of doubt, that interval stands.
	if t.fast && t.tr.inDoubt() && m.queue.hurry(t, start, end) {
		m.poke()
	}
	m.loadLocked(t, end, load)
	return t.probes, true
}

// loadLocked notes a probe's load reading in t's status: a value, or a
// read error, which does not change the probe's verdict but is counted
// and logged at most once per loadErrLogEvery.
func (m *Monitor) loadLocked(t *target, at time.Time, load loadReading) {
	switch {
	case load.ok:
		t.load, t.loadOK, t.loadAt, t.loadErr = load.v, true, at, ""
	case load.err != nil:
		t.loadErr = load.err.Error()
		t.metrics.loadError()
		if t.loadErrGate.allow("", at, loadErrLogEvery) {
			m.log.Warn("health target load not read", "target", t.label, "error", t.loadErr)
		}
	}
}

// storeLoad stores the reading of t's probe number seq into
// Options.Signals, outside m.mu: Signals hands it on (Signals.OnLocal),
// and that code may call the Monitor. A reading older than one already
// stored is dropped, and one stored after t was removed is taken back.
func (m *Monitor) storeLoad(t *target, seq uint64, sig gslb.LoadSignal) {
	t.loadMu.Lock()
	defer t.loadMu.Unlock()
	if seq <= t.loadStored || t.ctx.Err() != nil {
		return // an older reading, or the target is gone: nothing to store or gossip
	}
	t.loadStored = seq
	m.opts.Signals.SetTarget(t.key, sig)
	if t.ctx.Err() == nil {
		return
	}
	// Removed (or stopped) since record: removeLocked's RemoveTarget may
	// have come first. Unless the key is probed again, forget it.
	m.mu.Lock()
	if _, live := m.targets[t.key]; !live {
		m.opts.Signals.RemoveTarget(t.key, SignalProbe)
	}
	m.mu.Unlock()
}

// changeLocked publishes t's move from state from to its current state.
// The Observations update happens under m.mu so that two changes of one
// target can never reach the store out of order.
func (m *Monitor) changeLocked(t *target, from State, at time.Time) {
	to := t.tr.state
	m.counts[from]--
	m.counts[to]++
	t.metrics.transition(to)
	m.opts.Metrics.setCounts(m.counts)
	c := Change{Key: t.key, Label: t.label, From: from, To: to, At: at, Probes: t.probes}
	if to == StateDown {
		c.Error, c.Reason = t.lastErr, t.lastReason
	}
	if m.opts.Observations != nil {
		m.opts.Observations.Observe(SourceLocalProbe, t.key, to == StateUp, at, c.Error)
	}
	if m.changes != nil {
		m.changes.add(c)
	}
	if to == StateDown {
		m.log.Info("health target down", "target", t.label, "after_probes", t.probes, "reason", c.Reason, "error", c.Error)
	} else {
		m.log.Info("health target up", "target", t.label, "after_probes", t.probes, "was", from)
	}
}
