// Package notify keeps people informed of their tickets (及时通知客户其请求的
// 当前状况和最新进展): customers by e-mail at assignment, resolution ("please
// confirm", with a signed link) and closure; agents and managers by e-mail
// and by the IM group robots of WeCom, DingTalk and Feishu at assignment,
// SLA warnings and escalations. Every notification is a durable job,
// queued in the commit of the change it tells of: mail through the outbox
// (channels.JobMailSend), robots through JobRobot.
//
// The acknowledgement of a new ticket is the mail channel's, not this
// package's.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"text/template"
	"time"

	"github.com/hotline-desk/hotline/channels"
	"github.com/hotline-desk/hotline/config"
	"github.com/hotline-desk/hotline/ticketing"
	"github.com/hotline-desk/hotline/ticketing/sla"
)

// Person is an agent or manager to notify.
type Person struct {
	ID, Name, Email string
}

type Config struct {
	DeskName   string
	ConsoleURL string // the ticket links; confirmation links start here too
	Location   *time.Location
	// People are the agents by id; Escalation the escalation list and
	// Managers the managers (agent ids).
	People     map[string]Person
	Escalation []string
	Managers   []string
	// Templates by name (config.Template*), Go text/template.
	Templates map[string]config.Template
	// Robots are the vendors of the configured IM robots.
	Robots         []string
	Links          *Links
	AutoCloseAfter time.Duration
	Log            *slog.Logger
}

// Notifier is the notification hook on the desk.
type Notifier struct {
	cfg   Config
	tmpls map[string][2]*template.Template
}

func New(cfg Config) (*Notifier, error) {
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	n := &Notifier{cfg: cfg, tmpls: map[string][2]*template.Template{}}
	for name, t := range cfg.Templates {
		subj, err := template.New(name).Option("missingkey=zero").Parse(t.Subject)
		if err != nil {
			return nil, fmt.Errorf("template %s subject: %w", name, err)
		}
		text, err := template.New(name).Option("missingkey=zero").Parse(t.Text)
		if err != nil {
			return nil, fmt.Errorf("template %s text: %w", name, err)
		}
		n.tmpls[name] = [2]*template.Template{subj, text}
	}
	return n, nil
}

// Data is what templates see.
type Data struct {
	Desk, Number, Subject, Priority, Group, Customer, Organization string
	Tier                                                           int
	AssigneeName, ResponseDue, ResolveDue, Resolution              string
	ConfirmURL, TicketURL                                          string
	AutoCloseDays                                                  int
	Clock, Due, Note                                               string
	Percent                                                        int
	// The weekly report's.
	From, To, Table string
}

// Render fills the named template.
func (n *Notifier) Render(name string, d Data) (subject, text string, err error) {
	t, ok := n.tmpls[name]
	if !ok {
		return "", "", fmt.Errorf("no template %q", name)
	}
	var s, b bytes.Buffer
	if err := t[0].Execute(&s, d); err != nil {
		return "", "", fmt.Errorf("template %s: %w", name, err)
	}
	if err := t[1].Execute(&b, d); err != nil {
		return "", "", fmt.Errorf("template %s: %w", name, err)
	}
	return strings.TrimSpace(s.String()), b.String(), nil
}

func (n *Notifier) when(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.In(n.cfg.Location).Format("2006-01-02 15:04")
}

func (n *Notifier) data(t *ticketing.Ticket) Data {
	d := Data{Desk: n.cfg.DeskName, Number: t.Number, Subject: t.Subject, Priority: string(t.Priority), Group: t.Group,
		Customer: t.Caller.Name, Organization: t.Caller.Organization, Tier: t.Tier, AssigneeName: n.name(t.Assignee),
		ResponseDue: n.when(t.ResponseDue), ResolveDue: n.when(t.ResolveDue), Resolution: t.Resolution,
		AutoCloseDays: int(n.cfg.AutoCloseAfter / (24 * time.Hour))}
	if d.Customer == "" {
		d.Customer = "客户"
	}
	if t.Number != "" && n.cfg.ConsoleURL != "" {
		d.TicketURL = strings.TrimRight(n.cfg.ConsoleURL, "/") + "/api/v1/tickets/" + t.Number
	}
	return d
}

func (n *Notifier) name(id string) string {
	if p, ok := n.cfg.People[id]; ok && p.Name != "" {
		return p.Name
	}
	return id
}

