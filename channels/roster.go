package channels

import (
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/hotline-desk/hotline/config"
)

// Agent is a person who takes calls: on a softphone registered as SIPUser,
// or on the mobile (E.164) the trunk forwards calls to.
type Agent struct {
	ID      string
	Name    string
	SIPUser string
	Mobile  string
	Email   string
	Tier    int
}

// Roster says who is on duty when, and who is up the escalation list. It is
// immutable once built: a SIGHUP builds a new one and swaps it into a
// RosterHolder, while calls in progress keep the Roster they started with.
type Roster struct {
	loc        *time.Location
	agents     []Agent // config order
	byID       map[string]int
	bySIPUser  map[string]int
	shifts     []shift
	escalation []int // indexes into agents
	dialable   map[string]bool
}

// shift is one config.Shift, parsed. A shift whose end is before its start
// crosses midnight: the part after midnight belongs to the day it started
// on. To may be 24:00, the end of the day.
type shift struct {
	name   string
	days   [7]bool // by time.Weekday
	from   int     // seconds since local midnight
	to     int
	agents []int // indexes into Roster.agents, in the shift's order
}

// NewRoster builds the roster from the configured agents, shifts and
// escalation list. Shift clocks are wall-clock times in loc (nil: UTC).
// Without shifts every agent is on duty 7×24. Mobiles must already be in
// E.164 form, as config.Validate leaves them.
func NewRoster(agents []config.Agent, shifts []config.Shift, escalation []string, loc *time.Location) (*Roster, error) {
	if loc == nil {
		loc = time.UTC
	}
	r := &Roster{
		loc:       loc,
		byID:      make(map[string]int, len(agents)),
		bySIPUser: make(map[string]int, len(agents)),
		dialable:  make(map[string]bool, len(agents)),
	}
	for _, a := range agents {
		if a.ID == "" {
			return nil, fmt.Errorf("roster: an agent has no id")
		}
		if _, dup := r.byID[a.ID]; dup {
			return nil, fmt.Errorf("roster: agent %q is listed twice", a.ID)
		}
		if a.Mobile != "" && !isE164(a.Mobile) {
			return nil, fmt.Errorf("roster: agent %q: mobile %q is not in E.164 form", a.ID, a.Mobile)
		}
		i := len(r.agents)
		r.byID[a.ID] = i
		if a.SIPUser != "" {
			if other, dup := r.bySIPUser[a.SIPUser]; dup {
				return nil, fmt.Errorf("roster: agents %q and %q share sip_user %q", r.agents[other].ID, a.ID, a.SIPUser)
			}
			r.bySIPUser[a.SIPUser] = i
		}
		if a.Mobile != "" {
			r.dialable[a.Mobile] = true
		}
		r.agents = append(r.agents, Agent{
			ID:      a.ID,
			Name:    a.Name,
			SIPUser: a.SIPUser,
			Mobile:  a.Mobile,
			Email:   a.Email,
			Tier:    a.Tier,
		})
	}

	for n, cs := range shifts {
		name := cs.Name
		if name == "" {
			name = fmt.Sprintf("#%d", n+1)
		}
		s := shift{name: name}
		var err error
		if s.days, err = config.ParseDays(cs.Days); err != nil {
			return nil, fmt.Errorf("roster: shift %s: days: %w", name, err)
		}
		if s.from, err = clockSeconds(cs.From); err != nil {
			return nil, fmt.Errorf("roster: shift %s: from: %w", name, err)
		}
		if s.to, err = clockSeconds(cs.To); err != nil {
			return nil, fmt.Errorf("roster: shift %s: to: %w", name, err)
		}
		switch {
		case s.from >= 24*3600:
			return nil, fmt.Errorf("roster: shift %s: from: a shift cannot start at 24:00 (use 00:00)", name)
		case s.from == s.to:
			return nil, fmt.Errorf("roster: shift %s: to: same as from; for a whole day use from 00:00 to 24:00", name)
		}
		for _, id := range cs.Agents {
			i, ok := r.byID[id]
			if !ok {
				return nil, fmt.Errorf("roster: shift %s: unknown agent %q", name, id)
			}
			if !slices.Contains(s.agents, i) {
				s.agents = append(s.agents, i)
			}
		}
		r.shifts = append(r.shifts, s)
	}

	for _, id := range escalation {
		i, ok := r.byID[id]
		if !ok {
			return nil, fmt.Errorf("roster: escalation: unknown agent %q", id)
		}
		if !slices.Contains(r.escalation, i) {
			r.escalation = append(r.escalation, i)
		}
	}
	return r, nil
}

