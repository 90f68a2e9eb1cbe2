// Package e164 normalizes phone numbers to E.164 the Chinese way (country
// code 86). It is the one place every channel adapter, the customer lookup
// and the roster turn what a carrier, a caller or a config file wrote into
// the form Hotline stores and matches: "+" and at most 15 digits.
//
// # What is accepted
//
// Decoration is removed first: spaces, dashes, dots and parentheses between
// the digits; full-width characters (０-９, ＋, （）, －, the ideographic
// space); a display name with the address in angle brackets; the "tel:",
// "sip:" and "sips:" schemes, of which only the user part before "@" is kept
// (a password after ":" in the user part, URI parameters after the host and
// headers after "?" are dropped). Letters are not digits: "anonymous",
// "sipp" or "unknown" are errors, as is a "/" (in Chinese listings
// "55578279/80" means two numbers).
//
// The digits are then read as, in this order:
//
//   - "+" or the international prefix "00" and a country code. "+86" and
//     "0086" must be followed by a valid national number (see below; a "(0)"
//     trunk digit after the country code is dropped); any other country code
//     is kept as written, 7 to 15 digits in all.
//   - The trunk prefix "0" and a national number: "0532-55578279",
//     "010-12345678", "013800138000" (a mobile dialled with the trunk 0).
//   - A national number without a prefix: a mobile, 1[3-9] and 9 more digits
//     ("138 0013 8000"); a 400 or 800 service number, 10 digits
//     ("400-116-0016"); a short service number, 95 or 96 and 3 or 4 more
//     digits ("95588") or 1 and 4 more digits ("10086", "12345"); a landline
//     whose trunk 0 a carrier stripped, 10 or 11 digits starting with an area
//     code ("53255578279").
//   - "86" without "+" followed by a mobile, a 400/800 number or a landline
//     with its area code, as some carriers send it ("8613800138000").
//   - A bare local number of 7 or 8 digits is ambiguous without its area
//     code: [Parse] and [Normalize] refuse it; [ParseIn] puts the given area
//     code in front.
//
// National numbers are a mobile (11 digits), a 400/800 number (10), a short
// service number (5 or 6, only without a trunk 0), or a landline: area code
// and a subscriber number of 7 or 8 digits. Area codes follow a heuristic
// rather than the full list: the 2-digit codes are 10 and 20-29; a 3-digit
// code is any three digits starting with 3-9, except 400 and 800 (service
// numbers) and 86x (no such area exists, and "86" in front of a number is
// read as the country code). This accepts every real area code, and a few
// unassigned ones, without shipping the list.
//
// # Extensions
//
// An extension is kept apart from the number, in [Number.Ext], 1 to 8
// digits. It is written as:
//
//   - the RFC 3966 parameter ";ext=801" (also in tel and sip URIs);
//   - "ext 801", "ext. 801", "ext:801", "extn 801", "x801" (any case);
//   - "转801" or "分机801";
//   - ",801" (a dialler's pause before the extension);
//   - "-801" after a complete landline or 400/800 number, when the digits
//     with the last dash group are not a valid number and those without it
//     are, with an explicit area or country code: "0532-55578279-801".
//
// A phone-context parameter that is a global number prefix
// (";phone-context=+86532") is put in front of a local number, as RFC 3966
// says; other URI parameters are ignored.
package e164

