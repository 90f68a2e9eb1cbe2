package ticketing

import (
	"strings"
)

// Confirmation is what a customer's reply to a resolution says.
type Confirmation int

const (
	// Other is any other reply: the ticket goes back to work.
	Other Confirmation = iota
	// Confirmed: 确认 / 已解决 — the ticket closes.
	Confirmed
	// NotSolved: 未解决 — the ticket goes back to work.
	NotSolved
)

func (c Confirmation) reason() string {
	switch c {
	case NotSolved:
		return "the customer says it is not solved"
	case Confirmed:
		return "the customer confirmed"
	}
	return "the customer replied"
}

var (
	notSolvedWords = []string{"未解决", "没解决", "没有解决", "仍未解决", "还没好", "not solved", "not fixed", "still broken"}
	confirmWords   = []string{"确认", "已解决", "解决了", "confirm", "solved", "fixed"}
	// Lines where the quoted original begins, in the mail clients Chinese
	// offices use: the quote must not answer for the customer (the
	// resolution mail itself names both 确认 and 未解决).
	quoteStarts = []string{"-----original message-----", "-----原始邮件-----", "------------------ 原始邮件 ------------------",
		"发件人:", "发件人：", "from:", "________________________________"}
)

// ReadConfirmation reads a customer's reply to a resolution, without the
// quoted original. A "not solved" anywhere wins over a confirmation.
func ReadConfirmation(reply string) Confirmation {
	text := strings.ToLower(OwnText(reply))
	for _, w := range notSolvedWords {
		if strings.Contains(text, w) {
			return NotSolved
		}
	}
	for _, w := range confirmWords {
		if strings.Contains(text, w) {
			return Confirmed
		}
	}
	return Other
}

// OwnText is a reply without what it quotes: lines starting with ">",
// and everything from a quote header ("-----原始邮件-----", "On … wrote:",
// "在 … 写道：") on.
func OwnText(reply string) string {
	var out []string
	for _, line := range strings.Split(reply, "\n") {
		l := strings.ToLower(strings.TrimSpace(line))
		if strings.HasPrefix(l, ">") {
			continue
		}
		stop := false
		for _, q := range quoteStarts {
			if strings.HasPrefix(l, q) {
				stop = true
			}
		}
		if (strings.HasPrefix(l, "on ") && strings.HasSuffix(l, "wrote:")) ||
			(strings.HasPrefix(l, "在") && (strings.HasSuffix(l, "写道：") || strings.HasSuffix(l, "写道:"))) {
			stop = true
		}
		if stop {
			break
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}