func clockSeconds(s string) (int, error) {
	h, m, err := config.ParseClock(s)
	if err != nil {
		return 0, err
	}
	return h*3600 + m*60, nil
}

// isE164 reports whether s looks like an E.164 number: "+" and 1 to 15
// digits, the first not 0.
func isE164(s string) bool {
	if len(s) < 2 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for _, c := range s[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Location is the time zone the shifts are read in.
func (r *Roster) Location() *time.Location { return r.loc }

// Agents returns every agent, in config order.
func (r *Roster) Agents() []Agent { return slices.Clone(r.agents) }

// OnDuty returns the agents on duty at t: those of every shift covering t,
// in shift order and, within a shift, in the order the shift lists them,
// each once. Without shifts it is every agent, in config order.
//
// Shifts are matched on the wall clock in the roster's time zone, so that a
// shift from 08:30 starts at 08:30 local time on every day, DST or not. A
// shift that crosses midnight covers the early hours of the day after each
// of its days: a mon-fri shift from 17:30 to 08:30 covers Saturday 02:00.
func (r *Roster) OnDuty(t time.Time) []Agent {
	if len(r.shifts) == 0 {
		return slices.Clone(r.agents)
	}
	lt := t.In(r.loc)
	today := lt.Weekday()
	yesterday := (today + 6) % 7 // the calendar day before, whatever its length
	sec := lt.Hour()*3600 + lt.Minute()*60 + lt.Second()

	var out []Agent
	var seen []int
	for _, s := range r.shifts {
		if !s.covers(today, yesterday, sec) {
			continue
		}
		for _, i := range s.agents {
			if !slices.Contains(seen, i) {
				seen = append(seen, i)
				out = append(out, r.agents[i])
			}
		}
	}
	return out
}

func (s *shift) covers(today, yesterday time.Weekday, sec int) bool {
	if s.from < s.to { // within one day; to may be 24:00
		return s.days[today] && s.from <= sec && sec < s.to
	}
	// Crosses midnight.
	return (s.days[today] && sec >= s.from) || (s.days[yesterday] && sec < s.to)
}

// Agent returns the agent with this id.
func (r *Roster) Agent(id string) (Agent, bool) {
	i, ok := r.byID[id]
	if !ok {
		return Agent{}, false
	}
	return r.agents[i], true
}

// AgentBySIPUser returns the agent whose softphone registers as user.
func (r *Roster) AgentBySIPUser(user string) (Agent, bool) {
	i, ok := r.bySIPUser[user]
	if !ok {
		return Agent{}, false
	}
	return r.agents[i], true
}

// Escalation returns the escalation contacts, in the order they are rung.
func (r *Roster) Escalation() []Agent {
	out := make([]Agent, len(r.escalation))
	for n, i := range r.escalation {
		out[n] = r.agents[i]
	}
	return out
}

// Dialable reports whether forwarding may dial the E.164 number: only the
// mobiles of the roster's agents (escalation contacts are agents too) are.
// This is the toll-fraud guard: an outbound leg to anything else must be
// refused, whatever asked for it.
func (r *Roster) Dialable(e164 string) bool {
	return e164 != "" && r.dialable[e164]
}

// RosterHolder holds the current roster. Store swaps in a reloaded one
// (on SIGHUP) without disturbing calls in progress: they keep the *Roster
// they loaded when they started. The zero value is ready to use.
type RosterHolder struct {
	p atomic.Pointer[Roster]
}

// emptyRoster is what a holder gives before its first Store: nobody on
// duty, nothing dialable.
var emptyRoster = &Roster{loc: time.UTC}

// Load returns the current roster; before the first Store, an empty one.
func (h *RosterHolder) Load() *Roster {
	if r := h.p.Load(); r != nil {
		return r
	}
	return emptyRoster
}

// Store makes r the roster of calls that start from now on.
func (h *RosterHolder) Store(r *Roster) {
	h.p.Store(r)
}
