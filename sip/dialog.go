package sip

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
)

// side is one of the two dialogs of a B2BUA call, seen from the gateway:
// toward the caller (we are its UAS) or toward the agent or mobile (we are
// its UAC). Requests for one side are relayed to its peer.
type side struct {
	s    *Server
	call *call
	// caller is set for the side toward the caller.
	caller bool

	callID    string
	local     sip.Uri // our URI in this dialog (From of what we send)
	localName string
	localTag  string
	remote    sip.Uri
	remoteNm  string
	remoteTag string
	target    sip.Uri // the remote target: where in-dialog requests go
	dest      string  // host:port they are sent to
	routes    []sip.Uri
	transport string

	mu   sync.Mutex
	cseq uint32
	// ackFor is the ACK sent for the last 2xx to our INVITE, for
	// retransmitted 2xx.
	ackFor  *sip.Request
	ackCSeq uint32
	acked   chan struct{} // closed when the peer acknowledged our 2xx (caller side)
	ackOnce sync.Once
	// ackedBody is the body of the caller's ACK (caller side, under mu):
	// the answer to a late offer.
	ackedBody []byte
	ackedType string
	// offerless is set on a leg's side when our INVITE carried no offer,
	// because the caller's had none (a late offer, RFC 3261 §13.2.1). The
	// 2xx then carries the offer, and our ACK must carry the answer, which
	// comes in the caller's ACK: ack holds it back (heldCSeq, under mu)
	// until release gives the answer.
	offerless bool
	released  bool
	heldCSeq  uint32
	ackBody   []byte
	ackType   string
	ended     atomic.Bool
	byeOnce   sync.Once
	peerSide  atomic.Pointer[side]

	// answer is the session the agent answered with (the body of its 2xx),
	// relayed to the caller.
	answer     []byte
	answerType string
}

func (d *side) key() string { return d.callID + "\x00" + d.localTag }

// request builds an in-dialog request (RFC 3261 §12.2.1.1) with the next
// CSeq of this side.
func (d *side) request(method sip.RequestMethod) *sip.Request {
	d.mu.Lock()
	d.cseq++
	cseq := d.cseq
	d.mu.Unlock()
	req := d.build(method, cseq)
	if method == sip.INVITE || method == sip.UPDATE {
		req.AppendHeader(d.s.contact(d.transport))
	}
	return req
}

// build makes a request of this dialog with the given CSeq.
func (d *side) build(method sip.RequestMethod, cseq uint32) *sip.Request {
	req := sip.NewRequest(method, *d.target.Clone())
	req.AppendHeader(d.s.via(d.transport))
	for _, r := range d.routes {
		req.AppendHeader(&sip.RouteHeader{Address: *r.Clone()})
	}
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	from := &sip.FromHeader{DisplayName: d.localName, Address: *d.local.Clone(), Params: sip.NewParams()}
	from.Params.Add("tag", d.localTag)
	req.AppendHeader(from)
	to := &sip.ToHeader{DisplayName: d.remoteNm, Address: *d.remote.Clone(), Params: sip.NewParams()}
	if d.remoteTag != "" {
		to.Params.Add("tag", d.remoteTag)
	}
	req.AppendHeader(to)
	cid := sip.CallIDHeader(d.callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: method})
	req.SetBody(nil)
	d.s.route(req, d.transport, d.dest)
	return req
}

// ack acknowledges a 2xx to our INVITE in this dialog (RFC 3261 §13.2.2.4).
// A retransmitted 2xx gets the same ACK again. An offerless side holds the
// ACK back until release.
func (d *side) ack(res *sip.Response) { d.ackSeq(res.CSeq().SeqNo) }

func (d *side) ackSeq(cseq uint32) {
	d.mu.Lock()
	if d.offerless && !d.released {
		d.heldCSeq = cseq
		d.mu.Unlock()
		return
	}
	ack := d.ackFor
	if ack == nil || d.ackCSeq != cseq {
		ack = d.build(sip.ACK, cseq)
		if len(d.ackBody) > 0 {
			ack.AppendHeader(sip.NewHeader("Content-Type", d.ackType))
			ack.SetBody(d.ackBody)
		}
		d.ackFor, d.ackCSeq = ack, cseq
	}
	d.mu.Unlock()
	if err := d.s.cli.WriteRequest(ack, noBuild); err != nil {
		d.s.log.Debug("sip: ACK not sent", "call_id", d.callID, "err", err)
	}
}

// release sends the ACK an offerless side held back, with the answer to
// its offer (none when the call ends before the caller answered: a BYE
// follows). It does nothing on any other side, or a second time.
func (d *side) release(answer []byte, ctype string) {
	d.mu.Lock()
	if !d.offerless || d.released {
		d.mu.Unlock()
		return
	}
	d.released = true
	d.ackBody, d.ackType = answer, ctype
	cseq := d.heldCSeq
	d.mu.Unlock()
	if cseq != 0 {
		d.ackSeq(cseq)
	}
}

