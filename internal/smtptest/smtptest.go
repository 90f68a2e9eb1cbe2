// Package smtptest runs a real SMTP server (go-smtp) on loopback for tests
// that need a mail relay to deliver to: it keeps every message it is given.
package smtptest

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-smtp"
)

// Message is one delivered mail: its envelope recipients and its bytes.
type Message struct {
	From string
	To   []string
	Data []byte
}

// Sink is an SMTP server that accepts every mail.
type Sink struct {
	// Addr is the host:port it listens on, for mail.relay.
	Addr string
	mu   sync.Mutex
	msgs []Message
}

// Start runs a sink on a free loopback port until the test ends.
func Start(t testing.TB) *Sink {
	t.Helper()
	k := &Sink{}
	srv := smtp.NewServer(backend{k})
	srv.Domain = "relay.test"
	srv.MaxMessageBytes = 64 << 20
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	k.Addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return k
}

// Messages returns what was delivered so far, in order.
func (k *Sink) Messages() []Message {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]Message(nil), k.msgs...)
}

type backend struct{ k *Sink }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{k: b.k}, nil }

type session struct {
	k *Sink
	m Message
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.m.From = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.m.To = append(s.m.To, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.m.Data = b
	s.k.mu.Lock()
	s.k.msgs = append(s.k.msgs, s.m)
	s.k.mu.Unlock()
	s.m = Message{}
	return nil
}

func (s *session) Reset()        { s.m = Message{} }
func (s *session) Logout() error { return nil }

// Mail is a delivered message taken apart: its header, its text parts
// joined, and its attachments by file name.
type Mail struct {
	Header mail.Header
	Text   string
	Files  map[string]File
}

// File is one attachment.
type File struct {
	ContentType string
	Data        []byte
}

// Parse takes a delivered message apart.
func Parse(t testing.TB, data []byte) Mail {
	t.Helper()
	mr, err := mail.CreateReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parse mail: %v", err)
	}
	out := Mail{Header: mr.Header, Files: map[string]File{}}
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("parse mail: %v", err)
		}
		b, _ := io.ReadAll(p.Body)
		switch h := p.Header.(type) {
		case *mail.InlineHeader:
			out.Text += string(b)
		case *mail.AttachmentHeader:
			name, _ := h.Filename()
			ct, _, _ := h.ContentType()
			out.Files[name] = File{ContentType: ct, Data: b}
		}
	}
	return out
}
