package fax

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-smtp"

	"github.com/hotline-desk/hotline/channels"
	"github.com/hotline-desk/hotline/config"
	"github.com/hotline-desk/hotline/jobs"
	"github.com/hotline-desk/hotline/mail/outbox"
	"github.com/hotline-desk/hotline/ticketing"
	"github.com/hotline-desk/hotline/ticketing/store/sqlite"
)

// smtpSink is a real SMTP server (go-smtp) standing in for the relay.
type smtpSink struct {
	mu   sync.Mutex
	msgs []sunk
	addr string
}

type sunk struct {
	to   []string
	data []byte
}

func (k *smtpSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{k: k}, nil }

type sinkSession struct {
	k  *smtpSink
	to []string
}

func (s *sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.k.mu.Lock()
	s.k.msgs = append(s.k.msgs, sunk{s.to, b})
	s.k.mu.Unlock()
	return nil
}
func (s *sinkSession) Reset()        { s.to = nil }
func (s *sinkSession) Logout() error { return nil }

func startSink(t testing.TB) *smtpSink {
	k := &smtpSink{}
	srv := smtp.NewServer(k)
	srv.Domain = "relay.test"
	srv.MaxMessageBytes = 64 << 20
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	k.addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return k
}

func (k *smtpSink) messages() []sunk {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]sunk(nil), k.msgs...)
}

// faxMail is a fax-to-mail message as received by the relay.
type faxMail struct {
	to      []string
	subject string
	text    string
	files   map[string][]byte
}

func parseMail(t testing.TB, m sunk) faxMail {
	t.Helper()
	mr, err := mail.CreateReader(bytes.NewReader(m.data))
	if err != nil {
		t.Fatal(err)
	}
	out := faxMail{to: m.to, files: map[string][]byte{}}
	out.subject, _ = mr.Header.Subject()
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p.Body)
		switch h := p.Header.(type) {
		case *mail.InlineHeader:
			out.text += string(b)
		case *mail.AttachmentHeader:
			name, _ := h.Filename()
			out.files[name] = b
		}
	}
	return out
}

type fixture struct {
	store   ticketing.Store
	intake  *channels.Intake
	service *Service
	sink    *smtpSink
	log     *slog.Logger
}

var testAgents = []config.Agent{
	{ID: "zhang", Name: "张工", Email: "zhang@example.com", Mobile: "+8613800000001"},
	{ID: "li", Name: "李工", Email: "li@example.com", Mobile: "+8613800000002"},
}

// newFixture is a fax service on a real SQLite store, with the outbound
// mail queue running against a real SMTP sink.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "h.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	loc, _ := time.LoadLocation("Asia/Shanghai")
	desk := ticketing.NewDesk(st, ticketing.DeskConfig{Prefix: "HL", Location: loc})
	intake := channels.NewIntake(desk, nil, log)
	// Only zhang is on duty, around the clock.
	roster, err := channels.NewRoster(testAgents, []config.Shift{{Name: "all", Days: "mon-sun", From: "00:00", To: "24:00", Agents: []string{"zhang"}}}, nil, loc)
	if err != nil {
		t.Fatal(err)
	}
	holder := &channels.RosterHolder{}
	holder.Store(roster)
	f := &fixture{store: st, intake: intake, sink: startSink(t), log: log}
	f.service = NewService(intake, holder, Config{DeskAddresses: []string{"servicedesk@example.com"},
		ConsoleURL: "http://desk.example.com:8080", Location: loc}, nil, log)
	sender := outbox.New(intake, outbox.Config{Relay: f.sink.addr, From: "servicedesk@example.com", DeskName: "慧海联创服务台",
		Hostname: "desk.example.com"}, nil, log)
	r := jobs.New(st, jobs.Config{Worker: "t", Poll: 10 * time.Millisecond, Log: log})
	r.Handle(channels.JobMailSend, sender)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return f
}

func (f *fixture) ticket(t testing.TB, id int64) *ticketing.Ticket {
	t.Helper()
	tk, err := f.intake.Ticket(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func (f *fixture) file(t testing.TB, tk *ticketing.Ticket, ctype string) []byte {
	t.Helper()
	for _, a := range tk.Attachments {
		if a.ContentType == ctype {
			_, b, err := f.intake.Attachment(context.Background(), a.ID)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	t.Fatalf("ticket %s has no %s attachment: %+v", tk.Number, ctype, tk.Attachments)
	return nil
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// pdfPagesOf writes pdf to a file and counts its pages with pdfinfo.
func pdfPagesOf(t testing.TB, pdf []byte) int {
	t.Helper()
	p := filepath.Join(t.TempDir(), "x.pdf")
	if err := os.WriteFile(p, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	n, _, _ := pdfInfo(t, p)
	return n
}

func hasEvent(tk *ticketing.Ticket, typ, contains string) bool {
	for _, e := range tk.Events {
		if e.Type == typ && strings.Contains(string(e.Data), contains) {
			return true
		}
	}
	return false
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
