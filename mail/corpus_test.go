package mail_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline-desk/hotline/internal/testenv"
	"github.com/hotline-desk/hotline/mail"
	"github.com/hotline-desk/hotline/ticketing"
)

// TestCorpus sends every message of ../shared/testdata/mail through the
// parser and the intake: none panics, each gives a ticket (new or
// appended) with a subject or the "(no subject)" marker, except the
// delivery reports, which never make a ticket.
func TestCorpus(t *testing.T) {
	dir := testenv.Shared(t, "testdata/mail")
	h := newHarness(t)
	srv := mail.New(mail.Config{Hostname: "desk.example.com", Addresses: []string{desk}, TicketPrefix: "HL"}, h.intake, nil, nil, nil)
	var files []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".eml") || strings.HasSuffix(p, ".raw")) {
			files = append(files, p)
		}
		return nil
	})
	if len(files) < 200 {
		t.Fatalf("only %d corpus files found in %s", len(files), dir)
	}
	counts := map[string]int{}
	for _, p := range files {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, p)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := srv.Deliver(ctx, mail.Envelope{From: "sender@example.net", To: []string{desk}}, raw)
		cancel()
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		counts[out.Kind]++
		switch out.Kind {
		case "bounce", "bounce_unmatched":
			if out.Ticket != "" {
				t.Errorf("%s: a bounce made ticket %s", rel, out.Ticket)
			}
			continue
		}
		tk, err := h.store.TicketGet(context.Background(), ticketing.TicketGetParams{Number: out.Ticket})
		if err != nil {
			t.Errorf("%s: ticket %q: %v", rel, out.Ticket, err)
			continue
		}
		if strings.TrimSpace(tk.Subject) == "" {
			t.Errorf("%s: ticket %s has an empty subject", rel, tk.Number)
		}
		if m := mail.Parse(raw); strings.TrimSpace(m.Subject) == "" && out.Kind == "ticket" && tk.Subject != ticketing.NoSubject {
			t.Errorf("%s: no subject, ticket subject %q, want %q", rel, tk.Subject, ticketing.NoSubject)
		}
	}
	t.Logf("%d messages: %v", len(files), counts)
	if counts["ticket"] < 150 {
		t.Errorf("only %d new tickets from %d messages", counts["ticket"], len(files))
	}
}

// TestCorpusChinese checks what the generated Chinese samples must read
// as, subject by subject.
func TestCorpusChinese(t *testing.T) {
	dir := testenv.Shared(t, "testdata/mail/generated-zh")
	want := map[string]struct{ subject, textHas, file string }{
		"01-gb2312-b-subject-base64-body.eml":         {"服务器故障报告", "第3号机柜", ""},
		"02-gbk-q-subject-qp-body.eml":                {"打印机无法连接网络", "打印机（机房A", ""},
		"03-gb18030-4byte-chars.eml":                  {"账号“王𠮷”无法登录 😀", "𠀀𠀁", ""},
		"04-outlook-encoded-word-filename.eml":        {"答复: 采购报价", "报价单", ""},
		"06-rfc2231-utf8-filename-with-fallback.eml":  {"系统登录页面报错（截图）", "请看截图", ""},
		"09-big5-body-and-subject.eml":                {"請協助重設密碼", "重設密碼", ""},
		"10-hz-gb-2312.eml":                           {"HZ test", "硬盘空间不足", ""},
		"11-reply-threading-ticket.eml":               {"回复: [工单#20261126-0001] 服务器故障报告", "已经重启", ""},
		"12-auto-reply-out-of-office.eml":             {"自动回复: [工单#20261126-0002] 您的请求已受理", "休假", ""},
		"14-calendar-invite-request.eml":              {"邀请: 机房巡检会议 @ 2026年12月1日 14:00", "会议邀请", ""},
		"15-fax-to-email-provider-tiff.eml":           {"您有一份新传真 来自 021-55550100 (1页)", "主叫号码", "传真_20261126101400.tif"},
		"16-nested-mixed-related-alternative-gbk.eml": {"巡检报告（含图片）", "巡检正常", ""},
	}
	for name, w := range want {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		m := mail.Parse(raw)
		for _, s := range []string{m.Subject, m.Text} {
			if strings.ContainsRune(s, '\uFFFD') || strings.Contains(s, "=?") {
				t.Errorf("%s: undecoded text %q", name, s)
			}
		}
		if m.Subject != w.subject || !strings.Contains(m.Text, w.textHas) {
			t.Errorf("%s: subject %q, text %q; want %q and text with %q", name, m.Subject, m.Text, w.subject, w.textHas)
		}
		if w.file != "" {
			found := false
			for _, a := range m.Attachments {
				found = found || a.Name == w.file
			}
			if !found {
				t.Errorf("%s: no attachment %q in %+v", name, w.file, m.Attachments)
			}
		}
		t.Logf("%s: %q / %.60q / %d files %v", name, m.Subject, m.Text, len(m.Attachments), m.Notes)
	}
}
