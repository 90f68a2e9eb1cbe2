package config

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"go.yaml.in/yaml/v3"
)

// envOverrides are the HOTLINE_* variables ApplyEnv reads, in the order it
// reads them. HOTLINE_DATA and HOTLINE_CONFIG are the CLI's; secrets are
// read where they are used (Agent.Password, ARI.Password, Webhook.URL).
var envOverrides = []struct {
	name  string
	field func(*Config) *string
}{
	{"HOTLINE_DB", func(c *Config) *string { return &c.Store.URL }},
	{"HOTLINE_HTTP", func(c *Config) *string { return &c.HTTP.Listen }},
	{"HOTLINE_SMTP", func(c *Config) *string { return &c.SMTP.Listen }},
	{"HOTLINE_SMTP_HOSTNAME", func(c *Config) *string { return &c.SMTP.Hostname }},
	{"HOTLINE_SIP", func(c *Config) *string { return &c.SIP.Listen }},
	{"HOTLINE_FAX_INBOX", func(c *Config) *string { return &c.Fax.Inbox }},
	{"HOTLINE_ARI", func(c *Config) *string { return &c.ARI.URL }},
	{"HOTLINE_ARI_USER", func(c *Config) *string { return &c.ARI.User }},
	{"HOTLINE_TIMEZONE", func(c *Config) *string { return &c.Desk.Timezone }},
	{"HOTLINE_TICKET_PREFIX", func(c *Config) *string { return &c.Desk.TicketPrefix }},
	{"HOTLINE_CONSOLE_URL", func(c *Config) *string { return &c.Desk.ConsoleURL }},
	{"HOTLINE_MAIL_RELAY", func(c *Config) *string { return &c.Mail.Relay }},
	{"HOTLINE_MAIL_FROM", func(c *Config) *string { return &c.Mail.From }},
}

// EnvNames lists the HOTLINE_* variables ApplyEnv reads, for --help.
func EnvNames() []string {
	names := make([]string, len(envOverrides))
	for i, e := range envOverrides {
		names[i] = e.name
	}
	return names
}

// ApplyEnv overrides the configuration with the HOTLINE_* environment
// variables that are set and not empty (see EnvNames): HOTLINE_DB
// (store.url), HOTLINE_HTTP, HOTLINE_SMTP and HOTLINE_SIP (listen addresses,
// "off" disables), HOTLINE_SMTP_HOSTNAME, HOTLINE_FAX_INBOX, HOTLINE_ARI
// (ari.url), HOTLINE_ARI_USER, HOTLINE_TIMEZONE, HOTLINE_TICKET_PREFIX,
// HOTLINE_CONSOLE_URL, HOTLINE_MAIL_RELAY and HOTLINE_MAIL_FROM.
//
// The CLI calls it after Load and the flags, so the environment wins over
// both (SPEC §3), and before Validate. Values are trimmed; a value with a
// control character (a newline pasted into a unit file) is an error that
// names the variable, never the value, which may hold a password.
func (c *Config) ApplyEnv(getenv func(string) string) error {
	var errs []string
	for _, e := range envOverrides {
		v := strings.TrimSpace(getenv(e.name))
		if v == "" {
			continue
		}
		if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			errs = append(errs, e.name)
			continue
		}
		*e.field(c) = v
	}
	if len(errs) > 0 {
		return fmt.Errorf("config: environment %s: value has a control character", strings.Join(errs, ", "))
	}
	return nil
}

// Password is the agent's SIP digest password: sip_password, else the
// environment variable named by sip_password_env, else "".
func (a Agent) Password(getenv func(string) string) string {
	if a.SIPPassword != "" {
		return a.SIPPassword
	}
	if a.SIPPasswordEnv != "" {
		return getenv(a.SIPPasswordEnv)
	}
	return ""
}

// Password is the ARI password, from the environment variable named by
// password_env.
func (a ARI) Password(getenv func(string) string) string {
	if a.PasswordEnv == "" {
		return ""
	}
	return getenv(a.PasswordEnv)
}

// URL is the webhook's URL, from the environment variable named by
// webhook_url_env; "" means the webhook is off.
func (w Webhook) URL(getenv func(string) string) string {
	if w.WebhookURLEnv == "" {
		return ""
	}
	return getenv(w.WebhookURLEnv)
}

// Secret is the webhook's signing secret (DingTalk, Feishu), from the
// environment variable named by secret_env.
func (w Webhook) Secret(getenv func(string) string) string {
	if w.SecretEnv == "" {
		return ""
	}
	return getenv(w.SecretEnv)
}

const redacted = "REDACTED"

// redactURL hides the password of a URL; a value that does not parse is
// hidden as a whole.
func redactURL(s string) string {
	if s == "" || !strings.Contains(s, "@") {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		return redacted
	}
	return u.Redacted()
}

// String is the agent's id and name; never its password.
func (a Agent) String() string {
	if a.Name == "" {
		return a.ID
	}
	return a.ID + " (" + a.Name + ")"
}

// GoString is %#v without the password.
func (a Agent) GoString() string {
	pw := ""
	if a.SIPPassword != "" {
		pw = redacted
	}
	return fmt.Sprintf("config.Agent{ID:%q, Name:%q, SIPUser:%q, SIPPassword:%q, SIPPasswordEnv:%q, Mobile:%q, Email:%q, Tier:%d}",
		a.ID, a.Name, a.SIPUser, pw, a.SIPPasswordEnv, a.Mobile, a.Email, a.Tier)
}

// LogValue logs the agent without its password.
func (a Agent) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", a.ID), slog.String("name", a.Name),
		slog.String("sip_user", a.SIPUser), slog.String("mobile", a.Mobile), slog.Int("tier", a.Tier))
}

// String is the store URL without its password.
func (s Store) String() string { return redactURL(s.URL) }

// GoString is %#v without the password.
func (s Store) GoString() string { return fmt.Sprintf("config.Store{URL:%q}", redactURL(s.URL)) }

// LogValue logs the store URL without its password.
func (s Store) LogValue() slog.Value { return slog.StringValue(redactURL(s.URL)) }

// String is the configuration as YAML, with passwords replaced by
// REDACTED: for "hotline config" output and debugging.
func (c *Config) String() string {
	r := *c
	r.Store.URL = redactURL(c.Store.URL)
	r.ARI.URL = redactURL(c.ARI.URL)
	r.Mail.Relay = redactURL(c.Mail.Relay)
	r.Agents = make([]Agent, len(c.Agents))
	for i, a := range c.Agents {
		if a.SIPPassword != "" {
			a.SIPPassword = redacted
		}
		r.Agents[i] = a
	}
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&r); err != nil {
		return "config: " + err.Error()
	}
	enc.Close()
	return b.String()
}
