package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hotline-desk/hotline/api"
	"github.com/hotline-desk/hotline/channels"
	"github.com/hotline-desk/hotline/config"
	"github.com/hotline-desk/hotline/fax"
	"github.com/hotline-desk/hotline/internal/durable"
	"github.com/hotline-desk/hotline/jobs"
	"github.com/hotline-desk/hotline/mail/outbox"
	"github.com/hotline-desk/hotline/metrics"
	"github.com/hotline-desk/hotline/ticketing"
)

// gateway is one running `hotline serve`: the parts every channel is wired
// to. Each channel's wiring lives in a serve_*.go file of its own.
type gateway struct {
	s         *settings
	log       *slog.Logger
	store     ticketing.Store
	storeKind string
	mon       *metrics.Monitor
	desk      *ticketing.Desk
	intake    *channels.Intake
	roster    *channels.RosterHolder
	// sipPasswords are the agents' SIP passwords by sip_user, swapped on
	// SIGHUP with the roster; nil when SIP is off.
	sipPasswords *atomic.Pointer[map[string]string]
	journal      *channels.Journal
	// calls is the intake for phone channels: a slow or absent store never
	// delays a call, the contact goes to the journal instead.
	calls  *channels.CallIntake
	runner *jobs.Runner
	group  *channels.Group
	mounts []func(mux *http.ServeMux, auth func(http.HandlerFunc) http.HandlerFunc)
	// faxes takes faxes from the inbox, `hotline fax ingest` and fax
	// providers' mail (serve_fax.go).
	faxes *fax.Service
}

// gcPercent is the gateway's GOGC unless the environment sets one. Go's
// default of 100 spent about a sixth of the gateway's CPU under call load
// collecting the garbage of SIP messages (each call parses and builds
// about a dozen); 400 collects a quarter as often, for a heap that may
// grow to five times what is live (about 50 MB at 500 calls/s).
const gcPercent = 400

func cmdServe(ctx context.Context, env *cliEnv, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	var sf storeFlags
	sf.register(fs)
	listen := func(name, usage string, set func(c *config.Config, v string)) override {
		fs.String(name, "", usage)
		return override{name, set}
	}
	overrides := []override{
		listen("http", "HTTP API `ADDR` (default 127.0.0.1:8080), or off; env HOTLINE_HTTP", func(c *config.Config, v string) { c.HTTP.Listen = v }),
		listen("smtp", "SMTP `ADDR` (default 127.0.0.1:2525), or off; env HOTLINE_SMTP", func(c *config.Config, v string) { c.SMTP.Listen = v }),
		listen("sip", "SIP `ADDR`, UDP and TCP (default 127.0.0.1:5060), or off; env HOTLINE_SIP", func(c *config.Config, v string) { c.SIP.Listen = v }),
		listen("fax-inbox", "fax inbox `DIR` (default DATA/fax-inbox), or off; env HOTLINE_FAX_INBOX", func(c *config.Config, v string) { c.Fax.Inbox = v }),
		listen("ari", "Asterisk ARI `URL`, e.g. http://127.0.0.1:8088/ari (default off); password in env HOTLINE_ARI_PASSWORD; env HOTLINE_ARI", func(c *config.Config, v string) { c.ARI.URL = v }),
		listen("ari-user", "ARI `USER` (default hotline); env HOTLINE_ARI_USER", func(c *config.Config, v string) { c.ARI.User = v }),
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: hotline serve [flags]\n\nRuns the whole gateway. With no flags and no config: SQLite in %s, HTTP on 127.0.0.1:8080,\nSMTP on 127.0.0.1:2525, SIP on 127.0.0.1:5060, fax inbox DATA/fax-inbox, ARI off.\nFlags override the config file; HOTLINE_* environment variables override both.\nSIGHUP reloads the roster (agents, shifts, escalation) and the agents' SIP passwords from --config.\n\nFlags:\n", DefaultDataDir)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{"unexpected arguments: " + strings.Join(fs.Args(), " ")}
	}
	s, err := sf.load(fs, env, overrides...)
	if err != nil {
		return err
	}
	log := newLogger(env)
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
	g, err := newGateway(ctx, s, log)
	if err != nil {
		return err
	}
	defer g.close()
	return g.run(ctx)
}

func newGateway(ctx context.Context, s *settings, log *slog.Logger) (*gateway, error) {
	start := time.Now()
	st, kind, err := s.openStore(ctx, log)
	if err != nil {
		return nil, err
	}
	g := &gateway{s: s, log: log, store: st, storeKind: kind, mon: metrics.New(), group: channels.NewGroup(log)}
	g.mon.Build(version, kind)
	if err := g.adminToken(ctx); err != nil {
		st.Close()
		return nil, err
	}
	g.desk = s.desk(st, log)
	g.intake = channels.NewIntake(g.desk, g.mon, log)
	roster, err := s.roster()
	if err != nil {
		st.Close()
		return nil, err
	}
	g.roster = &channels.RosterHolder{}
	g.roster.Store(roster)
	if g.journal, err = channels.OpenJournal(filepath.Join(s.dataDir, "journal"), log); err != nil {
		st.Close()
		return nil, err
	}
	g.mon.JournalBacklog(g.journal.Pending)
	g.calls = channels.NewCallIntake(g.intake, g.journal, channels.DefaultStoreDeadline, log)
	g.group.Add("journal", channels.WorkerFunc(g.calls.Run))
	host, _ := os.Hostname()
	g.runner = jobs.New(st, jobs.Config{Worker: fmt.Sprintf("%s:%d", host, os.Getpid()), Log: log, Monitor: g.mon})
	// Every outbound mail (acknowledgements, fax-to-mail, notifications)
	// is a durable job sent by one sender.
	g.runner.Handle(channels.JobMailSend, outbox.New(g.intake, outbox.Config{
		Relay: s.cfg.Mail.Relay, From: s.cfg.Mail.From, DeskName: s.cfg.Desk.Name, Hostname: s.cfg.SMTP.Hostname,
		AckPerHour: s.cfg.Mail.AcknowledgePerHour,
	}, metrics.NewOutbox(g.mon), log))

	if err := g.wireChannels(ctx); err != nil {
		g.close()
		return nil, err
	}
	g.group.Add("jobs", g.runner)
	if err := g.wireHTTP(); err != nil {
		g.close()
		return nil, err
	}
	if err := g.wirePprof(s.pprof); err != nil {
		g.close()
		return nil, err
	}
	log.Info("hotline started", "version", version, "store", kind, "data", s.dataDir, "startup", time.Since(start).Round(time.Millisecond))
	return g, nil
}

