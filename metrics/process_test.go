package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestProcessMetrics(t *testing.T) {
	var nilP *Process
	nilP.SLAWarned("P1", "response") // a nil *Process records nothing, and does not panic
	nilP.TimerLag(time.Second)
	if NewProcess(nil) != nil {
		t.Fatal("NewProcess(nil) must be nil")
	}
	m := New()
	p := NewProcess(m)
	p.SLAWarned("P1", "response")
	p.SLABreached("P2", "resolve")
	p.Escalated(2)
	p.Notified("dingtalk", "sent")
	p.TimerLag(300 * time.Millisecond)
	want := `
# HELP hotline_escalations_total Tickets escalated, by the tier they reached.
# TYPE hotline_escalations_total counter
hotline_escalations_total{tier="2"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "hotline_escalations_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.ToFloat64(p.warnings.WithLabelValues("P1", "response")); n != 1 {
		t.Errorf("warnings %v", n)
	}
	if n := testutil.CollectAndCount(p.timerLag); n != 1 {
		t.Errorf("timer lag series %d", n)
	}
}
