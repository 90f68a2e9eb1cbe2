package mail

import (
	"bytes"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/encoding/unicode"
)

// chineseCharsets are decoded with the widest encoding of their family:
// mail labelled gb2312 routinely carries GBK characters (and GBK ones
// GB18030 characters), and GB18030 is a superset of both. Big5 mail from
// Hong Kong carries HKSCS characters that x/text's Big5 also knows.
var chineseCharsets = map[string]encoding.Encoding{
	"gb2312":            simplifiedchinese.GB18030,
	"gbk":               simplifiedchinese.GB18030,
	"gb18030":           simplifiedchinese.GB18030,
	"cp936":             simplifiedchinese.GB18030,
	"ms936":             simplifiedchinese.GB18030,
	"windows-936":       simplifiedchinese.GB18030,
	"euc-cn":            simplifiedchinese.GB18030,
	"x-euc-cn":          simplifiedchinese.GB18030,
	"csgb2312":          simplifiedchinese.GB18030,
	"x-gbk":             simplifiedchinese.GB18030,
	"gb_2312-80":        simplifiedchinese.GB18030,
	"chinese":           simplifiedchinese.GB18030,
	"hz-gb-2312":        simplifiedchinese.HZGB2312,
	"big5":              traditionalchinese.Big5,
	"big5-hkscs":        traditionalchinese.Big5,
	"x-big5":            traditionalchinese.Big5,
	"cp950":             traditionalchinese.Big5,
	"utf8":              unicode.UTF8,
	"unicode-1-1-utf-7": nil, // rare; left to the best guess
}

// decodeCharset converts b from the named charset to UTF-8. exact is false
// when the charset was unknown or the bytes did not fit it, and the text
// is a best guess (see guessDecode).
func decodeCharset(name string, b []byte) (text string, exact bool) {
	name = strings.ToLower(strings.Trim(strings.TrimSpace(name), `"'`))
	switch name {
	case "", "us-ascii", "ascii", "utf-8", "default":
		if utf8.Valid(b) {
			return string(b), true
		}
		s, _ := guessDecode(b)
		return s, false
	case "unknown-8bit", "x-unknown", "8bit":
		s, _ := guessDecode(b)
		return s, isASCII(b)
	}
	enc, known := chineseCharsets[name]
	if !known {
		r, err := charset.Reader(name, bytes.NewReader(b))
		if err == nil {
			out, err := io.ReadAll(r)
			if err == nil && utf8.Valid(out) {
				return string(out), true
			}
		}
		s, _ := guessDecode(b)
		return s, false
	}
	if enc == nil {
		s, _ := guessDecode(b)
		return s, false
	}
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		s, _ := guessDecode(b)
		return s, false
	}
	// A decoder maps undecodable bytes to U+FFFD; more than a few of them
	// means the label was wrong (UTF-8 text labelled gb2312, say).
	if bytes.Count(out, []byte("\uFFFD")) > bytes.Count(b, []byte("\uFFFD"))+2 {
		if s, ok := guessDecode(b); ok {
			return s, false
		}
	}
	return string(out), true
}

// guessDecode decodes bytes that came without a (believable) charset: UTF-8
// when they are valid UTF-8, else GB18030 when they decode cleanly as such
// (the usual case for Chinese mail), else Latin-1 so that nothing is lost.
// ok is false when only the last resort applied.
func guessDecode(b []byte) (string, bool) {
	if utf8.Valid(b) {
		return string(b), true
	}
	if out, err := simplifiedchinese.GB18030.NewDecoder().Bytes(b); err == nil && !bytes.ContainsRune(out, utf8.RuneError) {
		return string(out), true
	}
	var sb strings.Builder
	for _, c := range b {
		sb.WriteRune(rune(c))
	}
	return sb.String(), false
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// decodeRaw decodes a header's raw bytes when they carry 8-bit characters
// without any charset label (RFC 6532 allows UTF-8; older Chinese mailers
// send GBK).
func decodeRaw(s string) string {
	if isASCII([]byte(s)) || utf8.ValidString(s) {
		return s
	}
	out, _ := guessDecode([]byte(s))
	return out
}
