package mail

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/emersion/go-message/textproto"
)

// Limits that keep one hostile message from costing more than its size.
const (
	maxDepth = 16  // nested multiparts and attached messages
	maxParts = 500 // MIME parts in one message
)

// Message is an e-mail as the desk reads it. Parse never fails: what it
// cannot read is described in Notes, and the raw message stays the
// authority (it is kept as an attachment of the ticket).
type Message struct {
	Header     textproto.Header // the top-level header, values as received
	MessageID  string           // without angle brackets; "" if absent
	InReplyTo  []string
	References []string
	Subject    string
	From       *Address
	Sender     *Address
	ReplyTo    []Address
	To, Cc     []Address
	Date       time.Time
	// Text is the body as plain text: the text/plain part, else the
	// HTML part converted to text.
	Text string
	// TextFromHTML is set when Text was converted from HTML.
	TextFromHTML bool
	Attachments  []Part
	// Report is set for a delivery status notification (RFC 3464).
	Report *DeliveryReport
	// Notes say what could not be read exactly: a guessed charset, a
	// broken part. They go on the ticket's timeline.
	Notes []string
	// MboxFrom is set when the message began with an mbox "From " line.
	MboxFrom bool
}

// Part is an attachment or inline image.
type Part struct {
	Name        string
	ContentType string
	ContentID   string
	Inline      bool
	Data        []byte
}

// DeliveryReport is what a DSN says about the message it reports on.
type DeliveryReport struct {
	// MessageIDs are the Message-IDs of the reported message, from its
	// returned headers (and the DSN's own In-Reply-To/References).
	MessageIDs []string
	Recipients []RecipientStatus
	// ReturnedSubject is the Subject of the returned message, which may
	// carry the ticket tag when the headers lack a usable Message-ID.
	ReturnedSubject string
}

// RecipientStatus is one per-recipient block of a DSN.
type RecipientStatus struct {
	Recipient  string `json:"recipient"`
	Action     string `json:"action"`
	Status     string `json:"status"`
	Diagnostic string `json:"diagnostic,omitempty"`
}

// Parse reads a raw message (as received after DATA). It tolerates an
// mbox "From " first line, malformed header lines, bare LF line ends, bad
// transfer encodings and unknown charsets.
func Parse(raw []byte) *Message {
	m := &Message{}
	if bytes.HasPrefix(raw, []byte("From ")) {
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			raw = raw[i+1:]
			m.MboxFrom = true
		}
	}
	h, body, bad := readHeader(raw)
	if bad > 0 {
		m.note("%d malformed header line(s) skipped", bad)
	}
	m.Header = h
	m.MessageID = firstOr(messageIDs(h.Get("Message-Id")), "")
	m.InReplyTo = messageIDs(h.Get("In-Reply-To"))
	m.References = messageIDs(h.Get("References"))
	subj, exact := decodeHeader(h.Get("Subject"))
	if !exact {
		m.note("the subject's charset was guessed")
	}
	m.Subject = subj
	if as := parseAddressList(h.Get("From")); len(as) > 0 {
		m.From = &as[0]
	}
	if as := parseAddressList(h.Get("Sender")); len(as) > 0 {
		m.Sender = &as[0]
	}
	m.ReplyTo = parseAddressList(h.Get("Reply-To"))
	m.To = parseAddressList(h.Get("To"))
	m.Cc = parseAddressList(h.Get("Cc"))
	if d, err := parseDate(h.Get("Date")); err == nil {
		m.Date = d
	}
	w := &walker{m: m}
	w.walk(h, body, 0, true)
	if len(w.texts) > 0 {
		m.Text = strings.Join(w.texts, "\n\n")
	}
	m.TextFromHTML = w.fromHTML
	return m
}

