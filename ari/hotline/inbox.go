package hotline

import (
	"context"
	"sync"
	"time"

	"github.com/hotline-desk/hotline/ari"
)

// fifo is an unbounded queue that never blocks the side that puts: the
// dispatcher serves every call from the one WebSocket, and a call must
// not wait on the store to note what happened.
type fifo[T any] struct {
	mu  sync.Mutex
	q   []T
	sig chan struct{} // a put happened
}

func newFifo[T any]() *fifo[T] { return &fifo[T]{sig: make(chan struct{}, 1)} }

func (f *fifo[T]) put(v T) {
	f.mu.Lock()
	f.q = append(f.q, v)
	f.mu.Unlock()
	f.wake()
}

func (f *fifo[T]) wake() {
	select {
	case f.sig <- struct{}{}:
	default:
	}
}

func (f *fifo[T]) take() (T, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var zero T
	if len(f.q) == 0 {
		return zero, false
	}
	v := f.q[0]
	f.q[0] = zero
	f.q = f.q[1:]
	return v, true
}

// pending reports whether the queue holds anything.
func (f *fifo[T]) pending() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.q) > 0
}

// inbox is a call's queue of events.
type inbox struct{ *fifo[ari.Event] }

func newInbox() *inbox { return &inbox{newFifo[ari.Event]()} }

// next returns the next event, or nil when ctx ends or the timer fires
// (timer may be nil: no timeout).
func (b *inbox) next(ctx context.Context, timer <-chan time.Time) ari.Event {
	for {
		if ev, ok := b.take(); ok {
			return ev
		}
		select {
		case <-b.sig:
		case <-ctx.Done():
			return nil
		case <-timer:
			return nil
		}
	}
}

// resync asks a call to re-read the state it waits on: the WebSocket
// reconnected and events may have been lost.
type resync struct{ ari.EventBase }
