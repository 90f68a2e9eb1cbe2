package config

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestExampleFile(t *testing.T) {
	c, err := Load("../deploy/hotline.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("the example does not validate:\n%v", err)
	}
	if c.Desk.Name != "慧海联创服务台" || c.Desk.Hotline != "4001160016" || c.Desk.Addresses[0] != "servicedesk@example.com" {
		t.Errorf("desk = %+v", c.Desk)
	}
	if got := c.Desk.Location().String(); got != "Asia/Shanghai" {
		t.Errorf("location %s", got)
	}
	if len(c.Agents) != 3 {
		t.Fatalf("%d agents", len(c.Agents))
	}
	for _, a := range c.Agents {
		if !strings.HasPrefix(a.Mobile, "+861") || len(a.Mobile) != 14 {
			t.Errorf("agent %s: mobile %q not normalized", a.ID, a.Mobile)
		}
		if a.SIPPassword != "" || a.SIPPasswordEnv == "" {
			t.Errorf("agent %s: password must come from the environment", a.ID)
		}
	}
	if c.Agents[0].Mobile != "+8613800138001" {
		t.Errorf("zhang's mobile %q", c.Agents[0].Mobile)
	}
	if c.Agents[2].Tier != 2 {
		t.Errorf("wang's tier %d", c.Agents[2].Tier)
	}
	if len(c.Shifts) < 2 || c.Shifts[0].From != "08:30" || c.Shifts[1].From != "17:30" || c.Shifts[1].To != "08:30" {
		t.Errorf("shifts %+v", c.Shifts)
	}
	office, ok := c.Calendars["office"]
	if !ok || len(office.Holidays) != 7 || office.Holidays[0] != "2026-10-01" || office.Holidays[6] != "2026-10-07" ||
		!reflect.DeepEqual(office.Workdays, []string{"2026-10-10"}) {
		t.Errorf("office calendar %+v", office)
	}
	for _, p := range []string{"P1", "P2", "P3", "P4"} {
		if s := c.SLA[p]; s.Response <= 0 || s.Resolve <= 0 {
			t.Errorf("sla %s = %+v", p, s)
		}
	}
	if c.SLA["P1"].Calendar != Calendar24x7 || c.SLA["P2"].Calendar != "office" {
		t.Errorf("sla calendars %+v", c.SLA)
	}
	if c.Notify.DingTalk.SecretEnv == "" || c.Notify.WeCom.WebhookURLEnv == "" || c.Notify.Feishu.WebhookURLEnv == "" {
		t.Errorf("notify %+v", c.Notify)
	}
	if len(c.SIP.Trunks) != 1 {
		t.Fatalf("trunks %+v", c.SIP.Trunks)
	}
	if _, err := c.SIP.Trunks[0].AllowPrefixes(); err != nil {
		t.Error(err)
	}
	if len(c.Escalation) == 0 {
		t.Error("no escalation list")
	}
}

// TestExampleFileDocumentsEveryKey checks that the example writes every key
// of the Config struct, so that it documents them all.
func TestExampleFileDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile("../deploy/hotline.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	var visit func(reflect.Type, string)
	visit = func(typ reflect.Type, path string) {
		for name, f := range yamlFields(typ) {
			p := join(path, name)
			if !strings.Contains(string(data), name+":") {
				missing = append(missing, p)
			}
			ft := f.Type
			for ft.Kind() == reflect.Slice || ft.Kind() == reflect.Map {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				visit(ft, p)
			}
		}
	}
	visit(reflect.TypeFor[Config](), "")
	if len(missing) > 0 {
		t.Errorf("the example does not mention %v", missing)
	}
}

