package hotline

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/hotline-desk/hotline/ari"
	"github.com/hotline-desk/hotline/channels"
	"github.com/hotline-desk/hotline/ticketing"
)

// route reads the ticket number back and executes the routing plan: the
// caller waits in the call's bridge (music on hold after the read-back)
// while the plan's steps ring; the first leg to answer joins the bridge.
func (c *call) route(ctx context.Context) {
	cfg := c.a.cfg
	roster := c.a.roster.Load()
	plan := roster.Plan(c.start, cfg.Plan)
	rctx, cancel := context.WithCancel(ctx)
	c.cancelRoute = cancel
	defer cancel()
	var winner *leg
	out, err := plan.Run(rctx, func(sctx context.Context, s channels.Step) (*channels.Target, error) {
		w, err := c.dialStep(sctx, roster, s)
		if w != nil {
			winner = w
			return &w.target, nil
		}
		return nil, err
	})
	for _, e := range out.Errors {
		c.log.Info("ARI: a routing step could not ring", "error", e)
	}
	switch {
	case c.callerGone || (err != nil && ctx.Err() == nil):
		c.abandon(ctx, "ringing", ivrChoice{})
	case err != nil:
		return // shutting down
	case !c.holdCaller(ctx):
		c.decide("failed")
	case winner != nil:
		c.talk(ctx, winner)
	default:
		c.missed(ctx, roster, len(plan.Steps))
	}
}

// holdCaller puts the caller in the call's bridge and reads the ticket
// number back, then music plays until someone answers. It runs once,
// right after the first legs are dialled: agents' phones take seconds to
// ring, so the first originate does not wait for it.
func (c *call) holdCaller(ctx context.Context) bool {
	if c.bridgeID != "" {
		return true
	}
	c.background.Wait() // the menu is stopped
	cfg, cl := c.a.cfg, c.a.client
	// Not cut short by the ring timer of the step that called it: a
	// bridge made but not known would be left behind.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.a.cfg.Teardown)
	defer cancel()
	bridgeID := "hotline-" + c.id
	c.a.own(c, bridgeID)
	// Known before it is made: finish deletes it whatever happens next.
	c.bridgeID = bridgeID
	if _, err := cl.CreateBridge(ctx, bridgeID, "mixing", bridgeID); err != nil {
		c.log.Error("ARI: cannot create the call's bridge", "error", err)
		return false
	}
	if err := cl.AddChannel(ctx, bridgeID, c.id, "caller"); err != nil {
		c.log.Info("ARI: caller not bridged; gone?", "error", err)
		c.callerGone = c.callerGone || ari.StatusOf(err) == 400 || ari.IsNotFound(err)
	}
	var media []string
	if n := ticketDigits(c.receipt.Ticket); n != "" {
		media = append(media, cfg.Prompts.TicketNumber, "digits:"+n)
	}
	media = append(media, cfg.Prompts.Hold)
	c.readbackID = c.play(ctx, true, media...)
	return true
}

