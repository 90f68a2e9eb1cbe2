package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/hotline-desk/hotline/channels"
	"github.com/hotline-desk/hotline/ticketing/e164"
)

// leg is one outbound INVITE of a step: to one registered contact of an
// agent's softphone, or through the trunk to a mobile. It becomes the
// agent's side of the call if it answers first.
type leg struct {
	c      *call
	target channels.Target
	inv    *sip.Request
	side   *side
}

// newLeg builds the INVITE of a leg. The caller's SDP passes through; the
// agent's phone sees the caller's number and UTF-8 name (or anonymous, when
// the caller asked for privacy), the ticket number and a link to it; the
// carrier sees who diverted the call.
func (c *call) newLeg(r reach) *leg {
	s := c.s
	t, ruri, to, dest, transport := r.target, r.ruri, r.to, r.dest, r.transport
	mobile := t.Kind == channels.TargetMobile
	d := &side{s: s, call: c, callID: sip.GenerateTagN(24) + "@" + s.host, localTag: sip.GenerateTagN(16),
		remote: to, target: ruri, dest: dest, transport: transport, cseq: 1, offerless: len(c.req.Body()) == 0}
	who := c.who
	user := firstNonEmpty(who.Number, who.Raw)
	if user == "" || strings.ContainsAny(user, "@;<>\" ") {
		user = "anonymous"
	}
	if who.Withheld {
		d.local, d.localName = sip.Uri{Scheme: "sip", User: "anonymous", Host: "anonymous.invalid"}, "Anonymous"
	} else {
		d.local, d.localName = sip.Uri{Scheme: "sip", User: user, Host: s.host}, escapeName(who.Name)
	}

	inv := sip.NewRequest(sip.INVITE, ruri)
	inv.AppendHeader(s.via(transport))
	hops := uint32(70)
	if mf := c.req.MaxForwards(); mf != nil && mf.Val() > 1 && mf.Val() <= 70 {
		hops = mf.Val() - 1
	}
	mf := sip.MaxForwardsHeader(hops)
	inv.AppendHeader(&mf)
	from := &sip.FromHeader{DisplayName: d.localName, Address: d.local, Params: sip.NewParams()}
	from.Params.Add("tag", d.localTag)
	inv.AppendHeader(from)
	inv.AppendHeader(&sip.ToHeader{Address: to, Params: sip.NewParams()})
	cid := sip.CallIDHeader(d.callID)
	inv.AppendHeader(&cid)
	inv.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.INVITE})
	inv.AppendHeader(s.contact(transport))
	inv.AppendHeader(sip.NewHeader("Allow", allowed))
	if mobile {
		// The carrier is trusted with the caller's identity (RFC 3325):
		// it shows the number to the mobile unless the caller withheld
		// it. Diversion tells it the desk's number forwarded the call, so
		// that it lets the caller's number through.
		if who.Number != "" {
			inv.AppendHeader(sip.NewHeader(hdrPAI, fmt.Sprintf("<sip:%s@%s>", who.Number, s.host)))
			if who.Withheld {
				inv.AppendHeader(sip.NewHeader(hdrPrivacy, "id"))
			}
		}
		if h := s.cfg.Hotline; h != "" {
			inv.AppendHeader(sip.NewHeader(hdrDiversion, fmt.Sprintf("<sip:%s@%s>;reason=no-answer;counter=1", h, s.host)))
		}
	} else {
		if c.ticket != "" {
			inv.AppendHeader(sip.NewHeader("X-Hotline-Ticket", c.ticket))
			if u := strings.TrimRight(s.cfg.ConsoleURL, "/"); u != "" {
				inv.AppendHeader(sip.NewHeader("Call-Info", fmt.Sprintf("<%s/tickets/%s>;purpose=info", u, c.ticket)))
			}
		}
	}
	if body := c.req.Body(); len(body) > 0 {
		inv.AppendHeader(sip.NewHeader("Content-Type", contentType(c.req)))
		inv.SetBody(body)
	} else {
		inv.SetBody(nil)
	}
	s.route(inv, transport, dest)
	return &leg{c: c, target: t, inv: inv, side: d}
}

