package httpapi

import (
	"sync"
	"sync/atomic"
	"time"
)

// warmWindow is how recently a list must have been read for a publish to
// build the new indexes at once.
const warmWindow = 10 * time.Minute

// indexWarmer builds the list endpoints' indexes right after a publish,
// off the request path, while someone reads the lists (a dashboard
// polling /api/v1/health). Built on the first request instead, at 100k
// services they made that request take 0.1-0.15 s (issue 10: every page
// under 100 ms). A server whose lists nobody reads builds nothing.
type indexWarmer struct {
	listed atomic.Int64 // UnixNano of the last list request; 0: none yet

	mu               sync.Mutex
	running, pending bool // a build goroutine runs; another publish came meanwhile
}

// used records a list request.
func (w *indexWarmer) used() { w.listed.Store(time.Now().UnixNano()) }

// recent reports a list request within warmWindow.
func (w *indexWarmer) recent() bool {
	t := w.listed.Load()
	return t != 0 && time.Since(time.Unix(0, t)) < warmWindow
}

// published is the Store's subscriber: it starts a build unless one runs,
// which then builds once more. It never blocks the publish.
func (a *API) published() {
	w := &a.warm
	if !w.recent() {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.running {
		w.pending = true
		return
	}
	w.running = true
	go a.buildIndexes()
}

// buildIndexes builds the indexes of the published snapshot and plan
// (HealthSnapshot waits for the publish to finish), again while publishes
// came during the build.
func (a *API) buildIndexes() {
	w := &a.warm
	for {
		if snap, plan, _ := a.Pub.HealthSnapshot(); snap != nil && plan != nil {
			a.index.targetsOf(plan, snap.State)
		}
		w.mu.Lock()
		if !w.pending {
			w.running = false
			w.mu.Unlock()
			return
		}
		w.pending = false
		w.mu.Unlock()
	}
}
