package report

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/hotline-desk/hotline/ticketing"
	"github.com/hotline-desk/hotline/ticketing/store/postgres"
	"github.com/hotline-desk/hotline/ticketing/store/postgres/pgtest"
	"github.com/hotline-desk/hotline/ticketing/store/sqlite"
)

var shanghai = func() *time.Location {
	l, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return l
}()

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, shanghai)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func tp(s string) *time.Time {
	t := at(s)
	return &t
}

// seed is a data set with known fields, times and outcomes. The KPIs it
// must give are worked out by hand in TestKPIOnSeededData.
type seed struct {
	name        string
	channel     ticketing.Channel
	kind        ticketing.Kind
	priority    ticketing.Priority
	status      ticketing.Status
	tier        int
	subject     string
	desc        string
	phone       string
	email       string
	assignee    string
	resolution  string
	received    string
	respDue     string
	resDue      string
	responded   string
	resolved    string
	closed      string
	confirmed   string
	escalations int
	reassigns   int
	call        string // answered:SECONDS or abandoned
}

var seeds = []seed{
	{name: "T1", channel: "phone", kind: "incident", priority: "P2", status: "closed", tier: 1, subject: "打印机卡纸", desc: "三楼打印机",
		phone: "+8613800000001", assignee: "zhang", resolution: "清理进纸通道", received: "2026-09-28 09:00", respDue: "2026-09-28 11:00",
		resDue: "2026-09-28 17:00", responded: "2026-09-28 09:10", resolved: "2026-09-28 10:00", closed: "2026-09-28 11:00",
		confirmed: "2026-09-28 11:00", call: "answered:12"},
	{name: "T2", channel: "email", kind: "service_request", priority: "P3", status: "resolved", tier: 1, subject: "开通VPN", desc: "新员工",
		email: "a@example.com", assignee: "li", resolution: "已开通", received: "2026-09-28 10:00", respDue: "2026-09-28 14:00",
		resDue: "2026-09-29 18:00", responded: "2026-09-28 15:00", resolved: "2026-09-29 12:00", reassigns: 1},
	{name: "T3", channel: "phone", kind: "complaint", priority: "P2", status: "new", tier: 1, subject: "投诉响应慢",
		phone: "+8613800000003", received: "2026-09-29 11:00", respDue: "2026-09-29 13:00", resDue: "2026-09-30 11:00", call: "abandoned"},
	{name: "T4", channel: "fax", kind: "incident", priority: "P1", status: "closed", tier: 2, subject: "服务器宕机", desc: "机房",
		phone: "+8653255578279", assignee: "wang", received: "2026-09-30 20:00", respDue: "2026-09-30 20:15", resDue: "2026-10-01 00:00",
		responded: "2026-09-30 20:30", resolved: "2026-09-30 23:00", closed: "2026-10-04 23:00", escalations: 1},
	{name: "T5", channel: "web", kind: "inquiry", priority: "P4", status: "in_progress", tier: 1, subject: ticketing.NoSubject, desc: "咨询",
		assignee: "zhang", received: "2026-09-30 23:30", respDue: "2026-10-01 23:30", resDue: "2026-10-05 23:30", responded: "2026-09-30 23:40"},
	{name: "T8", channel: "phone", kind: "incident", priority: "P1", status: "assigned", tier: 1, subject: "网络中断", desc: "整层断网",
		phone: "+8613800000008", assignee: "li", received: "2026-09-29 09:00", respDue: "2026-09-29 09:15", resDue: "2026-09-29 13:00",
		call: "answered:35"},
	// Outside the period, one minute either side of it.
	{name: "T6", channel: "phone", kind: "incident", priority: "P3", status: "new", tier: 1, subject: "前一天", received: "2026-09-27 23:59"},
	{name: "T7", channel: "phone", kind: "incident", priority: "P3", status: "new", tier: 1, subject: "后一天", received: "2026-10-01 00:00"},
}

func ptime(s string) *time.Time {
	if s == "" {
		return nil
	}
	return tp(s)
}