// parseDate reads a Date header. The form nearly every mailer writes
// (RFC 5322's, often with a zone comment: "Fri, 27 Nov 2026 12:06:28 +0000
// (UTC)") is read directly; net/mail tries its layouts one after another,
// which cost fifteen times as long and 73 allocations for that form.
func parseDate(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	s := v
	if i := strings.IndexByte(s, '('); i > 0 && strings.HasSuffix(s, ")") {
		s = strings.TrimSpace(s[:i])
	}
	for _, layout := range []string{time.RFC1123Z, "Mon, 2 Jan 2006 15:04:05 -0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return mail.ParseDate(v)
}

func (m *Message) note(format string, args ...any) {
	m.Notes = append(m.Notes, fmt.Sprintf(format, args...))
}

func firstOr(xs []string, def string) string {
	if len(xs) == 0 {
		return def
	}
	return xs[0]
}

// readHeader splits a header block from its body. Lines that are not
// fields (no colon, bad characters in the name) are skipped and counted,
// instead of ending the header as a strict reader would, so that the body
// does not begin in the middle of the header.
func readHeader(raw []byte) (h textproto.Header, body []byte, bad int) {
	br := bytes.NewReader(raw)
	r := bufio.NewReader(br)
	hdr, err := textproto.ReadHeader(r)
	if err == nil {
		// The body is the rest of raw: what neither reader has consumed.
		return hdr, raw[len(raw)-br.Len()-r.Buffered():], 0
	}
	// The strict reader stopped at a bad line: split by hand.
	end, bodyStart := headerEnd(raw)
	block := raw[:end]
	body = raw[bodyStart:]
	var cur []byte
	flush := func() {
		if cur == nil {
			return
		}
		line := cur
		cur = nil
		i := bytes.IndexByte(line, ':')
		if i <= 0 {
			bad++
			return
		}
		key := string(bytes.TrimSpace(line[:i]))
		for _, c := range []byte(key) {
			if c <= ' ' || c >= 0x7f {
				bad++
				return
			}
		}
		h.Add(key, strings.TrimSpace(string(line[i+1:])))
	}
	for _, line := range bytes.Split(block, []byte("\n")) {
		line = bytes.TrimRight(line, "\r")
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') && cur != nil {
			cur = append(cur, ' ')
			cur = append(cur, bytes.TrimSpace(line)...)
			continue
		}
		flush()
		if len(bytes.TrimSpace(line)) > 0 {
			cur = append([]byte(nil), line...)
		}
	}
	flush()
	return h, body, bad
}

// headerEnd finds the blank line after the header: where the header block
// ends and where the body starts.
func headerEnd(raw []byte) (end, bodyStart int) {
	if bytes.HasPrefix(raw, []byte("\r\n")) {
		return 0, 2
	}
	if bytes.HasPrefix(raw, []byte("\n")) {
		return 0, 1
	}
	crlf := bytes.Index(raw, []byte("\r\n\r\n"))
	lf := bytes.Index(raw, []byte("\n\n"))
	switch {
	case crlf >= 0 && (lf < 0 || crlf < lf):
		return crlf, crlf + 4
	case lf >= 0:
		return lf, lf + 2
	}
	return len(raw), len(raw)
}

// walker visits the MIME tree, collecting the body text and the files.
type walker struct {
	m        *Message
	parts    int
	texts    []string
	fromHTML bool
}

// walk visits one entity. wantText is false inside the alternatives that
// were not chosen for the body (their files are still kept).
func (w *walker) walk(h textproto.Header, body []byte, depth int, wantText bool) {
	w.parts++
	if w.parts > maxParts {
		if w.parts == maxParts+1 {
			w.m.note("more than %d MIME parts; the rest is only in the raw message", maxParts)
		}
		return
	}
	ct, exact := parseMediaType(h.Get("Content-Type"))
	if !exact {
		w.m.note("a file name's charset was guessed")
	}
	if ct.value == "" || !strings.Contains(ct.value, "/") {
		ct.value = "text/plain"
	}
	disp, exact := parseMediaType(h.Get("Content-Disposition"))
	if !exact {
		w.m.note("a file name's charset was guessed")
	}
	if strings.HasPrefix(ct.value, "multipart/") && depth < maxDepth {
		if w.multipart(ct, body, depth, wantText) {
			return
		}
		// No parts found: read the body as text, as a mail client would.
		ct.value = "text/plain"
	}
	data := w.transferDecode(h.Get("Content-Transfer-Encoding"), body)
	name := disp.params["filename"]
	if name == "" {
		name = ct.params["name"]
	}
	attachment := disp.value == "attachment" || (name != "" && disp.value != "inline")
	switch {
	case ct.value == "message/delivery-status" || ct.value == "message/global-delivery-status":
		w.deliveryStatus(data)
		w.file(h, ct, disp, orName(name, "delivery-status.txt"), data)
		return
	case ct.value == "text/rfc822-headers" || ct.value == "message/rfc822-headers":
		w.returnedHeader(data)
		w.file(h, ct, disp, orName(name, "returned-headers.txt"), data)
		return
	case ct.value == "message/rfc822" || ct.value == "message/global":
		if w.m.Report != nil || w.inReport() {
			w.returnedHeader(data)
		}
		w.file(h, ct, disp, orName(name, "message.eml"), data)
		return
	case (ct.value == "text/plain" || ct.value == "text/html") && !attachment:
		if !wantText {
			return
		}
		text, exact := w.decodeText(ct, data)
		if !exact {
			w.m.note("the body's charset %q was guessed", ct.params["charset"])
		}
		if ct.value == "text/html" {
			text = htmlToText(text)
			w.fromHTML = w.fromHTML || len(w.texts) == 0
		}
		if strings.TrimSpace(text) != "" {
			w.texts = append(w.texts, strings.TrimSpace(text))
		}
		return
	}
	w.file(h, ct, disp, name, data)
}

