package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hotline-desk/hotline/channels"
	"github.com/hotline-desk/hotline/config"
	"github.com/hotline-desk/hotline/ticketing"
	"github.com/hotline-desk/hotline/ticketing/store/postgres/pgtest"
	"github.com/hotline-desk/hotline/ticketing/store/sqlite"
)

// processConfig is the office calendar and P2 targets, a P1 with a
// response target of a few seconds (so that escalations happen within a
// test), and two tiers.
const processConfig = `
desk:
  console_url: http://desk.example.com
calendars:
  office:
    days: mon-fri
    hours: "09:00-17:00"
    holidays: [2026-10-01, 2026-10-02, 2026-10-03, 2026-10-04, 2026-10-05, 2026-10-06, 2026-10-07]
    workdays: [2026-10-10]
    public_holidays: none
sla:
  P1: {response: 4s, resolve: 1h, calendar: 24x7}
  P2: {response: 2h, resolve: 24h, calendar: office}
agents:
  - {id: zhang, name: 张工, email: zhang@example.com}
  - {id: wang, name: 王经理, email: wang@example.com, tier: 2}
escalation: [wang]
routing:
  groups:
    - {name: 一线, tier: 1, agents: [zhang]}
    - {name: 二线, tier: 2, agents: [wang]}
`

