package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"text/template"
)

// Priority is the ITIL impact × urgency matrix that sets a ticket's
// priority when neither the contact nor an agent set it.
type Priority struct {
	// Default is the priority of a ticket no rule or matrix decides.
	Default string `yaml:"default"`
	// Matrix maps impact, then urgency (high, medium, low) to P1..P4.
	Matrix map[string]map[string]string `yaml:"matrix"`
}

// Levels are the impact and urgency levels of the matrix.
var Levels = []string{"high", "medium", "low"}

func defaultPriority() Priority {
	return Priority{Default: "P3", Matrix: map[string]map[string]string{
		"high":   {"high": "P1", "medium": "P2", "low": "P3"},
		"medium": {"high": "P2", "medium": "P3", "low": "P4"},
		"low":    {"high": "P3", "medium": "P4", "low": "P4"},
	}}
}

// Routing is how new tickets find their group and assignee (判断并分派).
type Routing struct {
	// Groups are the support tiers: escalation moves a ticket to the
	// group of the next tier.
	Groups []Group `yaml:"groups"`
	// Rules are tried in order; the first that matches decides.
	Rules []Rule `yaml:"rules"`
}

type Group struct {
	Name string `yaml:"name"`
	Tier int    `yaml:"tier"`
	// Agents are agent ids in the order tickets are given to them (the
	// first one on duty).
	Agents []string `yaml:"agents"`
}

// Rule matches a new ticket; every condition given must hold.
type Rule struct {
	Channels []string `yaml:"channels"`
	Kinds    []string `yaml:"kinds"`
	// Keywords match the subject or description (any of them, case
	// insensitive).
	Keywords      []string `yaml:"keywords"`
	Organizations []string `yaml:"organizations"`
	// Then: the group, an assignee (else the group's first agent on
	// duty), and the impact and urgency that give the priority.
	Group    string `yaml:"group"`
	Assignee string `yaml:"assignee"`
	Kind     string `yaml:"kind"`
	Impact   string `yaml:"impact"`
	Urgency  string `yaml:"urgency"`
}

// Workflow holds the process's timings.
type Workflow struct {
	// WarnAt is the share of an SLA target, in percent, at which the
	// assignee is warned. Default: 75
	WarnAt int `yaml:"warn_at"`
	// AutoCloseAfter is how long (calendar time) a resolved ticket waits
	// for the customer's confirmation before it closes by itself.
	AutoCloseAfter Duration `yaml:"auto_close_after"`
	// ConfirmLinkTTL is how long the confirmation link in the resolution
	// mail works.
	ConfirmLinkTTL Duration `yaml:"confirm_link_ttl"`
	// KnowledgeOnClose makes a knowledge-base article of every closed
	// ticket.
	KnowledgeOnClose bool `yaml:"knowledge_on_close"`
}

// Reports configures the scheduled reports.
type Reports struct {
	Weekly WeeklyReport `yaml:"weekly"`
}

// WeeklyReport is mailed every week, covering the seven days before.
type WeeklyReport struct {
	// Day and At are when, in desk.timezone.
	Day string `yaml:"day"`
	At  string `yaml:"at"`
	// To are addresses or agent ids; empty: notify.managers.
	To []string `yaml:"to"`
}

// Template is one notification's subject and text.
type Template struct {
	Subject string `yaml:"subject"`
	Text    string `yaml:"text"`
}

// Notification template names.
const (
	TemplateCustomerAssigned = "customer_assigned"
	TemplateCustomerResolved = "customer_resolved"
	TemplateCustomerClosed   = "customer_closed"
	TemplateAgentAssigned    = "agent_assigned"
	TemplateSLAWarning       = "sla_warning"
	TemplateSLABreach        = "sla_breach"
	TemplateWeeklyReport     = "weekly_report"
)

