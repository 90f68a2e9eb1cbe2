package main

import (
	"context"
	"fmt"
	"time"

	"github.com/hotline-desk/hotline/ari"
	"github.com/hotline-desk/hotline/ari/hotline"
	"github.com/hotline-desk/hotline/channels"
	"github.com/hotline-desk/hotline/metrics"
)

// wireARI starts the phone channel over Asterisk when ari.url is set: the
// hotline Stasis application, on the call intake and the roster. It makes
// no listener: it connects to Asterisk, and keeps reconnecting while
// Asterisk is away, so a gateway may start before its Asterisk.
func (g *gateway) wireARI(ctx context.Context) error {
	c := g.s.cfg.ARI
	if c.URL == "" {
		g.log.Info("Asterisk ARI off")
		return nil
	}
	mon := metrics.NewARI(g.mon)
	client, err := ari.New(ari.Config{
		URL: c.URL, User: c.User, Password: c.Password(g.s.getenv),
		Observe: func(op string, d time.Duration, err error) { mon.Request(op, d, err != nil, ari.StatusOf(err)) },
	})
	if err != nil {
		return fmt.Errorf("ari: %w", err)
	}
	prompts := hotline.DefaultPrompts
	byName := map[string]*string{"language": &prompts.Language, "greeting": &prompts.Greeting, "menu": &prompts.Menu,
		"invalid": &prompts.Invalid, "ticket_number": &prompts.TicketNumber, "hold": &prompts.Hold, "unavailable": &prompts.Unavailable}
	for name, uri := range c.Prompts {
		if p := byName[name]; p != nil { // config.Validate checked the names
			*p = uri
		}
	}
	sip := g.s.cfg.SIP
	app := hotline.New(client, g.calls, g.roster, hotline.Config{
		App: c.App, AgentEndpoint: c.AgentEndpoint, MobileEndpoint: c.MobileEndpoint,
		Menu: c.Menu, MenuTimeout: c.MenuTimeout.Std(), Prompts: prompts, RecordingMaxBytes: c.RecordingMaxBytes,
		Plan: channels.PlanConfig{Ring: time.Duration(sip.RingSeconds) * time.Second,
			MobileRing: time.Duration(sip.MobileRingSeconds) * time.Second, Strategy: sip.Strategy},
		Hotline: g.s.cfg.Desk.Hotline, ARIURL: c.URL, Log: g.log.With("channel", "ari"), Metrics: mon,
	})
	g.log.Info("Asterisk ARI on", "url", c.URL, "app", c.App)
	g.group.Add("ari", channels.WorkerFunc(app.Run))
	return nil
}