// ticketDigits is the ticket number as the caller hears it: its digits
// (HL-20261127-0001 → 202611270001).
func ticketDigits(number string) string {
	var b strings.Builder
	for _, r := range number {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// dialStep rings a step's targets until one answers, ctx ends (the step
// rang out, or the caller hung up), or all of them fail. It releases every
// leg but the one that answered.
func (c *call) dialStep(ctx context.Context, roster *channels.Roster, s channels.Step) (*leg, error) {
	var legs []*leg
	var errs []error
	for _, t := range s.Targets {
		l, err := c.dialTarget(ctx, roster, s, t)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		legs = append(legs, l)
	}
	if !c.holdCaller(ctx) {
		errs = append(errs, errors.New("no bridge for the call"))
	}
	if len(legs) == 0 {
		if len(errs) == 0 {
			errs = append(errs, errors.New("no target"))
		}
		return nil, errors.Join(errs...)
	}
	up := func() *leg {
		for _, l := range legs {
			if l.state == ari.StateUp && !l.gone {
				return l
			}
		}
		return nil
	}
	allGone := func() bool {
		for _, l := range legs {
			if !l.gone {
				return false
			}
		}
		return true
	}
	c.wait(ctx, nil, func() bool { return c.callerGone || up() != nil || allGone() })
	winner := up()
	if c.callerGone {
		winner = nil
		c.cancelRoute()
	}
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.a.cfg.Teardown)
	defer cancel()
	for _, l := range legs {
		if l != winner && !l.gone {
			c.hangupLeg(tctx, l)
		}
	}
	switch {
	case winner != nil:
		return winner, nil
	case ctx.Err() != nil:
		return nil, ctx.Err()
	}
	for _, l := range legs {
		errs = append(errs, fmt.Errorf("%s: %s", l.target, l.failed))
	}
	return nil, fmt.Errorf("%w: %w", errAllDeclined, errors.Join(errs...))
}

// dialTarget creates and dials one leg. The leg carries the caller's id
// (withheld for a privacy caller) and the ticket number in
// X-Hotline-Ticket; mobile legs are checked against the roster (no toll
// fraud) and carry Diversion with the desk's number.
func (c *call) dialTarget(ctx context.Context, roster *channels.Roster, s channels.Step, t channels.Target) (*leg, error) {
	cfg, cl := c.a.cfg, c.a.client
	var endpoint string
	vars := map[string]string{}
	switch t.Kind {
	case channels.TargetMobile:
		if !roster.Dialable(t.Number) {
			return nil, fmt.Errorf("%s: not a roster number; refusing to dial it", t)
		}
		endpoint = strings.ReplaceAll(cfg.MobileEndpoint, "{number}", t.Number)
		if cfg.Hotline != "" {
			vars["PJSIP_HEADER(add,Diversion)"] = "<tel:" + cfg.Hotline + ">;reason=no-answer"
		}
	default:
		endpoint = strings.ReplaceAll(cfg.AgentEndpoint, "{sip_user}", t.SIPUser)
	}
	if c.withheld {
		vars["CALLERID(name)"] = "Anonymous"
		vars["CALLERID(num)"] = "anonymous"
		vars["CALLERID(pres)"] = "prohib"
	} else {
		vars["CALLERID(name)"] = c.ch.Caller.Name
		vars["CALLERID(num)"] = c.ch.Caller.Number
	}
	if c.receipt.Ticket != "" {
		vars["PJSIP_HEADER(add,X-Hotline-Ticket)"] = c.receipt.Ticket
	}
	c.legSeq++
	l := &leg{id: fmt.Sprintf("%s-leg-%d", c.id, c.legSeq), target: t, step: s.Name}
	c.a.own(c, l.id)
	c.legs[l.id] = l
	if c.firstDial.IsZero() {
		c.firstDial = c.a.cfg.Now()
		c.a.mon.FirstDial(c.firstDial.Sub(c.start))
	}
	// The leg's REST calls are not cut short by the step's ring timer: a
	// leg made but not known would ring on.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.a.cfg.Teardown)
	defer cancel()
	_, err := cl.Create(rctx, ari.CreateParams{Endpoint: endpoint, App: cfg.App, AppArgs: legArg + "," + c.id,
		ChannelID: l.id, Originator: c.id, Variables: vars})
	if err != nil {
		// Asterisk refused it (not registered: 500), or it may exist: then
		// it is hung up, and a 404 says it never was.
		if ari.StatusOf(err) == 0 {
			c.hangupLeg(rctx, l)
		}
		l.gone = true
		c.note("leg-failed-"+l.id, EventLegFailed, legData(l, map[string]string{"endpoint": endpoint, "error": err.Error()}))
		return nil, fmt.Errorf("%s: %w", t, err)
	}
	ring := int(math.Ceil(s.Ring.Seconds())) + 1
	if err := cl.Dial(rctx, l.id, c.id, ring); err != nil {
		c.hangupLeg(rctx, l)
		l.gone = true
		c.note("leg-failed-"+l.id, EventLegFailed, legData(l, map[string]string{"endpoint": endpoint, "error": err.Error()}))
		return nil, fmt.Errorf("%s: %w", t, err)
	}
	l.dialed = c.a.cfg.Now()
	if t.Kind == channels.TargetMobile {
		c.a.mon.Forwarded(s.Name)
		c.note("forwarded-"+l.id, EventForwarded, legData(l, nil))
	} else {
		c.note("ringing-"+l.id, EventRinging, legData(l, nil))
	}
	return l, nil
}

func legData(l *leg, more map[string]string) map[string]string {
	d := map[string]string{"agent": l.target.Agent.ID, "step": l.step, "leg": l.id}
	if l.target.Kind == channels.TargetMobile {
		d["number"] = l.target.Number
	} else {
		d["sip_user"] = l.target.SIPUser
	}
	for k, v := range more {
		d[k] = v
	}
	return d
}

// talk bridges the leg that answered with the caller and records the
// conversation until one side hangs up.
func (c *call) talk(ctx context.Context, w *leg) {
	cl := c.a.client
	answeredAt := c.a.cfg.Now()
	c.decide("answered")
	c.a.mon.Answered(answeredAt.Sub(w.dialed))
	if c.playing[c.readbackID] {
		if err := cl.StopPlayback(ctx, c.readbackID); err == nil || ari.IsNotFound(err) {
			delete(c.playing, c.readbackID)
		}
	}
	if c.mohOn {
		if err := cl.StopBridgeMOH(ctx, c.bridgeID); err == nil {
			c.mohOn = false
		}
	}
	if err := cl.AddChannel(ctx, c.bridgeID, w.id, "agent"); err != nil {
		c.log.Info("ARI: the answering leg could not be bridged", "error", err)
		w.gone = true
	}
	c.note("answered", EventAnswered, legData(w, map[string]string{
		"wait_seconds": secs(answeredAt.Sub(c.start)), "ring_seconds": secs(answeredAt.Sub(w.dialed))}))

	c.recName = "hotline-" + strings.NewReplacer("/", "-", ";", "-").Replace(c.id)
	c.a.own(c, c.recName)
	c.recActive = true
	if _, err := cl.RecordBridge(ctx, c.bridgeID, ari.RecordParams{Name: c.recName, Format: "wav", IfExists: "overwrite"}); err != nil {
		c.log.Warn("ARI: the call is not recorded", "error", err)
		c.recActive = false
		c.recName = ""
	}

	c.wait(ctx, nil, func() bool { return c.callerGone || w.gone })
	hungUpBy := "agent"
	if c.callerGone {
		hungUpBy = "caller"
	}
	if ctx.Err() != nil {
		hungUpBy = "gateway"
	}
	talked := c.a.cfg.Now().Sub(answeredAt)
	c.a.mon.Talked(talked)
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.a.cfg.Teardown)
	defer cancel()
	if !c.callerGone {
		if err := cl.Hangup(tctx, c.id, ""); err == nil || ari.IsNotFound(err) {
			c.callerGone = true
		}
	}
	if !w.gone {
		c.hangupLeg(tctx, w)
	}
	c.note("ended", EventEnded, map[string]string{"duration_seconds": secs(talked), "hung_up_by": hungUpBy, "agent": w.target.Agent.ID})
	if c.recName != "" {
		if err := cl.StopRecording(tctx, c.recName); err != nil && !ari.IsNotFound(err) {
			c.log.Warn("ARI: recording not stopped", "error", err)
		}
		t := time.NewTimer(5 * time.Second)
		if !c.wait(tctx, t.C, func() bool { return !c.recActive }) {
			c.resync(tctx)
		}
		t.Stop()
		c.attachRecording(tctx)
	}
}

