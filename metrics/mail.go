package metrics

import "github.com/prometheus/client_golang/prometheus"

// Mail counts the inbound mail channel: SMTP sessions, messages by result,
// and acknowledgements queued or suppressed. (Acknowledgements sent, and
// those the per-sender limit held back, are counted by the outbox in
// hotline_mail_outbound_total{purpose="ack"}.)
type Mail struct {
	sessions *prometheus.CounterVec
	active   prometheus.Gauge
	messages *prometheus.CounterVec
	acks     *prometheus.CounterVec
}

// NewMail registers the mail channel's metrics on m. A nil m gives a nil
// *Mail, which records nothing.
func NewMail(m *Monitor) *Mail {
	if m == nil {
		return nil
	}
	x := &Mail{
		sessions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_smtp_sessions_total",
			Help: "SMTP connections, by result (accepted, refused: over the per-client connection limit)."}, []string{"result"}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{Name: "hotline_smtp_sessions_active",
			Help: "SMTP connections open now."}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_smtp_messages_total",
			Help: "SMTP messages and recipients, by result (accepted, rejected, temp_failed) and reason (ticket, appended, duplicate, bounce, bounce_unmatched, fax; recipient, size, line_too_long, loop, rate, auth, invalid; store, timeout, cut_short)."},
			[]string{"result", "reason"}),
		acks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_mail_acknowledgements_total",
			Help: "Acknowledgements of inbound mail, by result (queued, suppressed) and reason (new_ticket; auto_generated, disabled, no_address, rate_limit: this instance already queued the hourly limit for the address)."},
			[]string{"result", "reason"}),
	}
	m.Register(x.sessions, x.active, x.messages, x.acks)
	return x
}

// SessionOpened records a connection let in; SessionClosed its end.
func (x *Mail) SessionOpened() {
	if x == nil {
		return
	}
	x.sessions.WithLabelValues("accepted").Inc()
	x.active.Inc()
}

func (x *Mail) SessionClosed() {
	if x == nil {
		return
	}
	x.active.Dec()
}

// SessionRefused records a connection turned away with 421.
func (x *Mail) SessionRefused() {
	if x == nil {
		return
	}
	x.sessions.WithLabelValues("refused").Inc()
}

// MessageAccepted records a 250 after DATA.
func (x *Mail) MessageAccepted(reason string) { x.message("accepted", reason) }

// MessageRejected records a 5xx (the sender gives up).
func (x *Mail) MessageRejected(reason string) { x.message("rejected", reason) }

// MessageTempFailed records a 4xx (the sender retries).
func (x *Mail) MessageTempFailed(reason string) { x.message("temp_failed", reason) }

func (x *Mail) message(result, reason string) {
	if x == nil {
		return
	}
	x.messages.WithLabelValues(result, reason).Inc()
}

// AckQueued records an acknowledgement committed with its ticket.
func (x *Mail) AckQueued() {
	if x == nil {
		return
	}
	x.acks.WithLabelValues("queued", "new_ticket").Inc()
}

// AckSuppressed records a message that gets no acknowledgement, and why.
func (x *Mail) AckSuppressed(reason string) {
	if x == nil {
		return
	}
	x.acks.WithLabelValues("suppressed", reason).Inc()
}
