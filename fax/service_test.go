package fax

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/emersion/go-message/charset" // GB2312 headers of the provider's mail
	"github.com/emersion/go-message/mail"

	"github.com/hotline-desk/hotline/channels"
	"github.com/hotline-desk/hotline/internal/testenv"
	"github.com/hotline-desk/hotline/ticketing"
)

// checkFaxMail waits for the one fax-to-mail message of a ticket and checks
// it: recipients, Chinese subject with number, pages and tag, the PDF with
// the right page count, the link to the ticket.
func checkFaxMail(t *testing.T, f *fixture, number, caller string, pages int) faxMail {
	t.Helper()
	waitFor(t, "the fax-to-mail message", func() bool { return len(f.sink.Messages()) >= 1 })
	time.Sleep(100 * time.Millisecond) // a second message would be a defect
	msgs := f.sink.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want exactly 1", len(msgs))
	}
	m := parseMail(t, msgs[0])
	slices.Sort(m.to)
	if strings.Join(m.to, ",") != "servicedesk@example.com,zhang@example.com" {
		t.Errorf("sent to %v, want the desk and the agent on duty", m.to)
	}
	for _, want := range []string{"传真", caller, "[" + number + "]"} {
		if !strings.Contains(m.subject, want) {
			t.Errorf("subject %q lacks %q", m.subject, want)
		}
	}
	if !strings.Contains(m.text, "http://desk.example.com:8080/tickets/"+number) {
		t.Errorf("body lacks the ticket link:\n%s", m.text)
	}
	var pdfs int
	for name, b := range m.files {
		if strings.HasSuffix(name, ".pdf") {
			pdfs++
			if n := pdfPagesOf(t, b); n != pages {
				t.Errorf("attached PDF %s has %d pages, want %d", name, n, pages)
			}
		}
	}
	if pdfs != 1 {
		t.Errorf("%d PDFs attached, want 1: %v", pdfs, m.files)
	}
	return m
}

