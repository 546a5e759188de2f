package health

import "sync"

// batcher hands items to fn on its own goroutine, in order, as batches:
// whatever accumulated while fn was busy arrives in the next call. So a
// burst (a site's network dies and 500 targets fall in the same second)
// costs the subscriber one rebuild or a few, not 500, and a slow
// subscriber never blocks a prober or holds a lock.
type batcher[T any] struct {
	fn      func([]T)
	mu      sync.Mutex
	pending []T
	signal  chan struct{} // capacity 1: "pending is not empty"
	quit    chan struct{}
	done    chan struct{}
	once    sync.Once
}

func newBatcher[T any](fn func([]T)) *batcher[T] {
	b := &batcher[T]{fn: fn, signal: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go b.run()
	return b
}

// add queues items; it never blocks on fn.
func (b *batcher[T]) add(items ...T) {
	if len(items) == 0 {
		return
	}
	b.mu.Lock()
	b.pending = append(b.pending, items...)
	b.mu.Unlock()
	select {
	case b.signal <- struct{}{}:
	default:
	}
}

func (b *batcher[T]) run() {
	defer close(b.done)
	for {
		select {
		case <-b.quit:
			return
		case <-b.signal:
		}
		b.mu.Lock()
		batch := b.pending
		b.pending = nil
		b.mu.Unlock()
		if len(batch) > 0 {
			b.fn(batch)
		}
	}
}

// stop ends the goroutine after the call in progress, if any; items not
// yet delivered are dropped. Safe to call more than once.
func (b *batcher[T]) stop() {
	b.once.Do(func() { close(b.quit) })
	<-b.done
}
