package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/hotline-desk/hotline/channels"
	"github.com/hotline-desk/hotline/ticketing"
)

// Why a call's ringing stopped before anyone answered.
var (
	errCallerCanceled = errors.New("the caller hung up")
	errCallerGone     = errors.New("the caller's transaction ended")
)

// call is one inbound call from the trunk: the caller's INVITE, its ticket,
// and the routing plan it runs until someone answers, then the connected
// call until either side hangs up.
type call struct {
	s     *Server
	req   *sip.Request
	tx    sip.ServerTransaction
	trunk *Trunk
	// agent is set when an agent called in from a softphone (the sip_user
	// its credentials named) instead of through a trunk.
	fromAgent string
	id        string // the caller's Call-ID: the contact's external id
	ref       channels.EventRef
	start     time.Time
	who       Identity
	roster    *channels.Roster
	ticket    string
	rec       *recorder
	toTag     string

	// ctx ends the ringing: the caller's CANCEL, the caller's transaction
	// ending, the gateway shutting down.
	ctx    context.Context
	cancel context.CancelCauseFunc

	mu         sync.Mutex
	provisonal bool // a 180/183 went to the caller
	earlySDP   bool // an early-media 183 with SDP went to the caller
	setupTimed bool // the setup metric was recorded
	// firstRecorded is set when the first step's ringing went on the
	// ticket with the contact itself (one commit less per call); dials
	// counts the steps rung.
	firstRecorded bool
	dials         int
	ringing       string // the step ringing now, for the abandoned event
	caller        *side
	agent         *side
	hungUp        chan *side // the side that hung up first, or nil (gateway)
	hangOnce      sync.Once
	// held are the references to this call's sides that its legs' client
	// transactions keep (for retransmitted 2xx); they outlive the call by
	// Timer M (transactionLinger), and are cleared when the call ends so
	// that they do not keep it alive.
	held []*atomic.Pointer[side]
}

func newCall(s *Server, req *sip.Request, tx sip.ServerTransaction, trunk *Trunk, fromAgent string) *call {
	c := &call{s: s, req: req, tx: tx, trunk: trunk, fromAgent: fromAgent, id: callIDOf(req), start: time.Now(), hungUp: make(chan *side, 1)}
	c.ref = channels.EventRef{Channel: ticketing.ChannelPhone, ExternalID: c.id}
	c.ctx, c.cancel = context.WithCancelCause(s.ctx)
	return c
}

// hold returns a reference to d that lives no longer than the call.
func (c *call) hold(d *side) *atomic.Pointer[side] {
	ref := new(atomic.Pointer[side])
	ref.Store(d)
	c.mu.Lock()
	c.held = append(c.held, ref)
	c.mu.Unlock()
	return ref
}

func (c *call) dropHeld() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ref := range c.held {
		ref.Store(nil)
	}
	c.held = nil
}

