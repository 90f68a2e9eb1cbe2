package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Fax counts received faxes, their pages and their conversion to PDF.
type Fax struct {
	received   *prometheus.CounterVec
	pages      *prometheus.CounterVec
	conversion *prometheus.HistogramVec
	inbox      *prometheus.CounterVec
}

// NewFax registers the fax channel's metrics on m. A nil m gives a nil
// *Fax, which records nothing.
func NewFax(m *Monitor) *Fax {
	if m == nil {
		return nil
	}
	f := &Fax{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_fax_received_total",
			Help: "Faxes taken, by source (inbox, ingest, mail) and status (received, partial, failed, duplicate)."},
			[]string{"source", "status"}),
		pages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_fax_pages_total",
			Help: "Fax pages received, by source."}, []string{"source"}),
		conversion: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "hotline_fax_conversion_seconds",
			Help:    "Time to turn one fax into PDF, by method (ccitt, decoded, jpeg, pdf, mixed, failed).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}, []string{"method"}),
		inbox: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_fax_inbox_files_total",
			Help: "Files leaving the fax inbox, by where they went (done, failed)."}, []string{"result"}),
	}
	m.Register(f.received, f.pages, f.conversion, f.inbox)
	return f
}

// FaxReceived records one fax taken with its status and page count.
func (f *Fax) FaxReceived(source, status string, pages int) {
	if f == nil {
		return
	}
	f.received.WithLabelValues(source, status).Inc()
	if pages > 0 {
		f.pages.WithLabelValues(source).Add(float64(pages))
	}
}

// FaxConverted records how long one conversion took.
func (f *Fax) FaxConverted(method string, d time.Duration) {
	if f == nil {
		return
	}
	f.conversion.WithLabelValues(method).Observe(d.Seconds())
}

// InboxFileMoved records a file leaving the inbox for done/ or failed/.
func (f *Fax) InboxFileMoved(result string) {
	if f == nil {
		return
	}
	f.inbox.WithLabelValues(result).Inc()
}