// inReport tells whether the top-level entity is a multipart/report of
// delivery status: its message/rfc822 part is the returned message.
func (w *walker) inReport() bool {
	ct, _ := parseMediaType(w.m.Header.Get("Content-Type"))
	return ct.value == "multipart/report" && strings.EqualFold(ct.params["report-type"], "delivery-status")
}

func orName(name, def string) string {
	if name != "" {
		return name
	}
	return def
}

// multipart visits the parts; it reports false when there were none.
func (w *walker) multipart(ct mediaType, body []byte, depth int, wantText bool) bool {
	boundary := ct.params["boundary"]
	if boundary == "" {
		w.m.note("a %s part has no boundary", ct.value)
		return false
	}
	type child struct {
		h    textproto.Header
		body []byte
	}
	var children []child
	mr := textproto.NewMultipartReader(bytes.NewReader(body), boundary)
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			w.m.note("a %s part could not be read: %v", ct.value, err)
			break
		}
		data, err := io.ReadAll(p)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			w.m.note("a %s part was cut short: %v", ct.value, err)
		}
		children = append(children, child{p.Header, data})
		if len(children) > maxParts {
			break
		}
	}
	if len(children) == 0 {
		return false
	}
	chosen := -1
	if ct.value == "multipart/alternative" && wantText {
		chosen = bestAlternative(func(i int) textproto.Header { return children[i].h }, len(children))
	}
	for i, c := range children {
		want := wantText && (chosen < 0 || i == chosen)
		w.walk(c.h, c.body, depth+1, want)
	}
	return true
}

// bestAlternative picks the part of a multipart/alternative to read the
// body from: text/plain, else a multipart (related, holding text), else
// HTML, else the first.
func bestAlternative(header func(int) textproto.Header, n int) int {
	rank := func(i int) int {
		h := header(i)
		ct, _ := parseMediaType(h.Get("Content-Type"))
		switch {
		case ct.value == "text/plain" || ct.value == "":
			return 3
		case strings.HasPrefix(ct.value, "multipart/"):
			return 2
		case ct.value == "text/html":
			return 1
		}
		return 0
	}
	best, bestRank := 0, -1
	for i := 0; i < n; i++ {
		if r := rank(i); r > bestRank {
			best, bestRank = i, r
		}
	}
	return best
}

func (w *walker) decodeText(ct mediaType, data []byte) (string, bool) {
	cs := ct.params["charset"]
	if cs == "" && ct.value == "text/html" {
		cs = htmlCharset(data)
	}
	text, exact := decodeCharset(cs, data)
	text = strings.ReplaceAll(text, "\r\n", "\n")
	return strings.ReplaceAll(text, "\r", "\n"), exact
}

var metaCharset = regexp.MustCompile(`(?i)<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)`)

// htmlCharset finds the charset an HTML part declares in a <meta> tag.
func htmlCharset(data []byte) string {
	head := data
	if len(head) > 4096 {
		head = head[:4096]
	}
	if m := metaCharset.FindSubmatch(head); m != nil {
		return string(m[1])
	}
	return ""
}

func (w *walker) transferDecode(cte string, body []byte) []byte {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		out, ok := lenientBase64(body)
		if !ok {
			w.m.note("a base64 part had invalid characters; they were skipped")
		}
		return out
	case "quoted-printable":
		return decodeQuotedPrintable(body)
	case "", "7bit", "8bit", "binary":
		return body
	default:
		w.m.note("unknown transfer encoding %q; the part is kept as received", cte)
		return body
	}
}

// lenientBase64 decodes base64 ignoring line breaks, stray characters and
// missing padding, as mail clients do. ok is false when characters outside
// the alphabet had to be skipped.
func lenientBase64(in []byte) ([]byte, bool) {
	clean := make([]byte, 0, len(in))
	ok := true
	for _, c := range in {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '+', c == '/':
			clean = append(clean, c)
		case c == '=' || c == '\r' || c == '\n' || c == ' ' || c == '\t':
		default:
			ok = false
		}
	}
	if len(clean)%4 == 1 {
		clean = clean[:len(clean)-1]
		ok = false
	}
	out, err := decodeBase64(string(clean))
	if !err {
		return in, false
	}
	return out, ok
}

