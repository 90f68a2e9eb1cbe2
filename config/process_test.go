package config

import (
	"strings"
	"testing"
)

func TestValidateProcessKeys(t *testing.T) {
	cases := []struct {
		name string
		edit func(c *Config)
		want string
	}{
		{"matrix value", func(c *Config) { c.Priority.Matrix["high"]["high"] = "P0" }, `priority.matrix.high.high: "P0": want P1, P2, P3 or P4`},
		{"matrix level", func(c *Config) { c.Priority.Matrix["huge"] = map[string]string{"high": "P1"} }, `priority.matrix.huge: unknown impact "huge"`},
		{"default priority", func(c *Config) { c.Priority.Default = "urgent" }, `priority.default: "urgent"`},
		{"public holidays", func(c *Config) {
			c.Calendars = map[string]Calendar{"office": {Days: "mon-fri", Hours: "09:00-17:00", PublicHolidays: "us"}}
		}, `calendars.office.public_holidays: "us": want cn or none`},
		{"group agent", func(c *Config) { c.Routing.Groups = []Group{{Name: "一线", Agents: []string{"nobody"}}} }, `routing.groups[0].agents[0]: no agent with id "nobody"`},
		{"group tier", func(c *Config) { c.Routing.Groups = []Group{{Name: "一线", Tier: 4}} }, `routing.groups[0].tier: 4: want 1, 2 or 3`},
		{"rule group", func(c *Config) { c.Routing.Rules = []Rule{{Group: "二线"}} }, `routing.rules[0].group: no group "二线"`},
		{"rule decides nothing", func(c *Config) { c.Routing.Rules = []Rule{{Keywords: []string{"宕机"}}} }, `routing.rules[0]: the rule decides nothing`},
		{"rule impact alone", func(c *Config) { c.Routing.Rules = []Rule{{Impact: "high"}} }, `routing.rules[0].impact: give impact and urgency together`},
		{"rule channel", func(c *Config) { c.Routing.Rules = []Rule{{Channels: []string{"sms"}, Kind: "incident"}} }, `routing.rules[0].channels[0]: "sms"`},
		{"warn at", func(c *Config) { c.Workflow.WarnAt = 100 }, `workflow.warn_at: 100: want a percentage between 1 and 99`},
		{"auto close", func(c *Config) { c.Workflow.AutoCloseAfter = 0 }, `workflow.auto_close_after: must be more than 0`},
		{"template", func(c *Config) {
			c.Notify.Templates[TemplateSLABreach] = Template{Subject: "{{.Number", Text: "x"}
		}, `notify.templates.sla_breach.subject:`},
		{"unknown template", func(c *Config) { c.Notify.Templates["birthday"] = Template{Subject: "x", Text: "y"} }, `notify.templates.birthday: unknown template`},
		{"managers", func(c *Config) { c.Notify.Managers = []string{"boss"} }, `notify.managers[0]: no agent with id "boss"`},
		{"weekly day", func(c *Config) { c.Reports.Weekly.Day = "mon-fri" }, `reports.weekly.day: "mon-fri": want one day`},
		{"weekly at", func(c *Config) { c.Reports.Weekly.At = "8am" }, `reports.weekly.at: "8am": want HH:MM`},
		{"weekly to", func(c *Config) { c.Reports.Weekly.To = []string{"nobody"} }, `reports.weekly.to[0]: "nobody" is neither an agent id nor an e-mail address`},
	}
	for _, tc := range cases {
		c := Default()
		tc.edit(c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	if err := Default().Validate(); err != nil {
		t.Fatalf("the defaults do not validate: %v", err)
	}
}

func TestTemplatesMergeWithDefaults(t *testing.T) {
	c, err := Parse([]byte("notify:\n  templates:\n    customer_closed: {subject: \"已关闭 {{.Number}}\"}\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := c.Notify.Templates[TemplateCustomerClosed]
	if got.Subject != "已关闭 {{.Number}}" || got.Text != DefaultTemplates()[TemplateCustomerClosed].Text {
		t.Errorf("customer_closed %+v", got)
	}
	if c.Notify.Templates[TemplateSLABreach] != DefaultTemplates()[TemplateSLABreach] {
		t.Error("a template left out lost its default")
	}
}