// attachRecording fetches the recording and attaches it to the ticket, or
// links it when it is over the size limit (it then stays on Asterisk).
func (c *call) attachRecording(ctx context.Context) {
	if !c.ticketed {
		return
	}
	cfg, cl := c.a.cfg, c.a.client
	// The recording's note comes after the call's others.
	c.notes.close()
	c.notes = startNotes(ctx, c.a.intake, c.log)
	data := map[string]string{"name": c.recName, "duration_seconds": fmt.Sprint(c.recDuration)}
	f, err := cl.StoredFile(ctx, c.recName, cfg.RecordingMaxBytes)
	note := channels.Note{Ref: c.ref, ID: "recording"}
	result := "attached"
	switch {
	case errors.Is(err, ari.ErrTooLarge):
		result = "linked"
		data["size"] = fmt.Sprint(f.Size)
		data["link"] = strings.TrimRight(cfg.ARIURL, "/") + "/recordings/stored/" + c.recName + "/file"
	case err != nil:
		result = "failed"
		data["error"] = err.Error()
	default:
		data["size"] = fmt.Sprint(len(f.Data))
		ct := f.ContentType
		if ct == "" {
			ct = "audio/wav"
		}
		name := c.recName + ".wav"
		if c.receipt.Ticket != "" {
			name = c.receipt.Ticket + "-call.wav"
		}
		data["attachment"] = name
		note.Attachments = []channels.Attachment{{Name: name, ContentType: ct, Data: f.Data}}
	}
	data["result"] = result
	note.Events = []ticketing.Event{ticketing.NewEvent(cfg.Now(), EventRecording, actor, data)}
	if err := c.a.intake.Record(ctx, note); err != nil {
		c.log.Error("ARI: recording not recorded on the ticket", "error", err)
		c.a.mon.Recording("failed")
		return
	}
	c.a.mon.Recording(result)
	if result == "attached" {
		// The ticket (or the journal) holds it now.
		if err := cl.DeleteStoredRecording(ctx, c.recName); err != nil && !ari.IsNotFound(err) {
			c.log.Warn("ARI: stored recording not deleted", "error", err)
		}
	}
}

