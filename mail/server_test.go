package mail_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/textproto"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotline-desk/hotline/channels"
	"github.com/hotline-desk/hotline/mail"
	"github.com/hotline-desk/hotline/mail/outbox"
	"github.com/hotline-desk/hotline/ticketing"
)

// 镕, 喆 and 堃 are GBK characters outside GB2312: a strict GB2312 decoder
// loses them.
const (
	gbkSubject = "朱镕基喆堃的打印机无法打印，请协助"
	gbkBody    = "您好：\n三楼打印机（张喆、王堃使用）从今天上午起无法打印，显示“纸张错误”。\n谢谢！\n"
)

func gb2312Mail(t *testing.T, id, from string) string {
	return "From: =?gb2312?B?1cXI/Q==?= <" + from + ">\r\n" +
		"To: " + desk + "\r\n" +
		"Subject: " + bWords("gb2312", gbk(t, gbkSubject), 9) + "\r\n" +
		"Message-ID: " + id + "\r\n" +
		"Date: Fri, 27 Nov 2026 09:30:00 +0800\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=gb2312\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" +
		b64Lines(gbk(t, gbkBody))
}

// TestGB2312MailBecomesTicket: a GB2312-labelled mail carrying GBK-only
// characters, with a B-encoded subject whose characters are split across
// encoded words, becomes a ticket that reads correctly, with the raw
// message attached and an acknowledgement in Chinese naming the ticket.
func TestGB2312MailBecomesTicket(t *testing.T) {
	h := newHarness(t)
	id := msgID(1)
	if err := send(h.addr, "zhang.san@example.cn", []string{desk}, gb2312Mail(t, id, "zhang.san@example.cn")); err != nil {
		t.Fatalf("send: %v", err)
	}
	ts := h.tickets()
	if len(ts) != 1 {
		t.Fatalf("%d tickets, want 1", len(ts))
	}
	tk := h.ticket(ts[0].Number)
	if tk.Subject != gbkSubject {
		t.Errorf("subject = %q, want %q", tk.Subject, gbkSubject)
	}
	if tk.Description != strings.TrimSpace(gbkBody) {
		t.Errorf("description = %q, want %q", tk.Description, strings.TrimSpace(gbkBody))
	}
	if tk.Channel != ticketing.ChannelEmail || tk.Caller.Email != "zhang.san@example.cn" || tk.Caller.Name != "张三" {
		t.Errorf("channel %q caller %+v", tk.Channel, tk.Caller)
	}
	if len(tk.Attachments) != 1 || tk.Attachments[0].ContentType != "message/rfc822" {
		t.Fatalf("attachments = %+v, want the raw message", tk.Attachments)
	}
	_, raw, err := h.store.AttachmentGet(context.Background(), tk.Attachments[0].ID)
	if err != nil || !strings.Contains(string(raw), id) {
		t.Errorf("raw attachment does not hold the message: %v", err)
	}
	waitFor(t, "the acknowledgement", 10*time.Second, func() bool { return len(h.relay.received()) == 1 })
	ack := h.relay.received()[0]
	if ack.From != "" {
		t.Errorf("acknowledgement envelope sender = %q, want the null sender (RFC 3834)", ack.From)
	}
	if len(ack.To) != 1 || ack.To[0] != "zhang.san@example.cn" {
		t.Errorf("acknowledgement to %v", ack.To)
	}
	m := ack.Msg
	if !strings.Contains(m.Subject, "["+tk.Number+"]") || !strings.Contains(m.Subject, gbkSubject) {
		t.Errorf("acknowledgement subject %q lacks the tag or the subject", m.Subject)
	}
	if !strings.Contains(m.Text, "工单号："+tk.Number) || !strings.Contains(m.Text, "接下来") {
		t.Errorf("acknowledgement text lacks the number or what happens next:\n%s", m.Text)
	}
	if got := m.Header.Get("Auto-Submitted"); got != "auto-replied" {
		t.Errorf("Auto-Submitted = %q", got)
	}
	if len(m.InReplyTo) != 1 || "<"+m.InReplyTo[0]+">" != id {
		t.Errorf("In-Reply-To = %v, want %s", m.InReplyTo, id)
	}
	if got := h.metric(t, "hotline_smtp_messages_total", "ticket", "accepted"); got != 1 {
		t.Errorf("hotline_smtp_messages_total{accepted,ticket} = %v, want 1", got)
	}
	if got := h.metric(t, "hotline_mail_acknowledgements_total", "new_ticket", "queued"); got != 1 {
		t.Errorf("hotline_mail_acknowledgements_total{queued} = %v, want 1", got)
	}
	waitFor(t, "the sent acknowledgement counted", 5*time.Second, func() bool {
		return h.metric(t, "hotline_mail_outbound_total", "ack", "sent") == 1
	})
}

