// Package report computes the service desk's KPIs per period (定期产生报表,
// SPEC §6) from the tickets received in it, and writes them as a table,
// CSV, JSON, XLSX (for the offices that live in Excel) and a PNG chart.
package report

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/hotline-desk/hotline/ticketing"
)

// Store is what the report reads.
type Store interface {
	ReportTickets(ctx context.Context, p ticketing.ReportParams) ([]*ticketing.ReportRow, error)
	ReportContacts(ctx context.Context, p ticketing.ReportParams) (map[ticketing.Channel]int, error)
}

// Period is a span of local dates in the desk's timezone, both inclusive.
type Period struct {
	From, To time.Time // local midnights of the first and last day
	Loc      *time.Location
}

// ParsePeriod reads from and to (YYYY-MM-DD) in loc.
func ParsePeriod(from, to string, loc *time.Location) (Period, error) {
	f, err := time.ParseInLocation(time.DateOnly, from, loc)
	if err != nil {
		return Period{}, fmt.Errorf("%w: from %q: want a date YYYY-MM-DD", ticketing.ErrInvalid, from)
	}
	t, err := time.ParseInLocation(time.DateOnly, to, loc)
	if err != nil {
		return Period{}, fmt.Errorf("%w: to %q: want a date YYYY-MM-DD", ticketing.ErrInvalid, to)
	}
	if t.Before(f) {
		return Period{}, fmt.Errorf("%w: to %s is before from %s", ticketing.ErrInvalid, to, from)
	}
	if t.Sub(f) > 366*24*time.Hour {
		return Period{}, fmt.Errorf("%w: a report covers a year at most", ticketing.ErrInvalid)
	}
	return Period{From: f, To: t, Loc: loc}, nil
}

// Last is the period of the given kind (day, week, month) that ended
// before the day of now: yesterday, the last Monday-to-Sunday week, or the
// last calendar month.
func Last(kind string, now time.Time, loc *time.Location) (Period, error) {
	now = now.In(loc)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	switch kind {
	case "day":
		d := today.AddDate(0, 0, -1)
		return Period{d, d, loc}, nil
	case "week":
		back := (int(today.Weekday()) + 6) % 7 // days since Monday
		monday := today.AddDate(0, 0, -back-7)
		return Period{monday, monday.AddDate(0, 0, 6), loc}, nil
	case "month":
		first := time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, loc).AddDate(0, -1, 0)
		return Period{first, first.AddDate(0, 1, -1), loc}, nil
	}
	return Period{}, fmt.Errorf("%w: period %q: want day, week or month", ticketing.ErrInvalid, kind)
}

func (p Period) end() time.Time { return p.To.AddDate(0, 0, 1) }

// Days lists the period's dates.
func (p Period) Days() []time.Time {
	var out []time.Time
	for d := p.From; !d.After(p.To); d = d.AddDate(0, 0, 1) {
		out = append(out, d)
	}
	return out
}

// KPI is the report of one period. Ratios are 0..1; a ratio with nothing
// to measure (no calls, no decided SLA) is 0 and its count is 0.
type KPI struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Timezone string `json:"timezone"`
	// GeneratedAt is the moment SLA clocks still running were judged at.
	GeneratedAt time.Time `json:"generated_at"`

	// Contacts are the tickets opened and the contacts appended to
	// tickets (a reply, a second call) in the period, by their time.
	Contacts          int            `json:"contacts"`
	ContactsByChannel map[string]int `json:"contacts_by_channel"`

	Tickets          int            `json:"tickets"`
	TicketsByChannel map[string]int `json:"tickets_by_channel"`
	TicketsByKind    map[string]int `json:"tickets_by_kind"`
	TicketsByStatus  map[string]int `json:"tickets_by_status"`

	// RecordCompleteness is complete records / all records (target ≥ 95 %).
	RecordCompleteness float64      `json:"record_completeness"`
	CompleteRecords    int          `json:"complete_records"`
	Incomplete         []Incomplete `json:"incomplete_records"`

	SLAResponseCompliance float64 `json:"sla_response_compliance"`
	SLAResponseMeasured   int     `json:"sla_response_measured"`
	SLAResolveCompliance  float64 `json:"sla_resolve_compliance"`
	SLAResolveMeasured    int     `json:"sla_resolve_measured"`

	FirstContactResolution float64 `json:"first_contact_resolution"`
	Resolved               int     `json:"resolved"`

	ResponseSecondsP50 float64 `json:"response_seconds_p50"`
	ResponseSecondsP90 float64 `json:"response_seconds_p90"`
	ResolveSecondsP50  float64 `json:"resolve_seconds_p50"`
	ResolveSecondsP90  float64 `json:"resolve_seconds_p90"`

	Calls             int     `json:"calls"`
	AbandonedCallRate float64 `json:"abandoned_call_rate"`
	AnsweredWithin20s float64 `json:"answered_within_20s"`

	Escalations int `json:"escalations"`
	Complaints  int `json:"complaints"`

	Daily []Day `json:"daily"`
}

