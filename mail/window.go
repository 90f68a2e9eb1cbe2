package mail

import (
	"sync"
	"time"
)

// window counts events per key over a sliding period, for limits of the
// form "at most limit in any period": messages per client per minute,
// acknowledgements per address per hour.
type window[K comparable] struct {
	limit   int
	period  time.Duration
	maxKeys int // past this many keys, the idle ones are forgotten

	mu   sync.Mutex
	hits map[K][]time.Time
}

func newWindow[K comparable](limit int, period time.Duration, maxKeys int) *window[K] {
	return &window[K]{limit: limit, period: period, maxKeys: maxKeys, hits: map[K][]time.Time{}}
}

// take records one event for k at now, or reports false (recording
// nothing) when limit events of k fall in the period before now. A window
// with no limit takes everything.
func (w *window[K]) take(k K, now time.Time) bool {
	if w == nil || w.limit <= 0 {
		return true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	ts := w.hits[k]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= w.period {
		i++
	}
	ts = ts[i:]
	if len(ts) >= w.limit {
		w.hits[k] = ts
		return false
	}
	w.hits[k] = append(ts, now)
	if len(w.hits) > w.maxKeys {
		for key, v := range w.hits {
			if len(v) == 0 || now.Sub(v[len(v)-1]) >= w.period {
				delete(w.hits, key)
			}
		}
	}
	return true
}
