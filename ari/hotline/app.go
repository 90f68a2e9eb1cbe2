// Package hotline is the Stasis application "hotline": the phone channel
// over Asterisk. Asterisk's dialplan sends the desk's 400 number into
// Stasis(hotline); for each call the application answers, runs the IVR
// menu, opens the ticket through the call intake, reads the ticket number
// back, executes the routing plan of package channels by originating
// PJSIP legs (agents' softphones, then mobiles through the trunk, then the
// escalation list), bridges and records the call, and puts every step on
// the ticket.
//
// Each call is one goroutine that owns the call's objects (its channels,
// bridge, playbacks, recording) and receives their events in order from
// the application's dispatcher. Calls do not depend on the events
// WebSocket staying up: REST goes on while it reconnects, and after a
// reconnect each call re-reads the state of what it waits on, since
// Asterisk does not replay events lost in between.
package hotline

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/hotline-desk/hotline/ari"
	"github.com/hotline-desk/hotline/channels"
	"github.com/hotline-desk/hotline/metrics"
)

// Intake is where calls become tickets: channels.CallIntake, which never
// keeps a call waiting on a slow store (it journals instead).
type Intake interface {
	Submit(ctx context.Context, c channels.Contact) (channels.Receipt, error)
	Record(ctx context.Context, n channels.Note) error
}

// Roster gives the on-duty roster (channels.RosterHolder). A call keeps
// the roster it started with.
type Roster interface {
	Load() *channels.Roster
}

// Prompts are the sound URIs the caller hears. Each is a playlist item
// ("sound:hotline/greeting"); Language picks the sounds' language, with
// Asterisk falling back to English where a file is missing.
type Prompts struct {
	Language     string
	Greeting     string // welcome
	Menu         string // press 1 for an incident, …
	Invalid      string // that is not a choice
	TicketNumber string // your ticket number is (digits follow)
	Hold         string // please hold, we are connecting you
	Unavailable  string // nobody can take your call; we will call you back
}

// DefaultPrompts are the prompts deploy/asterisk/make-prompts.sh makes
// (Mandarin, with English fallbacks from Asterisk's own sounds).
var DefaultPrompts = Prompts{
	Language:     "zh_CN",
	Greeting:     "sound:hotline/greeting",
	Menu:         "sound:hotline/menu",
	Invalid:      "sound:hotline/invalid",
	TicketNumber: "sound:hotline/ticket-number",
	Hold:         "sound:hotline/hold",
	Unavailable:  "sound:hotline/unavailable",
}

// Menu choice that is not a kind: the caller wants a person at once.
const ChoiceOperator = "operator"

// Config shapes the application.
type Config struct {
	App string // the Stasis application name (default hotline)
	// AgentEndpoint and MobileEndpoint make dial strings:
	// "PJSIP/{sip_user}", "PJSIP/{number}@carrier".
	AgentEndpoint  string
	MobileEndpoint string
	// Menu maps a DTMF key to a ticket kind or ChoiceOperator. Empty: no
	// menu, calls go straight to routing as inquiries.
	Menu        map[string]string
	MenuTimeout time.Duration // wait for a key after the menu (default 5 s)
	MenuTries   int           // invalid keys allowed before inquiry (default 2)
	Plan        channels.PlanConfig
	Prompts     Prompts
	// MOHClass is the music on hold while phones ring ("" = default).
	MOHClass string
	// RecordingMaxBytes: a recording up to this size is attached to the
	// ticket; a larger one is linked (default 20 MiB).
	RecordingMaxBytes int64
	// Hotline is the desk's number, sent as Diversion on mobile legs so
	// that the carrier lets the caller's number through.
	Hotline string
	// ARIURL is ARI's base URL, used in links to recordings left on
	// Asterisk.
	ARIURL string
	// Teardown bounds the clean-up after a call (default 10 s).
	Teardown time.Duration
	Log      *slog.Logger
	Metrics  *metrics.ARI
	Now      func() time.Time
}

func (c *Config) defaults() {
	if c.App == "" {
		c.App = "hotline"
	}
	if c.AgentEndpoint == "" {
		c.AgentEndpoint = "PJSIP/{sip_user}"
	}
	if c.MobileEndpoint == "" {
		c.MobileEndpoint = "PJSIP/{number}@carrier"
	}
	if c.MenuTimeout <= 0 {
		c.MenuTimeout = 5 * time.Second
	}
	if c.MenuTries <= 0 {
		c.MenuTries = 2
	}
	if c.Prompts == (Prompts{}) {
		c.Prompts = DefaultPrompts
	}
	if c.RecordingMaxBytes <= 0 {
		c.RecordingMaxBytes = 20 << 20
	}
	if c.Teardown <= 0 {
		c.Teardown = 10 * time.Second
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// App is the running Stasis application.
type App struct {
	cfg    Config
	client *ari.Client
	intake Intake
	roster Roster
	log    *slog.Logger
	mon    *metrics.ARI

	mu     sync.Mutex
	ctx    context.Context // the calls' parent, set by Run
	calls  map[string]*call
	owners map[string]*call // channel, bridge, playback and recording ids
	wg     sync.WaitGroup
}

// New makes the application; Run connects it.
func New(client *ari.Client, intake Intake, roster Roster, cfg Config) *App {
	cfg.defaults()
	return &App{cfg: cfg, client: client, intake: intake, roster: roster, log: cfg.Log, mon: cfg.Metrics,
		calls: map[string]*call{}, owners: map[string]*call{}}
}

// Run keeps the events WebSocket connected and runs calls until ctx ends.
// Calls in progress then end as a hang-up would: their tickets are
// completed and their channels and bridges released.
func (a *App) Run(ctx context.Context) error {
	a.mu.Lock()
	a.ctx = ctx
	a.mu.Unlock()
	stream := a.client.Stream(ari.StreamConfig{App: a.cfg.App, SubscribeAll: true, Log: a.log, OnDuplicate: a.mon.Duplicate}, a)
	err := stream.Run(ctx)
	a.wg.Wait()
	return err
}

// Active is the number of calls in progress.
func (a *App) Active() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.calls)
}

