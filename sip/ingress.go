package sip

import (
	"context"
	"errors"

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
	caller := ""
	if trunk == nil {
		var ok bool
		if caller, ok = s.authorizeInvite(req, tx); !ok {
			return
		}
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
	c := newCall(s, req, tx, trunk, caller)
	c.run()
}

func callIDOf(m interface{ CallID() *sip.CallIDHeader }) string {
	if c := m.CallID(); c != nil {
		return c.Value()
	}
	return ""
}

// authorizeInvite admits an INVITE that does not come from a trunk only
// with an agent's digest credentials (an agent calling the desk from a
// softphone). A registered softphone's address is challenged (407); any
// other address is refused with 403, as are wrong credentials, which count
// toward the address's lock-out. It answers the INVITE itself when it
// does not admit it, and returns the agent's sip_user when it does.
func (s *Server) authorizeInvite(req *sip.Request, tx sip.ServerTransaction) (string, bool) {
	src := sourceIP(req.Source()).String()
	refuse := func(reason string) (string, bool) {
		s.mon.Refused("not_trunk")
		s.log.Warn("sip: INVITE refused", "source", req.Source(), "call_id", callIDOf(req), "reason", reason)
		s.refuse(tx, req, errNotTrunk)
		return "", false
	}
	if _, locked := s.reg.LockedOut(src); locked {
		return refuse("address locked out")
	}
	authz := headerValue(req, "Proxy-Authorization")
	if authz == "" {
		if !s.reg.KnownSource(src) {
			return refuse("not on the trunk list")
		}
		s.respond(tx, req, 407, "Proxy Authentication Required",
			sip.NewHeader("Proxy-Authenticate", s.auth.challenge(false)))
		return "", false
	}
	user := credentialsUser(authz)
	password, known := s.cfg.Passwords(user)
	if !known || password == "" {
		password = "\x00unknown"
	}
	err := s.auth.verify(authz, string(req.Method), user, password)
	if err == nil && !known {
		err = errBadUser
	}
	switch {
	case err == nil:
		s.reg.AuthSucceeded(context.WithoutCancel(s.ctx), src)
		return user, true
	case errors.Is(err, errStaleNonce), errors.Is(err, errNoCredentials):
		s.respond(tx, req, 407, "Proxy Authentication Required",
			sip.NewHeader("Proxy-Authenticate", s.auth.challenge(true)))
		return "", false
	}
	_, newly := s.reg.AuthFailed(context.WithoutCancel(s.ctx), src)
	s.mon.AuthFailed(newly)
	return refuse("authentication failed: " + err.Error())
}
