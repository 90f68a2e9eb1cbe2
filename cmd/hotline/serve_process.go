package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-desk/hotline/channels"
	"github.com/hotline-desk/hotline/channels/notify"
	"github.com/hotline-desk/hotline/config"
	"github.com/hotline-desk/hotline/jobs"
	"github.com/hotline-desk/hotline/metrics"
	"github.com/hotline-desk/hotline/ticketing"
	"github.com/hotline-desk/hotline/ticketing/kb"
	"github.com/hotline-desk/hotline/ticketing/report"
	"github.com/hotline-desk/hotline/ticketing/sla"
)

// TimerLease is how long an instance holds an SLA or auto-close timer it
// claimed. Their handlers take milliseconds (the runner cuts them at three
// quarters of the lease); an instance that dies in those milliseconds
// leaves the timer to another after at most this long. Exactly once does
// not rest on the lease: the effect commits only with the lease still held.
const TimerLease = 2 * time.Second

// JobWeeklyReport mails the weekly report to the managers.
const JobWeeklyReport = "report.weekly"

// wireProcess puts the service-desk process on the desk (routing, SLA
// clocks, auto-close, notifications, knowledge base), runs its timers on a
// runner of their own with a short lease, and mounts its routes: the KPI
// report, the customer's confirmation link and the knowledge base.
func (g *gateway) wireProcess(ctx context.Context) error {
	cfg := g.s.cfg
	secret, err := g.store.SecretGet(ctx, linkSecret, newSecret())
	if err != nil {
		return err
	}
	mon := metrics.NewProcess(g.mon)
	p, err := newProcess(cfg, secret, g.roster, g.store, mon, g.s.getenv, g.log)
	if err != nil {
		return err
	}
	g.desk.Use(p.hooks()...)
	g.desk.UsePriority(p.matrix.Priority)

	host, _ := os.Hostname()
	worker := fmt.Sprintf("%s:%d:timers", host, os.Getpid())
	timers := jobs.New(g.store, jobs.Config{Worker: worker, Lease: TimerLease, Concurrency: 16, Log: g.log, Monitor: g.mon})
	p.clocks.Attach(g.desk, worker)
	p.autoclose.Attach(g.desk, worker)
	timers.Handle(sla.JobTimer, p.clocks)
	timers.Handle(sla.JobAutoClose, p.autoclose)
	g.group.Add("timers", timers)

	g.runner.Handle(notify.JobRobot, p.robots)
	g.runner.Handle(kb.JobFromTicket, p.kb)
	g.runner.Handle(kb.JobSuggest, p.kb)
	weekly := &weeklyReport{cfg: cfg, store: g.store, people: p.people, notifier: p.notifier}
	g.runner.Handle(JobWeeklyReport, weekly)
	if err := g.store.JobInsert(ctx, []ticketing.JobSpec{weekly.next(time.Now())}); err != nil {
		return fmt.Errorf("schedule the weekly report: %w", err)
	}
	h := &processRoutes{g: g, p: p}
	g.mounts = append(g.mounts, h.mount)
	return nil
}

// weeklyReport mails the last week's KPIs every week, on the configured
// day and time. Each week's run has a unique key: every instance
// schedules it, one sends it.
type weeklyReport struct {
	cfg      *config.Config
	store    ticketing.Store
	people   map[string]notify.Person
	notifier *notify.Notifier
}

func (w *weeklyReport) next(after time.Time) ticketing.JobSpec {
	loc := w.cfg.Desk.Location()
	days, _ := config.ParseDays(w.cfg.Reports.Weekly.Day)
	h, m, _ := config.ParseClock(w.cfg.Reports.Weekly.At)
	t := after.In(loc)
	for i := 0; i < 8; i++ {
		d := time.Date(t.Year(), t.Month(), t.Day()+i, h, m, 0, 0, loc)
		if days[d.Weekday()] && d.After(after) {
			return ticketing.JobSpec{Kind: JobWeeklyReport, RunAt: d, MaxAttempts: 10,
				UniqueKey: "report:weekly:" + d.Format(time.DateOnly)}
		}
	}
	return ticketing.JobSpec{Kind: JobWeeklyReport, RunAt: after.Add(7 * 24 * time.Hour), MaxAttempts: 10}
}

