package hotline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hotline-desk/hotline/ari"
	"github.com/hotline-desk/hotline/channels"
	"github.com/hotline-desk/hotline/ticketing"
)

// Event types this channel puts on the ticket's timeline.
const (
	EventIVR       = "call_ivr"       // the menu's outcome: digit, choice, how
	EventRinging   = "call_ringing"   // an agent's softphone is rung
	EventForwarded = "call_forwarded" // a mobile is rung through the trunk
	EventLegFailed = "call_leg_failed"
	EventAnswered  = "call_answered"  // who answered, after how long
	EventMissed    = "call_missed"    // every step rang out: call back
	EventAbandoned = "call_abandoned" // the caller hung up first, with the wait
	EventEnded     = "call_ended"     // duration, who hung up
	EventRecording = "call_recording" // the recording: attached or linked
)

// actor is who puts call events on the timeline.
const actor = "channel:phone"

// call is one inbound call, run by one goroutine.
type call struct {
	a       *App
	id      string
	ch      ari.Channel
	args    []string
	start   time.Time
	adopted bool
	inbox   *inbox
	log     *slog.Logger

	ref      channels.EventRef
	receipt  channels.Receipt
	ticketed bool // the intake took the contact (stored or journaled)
	withheld bool
	notes    *noteQueue

	callerGone bool
	digits     []string
	playing    map[string]bool
	pbSeq      int
	// background holds REST calls made off the call's critical path.
	background sync.WaitGroup

	bridgeID    string
	readbackID  string
	mohOn       bool
	legs        map[string]*leg
	legSeq      int
	cancelRoute context.CancelFunc
	firstDial   time.Time

	recName     string
	recActive   bool
	recDuration int

	result  string // answered, missed, abandoned, failed
	decided time.Time
}

// leg is a channel the call dialled.
type leg struct {
	id     string
	target channels.Target
	step   string
	state  string
	gone   bool
	failed string // why it ended without an answer (busy, …)
	dialed time.Time
}

func newCall(a *App, ss *ari.StasisStart, adopted bool) *call {
	return &call{
		a: a, id: ss.Channel.ID, ch: ss.Channel, args: ss.Args, start: a.cfg.Now(), adopted: adopted,
		inbox: newInbox(), log: a.log.With("channel", ss.Channel.ID),
		playing: map[string]bool{}, legs: map[string]*leg{},
	}
}

// run is the call's whole life.
func (c *call) run(ctx context.Context) {
	c.ref = channels.EventRef{Channel: ticketing.ChannelPhone, ExternalID: c.externalID()}
	defer c.finish(ctx)

	// Privacy (PAI with Privacy: id) shows only as CALLERID(pres): the
	// channel snapshot has no presentation field. It is read while the
	// call is answered.
	var pres string
	var presErr error
	var presDone sync.WaitGroup
	presDone.Go(func() { pres, presErr = c.a.client.ChannelVar(ctx, c.id, "CALLERID(pres)") })
	err := c.a.client.Answer(ctx, c.id)
	presDone.Wait()
	if presErr == nil {
		c.withheld = strings.HasPrefix(pres, "prohib")
	}
	if err != nil {
		c.log.Info("ARI: answer failed; the caller is gone", "error", err)
		c.callerGone = true
		c.abandon(ctx, "answer", ivrChoice{value: string(ticketing.KindInquiry), how: "none"})
		return
	}
	choice := c.ivr(ctx)
	c.a.mon.IVRChoice(choice.value, choice.how)
	if c.callerGone {
		c.abandon(ctx, "ivr", choice)
		return
	}
	if ctx.Err() != nil {
		return
	}
	c.openTicket(ctx, choice, nil)
	c.route(ctx)
}

// externalID is the idempotency key: the channel id and the SIP Call-ID.
func (c *call) externalID() string {
	if c.ch.ProtocolID == "" {
		return c.ch.ID
	}
	return c.ch.ID + "|" + c.ch.ProtocolID
}

// --- events ---

// wait handles events until cond holds (true), or ctx ends or the timer
// fires (false).
func (c *call) wait(ctx context.Context, timer <-chan time.Time, cond func() bool) bool {
	for !cond() {
		ev := c.inbox.next(ctx, timer)
		if ev == nil {
			return false
		}
		c.observe(ctx, ev)
	}
	return true
}