func TestEmptyFileGivesDefaults(t *testing.T) {
	for _, name := range []string{"testdata/empty.yaml", "testdata/comments.yaml"} {
		c, err := Load(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(c, Default()) {
			t.Errorf("%s: got\n%v\nwant\n%v", name, c, Default())
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, data := range []string{"", "---\n", "~\n", "null\n", "\n\n"} {
		c, err := Parse([]byte(data), "t.yaml")
		if err != nil || !reflect.DeepEqual(c, Default()) {
			t.Errorf("Parse(%q) = %v, %v; want the defaults", data, c, err)
		}
	}
}

func TestDefaults(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"desk.name", c.Desk.Name, "服务台"},
		{"desk.hotline", c.Desk.Hotline, ""},
		{"desk.addresses", c.Desk.Addresses, []string{"servicedesk@localhost"}},
		{"desk.ticket_prefix", c.Desk.TicketPrefix, "HL"},
		{"desk.timezone", c.Desk.Timezone, "Asia/Shanghai"},
		{"desk.console_url", c.Desk.ConsoleURL, "http://127.0.0.1:8080"},
		{"desk.reopen_window", c.Desk.ReopenWindow.Std(), 7 * 24 * time.Hour},
		{"store.url", c.Store.URL, ""},
		{"http.listen", c.HTTP.Listen, "127.0.0.1:8080"},
		{"smtp.listen", c.SMTP.Listen, "127.0.0.1:2525"},
		{"smtp.hostname", c.SMTP.Hostname, "localhost"},
		{"smtp.max_message_bytes", c.SMTP.MaxMessageBytes, int64(26214400)},
		{"smtp.max_recipients", c.SMTP.MaxRecipients, 50},
		{"mail.relay", c.Mail.Relay, ""},
		{"mail.from", c.Mail.From, "servicedesk@localhost"},
		{"mail.acknowledge", c.Mail.Acknowledge, true},
		{"sip.listen", c.SIP.Listen, "127.0.0.1:5060"},
		{"sip.ring_seconds", c.SIP.RingSeconds, 20},
		{"sip.mobile_ring_seconds", c.SIP.MobileRingSeconds, 30},
		{"sip.strategy", c.SIP.Strategy, "ring_all"},
		{"sip.trunks", len(c.SIP.Trunks), 0},
		{"ari.url", c.ARI.URL, ""},
		{"ari.user", c.ARI.User, "hotline"},
		{"ari.password_env", c.ARI.PasswordEnv, "HOTLINE_ARI_PASSWORD"},
		{"ari.app", c.ARI.App, "hotline"},
		{"ari.agent_endpoint", c.ARI.AgentEndpoint, "PJSIP/{sip_user}"},
		{"ari.mobile_endpoint", c.ARI.MobileEndpoint, "PJSIP/{number}@carrier"},
		{"ari.menu", c.ARI.Menu, map[string]string{"1": "incident", "2": "service_request", "3": "complaint", "0": "operator"}},
		{"fax.inbox", c.Fax.Inbox, ""},
		{"fax inbox dir", c.Fax.InboxDir("hotline-data"), filepath.Join("hotline-data", "fax-inbox")},
		{"agents", len(c.Agents), 0},
		{"shifts", len(c.Shifts), 0},
		{"escalation", len(c.Escalation), 0},
		{"sla", c.SLA, map[string]SLA{
			"P1": {Duration(15 * time.Minute), Duration(4 * time.Hour), "24x7"},
			"P2": {Duration(2 * time.Hour), Duration(8 * time.Hour), "24x7"},
			"P3": {Duration(8 * time.Hour), Duration(72 * time.Hour), "24x7"},
			"P4": {Duration(24 * time.Hour), Duration(120 * time.Hour), "24x7"},
		}},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	// Every call is a fresh value.
	Default().ARI.Menu["1"] = "complaint"
	Default().Desk.Addresses[0] = "x@y"
	if Default().ARI.Menu["1"] != "incident" || Default().Desk.Addresses[0] != "servicedesk@localhost" {
		t.Error("Default shares its maps or slices")
	}
}

func TestParseMinimal(t *testing.T) {
	c, err := Load("testdata/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Desk.Name != "青岛服务台" || c.Desk.TicketPrefix != "HL" {
		t.Errorf("desk %+v", c.Desk)
	}
	if c.Mail.From != "help@example.cn" {
		t.Errorf("mail.from = %q, want the first desk address", c.Mail.From)
	}
	if c.SIP.RingSeconds != 15 || c.SIP.MobileRingSeconds != 30 || c.SIP.Strategy != "hunt" || c.SIP.Listen != "127.0.0.1:5060" {
		t.Errorf("sip %+v", c.SIP)
	}
	if got := c.Agents[0]; got.Mobile != "+8613800138000" || got.Tier != 1 {
		t.Errorf("agent %+v: want the mobile in E.164 and tier 1", got)
	}
	want := SLA{Duration(time.Hour), Duration(8 * time.Hour), "24x7"}
	if c.SLA["P2"] != want || c.SLA["P1"] != Default().SLA["P1"] || len(c.SLA) != 4 {
		t.Errorf("sla %v: P2 want %v, others the defaults", c.SLA, want)
	}
}

func TestParseReplaceAndNull(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		check func(*Config) bool
	}{
		{"menu replaced as a whole", "ari:\n  menu: {1: incident, '#': operator}\n",
			func(c *Config) bool {
				return reflect.DeepEqual(c.ARI.Menu, map[string]string{"1": "incident", "#": "operator"})
			}},
		{"null menu keeps the default", "ari:\n  menu:\n",
			func(c *Config) bool { return reflect.DeepEqual(c.ARI.Menu, Default().ARI.Menu) }},
		{"null addresses keep the default", "desk:\n  addresses:\n",
			func(c *Config) bool { return reflect.DeepEqual(c.Desk.Addresses, Default().Desk.Addresses) }},
		{"null section keeps the default", "sip:\nsla:\n",
			func(c *Config) bool {
				return reflect.DeepEqual(c.SIP, Default().SIP) && reflect.DeepEqual(c.SLA, Default().SLA)
			}},
		{"empty list is empty", "desk:\n  addresses: []\n",
			func(c *Config) bool { return len(c.Desk.Addresses) == 0 && c.Mail.From == "" }},
		{"from set", "desk:\n  addresses: [a@example.com]\nmail:\n  from: b@example.com\n",
			func(c *Config) bool { return c.Mail.From == "b@example.com" }},
		{"sla entry null", "sla:\n  P3:\n",
			func(c *Config) bool { return c.SLA["P3"] == Default().SLA["P3"] }},
		{"sla calendar left out", "sla:\n  P1: {response: 10m, resolve: 2h}\n",
			func(c *Config) bool {
				return c.SLA["P1"].Calendar == "24x7" && c.SLA["P1"].Response.Std() == 10*time.Minute
			}},
		{"numbers as strings", "desk:\n  hotline: 4001160016\nagents:\n  - {id: a, mobile: 13800138000}\n",
			func(c *Config) bool { return c.Desk.Hotline == "4001160016" && c.Agents[0].Mobile == "13800138000" }},
		{"dates as strings", "calendars:\n  office: {days: mon-fri, hours: 09:00-17:00, holidays: [2026-10-01]}\n",
			func(c *Config) bool { return c.Calendars["office"].Holidays[0] == "2026-10-01" }},
		{"bare integer duration", "desk:\n  reopen_window: 3600\n",
			func(c *Config) bool { return c.Desk.ReopenWindow.Std() == time.Hour }},
		{"merge key", "sip:\n  <<: {ring_seconds: 5}\n  strategy: hunt\n",
			func(c *Config) bool { return c.SIP.RingSeconds == 5 && c.SIP.Strategy == "hunt" }},
		{"flow style", "http: {listen: off}\nsmtp: {listen: 0.0.0.0:25, hostname: desk.example.com}\n",
			func(c *Config) bool {
				return c.HTTP.Listen == "off" && c.SMTP.Listen == "0.0.0.0:25" && c.SMTP.MaxRecipients == 50
			}},
	}
	for _, tt := range tests {
		c, err := Parse([]byte(tt.yaml), "t.yaml")
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !tt.check(c) {
			t.Errorf("%s: got\n%v", tt.name, c)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // each must be in the error
	}{
		{"unknown top-level key", "desk:\n  name: x\nsipp:\n  listen: off\n",
			[]string{`config t.yaml: line 3: unknown key "sipp" at the top level (did you mean "sip"?)`}},
		{"unknown nested key", "sip:\n  listen: 127.0.0.1:5060\n  rign_seconds: 20\n",
			[]string{`config t.yaml: line 3: unknown key "rign_seconds" in sip (did you mean "ring_seconds"?)`}},
		{"unknown key in a list item", "agents:\n  - id: zhang\n  - id: li\n    mobil: '13800138000'\n",
			[]string{`line 4: unknown key "mobil" in agents[1] (did you mean "mobile"?)`}},
		{"unknown key in a map value", "sla:\n  P1: {response: 1h, reslove: 2h}\n",
			[]string{`unknown key "reslove" in sla.P1 (did you mean "resolve"?)`}},
		{"unknown key, no near match", "notify:\n  slack: {webhook_url_env: X}\n",
			[]string{`line 2: unknown key "slack" in notify`}},
		{"unknown key in a trunk", "sip:\n  trunks:\n    - {name: c, adress: 1.2.3.4}\n",
			[]string{`unknown key "adress" in sip.trunks[0] (did you mean "address"?)`}},
		{"unknown key in a merge", "sip:\n  <<: {rign_seconds: 5}\n",
			[]string{`unknown key "rign_seconds" in sip`}},
		{"duplicate key", "sip:\n  ring_seconds: 20\n  ring_seconds: 30\n",
			[]string{`line 3: duplicate key "ring_seconds" in sip (first at line 2)`}},
		{"duplicate top-level key", "desk: {name: a}\ndesk: {name: b}\n",
			[]string{`line 2: duplicate key "desk" at the top level (first at line 1)`}},
		{"duplicate map key", "ari:\n  menu:\n    1: incident\n    \"1\": complaint\n",
			[]string{`line 4: duplicate key "1" in ari.menu (first at line 3)`}},
		{"wrong type", "sip:\n  ring_seconds: twenty\n",
			[]string{`line 2: sip.ring_seconds: want a whole number, got "twenty"`}},
		{"wrong type bool", "mail:\n  acknowledge: maybe\n",
			[]string{`line 2: mail.acknowledge: want true or false, got "maybe"`}},
		{"section not a mapping", "desk: servicedesk\n",
			[]string{`line 1: desk: want a mapping of keys, got "servicedesk"`}},
		{"list not a list", "desk:\n  addresses: a@example.com\n",
			[]string{`line 2: desk.addresses: want a list of strings, got "a@example.com"`}},
		{"list of mappings", "escalation:\n  - {id: a}\n",
			[]string{`line 2: escalation[0]: want a string, got a mapping`}},
		{"bad duration", "sla:\n  P1: {response: 15x}\n",
			[]string{`line 2: sla.P1.response: bad duration "15x": unknown unit "x" (use s, m, h, d or w)`}},
		{"top level not a mapping", "- desk\n",
			[]string{`line 1: the top level: want a mapping of keys, got a list`}},
		{"syntax error", "desk: {name: x\n",
			[]string{`config t.yaml: line 1: did not find expected ',' or '}'`}},
		{"two documents", "desk: {name: a}\n---\ndesk: {name: b}\n",
			[]string{`line 2: a second YAML document`}},
	}
	for _, tt := range tests {
		c, err := Parse([]byte(tt.yaml), "t.yaml")
		if err == nil {
			t.Errorf("%s: no error, got\n%v", tt.name, c)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error\n%v\ndoes not contain\n%s", tt.name, err, w)
			}
		}
	}
}

func TestLoadErrorsNameTheKey(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"testdata/typo_nested.yaml", []string{`config testdata/typo_nested.yaml: line 5: unknown key "rign_seconds" in sip`}},
		{"testdata/typo_agent.yaml", []string{`config testdata/typo_agent.yaml: line 4: unknown key "mobil" in agents[0]`}},
		{"testdata/many_problems.yaml", []string{
			`line 1: unknown key "sipp" at the top level`,
			`line 4: sip.ring_seconds: want a whole number, got "twenty"`,
			`line 6: duplicate key "strategy" in sip (first at line 5)`,
			`line 9: agents[0].tier: want a whole number, got a list`,
			`line 14: unknown key "holiday" in calendars.office (did you mean "holidays"?)`,
			`line 16: sla.P1.response: bad duration "15x"`,
		}},
	}
	for _, tt := range tests {
		_, err := Load(tt.file)
		if err == nil {
			t.Errorf("%s: no error", tt.file)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error\n%v\ndoes not contain\n%s", tt.file, err, w)
			}
		}
		if n := len(strings.Split(err.Error(), "\n")); n != len(tt.want) {
			t.Errorf("%s: %d errors, want %d:\n%v", tt.file, n, len(tt.want), err)
		}
	}
	if _, err := Load("testdata/nonexistent.yaml"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestAllowPrefixes(t *testing.T) {
	tr := Trunk{Allow: []string{"203.0.113.10", "203.0.113.17/28", "2001:db8::1", "2001:db8::/32", "::ffff:10.0.0.1"}}
	got, err := tr.AllowPrefixes()
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{
		netip.MustParsePrefix("203.0.113.10/32"),
		netip.MustParsePrefix("203.0.113.16/28"),
		netip.MustParsePrefix("2001:db8::1/128"),
		netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("10.0.0.1/32"),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, bad := range []string{"carrier.example.com", "1.2.3.4/33", "", "1.2.3"} {
		if _, err := (Trunk{Allow: []string{bad}}).AllowPrefixes(); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
