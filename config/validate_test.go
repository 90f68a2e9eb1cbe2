package config

import (
	"strings"
	"testing"
	"time"
)

func TestValidateAllProblemsAtOnce(t *testing.T) {
	c, err := Load("testdata/bad_values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	err = c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	want := []string{
		`desk.addresses[0]: "servicedesk" is not a bare e-mail address`,
		`desk.ticket_prefix: "hl": want 1 to 10 capital letters`,
		`desk.timezone: unknown time zone "Asia/Shangai"`,
		`sip.ring_seconds: must be more than 0`,
		`sip.strategy: "round_robin": want ring_all or hunt`,
		`sip.trunks[0].allow[1]: "203.0.113.0/33" is not an address or a CIDR prefix`,
		`sip.trunks[0].allow[2]: "carrier.example.com" is not an address or a CIDR prefix`,
		`ari.menu.12: the key "12" is not one DTMF digit`,
		`ari.menu.9: "sales": want one of incident, service_request, complaint, inquiry, operator`,
		`agents[1].id: "zhang" is used by another agent`,
		`agents[2].mobile: e164: parse "123": too short (3 digits)`,
		`agents[2].tier: 4: want 1, 2 or 3`,
		`escalation[0]: no agent with id "wang"`,
		`shifts[0].days: bad days "mon-fry": "fry" is not a day`,
		`shifts[0].to: bad time "25:00"`,
		`shifts[0].agents[1]: no agent with id "nobody"`,
		`calendars.office.hours: bad hours "17:00-09:00": the end must be after the start`,
		`calendars.office.holidays[1]: "2026-13-01": want a date YYYY-MM-DD`,
		`calendars.office.workdays[0]: 2026-10-01 is a holiday too`,
		`sla.P1.response: 5h is longer than resolve (4h)`,
		`sla.P2.calendar: no calendar "weekdays"`,
		`sla.P5: unknown priority "P5"`,
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("missing %q", w)
		}
	}
	if n := len(strings.Split(msg, "\n")); n != len(want) {
		t.Errorf("%d problems, want %d:\n%s", n, len(want), msg)
	}
	// The good mobile was still normalized.
	if c.Agents[0].Mobile != "+8613800138000" {
		t.Errorf("mobile %q", c.Agents[0].Mobile)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		want   string // "" means valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"empty name", func(c *Config) { c.Desk.Name = " " }, "desk.name: must not be empty"},
		{"hotline forms", func(c *Config) { c.Desk.Hotline = "400-116-0016" }, ""},
		{"bad hotline", func(c *Config) { c.Desk.Hotline = "hotline" }, `desk.hotline: e164: parse "hotline": no digits`},
		{"no addresses", func(c *Config) { c.Desk.Addresses = nil }, "desk.addresses: at least one address"},
		{"display name", func(c *Config) { c.Desk.Addresses = []string{"Desk <desk@example.com>"} }, "desk.addresses[0]: "},
		{"duplicate address", func(c *Config) { c.Desk.Addresses = []string{"a@example.com", "A@example.com"} }, `desk.addresses[1]: "A@example.com" is listed twice`},
		{"prefix too long", func(c *Config) { c.Desk.TicketPrefix = "ABCDEFGHIJK" }, "desk.ticket_prefix: "},
		{"prefix ok", func(c *Config) { c.Desk.TicketPrefix = "IT2" }, ""},
		{"prefix digit first", func(c *Config) { c.Desk.TicketPrefix = "2IT" }, "desk.ticket_prefix: "},
		{"no timezone", func(c *Config) { c.Desk.Timezone = "" }, "desk.timezone: must not be empty"},
		{"UTC", func(c *Config) { c.Desk.Timezone = "UTC" }, ""},
		{"console url", func(c *Config) { c.Desk.ConsoleURL = "desk.example.com" }, "desk.console_url: "},
		{"postgres", func(c *Config) { c.Store.URL = "postgres://hotline@127.0.0.1/test" }, ""},
		{"store url hides password", func(c *Config) { c.Store.URL = "mysql://u:hunter2@db/x" }, `store.url: "mysql://u:xxxxx@db/x": want postgres://`},
		{"listen off", func(c *Config) { c.HTTP.Listen = "off"; c.SMTP.Listen = Off; c.SIP.Listen = "off" }, ""},
		{"listen ipv6", func(c *Config) { c.SIP.Listen = "[::1]:5060" }, ""},
		{"listen any", func(c *Config) { c.HTTP.Listen = ":8080" }, ""},
		{"listen empty", func(c *Config) { c.HTTP.Listen = "" }, "http.listen: empty; give host:port, or off to disable"},
		{"listen no port", func(c *Config) { c.SMTP.Listen = "127.0.0.1" }, `smtp.listen: "127.0.0.1": want host:port (or off to disable)`},
		{"listen bad port", func(c *Config) { c.SIP.Listen = "127.0.0.1:70000" }, `sip.listen: "127.0.0.1:70000": bad port "70000"`},
		{"smtp hostname", func(c *Config) { c.SMTP.Hostname = "" }, "smtp.hostname: "},
		{"smtp size", func(c *Config) { c.SMTP.MaxMessageBytes = 0 }, "smtp.max_message_bytes: must be more than 0"},
		{"smtp rcpts", func(c *Config) { c.SMTP.MaxRecipients = -1 }, "smtp.max_recipients: must be more than 0"},
		{"relay", func(c *Config) { c.Mail.Relay = "smtp.example.com:587" }, ""},
		{"relay no port", func(c *Config) { c.Mail.Relay = "smtp.example.com" }, "mail.relay: "},
		{"from", func(c *Config) { c.Mail.From = "nobody" }, "mail.from: "},
		{"mobile ring", func(c *Config) { c.SIP.MobileRingSeconds = 0 }, "sip.mobile_ring_seconds: must be more than 0"},
		{"hunt", func(c *Config) { c.SIP.Strategy = "hunt" }, ""},
		{"trunk ok", func(c *Config) {
			c.SIP.Trunks = []Trunk{{Name: "carrier", Address: "sbc.example.com", Allow: []string{"10.0.0.0/8", "::1"}}}
		}, ""},
		{"trunk no name", func(c *Config) { c.SIP.Trunks = []Trunk{{Address: "1.2.3.4:5060"}} }, "sip.trunks[0].name: must not be empty"},
		{"trunk twice", func(c *Config) {
			c.SIP.Trunks = []Trunk{{Name: "a", Address: "1.2.3.4"}, {Name: "a", Address: "1.2.3.5"}}
		}, `sip.trunks[1].name: "a" is used by another trunk`},
		{"trunk address", func(c *Config) { c.SIP.Trunks = []Trunk{{Name: "a", Address: "1.2.3.4:x"}} }, "sip.trunks[0].address: "},
		{"trunk no address", func(c *Config) { c.SIP.Trunks = []Trunk{{Name: "a"}} }, "sip.trunks[0].address: must not be empty"},
		{"ari on", func(c *Config) { c.ARI.URL = "http://127.0.0.1:8088/ari" }, ""},
		{"ari url", func(c *Config) { c.ARI.URL = "127.0.0.1:8088" }, "ari.url: "},
		{"ari url hides password", func(c *Config) { c.ARI.URL = "ftp://u:hunter2@h/ari" }, `ari.url: "ftp://u:xxxxx@h/ari"`},
		{"ari user", func(c *Config) { c.ARI.URL = "http://h/ari"; c.ARI.User = "" }, "ari.user: must not be empty when ari.url is set"},
		{"ari password env", func(c *Config) { c.ARI.PasswordEnv = "ARI PASSWORD" }, `ari.password_env: "ARI PASSWORD" is not an environment variable name`},
		{"agent endpoint", func(c *Config) { c.ARI.AgentEndpoint = "PJSIP/agent" }, "ari.agent_endpoint: "},
		{"mobile endpoint", func(c *Config) { c.ARI.MobileEndpoint = "PJSIP/x@carrier" }, "ari.mobile_endpoint: "},
		{"menu star", func(c *Config) { c.ARI.Menu["*"] = "inquiry" }, ""},
		{"menu letter", func(c *Config) { c.ARI.Menu["a"] = "inquiry" }, `ari.menu.a: the key "a" is not one DTMF digit`},
		{"fax senders", func(c *Config) { c.Fax.Senders = []string{"fax@provider.example", "@fax.example.com"} }, ""},
		{"fax sender", func(c *Config) { c.Fax.Senders = []string{"provider"} }, "fax.senders[0]: "},
		{"agent ok", func(c *Config) {
			c.Agents = []Agent{{ID: "zhang", SIPUser: "zhang", SIPPasswordEnv: "HOTLINE_SIP_ZHANG", Mobile: "+86 138 0013 8000", Email: "zhang@example.com", Tier: 3}}
		}, ""},
		{"agent no id", func(c *Config) { c.Agents = []Agent{{Name: "张工"}} }, "agents[0].id: must not be empty"},
		{"agent id space", func(c *Config) { c.Agents = []Agent{{ID: "zhang gong"}} }, "agents[0].id: "},
		{"agent sip user twice", func(c *Config) {
			c.Agents = []Agent{{ID: "a", SIPUser: "x", SIPPassword: "p"}, {ID: "b", SIPUser: "x", SIPPassword: "q"}}
		}, `agents[1].sip_user: "x" is used by agent "a" too`},
		{"agent no password", func(c *Config) { c.Agents = []Agent{{ID: "a", SIPUser: "a"}} }, "agents[0].sip_password_env: a softphone (sip_user) needs"},
		{"agent behind Asterisk needs no password", func(c *Config) {
			c.SIP.Listen = Off
			c.Agents = []Agent{{ID: "a", SIPUser: "a"}}
		}, ""},
		{"agent both passwords", func(c *Config) { c.Agents = []Agent{{ID: "a", SIPUser: "a", SIPPassword: "p", SIPPasswordEnv: "P"}} }, "agents[0].sip_password: set sip_password or sip_password_env, not both"},
		{"agent mobile", func(c *Config) { c.Agents = []Agent{{ID: "a", Mobile: "anonymous"}} }, `agents[0].mobile: e164: parse "anonymous": no digits`},
		{"agent email", func(c *Config) { c.Agents = []Agent{{ID: "a", Email: "a"}} }, "agents[0].email: "},
		{"agent tier", func(c *Config) { c.Agents = []Agent{{ID: "a", Tier: -1}} }, "agents[0].tier: -1: want 1, 2 or 3"},
		{"escalation twice", func(c *Config) { c.Agents = []Agent{{ID: "a"}}; c.Escalation = []string{"a", "a"} }, `escalation[1]: "a" is listed twice`},
		{"shift ok", func(c *Config) {
			c.Agents = []Agent{{ID: "a"}}
			c.Shifts = []Shift{{Name: "night", Days: "daily", From: "17:30", To: "08:30", Agents: []string{"a"}}, {Days: "sat,sun", From: "00:00", To: "24:00", Agents: []string{"a"}}}
		}, ""},
		{"shift equal ends", func(c *Config) {
			c.Agents = []Agent{{ID: "a"}}
			c.Shifts = []Shift{{Days: "daily", From: "08:00", To: "08:00", Agents: []string{"a"}}}
		}, "shifts[0].to: same as from"},
		{"shift from 24:00", func(c *Config) {
			c.Agents = []Agent{{ID: "a"}}
			c.Shifts = []Shift{{Days: "daily", From: "24:00", To: "08:00", Agents: []string{"a"}}}
		}, "shifts[0].from: a shift cannot start at 24:00"},
		{"shift no days", func(c *Config) {
			c.Agents = []Agent{{ID: "a"}}
			c.Shifts = []Shift{{From: "08:00", To: "17:00", Agents: []string{"a"}}}
		}, "shifts[0].days: no days given"},
		{"shift no agents", func(c *Config) { c.Shifts = []Shift{{Days: "mon-fri", From: "08:00", To: "17:00"}} }, "shifts[0].agents: no agents on this shift"},
		{"shift names", func(c *Config) {
			c.Agents = []Agent{{ID: "a"}}
			c.Shifts = []Shift{{Name: "d", Days: "mon", From: "08:00", To: "17:00", Agents: []string{"a"}}, {Name: "d", Days: "tue", From: "08:00", To: "17:00", Agents: []string{"a"}}}
		}, `shifts[1].name: "d" is used by another shift`},
		{"calendar 24x7", func(c *Config) {
			c.Calendars = map[string]Calendar{"24x7": {Days: "daily", Hours: "00:00-24:00"}}
		}, `calendars.24x7: "24x7" is built in`},
		{"calendar missing days", func(c *Config) {
			c.Calendars = map[string]Calendar{"office": {Hours: "09:00-17:00"}}
		}, "calendars.office.days: no days given"},
		{"calendar missing hours", func(c *Config) {
			c.Calendars = map[string]Calendar{"office": {Days: "mon-fri"}}
		}, `calendars.office.hours: bad hours ""`},
		{"sla on office", func(c *Config) {
			c.Calendars = map[string]Calendar{"office": {Days: "mon-fri", Hours: "09:00-17:00"}}
			c.SLA["P3"] = SLA{Duration(time.Hour), Duration(27 * time.Hour), "office"}
		}, ""},
		{"sla zero", func(c *Config) { c.SLA["P4"] = SLA{} }, "sla.P4.response: must be more than 0"},
		{"sla missing", func(c *Config) { delete(c.SLA, "P3") }, "sla.P3: missing: every priority needs its targets"},
		{"sla calendar empty means 24x7", func(c *Config) { c.SLA["P4"] = SLA{Duration(time.Hour), Duration(time.Hour), ""} }, ""},
		{"sla lower case", func(c *Config) { c.SLA["p1"] = c.SLA["P1"] }, `sla.p1: unknown priority "p1"`},
		{"webhook env", func(c *Config) { c.Notify.WeCom.WebhookURLEnv = "https://qyapi.weixin.qq.com/x" }, "notify.wecom.webhook_url_env: "},
		{"webhook secret only", func(c *Config) { c.Notify.DingTalk.SecretEnv = "S" }, "notify.dingtalk.webhook_url_env: a secret without a webhook URL"},
		{"webhooks ok", func(c *Config) {
			c.Notify.Feishu = Webhook{WebhookURLEnv: "HOTLINE_FEISHU_URL", SecretEnv: "HOTLINE_FEISHU_SECRET"}
		}, ""},
	}
	for _, tt := range tests {
		c := Default()
		tt.change(c)
		err := c.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && err == nil:
			t.Errorf("%s: no error, want %q", tt.name, tt.want)
		case tt.want != "" && !strings.Contains(err.Error(), tt.want):
			t.Errorf("%s: error\n%v\nwant\n%s", tt.name, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: a password in the error: %v", tt.name, err)
		}
	}
}

