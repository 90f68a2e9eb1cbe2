package mail

import (
	"encoding/base64"
	"net/mail"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
)

func gbkBytes(t testing.TB, s string) []byte {
	t.Helper()
	b, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func TestDecodeHeader(t *testing.T) {
	gb := gbkBytes(t, "朱镕基喆")
	big5, _ := traditionalchinese.Big5.NewEncoder().Bytes([]byte("印表機故障"))
	gb18030, _ := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte("𠀀字"))
	tests := []struct {
		name, in, want string
		exact          bool
	}{
		{"plain", "Printer jam", "Printer jam", true},
		{"utf-8 B", "=?UTF-8?B?" + b64([]byte("打印机卡纸")) + "?=", "打印机卡纸", true},
		{"gb2312 label with GBK chars", "=?gb2312?B?" + b64(gb) + "?=", "朱镕基喆", true},
		// The two bytes of 镕 are split across the words.
		{"split multibyte", "=?gb2312?B?" + b64(gb[:3]) + "?= =?gb2312?B?" + b64(gb[3:]) + "?=", "朱镕基喆", true},
		{"split folded", "=?GBK?B?" + b64(gb[:1]) + "?=\r\n =?GBK?B?" + b64(gb[1:]) + "?=", "朱镕基喆", true},
		{"Q encoding", "=?gbk?Q?" + qEncode(gb) + "?=", "朱镕基喆", true},
		{"big5", "=?big5?B?" + b64(big5) + "?=", "印表機故障", true},
		{"gb18030 4-byte", "=?gb18030?B?" + b64(gb18030) + "?=", "𠀀字", true},
		{"text around words", "Re: =?utf-8?B?" + b64([]byte("你好")) + "?= [HL-20261127-0001]", "Re: 你好 [HL-20261127-0001]", true},
		{"raw gbk bytes", string(gb), "朱镕基喆", true},
		{"raw utf-8", "打印机", "打印机", true},
		{"broken word kept", "=?utf-8?B?!!!?= x", "=?utf-8?B?!!!?= x", true},
		{"unknown charset guessed", "=?x-made-up?B?" + b64(gb) + "?=", "朱镕基喆", false},
		{"missing padding", "=?utf-8?B?" + strings.TrimRight(b64([]byte("工单")), "=") + "?=", "工单", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, exact := decodeHeader(tc.in)
			if got != tc.want || exact != tc.exact {
				t.Errorf("decodeHeader(%q) = %q, %v; want %q, %v", tc.in, got, exact, tc.want, tc.exact)
			}
		})
	}
}

func qEncode(b []byte) string {
	const hex = "0123456789ABCDEF"
	var sb strings.Builder
	for _, c := range b {
		sb.WriteByte('=')
		sb.WriteByte(hex[c>>4])
		sb.WriteByte(hex[c&15])
	}
	return sb.String()
}

func TestParseMediaTypeFileNames(t *testing.T) {
	gb := gbkBytes(t, "故障截图.png")
	pct := ""
	for _, c := range gb {
		pct += "%" + strings.ToUpper(string("0123456789abcdef"[c>>4])+string("0123456789abcdef"[c&15]))
	}
	tests := []struct{ name, in, want string }{
		{"rfc2231 gbk", `attachment; filename*=gbk''` + pct, "故障截图.png"},
		{"rfc2231 continuation", `attachment; filename*0*=gbk''` + pct[:12] + `; filename*1*=` + pct[12:], "故障截图.png"},
		{"rfc2231 utf-8 with fallback", `attachment; filename="fallback.png"; filename*=UTF-8''%E6%95%85%E9%9A%9C.png`, "故障.png"},
		{"outlook encoded word", `attachment; filename="=?gb2312?B?` + b64(gb) + `?="`, "故障截图.png"},
		{"raw gbk in quotes", `attachment; filename="` + string(gb) + `"`, "故障截图.png"},
		{"plain", `attachment; filename=report.pdf`, "report.pdf"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mt, _ := parseMediaType(tc.in)
			if got := mt.params["filename"]; got != tc.want {
				t.Errorf("filename = %q, want %q", got, tc.want)
			}
			if mt.value != "attachment" {
				t.Errorf("value = %q", mt.value)
			}
		})
	}
}

