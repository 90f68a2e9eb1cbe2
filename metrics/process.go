package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Process counts the service-desk process: SLA warnings and breaches by
// priority, escalations by tier, notifications by channel and result, and
// the lag of the SLA timers.
type Process struct {
	warnings      *prometheus.CounterVec
	breaches      *prometheus.CounterVec
	escalations   *prometheus.CounterVec
	notifications *prometheus.CounterVec
	timerLag      prometheus.Histogram
}

// timerBuckets resolve the sub-second lag the timers aim at.
var timerBuckets = []float64{.01, .025, .05, .1, .2, .3, .5, .75, 1, 2, 5, 10, 30}

// NewProcess registers the process metrics on m. A nil m gives a nil
// *Process, which records nothing.
func NewProcess(m *Monitor) *Process {
	if m == nil {
		return nil
	}
	p := &Process{
		warnings: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_sla_warnings_total",
			Help: "SLA warnings (a share of a target used), by priority and clock (response, resolve)."}, []string{"priority", "clock"}),
		breaches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_sla_breaches_total",
			Help: "SLA breaches, by priority and clock (response, resolve)."}, []string{"priority", "clock"}),
		escalations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_escalations_total",
			Help: "Tickets escalated, by the tier they reached."}, []string{"tier"}),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_notifications_total",
			Help: "Notifications posted, by channel (wecom, dingtalk, feishu) and result (sent, retry, rejected, unconfigured); mail is counted by hotline_mail_outbound_total{purpose=\"notify\"}."},
			[]string{"channel", "result"}),
		timerLag: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hotline_sla_timer_lag_seconds",
			Help: "Delay from an SLA timer's due time to its run.", Buckets: timerBuckets}),
	}
	m.Register(p.warnings, p.breaches, p.escalations, p.notifications, p.timerLag)
	return p
}

func (p *Process) SLAWarned(priority, clock string) {
	if p == nil {
		return
	}
	p.warnings.WithLabelValues(priority, clock).Inc()
}

func (p *Process) SLABreached(priority, clock string) {
	if p == nil {
		return
	}
	p.breaches.WithLabelValues(priority, clock).Inc()
}

func (p *Process) Escalated(tier int) {
	if p == nil {
		return
	}
	p.escalations.WithLabelValues(strconv.Itoa(tier)).Inc()
}

func (p *Process) Notified(channel, result string) {
	if p == nil {
		return
	}
	p.notifications.WithLabelValues(channel, result).Inc()
}

func (p *Process) TimerLag(d time.Duration) {
	if p == nil {
		return
	}
	p.timerLag.Observe(max(d, 0).Seconds())
}
