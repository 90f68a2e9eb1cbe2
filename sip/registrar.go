package sip

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/hotline-desk/hotline/ticketing"
)

// Registration expiry bounds (RFC 3261 §10.3): shorter asks are refused with
// 423 and the minimum, longer ones are cut to the maximum.
const (
	minExpires     = 60
	maxExpires     = 3600
	defaultExpires = 3600
)

// onRegister is the registrar (RFC 3261 §10.3) for the agents' softphones.
// The address-of-record is the agent's sip_user; digest credentials are
// checked against the agent's password. An address that fails too often is
// locked out: its REGISTERs are refused with 403 until the lock ends.
func (s *Server) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	src := sourceIP(req.Source()).String()
	if _, locked := s.reg.LockedOut(src); locked {
		s.mon.Registered("locked_out")
		s.refuse(tx, req, errLockedOut)
		return
	}
	to := req.To()
	if to == nil {
		s.respond(tx, req, 400, "Bad Request")
		return
	}
	user := to.Address.User
	password, known := s.cfg.Passwords(user)
	// An unknown user is challenged like a known one and fails the same
	// way, so that a scanner learns nothing about who exists.
	if !known || password == "" {
		password = "\x00unknown"
	}
	var authz string
	if h := req.GetHeader("Authorization"); h != nil {
		authz = h.Value()
	}
	err := s.auth.verify(authz, string(req.Method), user, password)
	if err == nil && !known {
		err = errBadUser
	}
	if err == nil {
		if _, ok := s.roster.Load().AgentBySIPUser(user); !ok {
			err = errBadUser // removed from the roster since the password was given
		}
	}
	switch {
	case err == nil:
	case errors.Is(err, errNoCredentials), errors.Is(err, errStaleNonce):
		s.mon.Registered("challenged")
		s.respond(tx, req, 401, "Unauthorized",
			sip.NewHeader("WWW-Authenticate", s.auth.challenge(errors.Is(err, errStaleNonce))))
		return
	default:
		until, newly := s.reg.AuthFailed(context.WithoutCancel(s.ctx), src)
		s.mon.AuthFailed(newly)
		s.log.Warn("sip: REGISTER authentication failed", "user", user, "source", req.Source(), "reason", err.Error(),
			"locked_until", until)
		if !until.IsZero() {
			s.mon.Registered("locked_out")
			s.refuse(tx, req, errLockedOut)
			return
		}
		s.mon.Registered("failed")
		s.respond(tx, req, 401, "Unauthorized", sip.NewHeader("WWW-Authenticate", s.auth.challenge(false)))
		return
	}
	s.reg.AuthSucceeded(context.WithoutCancel(s.ctx), src)

	p, bad := s.bindingChange(req, user)
	if bad != nil {
		s.mon.Registered("failed")
		s.respond(tx, req, bad.Code, bad.Reason, bad.headers...)
		return
	}
	current, err := s.reg.Bind(context.WithoutCancel(s.ctx), p)
	if err != nil {
		s.log.Error("sip: REGISTER not saved", "user", user, "err", err)
		s.mon.Registered("error")
		s.refuse(tx, req, &StatusError{Code: 500, Reason: "Server Internal Error", RetryAfter: 30 * time.Second})
		return
	}
	s.mon.Registered("ok")
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	now := time.Now()
	for _, b := range current {
		var u sip.Uri
		if sip.ParseUri(b.Contact, &u) != nil {
			continue
		}
		c := &sip.ContactHeader{Address: u, Params: sip.NewParams()}
		c.Params.Add("expires", strconv.Itoa(int(b.ExpiresAt.Sub(now).Round(time.Second)/time.Second)))
		res.AppendHeader(c)
	}
	res.AppendHeader(sip.NewHeader("Date", now.UTC().Format(time.RFC1123)))
	if err := tx.Respond(res); err != nil {
		s.log.Debug("sip: REGISTER response not sent", "err", err)
	}
}

type badRegister struct {
	Code    int
	Reason  string
	headers []sip.Header
}

// bindingChange reads the Contact and Expires headers of a REGISTER.
func (s *Server) bindingChange(req *sip.Request, user string) (ticketing.SIPBindingSaveParams, *badRegister) {
	now := time.Now()
	p := ticketing.SIPBindingSaveParams{AOR: user, Now: now}
	expires := defaultExpires
	if h := req.GetHeader("Expires"); h != nil {
		n, err := strconv.Atoi(strings.TrimSpace(h.Value()))
		if err != nil || n < 0 {
			return p, &badRegister{Code: 400, Reason: "Bad Request"}
		}
		expires = n
	}
	callID := ""
	if c := req.CallID(); c != nil {
		callID = c.Value()
	}
	var cseq uint32
	if c := req.CSeq(); c != nil {
		cseq = c.SeqNo
	}
	for _, h := range req.GetHeaders("Contact") {
		c, ok := h.(*sip.ContactHeader)
		if !ok {
			return p, &badRegister{Code: 400, Reason: "Bad Request"}
		}
		if c.Address.Wildcard {
			// "Contact: *" must come alone, with Expires: 0.
			if expires != 0 || len(req.GetHeaders("Contact")) != 1 {
				return p, &badRegister{Code: 400, Reason: "Bad Request"}
			}
			p.RemoveAll = true
			return p, nil
		}
		exp := expires
		if v, ok := c.Params.Get("expires"); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return p, &badRegister{Code: 400, Reason: "Bad Request"}
			}
			exp = n
		}
		uri := c.Address.String()
		if exp == 0 {
			p.Remove = append(p.Remove, uri)
			continue
		}
		if exp < minExpires {
			return p, &badRegister{Code: 423, Reason: "Interval Too Brief",
				headers: []sip.Header{sip.NewHeader("Min-Expires", strconv.Itoa(minExpires))}}
		}
		exp = min(exp, maxExpires)
		p.Set = append(p.Set, ticketing.SIPBinding{
			AOR: user, Contact: uri, Source: req.Source(), Transport: sip.NetworkToUpper(req.Transport()),
			CallID: callID, CSeq: cseq, ExpiresAt: now.Add(time.Duration(exp) * time.Second), UpdatedAt: now,
			Instance: s.Addr(),
		})
	}
	return p, nil
}
