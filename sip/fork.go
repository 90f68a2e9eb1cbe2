package sip

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/hotline-desk/hotline/channels"
	"github.com/hotline-desk/hotline/ticketing"
)

// errNobody is a step none of whose targets could be rung: no softphone
// registered, a mobile the roster does not allow, no trunk to dial out on.
var errNobody = errors.New("nobody to ring")

// fork is one step of the plan in flight: its legs race to answer. The
// first leg to answer takes the call by setting winner; the step gives up
// by setting noWinner. decided is closed then, and every other leg is
// cancelled (or, if it answered too, hung up).
type fork struct {
	events  chan legEvent
	decided chan struct{}
	winner  atomic.Pointer[leg]
}

var noWinner = &leg{}

type legEvent struct {
	leg      *leg
	res      *sip.Response // provisional
	answered bool
	final    bool
	err      error
}

// send hands an event to the step unless the step is decided.
func (f *fork) send(ev legEvent) {
	select {
	case f.events <- ev:
	case <-f.decided:
	}
}

// dial is the plan's DialFunc: it rings the step's targets until one
// answers, every leg failed, or ctx ends (the step rang out or the caller
// hung up).
func (c *call) dial(ctx context.Context, st channels.Step) (*channels.Target, error) {
	c.mu.Lock()
	c.ringing = st.Name
	c.mu.Unlock()
	reaches := c.reachable(st)
	if len(reaches) == 0 {
		return nil, fmt.Errorf("%w in step %s", errNobody, st.Name)
	}
	legs := make([]*leg, 0, len(reaches))
	for _, r := range reaches {
		legs = append(legs, c.newLeg(r))
	}
	f := &fork{events: make(chan legEvent, 4*len(legs)+4), decided: make(chan struct{})}
	start := time.Now()
	for _, l := range legs {
		c.s.legs.Add(1)
		go l.run(f)
	}
	c.mu.Lock()
	if !c.setupTimed {
		c.setupTimed = true
		c.s.mon.CallSetUp(time.Since(c.start))
	}
	c.mu.Unlock()
	c.mu.Lock()
	c.dials++
	recorded := c.dials == 1 && c.firstRecorded
	c.mu.Unlock()
	for _, r := range reaches {
		if r.target.Kind == channels.TargetMobile {
			c.s.mon.Forwarded(st.Name)
		}
	}
	if !recorded {
		c.rec.add(ringingEvents(st, reaches))
	}
	defer func() { c.s.mon.StepRang(st.Name, time.Since(start)) }()

	answered := func(l *leg) (*channels.Target, error) {
		close(f.decided)
		c.mu.Lock()
		c.agent = l.side
		c.mu.Unlock()
		t := l.target
		return &t, nil
	}
	live := len(legs)
	var last error
	for live > 0 {
		select {
		case ev := <-f.events:
			switch {
			case ev.answered:
				return answered(ev.leg)
			case ev.final:
				live--
				last = ev.err
			default:
				c.provisional(ev.res.StatusCode, ev.res.Reason, ev.res)
			}
		case <-ctx.Done():
			if f.winner.CompareAndSwap(nil, noWinner) {
				close(f.decided)
				return nil, ctx.Err()
			}
			// A leg answered at this very moment: the call is its.
			for ev := range f.events {
				if ev.answered {
					return answered(ev.leg)
				}
			}
		}
	}
	f.winner.CompareAndSwap(nil, noWinner)
	close(f.decided)
	return nil, last
}

// reach is one leg a step will ring: a target and where it is reached.
type reach struct {
	target    channels.Target
	ruri, to  sip.Uri
	dest      string
	transport string
}

// reachable lists the legs of a step: one per registered contact of each
// softphone, one per mobile the roster allows dialling.
func (c *call) reachable(st channels.Step) []reach {
	s := c.s
	var out []reach
	for _, t := range st.Targets {
		switch t.Kind {
		case channels.TargetSoftphone:
			if t.SIPUser == c.fromAgent {
				continue // an agent calling the desk does not ring themselves
			}
			for _, b := range s.reg.Contacts(t.SIPUser) {
				var u sip.Uri
				if err := sip.ParseUri(b.Contact, &u); err != nil {
					s.log.Warn("sip: a binding's contact does not parse", "user", t.SIPUser, "contact", b.Contact, "err", err)
					continue
				}
				transport := b.Transport
				if transport == "" {
					transport = "UDP"
				}
				// Over UDP the phone is reached where its REGISTER came
				// from, which is right behind NAT too; over TCP on the
				// connection it keeps open.
				dest := b.Source
				if dest == "" {
					dest = destOf(u, transport)
				}
				out = append(out, reach{target: t, ruri: u, to: sip.Uri{Scheme: "sip", User: t.SIPUser, Host: s.host},
					dest: dest, transport: transport})
			}
		case channels.TargetMobile:
			// The toll-fraud guard: only the roster's own numbers are ever
			// dialled out, whatever asked for it.
			if !c.roster.Dialable(t.Number) {
				s.log.Error("sip: refusing to dial a number not on the roster", "number", t.Number, "call_id", c.id)
				continue
			}
			tr := c.outboundTrunk()
			if tr == nil {
				s.log.Error("sip: no trunk address to forward calls to mobiles", "call_id", c.id)
				continue
			}
			host, port := splitHostPort(tr.Address)
			u := sip.Uri{Scheme: "sip", User: e164Number(t.Number).National(), Host: host, Port: port}
			out = append(out, reach{target: t, ruri: u, to: u, dest: tr.Address, transport: "UDP"})
		}
	}
	return out
}

// outboundTrunk is where mobile forwards go: the trunk the call came in
// on, if it has an address, else the first trunk that has one.
func (c *call) outboundTrunk() *Trunk {
	if c.trunk != nil && c.trunk.Address != "" {
		return c.trunk
	}
	for i := range c.s.cfg.Trunks {
		if c.s.cfg.Trunks[i].Address != "" {
			return &c.s.cfg.Trunks[i]
		}
	}
	return nil
}

// ringingEvents say who rings in a step: the softphones rung, or the
// mobile the call is forwarded to.
func ringingEvents(st channels.Step, reaches []reach) []ticketing.Event {
	var evs []ticketing.Event
	now := time.Now().UTC()
	seen := map[string]bool{}
	for _, r := range reaches {
		t := r.target
		if seen[t.Agent.ID+string(t.Kind)] {
			continue
		}
		seen[t.Agent.ID+string(t.Kind)] = true
		if t.Kind == channels.TargetMobile {
			evs = append(evs, ticketing.NewEvent(now, EventForwarded, "channel:phone", map[string]any{
				"step": st.Name, "agent": t.Agent.ID, "name": t.Agent.Name, "number": t.Number, "ring_seconds": st.Ring.Seconds()}))
			continue
		}
		n := 0
		for _, o := range reaches {
			if o.target.Agent.ID == t.Agent.ID && o.target.Kind == t.Kind {
				n++
			}
		}
		evs = append(evs, ticketing.NewEvent(now, EventRinging, "channel:phone", map[string]any{
			"step": st.Name, "agent": t.Agent.ID, "name": t.Agent.Name, "target": string(t.Kind), "contacts": n,
			"ring_seconds": st.Ring.Seconds()}))
	}
	return evs
}
