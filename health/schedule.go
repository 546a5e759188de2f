package health

import (
	"container/heap"
	"time"
)

// schedule is a min-heap of targets by due time. One goroutine sleeping on
// the earliest due time replaces a goroutine and a timer per target: the
// cost of 100,000 idle targets is their structs, not 100,000 stacks.
type schedule []*target

func (s schedule) Len() int           { return len(s) }
func (s schedule) Less(i, j int) bool { return s[i].due.Before(s[j].due) }
func (s schedule) Swap(i, j int) {
	s[i], s[j] = s[j], s[i]
	s[i].index, s[j].index = i, j
}

func (s *schedule) Push(x any) {
	t := x.(*target)
	t.index = len(*s)
	*s = append(*s, t)
}

func (s *schedule) Pop() any {
	old := *s
	n := len(old) - 1
	t := old[n]
	old[n] = nil
	t.index = -1
	*s = old[:n]
	return t
}

func (s *schedule) add(t *target)    { heap.Push(s, t) }
func (s *schedule) remove(t *target) { heap.Remove(s, t.index) }
func (s *schedule) fix(t *target)    { heap.Fix(s, t.index) }

// advance moves t to its next tick after now. Ticks are counted from the
// previous due time, not from when the probe ended, so the interval does
// not stretch by the probe's latency; ticks missed altogether (the machine
// was suspended, the semaphore was saturated) are dropped, not caught up
// in a burst.
func (s *schedule) advance(t *target, now time.Time) {
	next := t.due.Add(nextWait(t.Check.Interval, t.jitter))
	if !next.After(now) {
		next = now.Add(nextWait(t.Check.Interval, t.jitter))
	}
	t.due = next
	s.fix(t)
}

// hurry moves t's next probe to fast_interval after start, the start of
// the probe that just ended at end, or to end when that probe took longer
// (it timed out): one probe in flight at a time, never a backlog. A due
// time already sooner stays. It reports whether t moved, so the scheduler,
// asleep until the earliest due time it knew, can be woken.
func (s *schedule) hurry(t *target, start, end time.Time) bool {
	next := start.Add(nextWait(t.Check.FastInterval, t.fastJitter))
	if next.Before(end) {
		next = end
	}
	if t.index < 0 || !next.Before(t.due) {
		return false
	}
	t.due = next
	s.fix(t)
	return true
}
