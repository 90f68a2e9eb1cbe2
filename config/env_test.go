package config

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestApplyEnvOverridesFlagsAndConfig(t *testing.T) {
	c, err := Parse([]byte("http: {listen: 127.0.0.1:9000}\nsmtp: {listen: 127.0.0.1:2600}\ndesk: {ticket_prefix: IT}\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// What the CLI does with --http and --sip.
	c.HTTP.Listen = "127.0.0.1:9100"
	c.SIP.Listen = "off"

	err = c.ApplyEnv(env(map[string]string{
		"HOTLINE_HTTP":          "0.0.0.0:8080",
		"HOTLINE_DB":            "postgres://hotline:secret@db/hotline",
		"HOTLINE_SMTP":          "",
		"HOTLINE_FAX_INBOX":     " /var/spool/hotline/fax ",
		"HOTLINE_ARI":           "http://127.0.0.1:8088/ari",
		"HOTLINE_ARI_USER":      "desk",
		"HOTLINE_TIMEZONE":      "Asia/Urumqi",
		"HOTLINE_TICKET_PREFIX": "HD",
		"HOTLINE_MAIL_RELAY":    "127.0.0.1:25",
		"HOTLINE_MAIL_FROM":     "noreply-desk@example.com",
		"HOTLINE_CONSOLE_URL":   "https://desk.example.com",
		"HOTLINE_SMTP_HOSTNAME": "mx.example.com",
	}))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"env over flag", c.HTTP.Listen, "0.0.0.0:8080"},
		{"flag kept without env", c.SIP.Listen, "off"},
		{"config kept with empty env", c.SMTP.Listen, "127.0.0.1:2600"},
		{"store.url", c.Store.URL, "postgres://hotline:secret@db/hotline"},
		{"fax.inbox trimmed", c.Fax.Inbox, "/var/spool/hotline/fax"},
		{"ari.url", c.ARI.URL, "http://127.0.0.1:8088/ari"},
		{"ari.user", c.ARI.User, "desk"},
		{"env over config", c.Desk.TicketPrefix, "HD"},
		{"timezone", c.Desk.Timezone, "Asia/Urumqi"},
		{"mail.relay", c.Mail.Relay, "127.0.0.1:25"},
		{"mail.from", c.Mail.From, "noreply-desk@example.com"},
		{"console_url", c.Desk.ConsoleURL, "https://desk.example.com"},
		{"smtp.hostname", c.SMTP.Hostname, "mx.example.com"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: %q, want %q", ch.name, ch.got, ch.want)
		}
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	if len(EnvNames()) != len(envOverrides) || EnvNames()[0] != "HOTLINE_DB" {
		t.Errorf("EnvNames %v", EnvNames())
	}
}

func TestApplyEnvControlCharacter(t *testing.T) {
	c := Default()
	err := c.ApplyEnv(env(map[string]string{"HOTLINE_DB": "postgres://u:hunter2@db/x\nrest", "HOTLINE_HTTP": "127.0.0.1:1"}))
	if err == nil || !strings.Contains(err.Error(), "HOTLINE_DB") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %v: want one that names HOTLINE_DB and hides the value", err)
	}
	if c.Store.URL != "" || c.HTTP.Listen != "127.0.0.1:1" {
		t.Errorf("store %q http %q", c.Store.URL, c.HTTP.Listen)
	}
}

func TestSecrets(t *testing.T) {
	e := env(map[string]string{
		"HOTLINE_SIP_LI":          "li-pass",
		"HOTLINE_ARI_PASSWORD":    "ari-pass",
		"HOTLINE_DINGTALK_URL":    "https://oapi.dingtalk.com/robot/send?access_token=t",
		"HOTLINE_DINGTALK_SECRET": "SECxyz",
	})
	if got := (Agent{SIPPassword: "inline", SIPPasswordEnv: "HOTLINE_SIP_LI"}).Password(e); got != "inline" {
		t.Errorf("inline password: %q", got)
	}
	if got := (Agent{SIPPasswordEnv: "HOTLINE_SIP_LI"}).Password(e); got != "li-pass" {
		t.Errorf("env password: %q", got)
	}
	if got := (Agent{}).Password(e); got != "" {
		t.Errorf("no password: %q", got)
	}
	if got := Default().ARI.Password(e); got != "ari-pass" {
		t.Errorf("ari password: %q", got)
	}
	if got := (ARI{}).Password(e); got != "" {
		t.Errorf("ari without env: %q", got)
	}
	w := Webhook{WebhookURLEnv: "HOTLINE_DINGTALK_URL", SecretEnv: "HOTLINE_DINGTALK_SECRET"}
	if w.URL(e) == "" || w.Secret(e) != "SECxyz" {
		t.Errorf("webhook %q %q", w.URL(e), w.Secret(e))
	}
	if (Webhook{}).URL(e) != "" || (Webhook{}).Secret(e) != "" {
		t.Error("an unconfigured webhook has a URL")
	}
}