// run is the whole life of the call. It returns when the call is over.
func (c *call) run() {
	s := c.s
	s.mon.CallOffered()
	defer s.mon.CallEnded()
	defer c.cancel(nil)
	defer c.dropHeld()
	setupDone := false
	defer func() {
		if !setupDone {
			s.setups.Add(-1)
		}
	}()

	// Every response carries our tag (RFC 3261 §8.2.6.2), the 487 the
	// transaction layer makes on CANCEL included: it copies the To of the
	// request. This runs before any response is sent.
	c.toTag = sip.GenerateTagN(16)
	c.req.To().Params.Add("tag", c.toTag)
	s.respond(c.tx, c.req, 100, "Trying")
	// The transaction outlives the call (Timer L keeps it after its 2xx),
	// so its hooks hold the call's cancel, not the call: holding the call
	// kept some 25,000 finished calls alive at 800 calls/s.
	cancel := c.cancel
	if !c.tx.OnCancel(func(*sip.Request) { cancel(errCallerCanceled) }) {
		cancel(errCallerCanceled)
	}
	if !c.tx.OnTerminate(func(string, error) { cancel(errCallerGone) }) {
		cancel(errCallerGone)
	}

	c.who = identityOf(c.req)
	c.roster = s.roster.Load()
	plan := c.roster.Plan(c.start, s.cfg.Plan)
	contact := c.contact()
	// Who the first step rings is known now: it is committed with the
	// ticket, which exists before anyone rings.
	if len(plan.Steps) > 0 {
		contact.Events = ringingEvents(plan.Steps[0], c.reachable(plan.Steps[0]))
	}
	rc, err := s.intake.Submit(c.ctx, contact)
	switch {
	case err != nil:
		// Bad input or a journal that cannot be written: the call still
		// rings; the log says what was not recorded.
		s.log.Error("sip: call not recorded", "call_id", c.id, "err", err)
	case rc.Journaled:
		s.log.Warn("sip: store slow or down; call journaled and routed", "call_id", c.id)
	default:
		c.ticket = rc.Ticket
	}
	c.firstRecorded = err == nil
	c.rec = newRecorder(s.intake, c.ref, s.log)
	defer c.rec.close()

	setupDone = true
	s.setups.Add(-1)
	out, err := plan.Run(c.ctx, c.dial)
	c.mu.Lock()
	agent := c.agent
	c.mu.Unlock()
	if out.Answered != nil && agent != nil {
		c.connected(*out.Answered, agent)
		return
	}
	wait := time.Since(c.start)
	switch cause := context.Cause(c.ctx); {
	case err != nil && (errors.Is(cause, errCallerCanceled) || errors.Is(cause, errCallerGone)):
		s.mon.CallOutcome("abandoned", wait)
		c.rec.event(EventAbandoned, map[string]any{"wait_seconds": seconds(wait), "step": c.ringingStep(),
			"reason": cause.Error()})
	case err != nil:
		s.mon.Refused("shutting_down")
		c.refuseCaller(errShuttingDown)
		c.rec.event(EventFailed, map[string]any{"wait_seconds": seconds(wait), "reason": cause.Error()})
	default:
		c.missed(out, len(plan.Steps), wait)
	}
}

// contact is the call as the intake records it.
func (c *call) contact() channels.Contact {
	who := c.who
	phone := who.Number
	if phone == "" {
		phone = who.Raw
	}
	subject := "来电 " + firstNonEmpty(who.Name, who.Number, who.Raw, "未知号码")
	if who.Name != "" && who.Number != "" {
		subject = fmt.Sprintf("来电 %s %s", who.Name, who.Number)
	}
	meta := map[string]string{
		"sip_call_id":     c.id,
		"sip_from":        headerValue(c.req, "From"),
		"identity_header": who.Source,
		"source":          c.req.Source(),
	}
	if c.trunk != nil {
		meta["trunk"] = c.trunk.Name
	} else {
		meta["from_agent"] = c.fromAgent
	}
	if who.Diversion != "" {
		meta["diversion"] = who.Diversion
		if who.DiversionReason != "" {
			meta["diversion_reason"] = who.DiversionReason
		}
	}
	if who.Withheld {
		meta["privacy"] = "id"
	}
	return channels.Contact{
		Channel: ticketing.ChannelPhone, ExternalID: c.id,
		Caller: ticketing.Party{Name: who.Name, Phone: phone, Withheld: who.Withheld},
		Callee: c.req.Recipient.User, Subject: subject, ReceivedAt: c.start.UTC(), Metadata: meta,
	}
}

// respondCaller sends a provisional response to the caller's INVITE.
func (c *call) provisional(code int, reason string, res *sip.Response) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.agent != nil {
		return // answered meanwhile: a late provisional goes nowhere
	}
	sdp := res != nil && len(res.Body()) > 0 && code == 183
	switch {
	case sdp && !c.earlySDP:
		c.earlySDP, c.provisonal = true, true
	case !c.provisonal:
		c.provisonal = true
		code, reason, sdp = 180, "Ringing", false
	default:
		return
	}
	out := sip.NewResponseFromRequest(c.req, code, reason, nil)
	out.AppendHeader(c.s.contact(sip.NetworkToUpper(c.req.Transport())))
	if sdp {
		out.AppendHeader(sip.NewHeader("Content-Type", contentType(res)))
		out.SetBody(res.Body())
	}
	if err := c.tx.Respond(out); err != nil {
		c.s.log.Debug("sip: provisional not sent", "call_id", c.id, "err", err)
	}
}

