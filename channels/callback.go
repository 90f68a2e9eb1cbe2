package channels

import (
	"fmt"
	"strings"
	"time"

	"github.com/hotline-desk/hotline/ticketing"
)

// MissedCall is a call that every step of its routing plan rang out: the
// caller must be called back.
type MissedCall struct {
	CallID   string
	Name     string // the caller's name as presented, if any
	Number   string // the caller's number as presented, if any
	Withheld bool   // the caller asked for privacy
	At       time.Time
	Reason   string
	Ticket   string // the ticket number, when the ticket was made in time
}

// CallbackTask is the callback task of a missed call, for the SIP and the
// Asterisk channel alike: a mail to the agents on duty, or, with none, to
// the escalation contacts, to be committed with the call's missed event.
// ok is false when nobody on the roster has an e-mail.
func CallbackTask(r *Roster, m MissedCall) (to []string, job ticketing.JobSpec, ok bool) {
	add := func(agents []Agent) {
		for _, a := range agents {
			if a.Email != "" && !contains(to, a.Email) {
				to = append(to, a.Email)
			}
		}
	}
	add(r.OnDuty(m.At))
	if len(to) == 0 {
		add(r.Escalation())
	}
	if len(to) == 0 {
		return nil, ticketing.JobSpec{}, false
	}
	who := firstNonEmpty(m.Name, "未知来电者")
	number := firstNonEmpty(m.Number, "未知号码")
	var b strings.Builder
	fmt.Fprintf(&b, "未接来电，请尽快回拨。\n\n来电者：%s\n号码：%s\n时间：%s\n原因：%s\n",
		who, number, m.At.In(r.Location()).Format("2006-01-02 15:04:05"), m.Reason)
	if m.Ticket != "" {
		fmt.Fprintf(&b, "工单：%s\n", m.Ticket)
	}
	if m.Withheld {
		b.WriteString("\n来电者要求隐藏号码：请勿向第三方透露。\n")
	}
	job, err := MailJob(0, OutboundMail{Purpose: "notify", To: to, Subject: fmt.Sprintf("未接来电 %s %s，请回拨", who, number),
		Text: b.String(), AutoSubmitted: "auto-generated"}, "callback:"+m.CallID)
	if err != nil {
		return nil, ticketing.JobSpec{}, false
	}
	return to, job, true
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func firstNonEmpty(xs ...string) string {
	for _, x := range xs {
		if x != "" {
			return x
		}
	}
	return ""
}
