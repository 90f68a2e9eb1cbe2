package mail

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// The fuzz tests hold the decoders to: no panic, no hang, and UTF-8 out
// whatever comes in. Run one with e.g. go test -fuzz FuzzParse ./mail.

func FuzzParse(f *testing.F) {
	f.Add([]byte("From: a@example.cn\r\nSubject: =?gb2312?B?1cXI/Q==?=\r\n\r\nbody\r\n"))
	f.Add([]byte("From x\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain; charset=gbk\nContent-Transfer-Encoding: quoted-printable\n\n=D5=C5=\n--b\nContent-Type: application/pdf; name*=gbk''%D5%C5.pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0=\n--b--\n"))
	f.Add([]byte("Content-Type: multipart/report; report-type=delivery-status; boundary=r\r\n\r\n--r\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; x@y\r\nAction: failed\r\n--r\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <a@b>\r\n--r--\r\n"))
	f.Add([]byte("Content-Type: multipart/alternative; boundary=a\r\n\r\n--a\r\nContent-Type: text/html\r\n\r\n<p>x<br><a href=http://x>y</a></p>\r\n--a--"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m := Parse(raw)
		if !utf8.ValidString(m.Subject) || !utf8.ValidString(m.Text) {
			t.Fatalf("not UTF-8: subject %q text %q", m.Subject, m.Text)
		}
		for _, a := range m.Attachments {
			if !utf8.ValidString(a.Name) || a.Name == "" || strings.ContainsAny(a.Name, "/\x00") {
				t.Fatalf("bad attachment name %q", a.Name)
			}
		}
		_ = autoReason(m, "")
		_ = isBounce(m)
		_ = trimQuoted(m.Text)
	})
}

func FuzzDecodeHeader(f *testing.F) {
	for _, s := range []string{"=?gb2312?B?1cXI/Q==?=", "=?gbk?Q?=D5=C5?= =?gbk?Q?=C8=FD?=", "a =?utf-8?b?5L2g?=b", "=?", "=??B??=", "\xd5\xc5\xc8\xfd"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, _ := decodeHeader(s)
		if !utf8.ValidString(out) || strings.ContainsAny(out, "\r\n") {
			t.Fatalf("decodeHeader(%q) = %q", s, out)
		}
		for _, a := range parseAddressList(s) {
			if !utf8.ValidString(a.Name) || !strings.Contains(a.Address, "@") {
				t.Fatalf("parseAddressList(%q): %+v", s, a)
			}
		}
		_ = messageIDs(s)
	})
}

func FuzzParseMediaType(f *testing.F) {
	for _, s := range []string{`attachment; filename*0*=gbk''%D5%C5; filename*1*=%C8%FD`, `text/plain; charset="gb2312"`, `a; b="c\"d`, `x; name*=''%`, `;;=;*=`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		mt, _ := parseMediaType(s)
		for k, v := range mt.params {
			if !utf8.ValidString(v) {
				t.Fatalf("param %s = %q not UTF-8", k, v)
			}
		}
	})
}
