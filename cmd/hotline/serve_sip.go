package main

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/hotline-desk/hotline/channels"
	"github.com/hotline-desk/hotline/config"
	"github.com/hotline-desk/hotline/metrics"
	"github.com/hotline-desk/hotline/sip"
)

// wireSIP starts the phone channel over SIP: registrar, trunk ingress and
// B2BUA on sip.listen (UDP and TCP). Calls go through the journal-backed
// call intake; registrations through channels.Registrations over the store.
func (g *gateway) wireSIP(ctx context.Context) error {
	c := g.s.cfg
	if config.IsOff(c.SIP.Listen) {
		g.log.Info("SIP off")
		return nil
	}
	var trunks []sip.Trunk
	for _, t := range c.SIP.Trunks {
		tr, err := sip.ParseTrunk(t.Name, t.Address, t.Allow)
		if err != nil {
			return err
		}
		trunks = append(trunks, tr)
	}
	if len(trunks) == 0 {
		g.log.Warn("SIP: no trunks configured; every INVITE will be refused with 403 (set sip.trunks)")
	}
	g.sipPasswords = &atomic.Pointer[map[string]string]{}
	g.sipPasswords.Store(g.agentPasswords(c.Agents))
	// Admission limits (SIP calls beyond them are shed with 503 and
	// Retry-After): sized for the hardware, so set from the environment.
	maxCalls, err := envInt(g.s.getenv, "HOTLINE_SIP_MAX_CALLS")
	if err != nil {
		return err
	}
	maxSetups, err := envInt(g.s.getenv, "HOTLINE_SIP_MAX_SETUPS")
	if err != nil {
		return err
	}
	regs := channels.NewRegistrations(g.store, channels.DefaultLockout, g.log)
	mon := metrics.NewSIP(g.mon)
	mon.Registrations(g.mon, regs.Count)
	srv, err := sip.New(sip.Config{
		Listen:     c.SIP.Listen,
		Realm:      "hotline",
		Hotline:    c.Desk.Hotline,
		ConsoleURL: c.Desk.ConsoleURL,
		Plan: channels.PlanConfig{
			Ring:       time.Duration(c.SIP.RingSeconds) * time.Second,
			MobileRing: time.Duration(c.SIP.MobileRingSeconds) * time.Second,
			Strategy:   c.SIP.Strategy,
		},
		Trunks:    trunks,
		MaxCalls:  maxCalls,
		MaxSetups: maxSetups,
		Passwords: func(user string) (string, bool) { pw, ok := (*g.sipPasswords.Load())[user]; return pw, ok },
		Log:       g.log.With("channel", "sip"),
		Metrics:   mon,
	}, g.calls, g.roster, regs)
	if err != nil {
		return err
	}
	if err := srv.Listen(); err != nil {
		return fmt.Errorf("SIP: %w", err)
	}
	g.log.Info("SIP bound", "addr", srv.Addr())
	// Bindings and lock-outs are loaded before the first call is taken.
	if err := regs.Refresh(ctx); err != nil {
		g.log.Warn("SIP: registrations not loaded yet", "err", err)
	}
	g.group.Add("sip-registrations", regs)
	g.group.Add("sip", srv)
	return nil
}

// agentPasswords reads the agents' digest passwords, from sip_password or
// the environment variable sip_password_env names (never logged). serve
// reads them at start and again on SIGHUP, with the roster.
func (g *gateway) agentPasswords(agents []config.Agent) *map[string]string {
	passwords := make(map[string]string, len(agents))
	for _, a := range agents {
		if a.SIPUser != "" {
			if pw := a.Password(g.s.getenv); pw != "" {
				passwords[a.SIPUser] = pw
			} else {
				g.log.Warn("SIP: agent has no password; its softphone cannot register", "agent", a.ID, "sip_user", a.SIPUser)
			}
		}
	}
	return &passwords
}

// envInt reads a positive integer from the environment; unset is 0 (the
// default).
func envInt(getenv func(string) string, name string) (int, error) {
	v := getenv(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive number", name, v)
	}
	return n, nil
}