// DefaultTemplates are the built-in texts, in Chinese.
func DefaultTemplates() map[string]Template {
	return map[string]Template{
		TemplateCustomerAssigned: {
			Subject: "您的服务请求已受理：{{.Subject}}",
			Text: "{{.Customer}}，您好：\n\n您的服务请求（工单 {{.Number}}）已分派给{{.AssigneeName}}处理，优先级 {{.Priority}}。\n" +
				"我们将在 {{.ResponseDue}} 前响应，{{.ResolveDue}} 前解决。\n\n{{.Desk}}\n",
		},
		TemplateCustomerResolved: {
			Subject: "请确认问题是否已解决：{{.Subject}}",
			Text: "{{.Customer}}，您好：\n\n您的工单 {{.Number}} 已处理完毕。\n处理结果：{{.Resolution}}\n\n" +
				"如问题已解决，请直接回复本邮件“确认”，或打开以下链接确认：\n{{.ConfirmURL}}\n" +
				"如问题仍存在，请回复“未解决”，我们会继续处理。\n" +
				"{{.AutoCloseDays}} 天内未收到您的答复，工单将自动关闭。\n\n{{.Desk}}\n",
		},
		TemplateCustomerClosed: {
			Subject: "工单已关闭：{{.Subject}}",
			Text:    "{{.Customer}}，您好：\n\n您的工单 {{.Number}} 已关闭。{{.Note}}\n感谢您的支持！\n\n{{.Desk}}\n",
		},
		TemplateAgentAssigned: {
			Subject: "新工单分派给您：{{.Subject}}",
			Text: "{{.AssigneeName}}：\n\n工单 {{.Number}}（{{.Priority}}，第 {{.Tier}} 线，{{.Group}}）已分派给您。\n" +
				"客户：{{.Customer}} {{.Organization}}\n响应时限：{{.ResponseDue}}\n解决时限：{{.ResolveDue}}\n{{.TicketURL}}\n",
		},
		TemplateSLAWarning: {
			Subject: "SLA 预警：{{.Number}} {{.Clock}}时限将到",
			Text: "工单 {{.Number}}（{{.Priority}}）{{.Subject}}\n已用去{{.Clock}}时限的 {{.Percent}}%，时限 {{.Due}}。\n" +
				"处理人：{{.AssigneeName}}\n{{.TicketURL}}\n",
		},
		TemplateSLABreach: {
			Subject: "SLA 超时升级：{{.Number}} 已升级到第 {{.Tier}} 线",
			Text: "工单 {{.Number}}（{{.Priority}}）{{.Subject}}\n{{.Clock}}时限 {{.Due}} 已超时，" +
				"已升级到第 {{.Tier}} 线（{{.Group}}），处理人：{{.AssigneeName}}。\n客户：{{.Customer}} {{.Organization}}\n{{.TicketURL}}\n",
		},
		TemplateWeeklyReport: {
			Subject: "服务台周报 {{.From}} 至 {{.To}}",
			Text:    "{{.Desk}} {{.From}} 至 {{.To}} 的服务台报表：\n\n{{.Table}}\n",
		},
	}
}

var clockRE = regexp.MustCompile(`^([01]?\d|2[0-3]):[0-5]\d$`)