import (
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Number is a parsed phone number: the E.164 form and the extension, if any.
type Number struct {
	E164 string // "+8653255578279"
	Ext  string // "801", or "" without an extension
}

// String is the number in RFC 3966 style: the E.164 form, and ";ext=" and
// the extension if there is one. Parse reads it back to the same Number.
func (n Number) String() string {
	if n.Ext == "" {
		return n.E164
	}
	return n.E164 + ";ext=" + n.Ext
}

// Mobile reports whether n is a Chinese mobile number (+86 1[3-9]…).
func (n Number) Mobile() bool {
	nsn, ok := strings.CutPrefix(n.E164, "+86")
	return ok && isMobile(nsn)
}

// National is n as it is dialled inside China, through a Chinese carrier's
// trunk: a mobile, a 400/800 number or a short service number as is, a
// landline with the trunk 0 in front of its area code, and a foreign number
// with the international prefix 00. It is "" for the zero Number.
func (n Number) National() string {
	digits, ok := strings.CutPrefix(n.E164, "+")
	if !ok || digits == "" {
		return ""
	}
	nsn, ok := strings.CutPrefix(digits, "86")
	if !ok {
		return "00" + digits
	}
	if isLandline(nsn) {
		return "0" + nsn
	}
	return nsn
}

// ParseError is the error for an input that is not a phone number.
type ParseError struct {
	Input  string // what was given
	Reason string // why it is not a number, e.g. "no digits"
}

// Error names the input (its first 64 characters) and the reason.
func (e *ParseError) Error() string {
	in := e.Input
	if utf8.RuneCountInString(in) > 64 {
		in = string([]rune(in)[:64]) + "…"
	}
	return fmt.Sprintf("e164: parse %q: %s", in, e.Reason)
}

// Normalize returns raw in E.164 form, without any extension, or a
// *ParseError when raw is not a phone number.
func Normalize(raw string) (string, error) {
	n, err := Parse(raw)
	if err != nil {
		return "", err
	}
	return n.E164, nil
}

// Parse reads raw as a phone number with an optional extension. See the
// package documentation for the forms accepted. Errors are *ParseError.
func Parse(raw string) (Number, error) {
	return parse(raw, "")
}

// ParseIn is Parse with a default area code ("532" or "0532"), put in front
// of a bare local number of 7 or 8 digits. Other inputs are read as Parse
// reads them.
func ParseIn(raw, areaCode string) (Number, error) {
	area := strings.TrimPrefix(strings.TrimSpace(areaCode), "0")
	if !isAreaCode(area) {
		return Number{}, &ParseError{Input: areaCode, Reason: "not a Chinese area code"}
	}
	return parse(raw, area)
}

// maxInput bounds the work done on junk: a number with a sip URI around it
// fits many times over.
const maxInput = 512

func parse(raw, area string) (Number, error) {
	fail := func(reason string, args ...any) (Number, error) {
		return Number{}, &ParseError{Input: raw, Reason: fmt.Sprintf(reason, args...)}
	}
	if len(raw) > maxInput {
		return fail("too long (%d bytes)", len(raw))
	}
	s := strings.TrimSpace(fold(raw))
	if s == "" {
		return fail("empty")
	}

	// "张三" <sip:…>: the address in angle brackets.
	if i := strings.IndexByte(s, '<'); i >= 0 {
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			return fail("unclosed '<'")
		}
		s = strings.TrimSpace(s[i+1 : i+j])
	}

	lower := asciiLower(s)
	switch {
	case strings.HasPrefix(lower, "tel:"):
		s = s[len("tel:"):]
	case strings.HasPrefix(lower, "sip:"), strings.HasPrefix(lower, "sips:"):
		s = s[strings.IndexByte(s, ':')+1:]
		s, _, _ = strings.Cut(s, "?")
		user, _, ok := strings.Cut(s, "@")
		if !ok {
			return fail("SIP URI without a user part")
		}
		s, _, _ = strings.Cut(user, ":") // user:password@host
	default:
		// user@host without a scheme.
		s, _, _ = strings.Cut(s, "@")
	}
	if strings.IndexByte(s, '%') >= 0 {
		u, err := url.PathUnescape(s)
		if err != nil {
			return fail("bad percent-encoding")
		}
		s = fold(u)
	}

	// RFC 3966 parameters: ;ext=…, ;phone-context=…, others ignored.
	s, params, _ := strings.Cut(s, ";")
	var ext, context string
	if params != "" {
		for p := range strings.SplitSeq(params, ";") {
			k, v, ok := strings.Cut(p, "=")
			if !ok {
				return fail("unexpected %q", ";"+p)
			}
			switch asciiLower(strings.TrimSpace(k)) {
			case "ext":
				if ext != "" {
					return fail("two extensions")
				}
				if ext = cleanExt(v); ext == "" {
					return fail("bad extension %q", v)
				}
			case "phone-context":
				context = strings.TrimSpace(v)
			}
		}
	}

	// Extension markers in the number itself.
	if i, n := findExtMarker(s); i >= 0 {
		if ext != "" {
			return fail("two extensions")
		}
		v := s[i+n:]
		if ext = cleanExt(v); ext == "" {
			return fail("bad extension %q", v)
		}
		s = s[:i]
	}

	plus, digits, reason := clean(s)
	if reason != "" {
		return fail("%s", reason)
	}
	if !plus && strings.HasPrefix(context, "+") {
		cplus, cdigits, reason := clean(context)
		if reason == "" && cplus && digits != "" && digits[0] != '0' {
			plus, digits = true, cdigits+digits
		}
	}
	e, reason := interpret(plus, digits, area)
	if reason == "" {
		return Number{E164: e, Ext: ext}, nil
	}

	// "0532-55578279-801": the last dash group is an extension when the
	// number without it is complete. No default area code here: a mistyped
	// mobile must not become a local number with an extension.
	if ext == "" {
		if i := strings.LastIndexByte(s, '-'); i > 0 {
			if tail := strings.TrimSpace(s[i+1:]); len(tail) <= 6 && isDigits(tail) {
				if p, d, r := clean(s[:i]); r == "" {
					if e, r := interpret(p, d, ""); r == "" && hasExtensions(e) {
						return Number{E164: e, Ext: tail}, nil
					}
				}
			}
		}
	}
	return fail("%s", reason)
}