// TestReplyToAcknowledgementThreads: a reply whose In-Reply-To names the
// acknowledgement lands on the same ticket, with the quoted history
// trimmed, and is not acknowledged again.
func TestReplyToAcknowledgementThreads(t *testing.T) {
	h := newHarness(t)
	if err := send(h.addr, "li.si@example.cn", []string{desk}, gb2312Mail(t, msgID(1), "li.si@example.cn")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the acknowledgement", 10*time.Second, func() bool { return len(h.relay.received()) == 1 })
	ack := h.relay.received()[0].Msg
	reply := "From: li.si@example.cn\r\nTo: " + desk + "\r\n" +
		"Subject: =?utf-8?B?" + b64("回复："+ack.Subject) + "?=\r\n" +
		"Message-ID: " + msgID(2) + "\r\nIn-Reply-To: <" + ack.MessageID + ">\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
		"打印机重启后还是不行。\r\n\r\n-----原始邮件-----\r\n发件人: 服务台\r\n我们已收到您的邮件\r\n"
	if err := send(h.addr, "li.si@example.cn", []string{desk}, reply); err != nil {
		t.Fatal(err)
	}
	ts := h.tickets()
	if len(ts) != 1 {
		t.Fatalf("%d tickets after the reply, want 1", len(ts))
	}
	tk := h.ticket(ts[0].Number)
	evs := eventsOf(tk, ticketing.EventContact)
	if len(evs) != 1 {
		t.Fatalf("%d appended contacts, want 1", len(evs))
	}
	var data map[string]string
	json.Unmarshal(evs[0].Data, &data)
	if data["body"] != "打印机重启后还是不行。" {
		t.Errorf("appended body = %q, want the reply without its quoted history", data["body"])
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(h.relay.received()); n != 1 {
		t.Errorf("%d mails relayed, want only the first acknowledgement", n)
	}
}

func b64(s string) string {
	return strings.TrimSpace(strings.ReplaceAll(b64Lines([]byte(s)), "\r\n", ""))
}

func smtpCode(err error) int {
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}

// TestForeignRecipientRefused: the server is never a relay.
func TestForeignRecipientRefused(t *testing.T) {
	h := newHarness(t)
	err := send(h.addr, "a@example.cn", []string{"someone@elsewhere.example.org"}, "Subject: x\r\n\r\nx\r\n")
	if smtpCode(err) != 550 {
		t.Fatalf("foreign recipient: %v, want 550", err)
	}
	if !strings.Contains(err.Error(), "5.1.1") {
		t.Errorf("no enhanced code 5.1.1 in %q", err)
	}
	if n := len(h.tickets()); n != 0 {
		t.Fatalf("%d tickets", n)
	}
	if got := h.metric(t, "hotline_smtp_messages_total", "recipient", "rejected"); got != 1 {
		t.Errorf("hotline_smtp_messages_total{rejected,recipient} = %v, want 1", got)
	}
}

// TestMailLoopRefused: a message that has been round too many hops is
// refused, not made a ticket.
func TestMailLoopRefused(t *testing.T) {
	h := newHarness(t)
	msg := strings.Repeat("Received: from a by b; Fri, 27 Nov 2026 09:30:00 +0800\r\n", 51) +
		"From: a@example.cn\r\nSubject: loop\r\nMessage-ID: " + msgID(1) + "\r\n\r\nx\r\n"
	if err := send(h.addr, "a@example.cn", []string{desk}, msg); smtpCode(err) != 554 {
		t.Fatalf("looping mail: %v, want 554", err)
	}
	if n := len(h.tickets()); n != 0 {
		t.Fatalf("%d tickets", n)
	}
}

// TestOversizedRefused: a message over max_message_bytes gets 552 and no
// ticket; the connection stays usable.
func TestOversizedRefused(t *testing.T) {
	h := newHarness(t, func(c *mail.Config, _ *outbox.Config) { c.MaxMessageBytes = 64 << 10 })
	big := "Subject: big\r\nMessage-ID: " + msgID(1) + "\r\n\r\n" + strings.Repeat(strings.Repeat("x", 70)+"\r\n", 2000)
	err := send(h.addr, "a@example.cn", []string{desk}, big)
	if smtpCode(err) != 552 {
		t.Fatalf("oversized: %v, want 552", err)
	}
	if n := len(h.tickets()); n != 0 {
		t.Fatalf("%d tickets after a refused message", n)
	}
}

// TestLineTooLongNever250: a message cut short by a line over the limit
// (go-smtp reports it to the reader) is refused, never answered 250.
func TestLineTooLongNever250(t *testing.T) {
	h := newHarness(t, func(c *mail.Config, _ *outbox.Config) { c.MaxLineLength = 4096 })
	msg := "Subject: long line\r\nMessage-ID: " + msgID(1) + "\r\n\r\nstart\r\n" + strings.Repeat("y", 10000) + "\r\nend\r\n"
	err := send(h.addr, "a@example.cn", []string{desk}, msg)
	if err == nil {
		t.Fatal("a message cut short by a too-long line was accepted")
	}
	if c := smtpCode(err); c != 500 {
		t.Logf("answer: %v", err)
	}
	if n := len(h.tickets()); n != 0 {
		t.Fatalf("%d tickets after a cut message", n)
	}
}

// TestAutoReplyStoredNotAcknowledged: an out-of-office reply is kept on a
// ticket but never answered.
func TestAutoReplyStoredNotAcknowledged(t *testing.T) {
	h := newHarness(t)
	msg := "From: wang.wu@example.cn\r\nTo: " + desk + "\r\nSubject: =?utf-8?B?" + b64("自动回复：我正在休假") + "?=\r\n" +
		"Message-ID: " + msgID(1) + "\r\nAuto-Submitted: auto-replied\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n我正在休假，11月30日返回。\r\n"
	if err := send(h.addr, "wang.wu@example.cn", []string{desk}, msg); err != nil {
		t.Fatal(err)
	}
	ts := h.tickets()
	if len(ts) != 1 || ts[0].Subject != "自动回复：我正在休假" {
		t.Fatalf("tickets %+v, want the auto-reply stored", ts)
	}
	// A person's mail right after it is acknowledged: the runner works.
	if err := send(h.addr, "zhao@example.cn", []string{desk}, "From: zhao@example.cn\r\nTo: "+desk+"\r\nSubject: help\r\nMessage-ID: "+msgID(2)+"\r\n\r\nhelp\r\n"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the person's acknowledgement", 10*time.Second, func() bool { return len(h.relay.received()) == 1 })
	time.Sleep(200 * time.Millisecond)
	for _, m := range h.relay.received() {
		if m.To[0] == "wang.wu@example.cn" {
			t.Fatal("the auto-reply was acknowledged")
		}
	}
}

// TestAutoRespondersStopAtLimit: a robot that answers every mail with a
// fresh mail (no threading headers, no RFC 3834 header) and the desk's
// acknowledgements would loop forever; the per-sender limit stops it.
func TestAutoRespondersStopAtLimit(t *testing.T) {
	const limit = 3
	h := newHarness(t, func(_ *mail.Config, o *outbox.Config) { o.AckPerHour = limit })
	var n atomic.Int32
	h.relay.onMail = func(m relayed) {
		k := n.Add(1)
		if k > 50 {
			return // the test has failed; do not spin
		}
		robot := fmt.Sprintf("From: robot@example.net\r\nTo: %s\r\nSubject: Your message %d\r\nMessage-ID: <robot-%d@example.net>\r\n\r\nThank you for your message.\r\n", desk, k, k)
		send(h.addr, "robot@example.net", []string{desk}, robot)
	}
	if err := send(h.addr, "robot@example.net", []string{desk}, "From: robot@example.net\r\nTo: "+desk+"\r\nSubject: hello\r\nMessage-ID: <robot-0@example.net>\r\n\r\nhello\r\n"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the loop to run into the limit", 20*time.Second, func() bool {
		return len(h.tickets()) >= limit+1
	})
	time.Sleep(time.Second)
	if got := len(h.relay.received()); got != limit {
		t.Fatalf("%d acknowledgements went to the robot, want exactly the limit %d", got, limit)
	}
	if got := len(h.tickets()); got != limit+1 {
		t.Fatalf("%d tickets, want %d (each robot mail stored, the loop stopped)", got, limit+1)
	}
	last := h.ticket(h.tickets()[limit].Number)
	waitFor(t, "the held-back acknowledgement noted on the ticket", 5*time.Second, func() bool {
		return len(eventsOf(h.ticket(last.Number), "mail_suppressed")) == 1
	})
}

// TestDuplicateAndCopies: the same Message-ID twice gives one ticket; a
// reply-all by a CC'd colleague threads onto it; a mail to two desk
// addresses is one ticket.
func TestDuplicateAndCopies(t *testing.T) {
	h := newHarness(t)
	id := msgID(1)
	msg := "From: a@example.cn\r\nTo: " + desk + ", helpdesk@example.com\r\nCc: colleague@example.cn\r\nSubject: VPN\r\nMessage-ID: " + id + "\r\n\r\nVPN down\r\n"
	for i := 0; i < 2; i++ {
		if err := send(h.addr, "a@example.cn", []string{desk, "helpdesk@example.com"}, msg); err != nil {
			t.Fatal(err)
		}
	}
	replyAll := "From: colleague@example.cn\r\nTo: a@example.cn\r\nCc: " + desk + "\r\nSubject: Re: VPN\r\nMessage-ID: " + msgID(2) +
		"\r\nIn-Reply-To: " + id + "\r\nReferences: " + id + "\r\n\r\nsame here\r\n"
	if err := send(h.addr, "colleague@example.cn", []string{desk}, replyAll); err != nil {
		t.Fatal(err)
	}
	ts := h.tickets()
	if len(ts) != 1 {
		t.Fatalf("%d tickets, want 1", len(ts))
	}
	tk := h.ticket(ts[0].Number)
	if n := len(eventsOf(tk, ticketing.EventContact)); n != 1 {
		t.Errorf("%d appended contacts, want 1 (the reply-all)", n)
	}
}

// TestTagParticipantRule: a tagged mail from a participant appends; from a
// stranger it opens a new ticket linked to the tagged one.
func TestTagParticipantRule(t *testing.T) {
	h := newHarness(t)
	if err := send(h.addr, "a@example.cn", []string{desk}, "From: a@example.cn\r\nTo: "+desk+"\r\nSubject: disk full\r\nMessage-ID: "+msgID(1)+"\r\n\r\nfull\r\n"); err != nil {
		t.Fatal(err)
	}
	num := h.tickets()[0].Number
	tagged := func(from string, n int) string {
		return "From: " + from + "\r\nTo: " + desk + "\r\nSubject: more [" + num + "]\r\nMessage-ID: " + msgID(n) + "\r\n\r\nmore\r\n"
	}
	if err := send(h.addr, "a@example.cn", []string{desk}, tagged("a@example.cn", 2)); err != nil {
		t.Fatal(err)
	}
	if err := send(h.addr, "stranger@example.org", []string{desk}, tagged("stranger@example.org", 3)); err != nil {
		t.Fatal(err)
	}
	ts := h.tickets()
	if len(ts) != 2 {
		t.Fatalf("%d tickets, want 2", len(ts))
	}
	if n := len(eventsOf(h.ticket(num), ticketing.EventContact)); n != 1 {
		t.Errorf("%d contacts appended to %s, want 1", n, num)
	}
	created := eventsOf(h.ticket(ts[1].Number), ticketing.EventCreated)
	if len(created) != 1 || !strings.Contains(string(created[0].Data), num) {
		t.Errorf("the stranger's ticket is not linked to %s: %s", num, created[0].Data)
	}
}

// TestBounceAttachesToTicket: a DSN for the acknowledgement goes on the
// ticket and makes no ticket; one for an unknown message makes nothing.
func TestBounceAttachesToTicket(t *testing.T) {
	h := newHarness(t)
	if err := send(h.addr, "gone@example.cn", []string{desk}, "From: gone@example.cn\r\nTo: "+desk+"\r\nSubject: printer\r\nMessage-ID: "+msgID(1)+"\r\n\r\nbroken\r\n"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the acknowledgement", 10*time.Second, func() bool { return len(h.relay.received()) == 1 })
	ack := h.relay.received()[0].Msg
	if err := send(h.addr, "", []string{desk}, dsn(ack.MessageID)); err != nil {
		t.Fatal(err)
	}
	if err := send(h.addr, "", []string{desk}, dsn("unknown-123@elsewhere.example")); err != nil {
		t.Fatalf("a bounce for an unknown message: %v, want 250", err)
	}
	ts := h.tickets()
	if len(ts) != 1 {
		t.Fatalf("%d tickets, want 1: bounces never make tickets", len(ts))
	}
	tk := h.ticket(ts[0].Number)
	b := eventsOf(tk, "mail_bounced")
	if len(b) != 1 || !strings.Contains(string(b[0].Data), "5.1.1") {
		t.Fatalf("bounce events %+v", b)
	}
	if len(tk.Attachments) != 2 {
		t.Errorf("attachments %+v, want the mail and the bounce", tk.Attachments)
	}
}

func dsn(reported string) string {
	return "From: Mail Delivery System <MAILER-DAEMON@mx.example.cn>\r\nTo: " + desk + "\r\n" +
		"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: " + msgID(9) + "\r\nAuto-Submitted: auto-replied\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n" +
		"--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.cn\r\n\r\n" +
		"Final-Recipient: rfc822; gone@example.cn\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\r\n" +
		"--b1\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: " + desk + "\r\nTo: gone@example.cn\r\nMessage-ID: <" + reported + ">\r\nSubject: x\r\n" +
		"--b1--\r\n"
}

// flakyStore is the real store, except that while down every intake
// call fails as a store whose connection is refused does.
type flakyStore struct {
	ticketing.Store
	down atomic.Bool
}

var errRefused = errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")

func (f *flakyStore) ThreadFind(ctx context.Context, keys []string) (ticketing.IntakeResult, error) {
	if f.down.Load() {
		return ticketing.IntakeResult{}, errRefused
	}
	return f.Store.ThreadFind(ctx, keys)
}

func (f *flakyStore) TicketCreate(ctx context.Context, p *ticketing.TicketCreateParams) (ticketing.IntakeResult, error) {
	if f.down.Load() {
		return ticketing.IntakeResult{}, errRefused
	}
	return f.Store.TicketCreate(ctx, p)
}

// TestStoreDownAnswers451: when the store cannot commit, the sender gets
// 451 4.3.0 and retries; the retry after the store is back makes exactly
// one ticket. (The PostgreSQL variant with a refused connection is in
// TestPostgresDownAnswers451.)
func TestStoreDownAnswers451(t *testing.T) {
	flaky := &flakyStore{Store: openSQLite(t)}
	h := startHarness(t, flaky)
	flaky.down.Store(true)
	msg := "From: a@example.cn\r\nSubject: x\r\nMessage-ID: " + msgID(1) + "\r\n\r\nx\r\n"
	err := send(h.addr, "a@example.cn", []string{desk}, msg)
	if smtpCode(err) != 451 || !strings.Contains(err.Error(), "4.3.0") {
		t.Fatalf("store down: %v, want 451 4.3.0", err)
	}
	flaky.down.Store(false)
	if n := len(h.tickets()); n != 0 {
		t.Fatalf("%d tickets after a 451", n)
	}
	if err := send(h.addr, "a@example.cn", []string{desk}, msg); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if n := len(h.tickets()); n != 1 {
		t.Fatalf("%d tickets after the retry, want 1", n)
	}
}

// faxFunc is a function-field fake of the fax channel (which another
// package implements): it records the documents.
type faxFunc func(ctx context.Context, d channels.FaxDocument) (channels.Receipt, error)

func (f faxFunc) Ingest(ctx context.Context, d channels.FaxDocument) (channels.Receipt, error) {
	return f(ctx, d)
}

// TestFaxProviderMail: mail from a fax provider with a TIFF goes to the
// fax channel (one document per file), not the mail intake; when the fax
// channel fails, 451.
func TestFaxProviderMail(t *testing.T) {
	var docs []channels.FaxDocument
	var fail atomic.Bool
	fake := faxFunc(func(ctx context.Context, d channels.FaxDocument) (channels.Receipt, error) {
		if fail.Load() {
			return channels.Receipt{}, errors.New("store down")
		}
		docs = append(docs, d)
		return channels.Receipt{Ticket: "HL-FAX", Created: true}, nil
	})
	h := newHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	srv := mail.New(mail.Config{Hostname: "desk.example.com", Addresses: []string{desk}, TicketPrefix: "HL",
		FaxSenders: []string{"@faxprovider.example.cn"}}, h.intake, fake, nil, nil)
	h.serve(ctx, srv)
	t.Cleanup(cancel) // before serve's cleanup, which waits for the server
	tiff := []byte("II*\x00\x08\x00\x00\x00fake-tiff-bytes")
	msg := func(id string) string {
		return "From: fax-noreply@faxprovider.example.cn\r\nTo: " + desk + "\r\nSubject: =?utf-8?B?" + b64("您有一份新传真 来自 021-55550100") + "?=\r\n" +
			"Message-ID: " + id + "\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=f\r\n\r\n" +
			"--f\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n主叫号码: 021-55550100\r\n" +
			"--f\r\nContent-Type: image/tiff; name=fax.tif\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=fax.tif\r\n\r\n" +
			b64Lines(tiff) + "--f--\r\n"
	}
	if err := send(h.addr, "fax-noreply@faxprovider.example.cn", []string{desk}, msg("<fax-1@faxprovider.example.cn>")); err != nil {
		t.Fatal(err)
	}
	if len(docs) != 1 || docs[0].Source != "mail" || docs[0].ExternalID != "fax-1@faxprovider.example.cn#1" ||
		string(docs[0].Data) != string(tiff) || docs[0].ContentType != "image/tiff" || docs[0].Caller != "021-55550100" {
		t.Fatalf("fax documents %+v", docs)
	}
	if n := len(h.tickets()); n != 0 {
		t.Fatalf("%d e-mail tickets for fax mail", n)
	}
	fail.Store(true)
	err := send(h.addr, "fax-noreply@faxprovider.example.cn", []string{desk}, msg("<fax-2@faxprovider.example.cn>"))
	if smtpCode(err) != 451 {
		t.Fatalf("fax channel down: %v, want 451", err)
	}
}

// TestPerClientLimits: connections over the limit get 421, messages over
// the rate get 450; trusted networks are exempt.
func TestPerClientLimits(t *testing.T) {
	h := newHarness(t, func(c *mail.Config, _ *outbox.Config) {
		c.MaxConnectionsPerClient, c.MaxMessagesPerMinute, c.Trusted = 2, 3, nil
	})
	c1, err := textprotoDial(h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	c2, err := textprotoDial(h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c3, err := textprotoDial(h.addr)
	if err == nil {
		c3.Close()
		t.Fatal("a third connection was let in")
	}
	if !strings.HasPrefix(err.Error(), "421") {
		t.Fatalf("third connection: %v, want 421", err)
	}
	c1.Close()
	c2.Close()
	time.Sleep(100 * time.Millisecond)
	var codes []int
	for i := 0; i < 4; i++ {
		err := send(h.addr, "a@example.cn", []string{desk}, "Subject: n\r\nMessage-ID: "+msgID(i)+"\r\n\r\nx\r\n")
		codes = append(codes, smtpCode(err))
	}
	if fmt.Sprint(codes) != "[0 0 0 450]" {
		t.Fatalf("answers %v, want three 250s then 450", codes)
	}
}

// textprotoDial opens a connection and reads the greeting; a 421 greeting
// is returned as an error.
func textprotoDial(addr string) (*textproto.Conn, error) {
	c, err := textproto.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	code, msg, err := c.ReadResponse(220)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("%d %s", code, msg)
	}
	return c, nil
}

// TestDataStallTimesOut: a client that stops in the middle of DATA gets
// 421 after read_timeout and no ticket is made of the half message.
func TestDataStallTimesOut(t *testing.T) {
	h := newHarness(t, func(c *mail.Config, _ *outbox.Config) { c.ReadTimeout = 300 * time.Millisecond })
	c, err := textprotoDial(h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, cmd := range []struct {
		line string
		code int
	}{{"EHLO client.example.net", 250}, {"MAIL FROM:<a@example.cn>", 250}, {"RCPT TO:<" + desk + ">", 250}, {"DATA", 354}} {
		if err := c.PrintfLine("%s", cmd.line); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.ReadResponse(cmd.code); err != nil {
			t.Fatalf("%s: %v", cmd.line, err)
		}
	}
	c.PrintfLine("Subject: half\r\nMessage-ID: %s\r\n\r\nthe first half", msgID(1))
	start := time.Now()
	code, _, _ := c.ReadResponse(250)
	if code != 421 {
		t.Fatalf("stalled DATA answered %d, want 421", code)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the stall was noticed after %v", d)
	}
	if n := len(h.tickets()); n != 0 {
		t.Fatalf("%d tickets from a half message", n)
	}
}

// TestUnknownCharsetNoted: a body in a charset nobody knows is decoded by
// best guess, and the ticket says so; the mail is not refused.
func TestUnknownCharsetNoted(t *testing.T) {
	h := newHarness(t)
	msg := "From: a@example.cn\r\nTo: " + desk + "\r\nSubject: odd\r\nMessage-ID: " + msgID(1) +
		"\r\nContent-Type: text/plain; charset=x-unheard-of\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64Lines(gbk(t, "服务器宕机"))
	if err := send(h.addr, "a@example.cn", []string{desk}, msg); err != nil {
		t.Fatal(err)
	}
	tk := h.ticket(h.tickets()[0].Number)
	if tk.Description != "服务器宕机" {
		t.Errorf("description %q", tk.Description)
	}
	if n := len(eventsOf(tk, "mail_degraded")); n != 1 {
		t.Errorf("%d mail_degraded events, want 1", n)
	}
}

// TestReplyBeforeOriginal: a colleague's reply-all that arrives before the
// customer's original (mail is not delivered in order) makes one ticket:
// the original, arriving second, threads onto it by its own Message-ID.
func TestReplyBeforeOriginal(t *testing.T) {
	h := newHarness(t)
	orig := msgID(1)
	reply := "From: colleague@example.cn\r\nCc: " + desk + "\r\nSubject: Re: VPN\r\nMessage-ID: " + msgID(2) +
		"\r\nIn-Reply-To: " + orig + "\r\n\r\nsame here\r\n"
	if err := send(h.addr, "colleague@example.cn", []string{desk}, reply); err != nil {
		t.Fatal(err)
	}
	if err := send(h.addr, "a@example.cn", []string{desk}, "From: a@example.cn\r\nTo: "+desk+"\r\nSubject: VPN\r\nMessage-ID: "+orig+"\r\n\r\nVPN down\r\n"); err != nil {
		t.Fatal(err)
	}
	if n := len(h.tickets()); n != 1 {
		t.Fatalf("%d tickets, want 1", n)
	}
}

// TestAckQueueHoldsBackFloods: past the hourly limit this instance queues
// no more acknowledgement jobs for an address (the store's limit would
// hold them back anyway); the mail is still stored.
func TestAckQueueHoldsBackFloods(t *testing.T) {
	h := newHarness(t, func(c *mail.Config, o *outbox.Config) { c.Ack.PerHour, o.AckPerHour = 2, 2 })
	for i := 0; i < 4; i++ {
		msg := fmt.Sprintf("From: flood@example.net\r\nTo: %s\r\nSubject: flood %d\r\nMessage-ID: %s\r\n\r\nx\r\n", desk, i, msgID(i))
		if err := send(h.addr, "flood@example.net", []string{desk}, msg); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(h.tickets()); n != 4 {
		t.Fatalf("%d tickets, want 4", n)
	}
	if q, s := h.metric(t, "hotline_mail_acknowledgements_total", "new_ticket", "queued"), h.metric(t, "hotline_mail_acknowledgements_total", "rate_limit", "suppressed"); q != 2 || s != 2 {
		t.Fatalf("acknowledgements queued %v, held back %v; want 2 and 2", q, s)
	}
	waitFor(t, "two acknowledgements", 10*time.Second, func() bool { return len(h.relay.received()) == 2 })
}
