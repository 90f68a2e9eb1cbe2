package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"mime"
	"net"
	"net/smtp"
	"net/textproto"
	"os"
	"strings"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// cmdSimulateMail sends one real test message over SMTP to a running
// gateway, as a customer's mail server would, and prints the answer.
func cmdSimulateMail(ctx context.Context, env *cliEnv, args []string) error {
	fs := flag.NewFlagSet("simulate mail", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	to := fs.String("to", "", "the desk `ADDRESS` to write to (one of desk.addresses); required")
	server := fs.String("server", "127.0.0.1:2525", "the gateway's SMTP `ADDR`")
	from := fs.String("from", "customer@example.cn", "the sender's `ADDRESS`")
	name := fs.String("name", "张三", "the sender's display `NAME`")
	subject := fs.String("subject", "打印机无法打印（测试邮件）", "the `SUBJECT`")
	body := fs.String("body", "您好：\n三楼打印机从今天上午起无法打印，请协助处理。\n谢谢！\n", "the `TEXT` of the message")
	charset := fs.String("charset", "gb2312", "`CHARSET` of the subject and body: gb2312 (GBK bytes, as Chinese mail clients send) or utf-8")
	inReplyTo := fs.String("in-reply-to", "", "a `MESSAGE-ID` this message answers (threads it onto that ticket)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: hotline simulate mail --to ADDRESS [flags]\n\nSends a real test message over SMTP to a running gateway and prints the answer.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *to == "" {
		return usageError{"--to is required (the desk's address)"}
	}
	msg, id, err := simulatedMail(*from, *name, *to, *subject, *body, *charset, *inReplyTo)
	if err != nil {
		return usageError{err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := smtpSend(ctx, *server, *from, []string{*to}, msg); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "250: %s accepted the message %s for %s\n", *server, id, *to)
	return nil
}

// simulatedMail renders the test message, returning it and its Message-ID.
func simulatedMail(from, name, to, subject, body, charset, inReplyTo string) ([]byte, string, error) {
	enc := func(s string) ([]byte, error) { return []byte(s), nil }
	switch strings.ToLower(charset) {
	case "utf-8", "utf8":
		charset = "utf-8"
	case "gb2312", "gbk", "gb18030":
		e := simplifiedchinese.GB18030.NewEncoder()
		if charset == "gb2312" || charset == "gbk" {
			e = simplifiedchinese.GBK.NewEncoder()
		}
		enc = func(s string) ([]byte, error) { return e.Bytes([]byte(s)) }
	default:
		return nil, "", fmt.Errorf("--charset %q: want gb2312, gbk, gb18030 or utf-8", charset)
	}
	word := func(s string) (string, error) {
		b, err := enc(s)
		if err != nil {
			return "", fmt.Errorf("encode %q in %s: %w", s, charset, err)
		}
		return "=?" + charset + "?B?" + base64.StdEncoding.EncodeToString(b) + "?=", nil
	}
	subj, err := word(subject)
	if err != nil {
		return nil, "", err
	}
	display, err := word(name)
	if err != nil {
		return nil, "", err
	}
	text, err := enc(strings.ReplaceAll(body, "\n", "\r\n"))
	if err != nil {
		return nil, "", fmt.Errorf("encode the body in %s: %w", charset, err)
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	id := fmt.Sprintf("<simulate.%d@%s>", time.Now().UnixNano(), host)
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s <%s>\r\nTo: %s\r\nSubject: %s\r\n", display, from, to, subj)
	fmt.Fprintf(&b, "Date: %s\r\nMessage-ID: %s\r\n", time.Now().Format(time.RFC1123Z), id)
	if inReplyTo != "" {
		r := "<" + strings.Trim(inReplyTo, "<> ") + ">"
		fmt.Fprintf(&b, "In-Reply-To: %s\r\nReferences: %s\r\n", r, r)
	}
	fmt.Fprintf(&b, "MIME-Version: 1.0\r\nContent-Type: %s\r\nContent-Transfer-Encoding: base64\r\nX-Mailer: hotline simulate mail\r\n\r\n",
		mime.FormatMediaType("text/plain", map[string]string{"charset": charset}))
	s := base64.StdEncoding.EncodeToString(text)
	for len(s) > 76 {
		b.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	b.WriteString(s + "\r\n")
	return []byte(b.String()), id, nil
}

// smtpSend delivers msg with Go's SMTP client; an SMTP refusal comes back
// with its code and text.
func smtpSend(ctx context.Context, addr, from string, to []string, msg []byte) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	host, _, _ := net.SplitHostPort(addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("SMTP greeting from %s: %w", addr, err)
	}
	defer c.Close()
	step := func(what string, err error) error {
		var te *textproto.Error
		if errors.As(err, &te) {
			return fmt.Errorf("%s: the server answered %d %s", what, te.Code, te.Msg)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	if err := step("EHLO", c.Hello("simulate.hotline.invalid")); err != nil {
		return err
	}
	if err := step("MAIL FROM", c.Mail(from)); err != nil {
		return err
	}
	for _, r := range to {
		if err := step("RCPT TO "+r, c.Rcpt(r)); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err := step("DATA", err); err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return step("DATA", err)
	}
	if err := step("end of DATA", w.Close()); err != nil {
		return err
	}
	return c.Quit()
}