// observe updates the call's view of its objects.
func (c *call) observe(ctx context.Context, ev ari.Event) {
	switch e := ev.(type) {
	case *resync:
		c.resync(ctx)
	case *ari.ChannelDtmfReceived:
		if e.Channel.ID == c.id {
			c.digits = append(c.digits, e.Digit)
		}
	case *ari.ChannelHangupRequest:
		c.channelGone(e.Channel.ID)
	case *ari.StasisEnd:
		c.channelGone(e.Channel.ID)
	case *ari.ChannelDestroyed:
		c.channelGone(e.Channel.ID)
		if l := c.legs[e.Channel.ID]; l != nil && l.failed == "" && l.state != ari.StateUp {
			l.failed = e.CauseTxt
		}
	case *ari.ChannelStateChange:
		if l := c.legs[e.Channel.ID]; l != nil && !l.gone {
			l.state = e.Channel.State
		}
	case *ari.Dial:
		if l := c.legs[e.Peer.ID]; l != nil && !l.gone {
			switch e.DialStatus {
			case ari.DialAnswer:
				l.state = ari.StateUp
			case ari.DialRinging:
				l.state = ari.StateRinging
			case "", ari.DialProgress:
			default:
				l.failed = e.DialStatus
			}
		}
	case *ari.PlaybackFinished:
		c.playbackDone(ctx, e.Playback.ID)
	case *ari.RecordingFinished:
		if e.Recording.Name == c.recName {
			c.recActive, c.recDuration = false, e.Recording.Duration
		}
	case *ari.RecordingFailed:
		if e.Recording.Name == c.recName {
			c.recActive = false
		}
	}
}

// channelGone notes a hang-up of the caller or of a leg: a hang-up
// request is enough, the channel is leaving.
func (c *call) channelGone(id string) {
	if id == c.id {
		c.callerGone = true
		return
	}
	if l := c.legs[id]; l != nil {
		l.gone = true
	}
}

func (c *call) playbackDone(ctx context.Context, id string) {
	if !c.playing[id] {
		return
	}
	delete(c.playing, id)
	// The ticket number has been read: music while the phones ring.
	if id == c.readbackID && c.bridgeID != "" && !c.callerGone && !c.answered() && c.result == "" {
		if err := c.a.client.StartBridgeMOH(ctx, c.bridgeID, c.a.cfg.MOHClass); err == nil {
			c.mohOn = true
		}
	}
}

func (c *call) answered() bool {
	for _, l := range c.legs {
		if l.state == ari.StateUp && !l.gone {
			return true
		}
	}
	return false
}

// resync re-reads what the call waits on after the WebSocket came back:
// events lost in between are not sent again.
func (c *call) resync(ctx context.Context) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	cl := c.a.client
	if !c.callerGone {
		if _, err := cl.Channel(rctx, c.id); ari.IsNotFound(err) {
			c.callerGone = true
		}
	}
	for _, l := range c.legs {
		if l.gone {
			continue
		}
		ch, err := cl.Channel(rctx, l.id)
		switch {
		case ari.IsNotFound(err):
			l.gone = true
		case err == nil:
			l.state = ch.State
		}
	}
	for id := range c.playing {
		if _, err := cl.Playback(rctx, id); ari.IsNotFound(err) {
			c.playbackDone(ctx, id)
		}
	}
	if c.recActive {
		if _, err := cl.LiveRecording(rctx, c.recName); ari.IsNotFound(err) {
			c.recActive = false
		}
	}
	c.log.Info("ARI: call re-read its state after a reconnect", "caller_gone", c.callerGone, "legs", len(c.legs))
}

// play starts a playlist on the caller's channel or the call's bridge and
// returns its id ("" if it could not start).
func (c *call) play(ctx context.Context, onBridge bool, media ...string) string {
	var list []string
	for _, m := range media {
		if m != "" {
			list = append(list, m)
		}
	}
	if len(list) == 0 {
		return ""
	}
	c.pbSeq++
	id := fmt.Sprintf("%s-pb-%d", c.id, c.pbSeq)
	c.a.own(c, id)
	c.playing[id] = true
	p := ari.PlayParams{ID: id, Media: list, Lang: c.a.cfg.Prompts.Language}
	var err error
	if onBridge {
		_, err = c.a.client.PlayBridge(ctx, c.bridgeID, p)
	} else {
		_, err = c.a.client.Play(ctx, c.id, p)
	}
	if err != nil {
		delete(c.playing, id)
		if ari.IsNotFound(err) && !onBridge {
			c.callerGone = true
		}
		c.log.Info("ARI: playback failed", "error", err)
		return ""
	}
	return id
}

