package main

import (
	"bytes"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"

	"github.com/hotline-desk/hotline/internal/smtptest"
)

// TestFaxByProviderMailEndToEnd: a fax provider's mail with a TIFF, sent
// over SMTP to the running gateway, becomes a fax ticket (not an e-mail
// ticket) and one fax-to-mail message with the 3-page PDF, through a real
// relay; the provider's robot gets no acknowledgement.
func TestFaxByProviderMailEndToEnd(t *testing.T) {
	sink := smtptest.Start(t)
	cfg := filepath.Join(t.TempDir(), "hotline.yaml")
	os.WriteFile(cfg, []byte(`desk:
  name: 慧海联创服务台
  addresses: [servicedesk@example.com]
  console_url: http://desk.example.com:8080
mail:
  relay: `+sink.Addr+`
  from: servicedesk@example.com
fax:
  senders: ["@fax-provider.example"]
agents:
  - {id: zhang, name: 张工, email: zhang@example.com, mobile: "+8613800000001"}
`), 0o644)
	data := t.TempDir()
	httpAddr, smtpAddr := freePort(t), freePort(t)
	cmd := exec.Command(binary, "serve", "--config", cfg, "--data", data, "--http", httpAddr, "--smtp", smtpAddr, "--sip", "off", "--fax-inbox", "off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Env = append(os.Environ(), "HOTLINE_LOG_LEVEL=warn")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		if t.Failed() {
			t.Logf("hotline serve stderr:\n%s", stderr.String())
		}
	})
	in := &instance{base: "http://" + httpAddr}
	waitUntil(t, 10*time.Second, "the gateway", func() bool {
		tok, err := os.ReadFile(filepath.Join(data, "admin-token"))
		in.token = strings.TrimSpace(string(tok))
		code, _ := in.try("GET", "/readyz", nil, nil, false)
		return err == nil && code == 200
	})

	var h mail.Header
	h.SetAddressList("From", []*mail.Address{{Name: "传真服务", Address: "noreply@fax-provider.example"}})
	h.SetAddressList("To", []*mail.Address{{Address: "servicedesk@example.com"}})
	h.SetSubject("您有一份新传真 来自 0532-55578279")
	h.SetMessageID("fax-20261127-1@fax-provider.example")
	h.SetDate(time.Now())
	var msg bytes.Buffer
	w, err := mail.CreateWriter(&msg, h)
	if err != nil {
		t.Fatal(err)
	}
	tw, _ := w.CreateSingleInline(mail.InlineHeader{})
	tw.Write([]byte("主叫号码：0532-55578279，共 3 页。"))
	tw.Close()
	var ah mail.AttachmentHeader
	ah.Set("Content-Type", "image/tiff")
	ah.SetFilename("传真-055578279.tif")
	aw, _ := w.CreateAttachment(ah)
	aw.Write(simulatedFax)
	aw.Close()
	w.Close()
	if err := smtp.SendMail(smtpAddr, nil, "noreply@fax-provider.example", []string{"servicedesk@example.com"}, msg.Bytes()); err != nil {
		t.Fatalf("send the provider's mail: %v", err)
	}

	var list struct{ Tickets []ticketJSON }
	waitUntil(t, 10*time.Second, "the fax ticket", func() bool {
		in.call(t, "GET", "/api/v1/tickets", nil, &list)
		return len(list.Tickets) == 1
	})
	if tk := list.Tickets[0]; tk.Channel != "fax" || tk.Caller.Phone != "+8653255578279" {
		t.Fatalf("provider mail gave ticket %+v, want a fax ticket from +8653255578279", tk)
	}
	number := list.Tickets[0].Number
	waitUntil(t, 15*time.Second, "the fax-to-mail message", func() bool { return len(sink.Messages()) >= 1 })
	time.Sleep(500 * time.Millisecond) // anything sent besides would arrive by now
	msgs := sentMails(t, sink)
	if len(msgs) != 1 {
		t.Fatalf("%d mails relayed, want only the fax-to-mail message", len(msgs))
	}
	m := msgs[0]
	if m.ticket != number || !strings.Contains(m.subject, "["+number+"]") || m.pdf == nil || pdfPages(t, m.pdf) != 3 {
		t.Fatalf("fax-to-mail: ticket %q subject %q pdf %d bytes", m.ticket, m.subject, len(m.pdf))
	}
	for _, to := range sink.Messages()[0].To {
		if strings.Contains(to, "fax-provider") {
			t.Fatalf("the provider's robot was mailed: %v", sink.Messages()[0].To)
		}
	}
}
