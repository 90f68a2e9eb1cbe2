package config

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-desk/hotline/ticketing/e164"
)

var (
	ticketPrefixRE = regexp.MustCompile(`^[A-Z][A-Z0-9]{0,9}$`)
	envNameRE      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	priorityRE     = regexp.MustCompile(`^P[1-4]$`)
)

var menuChoices = []string{KindIncident, KindServiceRequest, KindComplaint, KindInquiry, MenuOperator}

// Validate checks the whole configuration and returns every problem at
// once (errors.Join), each naming its key path, e.g.
// "agents[2].mobile: e164: parse "123": too short (3 digits)".
//
// It also puts a few values in their canonical form, so that everything
// downstream sees one form: agent mobiles become E.164, an agent's tier 0
// (not set) becomes 1, and an SLA entry without a calendar gets 24x7.
func (c *Config) Validate() error {
	v := &validator{}

	// desk
	if strings.TrimSpace(c.Desk.Name) == "" {
		v.add("desk.name", "must not be empty")
	}
	if c.Desk.Hotline != "" {
		if _, err := e164.Normalize(c.Desk.Hotline); err != nil {
			v.add("desk.hotline", "%v", err)
		}
	}
	if len(c.Desk.Addresses) == 0 {
		v.add("desk.addresses", "at least one address is needed (SMTP accepts mail only for these)")
	}
	seenAddr := map[string]bool{}
	for i, a := range c.Desk.Addresses {
		p := fmt.Sprintf("desk.addresses[%d]", i)
		if err := checkAddress(a); err != nil {
			v.add(p, "%v", err)
		} else if seenAddr[strings.ToLower(a)] {
			v.add(p, "%q is listed twice", a)
		}
		seenAddr[strings.ToLower(a)] = true
	}
	if !ticketPrefixRE.MatchString(c.Desk.TicketPrefix) {
		v.add("desk.ticket_prefix", "%q: want 1 to 10 capital letters or digits, starting with a letter (e.g. HL)", c.Desk.TicketPrefix)
	}
	if c.Desk.Timezone == "" {
		v.add("desk.timezone", "must not be empty (e.g. Asia/Shanghai)")
	} else if _, err := loadLocation(c.Desk.Timezone); err != nil {
		v.add("desk.timezone", "unknown time zone %q", c.Desk.Timezone)
	}
	if err := checkHTTPURL(c.Desk.ConsoleURL); err != nil {
		v.add("desk.console_url", "%v", err)
	}
	if c.Desk.ReopenWindow < 0 {
		v.add("desk.reopen_window", "must not be negative")
	}

	// store, listeners, mail
	if c.Store.URL != "" {
		if err := checkStoreURL(c.Store.URL); err != nil {
			v.add("store.url", "%v", err)
		}
	}
	v.listen("http.listen", c.HTTP.Listen)
	v.listen("smtp.listen", c.SMTP.Listen)
	v.listen("sip.listen", c.SIP.Listen)
	if h := c.SMTP.Hostname; h == "" || strings.ContainsAny(h, " \t/@") {
		v.add("smtp.hostname", "%q: want a host name, e.g. desk.example.com", h)
	}
	if c.SMTP.MaxMessageBytes <= 0 {
		v.add("smtp.max_message_bytes", "must be more than 0")
	}
	if c.SMTP.MaxRecipients <= 0 {
		v.add("smtp.max_recipients", "must be more than 0")
	}
	if (c.SMTP.TLSCert == "") != (c.SMTP.TLSKey == "") {
		v.add("smtp.tls_cert", "give tls_cert and tls_key together")
	}
	for i, u := range c.SMTP.Auth {
		p := fmt.Sprintf("smtp.auth[%d]", i)
		if u.User == "" {
			v.add(p+".user", "must not be empty")
		}
		if u.PasswordEnv == "" {
			v.add(p+".password_env", "must name the environment variable holding the password")
		}
		v.envName(p+".password_env", u.PasswordEnv)
	}
	if c.SMTP.RequireAuth && len(c.SMTP.Auth) == 0 {
		v.add("smtp.require_auth", "no smtp.auth users to authenticate")
	}
	if c.SMTP.MaxConnectionsPerClient < 0 {
		v.add("smtp.max_connections_per_client", "must not be negative (0: no limit)")
	}
	if c.SMTP.MaxMessagesPerMinute < 0 {
		v.add("smtp.max_messages_per_minute", "must not be negative (0: no limit)")
	}
	for i, a := range c.SMTP.Trusted {
		if _, err := parsePrefix(a); err != nil {
			v.add(fmt.Sprintf("smtp.trusted[%d]", i), "%v", err)
		}
	}
	if c.SMTP.IdleTimeout <= 0 {
		v.add("smtp.idle_timeout", "must be more than 0")
	}
	if c.SMTP.ReadTimeout <= 0 {
		v.add("smtp.read_timeout", "must be more than 0")
	}
	if c.Mail.AcknowledgePerHour < 0 {
		v.add("mail.acknowledge_per_hour", "must not be negative (0: no limit)")
	}
	if c.Mail.Relay != "" {
		if err := checkHostPort(c.Mail.Relay, true); err != nil {
			v.add("mail.relay", "%v", err)
		}
	}
	// mail.from is usually desk.addresses[0], which is checked above.
	if len(c.Desk.Addresses) == 0 || c.Mail.From != c.Desk.Addresses[0] {
		if err := checkAddress(c.Mail.From); err != nil {
			v.add("mail.from", "%v", err)
		}
	}

	// sip
	if c.SIP.RingSeconds <= 0 {
		v.add("sip.ring_seconds", "must be more than 0")
	}
	if c.SIP.MobileRingSeconds <= 0 {
		v.add("sip.mobile_ring_seconds", "must be more than 0")
	}
	if c.SIP.Strategy != StrategyRingAll && c.SIP.Strategy != StrategyHunt {
		v.add("sip.strategy", "%q: want %s or %s", c.SIP.Strategy, StrategyRingAll, StrategyHunt)
	}
	trunkNames := map[string]bool{}
	for i, t := range c.SIP.Trunks {
		p := fmt.Sprintf("sip.trunks[%d]", i)
		switch {
		case t.Name == "":
			v.add(p+".name", "must not be empty")
		case trunkNames[t.Name]:
			v.add(p+".name", "%q is used by another trunk", t.Name)
		}
		trunkNames[t.Name] = true
		if t.Address == "" {
			v.add(p+".address", "must not be empty (host:port the outbound calls go to)")
		} else if err := checkHostPort(t.Address, false); err != nil {
			v.add(p+".address", "%v", err)
		}
		for j, a := range t.Allow {
			if _, err := parsePrefix(a); err != nil {
				v.add(fmt.Sprintf("%s.allow[%d]", p, j), "%v", err)
			}
		}
	}

	// ari
	if c.ARI.URL != "" {
		if err := checkHTTPURL(c.ARI.URL); err != nil {
			v.add("ari.url", "%v", err)
		}
		if c.ARI.User == "" {
			v.add("ari.user", "must not be empty when ari.url is set")
		}
		if c.ARI.App == "" {
			v.add("ari.app", "must not be empty when ari.url is set")
		}
	}
	v.envName("ari.password_env", c.ARI.PasswordEnv)
	if !strings.Contains(c.ARI.AgentEndpoint, "{sip_user}") {
		v.add("ari.agent_endpoint", "%q: must contain {sip_user}", c.ARI.AgentEndpoint)
	}
	if !strings.Contains(c.ARI.MobileEndpoint, "{number}") {
		v.add("ari.mobile_endpoint", "%q: must contain {number}", c.ARI.MobileEndpoint)
	}
	for _, k := range sortedKeys(c.ARI.Menu) {
		p := "ari.menu." + k
		if len(k) != 1 || !strings.Contains("0123456789*#", k) {
			v.add(p, "the key %q is not one DTMF digit (0-9, * or #)", k)
		}
		if val := c.ARI.Menu[k]; !slices.Contains(menuChoices, val) {
			v.add(p, "%q: want one of %s", val, strings.Join(menuChoices, ", "))
		}
	}

	if c.ARI.MenuTimeout < 0 {
		v.add("ari.menu_timeout", "must not be negative")
	}
	if c.ARI.RecordingMaxBytes < 0 {
		v.add("ari.recording_max_bytes", "must not be negative")
	}
	for _, k := range sortedKeys(c.ARI.Prompts) {
		p := "ari.prompts." + k
		switch val := c.ARI.Prompts[k]; {
		case !slices.Contains(ARIPrompts, k):
			v.add(p, "unknown prompt; want one of %s", strings.Join(ARIPrompts, ", "))
		case k != "language" && !strings.Contains(val, ":"):
			v.add(p, "%q: want a media URI such as sound:hotline/greeting", val)
		}
	}

	// fax
	for i, s := range c.Fax.Senders {
		if domain, ok := strings.CutPrefix(s, "@"); ok && domain != "" && !strings.ContainsAny(domain, "@ <>") {
			continue
		}
		if err := checkAddress(s); err != nil {
			v.add(fmt.Sprintf("fax.senders[%d]", i), "%v (or @domain for every sender of a domain)", err)
		}
	}

	// agents
	agentIDs := map[string]bool{}
	sipUsers := map[string]string{}
	for i := range c.Agents {
		a := &c.Agents[i]
		p := fmt.Sprintf("agents[%d]", i)
		switch {
		case a.ID == "":
			v.add(p+".id", "must not be empty")
		case strings.ContainsAny(a.ID, " \t,"):
			v.add(p+".id", "%q: must not contain spaces or commas", a.ID)
		case agentIDs[a.ID]:
			v.add(p+".id", "%q is used by another agent", a.ID)
		}
		agentIDs[a.ID] = true
		if a.SIPUser != "" {
			if other, dup := sipUsers[a.SIPUser]; dup {
				v.add(p+".sip_user", "%q is used by agent %q too", a.SIPUser, other)
			}
			sipUsers[a.SIPUser] = a.ID
			// A softphone registers with Hotline's registrar, which needs
			// its password; behind Asterisk (sip off) Asterisk has it.
			if a.SIPPassword == "" && a.SIPPasswordEnv == "" && !IsOff(c.SIP.Listen) {
				v.add(p+".sip_password_env", "a softphone (sip_user) needs sip_password_env or sip_password")
			}
		}
		if a.SIPPassword != "" && a.SIPPasswordEnv != "" {
			v.add(p+".sip_password", "set sip_password or sip_password_env, not both")
		}
		v.envName(p+".sip_password_env", a.SIPPasswordEnv)
		if a.Mobile != "" {
			if n, err := e164.Normalize(a.Mobile); err != nil {
				v.add(p+".mobile", "%v", err)
			} else {
				a.Mobile = n
			}
		}
		if a.Email != "" {
			if err := checkAddress(a.Email); err != nil {
				v.add(p+".email", "%v", err)
			}
		}
		if a.Tier == 0 {
			a.Tier = 1
		}
		if a.Tier < 1 || a.Tier > 3 {
			v.add(p+".tier", "%d: want 1, 2 or 3", a.Tier)
		}
	}
	v.agentList("escalation", c.Escalation, agentIDs)

	// shifts
	shiftNames := map[string]bool{}
	for i, s := range c.Shifts {
		p := fmt.Sprintf("shifts[%d]", i)
		if s.Name != "" && shiftNames[s.Name] {
			v.add(p+".name", "%q is used by another shift", s.Name)
		}
		shiftNames[s.Name] = true
		if _, err := ParseDays(s.Days); err != nil {
			v.add(p+".days", "%v", err)
		}
		fh, fm, errFrom := ParseClock(s.From)
		if errFrom != nil {
			v.add(p+".from", "%v", errFrom)
		} else if fh == 24 {
			v.add(p+".from", "a shift cannot start at 24:00 (use 00:00)")
		}
		th, tm, errTo := ParseClock(s.To)
		if errTo != nil {
			v.add(p+".to", "%v", errTo)
		}
		if errFrom == nil && errTo == nil && fh == th && fm == tm {
			v.add(p+".to", "same as from; for a whole day use from 00:00 to 24:00")
		}
		if len(s.Agents) == 0 {
			v.add(p+".agents", "no agents on this shift")
		}
		v.agentList(p+".agents", s.Agents, agentIDs)
	}

	// calendars
	for _, name := range sortedKeys(c.Calendars) {
		cal := c.Calendars[name]
		p := "calendars." + name
		if name == Calendar24x7 {
			v.add(p, "%q is built in and cannot be redefined", name)
		}
		if _, err := ParseDays(cal.Days); err != nil {
			v.add(p+".days", "%v", err)
		}
		if _, _, err := ParseHours(cal.Hours); err != nil {
			v.add(p+".hours", "%v", err)
		}
		holidays := map[string]bool{}
		for i, d := range cal.Holidays {
			if _, err := time.Parse(dateLayout, d); err != nil {
				v.add(fmt.Sprintf("%s.holidays[%d]", p, i), "%q: want a date YYYY-MM-DD", d)
			}
			holidays[d] = true
		}
		for i, d := range cal.Workdays {
			if _, err := time.Parse(dateLayout, d); err != nil {
				v.add(fmt.Sprintf("%s.workdays[%d]", p, i), "%q: want a date YYYY-MM-DD", d)
			} else if holidays[d] {
				v.add(fmt.Sprintf("%s.workdays[%d]", p, i), "%s is a holiday too", d)
			}
		}
	}

	// sla
	for _, k := range []string{"P1", "P2", "P3", "P4"} {
		if _, ok := c.SLA[k]; !ok {
			v.add("sla."+k, "missing: every priority needs its targets")
		}
	}
	for _, k := range sortedKeys(c.SLA) {
		s := c.SLA[k]
		p := "sla." + k
		if !priorityRE.MatchString(k) {
			v.add(p, "unknown priority %q: want P1, P2, P3 or P4", k)
		}
		if s.Response <= 0 {
			v.add(p+".response", "must be more than 0")
		}
		if s.Resolve <= 0 {
			v.add(p+".resolve", "must be more than 0")
		}
		if s.Response > 0 && s.Resolve > 0 && s.Response > s.Resolve {
			v.add(p+".response", "%s is longer than resolve (%s)", s.Response, s.Resolve)
		}
		if s.Calendar == "" {
			s.Calendar = Calendar24x7
			c.SLA[k] = s
		}
		if _, ok := c.Calendars[s.Calendar]; !ok && s.Calendar != Calendar24x7 {
			v.add(p+".calendar", "no calendar %q: want 24x7 or one of calendars", s.Calendar)
		}
	}

	// notify
	for _, n := range []struct {
		name string
		w    Webhook
	}{{"wecom", c.Notify.WeCom}, {"dingtalk", c.Notify.DingTalk}, {"feishu", c.Notify.Feishu}} {
		p := "notify." + n.name
		v.envName(p+".webhook_url_env", n.w.WebhookURLEnv)
		v.envName(p+".secret_env", n.w.SecretEnv)
		if n.w.SecretEnv != "" && n.w.WebhookURLEnv == "" {
			v.add(p+".webhook_url_env", "a secret without a webhook URL")
		}
	}
	c.validateProcess(v, agentIDs)
	return v.err()
}

