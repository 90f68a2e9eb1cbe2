package mail

import (
	"encoding/base64"
	"net/mail"
	"strings"
)

// maxEncodedWord bounds one RFC 2047 encoded word; RFC 2047 says 75
// characters, real mail is longer, and anything past this is not one.
const maxEncodedWord = 4096

// wordPiece is a run of header text: literal, or the decoded bytes of
// adjacent encoded words in one charset.
type wordPiece struct {
	encoded bool
	charset string
	data    []byte
}

// decodeHeader decodes an unstructured header value (Subject, a display
// name): RFC 2047 encoded words in any charset, with adjacent words of one
// charset joined before decoding (mailers split a multi-byte character
// across two words), and raw 8-bit text decoded by best guess. exact is
// false when some charset had to be guessed.
func decodeHeader(s string) (text string, exact bool) {
	exact = true
	var pieces []wordPiece
	add := func(p wordPiece) {
		if n := len(pieces); n > 0 {
			last := &pieces[n-1]
			if last.encoded == p.encoded && (!p.encoded || strings.EqualFold(last.charset, p.charset)) {
				last.data = append(last.data, p.data...)
				return
			}
		}
		pieces = append(pieces, p)
	}
	for len(s) > 0 {
		i := strings.Index(s, "=?")
		if i < 0 {
			add(wordPiece{data: []byte(s)})
			break
		}
		cs, data, n, ok := encodedWord(s[i:])
		if !ok {
			add(wordPiece{data: []byte(s[:i+2])})
			s = s[i+2:]
			continue
		}
		lit := s[:i]
		// Whitespace between two encoded words is not text (RFC 2047 §6.2).
		if !(strings.TrimSpace(lit) == "" && len(pieces) > 0 && pieces[len(pieces)-1].encoded) {
			if lit != "" {
				add(wordPiece{data: []byte(lit)})
			}
		}
		add(wordPiece{encoded: true, charset: cs, data: data})
		s = s[i+n:]
	}
	var b strings.Builder
	for _, p := range pieces {
		if !p.encoded {
			b.WriteString(decodeRaw(string(p.data)))
			continue
		}
		t, ok := decodeCharset(p.charset, p.data)
		exact = exact && ok
		b.WriteString(t)
	}
	return clean(b.String()), exact
}

// encodedWord parses one encoded word at the start of s: =?charset?B|Q?text?=
// and returns its charset, its decoded bytes and its length in s.
func encodedWord(s string) (cs string, data []byte, n int, ok bool) {
	if !strings.HasPrefix(s, "=?") {
		return "", nil, 0, false
	}
	rest := s[2:]
	q1 := strings.IndexByte(rest, '?')
	if q1 <= 0 || q1 > 64 || len(rest) < q1+3 || rest[q1+2] != '?' {
		return "", nil, 0, false
	}
	cs = rest[:q1]
	if strings.ContainsAny(cs, " \t\r\n\"()<>@,;:") {
		return "", nil, 0, false
	}
	if star := strings.IndexByte(cs, '*'); star >= 0 { // RFC 2231 language
		cs = cs[:star]
	}
	enc := rest[q1+1]
	body := rest[q1+3:]
	end := strings.Index(body, "?=")
	if end < 0 || end > maxEncodedWord || strings.ContainsAny(body[:end], "\r\n") {
		return "", nil, 0, false
	}
	text := body[:end]
	switch enc {
	case 'B', 'b':
		data, ok = decodeBase64(text)
	case 'Q', 'q':
		data, ok = decodeQ(text), true
	}
	if !ok {
		return "", nil, 0, false
	}
	return cs, data, 2 + q1 + 3 + end + 2, true
}

// decodeBase64 is lenient: it ignores whitespace and missing padding.
func decodeBase64(s string) ([]byte, bool) {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s)
	s = strings.TrimRight(s, "=")
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		if b, err = base64.RawURLEncoding.DecodeString(s); err != nil {
			return nil, false
		}
	}
	return b, true
}

// decodeQ decodes RFC 2047's Q encoding; a malformed escape is kept as is.
func decodeQ(s string) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_':
			out = append(out, ' ')
		case c == '=' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			out = append(out, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			out = append(out, c)
		}
	}
	return out
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// clean folds a header value to one line and drops control characters.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\r' || r == '\n':
			return ' '
		case r < 0x20 || r == 0x7f:
			return -1
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// Address is a mailbox as a header names it.
type Address struct {
	Name    string
	Address string // lower case
}