// fold maps full-width ASCII (０-９, ＋, （）…) to ASCII, and the many
// spaces and dashes of typeset text to ' ' and '-'.
func fold(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 0xFF01 && r <= 0xFF5E:
			return r - 0xFEE0
		case r == 0x3000, r == 0x00A0, r >= 0x2000 && r <= 0x200B, r == 0x202F, r == 0x205F:
			return ' '
		case r >= 0x2010 && r <= 0x2015, r == 0x2212, r == 0xFE63, r == 0x30FC:
			return '-'
		}
		return r
	}, s)
}

// asciiLower lowers ASCII letters only, so byte offsets stay valid.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// extMarkers are the ways an extension is written in the number, longest
// first where one is the prefix of another.
var extMarkers = []string{"extn", "ext", "x", "转", "分机", ","}

// findExtMarker returns the offset and length of the first extension
// marker in s, or -1.
func findExtMarker(s string) (int, int) {
	lower := asciiLower(s)
	at, n := -1, 0
	for _, m := range extMarkers {
		if i := strings.Index(lower, m); i >= 0 && (at < 0 || i < at) {
			at, n = i, len(m)
		}
	}
	if at < 0 {
		return -1, 0
	}
	// "ext." "ext:" "ext=" "x:"
	for at+n < len(s) && strings.IndexByte(".:=", s[at+n]) >= 0 {
		n++
	}
	return at, n
}

// cleanExt returns the digits of an extension, or "" when v is not 1 to 8
// digits with optional spaces, dashes or dots.
func cleanExt(v string) string {
	var b strings.Builder
	for _, r := range v {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '\t' || r == '-' || r == '.':
		default:
			return ""
		}
	}
	if b.Len() == 0 || b.Len() > 8 {
		return ""
	}
	return b.String()
}

// clean strips the decoration from the number part. It returns whether it
// starts with "+", the digits, and a reason when it is not a number.
func clean(s string) (plus bool, digits string, reason string) {
	var b strings.Builder
	letters := false
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+':
			if plus || b.Len() > 0 {
				return false, "", "'+' not at the start"
			}
			plus = true
		case r == ' ' || r == '\t' || r == '-' || r == '.' || r == '(' || r == ')':
		case unicode.IsLetter(r):
			letters = true
		case r == utf8.RuneError:
			return false, "", "invalid UTF-8"
		default:
			return false, "", fmt.Sprintf("unexpected character %q", r)
		}
	}
	switch {
	case b.Len() == 0:
		return false, "", "no digits"
	case letters:
		return false, "", "contains letters"
	case b.Len() > 17: // "00" and 15 digits
		return false, "", fmt.Sprintf("too long (%d digits, E.164 allows 15)", b.Len())
	}
	return plus, b.String(), ""
}

