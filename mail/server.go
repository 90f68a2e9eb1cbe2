// Package mail is the e-mail channel: an SMTP server (go-smtp) that takes
// mail for the desk's addresses only, parses it (go-message, every charset
// Chinese mail uses), and turns each message into a ticket, or appends it
// to the ticket it answers. It answers 250 only after the intake has
// committed the message and its ticket, and 451 when the store cannot, so
// that the sender retries and nothing is lost.
//
// Outbound mail (the acknowledgement) is not sent here: it is a durable
// job committed with the ticket and sent by mail/outbox.
package mail

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/hotline-desk/hotline/channels"
	"github.com/hotline-desk/hotline/metrics"
)

// Intake is where mail goes: the ticket intake. Submit returns after the
// commit; Record adds a bounce to the ticket of the message it reports on.
type Intake interface {
	Submit(ctx context.Context, c channels.Contact) (channels.Receipt, error)
	Record(ctx context.Context, n channels.Note) error
}

// Fax takes the documents of fax-provider mail (the fax channel).
type Fax interface {
	Ingest(ctx context.Context, d channels.FaxDocument) (channels.Receipt, error)
}

// Config is the SMTP server's configuration (smtp: and parts of desk:,
// mail: and fax: in the YAML).
type Config struct {
	Hostname        string
	Addresses       []string // the desk's addresses: the only recipients
	MaxMessageBytes int64
	MaxRecipients   int
	// TLS, when set, enables STARTTLS.
	TLS *tls.Config
	// Users may authenticate with AUTH PLAIN (user → password).
	Users       map[string]string
	RequireAuth bool
	// Per-client limits; 0 is none. Trusted networks and authenticated
	// clients are exempt.
	MaxConnectionsPerClient int
	MaxMessagesPerMinute    int
	Trusted                 []netip.Prefix
	IdleTimeout             time.Duration // waiting for a command
	ReadTimeout             time.Duration // a stall inside DATA
	// SubmitTimeout bounds the commit of one message; past it the sender
	// gets 451 and retries.
	SubmitTimeout time.Duration
	// TicketPrefix is the prefix of ticket tags in subjects ([HL-…]).
	TicketPrefix string
	// MaxLineLength bounds a line of a command or of a message (default
	// 1 MiB); a longer line cuts the message short and it is refused.
	MaxLineLength int
	// FaxSenders are the addresses (or @domains) whose mail with TIFF or
	// PDF files is fax input.
	FaxSenders []string
	// Ack configures the acknowledgement of new mail tickets.
	Ack AckConfig
	Now func() time.Time
}

// Server is the SMTP server of the mail channel.
type Server struct {
	cfg    Config
	intake Intake
	fax    Fax
	mon    *metrics.Mail
	log    *slog.Logger
	desk   map[string]bool
	tag    tagMatcher
	limits *clientLimits
	acks   *window[string] // acknowledgements this instance queued per address

	ctx context.Context // the serving context: ends on shutdown
	srv *smtp.Server
}

// New makes a server. fax may be nil: fax-provider mail is then ordinary
// mail.
func New(cfg Config, in Intake, fax Fax, mon *metrics.Mail, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Hostname == "" {
		cfg.Hostname = "localhost"
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 5 * time.Minute
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = time.Minute
	}
	if cfg.SubmitTimeout <= 0 {
		cfg.SubmitTimeout = 30 * time.Second
	}
	if cfg.TicketPrefix == "" {
		cfg.TicketPrefix = "HL"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, intake: in, fax: fax, mon: mon, log: log, desk: map[string]bool{},
		tag: newTagMatcher(cfg.TicketPrefix), ctx: context.Background()}
	for _, a := range cfg.Addresses {
		s.desk[strings.ToLower(strings.TrimSpace(a))] = true
	}
	// This instance counts the acknowledgements it queued per address in
	// the last hour. It may only hold back what the store's limit would
	// refuse anyway: PerHour jobs already queued for an address will use
	// up its PerHour grants.
	s.acks = newWindow[string](cfg.Ack.PerHour, time.Hour, 100000)
	s.limits = newClientLimits(cfg.MaxConnectionsPerClient, cfg.MaxMessagesPerMinute, cfg.Trusted, cfg.Now)
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = cfg.Hostname
	srv.MaxMessageBytes = cfg.MaxMessageBytes
	srv.MaxRecipients = cfg.MaxRecipients
	// Real mail has lines far over RFC 5321's 1000 (HTML on one line);
	// Postfix takes them, so must we. A line over this cuts the message
	// short, which is refused (see readMessage), never accepted.
	srv.MaxLineLength = cfg.MaxLineLength
	if srv.MaxLineLength <= 0 {
		srv.MaxLineLength = maxLineLength
	}
	srv.ReadTimeout = cfg.IdleTimeout
	srv.WriteTimeout = time.Minute
	srv.TLSConfig = cfg.TLS
	srv.EnableSMTPUTF8 = true
	// AUTH is offered on loopback and after STARTTLS; Auth refuses it on
	// a plain connection from elsewhere.
	srv.AllowInsecureAuth = len(cfg.Users) > 0
	srv.ErrorLog = slogPrintf{log}
	s.srv = srv
	return s
}

