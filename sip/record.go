package sip

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hotline-desk/hotline/channels"
	"github.com/hotline-desk/hotline/ticketing"
)

// Call event types on the ticket's timeline.
const (
	EventRinging   = "call_ringing"
	EventForwarded = "call_forwarded"
	EventAnswered  = "call_answered"
	EventMissed    = "call_missed"
	EventAbandoned = "call_abandoned"
	EventEnded     = "call_ended"
	EventFailed    = "call_failed"
)

// recorder puts a call's events on its ticket in order, without making the
// call wait: events queue here and one goroutine per call hands them to the
// intake, as one note per batch. The note ids are the call's own sequence,
// so that a journal replay cannot record a note twice.
type recorder struct {
	intake Intake
	ref    channels.EventRef
	log    *slog.Logger

	mu      sync.Mutex
	pending []ticketing.Event
	jobs    []ticketing.JobSpec
	closed  bool
	// ended is closed with the recorder: what waits is written at once.
	ended chan struct{}
	wake  chan struct{}
	done  chan struct{}
	seq   int
}

func newRecorder(intake Intake, ref channels.EventRef, log *slog.Logger) *recorder {
	r := &recorder{intake: intake, ref: ref, log: log, wake: make(chan struct{}, 1), ended: make(chan struct{}),
		done: make(chan struct{})}
	go r.run()
	return r
}

// add queues events (and jobs to commit with them).
func (r *recorder) add(evs []ticketing.Event, jobs ...ticketing.JobSpec) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		r.log.Error("sip: call event after the call was closed", "call_id", r.ref.ExternalID)
		return
	}
	r.pending = append(r.pending, evs...)
	r.jobs = append(r.jobs, jobs...)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *recorder) event(typ string, data map[string]any) {
	r.add([]ticketing.Event{ticketing.NewEvent(time.Now().UTC(), typ, "channel:phone", data)})
}

// close records what is queued and stops; it returns when all is handed
// to the intake (which journals what the store cannot take).
func (r *recorder) close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	close(r.ended)
	select {
	case r.wake <- struct{}{}:
	default:
	}
	<-r.done
}

// batchWindow is how long events of a call in progress may wait to be
// written together: a call answered and hung up within it costs the store
// one write instead of two. The ticket's creation (with whom the first step
// rings) never waits, nor does anything once the call has ended.
const batchWindow = 2 * time.Second

func (r *recorder) run() {
	defer close(r.done)
	for range r.wake {
		if !r.isClosed() {
			select {
			case <-r.ended:
			case <-time.After(batchWindow):
			}
		}
		for {
			r.mu.Lock()
			evs, jobs, closed := r.pending, r.jobs, r.closed
			r.pending, r.jobs = nil, nil
			r.mu.Unlock()
			if len(evs)+len(jobs) == 0 {
				if closed {
					return
				}
				break
			}
			r.seq++
			n := channels.Note{Ref: r.ref, ID: fmt.Sprintf("ev%d", r.seq), Events: evs, Jobs: jobs}
			// The intake bounds this with its store deadline and journals
			// what the store cannot take; a call's hang-up must not stop it.
			if err := r.intake.Record(context.Background(), n); err != nil {
				r.log.Error("sip: call events not recorded", "call_id", r.ref.ExternalID, "note", n.ID, "err", err)
			}
		}
	}
}

func (r *recorder) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}
