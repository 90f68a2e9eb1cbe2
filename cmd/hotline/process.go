package main

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/hotline-desk/hotline/channels"
	"github.com/hotline-desk/hotline/channels/notify"
	"github.com/hotline-desk/hotline/config"
	"github.com/hotline-desk/hotline/metrics"
	"github.com/hotline-desk/hotline/ticketing"
	"github.com/hotline-desk/hotline/ticketing/calendar"
	"github.com/hotline-desk/hotline/ticketing/kb"
	"github.com/hotline-desk/hotline/ticketing/routing"
	"github.com/hotline-desk/hotline/ticketing/sla"
)

// process is the service-desk process built from the config: routing,
// SLA clocks, auto-close, notifications and the knowledge base, all hooks
// on the desk, plus the handlers of their jobs.
type process struct {
	router    *routing.Router
	matrix    routing.Matrix
	clocks    *sla.Clocks
	autoclose *sla.AutoCloser
	notifier  *notify.Notifier
	robots    *notify.Robots
	kb        *kb.Base
	links     *notify.Links
	people    map[string]notify.Person
}

// calendars builds the configured calendars and the built-in 24x7.
func calendars(cfg *config.Config) (map[string]*calendar.Calendar, error) {
	loc := cfg.Desk.Location()
	out := map[string]*calendar.Calendar{config.Calendar24x7: calendar.TwentyFourSeven(loc)}
	for name, c := range cfg.Calendars {
		days, err := config.ParseDays(c.Days)
		if err != nil {
			return nil, fmt.Errorf("calendars.%s: %w", name, err)
		}
		open, close, err := config.ParseHours(c.Hours)
		if err != nil {
			return nil, fmt.Errorf("calendars.%s: %w", name, err)
		}
		spec := calendar.Spec{Name: name, Days: days, Open: open, Close: close, Holidays: c.Holidays, Workdays: c.Workdays}
		if c.PublicHolidays == "" || c.PublicHolidays == calendar.Official {
			spec.Official = calendar.China{}
		}
		cal, err := calendar.New(spec, loc)
		if err != nil {
			return nil, err
		}
		out[name] = cal
	}
	return out, nil
}

// slaTargets are the sla: targets on their calendars.
func slaTargets(cfg *config.Config) (map[ticketing.Priority]sla.Target, error) {
	cals, err := calendars(cfg)
	if err != nil {
		return nil, err
	}
	out := map[ticketing.Priority]sla.Target{}
	for p, s := range cfg.SLA {
		cal, ok := cals[s.Calendar]
		if !ok {
			return nil, fmt.Errorf("sla.%s: no calendar %q", p, s.Calendar)
		}
		out[ticketing.Priority(p)] = sla.Target{Response: s.Response.Std(), Resolve: s.Resolve.Std(), Calendar: cal}
	}
	return out, nil
}

func priorityMatrix(cfg *config.Config) routing.Matrix {
	m := routing.Matrix{Default: ticketing.Priority(cfg.Priority.Default), Table: map[string]map[string]ticketing.Priority{}}
	for impact, row := range cfg.Priority.Matrix {
		m.Table[impact] = map[string]ticketing.Priority{}
		for urgency, p := range row {
			m.Table[impact][urgency] = ticketing.Priority(p)
		}
	}
	return m
}

func routingConfig(cfg *config.Config, roster *channels.RosterHolder) routing.Config {
	rc := routing.Config{Matrix: priorityMatrix(cfg)}
	for _, g := range cfg.Routing.Groups {
		rc.Groups = append(rc.Groups, routing.Group{Name: g.Name, Tier: max(g.Tier, 1), Agents: g.Agents})
	}
	for _, r := range cfg.Routing.Rules {
		rule := routing.Rule{Keywords: r.Keywords, Organizations: r.Organizations, Group: r.Group, Assignee: r.Assignee,
			Kind: ticketing.Kind(r.Kind), Impact: r.Impact, Urgency: r.Urgency}
		for _, c := range r.Channels {
			rule.Channels = append(rule.Channels, ticketing.Channel(c))
		}
		for _, k := range r.Kinds {
			rule.Kinds = append(rule.Kinds, ticketing.Kind(k))
		}
		rc.Rules = append(rc.Rules, rule)
	}
	if roster != nil {
		rc.OnDuty = func(t time.Time) []string {
			var ids []string
			for _, a := range roster.Load().OnDuty(t) {
				ids = append(ids, a.ID)
			}
			return ids
		}
	}
	return rc
}

// robotsFromEnv reads the robots' URLs and secrets from the environment
// variables the config names.
func robotsFromEnv(cfg *config.Config, getenv func(string) string) []notify.Robot {
	var out []notify.Robot
	for _, r := range []struct {
		vendor string
		w      config.Webhook
	}{{notify.WeCom, cfg.Notify.WeCom}, {notify.DingTalk, cfg.Notify.DingTalk}, {notify.Feishu, cfg.Notify.Feishu}} {
		if r.w.WebhookURLEnv == "" {
			continue
		}
		url := strings.TrimSpace(getenv(r.w.WebhookURLEnv))
		rb := notify.Robot{Vendor: r.vendor, URL: url, Enabled: url != ""}
		if r.w.SecretEnv != "" {
			rb.Secret = strings.TrimSpace(getenv(r.w.SecretEnv))
		}
		out = append(out, rb)
	}
	return out
}

// linkSecret is the name of the confirmation links' signing key in the
// store, shared by every instance on one database.
const linkSecret = "confirm-link-hmac"

func newProcess(cfg *config.Config, secret []byte, roster *channels.RosterHolder, st ticketing.Store, mon *metrics.Process,
	getenv func(string) string, log *slog.Logger) (*process, error) {
	targets, err := slaTargets(cfg)
	if err != nil {
		return nil, err
	}
	p := &process{people: map[string]notify.Person{}}
	rc := routingConfig(cfg, roster)
	p.router, p.matrix = routing.New(rc), rc.Matrix
	p.clocks = sla.New(sla.Config{Targets: targets, WarnAt: float64(cfg.Workflow.WarnAt) / 100, Escalator: p.router,
		Monitor: mon, Log: log})
	p.autoclose = &sla.AutoCloser{After: cfg.Workflow.AutoCloseAfter.Std()}
	p.links = notify.NewLinks(secret, cfg.Workflow.ConfirmLinkTTL.Std())
	for _, a := range cfg.Agents {
		p.people[a.ID] = notify.Person{ID: a.ID, Name: a.Name, Email: a.Email}
	}
	robots := robotsFromEnv(cfg, getenv)
	p.robots = notify.NewRobots(robots, nil, mon, log)
	p.notifier, err = notify.New(notify.Config{DeskName: cfg.Desk.Name, ConsoleURL: cfg.Desk.ConsoleURL, Location: cfg.Desk.Location(),
		People: p.people, Escalation: cfg.Escalation, Managers: cfg.Notify.Managers, Templates: cfg.Notify.Templates,
		Robots: p.robots.Vendors(), Links: p.links, AutoCloseAfter: cfg.Workflow.AutoCloseAfter.Std(), Log: log})
	if err != nil {
		return nil, err
	}
	p.kb = kb.New(st, time.Now, cfg.Workflow.KnowledgeOnClose)
	return p, nil
}

// hooks are the process's hooks on the desk, in the order they must run:
// routing decides the priority the clocks count on; the clocks set the
// dues the notifications quote.
func (p *process) hooks() []ticketing.Hook {
	return []ticketing.Hook{p.router, p.clocks, p.autoclose, p.notifier, p.kb}
}

func newSecret() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}
