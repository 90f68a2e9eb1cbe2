package outbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-smtp"

	"github.com/hotline-desk/hotline/channels"
	"github.com/hotline-desk/hotline/internal/smtptest"
	"github.com/hotline-desk/hotline/jobs"
	"github.com/hotline-desk/hotline/mail/outbox"
	"github.com/hotline-desk/hotline/ticketing"
	"github.com/hotline-desk/hotline/ticketing/store/sqlite"
)

// sink is a real SMTP server (go-smtp) that keeps what it receives, and can
// be told to refuse.
type sink struct {
	mu       sync.Mutex
	msgs     []received
	failNext []*smtp.SMTPError
	addr     string
}

type received struct {
	from string
	to   []string
	data []byte
}

func (k *sink) NewSession(c *smtp.Conn) (smtp.Session, error) { return &session{k: k}, nil }

type session struct {
	k    *sink
	from string
	to   []string
}

func (s *session) AuthPlain(string, string) error { return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.k.mu.Lock()
	defer s.k.mu.Unlock()
	if len(s.k.failNext) > 0 {
		e := s.k.failNext[0]
		s.k.failNext = s.k.failNext[1:]
		return e
	}
	s.k.msgs = append(s.k.msgs, received{s.from, s.to, b})
	return nil
}
func (s *session) Reset()        {}
func (s *session) Logout() error { return nil }

func startSink(t *testing.T) *sink {
	k := &sink{}
	srv := smtp.NewServer(k)
	srv.Domain = "relay.test"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	k.addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return k
}

func (k *sink) count() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.msgs)
}

type fixture struct {
	store  ticketing.Store
	intake *channels.Intake
	sink   *sink
	sender *outbox.Sender
}