// wireChannels starts each configured channel adapter. Every adapter gets
// the intake (or, for calls, the journal-backed intake) and nothing of the
// store. Each channel's wiring is a function in its serve_*.go file.
func (g *gateway) wireChannels(ctx context.Context) error {
	for _, wire := range []func(ctx context.Context) error{g.wireProcess, g.wireFax, g.wireARI, g.wireMail, g.wireSIP} {
		if err := wire(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (g *gateway) wireHTTP() error {
	addr := g.s.cfg.HTTP.Listen
	if config.IsOff(addr) {
		g.log.Info("HTTP API off")
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("HTTP listen on %s: %w", addr, err)
	}
	handler := api.New(api.Config{
		Desk: g.desk, Intake: g.intake, Tokens: g.store, Attachments: g.store, Monitor: g.mon, Log: g.log,
		Ready: g.ready,
		Mount: func(mux *http.ServeMux, auth func(http.HandlerFunc) http.HandlerFunc) {
			for _, m := range g.mounts {
				m(mux, auth)
			}
		},
	})
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	g.log.Info("HTTP API listening", "addr", ln.Addr().String())
	g.group.Add("http", channels.WorkerFunc(func(ctx context.Context) error {
		errc := make(chan error, 1)
		go func() { errc <- srv.Serve(ln) }()
		select {
		case err := <-errc:
			return err
		case <-ctx.Done():
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			srv.Close()
		}
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}))
	return nil
}

func (g *gateway) ready(ctx context.Context) error {
	if err := g.group.Ready(); err != nil {
		return err
	}
	if err := g.store.Ping(ctx); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// run serves until ctx is done (SIGINT, SIGTERM), reloading the roster on
// SIGHUP.
func (g *gateway) run(ctx context.Context) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				g.reloadRoster()
			}
		}
	}()
	err := g.group.Run(ctx)
	g.log.Info("hotline stopped")
	return err
}

// reloadRoster rereads agents, shifts and escalation, and the agents' SIP
// passwords, from the config file. Calls in progress keep the roster they
// started with; registrations made stay until they expire.
func (g *gateway) reloadRoster() {
	if g.s.configPath == "" {
		g.log.Warn("SIGHUP: no --config file to reload the roster from")
		return
	}
	cfg, err := config.Load(g.s.configPath)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		g.log.Error("SIGHUP: roster not reloaded", "error", err)
		return
	}
	r, err := channels.NewRoster(cfg.Agents, cfg.Shifts, cfg.Escalation, g.s.cfg.Desk.Location())
	if err != nil {
		g.log.Error("SIGHUP: roster not reloaded", "error", err)
		return
	}
	g.roster.Store(r)
	if g.sipPasswords != nil {
		g.sipPasswords.Store(g.agentPasswords(cfg.Agents))
	}
	g.log.Info("SIGHUP: roster reloaded", "agents", len(cfg.Agents), "shifts", len(cfg.Shifts))
}

func (g *gateway) close() {
	if g.journal != nil {
		g.journal.Close()
	}
	g.store.Close()
}

func (s *settings) roster() (*channels.Roster, error) {
	return channels.NewRoster(s.cfg.Agents, s.cfg.Shifts, s.cfg.Escalation, s.cfg.Desk.Location())
}

// adminToken makes sure the data directory holds an admin token that the
// store accepts. A new token is made on first start; an instance that
// joins a shared PostgreSQL registers its own, and every instance accepts
// every instance's tokens.
func (g *gateway) adminToken(ctx context.Context) error {
	if err := os.MkdirAll(g.s.dataDir, 0o750); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	path := filepath.Join(g.s.dataDir, "admin-token")
	b, err := os.ReadFile(path)
	token := strings.TrimSpace(string(b))
	switch {
	case err == nil && token != "":
	case err == nil || errors.Is(err, os.ErrNotExist):
		token = api.NewToken()
		if err := durable.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
			return fmt.Errorf("write admin token: %w", err)
		}
		g.log.Info("made a new admin token", "file", path)
	default:
		return fmt.Errorf("read admin token: %w", err)
	}
	if err := g.store.TokenAdd(ctx, "admin", api.TokenHash(token)); err != nil {
		return fmt.Errorf("register admin token: %w", err)
	}
	g.log.Info("admin token for the HTTP API", "file", path)
	return nil
}