// maxHops is how many Received headers a message may carry (Postfix's
// hopcount_limit).
const maxHops = 50

// maxLineLength bounds one line of a command or of a message.
const maxLineLength = 1 << 20

// Serve answers SMTP on ln until ctx ends, then lets the messages in
// flight finish (up to a few seconds) and closes every connection.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.ctx = ctx
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.limits.listener(ln, s)) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil {
		s.srv.Close()
	}
	<-errc
	return nil
}

type slogPrintf struct{ log *slog.Logger }

func (l slogPrintf) Printf(format string, v ...any) { l.log.Warn("smtp: " + fmt.Sprintf(format, v...)) }
func (l slogPrintf) Println(v ...any)               { l.log.Warn("smtp: " + fmt.Sprint(v...)) }

// The SMTP answers of the channel, as typed values (go-smtp writes them).
var (
	errNotDesk = func(rcpt string) error {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
			Message: fmt.Sprintf("<%s>: no such mailbox here; this server is not a relay", rcpt)}
	}
	errStoreDown = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0},
		Message: "Requested action aborted: the message could not be stored now, please retry"}
	errRateLimited = &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 7, 1},
		Message: "Too many messages from your address, please retry later"}
	errAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0},
		Message: "Authentication required"}
	errEncryptionRequired = &smtp.SMTPError{Code: 538, EnhancedCode: smtp.EnhancedCode{5, 7, 11},
		Message: "Encryption required for authentication"}
	errLineTooLong = &smtp.SMTPError{Code: 500, EnhancedCode: smtp.EnhancedCode{5, 5, 6},
		Message: "Line too long; the message was not accepted"}
	errDataTimeout = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 2},
		Message: "Timeout reading the message; it was not accepted"}
	errCutShort = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0},
		Message: "The message was cut short and was not accepted"}
	errInvalid = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0},
		Message: "The message could not be taken as a ticket"}
	errLoop = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 4, 6},
		Message: "Too many Received headers: a mail loop"}
)

// session is one SMTP connection's state.
type session struct {
	s      *Server
	conn   *smtp.Conn
	client netip.Addr
	exempt bool // trusted network or authenticated
	user   string
	from   string
	rcpts  []string
	buf    bytes.Buffer // DATA is read here (readMessage)
}

// maxKeptBuffer is the largest read buffer a session keeps between
// messages: one large message should not pin its size for the session.
const maxKeptBuffer = 1 << 20

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	ss := &session{s: s, conn: c, client: remoteAddr(c.Conn())}
	ss.exempt = s.limits.trusted(ss.client)
	return ss, nil
}