// --- IVR ---

type ivrChoice struct {
	digit string
	value string // a ticket kind or ChoiceOperator
	how   string // pressed, timeout, invalid, none
}

// ivr plays the greeting and the menu and returns the caller's choice.
// A timeout goes on as an inquiry; invalid keys get the menu again, up
// to MenuTries, then an inquiry.
func (c *call) ivr(ctx context.Context) ivrChoice {
	cfg := c.a.cfg
	inquiry := string(ticketing.KindInquiry)
	if len(cfg.Menu) == 0 {
		return ivrChoice{value: inquiry, how: "none"}
	}
	prompts := []string{cfg.Prompts.Greeting, cfg.Prompts.Menu}
	invalid := 0
	for {
		c.digits = nil
		pb := c.play(ctx, false, prompts...)
		c.wait(ctx, nil, func() bool { return c.callerGone || len(c.digits) > 0 || !c.playing[pb] })
		if c.callerGone || ctx.Err() != nil {
			return ivrChoice{value: inquiry, how: "none"}
		}
		if len(c.digits) == 0 {
			t := time.NewTimer(cfg.MenuTimeout)
			c.wait(ctx, t.C, func() bool { return c.callerGone || len(c.digits) > 0 })
			t.Stop()
			if c.callerGone || ctx.Err() != nil {
				return ivrChoice{value: inquiry, how: "none"}
			}
			if len(c.digits) == 0 {
				return ivrChoice{value: inquiry, how: "timeout"}
			}
		}
		if c.playing[pb] {
			// The caller chose while the menu played: stop it, without
			// waiting, while the ticket is opened (route joins it).
			delete(c.playing, pb)
			c.background.Go(func() {
				if err := c.a.client.StopPlayback(context.WithoutCancel(ctx), pb); err != nil && !ari.IsNotFound(err) {
					c.log.Info("ARI: menu not stopped", "error", err)
				}
			})
		}
		d := c.digits[0]
		if v, found := cfg.Menu[d]; found {
			return ivrChoice{digit: d, value: v, how: "pressed"}
		}
		invalid++
		if invalid >= cfg.MenuTries {
			return ivrChoice{digit: d, value: inquiry, how: "invalid"}
		}
		prompts = []string{cfg.Prompts.Invalid, cfg.Prompts.Menu}
	}
}

// --- the ticket ---

// openTicket submits the contact, with extra events (an abandonment)
// committed with it.
func (c *call) openTicket(ctx context.Context, choice ivrChoice, extra []ticketing.Event) {
	now := c.a.cfg.Now()
	kind := ticketing.KindInquiry
	if k := ticketing.Kind(choice.value); k.Valid() {
		kind = k
	}
	events := []ticketing.Event{ticketing.NewEvent(now, EventIVR, actor, map[string]string{
		"digit": choice.digit, "choice": choice.value, "how": choice.how})}
	events = append(events, extra...)
	name, number := c.ch.Caller.Name, c.ch.Caller.Number
	meta := map[string]string{"ari_channel": c.id, "sip_call_id": c.ch.ProtocolID}
	if c.withheld {
		meta["privacy"] = "id"
	}
	if c.adopted {
		meta["ari_adopted"] = "true"
	}
	callee := c.ch.Dialplan.Exten
	if len(c.args) >= 2 && c.args[0] == "inbound" {
		callee = c.args[1]
	}
	contact := channels.Contact{
		Channel: ticketing.ChannelPhone, ExternalID: c.externalID(),
		Caller: ticketing.Party{Name: name, Phone: number, Withheld: c.withheld},
		Callee: callee, Subject: subject(name, number, c.withheld), Kind: kind,
		ReceivedAt: c.start, Metadata: meta, Events: events,
	}
	r, err := c.a.intake.Submit(context.WithoutCancel(ctx), contact)
	if err != nil {
		// Bad input or a journal that cannot be written: the call goes on,
		// the log says why it has no ticket.
		c.log.Error("ARI: the call's contact was not taken", "error", err)
		return
	}
	c.receipt, c.ticketed = r, true
	c.notes = startNotes(context.WithoutCancel(ctx), c.a.intake, c.log)
	c.log.Info("ARI: call ticketed", "ticket", r.Ticket, "journaled", r.Journaled, "kind", kind)
}

