package config

import (
	"path/filepath"
	"time"
)

// Calendar24x7 is the built-in calendar that never closes. SLA targets use
// it unless they name a configured calendar.
const Calendar24x7 = "24x7"

// Off as a listen address disables that listener.
const Off = "off"

// Default returns the configuration of a fresh machine without a config
// file (SPEC §3). Every call returns a new value the caller may change.
//
// A few defaults are filled in elsewhere: an empty store.url is SQLite in
// the data directory and an empty fax.inbox is DATA/fax-inbox (the CLI
// knows the data directory, see Fax.InboxDir); an empty mail.relay sends no
// mail at all (acknowledgements and fax-to-mail are skipped and logged).
// mail.from is the first desk address unless the file sets it.
func Default() *Config {
	return &Config{
		Desk: Desk{
			Name:         "服务台",
			Hotline:      "",
			Addresses:    []string{"servicedesk@localhost"},
			TicketPrefix: "HL",
			Timezone:     "Asia/Shanghai",
			ConsoleURL:   "http://127.0.0.1:8080",
			ReopenWindow: Duration(7 * 24 * time.Hour),
		},
		Store: Store{URL: ""},
		HTTP:  HTTP{Listen: "127.0.0.1:8080"},
		SMTP: SMTP{
			Listen:          "127.0.0.1:2525",
			Hostname:        "localhost",
			MaxMessageBytes: 25 << 20, // 26214400
			MaxRecipients:   50,
			// The local MX relays every customer's mail from loopback.
			Trusted:                 []string{"127.0.0.0/8", "::1"},
			MaxConnectionsPerClient: 20,
			MaxMessagesPerMinute:    120,
			IdleTimeout:             Duration(5 * time.Minute),
			ReadTimeout:             Duration(time.Minute),
		},
		Mail: Mail{
			Relay:              "",
			From:               "servicedesk@localhost",
			Acknowledge:        true,
			AcknowledgePerHour: 5,
		},
		SIP: SIP{
			Listen:            "127.0.0.1:5060",
			RingSeconds:       20,
			MobileRingSeconds: 30,
			Strategy:          StrategyRingAll,
		},
		ARI: ARI{
			URL:            "",
			User:           "hotline",
			PasswordEnv:    "HOTLINE_ARI_PASSWORD",
			App:            "hotline",
			AgentEndpoint:  "PJSIP/{sip_user}",
			MobileEndpoint: "PJSIP/{number}@carrier",
			Menu: map[string]string{
				"1": KindIncident,
				"2": KindServiceRequest,
				"3": KindComplaint,
				"0": MenuOperator,
			},
			MenuTimeout:       Duration(5 * time.Second),
			RecordingMaxBytes: 20 << 20,
		},
		Fax: Fax{Inbox: ""},
		SLA: map[string]SLA{
			"P1": {Response: Duration(15 * time.Minute), Resolve: Duration(4 * time.Hour), Calendar: Calendar24x7},
			"P2": {Response: Duration(2 * time.Hour), Resolve: Duration(8 * time.Hour), Calendar: Calendar24x7},
			"P3": {Response: Duration(8 * time.Hour), Resolve: Duration(3 * 24 * time.Hour), Calendar: Calendar24x7},
			"P4": {Response: Duration(24 * time.Hour), Resolve: Duration(5 * 24 * time.Hour), Calendar: Calendar24x7},
		},
		Notify:   Notify{Templates: DefaultTemplates()},
		Priority: defaultPriority(),
		Workflow: Workflow{WarnAt: 75, AutoCloseAfter: Duration(7 * 24 * time.Hour), ConfirmLinkTTL: Duration(14 * 24 * time.Hour), KnowledgeOnClose: true},
		Reports:  Reports{Weekly: WeeklyReport{Day: "mon", At: "08:00"}},
	}
}

// Ring strategies for sip.strategy.
const (
	StrategyRingAll = "ring_all" // every on-duty softphone rings at once
	StrategyHunt    = "hunt"     // on-duty agents ring one after the other
)

// Menu choices for ari.menu: the ticket kinds, and the operator (no kind).
const (
	KindIncident       = "incident"
	KindServiceRequest = "service_request"
	KindComplaint      = "complaint"
	KindInquiry        = "inquiry"
	MenuOperator       = "operator"
)

// InboxDir is the fax inbox: fax.inbox, or DATA/fax-inbox when it is empty.
func (f Fax) InboxDir(dataDir string) string {
	if f.Inbox != "" {
		return f.Inbox
	}
	return filepath.Join(dataDir, "fax-inbox")
}

// IsOff reports whether a listen address disables its listener ("off").
func IsOff(addr string) bool { return addr == Off }
