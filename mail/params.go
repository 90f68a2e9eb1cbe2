package mail

import (
	"sort"
	"strconv"
	"strings"
)

// mediaType is a Content-Type or Content-Disposition value: the type in
// lower case and its parameters, keys in lower case, values decoded to
// UTF-8.
type mediaType struct {
	value  string
	params map[string]string
}

// parseMediaType reads a Content-Type or Content-Disposition leniently. It
// decodes RFC 2231 parameters in any charset (filename*=gbk”%C4%E3…, and
// continuations filename*0*=…; filename*1*=…), which Go's mime package
// decodes only for UTF-8, and the encoded words that Outlook and Foxmail
// put in quoted file names. exact is false when a charset was guessed.
func parseMediaType(s string) (mt mediaType, exact bool) {
	exact = true
	mt.params = map[string]string{}
	parts := splitTopLevel(s, ';')
	mt.value = strings.ToLower(strings.TrimSpace(parts[0]))
	// RFC 2231 pieces: name → section number → (value, encoded).
	type section struct {
		v       string
		encoded bool
	}
	extended := map[string]map[int]section{}
	for _, p := range parts[1:] {
		eq := strings.IndexByte(p, '=')
		if eq <= 0 {
			continue
		}
		key := strings.ToLower(strings.TrimSpace(p[:eq]))
		val := strings.TrimSpace(p[eq+1:])
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = unquote(val[1 : len(val)-1])
		} else if len(val) >= 1 && val[0] == '"' { // unterminated quote
			val = unquote(val[1:])
		}
		if i := strings.IndexByte(key, '*'); i >= 0 {
			name, rest := key[:i], key[i+1:]
			enc := strings.HasSuffix(rest, "*") || rest == ""
			rest = strings.TrimSuffix(rest, "*")
			n := 0
			if rest != "" {
				var err error
				if n, err = strconv.Atoi(rest); err != nil || n < 0 || n > 1000 {
					continue
				}
			}
			if extended[name] == nil {
				extended[name] = map[int]section{}
			}
			extended[name][n] = section{val, enc}
			continue
		}
		if _, dup := mt.params[key]; dup {
			continue
		}
		v, ok := decodeHeader(val)
		exact = exact && ok
		mt.params[key] = v
	}
	for name, secs := range extended {
		nums := make([]int, 0, len(secs))
		for n := range secs {
			nums = append(nums, n)
		}
		sort.Ints(nums)
		// The charset is named once, in the first encoded section.
		cs := ""
		var raw []byte
		for i, n := range nums {
			sec := secs[n]
			if !sec.encoded {
				raw = append(raw, sec.v...)
				continue
			}
			v := sec.v
			if i == 0 {
				if parts := strings.SplitN(v, "'", 3); len(parts) == 3 {
					cs, v = parts[0], parts[2]
				}
			}
			raw = append(raw, percentDecode(v)...)
		}
		var v string
		var ok bool
		if cs == "" {
			v, ok = guessDecode(raw)
		} else {
			v, ok = decodeCharset(cs, raw)
		}
		exact = exact && ok
		// The extended form wins over a plain fallback of the same name.
		mt.params[name] = clean(v)
	}
	return mt, exact
}

func unquote(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func percentDecode(s string) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			out = append(out, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		out = append(out, s[i])
	}
	return out
}
