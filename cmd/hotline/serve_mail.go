package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"

	"github.com/hotline-desk/hotline/channels"
	"github.com/hotline-desk/hotline/config"
	"github.com/hotline-desk/hotline/mail"
	"github.com/hotline-desk/hotline/metrics"
)

// wireMail starts the SMTP server of the mail channel (smtp.listen).
func (g *gateway) wireMail(ctx context.Context) error {
	c := g.s.cfg
	if config.IsOff(c.SMTP.Listen) {
		g.log.Info("SMTP off")
		return nil
	}
	trusted, err := c.SMTP.TrustedPrefixes()
	if err != nil {
		return fmt.Errorf("smtp.trusted: %w", err)
	}
	var tlsConfig *tls.Config
	if c.SMTP.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(c.SMTP.TLSCert, c.SMTP.TLSKey)
		if err != nil {
			return fmt.Errorf("smtp.tls_cert: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	users := map[string]string{}
	for _, u := range c.SMTP.Auth {
		pw := u.Password(g.s.getenv)
		if pw == "" {
			return fmt.Errorf("smtp.auth: the password of %q is not in $%s", u.User, u.PasswordEnv)
		}
		users[u.User] = pw
	}
	// Mail from fax providers (fax.senders) with TIFF or PDF becomes a fax
	// ticket through the fax channel, wired before this one.
	var fax mail.Fax
	if g.faxes != nil {
		fax = g.faxes
	}
	srv := mail.New(mail.Config{
		Hostname: c.SMTP.Hostname, Addresses: c.Desk.Addresses,
		MaxMessageBytes: c.SMTP.MaxMessageBytes, MaxRecipients: c.SMTP.MaxRecipients,
		TLS: tlsConfig, Users: users, RequireAuth: c.SMTP.RequireAuth,
		MaxConnectionsPerClient: c.SMTP.MaxConnectionsPerClient, MaxMessagesPerMinute: c.SMTP.MaxMessagesPerMinute,
		Trusted: trusted, IdleTimeout: c.SMTP.IdleTimeout.Std(), ReadTimeout: c.SMTP.ReadTimeout.Std(),
		TicketPrefix: c.Desk.TicketPrefix, FaxSenders: c.Fax.Senders,
		Ack: mail.AckConfig{Enabled: c.Mail.Acknowledge && c.Mail.Relay != "", DeskName: c.Desk.Name, ConsoleURL: c.Desk.ConsoleURL,
			PerHour: c.Mail.AcknowledgePerHour},
	}, g.intake, fax, metrics.NewMail(g.mon), g.log.With("channel", "email"))
	ln, err := net.Listen("tcp", c.SMTP.Listen)
	if err != nil {
		return fmt.Errorf("SMTP listen on %s: %w", c.SMTP.Listen, err)
	}
	if c.Mail.Acknowledge && c.Mail.Relay == "" {
		g.log.Warn("mail.acknowledge is on but mail.relay is empty: new mail tickets are not acknowledged")
	}
	g.log.Info("SMTP listening", "addr", ln.Addr().String(), "addresses", c.Desk.Addresses, "tls", tlsConfig != nil)
	g.group.Add("smtp", channels.WorkerFunc(func(ctx context.Context) error {
		return srv.Serve(ctx, ln)
	}))
	return nil
}

var _ mail.Intake = (*channels.Intake)(nil)