func writeProcessConfig(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "hotline.yaml")
	if err := os.WriteFile(p, []byte(processConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type processTicket struct {
	ticketJSON
	Priority    string     `json:"priority"`
	Tier        int        `json:"tier"`
	Group       string     `json:"group"`
	ResponseDue *time.Time `json:"response_due"`
	ResolveDue  *time.Time `json:"resolve_due"`
	ConfirmedAt *time.Time `json:"confirmed_at"`
	Events      []struct {
		At   time.Time       `json:"at"`
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	} `json:"events"`
}

func (p *processTicket) count(typ string) int {
	n := 0
	for _, e := range p.Events {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// The P2 case through POST /api/v1/tickets with received_at.
func TestDuesInTicketJSON(t *testing.T) {
	in := startServe(t, "--config", writeProcessConfig(t))
	var tk processTicket
	code := in.call(t, "POST", "/api/v1/tickets", map[string]any{"subject": "打印机无法打印", "priority": "P2",
		"received_at": "2026-09-30T16:00:00+08:00", "caller": map[string]string{"name": "张三", "email": "zs@example.com"}}, &tk)
	if code != 201 {
		t.Fatalf("create: %d %s", code, tk.Error)
	}
	loc, _ := time.LoadLocation("Asia/Shanghai")
	if tk.ResponseDue == nil || tk.ResponseDue.In(loc).Format("2006-01-02 15:04") != "2026-10-08 10:00" {
		t.Errorf("response_due %v, want 2026-10-08 10:00 +08:00", tk.ResponseDue)
	}
	if tk.ResolveDue == nil || tk.ResolveDue.In(loc).Format("2006-01-02 15:04") != "2026-10-10 16:00" {
		t.Errorf("resolve_due %v, want 2026-10-10 16:00 +08:00", tk.ResolveDue)
	}
	// Impact × urgency sets the priority, and the dues follow the change:
	// P1 is 4 s / 1 h on 24x7 in this config.
	if code := in.call(t, "PATCH", "/api/v1/tickets/"+tk.Number, map[string]string{"impact": "high", "urgency": "high"}, &tk); code != 200 {
		t.Fatalf("patch impact and urgency: %d %s", code, tk.Error)
	}
	if tk.Priority != "P1" || tk.ResolveDue == nil || tk.ResolveDue.In(loc).Format("2006-01-02 15:04") != "2026-09-30 17:00" {
		t.Errorf("after impact high × urgency high: priority %s, resolve_due %v", tk.Priority, tk.ResolveDue)
	}
	if code := in.call(t, "PATCH", "/api/v1/tickets/"+tk.Number, map[string]string{"impact": "high"}, &tk); code != 400 {
		t.Errorf("impact without urgency: %d", code)
	}
	// The same ticket in the KPI report of its day, in every format.
	var k map[string]any
	if code := in.call(t, "GET", "/api/v1/reports/kpi?from=2026-09-30&to=2026-09-30", nil, &k); code != 200 || k["tickets"] != 1.0 {
		t.Fatalf("kpi: %d %v", code, k)
	}
	if code := in.call(t, "GET", "/api/v1/reports/kpi?from=2026-10-01&to=2026-10-01", nil, &k); code != 200 || k["tickets"] != 0.0 {
		t.Fatalf("kpi of the next day: %d %v", code, k)
	}
	if code := in.call(t, "GET", "/api/v1/reports/kpi?from=2026-10-02&to=2026-10-01", nil, &k); code != 400 {
		t.Fatalf("kpi with to before from: %d", code)
	}
	for format, check := range map[string]func([]byte) error{
		"xlsx": func(b []byte) error {
			if !bytes.HasPrefix(b, []byte("PK")) {
				return fmt.Errorf("not a zip")
			}
			return nil
		},
		"png": func(b []byte) error { _, err := png.Decode(bytes.NewReader(b)); return err },
		"csv": func(b []byte) error {
			if !strings.Contains(string(b), "record_completeness") {
				return fmt.Errorf("no record_completeness")
			}
			return nil
		},
	} {
		req, _ := http.NewRequest("GET", in.base+"/api/v1/reports/kpi?from=2026-09-30&to=2026-09-30&format="+format, nil)
		req.Header.Set("Authorization", "Bearer "+in.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err := check(b); resp.StatusCode != 200 || err != nil {
			t.Errorf("kpi as %s: %d %v", format, resp.StatusCode, err)
		}
	}
	// The CLI reads the same store.
	out, err := execHotline("report", "--data", in.data, "--from", "2026-09-30", "--format", "json")
	if err != nil || !strings.Contains(out, `"tickets": 1`) {
		t.Errorf("hotline report: %v\n%s", err, out)
	}
}

func execHotline(args ...string) (string, error) {
	var out bytes.Buffer
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

var confirmRE = regexp.MustCompile(`/confirm/[A-Za-z0-9_.-]+`)

// confirmLink finds the link in the resolution mail queued for the
// customer (no relay is configured: the job stays in the store).
func confirmLink(t *testing.T, data string) string {
	t.Helper()
	db, err := sql.Open("sqlite", sqlite.DSN(filepath.Join(data, "hotline.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT args FROM jobs WHERE kind = 'mail.send' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var link string
	for rows.Next() {
		var args string
		rows.Scan(&args)
		var m struct {
			To      []string
			Subject string
			Text    string
		}
		json.Unmarshal([]byte(args), &m)
		if l := confirmRE.FindString(m.Text); l != "" && len(m.To) == 1 && m.To[0] == "zs@example.com" {
			link = l
		}
	}
	if link == "" {
		t.Fatal("no resolution mail with a confirmation link was queued for the customer")
	}
	return link
}

func TestConfirmLink(t *testing.T) {
	in := startServe(t, "--config", writeProcessConfig(t))
	var tk processTicket
	in.call(t, "POST", "/api/v1/tickets", map[string]any{"subject": "打印机卡纸", "priority": "P2",
		"caller": map[string]string{"name": "张三", "email": "zs@example.com"}}, &tk)
	for _, patch := range []map[string]any{{"assignee": "zhang"}, {"status": "in_progress"}, {"status": "resolved", "resolution": "原因：搓纸轮老化\n更换搓纸轮"}} {
		if code := in.call(t, "PATCH", "/api/v1/tickets/"+tk.Number, patch, &tk); code != 200 {
			t.Fatalf("patch %v: %d %s", patch, code, tk.Error)
		}
	}
	link := confirmLink(t, in.data)
	get := func(path string) int {
		resp, err := http.Get(in.base + path) // no bearer token: the link is signed
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(link[:len(link)-2] + "xx"); code != 404 {
		t.Errorf("a tampered link: %d, want 404", code)
	}
	if code := get(link); code != 200 {
		t.Fatalf("confirm: %d", code)
	}
	in.call(t, "GET", "/api/v1/tickets/"+tk.Number, nil, &tk)
	if tk.Status != "closed" || tk.ConfirmedAt == nil || tk.count("confirmed") != 1 {
		t.Fatalf("after the link: status %s confirmed %v", tk.Status, tk.ConfirmedAt)
	}
	if code := get(link); code != 409 {
		t.Errorf("the link used twice: %d, want 409", code)
	}
	// Closing made a knowledge-base article, with the cause split out.
	deadline := time.Now().Add(5 * time.Second)
	for {
		var kb struct {
			Articles []struct {
				ID                       int64
				Title, Cause, Resolution string
				SourceTicket             string `json:"source_ticket"`
			}
		}
		in.call(t, "GET", "/api/v1/kb?q=打印机", nil, &kb)
		if len(kb.Articles) == 1 {
			a := kb.Articles[0]
			if a.Cause != "搓纸轮老化" || a.Resolution != "更换搓纸轮" || a.SourceTicket != tk.Number {
				t.Errorf("article %+v", a)
			}
			var edited struct{ Cause string }
			if code := in.call(t, "PATCH", fmt.Sprintf("/api/v1/kb/%d", a.ID), map[string]string{"cause": "搓纸轮磨损"}, &edited); code != 200 || edited.Cause != "搓纸轮磨损" {
				t.Errorf("edit article: %d %+v", code, edited)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no knowledge-base article from the closed ticket: %+v", kb)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A new, similar ticket gets it suggested.
	var tk2 processTicket
	in.call(t, "POST", "/api/v1/tickets", map[string]any{"subject": "打印机又卡纸了"}, &tk2)
	var sug struct{ Articles []struct{ Title string } }
	in.call(t, "GET", "/api/v1/tickets/"+tk2.Number+"/suggestions", nil, &sug)
	if len(sug.Articles) == 0 || sug.Articles[0].Title != "打印机卡纸" {
		t.Errorf("suggestions %+v", sug)
	}
}

// Two gateways on one PostgreSQL: each SLA step fires exactly once, and
// when one instance is killed with SIGKILL the other fires its timers on
// time.
func TestEscalationOnceAcrossInstances(t *testing.T) {
	url, cfg := pgtest.URL(t), writeProcessConfig(t)
	a, b := startServe(t, "--db", url, "--config", cfg), startServe(t, "--db", url, "--config", cfg)
	open := func(in *instance) processTicket {
		var tk processTicket
		if code := in.call(t, "POST", "/api/v1/tickets", map[string]any{"subject": "服务器宕机", "priority": "P1",
			"caller": map[string]string{"phone": "13800138000"}}, &tk); code != 201 {
			t.Fatalf("create: %d %s", code, tk.Error)
		}
		if code := in.call(t, "PATCH", "/api/v1/tickets/"+tk.Number, map[string]any{"assignee": "zhang", "group": "一线"}, &tk); code != 200 {
			t.Fatalf("assign: %d %s", code, tk.Error)
		}
		return tk
	}
	escalated := func(in *instance, number string, within time.Duration) processTicket {
		deadline := time.Now().Add(within)
		for {
			var tk processTicket
			in.call(t, "GET", "/api/v1/tickets/"+number, nil, &tk)
			if tk.count("escalated") > 0 || time.Now().After(deadline) {
				return tk
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	t1 := open(a)
	escalated(b, t1.Number, 15*time.Second)
	time.Sleep(1500 * time.Millisecond) // room for a second, wrong firing
	var got processTicket
	a.call(t, "GET", "/api/v1/tickets/"+t1.Number, nil, &got)
	if got.count("sla_warning") != 1 || got.count("sla_breached") != 1 || got.count("escalated") != 1 ||
		got.Tier != 2 || got.Assignee != "wang" || got.Group != "二线" {
		t.Fatalf("with two instances: %d warnings, %d breaches, %d escalations, tier %d, assignee %s, group %s",
			got.count("sla_warning"), got.count("sla_breached"), got.count("escalated"), got.Tier, got.Assignee, got.Group)
	}

	// Freeze b, so that a is the one that would fire the next timer; kill
	// a with SIGKILL before it is due, then thaw b: b must fire it on time.
	if err := b.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t2 := open(a)
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := b.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	got = escalated(b, t2.Number, 15*time.Second)
	if got.count("escalated") != 1 || got.count("sla_breached") != 1 {
		t.Fatalf("after a was killed: %d escalations", got.count("escalated"))
	}
	var at time.Time
	for _, e := range got.Events {
		if e.Type == "escalated" {
			at = e.At
		}
	}
	lag := at.Sub(*got.ResponseDue)
	t.Logf("escalation fired %v after the due time, by the surviving instance", lag)
	if lag < 0 || lag > time.Second {
		t.Errorf("escalation lag %v: want within the 1 s timer lag", lag)
	}
}

func TestWeeklyReportSchedule(t *testing.T) {
	cfg := config.Default()
	cfg.Reports.Weekly.Day, cfg.Reports.Weekly.At = "mon", "08:00"
	w := &weeklyReport{cfg: cfg}
	loc := cfg.Desk.Location()
	for after, want := range map[string]string{
		"2026-09-30 12:00": "2026-10-05 08:00", // Wednesday: next Monday
		"2026-10-05 07:59": "2026-10-05 08:00", // Monday morning: today
		"2026-10-05 08:00": "2026-10-12 08:00", // the run itself: a week on
	} {
		at, _ := time.ParseInLocation("2006-01-02 15:04", after, loc)
		j := w.next(at)
		if got := j.RunAt.In(loc).Format("2006-01-02 15:04"); got != want || j.UniqueKey != "report:weekly:"+want[:10] {
			t.Errorf("after %s: %s %s, want %s", after, got, j.UniqueKey, want)
		}
	}
	if out, err := exec.Command(binary, "report", "--help").CombinedOutput(); err != nil || !strings.Contains(string(out), "Usage") {
		t.Errorf("report --help: %v\n%s", err, out)
	}
}

// The weekly report job queues the report mail to the managers and the
// next week's run.
func TestWeeklyReportMail(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "w.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Agents = []config.Agent{{ID: "wang", Name: "王经理", Email: "wang@example.com"}}
	cfg.Notify.Managers = []string{"wang"}
	cfg.Reports.Weekly.To = nil
	p, err := newProcess(cfg, []byte("k"), nil, st, nil, func(string) string { return "" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := &weeklyReport{cfg: cfg, store: st, people: p.people, notifier: p.notifier}
	loc := cfg.Desk.Location()
	runAt := time.Date(2026, 10, 5, 8, 0, 0, 0, loc)
	if err := w.Work(ctx, &ticketing.Job{ID: 1, Kind: JobWeeklyReport, RunAt: runAt}); err != nil {
		t.Fatal(err)
	}
	jobs, err := st.JobClaim(ctx, ticketing.JobClaimParams{Worker: "t", Kinds: []string{channels.JobMailSend, JobWeeklyReport},
		Now: time.Now().AddDate(1, 0, 0), Lease: time.Minute, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var mail channels.OutboundMail
	var next *ticketing.Job
	for _, j := range jobs {
		switch j.Kind {
		case channels.JobMailSend:
			json.Unmarshal(j.Args, &mail)
		case JobWeeklyReport:
			next = j
		}
	}
	if len(mail.To) != 1 || mail.To[0] != "wang@example.com" || !strings.Contains(mail.Subject, "2026-09-28 至 2026-10-04") ||
		!strings.Contains(mail.Text, "录入完整性") || mail.Purpose != "report" {
		t.Errorf("report mail %+v", mail)
	}
	if next == nil || !next.RunAt.Equal(time.Date(2026, 10, 12, 8, 0, 0, 0, loc)) {
		t.Errorf("next run %+v", next)
	}
}