func (w *weeklyReport) recipients() []string {
	ids := w.cfg.Reports.Weekly.To
	if len(ids) == 0 {
		ids = w.cfg.Notify.Managers
	}
	var to []string
	for _, id := range ids {
		if p, ok := w.people[id]; ok {
			if p.Email != "" {
				to = append(to, p.Email)
			}
		} else if strings.Contains(id, "@") {
			to = append(to, id)
		}
	}
	return to
}

func (w *weeklyReport) Work(ctx context.Context, j *ticketing.Job) error {
	loc := w.cfg.Desk.Location()
	p, err := report.Last("week", j.RunAt, loc)
	if err != nil {
		return jobs.Permanent(err)
	}
	k, err := report.Generate(ctx, w.store, p, time.Now())
	if err != nil {
		return err
	}
	var table strings.Builder
	if err := report.WriteTable(&table, k); err != nil {
		return err
	}
	var specs []ticketing.JobSpec
	if to := w.recipients(); len(to) > 0 {
		subj, text, err := w.notifier.Render(config.TemplateWeeklyReport, notify.Data{Desk: w.cfg.Desk.Name, From: k.From, To: k.To,
			Table: table.String() + "\nXLSX: " + strings.TrimRight(w.cfg.Desk.ConsoleURL, "/") + "/api/v1/reports/kpi?from=" + k.From + "&to=" + k.To + "&format=xlsx"})
		if err != nil {
			return jobs.Permanent(err)
		}
		mail, err := channels.MailJob(0, channels.OutboundMail{Purpose: "report", To: to, Subject: subj, Text: text,
			AutoSubmitted: "auto-generated"}, "report:mail:"+k.From)
		if err != nil {
			return jobs.Permanent(err)
		}
		specs = append(specs, mail)
	}
	// The next week's run; the unique key keeps one per week.
	return w.store.JobInsert(ctx, append(specs, w.next(j.RunAt)))
}

type processRoutes struct {
	g *gateway
	p *process
}

func (h *processRoutes) mount(mux *http.ServeMux, auth func(http.HandlerFunc) http.HandlerFunc) {
	mux.HandleFunc("GET /api/v1/reports/kpi", auth(h.kpi))
	mux.HandleFunc("GET /confirm/{token}", h.confirm)
	mux.HandleFunc("GET /api/v1/kb", auth(h.kbList))
	mux.HandleFunc("POST /api/v1/kb", auth(h.kbCreate))
	mux.HandleFunc("GET /api/v1/kb/{id}", auth(h.kbGet))
	mux.HandleFunc("PATCH /api/v1/kb/{id}", auth(h.kbPatch))
	mux.HandleFunc("GET /api/v1/tickets/{number}/suggestions", auth(h.suggestions))
}

// kpi answers GET /api/v1/reports/kpi?from=YYYY-MM-DD&to=YYYY-MM-DD
// [&format=json|csv|xlsx|png]: local dates in the desk's timezone, both
// inclusive; by default the last seven days up to today.
func (h *processRoutes) kpi(w http.ResponseWriter, r *http.Request) {
	loc := h.g.s.cfg.Desk.Location()
	q := r.URL.Query()
	today := time.Now().In(loc).Format(time.DateOnly)
	to := firstNonEmpty(q.Get("to"), today)
	from := q.Get("from")
	if from == "" {
		if t, err := time.ParseInLocation(time.DateOnly, to, loc); err == nil {
			from = t.AddDate(0, 0, -6).Format(time.DateOnly)
		}
	}
	p, err := report.ParsePeriod(from, to, loc)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	k, err := report.Generate(r.Context(), h.g.store, p, time.Now())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	name := "hotline-kpi-" + k.From + "-" + k.To
	switch format := firstNonEmpty(q.Get("format"), "json"); format {
	case "json":
		writeJSONBody(w, http.StatusOK, k)
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
		report.WriteCSV(w, k)
	case "xlsx":
		w.Header().Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.xlsx"`)
		if err := report.WriteXLSX(w, k); err != nil {
			h.g.log.Error("write xlsx report", "error", err)
		}
	case "png":
		b, err := report.Chart(k)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		w.Write(b)
	default:
		writeJSONBody(w, http.StatusBadRequest, map[string]string{"error": "format must be json, csv, xlsx or png"})
	}
}

