package sip

import (
	"github.com/emiago/sipgo/sip"
)

// onInvite takes an INVITE: a re-INVITE within a dialog is relayed; a new
// call is admitted only from a trunk's address and while the gateway has
// room for it, and then runs as a call until it ends.
func (s *Server) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		s.onInDialog(req, tx)
		return
	}
	trunk := trunkFor(s.cfg.Trunks, req.Source())
	if trunk == nil {
		s.mon.Refused("not_trunk")
		s.log.Warn("sip: INVITE from an address not on the trunk list refused", "source", req.Source(),
			"call_id", callIDOf(req))
		s.refuse(tx, req, errNotTrunk)
		return
	}
	if s.closing.Load() {
		s.mon.Refused("shutting_down")
		s.refuse(tx, req, errShuttingDown)
		return
	}
	// Shed load before it turns into retransmissions: a gateway that
	// answers 503 at once keeps serving the calls it took.
	if s.active.Add(1) > int64(s.cfg.MaxCalls) {
		s.active.Add(-1)
		s.mon.Refused("overload")
		s.refuse(tx, req, errOverloaded)
		return
	}
	if s.setups.Add(1) > int64(s.cfg.MaxSetups) {
		s.setups.Add(-1)
		s.active.Add(-1)
		s.mon.Refused("overload")
		s.refuse(tx, req, errOverloaded)
		return
	}
	s.calls.Add(1)
	defer s.calls.Done()
	defer s.active.Add(-1)
	c := newCall(s, req, tx, trunk)
	c.run()
}

func callIDOf(m interface{ CallID() *sip.CallIDHeader }) string {
	if c := m.CallID(); c != nil {
		return c.Value()
	}
	return ""
}
