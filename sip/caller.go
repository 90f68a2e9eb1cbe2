package sip

import (
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/hotline-desk/hotline/ticketing/e164"
)

// Identity is who is calling, as the carrier presents them.
type Identity struct {
	// Name is the display name, UTF-8 ("张三").
	Name string
	// Number is the caller's number in E.164, or "" when the carrier sent
	// none that parses ("anonymous", a letters-only user part).
	Number string
	// Raw is the user part as sent, kept for the timeline when it is not a
	// number.
	Raw string
	// Withheld is set when the caller asked for privacy (Privacy: id, user
	// or header; RPID privacy=full/uri/name; an anonymous From). The desk
	// keeps the number; the agents' phones do not see it.
	Withheld bool
	// Source names the header the identity came from.
	Source string
	// Diversion is the number the call was diverted from, if the carrier
	// said so (Diversion or History-Info), in E.164 when it parses.
	Diversion string
	// DiversionReason is the Diversion reason parameter (unconditional,
	// no-answer, user-busy).
	DiversionReason string
}

// The headers a caller's identity is read from, most trusted first.
const (
	hdrPAI       = "P-Asserted-Identity"
	hdrRPID      = "Remote-Party-ID"
	hdrPrivacy   = "Privacy"
	hdrDiversion = "Diversion"
	hdrHistory   = "History-Info"
)

// identityOf reads the caller's identity from an INVITE: from
// P-Asserted-Identity when the trunk asserts one (RFC 3325), else
// Remote-Party-ID (the older carriers' form), else From. It never fails:
// whatever cannot be read is left empty.
func identityOf(req *sip.Request) Identity {
	var id Identity
	var uri sip.Uri
	var params sip.HeaderParams
	found := false
	for _, name := range []string{hdrPAI, hdrRPID} {
		for _, h := range req.GetHeaders(name) {
			for _, v := range splitAddresses(h.Value()) {
				var u sip.Uri
				p := sip.NewParams()
				dn, err := sip.ParseAddressValue(v, &u, &p)
				if err != nil {
					continue
				}
				if !found || (uri.Scheme == "tel" && u.Scheme != "tel") {
					// Prefer a sip URI's display name; take the number
					// from whichever comes first.
					if !found {
						uri, params, id.Name, id.Source = u, p, dn, name
					} else if id.Name == "" {
						id.Name = dn
					}
					found = true
				}
			}
		}
		if found {
			break
		}
	}
	if !found {
		if f := req.From(); f != nil {
			uri, params, id.Name, id.Source = f.Address, f.Params, f.DisplayName, "From"
		}
	}
	id.Name = cleanName(id.Name)
	id.Raw = userOf(uri)
	if n, err := e164.Normalize(id.Raw); err == nil {
		id.Number = n
	}

	if id.Source == hdrRPID {
		switch strings.ToLower(params.GetOr("privacy", "")) {
		case "full", "uri", "name":
			id.Withheld = true
		}
	}
	for _, h := range req.GetHeaders(hdrPrivacy) {
		for _, v := range strings.FieldsFunc(strings.ToLower(h.Value()), func(r rune) bool { return r == ';' || r == ',' || r == ' ' }) {
			switch v {
			case "id", "user", "header", "full":
				id.Withheld = true
			}
		}
	}
	if f := req.From(); f != nil && (strings.EqualFold(f.Address.User, "anonymous") || strings.EqualFold(f.Address.Host, "anonymous.invalid")) {
		id.Withheld = true
	}
	if strings.EqualFold(id.Name, "anonymous") {
		id.Name = ""
	}

	id.Diversion, id.DiversionReason = diversionOf(req)
	return id
}

// diversionOf returns the number the call was first diverted from: the
// last Diversion entry (entries are prepended as a call is diverted again),
// or the first diverting History-Info entry.
func diversionOf(req *sip.Request) (number, reason string) {
	var last string
	for _, h := range req.GetHeaders(hdrDiversion) {
		for _, v := range splitAddresses(h.Value()) {
			last = v
		}
	}
	if last == "" {
		for _, h := range req.GetHeaders(hdrHistory) {
			if vs := splitAddresses(h.Value()); len(vs) > 0 {
				last = vs[0]
				break
			}
		}
	}
	if last == "" {
		return "", ""
	}
	var u sip.Uri
	p := sip.NewParams()
	if _, err := sip.ParseAddressValue(last, &u, &p); err != nil {
		return "", ""
	}
	raw := userOf(u)
	if n, err := e164.Normalize(raw); err == nil {
		raw = n
	}
	return raw, p.GetOr("reason", "")
}

// userOf is the user part of a sip URI, or the number of a tel URI.
func userOf(u sip.Uri) string {
	if strings.EqualFold(u.Scheme, "tel") {
		s := u.Raw()
		if s == "" {
			s = u.Host
		}
		s, _, _ = strings.Cut(s, ";")
		return s
	}
	return u.User
}

// splitAddresses splits a header value holding several name-addr values
// separated by commas, leaving commas inside quotes and angle brackets.
func splitAddresses(v string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '<':
			depth++
		case c == '>':
			if depth > 0 {
				depth--
			}
		case c == ',' && depth == 0:
			if s := strings.TrimSpace(v[start:i]); s != "" {
				out = append(out, s)
			}
			start = i + 1
		}
	}
	if start <= len(v) {
		if s := strings.TrimSpace(v[start:]); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// maxName bounds a display name: a header can carry kilobytes.
const maxName = 128

// cleanName trims a display name, drops control characters and invalid
// UTF-8, and bounds its length.
func cleanName(s string) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > maxName {
		s = string(r[:maxName])
	}
	return s
}

// escapeName makes a display name safe inside the quotes sipgo writes
// around it (RFC 3261 §25.1 quoted-string): UTF-8 passes as is; quotes and
// backslashes are escaped, control characters dropped.
// It runs for every leg, so it builds no Replacer (whose tables cost more
// than the rest of a leg's allocations).
func escapeName(s string) string {
	s = cleanName(s)
	if !strings.ContainsAny(s, `\"`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 4)
	for _, r := range s {
		if r == '\\' || r == '"' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