// Incomplete names a record that is not complete and what it lacks, so
// that it can be fixed.
type Incomplete struct {
	Number  string   `json:"number"`
	Missing []string `json:"missing"`
}

// Day is one day's volume and SLA, for the trend chart.
type Day struct {
	Date                  string         `json:"date"`
	Tickets               int            `json:"tickets"`
	ByChannel             map[string]int `json:"by_channel"`
	SLAResponseCompliance float64        `json:"sla_response_compliance"`
	SLAResolveCompliance  float64        `json:"sla_resolve_compliance"`
}

// What an incomplete record lacks (SPEC §6: caller contact, kind,
// priority, subject, description, assignee; when closed, a resolution and
// the customer's confirmation).
const (
	MissingContact      = "caller_contact"
	MissingKind         = "kind"
	MissingPriority     = "priority"
	MissingSubject      = "subject"
	MissingDescription  = "description"
	MissingAssignee     = "assignee"
	MissingResolution   = "resolution"
	MissingConfirmation = "confirmation"
)

// Missing lists what a record lacks.
func Missing(r *ticketing.ReportRow) []string {
	var m []string
	if r.CallerPhone == "" && r.CallerEmail == "" {
		m = append(m, MissingContact)
	}
	if !r.Kind.Valid() {
		m = append(m, MissingKind)
	}
	if !r.Priority.Valid() {
		m = append(m, MissingPriority)
	}
	if r.Subject == "" || r.Subject == ticketing.NoSubject {
		m = append(m, MissingSubject)
	}
	if !r.HasDesc {
		m = append(m, MissingDescription)
	}
	if r.Assignee == "" {
		m = append(m, MissingAssignee)
	}
	if r.Status == ticketing.StatusClosed {
		if !r.HasResolution {
			m = append(m, MissingResolution)
		}
		if r.ConfirmedAt == nil {
			m = append(m, MissingConfirmation)
		}
	}
	return m
}

// Generate reads the period's tickets and computes the KPIs, judging SLA
// clocks still running at now.
func Generate(ctx context.Context, st Store, p Period, now time.Time) (*KPI, error) {
	span := ticketing.ReportParams{From: p.From.UTC(), To: p.end().UTC()}
	rows, err := st.ReportTickets(ctx, span)
	if err != nil {
		return nil, fmt.Errorf("report %s..%s: %w", p.From.Format(time.DateOnly), p.To.Format(time.DateOnly), err)
	}
	contacts, err := st.ReportContacts(ctx, span)
	if err != nil {
		return nil, fmt.Errorf("report %s..%s: %w", p.From.Format(time.DateOnly), p.To.Format(time.DateOnly), err)
	}
	k := Compute(rows, p, now)
	for ch, n := range contacts {
		k.Contacts += n
		k.ContactsByChannel[string(ch)] += n
	}
	return k, nil
}

type ratio struct{ ok, n int }

func (r *ratio) add(ok bool) {
	r.n++
	if ok {
		r.ok++
	}
}

func (r ratio) value() float64 {
	if r.n == 0 {
		return 0
	}
	return round(float64(r.ok) / float64(r.n))
}

// round keeps 4 decimals, so that JSON shows 0.6667, not 0.6666666666666666.
func round(v float64) float64 { return math.Round(v*10000) / 10000 }

// slaMet judges one clock: met when done by its due, breached when done
// late or not done by a due already past at now; undecided otherwise.
func slaMet(done, due *time.Time, now time.Time) (met, decided bool) {
	switch {
	case due == nil:
		return false, false
	case done != nil:
		return !done.After(*due), true
	case due.Before(now):
		return false, true
	}
	return false, false
}

