package httpapi

import (
	"container/heap"
	"slices"
	"sort"

	"github.com/meridian-gslb/meridian/health"
)

// A member's health, as the snapshot holds it (gslb's memberUp over
// health.View.MemberUp), is
//
//   - down when Kubernetes marks it unready, or one of its targets' verdicts
//     is down;
//   - up when a verdict is up and none is down;
//   - unknown when it has no target, or no verdict yet.
//
// So the services that may have a member in a state are the users of the
// targets with that verdict, plus the unready (down) or unprobed
// (unknown) ones. The state filter walks those candidates, merged in rank
// order, and checks each against the snapshot, rather than reading every
// service's health: a page of "down" costs the page, not the services.
// (A verdict that changed after the snapshot was built is in the
// snapshot a moment later: the check keeps the page true to the snapshot.)

// stateCandidates calls yield with the rank of each service, from rank
// start on and in order, that may have a member in state (up, down or
// unknown), until yield returns false.
func (hq *healthQuery) stateCandidates(start int, yield func(r int) bool) {
	tx, obs := hq.targets, hq.pub.Observations()
	if hq.state == "unknown" && tx.allUnprobed {
		selection{hi: hq.services.len()}.from(start, yield)
		return
	}
	var m rankMerge
	for r, k := range tx.keys {
		if up, known := obs.Verdict(k); health.VerdictWord(up, known) == hq.state {
			m.addUsers(tx.users[r], start)
		}
	}
	switch hq.state {
	case "down":
		m.addRanks(hq.services.unready, start)
	case "unknown":
		m.addRanks(tx.unprobed, start)
	}
	m.each(yield)
}

// rankMerge merges ascending lists of service ranks (a target's users, or
// plain ranks) into one ascending sequence without repeats: a k-way merge
// on a heap of the lists' heads.
type rankMerge []rankList

type rankList struct {
	users []targetUser // one of users and ranks is set
	ranks []int32
}

func (l *rankList) head() int32 {
	if l.users != nil {
		return l.users[0].service
	}
	return l.ranks[0]
}

// pop drops the head; false when the list is then empty.
func (l *rankList) pop() bool {
	if l.users != nil {
		l.users = l.users[1:]
		return len(l.users) > 0
	}
	l.ranks = l.ranks[1:]
	return len(l.ranks) > 0
}

func (m *rankMerge) addUsers(us []targetUser, start int) {
	i := sort.Search(len(us), func(i int) bool { return int(us[i].service) >= start })
	if i < len(us) {
		*m = append(*m, rankList{users: us[i:]})
	}
}

func (m *rankMerge) addRanks(rs []int32, start int) {
	i, _ := slices.BinarySearch(rs, int32(start))
	if i < len(rs) {
		*m = append(*m, rankList{ranks: rs[i:]})
	}
}

func (m *rankMerge) each(yield func(r int) bool) {
	heap.Init(m)
	last := int32(-1)
	for m.Len() > 0 {
		l := &(*m)[0]
		if r := l.head(); r != last {
			if !yield(int(r)) {
				return
			}
			last = r
		}
		if l.pop() {
			heap.Fix(m, 0)
		} else {
			heap.Pop(m)
		}
	}
}

func (m rankMerge) Len() int           { return len(m) }
func (m rankMerge) Less(i, j int) bool { return m[i].head() < m[j].head() }
func (m rankMerge) Swap(i, j int)      { m[i], m[j] = m[j], m[i] }
func (m *rankMerge) Push(x any)        { *m = append(*m, x.(rankList)) }
func (m *rankMerge) Pop() any {
	old := *m
	l := old[len(old)-1]
	*m = old[:len(old)-1]
	return l
}