func TestValidateCanonicalForms(t *testing.T) {
	c := Default()
	c.Agents = []Agent{{ID: "a", Mobile: "0086-138-0013-8000"}, {ID: "b", Mobile: "013900139000", Tier: 2}}
	c.SLA["P2"] = SLA{Response: Duration(time.Hour), Resolve: Duration(2 * time.Hour)}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Agents[0].Mobile != "+8613800138000" || c.Agents[1].Mobile != "+8613900139000" {
		t.Errorf("mobiles %q %q", c.Agents[0].Mobile, c.Agents[1].Mobile)
	}
	if c.Agents[0].Tier != 1 || c.Agents[1].Tier != 2 {
		t.Errorf("tiers %d %d", c.Agents[0].Tier, c.Agents[1].Tier)
	}
	if c.SLA["P2"].Calendar != Calendar24x7 {
		t.Errorf("P2 calendar %q", c.SLA["P2"].Calendar)
	}
	// Validating again changes nothing.
	before := c.String()
	if err := c.Validate(); err != nil || c.String() != before {
		t.Errorf("second Validate: %v", err)
	}
}

func TestParseDays(t *testing.T) {
	const (
		su = 1 << time.Sunday
		mo = 1 << time.Monday
		tu = 1 << time.Tuesday
		we = 1 << time.Wednesday
		th = 1 << time.Thursday
		fr = 1 << time.Friday
		sa = 1 << time.Saturday
	)
	tests := []struct {
		in   string
		want int // bit set by weekday
	}{
		{"mon-fri", mo | tu | we | th | fr},
		{"mon-sun", mo | tu | we | th | fr | sa | su},
		{"daily", mo | tu | we | th | fr | sa | su},
		{"DAILY", mo | tu | we | th | fr | sa | su},
		{"sat,sun", sa | su},
		{"sat, sun", sa | su},
		{"mon,wed,fri", mo | we | fr},
		{"Mon-Wed,Fri", mo | tu | we | fr},
		{"fri-mon", fr | sa | su | mo},
		{"sun", su},
		{"monday-friday", mo | tu | we | th | fr},
		{"sat-sat", sa},
	}
	for _, tt := range tests {
		got, err := ParseDays(tt.in)
		if err != nil {
			t.Errorf("ParseDays(%q): %v", tt.in, err)
			continue
		}
		bits := 0
		for d, on := range got {
			if on {
				bits |= 1 << d
			}
		}
		if bits != tt.want {
			t.Errorf("ParseDays(%q) = %v", tt.in, got)
		}
	}
	for _, bad := range []string{"", "weekdays", "mon-", "mon,,fri", "mon-fri-sat", "周一", "1-5"} {
		if _, err := ParseDays(bad); err == nil {
			t.Errorf("ParseDays(%q) accepted", bad)
		}
	}
	_, err := ParseDays("mon-fry")
	if err == nil || err.Error() != `bad days "mon-fry": "fry" is not a day (mon, tue, … sun)` {
		t.Errorf("error %v", err)
	}
}

