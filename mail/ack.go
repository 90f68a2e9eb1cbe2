package mail

import (
	"strings"

	"github.com/hotline-desk/hotline/channels"
	"github.com/hotline-desk/hotline/ticketing"
)

// AckConfig is how new mail tickets are acknowledged.
type AckConfig struct {
	// Enabled is mail.acknowledge, and false when no relay is configured
	// (there would be no way to send it).
	Enabled  bool
	DeskName string
	// ConsoleURL is not put in mails to customers: the console is for
	// agents. It is here for notifications that may need it later.
	ConsoleURL string
	// PerHour is mail.acknowledge_per_hour. The outbox enforces it across
	// instances, in the store, when it sends; the server only stops
	// queueing acknowledgements that this instance already queued PerHour
	// of for the address in the hour, so that a flood from one robot does
	// not queue a job per message only for each to be held back.
	PerHour int
}

// ackFor makes the acknowledgement job of a new mail ticket, or says why
// there is none. The job is committed with the ticket; the outbox sends
// it, applies the per-sender hourly limit, and fills in the number.
func (s *Server) ackFor(m *Message, env Envelope, key, auto string) (*ticketing.JobSpec, string) {
	if !s.cfg.Ack.Enabled {
		return nil, "disabled"
	}
	if auto != "" {
		return nil, "auto_generated"
	}
	// RFC 3834 §4: a service's answer goes to the Reply-To or From of the
	// request; robots' addresses were ruled out by autoReason.
	var to *Address
	switch {
	case len(m.ReplyTo) > 0:
		to = &m.ReplyTo[0]
	case m.From != nil:
		to = m.From
	case env.From != "":
		to = &Address{Address: env.From}
	}
	if to == nil || s.desk[to.Address] {
		return nil, "no_address"
	}
	if !s.acks.take(to.Address, s.cfg.Now()) {
		return nil, "rate_limit"
	}
	subject := m.Subject
	if strings.TrimSpace(subject) == "" {
		subject = ticketing.NoSubject
	}
	out := channels.OutboundMail{
		Purpose:       "ack",
		To:            []string{formatAddress(*to)},
		Subject:       "已受理：" + clip(subject, 200),
		Text:          ackText(s.cfg.Ack.DeskName, subject),
		AutoSubmitted: "auto-replied",
	}
	if m.MessageID != "" {
		out.InReplyTo = m.MessageID
		out.References = append(lastN(m.References, maxThreadKeys-1), m.MessageID)
	}
	job, err := channels.MailJob(0, out, "ack:"+key)
	if err != nil {
		return nil, "no_address"
	}
	return &job, ""
}

// ackText is the acknowledgement's body, in Chinese: the ticket number,
// the subject, and what happens next.
func ackText(desk, subject string) string {
	if desk == "" {
		desk = "服务台"
	}
	t := channels.TicketPlaceholder
	var b strings.Builder
	b.WriteString("您好，\n\n")
	b.WriteString("我们已收到您的邮件，并已登记为工单 " + t + "。\n\n")
	b.WriteString("工单号：" + t + "\n")
	b.WriteString("主题：" + subject + "\n\n")
	b.WriteString("接下来：服务台工程师会尽快查看并处理您的问题，处理进展和结果将通过邮件告知您。\n")
	b.WriteString("如需补充信息或附件，请直接回复本邮件，并保留主题中的 [" + t + "]，您的回复会自动归入同一工单。\n")
	b.WriteString("紧急问题请拨打服务台热线。\n\n")
	b.WriteString("此邮件由系统自动发送。\n\n")
	b.WriteString(desk + "\n")
	b.WriteString("\n--\nWe have received your message and recorded it as ticket " + t +
		". Reply to this mail, keeping [" + t + "] in the subject, to add to it.\n")
	return b.String()
}