// confirm answers the customer's confirmation link: no bearer token (the
// link is signed), single use, expiring.
func (h *processRoutes) confirm(w http.ResponseWriter, r *http.Request) {
	page := func(code int, title, msg string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		fmt.Fprintf(w, "<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><title>%s</title><body><h1>%s</h1><p>%s</p><p>%s</p></body></html>\n",
			html.EscapeString(title), html.EscapeString(title), html.EscapeString(msg), html.EscapeString(h.g.s.cfg.Desk.Name))
	}
	id, resolvedAt, err := h.p.links.Check(r.PathValue("token"), time.Now())
	switch {
	case errors.Is(err, notify.ErrExpiredLink):
		page(http.StatusGone, "链接已过期", "此确认链接已过期。如问题已解决，请直接回复通知邮件“确认”。")
		return
	case err != nil:
		page(http.StatusNotFound, "链接无效", "此确认链接无效。")
		return
	}
	t, err := h.g.desk.Confirm(r.Context(), id, resolvedAt)
	switch {
	case errors.Is(err, ticketing.ErrLinkUsed), errors.Is(err, ticketing.ErrNotFound):
		page(http.StatusConflict, "链接已使用", "此确认链接已使用过，或工单状态已变化。")
	case err != nil:
		h.g.log.Error("confirm by link", "ticket", id, "error", err)
		page(http.StatusInternalServerError, "暂时无法确认", "请稍后再试，或直接回复通知邮件“确认”。")
	default:
		page(http.StatusOK, "感谢您的确认", "工单 "+t.Number+" 已确认解决并关闭。")
	}
}

func (h *processRoutes) kbList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 {
		limit = 20
	}
	var arts []*ticketing.KBArticle
	var err error
	if text := strings.TrimSpace(q.Get("q")); text != "" {
		arts, err = h.p.kb.Search(r.Context(), text, min(limit, 100))
	} else {
		after, _ := strconv.ParseInt(q.Get("cursor"), 10, 64)
		arts, err = h.p.kb.List(r.Context(), limit, after)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if arts == nil {
		arts = []*ticketing.KBArticle{}
	}
	writeJSONBody(w, http.StatusOK, map[string]any{"articles": arts})
}

func (h *processRoutes) kbCreate(w http.ResponseWriter, r *http.Request) {
	var a ticketing.KBArticle
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&a); err != nil {
		writeJSONBody(w, http.StatusBadRequest, map[string]string{"error": "bad JSON: " + err.Error()})
		return
	}
	if err := h.p.kb.Create(r.Context(), &a); err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Location", fmt.Sprintf("/api/v1/kb/%d", a.ID))
	writeJSONBody(w, http.StatusCreated, a)
}

func (h *processRoutes) kbGet(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeJSONBody(w, http.StatusBadRequest, map[string]string{"error": "article id must be a number"})
		return
	}
	a, err := h.p.kb.Get(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSONBody(w, http.StatusOK, a)
}

func (h *processRoutes) kbPatch(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeJSONBody(w, http.StatusBadRequest, map[string]string{"error": "article id must be a number"})
		return
	}
	var e kb.Edit
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		writeJSONBody(w, http.StatusBadRequest, map[string]string{"error": "bad JSON: " + err.Error()})
		return
	}
	a, err := h.p.kb.Update(r.Context(), id, e)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSONBody(w, http.StatusOK, a)
}

// suggestions are the articles suggested on a ticket when it was opened,
// or, when none were (yet), a search by its subject and description.
func (h *processRoutes) suggestions(w http.ResponseWriter, r *http.Request) {
	t, err := h.g.desk.Get(r.Context(), r.PathValue("number"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var arts []*ticketing.KBArticle
	for _, id := range kb.Suggestions(t) {
		if a, err := h.p.kb.Get(r.Context(), id); err == nil {
			arts = append(arts, a)
		}
	}
	if len(arts) == 0 {
		if arts, err = h.p.kb.Search(r.Context(), t.Subject+"\n"+t.Description, 3); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	if arts == nil {
		arts = []*ticketing.KBArticle{}
	}
	writeJSONBody(w, http.StatusOK, map[string]any{"articles": arts})
}

func (h *processRoutes) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ticketing.ErrInvalid):
		writeJSONBody(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
	case errors.Is(err, ticketing.ErrNotFound):
		writeJSONBody(w, http.StatusNotFound, map[string]string{"error": "not found: " + r.URL.Path})
	case errors.Is(err, ticketing.ErrConflict):
		writeJSONBody(w, http.StatusConflict, map[string]string{"error": "changed meanwhile; reload and try again"})
	default:
		h.g.log.Error("api request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		writeJSONBody(w, http.StatusInternalServerError, map[string]string{"error": "internal error; see the gateway's log"})
	}
}

func writeJSONBody(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