// parseAddressList reads an address header leniently: display names in any
// charset (encoded words, quoted encoded words, raw GBK), group syntax,
// comments, and addresses without angle brackets. Entries without a usable
// address are skipped.
func parseAddressList(raw string) []Address {
	var out []Address
	for _, item := range splitTopLevel(raw, ',') {
		// "Group: a, b;" — the group name is not an address.
		if i := topLevelIndex(item, ':'); i >= 0 && !strings.Contains(item[:i], "<") {
			item = item[i+1:]
		}
		item = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(item), ";"))
		if item == "" {
			continue
		}
		if a, ok := parseAddress(item); ok {
			out = append(out, a)
		}
	}
	return out
}

func parseAddress(item string) (Address, bool) {
	var name, addr string
	if lt := strings.LastIndexByte(item, '<'); lt >= 0 {
		gt := strings.IndexByte(item[lt:], '>')
		if gt < 0 {
			addr = item[lt+1:]
		} else {
			addr = item[lt+1 : lt+gt]
		}
		name = item[:lt]
	} else {
		// addr-spec alone, perhaps with a comment: a@b (Name)
		addr = item
		if i := strings.IndexByte(item, '('); i >= 0 {
			addr = item[:i]
			name = strings.TrimSuffix(item[i+1:], ")")
		}
	}
	addr = strings.ToLower(strings.Trim(strings.TrimSpace(addr), `"'`))
	if !plausibleAddress(addr) {
		return Address{}, false
	}
	name = strings.TrimSpace(name)
	if len(name) >= 2 && name[0] == '"' && name[len(name)-1] == '"' {
		name = strings.ReplaceAll(name[1:len(name)-1], `\"`, `"`)
	}
	name, _ = decodeHeader(name)
	name = strings.Trim(name, `"' `)
	if strings.EqualFold(name, addr) {
		name = ""
	}
	return Address{Name: name, Address: addr}, true
}

// plausibleAddress accepts local@domain without spaces; net/mail is the
// judge when it agrees, but real mail has local parts it refuses.
func plausibleAddress(a string) bool {
	at := strings.LastIndexByte(a, '@')
	if at <= 0 || at == len(a)-1 || strings.ContainsAny(a, " \t\r\n<>,;\"") {
		return false
	}
	if _, err := mail.ParseAddress(a); err == nil {
		return true
	}
	return !strings.Contains(a[at+1:], "@") && strings.Contains(a[at+1:], ".") || a[at+1:] == "localhost"
}

// splitTopLevel splits s at sep outside quotes, angle brackets and
// comments.
func splitTopLevel(s string, sep byte) []string {
	var out []string
	start := 0
	var inQuote bool
	depthAngle, depthParen := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && inQuote:
			i++
		case c == '"':
			inQuote = !inQuote
		case inQuote:
		case c == '<':
			depthAngle++
		case c == '>' && depthAngle > 0:
			depthAngle--
		case c == '(':
			depthParen++
		case c == ')' && depthParen > 0:
			depthParen--
		case c == sep && depthAngle == 0 && depthParen == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func topLevelIndex(s string, c byte) int {
	parts := splitTopLevel(s, c)
	if len(parts) < 2 {
		return -1
	}
	return len(parts[0])
}

// messageIDs reads the Message-IDs of In-Reply-To or References: every
// <…> token, or the bare tokens of mailers that drop the brackets.
func messageIDs(raw string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(id string) {
		id = strings.TrimSpace(strings.Trim(strings.TrimSpace(id), "<>"))
		if id == "" || len(id) > 998 || seen[id] || strings.ContainsAny(id, " \t\r\n") {
			return
		}
		seen[id] = true
		out = append(out, id)
	}
	if strings.Contains(raw, "<") {
		for {
			i := strings.IndexByte(raw, '<')
			if i < 0 {
				break
			}
			j := strings.IndexByte(raw[i:], '>')
			if j < 0 {
				add(raw[i+1:])
				break
			}
			add(raw[i+1 : i+j])
			raw = raw[i+j+1:]
		}
		return out
	}
	for _, f := range strings.Fields(raw) {
		if strings.Contains(f, "@") {
			add(f)
		}
	}
	return out
}
