// Package routing classifies and dispatches new tickets (判断并分派): rules
// by channel, kind, keywords and the customer's organization pick the kind,
// the group (tier 1, 2 or 3) and the assignee; the ITIL impact × urgency
// matrix gives the priority. It also tells the SLA clocks who takes a
// ticket escalated to a tier.
package routing

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hotline-desk/hotline/ticketing"
)

// Group is a support group of one tier.
type Group struct {
	Name   string
	Tier   int
	Agents []string // in the order tickets go to them
}

// Rule matches a new ticket when every condition given holds.
type Rule struct {
	Channels      []ticketing.Channel
	Kinds         []ticketing.Kind
	Keywords      []string
	Organizations []string
	// What the rule decides; empty fields decide nothing.
	Group    string
	Assignee string
	Kind     ticketing.Kind
	Impact   string
	Urgency  string
}

// Matrix is the impact × urgency → priority table.
type Matrix struct {
	Default ticketing.Priority
	Table   map[string]map[string]ticketing.Priority
}

// Priority looks up an impact and urgency.
func (m Matrix) Priority(impact, urgency string) (ticketing.Priority, error) {
	p, ok := m.Table[strings.ToLower(impact)][strings.ToLower(urgency)]
	if !ok {
		return "", fmt.Errorf("no priority for impact %q and urgency %q (levels: high, medium, low)", impact, urgency)
	}
	return p, nil
}

// OnDuty returns the agents on duty at t (the roster).
type OnDuty func(t time.Time) []string

type Config struct {
	Groups []Group
	Rules  []Rule
	Matrix Matrix
	// OnDuty, when set, prefers agents on duty; without it (or when none
	// of a group is on duty) the group's first agent is taken.
	OnDuty OnDuty
}

// Router is the routing hook on the desk.
type Router struct{ cfg Config }

func New(cfg Config) *Router { return &Router{cfg: cfg} }

// EventRouted records which rule dispatched a new ticket.
const EventRouted = "routed"

// Change routes a ticket being opened; later changes are the agents'.
func (r *Router) Change(ctx context.Context, c *ticketing.Change) error {
	if !c.Opened() {
		return nil
	}
	t := c.After
	i, rule, ok := r.match(t)
	if !ok {
		if t.Priority == "" {
			t.Priority = r.cfg.Matrix.Default
		}
		return nil
	}
	data := map[string]any{"rule": i}
	if rule.Kind != "" && rule.Kind != t.Kind {
		data["kind"] = rule.Kind
		t.Kind = rule.Kind
	}
	if t.Priority == "" && rule.Impact != "" {
		if p, err := r.cfg.Matrix.Priority(rule.Impact, rule.Urgency); err == nil {
			t.Priority = p
			data["impact"], data["urgency"], data["priority"] = rule.Impact, rule.Urgency, p
		}
	}
	if t.Priority == "" {
		t.Priority = r.cfg.Matrix.Default
	}
	assignee := rule.Assignee
	if rule.Group != "" {
		g, _ := r.group(rule.Group)
		t.Group = g.Name
		t.Tier = max(t.Tier, g.Tier)
		data["group"] = g.Name
		if assignee == "" {
			assignee = r.pick(g, c.Now)
		}
	}
	c.Events = append(c.Events, ticketing.NewEvent(c.Now, EventRouted, "system:routing", data))
	if assignee != "" {
		t.Assignee = assignee
		t.Status = ticketing.StatusAssigned
		c.Events = append(c.Events,
			ticketing.NewEvent(c.Now, ticketing.EventAssigned, "system:routing", map[string]string{"from": "", "to": assignee}),
			ticketing.NewEvent(c.Now, ticketing.EventStatusChanged, "system:routing", map[string]string{"from": string(ticketing.StatusNew), "to": string(ticketing.StatusAssigned)}))
	}
	return nil
}

func (r *Router) match(t *ticketing.Ticket) (int, Rule, bool) {
	// The folded text is made only for the first rule with keywords: a
	// mail's description runs to kilobytes, and most rules have none.
	var text string
	folded := false
	for i, rule := range r.cfg.Rules {
		if len(rule.Channels) > 0 && !slices.Contains(rule.Channels, t.Channel) {
			continue
		}
		if len(rule.Kinds) > 0 && !slices.Contains(rule.Kinds, t.Kind) {
			continue
		}
		if len(rule.Organizations) > 0 && !slices.Contains(rule.Organizations, t.Caller.Organization) {
			continue
		}
		if len(rule.Keywords) > 0 && !folded {
			text, folded = strings.ToLower(t.Subject+"\n"+t.Description), true
		}
		if len(rule.Keywords) > 0 && !slices.ContainsFunc(rule.Keywords, func(k string) bool {
			return strings.Contains(text, strings.ToLower(k))
		}) {
			continue
		}
		return i, rule, true
	}
	return 0, Rule{}, false
}

func (r *Router) group(name string) (Group, bool) {
	for _, g := range r.cfg.Groups {
		if g.Name == name {
			return g, true
		}
	}
	return Group{Name: name, Tier: 1}, false
}

// pick is the group's first agent on duty, else its first agent.
func (r *Router) pick(g Group, now time.Time) string {
	if r.cfg.OnDuty != nil {
		duty := r.cfg.OnDuty(now)
		for _, a := range g.Agents {
			if slices.Contains(duty, a) {
				return a
			}
		}
	}
	if len(g.Agents) > 0 {
		return g.Agents[0]
	}
	return ""
}

// Escalate is the group of the tier and its agent on duty (sla.Escalator).
func (r *Router) Escalate(tier int, now time.Time) (string, string, bool) {
	for _, g := range r.cfg.Groups {
		if g.Tier == tier {
			return g.Name, r.pick(g, now), true
		}
	}
	return "", "", false
}
