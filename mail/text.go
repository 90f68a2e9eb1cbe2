package mail

import (
	"regexp"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// htmlToText renders HTML as readable plain text: block elements start new
// lines, list items get a dash, links keep their target, and scripts,
// styles and the head are dropped. x/net/html's tokenizer copes with the
// broken markup that mail clients produce.
func htmlToText(s string) string {
	z := html.NewTokenizer(strings.NewReader(s))
	var b strings.Builder
	skip := 0  // depth inside script, style, head, title
	link := "" // the href of the open <a>, written after its text
	newline := func(n int) {
		cur := b.String()
		have := len(cur) - len(strings.TrimRight(cur, "\n"))
		for ; have < n && b.Len() > 0; have++ {
			b.WriteByte('\n')
		}
	}
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return tidyText(b.String())
		case html.TextToken:
			if skip > 0 {
				continue
			}
			t := string(z.Text())
			t = strings.Join(strings.Fields(t), " ")
			if t == "" {
				if raw := string(z.Raw()); strings.ContainsAny(raw, " \t\n") && b.Len() > 0 && !strings.HasSuffix(b.String(), " ") && !strings.HasSuffix(b.String(), "\n") {
					b.WriteByte(' ')
				}
				continue
			}
			b.WriteString(t)
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			name, hasAttr := z.TagName()
			a := atom.Lookup(name)
			end := tt == html.EndTagToken
			switch a {
			case atom.Script, atom.Style, atom.Head, atom.Title:
				if tt == html.StartTagToken {
					skip++
				} else if end && skip > 0 {
					skip--
				}
			case atom.Br:
				b.WriteByte('\n')
			case atom.P, atom.Div, atom.Table, atom.Blockquote, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Pre, atom.Ul, atom.Ol, atom.Hr:
				newline(2)
			case atom.Tr:
				newline(1)
			case atom.Td, atom.Th:
				if !end {
					b.WriteByte('\t')
				}
			case atom.Li:
				if !end {
					newline(1)
					b.WriteString("- ")
				}
			case atom.A:
				if !end && hasAttr {
					for {
						k, v, more := z.TagAttr()
						if string(k) == "href" && strings.HasPrefix(string(v), "http") {
							link = string(v)
						}
						if !more {
							break
						}
					}
				}
				if end && link != "" {
					if !strings.HasSuffix(b.String(), link) {
						b.WriteString(" <" + link + ">")
					}
					link = ""
				}
			}
		}
	}
}

var blankLines = regexp.MustCompile(`\n{3,}`)

// tidyText trims trailing spaces on every line and collapses runs of blank
// lines.
func tidyText(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(strings.TrimLeft(l, " "), " \t")
	}
	s = strings.Join(lines, "\n")
	return strings.TrimSpace(blankLines.ReplaceAllString(s, "\n\n"))
}
