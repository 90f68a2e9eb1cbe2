// Package outbox sends Hotline's outbound e-mail: the handler of the
// durable channels.JobMailSend job. Acknowledgements, fax-to-mail and
// notifications are all queued as such jobs, committed with the change that
// caused them, and sent here through the configured relay with retries.
package outbox

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/smtp"
	"net/textproto"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"

	"github.com/hotline-desk/hotline/channels"
	"github.com/hotline-desk/hotline/jobs"
	"github.com/hotline-desk/hotline/metrics"
	"github.com/hotline-desk/hotline/ticketing"
)

// Tickets is what the sender needs of the ticket core.
type Tickets interface {
	Ticket(ctx context.Context, id int64) (*ticketing.Ticket, error)
	Attachment(ctx context.Context, id int64) (*ticketing.Attachment, []byte, error)
	Annotate(ctx context.Context, ticketID int64, key ticketing.ContactKey, threadKeys []string, events ...ticketing.Event) error
}

type Config struct {
	// Relay is the SMTP relay's host:port. Empty: no mail is sent, and
	// every mail job fails for good with a clear reason.
	Relay string
	// From is the desk's address; DeskName its display name.
	From     string
	DeskName string
	// Hostname names this gateway in Message-IDs and EHLO.
	Hostname string
	Timeout  time.Duration
	// AckPerHour caps the acknowledgements ("ack" mails) one address gets
	// in an hour, counted in the store across instances (0: no cap). It
	// needs Tickets to be an AckLimiter.
	AckPerHour int
}

// AckLimiter is the optional capability of Tickets that counts
// acknowledgements per address (channels.Intake has it).
type AckLimiter interface {
	MailAckClaim(ctx context.Context, address string, jobID int64, limit int, window time.Duration) (bool, error)
}

// Sender renders and relays outbound mail.
type Sender struct {
	tickets Tickets
	cfg     Config
	mon     *metrics.Outbox
	log     *slog.Logger
}