func load(t *testing.T, st ticketing.Store) map[string]string {
	ctx := context.Background()
	numbers := map[string]string{}
	for i, s := range seeds {
		tk := ticketing.Ticket{Channel: s.channel, Kind: s.kind, Priority: s.priority, Status: ticketing.StatusNew, Tier: 1,
			Subject: s.subject, Description: s.desc, Caller: ticketing.Party{Name: s.name, Phone: s.phone, Email: s.email},
			ReceivedAt: at(s.received), CreatedAt: at(s.received), UpdatedAt: at(s.received)}
		evs := []ticketing.Event{ticketing.NewEvent(at(s.received), ticketing.EventCreated, "channel:"+string(s.channel),
			map[string]string{"channel": string(s.channel)})}
		if s.name == "T2" {
			// The customer wrote again: a second contact on the same ticket.
			evs = append(evs, ticketing.NewEvent(at("2026-09-28 12:00"), ticketing.EventContact, "channel:email",
				map[string]string{"channel": "email", "body": "补充"}))
		}
		switch {
		case strings.HasPrefix(s.call, "answered:"):
			var wait float64
			json.Unmarshal([]byte(strings.TrimPrefix(s.call, "answered:")), &wait)
			evs = append(evs, ticketing.NewEvent(at(s.received), ticketing.EventCallAnswered, "channel:phone", map[string]float64{"wait_seconds": wait}))
		case s.call == "abandoned":
			evs = append(evs, ticketing.NewEvent(at(s.received), ticketing.EventCallAbandoned, "channel:phone", nil))
		}
		r, err := st.TicketCreate(ctx, &ticketing.TicketCreateParams{Prefix: "HL", Day: at(s.received).In(shanghai),
			Ticket: tk, Events: evs})
		if err != nil {
			t.Fatal(err)
		}
		numbers[s.name] = r.Number
		got, err := st.TicketGet(ctx, ticketing.TicketGetParams{ID: r.TicketID})
		if err != nil {
			t.Fatal(err)
		}
		got.Status, got.Tier, got.Assignee, got.Resolution = s.status, s.tier, s.assignee, s.resolution
		got.ResponseDue, got.ResolveDue = ptime(s.respDue), ptime(s.resDue)
		got.RespondedAt, got.ResolvedAt, got.ClosedAt, got.ConfirmedAt = ptime(s.responded), ptime(s.resolved), ptime(s.closed), ptime(s.confirmed)
		got.Escalations, got.Reassigns = s.escalations, s.reassigns
		got.UpdatedAt = at(s.received).Add(time.Duration(i) * time.Second)
		if err := st.TicketUpdate(ctx, &ticketing.TicketUpdateParams{Ticket: got, Version: got.Version}); err != nil {
			t.Fatal(err)
		}
	}
	return numbers
}

func stores(t *testing.T) map[string]func(t *testing.T) ticketing.Store {
	return map[string]func(t *testing.T) ticketing.Store{
		"sqlite": func(t *testing.T) ticketing.Store {
			st, err := sqlite.Open(filepath.Join(t.TempDir(), "r.db"), nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			if err := st.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			return st
		},
		"postgres": func(t *testing.T) ticketing.Store {
			st, err := postgres.Open(context.Background(), pgtest.URL(t), nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			if err := st.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			return st
		},
	}
}

func TestKPIOnSeededData(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			n := load(t, st)
			p, err := ParsePeriod("2026-09-28", "2026-09-30", shanghai)
			if err != nil {
				t.Fatal(err)
			}
			k, err := Generate(context.Background(), st, p, at("2026-10-05 12:00"))
			if err != nil {
				t.Fatal(err)
			}
			// Worked out by hand from the seeds:
			want := &KPI{
				From: "2026-09-28", To: "2026-09-30", Timezone: "Asia/Shanghai", GeneratedAt: at("2026-10-05 12:00"),
				// Six tickets opened in the period and T2's second mail.
				Contacts:          7,
				ContactsByChannel: map[string]int{"phone": 3, "email": 2, "fax": 1, "web": 1},
				Tickets:           6, // T6 and T7 lie outside
				TicketsByChannel:  map[string]int{"phone": 3, "email": 1, "fax": 1, "web": 1},
				TicketsByKind:     map[string]int{"incident": 3, "service_request": 1, "complaint": 1, "inquiry": 1},
				TicketsByStatus:   map[string]int{"closed": 2, "resolved": 1, "new": 1, "in_progress": 1, "assigned": 1},
				// T1, T2 and T8 are complete.
				RecordCompleteness: 0.5, CompleteRecords: 3,
				Incomplete: []Incomplete{
					{n["T3"], []string{MissingDescription, MissingAssignee}},
					{n["T4"], []string{MissingResolution, MissingConfirmation}},
					{n["T5"], []string{MissingContact, MissingSubject}},
				},
				// Response: T1 and T5 in time; T2 and T4 late; T3 and T8
				// never, past due.
				SLAResponseCompliance: 0.3333, SLAResponseMeasured: 6,
				// Resolve: T1, T2, T4 in time; T3, T8 past due; T5 still
				// running.
				SLAResolveCompliance: 0.6, SLAResolveMeasured: 5,
				// Resolved: T1 (first contact), T2 (handed on), T4 (tier 2).
				FirstContactResolution: 0.3333, Resolved: 3,
				// Responses 600, 600, 1800, 18000 s; resolutions 3600,
				// 10800, 93600 s; nearest rank.
				ResponseSecondsP50: 600, ResponseSecondsP90: 18000,
				ResolveSecondsP50: 10800, ResolveSecondsP90: 93600,
				// Calls: T1 answered at 12 s, T8 at 35 s, T3 abandoned.
				Calls: 3, AbandonedCallRate: 0.3333, AnsweredWithin20s: 0.3333,
				Escalations: 1, Complaints: 1,
				Daily: []Day{
					{Date: "2026-09-28", Tickets: 2, ByChannel: map[string]int{"phone": 1, "email": 1, "fax": 0, "web": 0},
						SLAResponseCompliance: 0.5, SLAResolveCompliance: 1},
					{Date: "2026-09-29", Tickets: 2, ByChannel: map[string]int{"phone": 2, "email": 0, "fax": 0, "web": 0},
						SLAResponseCompliance: 0, SLAResolveCompliance: 0},
					{Date: "2026-09-30", Tickets: 2, ByChannel: map[string]int{"phone": 0, "email": 0, "fax": 1, "web": 1},
						SLAResponseCompliance: 0.5, SLAResolveCompliance: 1},
				},
			}
			if !reflect.DeepEqual(k, want) {
				g, _ := json.MarshalIndent(k, "", " ")
				w, _ := json.MarshalIndent(want, "", " ")
				t.Fatalf("KPIs differ from the hand-computed ones:\ngot  %s\nwant %s", g, w)
			}
			checkOutputs(t, k)
		})
	}
}