func (c *call) refuseCaller(e *StatusError) {
	c.s.refuse(c.tx, c.req, e)
}

func (c *call) ringingStep() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ringing
}

// missed ends a call nobody answered: the caller hears a clear refusal
// (480 with a reason), and the ticket gets the missed event with a callback
// task: a mail to the agents on duty (or, without them, the escalation
// contacts), committed with the event, so that somebody calls back.
func (c *call) missed(out channels.Outcome, steps int, wait time.Duration) {
	s := c.s
	reason := "no agent answered"
	switch {
	case steps == 0:
		reason = "no agent on duty"
	case len(out.Errors) == steps:
		reason = "no agent could be reached"
	}
	res := sip.NewResponseFromRequest(c.req, errNoAnswer.Code, errNoAnswer.Reason, nil)
	res.AppendHeader(sip.NewHeader("Reason", fmt.Sprintf(`SIP;cause=480;text=%q`, reason)))
	if err := c.tx.Respond(res); err != nil {
		s.log.Debug("sip: 480 not sent", "call_id", c.id, "err", err)
	}
	s.mon.CallOutcome("missed", wait)

	var errs []string
	for _, err := range out.Errors {
		errs = append(errs, err.Error())
	}
	data := map[string]any{"reason": reason, "wait_seconds": seconds(wait), "steps": out.Step, "callback": "pending"}
	if len(errs) > 0 {
		data["errors"] = errs
	}
	var jobs []ticketing.JobSpec
	to, job, ok := channels.CallbackTask(c.roster, channels.MissedCall{CallID: c.id, Name: c.who.Name,
		Number: firstNonEmpty(c.who.Number, c.who.Raw), Withheld: c.who.Withheld, At: c.start, Reason: reason, Ticket: c.ticket})
	if ok {
		data["callback_notified"] = to
		jobs = append(jobs, job)
	} else {
		s.log.Warn("sip: missed call and nobody with an e-mail to tell", "call_id", c.id)
	}
	c.rec.add([]ticketing.Event{ticketing.NewEvent(time.Now().UTC(), EventMissed, "channel:phone", data)}, jobs...)
}

