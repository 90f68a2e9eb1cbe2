package mail

import (
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/hotline-desk/hotline/channels"
	"github.com/hotline-desk/hotline/ticketing"
)

// maxThreadKeys bounds the References a message may thread by: the most
// recent ones name the conversation.
const maxThreadKeys = 50

type tagMatcher struct{ re *regexp.Regexp }

func newTagMatcher(prefix string) tagMatcher { return tagMatcher{TagPattern(prefix)} }

// find returns the ticket number tagged in s ("" if none).
func (t tagMatcher) find(s string) string {
	if m := t.re.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

// deliverContact makes the message a ticket or appends it to the ticket
// it continues.
func (s *Server) deliverContact(ctx context.Context, env Envelope, m *Message, raw []byte) (Outcome, error) {
	key := messageKey(m, raw)
	c := channels.Contact{
		Channel:    ticketing.ChannelEmail,
		ExternalID: key,
		Reference:  s.tag.find(m.Subject),
		Subject:    m.Subject,
		ReceivedAt: s.cfg.Now(),
		Metadata:   s.metadata(env, m),
	}
	if m.MessageID != "" {
		c.ThreadKeys = append(c.ThreadKeys, channels.MessageIDKey(m.MessageID))
	}
	refs := append(append([]string(nil), m.InReplyTo...), lastN(m.References, maxThreadKeys)...)
	for _, id := range refs {
		k := channels.MessageIDKey(id)
		if !containsString(c.ThreadKeys, k) {
			c.ThreadKeys = append(c.ThreadKeys, k)
		}
	}
	caller := s.caller(env, m)
	if caller != nil {
		c.Caller = ticketing.Party{Name: caller.Name, Email: caller.Address}
	}
	for _, list := range [][]Address{m.To, m.Cc} {
		for _, a := range list {
			if !s.desk[a.Address] && (caller == nil || a.Address != caller.Address) && !containsString(c.Participants, a.Address) {
				c.Participants = append(c.Participants, a.Address)
			}
		}
	}
	c.Body = m.Text
	if looksLikeReply(m) {
		c.Body = trimQuoted(m.Text)
	}
	c.Attachments = append(c.Attachments, channels.Attachment{Name: "message.eml", ContentType: "message/rfc822", Data: raw})
	for _, p := range m.Attachments {
		c.Attachments = append(c.Attachments, channels.Attachment{Name: p.Name, ContentType: p.ContentType, Data: p.Data})
	}
	if len(m.Notes) > 0 {
		c.Events = append(c.Events, ticketing.NewEvent(c.ReceivedAt, "mail_degraded", "channel:email",
			map[string]any{"message_id": key, "notes": m.Notes}))
	}
	auto := autoReason(m, env.From)
	if auto != "" {
		c.Metadata["auto_generated"] = auto
	}
	ack, why := s.ackFor(m, env, key, auto)
	if ack != nil {
		c.OpenJobs = append(c.OpenJobs, *ack)
	}
	r, err := s.intake.Submit(ctx, c)
	if err != nil {
		if errors.Is(err, ticketing.ErrInvalid) {
			s.log.Warn("mail refused by the intake", "message_id", key, "error", err)
			return Outcome{}, errInvalid
		}
		s.log.Warn("mail not stored; answering 451", "message_id", key, "error", err)
		return Outcome{}, errStoreDown
	}
	out := Outcome{Kind: "appended", Ticket: r.Ticket}
	switch {
	case r.Duplicate:
		out.Kind = "duplicate"
	case r.Created:
		out.Kind = "ticket"
		if ack != nil {
			s.mon.AckQueued()
		} else {
			s.mon.AckSuppressed(why)
		}
	}
	s.log.Debug("mail delivered", "message_id", key, "ticket", r.Ticket, "outcome", out.Kind, "auto", auto)
	return out, nil
}

// caller is who wrote the message: From, else Sender, else the envelope.
func (s *Server) caller(env Envelope, m *Message) *Address {
	switch {
	case m.From != nil:
		return m.From
	case m.Sender != nil:
		return m.Sender
	case env.From != "":
		return &Address{Address: env.From}
	}
	return nil
}

func (s *Server) metadata(env Envelope, m *Message) map[string]string {
	md := map[string]string{
		"envelope_from": env.From,
		"envelope_to":   strings.Join(env.To, ", "),
	}
	if env.Client != "" {
		md["client"] = env.Client
	}
	if env.Helo != "" {
		md["helo"] = clip(clean(env.Helo), 255)
	}
	if env.User != "" {
		md["smtp_user"] = env.User
	}
	if m.MessageID != "" {
		md["message_id"] = "<" + m.MessageID + ">"
	}
	if len(m.InReplyTo) > 0 {
		md["in_reply_to"] = "<" + strings.Join(m.InReplyTo, "> <") + ">"
	}
	if !m.Date.IsZero() {
		md["date"] = m.Date.Format("2006-01-02T15:04:05Z07:00")
	}
	if m.From != nil {
		md["from"] = formatAddress(*m.From)
	}
	if len(m.To) > 0 {
		md["to"] = formatAddresses(m.To)
	}
	if len(m.Cc) > 0 {
		md["cc"] = formatAddresses(m.Cc)
	}
	if m.TextFromHTML {
		md["body_from"] = "html"
	}
	return md
}

func formatAddress(a Address) string {
	if a.Name == "" {
		return a.Address
	}
	return a.Name + " <" + a.Address + ">"
}

func formatAddresses(as []Address) string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = formatAddress(a)
	}
	return clip(strings.Join(out, ", "), 4000)
}