// interpret reads the digits as described in the package documentation and
// returns the E.164 form, or the reason they are not a number.
func interpret(plus bool, d, area string) (string, string) {
	if plus {
		return international(d)
	}
	if rest, ok := strings.CutPrefix(d, "00"); ok {
		return international(rest)
	}
	if nsn, ok := strings.CutPrefix(d, "0"); ok {
		if isMobile(nsn) || isService(nsn) || isLandline(nsn) {
			return "+86" + nsn, ""
		}
		return "", "not a valid Chinese number after the trunk prefix 0"
	}
	if len(d) > 15 {
		return "", fmt.Sprintf("too long (%d digits, E.164 allows 15)", len(d))
	}
	if isMobile(d) || isService(d) || isShort(d) {
		return "+86" + d, ""
	}
	if nsn, ok := strings.CutPrefix(d, "86"); ok && len(d) >= 11 {
		nsn = strings.TrimPrefix(nsn, "0")
		if isMobile(nsn) || isService(nsn) || isLandline(nsn) {
			return "+86" + nsn, ""
		}
	}
	if (len(d) == 10 || len(d) == 11) && isLandline(d) {
		return "+86" + d, ""
	}
	switch {
	case len(d) == 7 || len(d) == 8:
		if area != "" {
			return "+86" + area + d, ""
		}
		return "", "local number without an area code (ambiguous; give the area code or use ParseIn)"
	case len(d) < 7:
		return "", fmt.Sprintf("too short (%d digits)", len(d))
	}
	return "", "not a Chinese mobile, landline, 400/800 or service number"
}

// international reads the digits after "+" or "00".
func international(d string) (string, string) {
	switch {
	case d == "":
		return "", "no digits after the international prefix"
	case d[0] == '0':
		return "", "country code cannot start with 0"
	case len(d) > 15:
		return "", fmt.Sprintf("too long (%d digits, E.164 allows 15)", len(d))
	}
	if nsn, ok := strings.CutPrefix(d, "86"); ok {
		nsn = strings.TrimPrefix(nsn, "0") // +86 (0)532 …
		if isMobile(nsn) || isService(nsn) || isShort(nsn) || isLandline(nsn) {
			return "+86" + nsn, ""
		}
		return "", "not a valid Chinese number after country code 86"
	}
	if len(d) < 7 {
		return "", fmt.Sprintf("too short (%d digits)", len(d))
	}
	return "+" + d, ""
}

// hasExtensions reports whether e is a Chinese landline or 400/800 number,
// the numbers that have extensions behind them.
func hasExtensions(e string) bool {
	nsn, ok := strings.CutPrefix(e, "+86")
	return ok && (isService(nsn) || isLandline(nsn))
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isMobile: 1[3-9] and 9 more digits.
func isMobile(nsn string) bool {
	return len(nsn) == 11 && nsn[0] == '1' && nsn[1] >= '3' && isDigits(nsn)
}

// isService: 400 or 800 and 7 more digits.
func isService(nsn string) bool {
	return len(nsn) == 10 && (strings.HasPrefix(nsn, "400") || strings.HasPrefix(nsn, "800")) && isDigits(nsn)
}

// isShort: 95xxx, 96xxx (5 or 6 digits) and 1xxxx (5 digits).
func isShort(nsn string) bool {
	if !isDigits(nsn) {
		return false
	}
	switch {
	case strings.HasPrefix(nsn, "95"), strings.HasPrefix(nsn, "96"):
		return len(nsn) == 5 || len(nsn) == 6
	case nsn[0] == '1':
		return len(nsn) == 5
	}
	return false
}

// isAreaCode is the area-code heuristic of the package documentation.
func isAreaCode(a string) bool {
	if !isDigits(a) {
		return false
	}
	switch len(a) {
	case 2:
		return a == "10" || a[0] == '2'
	case 3:
		return a[0] >= '3' && a != "400" && a != "800" && !strings.HasPrefix(a, "86")
	}
	return false
}

// isLandline: an area code and a subscriber number of 7 or 8 digits.
func isLandline(nsn string) bool {
	if !isDigits(nsn) || len(nsn) < 9 {
		return false
	}
	if isAreaCode(nsn[:2]) {
		return len(nsn)-2 == 7 || len(nsn)-2 == 8
	}
	if isAreaCode(nsn[:3]) {
		return len(nsn)-3 == 7 || len(nsn)-3 == 8
	}
	return false
}
