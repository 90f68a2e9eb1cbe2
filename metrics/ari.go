package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ARI holds the metrics of the phone channel over Asterisk ARI: its
// connection to Asterisk, the REST round trips, and the calls, as the SIP
// channel counts its own (hotline_ari_* beside hotline_sip_*).
type ARI struct {
	connected  prometheus.Gauge
	reconnects prometheus.Counter
	duplicates prometheus.Counter
	requests   *prometheus.HistogramVec
	failures   *prometheus.CounterVec

	active     prometheus.Gauge
	calls      *prometheus.CounterVec
	ivr        *prometheus.CounterVec
	forwards   *prometheus.CounterVec
	wait       *prometheus.HistogramVec
	ring       prometheus.Histogram
	talk       prometheus.Histogram
	firstDial  prometheus.Histogram
	recordings *prometheus.CounterVec
}

// callBuckets span a quick pick-up to the longest ring plan.
var callBuckets = []float64{1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300}

// NewARI registers the ARI metrics on m. A nil m gives a nil *ARI, which
// records nothing.
func NewARI(m *Monitor) *ARI {
	if m == nil {
		return nil
	}
	a := &ARI{
		connected:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "hotline_ari_connected", Help: "1 while the ARI events WebSocket is connected."}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{Name: "hotline_ari_reconnects_total", Help: "Reconnections of the ARI events WebSocket after a drop."}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{Name: "hotline_ari_duplicate_events_total", Help: "Exact repeats of ARI events that were left out."}),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "hotline_ari_request_seconds",
			Help: "ARI REST round trips, by operation.", Buckets: latencyBuckets}, []string{"op"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_ari_request_errors_total",
			Help: "ARI REST calls that failed, by operation and HTTP status (0: no answer)."}, []string{"op", "status"}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{Name: "hotline_ari_calls_active", Help: "Calls in the hotline Stasis application."}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_ari_calls_total",
			Help: "Calls that ended, by result (answered, missed, abandoned, failed)."}, []string{"result"}),
		ivr: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_ari_ivr_choices_total",
			Help: "IVR outcomes, by choice (a kind, operator) and how it was made (pressed, timeout, invalid)."}, []string{"choice", "how"}),
		forwards: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_ari_forwards_total",
			Help: "Calls forwarded beyond the softphones, by step (mobile, escalation)."}, []string{"step"}),
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "hotline_ari_wait_seconds",
			Help: "Caller's wait from arrival to answer or hang-up, by result.", Buckets: callBuckets}, []string{"result"}),
		ring: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hotline_ari_ring_seconds",
			Help: "Time agents' phones rang before one answered.", Buckets: callBuckets}),
		talk: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hotline_ari_talk_seconds",
			Help: "Conversation time of answered calls.", Buckets: callBuckets}),
		firstDial: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hotline_ari_first_dial_seconds",
			Help: "Time from StasisStart to the first agent leg dialled, IVR included.", Buckets: latencyBuckets}),
		recordings: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_ari_recordings_total",
			Help: "Call recordings, by outcome (attached, linked, failed)."}, []string{"result"}),
	}
	m.Register(a.connected, a.reconnects, a.duplicates, a.requests, a.failures, a.active, a.calls, a.ivr,
		a.forwards, a.wait, a.ring, a.talk, a.firstDial, a.recordings)
	return a
}

// Connection records the events WebSocket going up or down.
func (a *ARI) Connection(up, reconnect bool) {
	if a == nil {
		return
	}
	if up {
		a.connected.Set(1)
		if reconnect {
			a.reconnects.Inc()
		}
		return
	}
	a.connected.Set(0)
}

// Duplicate counts an exact repeat that was left out.
func (a *ARI) Duplicate() {
	if a == nil {
		return
	}
	a.duplicates.Inc()
}

// Request records one REST round trip; status is the HTTP status of a
// failure (0 when Asterisk did not answer), ignored on success.
func (a *ARI) Request(op string, d time.Duration, failed bool, status int) {
	if a == nil {
		return
	}
	a.requests.WithLabelValues(op).Observe(d.Seconds())
	if failed {
		a.failures.WithLabelValues(op, itoaStatus(status)).Inc()
	}
}

func itoaStatus(code int) string {
	if code == 0 {
		return "0"
	}
	return itoa(code)
}

// CallStarted and CallEnded bracket a call; result is answered, missed,
// abandoned or failed, and wait the caller's wait until it was decided.
func (a *ARI) CallStarted() {
	if a == nil {
		return
	}
	a.active.Inc()
}

func (a *ARI) CallEnded(result string, wait time.Duration) {
	if a == nil {
		return
	}
	a.active.Dec()
	a.calls.WithLabelValues(result).Inc()
	a.wait.WithLabelValues(result).Observe(wait.Seconds())
}

// IVRChoice records the menu's outcome.
func (a *ARI) IVRChoice(choice, how string) {
	if a == nil {
		return
	}
	a.ivr.WithLabelValues(choice, how).Inc()
}

// Forwarded records a forward to a mobile (step mobile or escalation).
func (a *ARI) Forwarded(step string) {
	if a == nil {
		return
	}
	a.forwards.WithLabelValues(step).Inc()
}

// Answered records how long phones rang before one answered.
func (a *ARI) Answered(ring time.Duration) {
	if a == nil {
		return
	}
	a.ring.Observe(ring.Seconds())
}

// Talked records an answered call's conversation time.
func (a *ARI) Talked(d time.Duration) {
	if a == nil {
		return
	}
	a.talk.Observe(d.Seconds())
}

// FirstDial records the time from StasisStart to the first leg dialled.
func (a *ARI) FirstDial(d time.Duration) {
	if a == nil {
		return
	}
	a.firstDial.Observe(d.Seconds())
}

// Recording records what became of a call recording.
func (a *ARI) Recording(result string) {
	if a == nil {
		return
	}
	a.recordings.WithLabelValues(result).Inc()
}