func TestParseClock(t *testing.T) {
	tests := []struct {
		in   string
		h, m int
	}{
		{"08:30", 8, 30}, {"8:30", 8, 30}, {"00:00", 0, 0}, {"23:59", 23, 59}, {"24:00", 24, 0}, {" 17:30 ", 17, 30},
	}
	for _, tt := range tests {
		h, m, err := ParseClock(tt.in)
		if err != nil || h != tt.h || m != tt.m {
			t.Errorf("ParseClock(%q) = %d, %d, %v", tt.in, h, m, err)
		}
	}
	for _, bad := range []string{"", "8", "0830", "8:3", "24:01", "25:00", "12:60", "-1:00", "+1:00", "08:30:00", "ab:cd", "１２:00"} {
		if _, _, err := ParseClock(bad); err == nil {
			t.Errorf("ParseClock(%q) accepted", bad)
		}
	}
	if _, _, err := ParseClock("25:00"); err == nil || err.Error() != `bad time "25:00": want HH:MM, 00:00 to 24:00` {
		t.Errorf("error %v", err)
	}
}

func TestParseHours(t *testing.T) {
	from, to, err := ParseHours("09:00-17:30")
	if err != nil || from != 9*time.Hour || to != 17*time.Hour+30*time.Minute {
		t.Errorf("got %v %v %v", from, to, err)
	}
	if _, to, err := ParseHours("00:00-24:00"); err != nil || to != 24*time.Hour {
		t.Errorf("whole day: %v %v", to, err)
	}
	for _, bad := range []string{"", "09:00", "17:00-09:00", "09:00-09:00", "24:00-24:00", "9-17", "09:00-25:00"} {
		if _, _, err := ParseHours(bad); err == nil {
			t.Errorf("ParseHours(%q) accepted", bad)
		}
	}
}

func TestDeskLocation(t *testing.T) {
	d := Default().Desk
	loc := d.Location()
	if loc.String() != "Asia/Shanghai" {
		t.Fatalf("location %v", loc)
	}
	at := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC).In(loc)
	if _, off := at.Zone(); off != 8*3600 {
		t.Errorf("offset %d", off)
	}
	d.Timezone = "Mars/Olympus"
	if d.Location() != time.UTC {
		t.Error("a bad time zone is not UTC")
	}
}
