package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/smtp"
	"net/textproto"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hotline-desk/hotline/ticketing"
	"github.com/hotline-desk/hotline/ticketing/store/postgres"
	"github.com/hotline-desk/hotline/ticketing/store/postgres/pgtest"
	"github.com/hotline-desk/hotline/ticketing/store/sqlite"
)

// mailServe is a `hotline serve` process with SMTP on, restartable on the
// same data directory and port.
type mailServe struct {
	t      *testing.T
	args   []string
	smtp   string
	cmd    *exec.Cmd
	stderr *bytes.Buffer
}

func newMailServe(t *testing.T, data string, extra ...string) *mailServe {
	smtpAddr := freePort(t)
	args := append([]string{"serve", "--data", data, "--http", "off", "--smtp", smtpAddr, "--sip", "off", "--fax-inbox", "off"}, extra...)
	m := &mailServe{t: t, args: args, smtp: smtpAddr}
	t.Cleanup(func() {
		if m.cmd != nil && m.cmd.ProcessState == nil {
			m.cmd.Process.Kill()
			m.cmd.Wait()
		}
	})
	return m
}

// start runs the process and waits until it accepts SMTP connections.
func (m *mailServe) start() {
	m.t.Helper()
	m.cmd = exec.Command(binary, m.args...)
	m.cmd.Env = append(os.Environ(), "HOTLINE_LOG_LEVEL=warn")
	m.stderr = &bytes.Buffer{}
	m.cmd.Stderr = m.stderr
	if err := m.cmd.Start(); err != nil {
		m.t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", m.smtp, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("hotline serve did not listen on %s: %v\n%s", m.smtp, err, m.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (m *mailServe) kill() {
	m.cmd.Process.Signal(syscall.SIGKILL)
	m.cmd.Wait()
}

func (m *mailServe) stop() {
	m.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { m.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		m.cmd.Process.Kill()
		<-done
		m.t.Errorf("hotline serve did not stop on SIGINT\n%s", m.stderr)
	}
}

// TestMailCrashKill9: 2,000 messages over 20 concurrent SMTP sessions, the
// real `hotline serve` killed with SIGKILL in the middle and restarted.
// The senders behave as MTAs do: a message without 250 (4xx, or no answer)
// is sent again. In the end every message has exactly one ticket: none
// that got 250 was lost, none sent twice was doubled; and no message ever
// got a 5xx.
func TestMailCrashKill9(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		data := t.TempDir()
		crashTest(t, newMailServe(t, data), func(ctx context.Context) (ticketing.Store, error) {
			return sqlite.Open(filepath.Join(data, "hotline.db"), nil)
		})
	})
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.URL(t)
		crashTest(t, newMailServe(t, t.TempDir(), "--db", url), func(ctx context.Context) (ticketing.Store, error) {
			return postgres.Open(ctx, url, nil)
		})
	})
}

func crashTest(t *testing.T, srv *mailServe, open func(ctx context.Context) (ticketing.Store, error)) {
	const total, sessions, killAt = 2000, 20, 700
	srv.start()
	type result struct {
		acked    atomic.Bool
		attempts atomic.Int32
	}
	results := make([]result, total)
	var acked atomic.Int32
	var killed atomic.Bool
	var restarted sync.WaitGroup
	restarted.Add(1)
	var mu sync.Mutex
	var permanent []string
	queue := make(chan int, total)
	for i := 0; i < total; i++ {
		queue <- i
	}
	var pending sync.WaitGroup
	pending.Add(total)
	go func() { pending.Wait(); close(queue) }()
	deadline := time.Now().Add(4 * time.Minute)
	var wg sync.WaitGroup
	for w := 0; w < sessions; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var c *smtp.Client
			for i := range queue {
				if time.Now().After(deadline) {
					pending.Done()
					continue
				}
				results[i].attempts.Add(1)
				var err error
				if c == nil {
					c, err = crashDial(srv.smtp)
				}
				if err == nil {
					err = crashSend(c, i)
				}
				if err == nil {
					results[i].acked.Store(true)
					if acked.Add(1) == killAt && killed.CompareAndSwap(false, true) {
						srv.kill()
						srv.start()
						restarted.Done()
					}
					pending.Done()
					continue
				}
				var te *textproto.Error
				if errors.As(err, &te) && te.Code >= 500 {
					mu.Lock()
					permanent = append(permanent, fmt.Sprintf("message %d: %v", i, err))
					mu.Unlock()
					pending.Done()
					continue
				}
				// 4xx or no answer: the connection may be gone; retry.
				if c != nil {
					c.Close()
					c = nil
				}
				time.Sleep(50 * time.Millisecond)
				queue <- i
			}
			if c != nil {
				c.Quit()
			}
		}()
	}
	wg.Wait()
	if !killed.Load() {
		t.Fatal("the server was never killed")
	}
	srv.stop()
	if len(permanent) > 0 {
		t.Fatalf("%d messages got a 5xx, e.g. %s", len(permanent), permanent[0])
	}
	retried := 0
	for i := range results {
		if !results[i].acked.Load() {
			t.Fatalf("message %d never got 250 (attempts %d)", i, results[i].attempts.Load())
		}
		if results[i].attempts.Load() > 1 {
			retried++
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	count := map[string]int{}
	var after int64
	for {
		page, err := st.TicketList(ctx, ticketing.TicketListParams{Limit: 500, After: after})
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range page.Tickets {
			count[tk.Subject]++
		}
		if page.Next == 0 {
			break
		}
		after = page.Next
	}
	for i := 0; i < total; i++ {
		if n := count[crashSubject(i)]; n != 1 {
			t.Errorf("message %d has %d tickets, want exactly 1", i, n)
		}
	}
	if len(count) != total {
		t.Errorf("%d distinct tickets, want %d", len(count), total)
	}
	t.Logf("%d messages over %d sessions, SIGKILL after %d acknowledged; %d were sent again; %d tickets", total, sessions, killAt, retried, len(count))
}

func crashSubject(i int) string { return fmt.Sprintf("crash test %04d", i) }

func crashDial(addr string) (*smtp.Client, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(time.Minute))
	c, err := smtp.NewClient(conn, "127.0.0.1")
	if err != nil {
		conn.Close()
		return nil, err
	}
	if err := c.Hello("loadgen.example.net"); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func crashSend(c *smtp.Client, i int) error {
	if err := c.Mail(fmt.Sprintf("sender%d@example.net", i%50)); err != nil {
		return err
	}
	if err := c.Rcpt("servicedesk@localhost"); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	body := strings.Repeat("这是第 "+fmt.Sprint(i)+" 封测试邮件，用于崩溃测试。\r\n", 40)
	fmt.Fprintf(w, "From: sender%d@example.net\r\nTo: servicedesk@localhost\r\nSubject: %s\r\nMessage-ID: <crash-%d@loadgen.example.net>\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\n\r\n%s", i%50, crashSubject(i), i, body)
	return w.Close()
}

// pgProxy forwards TCP to PostgreSQL and can be cut: while down, its port
// refuses connections and the open ones are closed, as when the database
// server stops.
type pgProxy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
}

