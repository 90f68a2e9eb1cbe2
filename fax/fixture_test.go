package fax

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline-desk/hotline/channels"
	"github.com/hotline-desk/hotline/config"
	"github.com/hotline-desk/hotline/internal/smtptest"
	"github.com/hotline-desk/hotline/jobs"
	"github.com/hotline-desk/hotline/mail/outbox"
	"github.com/hotline-desk/hotline/ticketing"
	"github.com/hotline-desk/hotline/ticketing/store/sqlite"
)

// faxMail is a fax-to-mail message as received by the relay.
type faxMail struct {
	to      []string
	subject string
	text    string
	files   map[string][]byte
}

func parseMail(t testing.TB, m smtptest.Message) faxMail {
	t.Helper()
	p := smtptest.Parse(t, m.Data)
	out := faxMail{to: m.To, text: p.Text, files: map[string][]byte{}}
	out.subject, _ = p.Header.Subject()
	for name, f := range p.Files {
		out.files[name] = f.Data
	}
	return out
}

type fixture struct {
	store   ticketing.Store
	intake  *channels.Intake
	service *Service
	sink    *smtptest.Sink
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
	f := &fixture{store: st, intake: intake, sink: smtptest.Start(t), log: log}
	f.service = NewService(intake, holder, Config{DeskAddresses: []string{"servicedesk@example.com"},
		ConsoleURL: "http://desk.example.com:8080", Location: loc}, nil, log)
	sender := outbox.New(intake, outbox.Config{Relay: f.sink.Addr, From: "servicedesk@example.com", DeskName: "慧海联创服务台",
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