// decodeQuotedPrintable is lenient: a malformed escape is kept as is.
func decodeQuotedPrintable(in []byte) []byte {
	out := make([]byte, 0, len(in))
	for i := 0; i < len(in); i++ {
		c := in[i]
		if c != '=' {
			out = append(out, c)
			continue
		}
		switch {
		case i+2 < len(in) && isHex(in[i+1]) && isHex(in[i+2]):
			out = append(out, unhex(in[i+1])<<4|unhex(in[i+2]))
			i += 2
		case i+1 < len(in) && in[i+1] == '\n': // soft line break
			i++
		case i+2 < len(in) && in[i+1] == '\r' && in[i+2] == '\n':
			i += 2
		default:
			// "=" then trailing spaces before the line end is a soft break too.
			j := i + 1
			for j < len(in) && (in[j] == ' ' || in[j] == '\t') {
				j++
			}
			if j > i+1 && j < len(in) && (in[j] == '\n' || in[j] == '\r') {
				if in[j] == '\r' && j+1 < len(in) && in[j+1] == '\n' {
					j++
				}
				i = j
				continue
			}
			out = append(out, c)
		}
	}
	return out
}

// file keeps a part as an attachment or inline image.
func (w *walker) file(h textproto.Header, ct, disp mediaType, name string, data []byte) {
	if len(data) == 0 && name == "" {
		return
	}
	if name == "" {
		name = fmt.Sprintf("part-%d%s", len(w.m.Attachments)+1, extensionFor(ct.value))
	}
	name = safeFileName(name)
	cid := strings.Trim(strings.TrimSpace(h.Get("Content-Id")), "<>")
	w.m.Attachments = append(w.m.Attachments, Part{
		Name: name, ContentType: ct.value, ContentID: cid,
		Inline: disp.value == "inline" || (disp.value == "" && cid != ""), Data: data,
	})
}

// safeFileName keeps the base name of a file name, without path
// separators or control characters.
func safeFileName(name string) string {
	name = strings.ReplaceAll(name, `\`, "/")
	name = path.Base(name)
	name = clean(name)
	if name == "" || name == "." || name == "/" || name == ".." {
		return "attachment"
	}
	if len(name) > 255 {
		name = clip(name, 255)
	}
	return name
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

func extensionFor(ct string) string {
	switch ct {
	case "text/plain":
		return ".txt"
	case "text/html":
		return ".html"
	case "text/calendar":
		return ".ics"
	case "image/png":
		return ".png"
	case "image/jpeg":
		return ".jpg"
	case "image/gif":
		return ".gif"
	case "image/tiff":
		return ".tif"
	case "application/pdf":
		return ".pdf"
	case "message/rfc822":
		return ".eml"
	}
	return ".bin"
}

// deliveryStatus reads the per-recipient fields of a DSN.
func (w *walker) deliveryStatus(data []byte) {
	rep := w.report()
	// The body is a per-message block and per-recipient blocks, each a
	// header block separated by blank lines.
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	for _, block := range strings.Split(text, "\n\n") {
		h, _, _ := readHeader([]byte(strings.TrimSpace(block) + "\n\n"))
		rcpt := h.Get("Final-Recipient")
		if rcpt == "" {
			rcpt = h.Get("Original-Recipient")
		}
		if rcpt == "" && h.Get("Action") == "" {
			continue
		}
		if i := strings.IndexByte(rcpt, ';'); i >= 0 {
			rcpt = rcpt[i+1:]
		}
		diag := h.Get("Diagnostic-Code")
		if i := strings.IndexByte(diag, ';'); i >= 0 && i < 16 {
			diag = diag[i+1:]
		}
		rep.Recipients = append(rep.Recipients, RecipientStatus{
			Recipient: clean(decodeRaw(rcpt)), Action: strings.ToLower(clean(h.Get("Action"))),
			Status: clean(h.Get("Status")), Diagnostic: clip(clean(decodeRaw(diag)), 1000),
		})
	}
}

// returnedHeader reads the Message-ID and subject of the message a DSN
// returns (whole, or its header only).
func (w *walker) returnedHeader(data []byte) {
	rep := w.report()
	h, _, _ := readHeader(data)
	for _, id := range messageIDs(h.Get("Message-Id")) {
		rep.MessageIDs = appendNew(rep.MessageIDs, id)
	}
	if rep.ReturnedSubject == "" {
		rep.ReturnedSubject, _ = decodeHeader(h.Get("Subject"))
	}
}

func (w *walker) report() *DeliveryReport {
	if w.m.Report == nil {
		w.m.Report = &DeliveryReport{}
	}
	return w.m.Report
}

func appendNew(xs []string, x string) []string {
	for _, y := range xs {
		if y == x {
			return xs
		}
	}
	return append(xs, x)
}