func newPGProxy(t *testing.T, target string) *pgProxy {
	p := &pgProxy{t: t, target: target, conns: map[net.Conn]bool{}}
	p.addr = freePort(t)
	p.up()
	t.Cleanup(p.down)
	return p
}

func (p *pgProxy) up() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.pipe(c)
		}
	}()
}

func (p *pgProxy) pipe(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[s] = true, true
	p.mu.Unlock()
	go func() { io.Copy(s, c); s.Close() }()
	io.Copy(c, s)
	c.Close()
}

func (p *pgProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// TestMailPostgresDown451: with PostgreSQL's connection refused, the real
// gateway answers 451 4.3.0; once it is back, the sender's retry makes
// exactly one ticket.
func TestMailPostgresDown451(t *testing.T) {
	base := pgtest.URL(t)
	u, err := neturl.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newPGProxy(t, u.Host)
	u.Host = proxy.addr
	srv := newMailServe(t, t.TempDir(), "--db", u.String())
	srv.start()
	defer srv.stop()
	msg := func(i int) []byte {
		return []byte(fmt.Sprintf("From: a@example.cn\r\nTo: servicedesk@localhost\r\nSubject: %s\r\nMessage-ID: <down-%d@example.cn>\r\n\r\nx\r\n", crashSubject(i), i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := smtpSend(ctx, srv.smtp, "a@example.cn", []string{"servicedesk@localhost"}, msg(1)); err != nil {
		t.Fatalf("with the database up: %v", err)
	}
	proxy.down()
	err = smtpSend(ctx, srv.smtp, "a@example.cn", []string{"servicedesk@localhost"}, msg(2))
	if err == nil || !strings.Contains(err.Error(), "451") || !strings.Contains(err.Error(), "4.3.0") {
		t.Fatalf("with the database down: %v, want 451 4.3.0", err)
	}
	proxy.up()
	var retryErr error
	for i := 0; i < 50; i++ {
		if retryErr = smtpSend(ctx, srv.smtp, "a@example.cn", []string{"servicedesk@localhost"}, msg(2)); retryErr == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if retryErr != nil {
		t.Fatalf("the retry after the database came back: %v", retryErr)
	}
	st, err := postgres.Open(ctx, base, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	page, err := st.TicketList(ctx, ticketing.TicketListParams{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Tickets) != 2 {
		t.Fatalf("%d tickets, want 2", len(page.Tickets))
	}
}

// TestSimulateMail: `hotline simulate mail` delivers a GB2312 test mail to
// a running gateway over SMTP, which makes it a ticket that reads right; a
// foreign recipient is refused with the server's answer.
func TestSimulateMail(t *testing.T) {
	data := t.TempDir()
	srv := newMailServe(t, data)
	srv.start()
	out, err := exec.Command(binary, "simulate", "mail", "--server", srv.smtp, "--to", "servicedesk@localhost").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "250: ") {
		t.Fatalf("simulate mail: %v\n%s", err, out)
	}
	out, err = exec.Command(binary, "simulate", "mail", "--server", srv.smtp, "--to", "someone@elsewhere.example.org").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "550") {
		t.Fatalf("simulate mail to a foreign address: %v\n%s", err, out)
	}
	srv.stop()
	st, err := sqlite.Open(filepath.Join(data, "hotline.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	page, err := st.TicketList(context.Background(), ticketing.TicketListParams{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Tickets) != 1 || page.Tickets[0].Subject != "打印机无法打印（测试邮件）" || page.Tickets[0].Caller.Name != "张三" {
		t.Fatalf("tickets %+v", page.Tickets)
	}
}