func setup(t *testing.T, relay bool) *fixture {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "h.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	loc, _ := time.LoadLocation("Asia/Shanghai")
	desk := ticketing.NewDesk(st, ticketing.DeskConfig{Prefix: "HL", Location: loc})
	f := &fixture{store: st, intake: channels.NewIntake(desk, nil, nil), sink: startSink(t)}
	cfg := outbox.Config{From: "servicedesk@example.com", DeskName: "慧海联创服务台", Hostname: "desk.example.com"}
	if relay {
		cfg.Relay = f.sink.addr
	}
	f.sender = outbox.New(f.intake, cfg, nil, slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	return f
}

func (f *fixture) run(t *testing.T, clock func() time.Time) func() {
	// The tests move the clock by hours; a lease that short would expire
	// under a job still running on a loaded machine, and the job would be
	// run twice.
	r := jobs.New(f.store, jobs.Config{Worker: "t", Poll: 10 * time.Millisecond, Lease: 1000 * time.Hour, Now: clock,
		Log: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	r.Handle(channels.JobMailSend, f.sender)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	return func() { cancel(); <-done }
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestSendsWithAttachmentAndThreads(t *testing.T) {
	f := setup(t, true)
	ctx := context.Background()
	r, err := f.intake.Submit(ctx, channels.Contact{Channel: ticketing.ChannelFax, ExternalID: "fax-1",
		Caller: ticketing.Party{Phone: "0532-55578279"}, Subject: "传真", Body: "3 页",
		Attachments: []channels.Attachment{{Name: "传真-0532.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.4 test")}}})
	if err != nil {
		t.Fatal(err)
	}
	tk, _ := f.intake.Ticket(ctx, r.TicketID)
	job, err := channels.MailJob(r.TicketID, channels.OutboundMail{Purpose: "fax", To: []string{"servicedesk@example.com", "张工 <zhang@example.com>"},
		Subject: "收到传真：来自 +8653255578279，共 3 页", Text: "传真已转为 PDF，见附件。", Attachments: []int64{tk.Attachments[0].ID},
		AutoSubmitted: "auto-generated"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.JobInsert(ctx, []ticketing.JobSpec{job}); err != nil {
		t.Fatal(err)
	}
	stop := f.run(t, nil)
	defer stop()
	waitFor(t, "the mail", func() bool { return f.sink.count() == 1 })
	m := f.sink.msgs[0]
	if m.from != "servicedesk@example.com" || len(m.to) != 2 {
		t.Fatalf("envelope %s → %v", m.from, m.to)
	}
	mr, err := mail.CreateReader(strings.NewReader(string(m.data)))
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := mr.Header.Subject()
	if subject != "收到传真：来自 +8653255578279，共 3 页 ["+r.Ticket+"]" {
		t.Errorf("subject %q", subject)
	}
	if mr.Header.Get("X-Hotline-Ticket") != r.Ticket || mr.Header.Get("Auto-Submitted") != "auto-generated" {
		t.Errorf("headers: %v", mr.Header)
	}
	from, _ := mr.Header.AddressList("From")
	if len(from) != 1 || from[0].Name != "慧海联创服务台" {
		t.Errorf("From %v", from)
	}
	msgID, _ := mr.Header.MessageID()
	var text, fileName string
	var fileData []byte
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
			text = string(b)
		case *mail.AttachmentHeader:
			fileName, _ = h.Filename()
			fileData = b
		}
	}
	if text != "传真已转为 PDF，见附件。" || fileName != "传真-0532.pdf" || string(fileData) != "%PDF-1.4 test" {
		t.Errorf("body %q, file %q %q", text, fileName, fileData)
	}
	// A reply to the mail finds the ticket through its Message-ID.
	got, err := f.store.ThreadFind(ctx, []string{channels.MessageIDKey("<" + msgID + ">")})
	if err != nil || got.Number != r.Ticket {
		t.Fatalf("thread of %s: %+v %v", msgID, got, err)
	}
	waitFor(t, "the mail_sent event", func() bool {
		tk, _ := f.intake.Ticket(ctx, r.TicketID)
		for _, e := range tk.Events {
			if e.Type == "mail_sent" {
				return true
			}
		}
		return false
	})
}

func TestRetriesTemporaryAndStopsOnPermanent(t *testing.T) {
	f := setup(t, true)
	f.sink.failNext = []*smtp.SMTPError{{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}}
	ctx := context.Background()
	var clock struct {
		sync.Mutex
		t time.Time
	}
	clock.t = time.Now()
	now := func() time.Time { clock.Lock(); defer clock.Unlock(); return clock.t }
	ack, _ := channels.MailJob(0, channels.OutboundMail{Purpose: "ack", To: []string{"li@example.com"}, Subject: "已受理", Text: "ok", AutoSubmitted: "auto-replied"}, "")
	if err := f.store.JobInsert(ctx, []ticketing.JobSpec{ack}); err != nil {
		t.Fatal(err)
	}
	stop := f.run(t, now)
	defer stop()
	for i := 0; i < 500 && f.sink.count() == 0; i++ {
		time.Sleep(10 * time.Millisecond)
		clock.Lock()
		clock.t = clock.t.Add(time.Second)
		clock.Unlock()
	}
	if f.sink.count() != 1 {
		t.Fatalf("after a 451 the mail was not retried")
	}
	if f.sink.msgs[0].from != "" {
		t.Errorf("an acknowledgement went out with return path %q, want the null sender", f.sink.msgs[0].from)
	}
	f.sink.mu.Lock()
	f.sink.failNext = []*smtp.SMTPError{{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}}
	f.sink.mu.Unlock()
	bad, _ := channels.MailJob(0, channels.OutboundMail{Purpose: "notify", To: []string{"gone@example.com"}, Subject: "x", Text: "x"}, "")
	if err := f.store.JobInsert(ctx, []ticketing.JobSpec{bad}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	clock.Lock()
	clock.t = clock.t.Add(24 * time.Hour)
	clock.Unlock()
	time.Sleep(200 * time.Millisecond)
	if f.sink.count() != 1 {
		t.Fatalf("a mail refused with 550 was sent again")
	}
}

func TestNoRelayFailsClearly(t *testing.T) {
	f := setup(t, false)
	job, _ := channels.MailJob(0, channels.OutboundMail{Purpose: "ack", To: []string{"a@example.com"}, Subject: "x", Text: "x"}, "")
	err := f.sender.Work(context.Background(), &ticketing.Job{ID: 1, Kind: job.Kind, Args: job.Args, Attempt: 1, MaxAttempts: 3})
	if err == nil || !strings.Contains(err.Error(), "mail.relay") {
		t.Fatalf("without a relay: %v", err)
	}
	bad := &ticketing.Job{ID: 2, Kind: channels.JobMailSend, Args: json.RawMessage(`{"to": "not a list"}`), Attempt: 1, MaxAttempts: 3}
	if err := setup(t, true).sender.Work(context.Background(), bad); err == nil {
		t.Fatal("bad arguments were accepted")
	}
}

// testWriter routes logs to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// TestQueuedWithTicket: a mail committed with its ticket names the
// ticket's files and number before they exist (fax-to-mail).
func TestQueuedWithTicket(t *testing.T) {
	f := setup(t, true)
	ctx := context.Background()
	job, err := channels.MailJob(0, channels.OutboundMail{Purpose: "fax", To: []string{"servicedesk@example.com"},
		Subject: "传真 {ticket}", Text: "工单：http://desk/tickets/{ticket}", AttachNamed: []string{"fax.pdf"}}, "fax:1")
	if err != nil {
		t.Fatal(err)
	}
	r, err := f.intake.Submit(ctx, channels.Contact{Channel: ticketing.ChannelFax, ExternalID: "fax-named",
		Attachments: []channels.Attachment{{Name: "fax.tif", ContentType: "image/tiff", Data: []byte("II*\x00")},
			{Name: "fax.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.4 named")}},
		Jobs: []ticketing.JobSpec{job}})
	if err != nil {
		t.Fatal(err)
	}
	stop := f.run(t, nil)
	defer stop()
	waitFor(t, "the mail", func() bool { return f.sink.count() == 1 })
	m := smtptest.Parse(t, f.sink.msgs[0].data)
	if subject, _ := m.Header.Subject(); subject != "传真 "+r.Ticket+" ["+r.Ticket+"]" {
		t.Errorf("subject %q", subject)
	}
	text := m.Text
	var files []string
	for name, file := range m.Files {
		files = append(files, name+"="+string(file.Data))
	}
	if text != "工单：http://desk/tickets/"+r.Ticket || len(files) != 1 || files[0] != "fax.pdf=%PDF-1.4 named" {
		t.Errorf("text %q, files %q", text, files)
	}
}

// TestNotSentTwice: a mail job run again after its mail went out and was
// recorded on the ticket (the process died before marking the job done)
// does not deliver the mail a second time.
func TestNotSentTwice(t *testing.T) {
	f := setup(t, true)
	ctx := context.Background()
	r, err := f.intake.Submit(ctx, channels.Contact{Channel: ticketing.ChannelFax, ExternalID: "fax-twice"})
	if err != nil {
		t.Fatal(err)
	}
	args, _ := json.Marshal(channels.OutboundMail{Purpose: "fax", To: []string{"servicedesk@example.com"}, Subject: "传真", Text: "x"})
	job := &ticketing.Job{ID: 7, Kind: channels.JobMailSend, TicketID: r.TicketID, Args: args, Attempt: 1, CreatedAt: time.Now()}
	if err := f.sender.Work(ctx, job); err != nil {
		t.Fatal(err)
	}
	job.Attempt = 2
	if err := f.sender.Work(ctx, job); err != nil {
		t.Fatal(err)
	}
	if n := f.sink.count(); n != 1 {
		t.Fatalf("%d deliveries, want 1", n)
	}
	// Another job (another Message-ID) for the same ticket is sent.
	job.ID = 8
	if err := f.sender.Work(ctx, job); err != nil || f.sink.count() != 2 {
		t.Fatalf("a second mail was not sent: %v, %d deliveries", err, f.sink.count())
	}
}
