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