func New(t Tickets, cfg Config, mon *metrics.Outbox, log *slog.Logger) *Sender {
	if cfg.Hostname == "" {
		cfg.Hostname = "localhost"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sender{tickets: t, cfg: cfg, mon: mon, log: log}
}

var _ jobs.Handler = (*Sender)(nil)

// MessageID is the Message-ID of a job's mail. It depends only on the job,
// so a retry after a crash sends the same message, which receivers can
// de-duplicate, and replies to either copy thread alike.
func (s *Sender) MessageID(j *ticketing.Job) string {
	return fmt.Sprintf("hl.%d.%d@%s", j.ID, j.CreatedAt.UnixMicro(), s.cfg.Hostname)
}

// Work sends one mail job.
func (s *Sender) Work(ctx context.Context, j *ticketing.Job) error {
	var m channels.OutboundMail
	if err := json.Unmarshal(j.Args, &m); err != nil {
		return jobs.Permanent(fmt.Errorf("mail job %d: bad arguments: %w", j.ID, err))
	}
	if s.cfg.Relay == "" {
		s.mon.MailSent(m.Purpose, "no_relay")
		return jobs.Permanent(errors.New("mail.relay is not configured: the mail is not sent"))
	}
	var t *ticketing.Ticket
	if j.TicketID != 0 {
		var err error
		if t, err = s.tickets.Ticket(ctx, j.TicketID); err != nil {
			if errors.Is(err, ticketing.ErrNotFound) {
				return jobs.Permanent(err)
			}
			return err
		}
	}
	if err := attachNamed(&m, t); err != nil {
		return jobs.Permanent(fmt.Errorf("mail job %d: %w", j.ID, err))
	}
	if m.Purpose == "ack" && s.cfg.AckPerHour > 0 {
		if sent, err := s.ackAllowed(ctx, j, &m, t); err != nil || !sent {
			return err
		}
	}
	id := s.MessageID(j)
	if t != nil && sentBefore(t, id) {
		// A run that died after the relay took the mail and the ticket
		// recorded it, but before the job was marked done: sending again
		// would deliver it twice.
		s.log.Info("mail already sent; not sending it again", "ticket", t.Number, "message_id", id)
		return nil
	}
	if t != nil {
		// The thread key goes in before the mail leaves, so that even the
		// fastest reply finds its ticket.
		if err := s.tickets.Annotate(ctx, t.ID, ticketing.ContactKey{Channel: ticketing.ChannelEmail, ExternalID: "outbound:" + id},
			[]string{channels.MessageIDKey(id)}); err != nil {
			return fmt.Errorf("record Message-ID: %w", err)
		}
	}
	msg, err := s.render(ctx, j, &m, t, id)
	if err != nil {
		return err
	}
	var rcpts []string
	for _, list := range [][]string{m.To, m.Cc} {
		as, err := addresses(list)
		if err != nil {
			return jobs.Permanent(err)
		}
		for _, a := range as {
			rcpts = append(rcpts, a.Address)
		}
	}
	// Automatic replies go out with a null return path (RFC 3834 §3.3), so
	// that a bounce of a bounce cannot loop.
	envelopeFrom := s.cfg.From
	if m.AutoSubmitted == "auto-replied" {
		envelopeFrom = ""
	}
	if err := s.relay(ctx, envelopeFrom, rcpts, msg); err != nil {
		var perm permanentSMTP
		if errors.As(err, &perm) {
			s.mon.MailSent(m.Purpose, "rejected")
			return jobs.Permanent(err)
		}
		s.mon.MailSent(m.Purpose, "retry")
		return err
	}
	s.mon.MailSent(m.Purpose, "sent")
	if t != nil {
		ev := ticketing.NewEvent(time.Now(), "mail_sent", "system", map[string]any{
			"purpose": m.Purpose, "to": m.To, "cc": m.Cc, "subject": subjectFor(&m, t), "message_id": "<" + id + ">",
		})
		if err := s.tickets.Annotate(ctx, t.ID, ticketing.ContactKey{Channel: ticketing.ChannelEmail, ExternalID: "sent:" + id}, nil, ev); err != nil {
			// The mail is out; failing now would send it again.
			s.log.Warn("mail sent but not recorded on the ticket", "ticket", t.Number, "message_id", id, "error", err)
		}
	}
	return nil
}

// ackAllowed applies the per-address limit on acknowledgements, so that
// two auto-responders that answer each other stop. A held-back
// acknowledgement is noted on the ticket and its job is done.
func (s *Sender) ackAllowed(ctx context.Context, j *ticketing.Job, m *channels.OutboundMail, t *ticketing.Ticket) (bool, error) {
	lim, ok := s.tickets.(AckLimiter)
	if !ok || len(m.To) == 0 {
		return true, nil
	}
	to, err := mail.ParseAddress(m.To[0])
	if err != nil {
		return false, jobs.Permanent(fmt.Errorf("address %q: %w", m.To[0], err))
	}
	granted, err := lim.MailAckClaim(ctx, to.Address, j.ID, s.cfg.AckPerHour, time.Hour)
	if err != nil || granted {
		return granted, err
	}
	s.mon.MailSent(m.Purpose, "suppressed")
	s.log.Info("acknowledgement held back: per-sender hourly limit", "to", to.Address, "limit", s.cfg.AckPerHour, "job", j.ID)
	if t != nil {
		ev := ticketing.NewEvent(time.Now(), "mail_suppressed", "system", map[string]any{
			"purpose": m.Purpose, "to": m.To, "reason": fmt.Sprintf("more than %d acknowledgements to this address in an hour", s.cfg.AckPerHour),
		})
		if err := s.tickets.Annotate(ctx, t.ID, ticketing.ContactKey{Channel: ticketing.ChannelEmail, ExternalID: fmt.Sprintf("suppressed:%d", j.ID)}, nil, ev); err != nil {
			return false, err
		}
	}
	return false, nil
}

// attachNamed adds the ids of the ticket's files named in m.AttachNamed
// to m.Attachments.
func attachNamed(m *channels.OutboundMail, t *ticketing.Ticket) error {
	for _, name := range m.AttachNamed {
		if t == nil {
			return errors.New("attachments need a ticket")
		}
		i := slices.IndexFunc(t.Attachments, func(a ticketing.Attachment) bool { return a.Name == name })
		if i < 0 {
			return fmt.Errorf("ticket %s has no file %q to attach", t.Number, name)
		}
		if id := t.Attachments[i].ID; !slices.Contains(m.Attachments, id) {
			m.Attachments = append(m.Attachments, id)
		}
	}
	return nil
}

// sentBefore reports whether the ticket's timeline records the mail with
// this Message-ID as sent.
func sentBefore(t *ticketing.Ticket, id string) bool {
	for _, e := range t.Events {
		if e.Type != "mail_sent" {
			continue
		}
		var d struct {
			MessageID string `json:"message_id"`
		}
		if json.Unmarshal(e.Data, &d) == nil && d.MessageID == "<"+id+">" {
			return true
		}
	}
	return false
}

// expand fills channels.TicketPlaceholder with the ticket's number.
func expand(s string, t *ticketing.Ticket) string {
	if t == nil {
		return s
	}
	return strings.ReplaceAll(s, channels.TicketPlaceholder, t.Number)
}

func subjectFor(m *channels.OutboundMail, t *ticketing.Ticket) string {
	subject := expand(m.Subject, t)
	if t == nil || strings.Contains(subject, "["+t.Number+"]") {
		return subject
	}
	return strings.TrimSpace(subject + " [" + t.Number + "]")
}

func (s *Sender) render(ctx context.Context, j *ticketing.Job, m *channels.OutboundMail, t *ticketing.Ticket, id string) ([]byte, error) {
	var h mail.Header
	h.SetDate(time.Now())
	from := &mail.Address{Name: s.cfg.DeskName, Address: s.cfg.From}
	h.SetAddressList("From", []*mail.Address{from})
	to, err := addresses(m.To)
	if err != nil {
		return nil, jobs.Permanent(err)
	}
	h.SetAddressList("To", to)
	if len(m.Cc) > 0 {
		cc, err := addresses(m.Cc)
		if err != nil {
			return nil, jobs.Permanent(err)
		}
		h.SetAddressList("Cc", cc)
	}
	h.SetSubject(subjectFor(m, t))
	h.SetMessageID(id)
	if m.InReplyTo != "" {
		h.SetMsgIDList("In-Reply-To", []string{strings.Trim(m.InReplyTo, "<> ")})
	}
	if len(m.References) > 0 {
		var refs []string
		for _, r := range m.References {
			refs = append(refs, strings.Trim(r, "<> "))
		}
		h.SetMsgIDList("References", refs)
	}
	if m.AutoSubmitted != "" {
		h.Set("Auto-Submitted", m.AutoSubmitted)
		// Microsoft's equivalent, which Exchange honours.
		h.Set("X-Auto-Response-Suppress", "All")
	}
	if t != nil {
		h.Set("X-Hotline-Ticket", t.Number)
	}
	var buf bytes.Buffer
	w, err := mail.CreateWriter(&buf, h)
	if err != nil {
		return nil, err
	}
	body := *m
	body.Text, body.HTML = expand(m.Text, t), expand(m.HTML, t)
	if err := writeBody(w, &body); err != nil {
		return nil, err
	}
	for _, aid := range m.Attachments {
		if t == nil {
			return nil, jobs.Permanent(errors.New("attachments need a ticket"))
		}
		a, data, err := s.tickets.Attachment(ctx, aid)
		if errors.Is(err, ticketing.ErrNotFound) {
			return nil, jobs.Permanent(fmt.Errorf("attachment %d: %w", aid, err))
		}
		if err != nil {
			return nil, err
		}
		var ah mail.AttachmentHeader
		ah.Set("Content-Type", a.ContentType)
		ah.SetFilename(a.Name)
		aw, err := w.CreateAttachment(ah)
		if err != nil {
			return nil, err
		}
		if _, err := aw.Write(data); err != nil {
			return nil, err
		}
		if err := aw.Close(); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeBody(w *mail.Writer, m *channels.OutboundMail) error {
	iw, err := w.CreateInline()
	if err != nil {
		return err
	}
	parts := []struct{ ctype, body string }{{"text/plain", m.Text}}
	if m.HTML != "" {
		parts = append(parts, struct{ ctype, body string }{"text/html", m.HTML})
	}
	for _, p := range parts {
		var ph mail.InlineHeader
		ph.Set("Content-Type", mime.FormatMediaType(p.ctype, map[string]string{"charset": "utf-8"}))
		ph.Set("Content-Transfer-Encoding", "base64")
		pw, err := iw.CreatePart(ph)
		if err != nil {
			return err
		}
		if _, err := pw.Write([]byte(p.body)); err != nil {
			return err
		}
		if err := pw.Close(); err != nil {
			return err
		}
	}
	return iw.Close()
}

func addresses(list []string) ([]*mail.Address, error) {
	out := make([]*mail.Address, 0, len(list))
	for _, a := range list {
		p, err := mail.ParseAddress(a)
		if err != nil {
			return nil, fmt.Errorf("address %q: %w", a, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// permanentSMTP is a 5xx answer: the relay will never take this mail.
type permanentSMTP struct{ err error }

func (p permanentSMTP) Error() string { return p.err.Error() }
func (p permanentSMTP) Unwrap() error { return p.err }

// relay hands the message to the relay over SMTP.
func (s *Sender) relay(ctx context.Context, from string, rcpts []string, msg []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.cfg.Relay)
	if err != nil {
		return fmt.Errorf("relay %s: %w", s.cfg.Relay, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	host, _, _ := net.SplitHostPort(s.cfg.Relay)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return classify(fmt.Errorf("relay %s: %w", s.cfg.Relay, err))
	}
	defer c.Close()
	if err := c.Hello(s.cfg.Hostname); err != nil {
		return classify(fmt.Errorf("relay EHLO: %w", err))
	}
	if ok, _ := c.Extension("STARTTLS"); ok && !isLoopback(host) {
		if err := c.StartTLS(&tls.Config{ServerName: host}); err != nil {
			return fmt.Errorf("relay STARTTLS: %w", err)
		}
	}
	if err := c.Mail(from); err != nil {
		return classify(fmt.Errorf("relay MAIL FROM: %w", err))
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r); err != nil {
			return classify(fmt.Errorf("relay RCPT TO %s: %w", r, err))
		}
	}
	w, err := c.Data()
	if err != nil {
		return classify(fmt.Errorf("relay DATA: %w", err))
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("relay DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return classify(fmt.Errorf("relay end of DATA: %w", err))
	}
	return c.Quit()
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// classify marks 5xx replies permanent; 4xx and network errors retry.
func classify(err error) error {
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return permanentSMTP{err}
	}
	return err
}