type validator struct{ errs []error }

func (v *validator) add(path, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
}

func (v *validator) err() error { return errors.Join(v.errs...) }

func (v *validator) listen(path, addr string) {
	if addr == Off {
		return
	}
	if addr == "" {
		v.add(path, "empty; give host:port, or off to disable")
		return
	}
	if err := checkHostPort(addr, true); err != nil {
		v.add(path, "%v (or off to disable)", err)
	}
}

func (v *validator) envName(path, name string) {
	if name != "" && !envNameRE.MatchString(name) {
		v.add(path, "%q is not an environment variable name", name)
	}
}

func (v *validator) agentList(path string, ids []string, known map[string]bool) {
	seen := map[string]bool{}
	for i, id := range ids {
		switch {
		case !known[id]:
			v.add(fmt.Sprintf("%s[%d]", path, i), "no agent with id %q", id)
		case seen[id]:
			v.add(fmt.Sprintf("%s[%d]", path, i), "%q is listed twice", id)
		}
		seen[id] = true
	}
}

// TrustedPrefixes returns smtp.trusted as prefixes.
func (s SMTP) TrustedPrefixes() ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(s.Trusted))
	for _, a := range s.Trusted {
		p, err := parsePrefix(a)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Password is the SMTP user's password, from the environment variable
// named by password_env.
func (u SMTPUser) Password(getenv func(string) string) string { return getenv(u.PasswordEnv) }

// AllowPrefixes returns the trunk's allow list as prefixes; a bare address
// is a /32 (IPv4) or a /128 (IPv6).
func (t Trunk) AllowPrefixes() ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(t.Allow))
	for _, a := range t.Allow {
		p, err := parsePrefix(a)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an address or a CIDR prefix", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address or a CIDR prefix", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// checkAddress accepts a bare e-mail address: local@domain, no display name.
func checkAddress(s string) error {
	if s == "" {
		return errors.New("empty e-mail address")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return fmt.Errorf("%q is not a bare e-mail address (like servicedesk@example.com)", s)
	}
	return nil
}

// checkHostPort accepts host:port, and a bare host when the port may be
// left out (portRequired false).
func checkHostPort(s string, portRequired bool) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		if !portRequired && !strings.ContainsAny(s, ":/ ") && s != "" {
			return nil
		}
		if portRequired {
			return fmt.Errorf("%q: want host:port", s)
		}
		return fmt.Errorf("%q: want host or host:port", s)
	}
	if strings.ContainsAny(host, "/ ") {
		return fmt.Errorf("%q: bad host", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: bad port %q", s, port)
	}
	return nil
}

// checkHTTPURL accepts an http or https URL with a host. The URL is never
// echoed with its password.
func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%q: want an http:// or https:// URL with a host", u.Redacted())
	}
	return nil
}

// checkStoreURL accepts postgres:// and postgresql:// URLs.
func checkStoreURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a URL (the value is not shown: it may hold a password)")
	}
	switch u.Scheme {
	case "postgres", "postgresql":
		return nil
	}
	return fmt.Errorf("%q: want postgres://…, or empty for SQLite in the data directory", u.Redacted())
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