func TestTrimQuoted(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"outlook zh", "还是不行。\n\n-----原始邮件-----\n发件人: 服务台\n内容", "还是不行。"},
		{"outlook en", "Still broken.\n\n-----Original Message-----\nFrom: desk", "Still broken."},
		{"gmail en", "Thanks!\n\nOn Fri, Nov 27, 2026 at 9:30 AM Desk <d@example.com> wrote:\n> hello", "Thanks!"},
		{"gmail zh", "好的\n\n在 2026年11月27日 09:30，服务台 <d@example.com> 写道：\n> 您好", "好的"},
		{"foxmail header block", "收到\n\n发件人：服务台\n发送时间：2026年11月27日 9:30\n收件人：张三", "收到"},
		{"quotes only kept whole", "> only a quote", "> only a quote"},
		{"no quote", "just text", "just text"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := trimQuoted(tc.in); got != tc.want {
				t.Errorf("trimQuoted = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAutoReason(t *testing.T) {
	tests := []struct {
		name, msg, envFrom string
		auto               bool
	}{
		{"person", "From: a@example.cn\r\nSubject: help\r\n\r\nx", "a@example.cn", false},
		{"auto-submitted", "From: a@example.cn\r\nAuto-Submitted: auto-replied\r\n\r\nx", "a@example.cn", true},
		{"auto-submitted no", "From: a@example.cn\r\nAuto-Submitted: no\r\n\r\nx", "a@example.cn", false},
		{"precedence bulk", "From: a@example.cn\r\nPrecedence: bulk\r\n\r\nx", "a@example.cn", true},
		{"list", "From: a@example.cn\r\nList-Id: <ops.example.cn>\r\n\r\nx", "a@example.cn", true},
		{"x-autoreply", "From: a@example.cn\r\nX-Autoreply: yes\r\n\r\nx", "a@example.cn", true},
		{"null sender", "From: a@example.cn\r\n\r\nx", "", true},
		{"noreply", "From: noreply@example.cn\r\n\r\nx", "noreply@example.cn", true},
		{"mailer-daemon", "From: MAILER-DAEMON@example.cn\r\n\r\nx", "bounce@example.cn", true},
		{"zh subject", "From: a@example.cn\r\nSubject: =?utf-8?B?" + b64([]byte("自动回复: 休假")) + "?=\r\n\r\nx", "a@example.cn", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := Parse([]byte(tc.msg))
			if got := autoReason(m, tc.envFrom); (got != "") != tc.auto {
				t.Errorf("autoReason = %q, want auto=%v", got, tc.auto)
			}
		})
	}
}

func TestParseStructure(t *testing.T) {
	gb := gbkBytes(t, "正文：服务器宕机")
	html := gbkBytes(t, "<html><head><style>p{}</style></head><body><p>HTML 正文</p><p>第二段<br>换行</p></body></html>")
	msg := "From mbox@example.cn Fri Nov 27 09:30:00 2026\r\n" +
		"From: \"=?gbk?B?" + b64(gbkBytes(t, "张三")) + "?=\" <Zhang@Example.CN>\r\n" +
		"To: desk@example.com\r\nCc: =?utf-8?B?" + b64([]byte("李四")) + "?= <li@example.cn>, wang@example.cn\r\n" +
		"Subject: test\r\nbad header line without colon\r\n" +
		"Content-Type: multipart/mixed; boundary=outer\r\n\r\n" +
		"--outer\r\nContent-Type: multipart/alternative; boundary=alt\r\n\r\n" +
		"--alt\r\nContent-Type: text/plain; charset=gb2312\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(gb) + "\r\n" +
		"--alt\r\nContent-Type: text/html; charset=gbk\r\n\r\n" + string(html) + "\r\n--alt--\r\n" +
		"--outer\r\nContent-Type: image/png\r\nContent-ID: <img1>\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n" +
		"--outer--\r\n"
	m := Parse([]byte(msg))
	if !m.MboxFrom || m.Subject != "test" || m.Text != "正文：服务器宕机" {
		t.Errorf("mbox %v subject %q text %q", m.MboxFrom, m.Subject, m.Text)
	}
	if m.From == nil || m.From.Name != "张三" || m.From.Address != "zhang@example.cn" {
		t.Errorf("from %+v", m.From)
	}
	if len(m.Cc) != 2 || m.Cc[0].Name != "李四" || m.Cc[1].Address != "wang@example.cn" {
		t.Errorf("cc %+v", m.Cc)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].ContentType != "image/png" || !m.Attachments[0].Inline || m.Attachments[0].ContentID != "img1" {
		t.Errorf("attachments %+v", m.Attachments)
	}
	if len(m.Notes) == 0 {
		t.Error("the malformed header line was not noted")
	}
	h := Parse([]byte("Content-Type: text/html; charset=gbk\r\n\r\n" + string(html)))
	if h.Text != "HTML 正文\n\n第二段\n换行" || !h.TextFromHTML {
		t.Errorf("html text %q", h.Text)
	}
}

// parseDate's direct path must read a date as net/mail does.
func TestParseDateAgreesWithNetMail(t *testing.T) {
	for _, v := range []string{
		"Fri, 27 Nov 2026 12:06:28 +0000 (UTC)",
		"Fri, 27 Nov 2026 12:06:28 +0800",
		"Mon, 2 Mar 2026 08:00:00 +0800 (CST)",
		"  Tue, 10 Feb 2026 23:59:59 -0500  ",
		"27 Nov 2026 12:06:28 +0000",           // no weekday: net/mail's layouts
		"Fri, 27 Nov 2026 12:06 +0000",         // no seconds
		"Fri, 27 Nov 2026 12:06:28 GMT",        // obsolete zone
		"Fri, 27 Nov 2026 12:06:28 +0000 (UTC", // unclosed comment
		"星期五, 27 十一月 2026",
		"",
	} {
		want, wantErr := mail.ParseDate(strings.TrimSpace(v))
		got, err := parseDate(v)
		if (err != nil) != (wantErr != nil) || !got.Equal(want) || got.Location().String() != want.Location().String() {
			t.Errorf("%q: got %v, %v; net/mail %v, %v", v, got, err, want, wantErr)
		}
	}
}
