// Package config is the gateway's configuration: the YAML file of SPEC §3,
// its defaults, and the HOTLINE_* environment that overrides it.
package config

// Config is the whole YAML file. Every key has a default; an empty file is
// valid. Unknown keys are an error that names the key.
type Config struct {
	Desk       Desk                `yaml:"desk"`
	Store      Store               `yaml:"store"`
	HTTP       HTTP                `yaml:"http"`
	SMTP       SMTP                `yaml:"smtp"`
	Mail       Mail                `yaml:"mail"`
	SIP        SIP                 `yaml:"sip"`
	ARI        ARI                 `yaml:"ari"`
	Fax        Fax                 `yaml:"fax"`
	Agents     []Agent             `yaml:"agents"`
	Escalation []string            `yaml:"escalation"`
	Calendars  map[string]Calendar `yaml:"calendars"`
	SLA        map[string]SLA      `yaml:"sla"`
	Notify     Notify              `yaml:"notify"`
	Shifts     []Shift             `yaml:"shifts"`
	// The service-desk process (config/process.go).
	Priority Priority `yaml:"priority"`
	Routing  Routing  `yaml:"routing"`
	Workflow Workflow `yaml:"workflow"`
	Reports  Reports  `yaml:"reports"`
}

type Desk struct {
	Name         string   `yaml:"name"`
	Hotline      string   `yaml:"hotline"`
	Addresses    []string `yaml:"addresses"`
	TicketPrefix string   `yaml:"ticket_prefix"`
	Timezone     string   `yaml:"timezone"`
	ConsoleURL   string   `yaml:"console_url"`
	// ReopenWindow is how long a closed ticket may be reopened.
	ReopenWindow Duration `yaml:"reopen_window"`
}

type Store struct {
	URL string `yaml:"url"`
}

type HTTP struct {
	Listen string `yaml:"listen"`
}

type SMTP struct {
	Listen          string `yaml:"listen"`
	Hostname        string `yaml:"hostname"`
	MaxMessageBytes int64  `yaml:"max_message_bytes"`
	MaxRecipients   int    `yaml:"max_recipients"`
	// TLSCert and TLSKey are PEM files; with both, STARTTLS is offered.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// Auth lists the users that may authenticate (AUTH PLAIN, after
	// STARTTLS or on loopback). An authenticated client is exempt from the
	// per-client limits; RequireAuth refuses mail from anyone else.
	Auth        []SMTPUser `yaml:"auth"`
	RequireAuth bool       `yaml:"require_auth"`
	// Per-client limits (421/450 when exceeded), except for the Trusted
	// networks (the local MX) and authenticated clients.
	MaxConnectionsPerClient int      `yaml:"max_connections_per_client"`
	MaxMessagesPerMinute    int      `yaml:"max_messages_per_minute"`
	Trusted                 []string `yaml:"trusted"`
	// IdleTimeout is how long the server waits for the next command;
	// ReadTimeout how long a message's data may stall.
	IdleTimeout Duration `yaml:"idle_timeout"`
	ReadTimeout Duration `yaml:"read_timeout"`
}

// SMTPUser is one SMTP AUTH login; the password is in the environment
// variable PasswordEnv.
type SMTPUser struct {
	User        string `yaml:"user"`
	PasswordEnv string `yaml:"password_env"`
}

type Mail struct {
	Relay       string `yaml:"relay"`
	From        string `yaml:"from"`
	Acknowledge bool   `yaml:"acknowledge"`
	// AcknowledgePerHour caps the acknowledgements one address gets in an
	// hour, across all instances, so that two robots cannot loop.
	AcknowledgePerHour int `yaml:"acknowledge_per_hour"`
}

type SIP struct {
	Listen            string  `yaml:"listen"`
	RingSeconds       int     `yaml:"ring_seconds"`
	MobileRingSeconds int     `yaml:"mobile_ring_seconds"`
	Strategy          string  `yaml:"strategy"` // ring_all | hunt
	Trunks            []Trunk `yaml:"trunks"`
}

type Trunk struct {
	Name    string   `yaml:"name"`
	Address string   `yaml:"address"`
	Allow   []string `yaml:"allow"`
}

type ARI struct {
	URL            string            `yaml:"url"`
	User           string            `yaml:"user"`
	PasswordEnv    string            `yaml:"password_env"`
	App            string            `yaml:"app"`
	AgentEndpoint  string            `yaml:"agent_endpoint"`
	MobileEndpoint string            `yaml:"mobile_endpoint"`
	Menu           map[string]string `yaml:"menu"`
	// MenuTimeout is how long the IVR waits for a key after the menu.
	MenuTimeout Duration `yaml:"menu_timeout"`
	// Prompts override the IVR's sound URIs by name (ARIPrompts lists
	// the names) and their language ("language").
	Prompts map[string]string `yaml:"prompts"`
	// RecordingMaxBytes: a call recording up to this size is attached to
	// the ticket, a larger one linked.
	RecordingMaxBytes int64 `yaml:"recording_max_bytes"`
}

// ARIPrompts are the names ari.prompts may set.
var ARIPrompts = []string{"language", "greeting", "menu", "invalid", "ticket_number", "hold", "unavailable"}

type Fax struct {
	Inbox   string   `yaml:"inbox"`
	Senders []string `yaml:"senders"`
}

type Agent struct {
	ID             string `yaml:"id"`
	Name           string `yaml:"name"`
	SIPUser        string `yaml:"sip_user"`
	SIPPassword    string `yaml:"sip_password"`
	SIPPasswordEnv string `yaml:"sip_password_env"`
	Mobile         string `yaml:"mobile"`
	Email          string `yaml:"email"`
	Tier           int    `yaml:"tier"`
}

type Calendar struct {
	Days     string   `yaml:"days"`  // mon-fri, mon-sun, "mon,wed,fri"
	Hours    string   `yaml:"hours"` // "09:00-17:00"
	Holidays []string `yaml:"holidays"`
	Workdays []string `yaml:"workdays"`
	// PublicHolidays is the official holiday table the calendar follows
	// besides its own dates: "cn" (China's, the default when empty) or
	// "none".
	PublicHolidays string `yaml:"public_holidays"`
}

type SLA struct {
	Response Duration `yaml:"response"`
	Resolve  Duration `yaml:"resolve"`
	Calendar string   `yaml:"calendar"`
}

type Notify struct {
	WeCom    Webhook `yaml:"wecom"`
	DingTalk Webhook `yaml:"dingtalk"`
	Feishu   Webhook `yaml:"feishu"`
	// Managers are agent ids told of every escalation and sent the weekly
	// report, besides the escalation list.
	Managers []string `yaml:"managers"`
	// Templates are the texts of notifications, by event (see
	// config/process.go); Go text/template syntax.
	Templates map[string]Template `yaml:"templates"`
}

type Webhook struct {
	WebhookURLEnv string `yaml:"webhook_url_env"`
	SecretEnv     string `yaml:"secret_env"`
}

type Shift struct {
	Name   string   `yaml:"name"`
	Days   string   `yaml:"days"`
	From   string   `yaml:"from"`
	To     string   `yaml:"to"`
	Agents []string `yaml:"agents"`
}