func TestIngestThreePageG3(t *testing.T) {
	f := newFixture(t)
	data, err := os.ReadFile(gsTIFF(t, "tiffg3", "204x98"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	doc := channels.FaxDocument{ExternalID: FileKey(data), Source: "ingest", Caller: "021-55550100", StationID: "ACME IT",
		Status: "SUCCESS", Pages: 3, Name: "fax-1.tif", Data: data}
	r, err := f.service.Ingest(ctx, doc)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Created || r.Ticket == "" {
		t.Fatalf("receipt %+v", r)
	}
	tk := f.ticket(t, r.TicketID)
	if tk.Channel != ticketing.ChannelFax || tk.Caller.Phone != "+862155550100" {
		t.Errorf("ticket channel %s caller %+v", tk.Channel, tk.Caller)
	}
	if !strings.Contains(tk.Subject, "共 3 页") || !strings.Contains(tk.Description, "ACME IT") {
		t.Errorf("subject %q description %q", tk.Subject, tk.Description)
	}
	if !hasEvent(tk, ticketing.EventCreated, `"station_id":"ACME IT"`) || !hasEvent(tk, "fax_received", `"pages":3`) {
		t.Errorf("events %+v", tk.Events)
	}
	if hasEvent(tk, "fax_failed", "") {
		t.Error("a good fax is marked failed")
	}
	if got := f.file(t, tk, "image/tiff"); string(got) != string(data) {
		t.Error("the original TIFF is not kept as it was")
	}
	if n := pdfPagesOf(t, f.file(t, tk, "application/pdf")); n != 3 {
		t.Errorf("the ticket's PDF has %d pages", n)
	}
	checkFaxMail(t, f, r.Ticket, "+862155550100", 3)

	// The same file again: the same ticket, no second mail.
	again, err := f.service.Ingest(ctx, doc)
	if err != nil || !again.Duplicate || again.Ticket != r.Ticket {
		t.Fatalf("second ingest: %+v %v", again, err)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(f.sink.Messages()); n != 1 {
		t.Errorf("%d mails after a duplicate, want 1", n)
	}
}

// TestIngestProviderMail takes the fax provider's mail of the shared corpus
// apart as the mail channel would and hands its TIFF to Ingest.
func TestIngestProviderMail(t *testing.T) {
	path := filepath.Join(testenv.Shared(t, "testdata/mail/generated-zh"), "15-fax-to-email-provider-tiff.eml")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	mr, err := mail.CreateReader(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := mr.Header.Subject()
	msgID, _ := mr.Header.MessageID()
	from := regexp.MustCompile(`来自\s*([0-9+\-]+)`).FindStringSubmatch(subject)
	if from == nil {
		t.Fatalf("no sender number in the subject %q", subject)
	}
	var doc channels.FaxDocument
	for n := 0; ; n++ {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		h, ok := p.Header.(*mail.AttachmentHeader)
		if !ok {
			continue
		}
		name, _ := h.Filename()
		ctype, _, _ := h.ContentType()
		b, _ := io.ReadAll(p.Body)
		doc = channels.FaxDocument{ExternalID: "<" + msgID + ">#" + name, Source: "mail", Caller: from[1],
			Name: name, ContentType: ctype, Data: b, Metadata: map[string]string{"message_id": msgID}}
	}
	if !IsTIFF(doc.Data) || !strings.HasSuffix(doc.Name, ".tif") || !strings.HasPrefix(doc.Name, "传真_") {
		t.Fatalf("attachment %q (%d bytes) is not the fax TIFF", doc.Name, len(doc.Data))
	}
	f := newFixture(t)
	r, err := f.service.Ingest(context.Background(), doc)
	if err != nil {
		t.Fatal(err)
	}
	tk := f.ticket(t, r.TicketID)
	if tk.Channel != ticketing.ChannelFax || tk.Caller.Phone != "+862155550100" {
		t.Errorf("channel %s, caller %+v", tk.Channel, tk.Caller)
	}
	m := checkFaxMail(t, f, r.Ticket, "+862155550100", 1)
	if _, ok := m.files["传真_20261126101400.pdf"]; !ok {
		t.Errorf("the PDF keeps the fax's Chinese name: %v", keys(m.files))
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestIngestFailures: a fax that failed, arrived in part, or cannot be
// read still makes a ticket, marked for a call back, and still reaches the
// desk by mail.
func TestIngestFailures(t *testing.T) {
	good, err := os.ReadFile(gsTIFF(t, "tiffg4", "204x196"))
	if err != nil {
		t.Fatal(err)
	}
	onePage, err := os.ReadFile(gsTIFF(t, "tiffg4", "204x98", "-dLastPage=1"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		doc      channels.FaxDocument
		status   string
		subject  string
		reason   string
		withPDF  bool
		pdfPages int
	}{
		{"sender-failed-nothing", channels.FaxDocument{Status: "FAILED", Error: "LINE_DROPPED", Data: nil}, StatusFailed, "传真接收失败", "LINE_DROPPED", false, 0},
		{"sender-failed-partial", channels.FaxDocument{Status: "FAILED", Error: "T30_ERR_RX_ECMPHD", Pages: 3, Data: onePage}, StatusPartial, "收到 1 页，应为 3 页", "T30_ERR_RX_ECMPHD", true, 1},
		{"fewer-pages-than-reported", channels.FaxDocument{Pages: 5, Data: good}, StatusPartial, "收到 3 页，应为 5 页", "3 of 5 pages", true, 3},
		{"truncated", channels.FaxDocument{Data: good[:len(good)/3]}, StatusFailed, "传真接收失败", "truncated", false, 0},
		{"not-tiff", channels.FaxDocument{Data: []byte("just text")}, StatusFailed, "传真接收失败", "not a fax file", false, 0},
		{"bomb", channels.FaxDocument{Data: bombTIFF(10000)}, StatusFailed, "传真接收失败", "more than 1000 pages", false, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			c.doc.Caller = "+86 21 5555 0100"
			c.doc.ExternalID = c.name
			o, err := f.service.Process(context.Background(), c.doc)
			if err != nil {
				t.Fatal(err)
			}
			if o.Status != c.status || o.Problem == nil || !strings.Contains(o.Problem.Error(), c.reason) {
				t.Fatalf("outcome %s, problem %v; want %s with %q", o.Status, o.Problem, c.status, c.reason)
			}
			tk := f.ticket(t, o.TicketID)
			if !strings.Contains(tk.Subject, c.subject) || !strings.Contains(tk.Subject, "请回电") {
				t.Errorf("subject %q, want %q and a call-back note", tk.Subject, c.subject)
			}
			if !hasEvent(tk, "fax_failed", `"callback_needed":true`) || !hasEvent(tk, "fax_failed", c.reason) {
				t.Errorf("no fax_failed event with the reason: %+v", tk.Events)
			}
			if tk.Priority != ticketing.P2 {
				t.Errorf("priority %s", tk.Priority)
			}
			waitFor(t, "the mail", func() bool { return len(f.sink.Messages()) == 1 })
			m := parseMail(t, f.sink.Messages()[0])
			if !strings.Contains(m.text, c.reason) {
				t.Errorf("the mail does not say what went wrong:\n%s", m.text)
			}
			var pdf []byte
			for name, b := range m.files {
				if strings.HasSuffix(name, ".pdf") {
					pdf = b
				}
			}
			if (pdf != nil) != c.withPDF {
				t.Fatalf("PDF attached: %v, want %v", pdf != nil, c.withPDF)
			}
			if c.withPDF {
				if n := pdfPagesOf(t, pdf); n != c.pdfPages {
					t.Errorf("PDF of %d pages, want %d", n, c.pdfPages)
				}
			}
		})
	}
}

// TestIngestProviderPDF: a provider that sends the fax as a PDF already;
// the PDF is kept as it is, its pages counted.
func TestIngestProviderPDF(t *testing.T) {
	gs := testenv.Command(t, "gs")
	pdf := filepath.Join(t.TempDir(), "fax.pdf")
	if out, err := exec.Command(gs, "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=pdfwrite", "-dCompressPages=false",
		"-sOutputFile="+pdf, filepath.Join("testdata", "fax.ps")).CombinedOutput(); err != nil {
		t.Fatalf("gs: %v\n%s", err, out)
	}
	data, err := os.ReadFile(pdf)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	r, err := f.service.Ingest(context.Background(), channels.FaxDocument{ExternalID: "<p1@fax.example>#fax.pdf", Source: "mail",
		Caller: "+86 10 1234 5678", Name: "fax.pdf", ContentType: "application/pdf", Data: data})
	if err != nil {
		t.Fatal(err)
	}
	tk := f.ticket(t, r.TicketID)
	if len(tk.Attachments) != 1 || !strings.Contains(tk.Subject, "共 3 页") {
		t.Errorf("attachments %+v, subject %q", tk.Attachments, tk.Subject)
	}
	checkFaxMail(t, f, r.Ticket, "+861012345678", 3)
}
