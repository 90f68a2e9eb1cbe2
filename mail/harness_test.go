package mail_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/smtp"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/hotline-desk/hotline/channels"
	"github.com/hotline-desk/hotline/jobs"
	"github.com/hotline-desk/hotline/mail"
	"github.com/hotline-desk/hotline/mail/outbox"
	"github.com/hotline-desk/hotline/metrics"
	"github.com/hotline-desk/hotline/ticketing"
	"github.com/hotline-desk/hotline/ticketing/store/sqlite"
)

const desk = "servicedesk@example.com"

// harness is the mail channel as serve wires it: a real SQLite store, the
// intake, the SMTP server on a loopback port, the job runner with the
// outbox, and a real SMTP relay (go-smtp) that receives the outbound mail.
type harness struct {
	t      *testing.T
	addr   string
	store  ticketing.Store
	desk   *ticketing.Desk
	intake *channels.Intake
	relay  *relay
	srv    *mail.Server
	mon    *metrics.Monitor
}

type harnessOpt func(cfg *mail.Config, ocfg *outbox.Config)

func newHarness(t *testing.T, opts ...harnessOpt) *harness {
	t.Helper()
	return startHarness(t, openSQLite(t), opts...)
}

// openSQLite opens and migrates a store in a temporary directory.
func openSQLite(t *testing.T) ticketing.Store {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "hotline.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

func startHarness(t *testing.T, st ticketing.Store, opts ...harnessOpt) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sh, _ := time.LoadLocation("Asia/Shanghai")
	d := ticketing.NewDesk(st, ticketing.DeskConfig{Prefix: "HL", Location: sh})
	mon := metrics.New()
	in := channels.NewIntake(d, mon, log)
	rl := startRelay(t)
	cfg := mail.Config{
		Hostname: "desk.example.com", Addresses: []string{desk, "helpdesk@example.com"},
		MaxMessageBytes: 1 << 20, MaxRecipients: 5, TicketPrefix: "HL",
		Ack: mail.AckConfig{Enabled: true, DeskName: "慧海联创服务台"},
	}
	ocfg := outbox.Config{Relay: rl.addr, From: desk, DeskName: "慧海联创服务台", Hostname: "desk.example.com", AckPerHour: 5, Timeout: 5 * time.Second}
	for _, o := range opts {
		o(&cfg, &ocfg)
	}
	srv := mail.New(cfg, in, nil, metrics.NewMail(mon), log)
	h := &harness{t: t, store: st, desk: d, intake: in, relay: rl, mon: mon}
	h.srv = h.serve(ctx, srv)
	runner := jobs.New(st, jobs.Config{Worker: "test", Poll: 20 * time.Millisecond, Log: log})
	runner.Handle(channels.JobMailSend, outbox.New(in, ocfg, metrics.NewOutbox(mon), log))
	done := make(chan struct{})
	go func() { defer close(done); runner.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		st.Close()
	})
	return h
}

func (h *harness) serve(ctx context.Context, srv *mail.Server) *mail.Server {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.t.Fatal(err)
	}
	h.addr = ln.Addr().String()
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ctx, ln) }()
	h.t.Cleanup(func() { <-done })
	return srv
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// send delivers raw over SMTP with Go's net/smtp client and returns the
// server's answer to the end of DATA (nil for 250).
func send(addr, from string, to []string, raw string) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("client.example.net"); err != nil {
		return err
	}
	if err := c.Mail(from); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, raw); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// tickets lists every ticket, oldest first.
func (h *harness) tickets() []*ticketing.Ticket {
	h.t.Helper()
	page, err := h.store.TicketList(context.Background(), ticketing.TicketListParams{Limit: 1000})
	if err != nil {
		h.t.Fatal(err)
	}
	out := page.Tickets
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func (h *harness) ticket(number string) *ticketing.Ticket {
	h.t.Helper()
	tk, err := h.store.TicketGet(context.Background(), ticketing.TicketGetParams{Number: number, Timeline: true})
	if err != nil {
		h.t.Fatalf("ticket %s: %v", number, err)
	}
	return tk
}

func eventsOf(t *ticketing.Ticket, typ string) []ticketing.Event {
	var out []ticketing.Event
	for _, e := range t.Events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// relay is a real SMTP server standing for mail.relay: it keeps what the
// outbox sends, and can answer each message like a robot would.
type relay struct {
	addr   string
	mu     sync.Mutex
	msgs   []relayed
	onMail func(m relayed)
}

type relayed struct {
	From string
	To   []string
	Data []byte
	Msg  *mail.Message
}

func startRelay(t *testing.T) *relay {
	r := &relay{}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(c *gosmtp.Conn) (gosmtp.Session, error) { return &relaySession{r: r}, nil }))
	srv.Domain = "relay.example.net"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return r
}

func (r *relay) received() []relayed {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]relayed(nil), r.msgs...)
}

// waitFor polls until cond holds or the time is up.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type relaySession struct {
	r    *relay
	from string
	to   []string
}

func (s *relaySession) Mail(from string, _ *gosmtp.MailOptions) error { s.from = from; return nil }
func (s *relaySession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *relaySession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := relayed{From: s.from, To: s.to, Data: b, Msg: mail.Parse(b)}
	s.r.mu.Lock()
	s.r.msgs = append(s.r.msgs, m)
	hook := s.r.onMail
	s.r.mu.Unlock()
	if hook != nil {
		go hook(m)
	}
	return nil
}
func (s *relaySession) Reset()        { s.from, s.to = "", nil }
func (s *relaySession) Logout() error { return nil }

// gbk encodes s in GBK (GB18030's two-byte part), as a Chinese mail client
// labelling it gb2312 does.
func gbk(t *testing.T, s string) []byte {
	t.Helper()
	b, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatalf("encode %q in GBK: %v", s, err)
	}
	return b
}

// bWords encodes b as RFC 2047 B words of at most n bytes each, so that a
// two-byte character may be split across two words, as real mailers do.
func bWords(charset string, b []byte, n int) string {
	var words []string
	for len(b) > 0 {
		k := min(n, len(b))
		words = append(words, "=?"+charset+"?B?"+base64.StdEncoding.EncodeToString(b[:k])+"?=")
		b = b[k:]
	}
	return strings.Join(words, "\r\n ")
}

func b64Lines(b []byte) string {
	s := base64.StdEncoding.EncodeToString(b)
	var out bytes.Buffer
	for len(s) > 76 {
		out.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	out.WriteString(s + "\r\n")
	return out.String()
}

func msgID(n int) string {
	return fmt.Sprintf("<test-%d-%d@client.example.net>", n, time.Now().UnixNano())
}

// metric reads a counter of the harness's monitor by its label values, in
// the order of the label names (Prometheus sorts them).
func (h *harness) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := h.mon.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for i, l := range m.GetLabel() {
				if l.GetValue() != labels[i] {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