// Compute makes the KPIs of rows (the tickets received in p).
func Compute(rows []*ticketing.ReportRow, p Period, now time.Time) *KPI {
	k := &KPI{From: p.From.Format(time.DateOnly), To: p.To.Format(time.DateOnly), Timezone: p.Loc.String(),
		GeneratedAt: now.UTC(), ContactsByChannel: map[string]int{}, TicketsByChannel: map[string]int{}, TicketsByKind: map[string]int{},
		TicketsByStatus: map[string]int{}, Incomplete: []Incomplete{}, Daily: []Day{}}
	for _, c := range ticketing.Channels {
		k.TicketsByChannel[string(c)], k.ContactsByChannel[string(c)] = 0, 0
	}
	for _, kd := range ticketing.Kinds {
		k.TicketsByKind[string(kd)] = 0
	}
	days := map[string]*Day{}
	dayResp, dayRes := map[string]*ratio{}, map[string]*ratio{}
	for _, d := range p.Days() {
		key := d.Format(time.DateOnly)
		k.Daily = append(k.Daily, Day{Date: key, ByChannel: map[string]int{}})
		dayResp[key], dayRes[key] = &ratio{}, &ratio{}
	}
	for i := range k.Daily {
		days[k.Daily[i].Date] = &k.Daily[i]
		for _, c := range ticketing.Channels {
			k.Daily[i].ByChannel[string(c)] = 0
		}
	}
	var resp, res, fcr, calls20 ratio
	var respSecs, resSecs []float64
	abandoned := 0
	for _, r := range rows {
		k.Tickets++
		k.TicketsByChannel[string(r.Channel)]++
		k.TicketsByKind[string(r.Kind)]++
		k.TicketsByStatus[string(r.Status)]++
		day := r.ReceivedAt.In(p.Loc).Format(time.DateOnly)
		if d := days[day]; d != nil {
			d.Tickets++
			d.ByChannel[string(r.Channel)]++
		}
		if m := Missing(r); len(m) > 0 {
			k.Incomplete = append(k.Incomplete, Incomplete{Number: r.Number, Missing: m})
		} else {
			k.CompleteRecords++
		}
		if met, ok := slaMet(r.RespondedAt, r.ResponseDue, now); ok {
			resp.add(met)
			if d := dayResp[day]; d != nil {
				d.add(met)
			}
		}
		if met, ok := slaMet(r.ResolvedAt, r.ResolveDue, now); ok {
			res.add(met)
			if d := dayRes[day]; d != nil {
				d.add(met)
			}
		}
		if r.RespondedAt != nil {
			respSecs = append(respSecs, r.RespondedAt.Sub(r.ReceivedAt).Seconds())
		}
		if r.ResolvedAt != nil {
			resSecs = append(resSecs, r.ResolvedAt.Sub(r.ReceivedAt).Seconds())
			// Solved where it first landed: no escalation, no handing on,
			// not reopened.
			fcr.add(r.Tier == 1 && r.Escalations == 0 && r.Reassigns == 0 && r.Reopens == 0)
		}
		if r.Channel == ticketing.ChannelPhone && (r.CallAnswered || r.CallAbandoned) {
			k.Calls++
			calls20.add(r.CallAnswered && r.CallWait <= 20*time.Second)
			if !r.CallAnswered {
				abandoned++
			}
		}
		k.Escalations += r.Escalations
		if r.Kind == ticketing.KindComplaint {
			k.Complaints++
		}
	}
	if k.Tickets > 0 {
		k.RecordCompleteness = round(float64(k.CompleteRecords) / float64(k.Tickets))
	}
	k.SLAResponseCompliance, k.SLAResponseMeasured = resp.value(), resp.n
	k.SLAResolveCompliance, k.SLAResolveMeasured = res.value(), res.n
	k.FirstContactResolution, k.Resolved = fcr.value(), fcr.n
	k.ResponseSecondsP50, k.ResponseSecondsP90 = percentile(respSecs, 0.5), percentile(respSecs, 0.9)
	k.ResolveSecondsP50, k.ResolveSecondsP90 = percentile(resSecs, 0.5), percentile(resSecs, 0.9)
	if k.Calls > 0 {
		k.AbandonedCallRate = round(float64(abandoned) / float64(k.Calls))
		k.AnsweredWithin20s = calls20.value()
	}
	for i := range k.Daily {
		d := &k.Daily[i]
		d.SLAResponseCompliance, d.SLAResolveCompliance = dayResp[d.Date].value(), dayRes[d.Date].value()
	}
	sort.Slice(k.Incomplete, func(i, j int) bool { return k.Incomplete[i].Number < k.Incomplete[j].Number })
	return k
}

// percentile is the nearest-rank percentile (the smallest value with at
// least q of the values at or below it), whole seconds kept to 3 decimals.
func percentile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return math.Round(s[max(i, 0)]*1000) / 1000
}