func checkOutputs(t *testing.T, k *KPI) {
	var js bytes.Buffer
	if err := Write(&js, k, "json"); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(js.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"record_completeness", "tickets", "tickets_by_channel", "tickets_by_kind", "sla_response_compliance",
		"sla_resolve_compliance", "first_contact_resolution", "response_seconds_p50", "resolve_seconds_p50", "abandoned_call_rate",
		"answered_within_20s", "escalations", "complaints"} {
		if _, ok := m[key]; !ok {
			t.Errorf("JSON lacks %s", key)
		}
	}
	var xl bytes.Buffer
	if err := Write(&xl, k, "xlsx"); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&xl)
	if err != nil {
		t.Fatalf("the XLSX does not read back: %v", err)
	}
	defer f.Close()
	rows, err := f.GetRows("汇总")
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]string{}
	for _, r := range rows {
		if len(r) == 3 {
			found[r[1]] = r[2]
		}
	}
	if found["tickets"] != "6" || found["record_completeness"] != "0.5" || found["sla_resolve_compliance"] != "0.6" {
		t.Errorf("XLSX summary: tickets %q completeness %q resolve %q", found["tickets"], found["record_completeness"], found["sla_resolve_compliance"])
	}
	inc, _ := f.GetRows("不完整记录")
	if len(inc) != 4 {
		t.Errorf("XLSX lists %d incomplete rows, want a header and 3", len(inc))
	}
	pics, err := f.GetPictures("图表", "A1")
	if err != nil || len(pics) != 1 {
		t.Fatalf("XLSX chart: %d pictures, %v", len(pics), err)
	}
	img, err := png.Decode(bytes.NewReader(pics[0].File))
	if err != nil {
		t.Fatalf("the chart PNG does not decode: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 500 || b.Dy() < 300 {
		t.Errorf("chart %v", b)
	}
	var table, csv bytes.Buffer
	if err := Write(&table, k, "table"); err != nil || !strings.Contains(table.String(), "录入完整性") {
		t.Errorf("table: %v\n%s", err, table.String())
	}
	if err := Write(&csv, k, "csv"); err != nil || !strings.Contains(csv.String(), "record_completeness") {
		t.Errorf("csv: %v", err)
	}
}

func TestPeriods(t *testing.T) {
	now := at("2026-10-07 10:00") // a Wednesday
	for kind, want := range map[string][2]string{
		"day": {"2026-10-06", "2026-10-06"}, "week": {"2026-09-28", "2026-10-04"}, "month": {"2026-09-01", "2026-09-30"},
	} {
		p, err := Last(kind, now, shanghai)
		if err != nil || p.From.Format(time.DateOnly) != want[0] || p.To.Format(time.DateOnly) != want[1] {
			t.Errorf("%s: %v..%v %v, want %v", kind, p.From, p.To, err, want)
		}
	}
	if _, err := ParsePeriod("2026-10-02", "2026-10-01", shanghai); err == nil {
		t.Error("a period ending before it starts was accepted")
	}
}
