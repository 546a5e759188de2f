package gslb

import (
	"sync/atomic"
	"time"
)

// A Pacer lets a long loop off the query path (a reload's load and
// publish, a gossip state's apply) step aside for queries now and then.
//
// Go preempts a running goroutine only after 10 ms, and a P busy with one
// polls the network only then (or when sysmon does, as often). With
// GOMAXPROCS=1 (a pod limited to one CPU), or with every P taken by a
// reload and the garbage collector, a query arriving during a long loop
// waited up to 10 ms before its goroutine was even woken: the p99 of
// issue 10 during reloads. runtime.Gosched does not help: it requeues the
// goroutine, and the scheduler takes it back before it polls the
// network. A short sleep parks it, and a P with nothing else to run
// polls the network first, so the waiting queries run. The loop slows a
// little under load; idle, a sleep may last up to the network poller's
// 1 ms timeout granularity: an idle server reloads more slowly (wall
// time), not with more CPU.
//
// The zero Pacer is ready; give each goroutine its own. It yields only
// while pacing is on (SetPacing): serve turns it on once it answers
// queries; check-config and tests run at full speed.
type Pacer struct {
	n    int
	last time.Time // of the last yield, or the first check
}

const (
	// paceSlice is how long a loop runs before it yields: about the
	// longest it delays a query. Measured (scalerun dns, 100k services,
	// 10 reloads): 1 ms gave a p99 of 4.0-4.6 ms, 250 µs 2.8-3.0 ms;
	// 100 µs no better, with reloads 2.5 times as long.
	paceSlice = 250 * time.Microsecond
	// paceYield is the sleep; any sleep parks the goroutine.
	paceYield = 10 * time.Microsecond
	// paceCheck is how many steps pass between looks at the clock.
	paceCheck = 128
)

var pacing atomic.Bool

// paceSleep is time.Sleep; tests count the yields.
var paceSleep = time.Sleep

// SetPacing turns pacing on or off for the whole process.
func SetPacing(on bool) { pacing.Store(on) }

// Step counts one step of the loop (one service, say) and, every
// paceCheck steps, Checks.
func (p *Pacer) Step() {
	p.n++
	if p.n%paceCheck == 0 {
		p.Check()
	}
}

// Check yields when the loop has run for paceSlice since its last
// yield. Loops whose steps are long (a chunk of a file) call it per step.
func (p *Pacer) Check() {
	if !pacing.Load() {
		return
	}
	now := time.Now()
	if p.last.IsZero() {
		p.last = now
		return
	}
	if now.Sub(p.last) >= paceSlice {
		paceSleep(paceYield)
		p.last = time.Now()
	}
}