func subject(name, number string, withheld bool) string {
	who := strings.TrimSpace(name)
	if !withheld && number != "" {
		who = strings.TrimSpace(who + " " + number)
	}
	if who == "" {
		who = "未知号码"
	}
	return "来电：" + who
}

// note records call events on the ticket, in order, without holding up
// the call.
func (c *call) note(id, typ string, data map[string]string) {
	if !c.ticketed {
		return
	}
	c.notes.add(channels.Note{Ref: c.ref, ID: id,
		Events: []ticketing.Event{ticketing.NewEvent(c.a.cfg.Now(), typ, actor, data)}})
}

// abandon: the caller hung up before anyone answered.
func (c *call) abandon(ctx context.Context, stage string, choice ivrChoice) {
	c.decide("abandoned")
	ev := ticketing.NewEvent(c.a.cfg.Now(), EventAbandoned, actor, map[string]string{
		"stage": stage, "wait_seconds": secs(c.decided.Sub(c.start))})
	if !c.ticketed {
		// Every contact is recorded, even one that hung up in the menu.
		c.openTicket(ctx, choice, []ticketing.Event{ev})
		return
	}
	c.notes.addEvent(c.ref, "abandoned", ev)
}

func (c *call) decide(result string) {
	if c.result == "" {
		c.result, c.decided = result, c.a.cfg.Now()
	}
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f", d.Seconds()) }

// finish releases whatever the call still holds: legs, bridge, the
// caller's channel, and waits for its notes.
func (c *call) finish(ctx context.Context) {
	c.background.Wait()
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.a.cfg.Teardown)
	defer cancel()
	cl := c.a.client
	for _, l := range c.legs {
		if !l.gone {
			c.hangupLeg(tctx, l)
		}
	}
	if c.bridgeID != "" {
		if err := cl.DestroyBridge(tctx, c.bridgeID); err != nil && !ari.IsNotFound(err) {
			c.log.Warn("ARI: bridge not deleted", "bridge", c.bridgeID, "error", err)
		}
	}
	if !c.callerGone {
		if err := cl.Hangup(tctx, c.id, ""); err != nil && !ari.IsNotFound(err) {
			c.log.Warn("ARI: caller not hung up", "error", err)
		}
	}
	if ctx.Err() != nil && c.result == "" {
		c.decide("failed")
		c.note("interrupted", EventEnded, map[string]string{"reason": "gateway shutting down"})
	}
	c.decide("failed")
	if c.notes != nil {
		c.notes.close()
	}
	c.a.release(c)
	c.a.mon.CallEnded(c.result, c.decided.Sub(c.start))
}

func (c *call) hangupLeg(ctx context.Context, l *leg) {
	if err := c.a.client.Hangup(ctx, l.id, ""); err != nil && !ari.IsNotFound(err) {
		c.log.Warn("ARI: leg not hung up", "leg", l.id, "error", err)
		return
	}
	l.gone = true
}

// noteQueue records a call's notes one after another in a goroutine of
// its own, so that routing never waits on the store.
type noteQueue struct {
	intake Intake
	log    *slog.Logger
	notes  *fifo[channels.Note]
	closed atomic.Bool
	done   chan struct{}
}

func startNotes(ctx context.Context, in Intake, log *slog.Logger) *noteQueue {
	n := &noteQueue{intake: in, log: log, notes: newFifo[channels.Note](), done: make(chan struct{})}
	go n.run(ctx)
	return n
}

func (n *noteQueue) add(note channels.Note) { n.notes.put(note) }

func (n *noteQueue) addEvent(ref channels.EventRef, id string, ev ticketing.Event) {
	n.add(channels.Note{Ref: ref, ID: id, Events: []ticketing.Event{ev}})
}

// close waits until every note is recorded.
func (n *noteQueue) close() {
	n.closed.Store(true)
	n.notes.wake()
	<-n.done
}

func (n *noteQueue) run(ctx context.Context) {
	defer close(n.done)
	for {
		if note, ok := n.notes.take(); ok {
			if err := n.intake.Record(ctx, note); err != nil {
				n.log.Error("ARI: call event not recorded", "note", note.ID, "error", err)
			}
			continue
		}
		if n.closed.Load() {
			// A note added between take and close is still queued.
			if !n.notes.pending() {
				return
			}
			continue
		}
		<-n.notes.sig
	}
}

var errAllDeclined = errors.New("every leg declined or failed")