// missed: every step rang out. The caller hears that we will call back,
// and the agents on duty get the callback task with the missed event.
func (c *call) missed(ctx context.Context, roster *channels.Roster, steps int) {
	c.decide("missed")
	data := map[string]string{"steps": fmt.Sprint(steps), "callback": c.ch.Caller.Number,
		"wait_seconds": secs(c.decided.Sub(c.start))}
	reason := "no agent answered"
	if steps == 0 {
		reason = "no agent on duty"
	}
	to, job, ok := channels.CallbackTask(roster, channels.MissedCall{CallID: c.ch.ID, Name: c.ch.Caller.Name,
		Number: c.ch.Caller.Number, Withheld: c.withheld, At: c.start, Reason: reason, Ticket: c.receipt.Ticket})
	var jobs []ticketing.JobSpec
	if ok {
		data["callback_notified"] = strings.Join(to, ", ")
		jobs = append(jobs, job)
	}
	if c.ticketed {
		c.notes.add(channels.Note{Ref: c.ref, ID: "missed", Jobs: jobs,
			Events: []ticketing.Event{ticketing.NewEvent(c.a.cfg.Now(), EventMissed, actor, data)}})
	}
	cl := c.a.client
	if c.mohOn {
		if err := cl.StopBridgeMOH(ctx, c.bridgeID); err == nil {
			c.mohOn = false
		}
	}
	if c.playing[c.readbackID] {
		_ = cl.StopPlayback(ctx, c.readbackID)
		delete(c.playing, c.readbackID)
	}
	if pb := c.play(ctx, true, c.a.cfg.Prompts.Unavailable); pb != "" {
		t := time.NewTimer(30 * time.Second)
		c.wait(ctx, t.C, func() bool { return c.callerGone || !c.playing[pb] })
		t.Stop()
	}
}