func lastN(xs []string, n int) []string {
	if len(xs) <= n {
		return xs
	}
	return xs[len(xs)-n:]
}

func containsString(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// deliverBounce adds a DSN to the ticket of the message it reports on:
// found by that message's Message-ID, which the outbox recorded when it
// sent it (or, for a customer's own message, its contact key). A bounce
// never makes a ticket; one about a message the desk does not know
// (backscatter) is accepted, logged and counted.
func (s *Server) deliverBounce(ctx context.Context, env Envelope, m *Message, raw []byte) (Outcome, error) {
	key := messageKey(m, raw)
	ids := append(append(append([]string(nil), m.Report.MessageIDs...), m.InReplyTo...), m.References...)
	data := map[string]any{"message_id": key, "reported": ids, "recipients": m.Report.Recipients, "subject": m.Subject}
	action := "failed"
	if len(m.Report.Recipients) > 0 && m.Report.Recipients[0].Action != "" {
		action = m.Report.Recipients[0].Action
	}
	data["action"] = action
	note := channels.Note{
		ID:          "bounce:" + key,
		Events:      []ticketing.Event{ticketing.NewEvent(s.cfg.Now(), "mail_bounced", "channel:email", data)},
		Attachments: []channels.Attachment{{Name: "bounce.eml", ContentType: "message/rfc822", Data: raw}},
	}
	seen := map[string]bool{}
	for _, id := range ids {
		for _, ext := range []string{"outbound:" + id, id} {
			if seen[ext] {
				continue
			}
			seen[ext] = true
			note.Ref = channels.EventRef{Channel: ticketing.ChannelEmail, ExternalID: ext}
			err := s.intake.Record(ctx, note)
			if err == nil {
				return Outcome{Kind: "bounce"}, nil
			}
			if !errors.Is(err, ticketing.ErrNotFound) {
				s.log.Warn("bounce not stored; answering 451", "message_id", key, "error", err)
				return Outcome{}, errStoreDown
			}
		}
	}
	s.log.Warn("bounce for a message the desk does not know; accepted and dropped",
		"message_id", key, "reported", strings.Join(ids, " "), "envelope_from", env.From, "subject", m.Subject)
	return Outcome{Kind: "bounce_unmatched"}, nil
}

// isFaxSender tells mail from a fax provider: its envelope sender or From
// is one of fax.senders (an address, or @domain).
func (s *Server) isFaxSender(env Envelope, m *Message) bool {
	for _, a := range []string{env.From, addrOf(m.From)} {
		if a == "" {
			continue
		}
		for _, want := range s.cfg.FaxSenders {
			want = strings.ToLower(strings.TrimSpace(want))
			if strings.HasPrefix(want, "@") && strings.HasSuffix(a, want) || a == want {
				return true
			}
		}
	}
	return false
}

// faxDocuments are the TIFF and PDF files of a fax provider's mail.
func faxDocuments(m *Message) []Part {
	var out []Part
	for _, p := range m.Attachments {
		ext := strings.ToLower(path.Ext(p.Name))
		switch {
		case p.ContentType == "image/tiff" || p.ContentType == "image/tif" || p.ContentType == "application/pdf":
		case (p.ContentType == "application/octet-stream" || strings.HasPrefix(p.ContentType, "application/x-")) &&
			(ext == ".tif" || ext == ".tiff" || ext == ".pdf"):
		default:
			continue
		}
		out = append(out, p)
	}
	return out
}

// phoneInText finds the sender's number that providers put in the subject
// or the body ("来自 021-55550100", "From: +86 21 5555 0100").
var phoneInText = regexp.MustCompile(`\+?\d[\d\- ()]{5,18}\d`)

// deliverFax hands each TIFF or PDF of a fax provider's mail to the fax
// channel, which makes the fax tickets.
func (s *Server) deliverFax(ctx context.Context, env Envelope, m *Message, raw []byte) (Outcome, error) {
	key := messageKey(m, raw)
	caller := strings.TrimSpace(phoneInText.FindString(m.Subject))
	if caller == "" {
		caller = strings.TrimSpace(phoneInText.FindString(m.Text))
	}
	out := Outcome{Kind: "fax"}
	for i, p := range faxDocuments(m) {
		d := channels.FaxDocument{
			ExternalID: fmt.Sprintf("%s#%d", key, i+1), Source: "mail", Caller: caller, Status: "SUCCESS",
			ReceivedAt: s.cfg.Now(), Name: p.Name, ContentType: p.ContentType, Data: p.Data,
			Metadata: map[string]string{"message_id": key, "subject": m.Subject, "from": addrOf(m.From), "envelope_from": env.From},
		}
		r, err := s.fax.Ingest(ctx, d)
		if err != nil {
			s.log.Warn("fax mail not stored; answering 451", "message_id", key, "part", i+1, "error", err)
			return Outcome{}, errStoreDown
		}
		out.Tickets = append(out.Tickets, r.Ticket)
	}
	if len(out.Tickets) > 0 {
		out.Ticket = out.Tickets[0]
	}
	return out, nil
}
