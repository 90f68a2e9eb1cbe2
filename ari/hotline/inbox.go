package hotline

import (
	"context"
	"sync"
	"time"

	"github.com/hotline-desk/hotline/ari"
)

// inbox is a call's queue of events. It never blocks the dispatcher,
// which serves every call from the one WebSocket.
type inbox struct {
	mu  sync.Mutex
	q   []ari.Event
	sig chan struct{}
}

func newInbox() *inbox { return &inbox{sig: make(chan struct{}, 1)} }

func (b *inbox) put(ev ari.Event) {
	b.mu.Lock()
	b.q = append(b.q, ev)
	b.mu.Unlock()
	select {
	case b.sig <- struct{}{}:
	default:
	}
}

func (b *inbox) take() ari.Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.q) == 0 {
		return nil
	}
	ev := b.q[0]
	b.q[0] = nil
	b.q = b.q[1:]
	return ev
}

// next returns the next event, or nil when ctx ends or the timer fires
// (timer may be nil: no timeout).
func (b *inbox) next(ctx context.Context, timer <-chan time.Time) ari.Event {
	for {
		if ev := b.take(); ev != nil {
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