// validateProcess checks the process keys.
func (c *Config) validateProcess(v *validator, agents map[string]bool) {
	if !priorityRE.MatchString(c.Priority.Default) {
		v.add("priority.default", "%q: want P1, P2, P3 or P4", c.Priority.Default)
	}
	for _, impact := range sortedKeys(c.Priority.Matrix) {
		p := "priority.matrix." + impact
		if !slices.Contains(Levels, impact) {
			v.add(p, "unknown impact %q: want high, medium or low", impact)
		}
		for _, urgency := range sortedKeys(c.Priority.Matrix[impact]) {
			if !slices.Contains(Levels, urgency) {
				v.add(p+"."+urgency, "unknown urgency %q: want high, medium or low", urgency)
			}
			if val := c.Priority.Matrix[impact][urgency]; !priorityRE.MatchString(val) {
				v.add(p+"."+urgency, "%q: want P1, P2, P3 or P4", val)
			}
		}
	}
	for name, cal := range c.Calendars {
		if h := cal.PublicHolidays; h != "" && h != "cn" && h != "none" {
			v.add("calendars."+name+".public_holidays", "%q: want cn or none", h)
		}
	}
	groups := map[string]bool{}
	for i := range c.Routing.Groups {
		g := &c.Routing.Groups[i]
		p := fmt.Sprintf("routing.groups[%d]", i)
		switch {
		case g.Name == "":
			v.add(p+".name", "must not be empty")
		case groups[g.Name]:
			v.add(p+".name", "%q is used by another group", g.Name)
		}
		groups[g.Name] = true
		if g.Tier == 0 {
			g.Tier = 1
		}
		if g.Tier < 1 || g.Tier > 3 {
			v.add(p+".tier", "%d: want 1, 2 or 3", g.Tier)
		}
		v.agentList(p+".agents", g.Agents, agents)
	}
	for i, r := range c.Routing.Rules {
		p := fmt.Sprintf("routing.rules[%d]", i)
		for j, ch := range r.Channels {
			if !slices.Contains([]string{"phone", "email", "fax", "web"}, ch) {
				v.add(fmt.Sprintf("%s.channels[%d]", p, j), "%q: want phone, email, fax or web", ch)
			}
		}
		for j, k := range append(slices.Clone(r.Kinds), r.Kind) {
			if k == "" && j == len(r.Kinds) {
				continue
			}
			if !slices.Contains([]string{KindIncident, KindServiceRequest, KindComplaint, KindInquiry}, k) {
				v.add(p+".kinds", "%q: want incident, service_request, complaint or inquiry", k)
			}
		}
		if r.Group != "" && !groups[r.Group] {
			v.add(p+".group", "no group %q in routing.groups", r.Group)
		}
		if r.Assignee != "" && !agents[r.Assignee] {
			v.add(p+".assignee", "no agent with id %q", r.Assignee)
		}
		if (r.Impact == "") != (r.Urgency == "") {
			v.add(p+".impact", "give impact and urgency together")
		}
		for _, l := range []struct{ key, val string }{{"impact", r.Impact}, {"urgency", r.Urgency}} {
			if l.val != "" && !slices.Contains(Levels, l.val) {
				v.add(p+"."+l.key, "%q: want high, medium or low", l.val)
			}
		}
		if r.Group == "" && r.Assignee == "" && r.Impact == "" && r.Kind == "" {
			v.add(p, "the rule decides nothing: give group, assignee, kind or impact and urgency")
		}
	}
	if c.Workflow.WarnAt <= 0 || c.Workflow.WarnAt >= 100 {
		v.add("workflow.warn_at", "%d: want a percentage between 1 and 99", c.Workflow.WarnAt)
	}
	if c.Workflow.AutoCloseAfter <= 0 {
		v.add("workflow.auto_close_after", "must be more than 0")
	}
	if c.Workflow.ConfirmLinkTTL <= 0 {
		v.add("workflow.confirm_link_ttl", "must be more than 0")
	}
	v.agentList("notify.managers", c.Notify.Managers, agents)
	for _, name := range sortedKeys(c.Notify.Templates) {
		t := c.Notify.Templates[name]
		p := "notify.templates." + name
		if _, ok := DefaultTemplates()[name]; !ok {
			v.add(p, "unknown template %q", name)
			continue
		}
		for _, part := range []struct{ key, text string }{{"subject", t.Subject}, {"text", t.Text}} {
			if _, err := template.New(name).Parse(part.text); err != nil {
				v.add(p+"."+part.key, "%v", err)
			}
		}
	}
	if _, err := ParseDays(c.Reports.Weekly.Day); err != nil || strings.ContainsAny(c.Reports.Weekly.Day, ",-") {
		v.add("reports.weekly.day", "%q: want one day, e.g. mon", c.Reports.Weekly.Day)
	}
	if !clockRE.MatchString(c.Reports.Weekly.At) {
		v.add("reports.weekly.at", "%q: want HH:MM", c.Reports.Weekly.At)
	}
	for i, to := range c.Reports.Weekly.To {
		if !agents[to] && checkAddress(to) != nil {
			v.add(fmt.Sprintf("reports.weekly.to[%d]", i), "%q is neither an agent id nor an e-mail address", to)
		}
	}
}