// bye ends this dialog: it sends BYE and returns; the answer is awaited
// (a bounded while) in the background, among the server's legs, so that a
// peer that never answers holds neither the call nor its place among the
// calls in progress. Calling it again does nothing.
func (d *side) bye(reason string) {
	// A 2xx is acknowledged before the dialog is ended (§15).
	d.release(nil, "")
	d.byeOnce.Do(func() {
		if !d.ended.CompareAndSwap(false, true) {
			return
		}
		req := d.request(sip.BYE)
		if reason != "" {
			req.AppendHeader(sip.NewHeader("Reason", reason))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Duration(64)*sip.T1)
		tx, err := d.s.send(ctx, req)
		if err != nil {
			cancel()
			d.s.log.Debug("sip: BYE not sent", "call_id", d.callID, "err", err)
			return
		}
		d.s.legs.Add(1)
		go func() {
			defer d.s.legs.Done()
			defer cancel()
			defer tx.Terminate()
			awaitFinal(ctx, tx)
		}()
	})
}

// awaitFinal reads a client transaction's responses until the final one,
// the transaction's end, or ctx's.
func awaitFinal(ctx context.Context, tx sip.ClientTransaction) {
	for {
		select {
		case res := <-tx.Responses():
			if res.StatusCode >= 200 {
				return
			}
		case <-tx.Done():
			return
		case <-ctx.Done():
			tx.Terminate()
			return
		}
	}
}

// dialogTable finds the side an in-dialog request or a stray response
// belongs to, by Call-ID and our tag.
type dialogTable struct {
	mu sync.RWMutex
	m  map[string]*side
}

func (t *dialogTable) init() { t.m = make(map[string]*side) }

func (t *dialogTable) add(d *side) {
	t.mu.Lock()
	t.m[d.key()] = d
	t.mu.Unlock()
}

func (t *dialogTable) remove(d *side) {
	t.mu.Lock()
	if t.m[d.key()] == d {
		delete(t.m, d.key())
	}
	t.mu.Unlock()
}

func (t *dialogTable) get(callID, localTag string) *side {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.m[callID+"\x00"+localTag]
}

// byRequest finds the side of a request that came in a dialog: our tag is
// in its To header.
func (t *dialogTable) byRequest(req *sip.Request) *side {
	cid, to := req.CallID(), req.To()
	if cid == nil || to == nil {
		return nil
	}
	tag, _ := to.Params.Get("tag")
	if tag == "" {
		return nil
	}
	return t.get(cid.Value(), tag)
}

// byResponse finds the side of a response to our request: our tag is in
// its From header.
func (t *dialogTable) byResponse(res *sip.Response) *side {
	cid, from := res.CallID(), res.From()
	if cid == nil || from == nil {
		return nil
	}
	tag, _ := from.Params.Get("tag")
	return t.get(cid.Value(), tag)
}

// onAck takes the ACK of our 2xx (to a call's INVITE or to a relayed
// re-INVITE). ACKs of non-2xx responses never reach here: the transaction
// layer absorbs them.
func (s *Server) onAck(req *sip.Request, tx sip.ServerTransaction) {
	d := s.dialogs.byRequest(req)
	if d == nil {
		return
	}
	d.ackOnce.Do(func() {
		if body := req.Body(); len(body) > 0 {
			d.mu.Lock()
			d.ackedBody, d.ackedType = body, contentType(req)
			d.mu.Unlock()
		}
		if d.acked != nil {
			close(d.acked)
		}
	})
}

// onBye ends a call from either side: 200 to the BYE, BYE to the other
// side.
func (s *Server) onBye(req *sip.Request, tx sip.ServerTransaction) {
	d := s.dialogs.byRequest(req)
	if d == nil {
		s.respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	s.respond(tx, req, 200, "OK")
	if d.ended.CompareAndSwap(false, true) {
		d.call.hangup(d)
	}
}

// onInDialog relays a request within a dialog (re-INVITE, UPDATE, INFO)
// to the other side of the call, and its final answer back.
func (s *Server) onInDialog(req *sip.Request, tx sip.ServerTransaction) {
	d := s.dialogs.byRequest(req)
	if d == nil {
		s.respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	peer := d.peerSide.Load()
	if peer == nil || peer.ended.Load() {
		s.respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	out := peer.request(req.Method)
	if body := req.Body(); len(body) > 0 {
		if ct := req.ContentType(); ct != nil {
			out.AppendHeader(sip.NewHeader("Content-Type", ct.Value()))
		}
		out.SetBody(body)
	}
	// A relayed request finishes even while the gateway shuts down: its
	// own timers bound it.
	ctx, cancel := context.WithTimeout(context.Background(), 64*sip.T1)
	defer cancel()
	ctxDone := ctx.Done()
	ot, err := s.send(ctx, out)
	if err != nil {
		s.respond(tx, req, 500, "Server Internal Error")
		return
	}
	defer ot.Terminate()
	for {
		select {
		case res := <-ot.Responses():
			if res.StatusCode < 200 {
				continue
			}
			if res.IsSuccess() && req.IsInvite() {
				peer.ack(res)
			}
			back := sip.NewResponseFromRequest(req, res.StatusCode, res.Reason, nil)
			if body := res.Body(); len(body) > 0 {
				if ct := res.ContentType(); ct != nil {
					back.AppendHeader(sip.NewHeader("Content-Type", ct.Value()))
				}
				back.SetBody(body)
			}
			if res.IsSuccess() && (req.IsInvite() || req.Method == sip.UPDATE) {
				back.AppendHeader(s.contact(d.transport))
			}
			if err := tx.Respond(back); err != nil {
				s.log.Debug("sip: relayed response not sent", "method", req.Method, "err", err)
			}
			return
		case <-ot.Done():
			s.respond(tx, req, 408, "Request Timeout")
			return
		case <-ctxDone:
			s.respond(tx, req, 408, "Request Timeout")
			return
		}
	}
}