// connected answers the caller with the agent's session and holds the call
// until either side hangs up.
func (c *call) connected(t channels.Target, agent *side) {
	s := c.s
	wait := time.Since(c.start)
	if cause := context.Cause(c.ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		// The caller hung up while the agent answered.
		agent.bye("")
		s.dialogs.remove(agent)
		s.mon.CallOutcome("abandoned", wait)
		c.rec.event(EventAbandoned, map[string]any{"wait_seconds": seconds(wait), "step": c.ringingStep(),
			"reason": cause.Error(), "answered_too_late": t.Agent.ID})
		return
	}
	caller := c.callerSide()
	caller.peerSide.Store(agent)
	agent.peerSide.Store(caller)
	c.mu.Lock()
	c.caller = caller
	c.mu.Unlock()
	s.dialogs.add(caller)
	defer s.dialogs.remove(caller)
	defer s.dialogs.remove(agent)

	ok := sip.NewResponseFromRequest(c.req, 200, "OK", nil)
	ok.AppendHeader(s.contact(sip.NetworkToUpper(c.req.Transport())))
	ok.AppendHeader(sip.NewHeader("Allow", allowed))
	if body := agent.answer; len(body) > 0 {
		ok.AppendHeader(sip.NewHeader("Content-Type", agent.answerType))
		ok.SetBody(body)
	}
	if err := c.tx.Respond(ok); err != nil {
		s.log.Warn("sip: 200 to the caller not sent; ending the call", "call_id", c.id, "err", err)
		agent.bye("")
		s.mon.CallOutcome("abandoned", wait)
		c.rec.event(EventAbandoned, map[string]any{"wait_seconds": seconds(wait), "reason": err.Error()})
		return
	}
	s.mon.CallOutcome("answered", wait)
	data := map[string]any{"agent": t.Agent.ID, "target": string(t.Kind), "wait_seconds": seconds(wait), "step": c.ringingStep()}
	if t.Kind == channels.TargetMobile {
		data["number"] = t.Number
	}
	c.rec.event(EventAnswered, data)
	answeredAt := time.Now()

	// The 2xx is the UAS core's to retransmit until the ACK (RFC 3261
	// §13.3.1.4); without an ACK in 64*T1 the call is ended.
	t1, deadline := sip.T1, time.NewTimer(64*sip.T1)
	defer deadline.Stop()
	retransmit := time.NewTimer(t1)
	defer retransmit.Stop()
	var by *side
	byGateway := ""
wait:
	for {
		select {
		case <-caller.acked:
			break wait
		case <-retransmit.C:
			_ = c.tx.Respond(ok)
			t1 = min(2*t1, sip.T2)
			retransmit.Reset(t1)
		case <-deadline.C:
			byGateway = "no ACK from the caller"
			break wait
		case by = <-c.hungUp:
			break wait
		case <-s.ctx.Done():
			byGateway = "gateway shutting down"
			break wait
		}
	}
	// A late offer: the caller's answer came in its ACK, and goes in ours.
	caller.mu.Lock()
	answer, answerType := caller.ackedBody, caller.ackedType
	caller.mu.Unlock()
	agent.release(answer, answerType)
	if by == nil && byGateway == "" {
		select {
		case by = <-c.hungUp:
		case <-s.ctx.Done():
			byGateway = "gateway shutting down"
		}
	}
	hungUpBy := "gateway"
	switch {
	case by == caller:
		hungUpBy = "caller"
		agent.bye("")
	case by == agent:
		hungUpBy = "agent"
		caller.bye("")
	default:
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); caller.bye(`SIP;cause=503;text="` + byGateway + `"`) }()
		go func() { defer wg.Done(); agent.bye(`SIP;cause=503;text="` + byGateway + `"`) }()
		wg.Wait()
	}
	data = map[string]any{"agent": t.Agent.ID, "duration_seconds": seconds(time.Since(answeredAt)), "hung_up_by": hungUpBy}
	if byGateway != "" {
		data["reason"] = byGateway
	}
	c.rec.event(EventEnded, data)
}

// hangup is called once per side when it sends BYE.
func (c *call) hangup(by *side) {
	c.hangOnce.Do(func() { c.hungUp <- by })
}

// callerSide is the dialog toward the caller, as established by our 2xx.
func (c *call) callerSide() *side {
	req := c.req
	d := &side{s: c.s, call: c, caller: true, callID: c.id, localTag: c.toTag,
		transport: sip.NetworkToUpper(req.Transport()), acked: make(chan struct{})}
	to, from := req.To(), req.From()
	d.local, d.localName = *to.Address.Clone(), to.DisplayName
	d.remote, d.remoteNm = *from.Address.Clone(), from.DisplayName
	d.remoteTag, _ = from.Params.Get("tag")
	d.target = *from.Address.Clone()
	if ct := req.Contact(); ct != nil {
		d.target = *ct.Address.Clone()
	}
	for _, h := range req.GetHeaders("Record-Route") {
		if rr, ok := h.(*sip.RecordRouteHeader); ok {
			d.routes = append(d.routes, *rr.Address.Clone())
		}
	}
	d.dest = destOf(d.target, d.transport)
	if len(d.routes) > 0 {
		d.dest = destOf(d.routes[0], d.transport)
	}
	return d
}

func seconds(d time.Duration) float64 {
	return float64(d.Round(10*time.Millisecond)) / float64(time.Second)
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func headerValue(m interface{ GetHeader(string) sip.Header }, name string) string {
	if h := m.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

func contentType(m interface{ ContentType() *sip.ContentTypeHeader }) string {
	if ct := m.ContentType(); ct != nil {
		return ct.Value()
	}
	return "application/sdp"
}

// destOf is the host:port a request to uri goes to.
func destOf(u sip.Uri, transport string) string {
	port := u.Port
	if port == 0 {
		port = sip.DefaultPort(transport)
	}
	return net.JoinHostPort(u.Host, strconv.Itoa(port))
}