func remoteAddr(c net.Conn) netip.Addr {
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

func (ss *session) AuthMechanisms() []string {
	if len(ss.s.cfg.Users) == 0 {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain || len(ss.s.cfg.Users) == 0 {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	if _, isTLS := ss.conn.TLSConnectionState(); !isTLS && !ss.client.IsLoopback() {
		return nil, errEncryptionRequired
	}
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		want, ok := ss.s.cfg.Users[user]
		if !ok || !constantTimeEqual(want, pass) || (identity != "" && identity != user) {
			return smtp.ErrAuthFailed
		}
		ss.user, ss.exempt = user, true
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.cfg.RequireAuth && ss.user == "" && !ss.s.limits.trusted(ss.client) {
		ss.s.mon.MessageRejected("auth")
		return errAuthRequired
	}
	if !ss.exempt && !ss.s.limits.allowMessage(ss.client) {
		ss.s.mon.MessageTempFailed("rate")
		return errRateLimited
	}
	ss.from = strings.ToLower(strings.TrimSpace(from))
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	addr := strings.ToLower(strings.TrimSpace(to))
	if !ss.s.desk[addr] {
		ss.s.mon.MessageRejected("recipient")
		return errNotDesk(to)
	}
	for _, r := range ss.rcpts {
		if r == addr {
			return nil
		}
	}
	ss.rcpts = append(ss.rcpts, addr)
	return nil
}

func (ss *session) Reset() {
	ss.from, ss.rcpts = "", nil
}

func (ss *session) Logout() error { return nil }

// Data reads the message whole, then hands it to the intake. It returns
// nil (250) only when the message is committed.
func (ss *session) Data(r io.Reader) error {
	raw, err := ss.readMessage(r)
	if err != nil {
		return err
	}
	env := Envelope{From: ss.from, To: ss.rcpts, Client: ss.client.String(), Helo: ss.conn.Hostname(), User: ss.user}
	ctx, cancel := context.WithTimeout(ss.s.ctx, ss.s.cfg.SubmitTimeout)
	defer cancel()
	_, err = ss.s.Deliver(ctx, env, raw)
	return err
}

// readMessage reads the DATA stream to its end. Any read error means the
// message was cut short, and is answered with an error, never 250:
// go-smtp would answer 250 if the backend ignored it.
func (ss *session) readMessage(r io.Reader) ([]byte, error) {
	conn := ss.conn.Conn()
	dr := &deadlineReader{r: r, conn: conn, timeout: ss.s.cfg.ReadTimeout}
	// The message is read into the session's buffer, which keeps its size
	// from one message to the next, and then copied out at its exact size:
	// reading into a fresh buffer grew it by doubling, about three times a
	// message's size in garbage for each message.
	ss.buf.Reset()
	defer func() {
		if ss.buf.Cap() > maxKeptBuffer {
			ss.buf = bytes.Buffer{}
		}
	}()
	_, err := ss.buf.ReadFrom(dr)
	// The command loop sets its own deadline for the next command.
	if err == nil {
		return bytes.Clone(ss.buf.Bytes()), nil
	}
	var smtpErr *smtp.SMTPError
	var netErr net.Error
	switch {
	case errors.As(err, &smtpErr):
		if smtpErr.Code == 552 {
			ss.s.mon.MessageRejected("size")
		} else {
			ss.s.mon.MessageTempFailed("cut_short")
		}
		return nil, smtpErr
	case errors.Is(err, smtp.ErrTooLongLine):
		ss.s.mon.MessageRejected("line_too_long")
		return nil, errLineTooLong
	case errors.As(err, &netErr) && netErr.Timeout():
		ss.s.mon.MessageTempFailed("timeout")
		return nil, errDataTimeout
	default:
		ss.s.mon.MessageTempFailed("cut_short")
		return nil, errCutShort
	}
}

// deadlineReader pushes the read deadline forward while data flows, so
// that a large message may take long but a stalled one cannot.
type deadlineReader struct {
	r       io.Reader
	conn    net.Conn
	timeout time.Duration
	set     time.Time
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	if now := time.Now(); now.Sub(d.set) > time.Second {
		d.conn.SetReadDeadline(now.Add(d.timeout))
		d.set = now
	}
	return d.r.Read(p)
}

// Envelope is the SMTP transaction around a message.
type Envelope struct {
	From   string // "" for the null sender of bounces
	To     []string
	Client string
	Helo   string
	User   string // the authenticated user, if any
}

// Outcome says what became of a delivered message.
type Outcome struct {
	Kind    string // ticket, appended, duplicate, bounce, bounce_unmatched, fax
	Ticket  string
	Tickets []string // fax: one per document
}

// Deliver turns a received message into a ticket (or an appended contact,
// a bounce note, fax documents). It returns nil only after the commit; its
// errors are SMTP answers (*smtp.SMTPError).
func (s *Server) Deliver(ctx context.Context, env Envelope, raw []byte) (Outcome, error) {
	m := Parse(raw)
	// RFC 5321 §6.3: a message that went round too many hops is looping.
	if len(m.Header.Values("Received")) > maxHops {
		s.mon.MessageRejected("loop")
		return Outcome{}, errLoop
	}
	var out Outcome
	var err error
	switch {
	case s.fax != nil && s.isFaxSender(env, m) && len(faxDocuments(m)) > 0:
		out, err = s.deliverFax(ctx, env, m, raw)
	case isBounce(m):
		out, err = s.deliverBounce(ctx, env, m, raw)
	default:
		out, err = s.deliverContact(ctx, env, m, raw)
	}
	if err != nil {
		var smtpErr *smtp.SMTPError
		if errors.As(err, &smtpErr) {
			if smtpErr.Temporary() {
				s.mon.MessageTempFailed("store")
			} else {
				s.mon.MessageRejected("invalid")
			}
			return out, smtpErr
		}
		s.mon.MessageTempFailed("store")
		return out, errStoreDown
	}
	s.mon.MessageAccepted(out.Kind)
	return out, nil
}

// messageKey is the idempotency key of a message: its Message-ID, or the
// digest of its bytes when it has none.
func messageKey(m *Message, raw []byte) string {
	if m.MessageID != "" {
		return m.MessageID
	}
	sum := sha256.Sum256(raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func constantTimeEqual(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var v byte
	for i := 0; i < len(a); i++ {
		v |= a[i] ^ b[i]
	}
	return v == 0
}

// clientLimits enforces the per-client connection and message limits.
type clientLimits struct {
	maxConns   int
	perMinute  int
	trustedNet []netip.Prefix
	now        func() time.Time

	mu    sync.Mutex
	conns map[netip.Addr]int
	sent  *window[netip.Addr]
}

func newClientLimits(maxConns, perMinute int, trusted []netip.Prefix, now func() time.Time) *clientLimits {
	return &clientLimits{maxConns: maxConns, perMinute: perMinute, trustedNet: trusted, now: now,
		conns: map[netip.Addr]int{}, sent: newWindow[netip.Addr](perMinute, time.Minute, 10000)}
}

func (l *clientLimits) trusted(a netip.Addr) bool {
	for _, p := range l.trustedNet {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// allowMessage counts one message of a client in a sliding minute.
func (l *clientLimits) allowMessage(a netip.Addr) bool {
	return l.sent.take(a, l.now())
}

// listener refuses connections over the per-client limit with 421 before
// go-smtp sees them.
func (l *clientLimits) listener(ln net.Listener, s *Server) net.Listener {
	return &limitListener{Listener: ln, l: l, s: s}
}

type limitListener struct {
	net.Listener
	l *clientLimits
	s *Server
}

func (ll *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := ll.Listener.Accept()
		if err != nil {
			return nil, err
		}
		a := remoteAddr(c)
		l := ll.l
		if l.maxConns > 0 && !l.trusted(a) {
			l.mu.Lock()
			over := l.conns[a] >= l.maxConns
			if !over {
				l.conns[a]++
			}
			l.mu.Unlock()
			if over {
				ll.s.mon.SessionRefused()
				go refuse(c, ll.s.cfg.Hostname)
				continue
			}
		}
		ll.s.mon.SessionOpened()
		return &countedConn{Conn: c, release: func() {
			ll.s.mon.SessionClosed()
			if l.maxConns > 0 && !l.trusted(a) {
				l.mu.Lock()
				if l.conns[a]--; l.conns[a] <= 0 {
					delete(l.conns, a)
				}
				l.mu.Unlock()
			}
		}}, nil
	}
}

func refuse(c net.Conn, host string) {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "421 4.7.0 %s Too many connections from your address, try again later\r\n", host)
	c.Close()
}

type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *countedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}