// Change queues the notifications the change calls for.
func (n *Notifier) Change(ctx context.Context, c *ticketing.Change) error {
	t := c.After
	var jobs []ticketing.JobSpec
	add := func(j ticketing.JobSpec, err error) {
		if err != nil {
			n.cfg.Log.Warn("notification not queued", "ticket", t.Number, "error", err)
			return
		}
		jobs = append(jobs, j)
	}
	mail := func(tmpl string, d Data, to []string) {
		if len(to) == 0 {
			return
		}
		subj, text, err := n.Render(tmpl, d)
		if err != nil {
			add(ticketing.JobSpec{}, err)
			return
		}
		add(channels.MailJob(t.ID, channels.OutboundMail{Purpose: "notify", To: to, Subject: subj, Text: text,
			AutoSubmitted: "auto-generated"}, ""))
	}
	robots := func(tmpl string, d Data) {
		subj, text, err := n.Render(tmpl, d)
		if err != nil {
			add(ticketing.JobSpec{}, err)
			return
		}
		for _, v := range n.cfg.Robots {
			add(RobotJob(t.ID, RobotMessage{Vendor: v, Title: subj, Text: text}))
		}
	}
	customer := []string{}
	if t.Caller.Email != "" {
		customer = append(customer, t.Caller.Email)
	}
	for _, e := range c.Events {
		switch e.Type {
		case ticketing.EventAssigned:
			var a struct{ To string }
			if json.Unmarshal(e.Data, &a) != nil || a.To == "" {
				continue
			}
			d := n.data(t)
			d.AssigneeName = n.name(a.To)
			mail(config.TemplateAgentAssigned, d, n.emails(a.To))
			// At creation the customer hears from the channel's
			// acknowledgement; one mail is enough.
			if !c.Opened() {
				mail(config.TemplateCustomerAssigned, d, customer)
			}
		case ticketing.EventStatusChanged:
			var s struct{ To ticketing.Status }
			if json.Unmarshal(e.Data, &s) != nil {
				continue
			}
			switch s.To {
			case ticketing.StatusResolved:
				d := n.data(t)
				if n.cfg.Links != nil && t.ResolvedAt != nil && t.ID != 0 {
					d.ConfirmURL = strings.TrimRight(n.cfg.ConsoleURL, "/") + "/confirm/" + n.cfg.Links.Token(t.ID, *t.ResolvedAt, c.Now)
				}
				mail(config.TemplateCustomerResolved, d, customer)
			case ticketing.StatusClosed:
				d := n.data(t)
				if t.ConfirmedAt == nil {
					d.Note = "（未收到您的确认，工单已自动关闭；如问题仍存在，请直接回复本邮件。）"
				}
				mail(config.TemplateCustomerClosed, d, customer)
			}
		case sla.EventWarning:
			st, err := sla.ReadStep(e)
			if err != nil {
				continue
			}
			d := n.data(t)
			d.Clock, d.Due, d.Percent = clockName(st.Clock), n.when(&st.Due), st.Percent
			mail(config.TemplateSLAWarning, d, n.emails(t.Assignee))
			robots(config.TemplateSLAWarning, d)
		case sla.EventEscalated:
			st, err := sla.ReadStep(e)
			if err != nil {
				continue
			}
			d := n.data(t)
			d.Clock = clockName(st.Clock)
			for _, b := range c.Events {
				if b.Type == sla.EventBreached {
					if bs, err := sla.ReadStep(b); err == nil && bs.Clock == st.Clock {
						d.Due = n.when(&bs.Due)
					}
				}
			}
			// 逐级向上: each tier reached tells one more step of the list.
			up := n.cfg.Escalation[:min(len(n.cfg.Escalation), max(st.ToTier-1, 1))]
			var to []string
			for _, id := range append(append([]string{}, up...), n.cfg.Managers...) {
				to = appendNew(to, n.emails(id)...)
			}
			mail(config.TemplateSLABreach, d, to)
			robots(config.TemplateSLABreach, d)
		}
	}
	c.Jobs = append(c.Jobs, jobs...)
	return nil
}

func clockName(clock string) string {
	if clock == sla.Response {
		return "响应"
	}
	return "解决"
}

func (n *Notifier) emails(ids ...string) []string {
	var out []string
	for _, id := range ids {
		if p, ok := n.cfg.People[id]; ok && p.Email != "" {
			out = appendNew(out, p.Email)
		}
	}
	return out
}

func appendNew(xs []string, add ...string) []string {
	for _, a := range add {
		dup := false
		for _, x := range xs {
			dup = dup || x == a
		}
		if !dup {
			xs = append(xs, a)
		}
	}
	return xs
}
