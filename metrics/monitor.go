// Package metrics is Hotline's typed monitor: domain methods over a
// Prometheus registry of its own. Every metric name starts with hotline_.
//
// A nil *Monitor is valid and records nothing, so that tests and tools can
// leave it out.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Monitor holds the core's metrics of one gateway process. The channels'
// metrics hang off it in types of their own (see Register).
type Monitor struct {
	reg *prometheus.Registry

	contacts      *prometheus.CounterVec
	tickets       *prometheus.CounterVec
	intake        *prometheus.HistogramVec
	store         *prometheus.HistogramVec
	jobs          *prometheus.CounterVec
	jobLag        *prometheus.HistogramVec
	httpRequests  *prometheus.CounterVec
	httpDurations *prometheus.HistogramVec
	info          *prometheus.GaugeVec
}

// latencyBuckets span a fast in-process commit to a slow remote one.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// New makes a monitor on a new registry, with the Go and process collectors.
func New() *Monitor {
	m := &Monitor{reg: prometheus.NewRegistry()}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.contacts = m.counterVec("hotline_contacts_total", "Contacts submitted to the intake, by channel and result (created, appended, duplicate, rejected, failed).", "channel", "result")
	m.tickets = m.counterVec("hotline_tickets_created_total", "Tickets created, by channel.", "channel")
	m.intake = m.histogramVec("hotline_intake_seconds", "Time from submission to committed ticket, by channel.", latencyBuckets, "channel")
	m.store = m.histogramVec("hotline_store_seconds", "Store operation latency, by operation (ticket_open, ticket_append, thread_find, job_claim, job_finish).", latencyBuckets, "op")
	m.jobs = m.counterVec("hotline_jobs_total", "Durable jobs run, by kind and result (done, retry, failed).", "kind", "result")
	m.jobLag = m.histogramVec("hotline_job_lag_seconds", "Delay from a job's due time to its start, by kind.", latencyBuckets, "kind")
	m.httpRequests = m.counterVec("hotline_http_requests_total", "HTTP API requests, by route and status code.", "route", "code")
	m.httpDurations = m.histogramVec("hotline_http_request_seconds", "HTTP API latency, by route.", latencyBuckets, "route")
	m.info = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "hotline_build_info", Help: "Build and store of this process (always 1)."}, []string{"version", "store"})
	m.reg.MustRegister(m.info)
	return m
}

func (m *Monitor) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	m.reg.MustRegister(c)
	return c
}

func (m *Monitor) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	m.reg.MustRegister(h)
	return h
}

// Registry is the monitor's own registry.
func (m *Monitor) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition format.
func (m *Monitor) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Build records the running version and store kind.
func (m *Monitor) Build(version, store string) {
	if m == nil {
		return
	}
	m.info.WithLabelValues(version, store).Set(1)
}

// ContactSubmitted records one intake submission.
func (m *Monitor) ContactSubmitted(channel, result string, d time.Duration) {
	if m == nil {
		return
	}
	m.contacts.WithLabelValues(channel, result).Inc()
	if result == "created" {
		m.tickets.WithLabelValues(channel).Inc()
	}
	if result == "created" || result == "appended" {
		m.intake.WithLabelValues(channel).Observe(d.Seconds())
	}
}

// StoreObserved records one store operation's latency.
func (m *Monitor) StoreObserved(op string, d time.Duration) {
	if m == nil {
		return
	}
	m.store.WithLabelValues(op).Observe(d.Seconds())
}

// JobRan records one run of a durable job: its lag behind its due time and
// its result.
func (m *Monitor) JobRan(kind, result string, lag time.Duration) {
	if m == nil {
		return
	}
	m.jobs.WithLabelValues(kind, result).Inc()
	m.jobLag.WithLabelValues(kind).Observe(lag.Seconds())
}

// JournalBacklog makes hotline_journal_backlog read count. Call it once.
func (m *Monitor) JournalBacklog(count func() int) {
	if m == nil {
		return
	}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hotline_journal_backlog",
		Help: "Contacts and notes in the local journal waiting for the store."},
		func() float64 { return float64(count()) }))
}

// Register adds a channel's own collectors. Each channel keeps its metrics
// in a type of its own file (metrics/sip.go: SIP, made by NewSIP(m)), so
// that the channels never edit one shared struct.
func (m *Monitor) Register(cs ...prometheus.Collector) {
	if m == nil {
		return
	}
	m.reg.MustRegister(cs...)
}

// HTTPServed records one HTTP API request.
func (m *Monitor) HTTPServed(route string, code int, d time.Duration) {
	if m == nil {
		return
	}
	m.httpRequests.WithLabelValues(route, itoa(code)).Inc()
	m.httpDurations.WithLabelValues(route).Observe(d.Seconds())
}

func itoa(code int) string {
	const digits = "0123456789"
	if code < 100 || code > 999 {
		return "other"
	}
	return string([]byte{digits[code/100], digits[code/10%10], digits[code%10]})
}