func TestSecretsNeverShown(t *testing.T) {
	c := Default()
	c.Store.URL = "postgres://hotline:hunter2@db/hotline"
	c.ARI.URL = "http://hotline:hunter2@127.0.0.1:8088/ari"
	c.Agents = []Agent{{ID: "zhang", Name: "张工", SIPUser: "zhang", SIPPassword: "hunter2"}}
	a := c.Agents[0]

	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "agent", a, "store", c.Store)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "agent", a, "store", c.Store)
	outputs := map[string]string{
		"Config.String":   c.String(),
		"%v config":       fmt.Sprintf("%v", c),
		"%+v agent":       fmt.Sprintf("%+v", a),
		"%#v agent":       fmt.Sprintf("%#v", a),
		"%v agents":       fmt.Sprintf("%v", c.Agents),
		"%v store":        fmt.Sprintf("%v", c.Store),
		"%#v store":       fmt.Sprintf("%#v", c.Store),
		"slog":            logs.String(),
		"Validate errors": fmt.Sprint(c.Validate()),
	}
	for name, out := range outputs {
		if strings.Contains(out, "hunter2") {
			t.Errorf("%s shows the password: %s", name, out)
		}
	}
	if a.String() != "zhang (张工)" {
		t.Errorf("agent String %q", a.String())
	}
	if !strings.Contains(c.String(), "sip_password: REDACTED") || !strings.Contains(c.String(), "postgres://hotline:xxxxx@db/hotline") {
		t.Errorf("Config.String:\n%s", c.String())
	}
	// The config's own copy is untouched.
	if c.Agents[0].SIPPassword != "hunter2" || c.Store.URL != "postgres://hotline:hunter2@db/hotline" {
		t.Error("String changed the config")
	}
}

func TestConfigStringParsesBack(t *testing.T) {
	c, err := Load("../deploy/hotline.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse([]byte(c.String()), "string")
	if err != nil {
		t.Fatalf("%v\n%s", err, c)
	}
	if back.String() != c.String() {
		t.Errorf("round trip differs:\n%s\n----\n%s", c, back)
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		str  string
	}{
		{"15m", 15 * time.Minute, "15m"},
		{"4h", 4 * time.Hour, "4h"},
		{"90s", 90 * time.Second, "1m30s"},
		{"1h30m", 90 * time.Minute, "1h30m"},
		{"3d", 72 * time.Hour, "3d"},
		{"2w", 14 * 24 * time.Hour, "14d"},
		{"1d12h", 36 * time.Hour, "1d12h"},
		{"1.5h", 90 * time.Minute, "1h30m"},
		{"0.5d", 12 * time.Hour, "12h"},
		{"500ms", 500 * time.Millisecond, "500ms"},
		{"90", 90 * time.Second, "1m30s"},
		{"0", 0, "0s"},
		{" 7d ", 7 * 24 * time.Hour, "7d"},
		{"+5m", 5 * time.Minute, "5m"},
	}
	for _, tt := range tests {
		d, err := ParseDuration(tt.in)
		if err != nil || d.Std() != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, d.Std(), err, tt.want)
			continue
		}
		if tt.str != "1d12h" && d.String() != tt.str {
			t.Errorf("%q: String() = %q, want %q", tt.in, d.String(), tt.str)
		}
		back, err := ParseDuration(d.String())
		if err != nil || back != d {
			t.Errorf("%q: ParseDuration(String()) = %v, %v", tt.in, back, err)
		}
	}
	errs := []struct{ in, want string }{
		{"", `bad duration "": empty`},
		{"3x", `bad duration "3x": unknown unit "x" (use s, m, h, d or w)`},
		{"-5m", `bad duration "-5m": negative`},
		{"5m3", `bad duration "5m3": a number without a unit (use s, m, h, d or w)`},
		{"d", `bad duration "d": expected a number at "d"`},
		{"1.2.3h", `bad duration "1.2.3h": bad number "1.2.3"`},
		{"100000w", `bad duration "100000w": too long`},
		{"99999999999999999", `bad duration "99999999999999999": too long`},
		{"四小时", `bad duration "四小时": expected a number at "四小时"`},
		{"1 h", `bad duration "1 h": unknown unit " h" (use s, m, h, d or w)`},
	}
	for _, tt := range errs {
		_, err := ParseDuration(tt.in)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseDuration(%q): %v, want %s", tt.in, err, tt.want)
		}
	}
}

func TestDurationYAML(t *testing.T) {
	var v struct {
		A, B, C, D Duration
	}
	if err := yaml.Unmarshal([]byte("a: 15m\nb: 3d\nc: 90\nd: 2w\n"), &v); err != nil {
		t.Fatal(err)
	}
	if v.A.Std() != 15*time.Minute || v.B.Std() != 72*time.Hour || v.C.Std() != 90*time.Second || v.D.Std() != 14*24*time.Hour {
		t.Errorf("got %+v", v)
	}
	err := yaml.Unmarshal([]byte("a: 1m\nb: soon\n"), &v)
	if err == nil || err.Error() != `line 2: bad duration "soon": expected a number at "soon"` {
		t.Errorf("error %v", err)
	}
	if err := yaml.Unmarshal([]byte("a: [1m]\n"), &v); err == nil || !strings.Contains(err.Error(), "want a duration") {
		t.Errorf("error %v", err)
	}
	out, err := yaml.Marshal(struct{ W Duration }{Duration(7 * 24 * time.Hour)})
	if err != nil || string(out) != "w: 7d\n" {
		t.Errorf("marshal %q %v", out, err)
	}
	var d Duration
	if err := d.UnmarshalText([]byte("2h")); err != nil || d.Std() != 2*time.Hour {
		t.Errorf("UnmarshalText %v %v", d, err)
	}
	if b, _ := d.MarshalText(); string(b) != "2h" {
		t.Errorf("MarshalText %q", b)
	}
}
