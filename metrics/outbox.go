package metrics

import "github.com/prometheus/client_golang/prometheus"

// Outbox counts outbound mail.
type Outbox struct {
	sent *prometheus.CounterVec
}

// NewOutbox registers the outbound mail metrics on m. A nil m gives a nil
// *Outbox, which records nothing.
func NewOutbox(m *Monitor) *Outbox {
	if m == nil {
		return nil
	}
	o := &Outbox{sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_mail_outbound_total",
		Help: "Outbound mail attempts, by purpose (ack, fax, notify, report) and result (sent, retry, rejected, no_relay, suppressed: held back by the per-sender acknowledgement limit)."},
		[]string{"purpose", "result"})}
	m.Register(o.sent)
	return o
}

// MailSent records one attempt to relay a mail.
func (o *Outbox) MailSent(purpose, result string) {
	if o == nil {
		return
	}
	if purpose == "" {
		purpose = "other"
	}
	o.sent.WithLabelValues(purpose, result).Inc()
}
