package fax

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hotline-desk/hotline/channels"
	"github.com/hotline-desk/hotline/metrics"
	"github.com/hotline-desk/hotline/ticketing"
	"github.com/hotline-desk/hotline/ticketing/e164"
)

// Intake is what the fax channel needs of the ticket intake
// (*channels.Intake).
type Intake interface {
	Submit(ctx context.Context, c channels.Contact) (channels.Receipt, error)
}

// Roster gives the current on-duty roster (*channels.RosterHolder).
type Roster interface {
	Load() *channels.Roster
}

type Config struct {
	// DeskAddresses receive every fax-to-mail message (desk.addresses).
	DeskAddresses []string
	// ConsoleURL is the console's base URL (desk.console_url), for the
	// link to the ticket in the mail.
	ConsoleURL string
	// Location is the desk's timezone, for the times in the mail.
	Location *time.Location
	Limits   Limits
	Now      func() time.Time
}

// Service turns received faxes into tickets with a fax-to-mail message.
// The inbox watcher, `hotline fax ingest` and the mail channel (for mail
// from fax providers) all hand their faxes to Ingest.
type Service struct {
	intake Intake
	roster Roster
	cfg    Config
	mon    *metrics.Fax
	log    *slog.Logger
}

func NewService(intake Intake, roster Roster, cfg Config, mon *metrics.Fax, log *slog.Logger) *Service {
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.Limits == (Limits{}) {
		cfg.Limits = DefaultLimits
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{intake: intake, roster: roster, cfg: cfg, mon: mon, log: log}
}

// Fax statuses, as the ticket and the metrics name them.
const (
	StatusReceived = "received" // every page arrived and converted
	StatusPartial  = "partial"  // some pages arrived: call the sender back
	StatusFailed   = "failed"   // nothing usable arrived: call the sender back
)

// Outcome is what became of one fax.
type Outcome struct {
	channels.Receipt
	// Status is StatusReceived, StatusPartial or StatusFailed.
	Status string
	Pages  int
	// Problem says what went wrong with the fax itself (the sender's
	// FAXSTATUS, a file that could not be read); nil when all is well.
	// The ticket is made all the same.
	Problem error
}

// Ingest makes a ticket of one received fax, with the original file and
// its PDF attached and a fax-to-mail message queued in the same commit. A
// fax that failed or arrived in part still makes a ticket, marked so. It
// returns an error only when the ticket could not be committed (the
// caller keeps the fax and tries again); ingesting one fax twice (same
// ExternalID) gives the first receipt, marked Duplicate.
func (s *Service) Ingest(ctx context.Context, d channels.FaxDocument) (channels.Receipt, error) {
	o, err := s.Process(ctx, d)
	return o.Receipt, err
}

// Process is Ingest, telling also what became of the fax itself (the inbox
// files a fax that could not be read under failed/).
func (s *Service) Process(ctx context.Context, d channels.FaxDocument) (Outcome, error) {
	if d.ExternalID == "" {
		d.ExternalID = FileKey(d.Data)
	}
	if d.Source == "" {
		d.Source = "ingest"
	}
	if d.ReceivedAt.IsZero() {
		d.ReceivedAt = s.cfg.Now()
	}
	start := time.Now()
	conv, convErr := Convert(d.Data, s.cfg.Limits)
	method := conv.Method
	if convErr != nil {
		method = "failed"
	}
	s.mon.FaxConverted(method, time.Since(start))

	o := Outcome{Pages: conv.Pages}
	reported := strings.ToUpper(strings.TrimSpace(d.Status))
	senderFailed := reported != "" && reported != "SUCCESS" && reported != "OK"
	switch {
	case senderFailed && convErr == nil && conv.Pages > 0:
		o.Status, o.Problem = StatusPartial, fmt.Errorf("the fax was cut off after %d pages: %s", conv.Pages, reasonOr(d.Error, reported))
	case senderFailed && (convErr == nil || len(d.Data) == 0):
		o.Status, o.Problem = StatusFailed, fmt.Errorf("the fax failed: %s", reasonOr(d.Error, reported))
	case senderFailed:
		o.Status, o.Problem = StatusFailed, fmt.Errorf("the fax failed: %s; the file cannot be read: %w", reasonOr(d.Error, reported), convErr)
	case convErr != nil:
		o.Status, o.Problem = StatusFailed, fmt.Errorf("the fax file cannot be read: %w", convErr)
	case d.Pages > 0 && conv.Pages > 0 && conv.Pages < d.Pages:
		o.Status, o.Problem = StatusPartial, fmt.Errorf("%d of %d pages arrived", conv.Pages, d.Pages)
	default:
		o.Status = StatusReceived
	}
	if o.Pages == 0 && convErr == nil {
		o.Pages = d.Pages // a PDF whose pages could not be counted
	}

	contact, err := s.contact(d, conv, convErr, o)
	if err != nil {
		return o, err
	}
	r, err := s.intake.Submit(ctx, contact)
	if err != nil {
		return o, fmt.Errorf("fax %s from %s: %w", d.ExternalID, d.Caller, err)
	}
	o.Receipt = r
	status, pages := o.Status, o.Pages
	if r.Duplicate {
		status, pages = "duplicate", 0 // counted the first time
	}
	s.mon.FaxReceived(d.Source, status, pages)
	s.log.LogAttrs(ctx, slog.LevelInfo, "fax taken", slog.String("ticket", r.Ticket), slog.String("source", d.Source),
		slog.String("caller", d.Caller), slog.String("status", status), slog.Int("pages", o.Pages),
		slog.String("method", method), slog.Duration("conversion", time.Since(start)))
	return o, nil
}

// FileKey is a fax file's idempotency key: its sha256, so that the same
// file dropped twice, or handed over by the inbox and the CLI, makes one
// ticket.
func FileKey(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func reasonOr(reason, status string) string {
	if r := strings.TrimSpace(reason); r != "" {
		return r
	}
	return "FAXSTATUS " + status
}

// contact builds the ticket's contact: caller, station id, pages, both
// files, the failure if any, and the fax-to-mail job.
func (s *Service) contact(d channels.FaxDocument, conv Conversion, convErr error, o Outcome) (channels.Contact, error) {
	caller := displayNumber(d.Caller)
	original, pdfName := fileNames(d, conv)
	var files []channels.Attachment
	if len(d.Data) > 0 {
		ctype := d.ContentType
		if ctype == "" || ctype == "application/octet-stream" {
			ctype = sniffType(d.Data)
		}
		files = append(files, channels.Attachment{Name: original, ContentType: ctype, Data: d.Data})
	}
	if convErr == nil && conv.Method != "pdf" {
		files = append(files, channels.Attachment{Name: pdfName, ContentType: "application/pdf", Data: conv.PDF})
	}

	var subject string
	switch o.Status {
	case StatusReceived:
		subject = fmt.Sprintf("传真：来自 %s，共 %d 页", caller, o.Pages)
	case StatusPartial:
		subject = fmt.Sprintf("传真不完整（请回电）：来自 %s，收到 %d 页", caller, o.Pages)
	default:
		subject = fmt.Sprintf("传真接收失败（请回电）：来自 %s", caller)
	}
	if d.Pages > 0 && o.Pages != d.Pages && o.Status != StatusReceived {
		subject += fmt.Sprintf("，应为 %d 页", d.Pages)
	}

	var body strings.Builder
	fmt.Fprintf(&body, "发送号码：%s\n", caller)
	if d.StationID != "" {
		fmt.Fprintf(&body, "发送方标识（TSI）：%s\n", d.StationID)
	}
	fmt.Fprintf(&body, "页数：%d\n", o.Pages)
	if d.Pages > 0 && d.Pages != o.Pages {
		fmt.Fprintf(&body, "对方报告页数：%d\n", d.Pages)
	}
	fmt.Fprintf(&body, "接收时间：%s\n", d.ReceivedAt.In(s.cfg.Location).Format("2006-01-02 15:04:05"))
	if o.Problem != nil {
		fmt.Fprintf(&body, "\n问题：%v\n请回电发送方，请其重发传真。\n", o.Problem)
	}

	meta := map[string]string{"fax_source": d.Source, "fax_status": o.Status, "fax_pages": fmt.Sprint(o.Pages)}
	if d.StationID != "" {
		meta["station_id"] = d.StationID
	}
	if d.Status != "" {
		meta["fax_reported_status"] = d.Status
	}
	if d.Pages > 0 {
		meta["fax_reported_pages"] = fmt.Sprint(d.Pages)
	}
	if d.Name != "" {
		meta["fax_file"] = d.Name
	}
	if conv.Method != "" {
		meta["fax_conversion"] = conv.Method
	}
	for k, v := range d.Metadata {
		if _, taken := meta[k]; !taken {
			meta[k] = v
		}
	}
	evData := map[string]any{"status": o.Status, "pages": o.Pages, "station_id": d.StationID, "source": d.Source}
	events := []ticketing.Event{ticketing.NewEvent(d.ReceivedAt, "fax_received", "channel:fax", evData)}
	if o.Problem != nil {
		// The customer must be called back: the timeline says so
		// explicitly, for the agent and for reports.
		events = append(events, ticketing.NewEvent(d.ReceivedAt, "fax_failed", "channel:fax", map[string]any{
			"status": o.Status, "reason": o.Problem.Error(), "callback_needed": true, "caller": d.Caller,
		}))
	}

	c := channels.Contact{
		Channel: ticketing.ChannelFax, ExternalID: d.ExternalID,
		Caller:  ticketing.Party{Phone: d.Caller},
		Subject: subject, Body: body.String(), ReceivedAt: d.ReceivedAt,
		Attachments: files, Metadata: meta, Events: events,
	}
	if o.Problem != nil {
		c.Priority = ticketing.P2 // a caller waits for a call back
	}

	to := s.recipients(d.ReceivedAt)
	if len(to) == 0 {
		s.log.Warn("fax-to-mail: no recipients (desk.addresses empty and nobody on duty with an e-mail)", "fax", d.ExternalID)
		return c, nil
	}
	text := body.String()
	if base := strings.TrimRight(s.cfg.ConsoleURL, "/"); base != "" {
		text += "\n工单：{ticket}\n" + base + "/tickets/{ticket}\n"
	} else {
		text += "\n工单：{ticket}\n"
	}
	m := channels.OutboundMail{Purpose: "fax", To: to, Subject: subject, Text: text,
		AutoSubmitted: "auto-generated"}
	switch {
	case convErr == nil && conv.Method == "pdf":
		m.AttachNamed = []string{original}
	case convErr == nil:
		m.AttachNamed = []string{pdfName}
	}
	job, err := channels.MailJob(0, m, "fax-mail:"+d.ExternalID)
	if err != nil {
		return c, err
	}
	c.Jobs = []ticketing.JobSpec{job}
	return c, nil
}

// recipients are the desk's addresses and the e-mails of the agents on
// duty at t, each once.
func (s *Service) recipients(t time.Time) []string {
	var out, seen []string
	add := func(a string) {
		if key := strings.ToLower(strings.TrimSpace(a)); key != "" && !slices.Contains(seen, key) {
			seen = append(seen, key)
			out = append(out, strings.TrimSpace(a))
		}
	}
	for _, a := range s.cfg.DeskAddresses {
		add(a)
	}
	if s.roster != nil {
		for _, a := range s.roster.Load().OnDuty(t) {
			add(a.Email)
		}
	}
	return out
}

// displayNumber is the sender's number as the mail shows it: E.164 when it
// parses, else as received.
func displayNumber(raw string) string {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "未知号码"
	}
	if n, err := e164.Normalize(raw); err == nil {
		return n
	}
	return raw
}

// fileNames are the names the original and the PDF get on the ticket.
func fileNames(d channels.FaxDocument, conv Conversion) (original, pdf string) {
	original = filepath.Base(strings.ReplaceAll(d.Name, `\`, "/"))
	if original == "" || original == "." || original == "/" {
		ext := ".tif"
		if conv.Method == "pdf" || IsPDF(d.Data) {
			ext = ".pdf"
		}
		original = "fax-" + d.ReceivedAt.UTC().Format("20060102-150405") + ext
	}
	stem := strings.TrimSuffix(original, filepath.Ext(original))
	pdf = stem + ".pdf"
	if pdf == original {
		pdf = stem + "-converted.pdf"
	}
	return original, pdf
}

func sniffType(data []byte) string {
	switch {
	case IsTIFF(data):
		return "image/tiff"
	case IsPDF(data):
		return "application/pdf"
	}
	return "application/octet-stream"
}
