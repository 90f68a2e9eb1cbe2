package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// SIP is the phone channel's metrics (SPEC §7): calls active, offered,
// answered, abandoned and missed; ring and wait times; forwards to mobiles;
// registrations; authentication failures and lock-outs; refusals.
type SIP struct {
	active     prometheus.Gauge
	calls      *prometheus.CounterVec
	ring       *prometheus.HistogramVec
	wait       *prometheus.HistogramVec
	setup      prometheus.Histogram
	forwards   *prometheus.CounterVec
	registers  *prometheus.CounterVec
	authFails  prometheus.Counter
	lockouts   prometheus.Counter
	refused    *prometheus.CounterVec
	legResults *prometheus.CounterVec
}

// waitBuckets span a call answered at once to one that rang through every
// step of a plan.
var waitBuckets = []float64{1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300}

// NewSIP registers the SIP metrics on m. A nil m gives a nil *SIP, which
// records nothing.
func NewSIP(m *Monitor) *SIP {
	if m == nil {
		return nil
	}
	s := &SIP{
		active: prometheus.NewGauge(prometheus.GaugeOpts{Name: "hotline_sip_calls_active",
			Help: "Inbound calls in progress (ringing or connected)."}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_sip_calls_total",
			Help: "Inbound calls by outcome: offered (every call admitted), answered, abandoned (the caller hung up while it rang), missed (nobody answered)."},
			[]string{"outcome"}),
		ring: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "hotline_sip_ring_seconds",
			Help: "How long a routing step rang before it was answered or gave up, by step (softphones, mobile, escalation).", Buckets: waitBuckets},
			[]string{"step"}),
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "hotline_sip_wait_seconds",
			Help: "How long callers waited, from the INVITE to the answer or the hang-up, by outcome.", Buckets: waitBuckets},
			[]string{"outcome"}),
		setup: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hotline_sip_setup_seconds",
			Help: "From the caller's INVITE to the first agent leg sent (ticket created or journaled, plan built).", Buckets: latencyBuckets}),
		forwards: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_sip_forwards_total",
			Help: "Calls forwarded through the trunk, by step (mobile, escalation)."}, []string{"step"}),
		registers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_sip_registers_total",
			Help: "REGISTER requests by result (ok, challenged, failed, locked_out, error)."}, []string{"result"}),
		authFails: prometheus.NewCounter(prometheus.CounterOpts{Name: "hotline_sip_auth_failures_total",
			Help: "Failed digest authentications (wrong password or user)."}),
		lockouts: prometheus.NewCounter(prometheus.CounterOpts{Name: "hotline_sip_lockouts_total",
			Help: "Source addresses locked out after repeated failed authentications."}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_sip_refused_total",
			Help: "INVITEs refused before routing, by reason (not_trunk, overload, shutting_down)."}, []string{"reason"}),
		legResults: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_sip_legs_total",
			Help: "Outbound legs by target kind and final result (answered, busy, declined, no_answer, canceled, failed)."}, []string{"kind", "result"}),
	}
	m.Register(s.active, s.calls, s.ring, s.wait, s.setup, s.forwards, s.registers, s.authFails, s.lockouts, s.refused, s.legResults)
	return s
}

// Registrations makes hotline_sip_registrations read count. Call it once.
func (s *SIP) Registrations(m *Monitor, count func() int) {
	if s == nil || m == nil {
		return
	}
	m.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hotline_sip_registrations",
		Help: "Softphone contacts currently registered (bindings not expired)."},
		func() float64 { return float64(count()) }))
}

// CallOffered records an admitted call; CallEnded must follow it.
func (s *SIP) CallOffered() {
	if s == nil {
		return
	}
	s.active.Inc()
	s.calls.WithLabelValues("offered").Inc()
}

// CallEnded records the end of an offered call.
func (s *SIP) CallEnded() {
	if s == nil {
		return
	}
	s.active.Dec()
}

// CallSetUp records the time from INVITE to the first leg rung.
func (s *SIP) CallSetUp(d time.Duration) {
	if s == nil {
		return
	}
	s.setup.Observe(d.Seconds())
}

// CallOutcome records how an offered call ended its ringing: answered,
// abandoned or missed, and how long the caller waited.
func (s *SIP) CallOutcome(outcome string, wait time.Duration) {
	if s == nil {
		return
	}
	s.calls.WithLabelValues(outcome).Inc()
	s.wait.WithLabelValues(outcome).Observe(wait.Seconds())
}

// StepRang records how long one step of the routing plan rang.
func (s *SIP) StepRang(step string, d time.Duration) {
	if s == nil {
		return
	}
	s.ring.WithLabelValues(step).Observe(d.Seconds())
}

// Forwarded records a call forwarded through the trunk to a mobile.
func (s *SIP) Forwarded(step string) {
	if s == nil {
		return
	}
	s.forwards.WithLabelValues(step).Inc()
}

// LegEnded records an outbound leg's result.
func (s *SIP) LegEnded(kind, result string) {
	if s == nil {
		return
	}
	s.legResults.WithLabelValues(kind, result).Inc()
}

// Registered records a REGISTER's result.
func (s *SIP) Registered(result string) {
	if s == nil {
		return
	}
	s.registers.WithLabelValues(result).Inc()
}

// AuthFailed records a failed digest authentication; lockedOut is set when
// it locked its source out.
func (s *SIP) AuthFailed(lockedOut bool) {
	if s == nil {
		return
	}
	s.authFails.Inc()
	if lockedOut {
		s.lockouts.Inc()
	}
}

// Refused records an INVITE refused before routing.
func (s *SIP) Refused(reason string) {
	if s == nil {
		return
	}
	s.refused.WithLabelValues(reason).Inc()
}