// Connected implements ari.Handler: after a reconnect, calls re-read the
// state they wait on, and channels that entered the application while
// the WebSocket was down are taken up.
func (a *App) Connected(reconnect bool) {
	a.mon.Connection(true, reconnect)
	if !reconnect {
		return
	}
	a.mu.Lock()
	for _, c := range a.calls {
		c.inbox.put(&resync{})
	}
	ctx := a.ctx
	a.mu.Unlock()
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.adopt(ctx)
	}()
}

// Disconnected implements ari.Handler.
func (a *App) Disconnected(err error) { a.mon.Connection(false, false) }

// adopt starts calls for channels in the application that no call owns:
// their StasisStart was lost with the WebSocket.
func (a *App) adopt(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	chans, err := a.client.Channels(rctx)
	if err != nil {
		a.log.Warn("ARI: cannot list channels after a reconnect", "error", err)
		return
	}
	for _, ch := range chans {
		if ch.Dialplan.AppName != "Stasis" {
			continue
		}
		args := strings.Split(ch.Dialplan.AppData, ",")
		if args[0] != a.cfg.App || (len(args) > 1 && args[1] == legArg) {
			continue
		}
		a.start(&ari.StasisStart{Args: args[1:], Channel: ch}, true)
	}
}

// Event implements ari.Handler: it hands each event to the call owning
// its objects. Events of objects no call owns are someone else's.
func (a *App) Event(ev ari.Event) {
	if ss, ok := ev.(*ari.StasisStart); ok && (len(ss.Args) == 0 || ss.Args[0] != legArg) {
		a.start(ss, false)
		return
	}
	a.mu.Lock()
	var target *call
	for _, id := range subjects(ev) {
		if c := a.owners[id]; c != nil {
			target = c
			break
		}
	}
	a.mu.Unlock()
	if target != nil {
		target.inbox.put(ev)
	}
}

// legArg is the first Stasis argument of the legs the application dials.
const legArg = "agent-leg"

// subjects are the ids of the objects an event is about.
func subjects(ev ari.Event) []string {
	switch e := ev.(type) {
	case *ari.StasisStart:
		return []string{e.Channel.ID}
	case *ari.StasisEnd:
		return []string{e.Channel.ID}
	case *ari.ChannelStateChange:
		return []string{e.Channel.ID}
	case *ari.ChannelDestroyed:
		return []string{e.Channel.ID}
	case *ari.ChannelHangupRequest:
		return []string{e.Channel.ID}
	case *ari.ChannelDtmfReceived:
		return []string{e.Channel.ID}
	case *ari.Dial:
		return []string{e.Peer.ID}
	case *ari.ChannelEnteredBridge:
		return []string{e.Channel.ID, e.Bridge.ID}
	case *ari.ChannelLeftBridge:
		return []string{e.Channel.ID, e.Bridge.ID}
	case *ari.PlaybackStarted:
		return []string{e.Playback.ID}
	case *ari.PlaybackContinuing:
		return []string{e.Playback.ID}
	case *ari.PlaybackFinished:
		return []string{e.Playback.ID}
	case *ari.RecordingStarted:
		return []string{e.Recording.Name}
	case *ari.RecordingFinished:
		return []string{e.Recording.Name}
	case *ari.RecordingFailed:
		return []string{e.Recording.Name}
	case *ari.BridgeDestroyed:
		return []string{e.Bridge.ID}
	}
	return nil
}

// start begins a call for a channel that entered the application, once.
func (a *App) start(ss *ari.StasisStart, adopted bool) {
	a.mu.Lock()
	if a.ctx == nil || a.ctx.Err() != nil || a.calls[ss.Channel.ID] != nil || a.owners[ss.Channel.ID] != nil {
		a.mu.Unlock()
		return
	}
	c := newCall(a, ss, adopted)
	a.calls[c.id] = c
	a.owners[c.id] = c
	ctx := a.ctx
	a.wg.Add(1)
	a.mu.Unlock()
	a.mon.CallStarted()
	go func() {
		defer a.wg.Done()
		c.run(ctx)
	}()
}

// own makes c the owner of an object's events; call before creating it,
// since its events can come before the REST answer.
func (a *App) own(c *call, id string) {
	a.mu.Lock()
	a.owners[id] = c
	a.mu.Unlock()
}

// release forgets a finished call and its objects.
func (a *App) release(c *call) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for id, owner := range a.owners {
		if owner == c {
			delete(a.owners, id)
		}
	}
	delete(a.calls, c.id)
}