// run sends the INVITE and follows it to its end: answered (the leg wins
// the step, or hangs up if another leg won), refused, timed out, or
// cancelled because the step was decided without it.
func (l *leg) run(f *fork) {
	s := l.c.s
	defer s.legs.Done()
	kind := string(l.target.Kind)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	tx, err := s.send(ctx, l.inv)
	cancel()
	if err != nil {
		s.log.Warn("sip: leg not sent", "call_id", l.c.id, "target", l.target.String(), "err", err)
		s.mon.LegEnded(kind, "failed")
		f.send(legEvent{leg: l, final: true, err: fmt.Errorf("%s: %w", l.target, err)})
		return
	}
	// Retransmitted 200s are acknowledged again while the transaction
	// lives (RFC 6026) and the call lasts; afterwards onStrayResponse does
	// it while the dialog is known.
	held := l.c.hold(l.side)
	tx.OnRetransmission(func(res *sip.Response) {
		if d := held.Load(); d != nil && res.IsSuccess() {
			d.ack(res)
		}
	})
	provisional, cancelWanted, cancelled := false, false, false
	decided := f.decided
	// shutdown ends a leg that has nothing to CANCEL yet (no provisional
	// response) at once, instead of waiting out Timer B.
	var shutdown <-chan struct{}
	for {
		select {
		case <-shutdown:
			tx.Terminate()
			s.mon.LegEnded(kind, "canceled")
			return
		case res := <-tx.Responses():
			code := res.StatusCode
			switch {
			case code < 200:
				provisional = true
				if cancelWanted && !cancelled {
					cancelled = true
					l.cancel(`SIP;cause=200;text="Call completed elsewhere"`)
				}
				if code > 100 {
					f.send(legEvent{leg: l, res: res})
				}
			case code < 300:
				l.established(res)
				s.dialogs.add(l.side)
				l.side.ack(res)
				if f.winner.CompareAndSwap(nil, l) {
					s.mon.LegEnded(kind, "answered")
					f.events <- legEvent{leg: l, answered: true}
					return
				}
				// Another leg took the call, or the step gave up.
				s.mon.LegEnded(kind, "canceled")
				l.side.bye(`SIP;cause=200;text="Call completed elsewhere"`)
				s.dialogs.remove(l.side)
				return
			default:
				s.mon.LegEnded(kind, legResult(code, cancelled))
				f.send(legEvent{leg: l, final: true, err: &StatusError{Code: code, Reason: res.Reason,
					Cause: fmt.Errorf("%s answered %d", l.target, code)}})
				return
			}
		case <-decided:
			decided = nil
			cancelWanted = true
			// CANCEL only after a provisional response (RFC 3261 §9.1);
			// without one the first provisional triggers it.
			if provisional && !cancelled {
				cancelled = true
				l.cancel(`SIP;cause=200;text="Call completed elsewhere"`)
			}
			if !provisional {
				shutdown = s.ctx.Done()
			}
		case <-tx.Done():
			err := tx.Err()
			result := "failed"
			if errors.Is(err, sip.ErrTransactionTimeout) {
				result = "no_answer"
			}
			s.mon.LegEnded(kind, result)
			f.send(legEvent{leg: l, final: true, err: fmt.Errorf("%s: %w", l.target, err)})
			return
		}
	}
}

func legResult(code int, cancelled bool) string {
	switch {
	case code == 487 || cancelled:
		return "canceled"
	case code == 486 || code == 600:
		return "busy"
	case code == 603:
		return "declined"
	case code == 408 || code == 480:
		return "no_answer"
	}
	return "failed"
}

// established completes the leg's dialog from the 2xx: the agent's tag,
// its Contact as the remote target, the route set, and its session.
func (l *leg) established(res *sip.Response) {
	d := l.side
	if to := res.To(); to != nil {
		d.remoteTag, _ = to.Params.Get("tag")
		d.remoteNm = to.DisplayName
	}
	if ct := res.Contact(); ct != nil {
		d.target = *ct.Address.Clone()
	}
	// The route set is the Record-Route of the 2xx, reversed (§12.1.2).
	rrs := res.GetHeaders("Record-Route")
	for i := len(rrs) - 1; i >= 0; i-- {
		if rr, ok := rrs[i].(*sip.RecordRouteHeader); ok {
			d.routes = append(d.routes, *rr.Address.Clone())
		}
	}
	if len(d.routes) > 0 {
		d.dest = destOf(d.routes[0], d.transport)
	} else if d.transport != "UDP" {
		// Over TCP the connection the INVITE went on carries the dialog.
	} else if l.target.Kind == channels.TargetMobile {
		d.dest = destOf(d.target, d.transport)
	}
	d.answer = res.Body()
	d.answerType = contentType(res)
}

// cancel sends CANCEL for the leg's INVITE (RFC 3261 §9.1), and follows
// its transaction to its answer in the background.
func (l *leg) cancel(reason string) {
	s := l.c.s
	inv := l.inv
	req := sip.NewRequest(sip.CANCEL, *inv.Recipient.Clone())
	req.AppendHeader(inv.Via().Clone())
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	req.AppendHeader(sip.HeaderClone(inv.From()))
	req.AppendHeader(sip.HeaderClone(inv.To()))
	req.AppendHeader(sip.HeaderClone(inv.CallID()))
	req.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
	if reason != "" {
		req.AppendHeader(sip.NewHeader("Reason", reason))
	}
	req.SetBody(nil)
	s.route(req, inv.Transport(), inv.Destination())
	ctx, cancel := context.WithTimeout(context.Background(), 64*sip.T1)
	tx, err := s.send(ctx, req)
	if err != nil {
		cancel()
		s.log.Debug("sip: CANCEL not sent", "call_id", l.side.callID, "err", err)
		return
	}
	s.legs.Add(1)
	go func() {
		defer s.legs.Done()
		defer cancel()
		awaitFinal(ctx, tx)
	}()
}

func e164Number(n string) e164.Number { return e164.Number{E164: n} }

func splitHostPort(addr string) (string, int) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, 0
	}
	port, _ := strconv.Atoi(p)
	return host, port
}
