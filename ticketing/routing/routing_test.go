package routing

import (
	"context"
	"testing"
	"time"

	"github.com/hotline-desk/hotline/ticketing"
)

func TestRules(t *testing.T) {
	r := New(Config{
		Groups: []Group{{Name: "一线", Tier: 1, Agents: []string{"zhang", "li"}}, {Name: "二线", Tier: 2, Agents: []string{"wang"}}},
		Rules: []Rule{
			{Channels: []ticketing.Channel{ticketing.ChannelPhone}, Keywords: []string{"服务器", "宕机"}, Group: "二线", Impact: "high", Urgency: "high"},
			{Organizations: []string{"青岛港"}, Group: "一线", Assignee: "li", Impact: "medium", Urgency: "high"},
			{Keywords: []string{"投诉"}, Kind: ticketing.KindComplaint, Group: "一线"},
		},
		Matrix: Matrix{Default: ticketing.P3, Table: map[string]map[string]ticketing.Priority{
			"high": {"high": ticketing.P1}, "medium": {"high": ticketing.P2}}},
		OnDuty: func(time.Time) []string { return []string{"li", "wang"} },
	})
	cases := []struct {
		name            string
		t               ticketing.Ticket
		group, assignee string
		priority        ticketing.Priority
		kind            ticketing.Kind
		tier            int
	}{
		{"keyword on the phone goes to tier 2 as P1", ticketing.Ticket{Channel: ticketing.ChannelPhone, Subject: "服务器宕机", Kind: ticketing.KindIncident},
			"二线", "wang", ticketing.P1, ticketing.KindIncident, 2},
		{"the same by mail does not match the phone rule", ticketing.Ticket{Channel: ticketing.ChannelEmail, Subject: "服务器宕机", Kind: ticketing.KindIncident},
			"", "", ticketing.P3, ticketing.KindIncident, 1},
		{"organization with a named assignee", ticketing.Ticket{Channel: ticketing.ChannelEmail, Subject: "VPN", Caller: ticketing.Party{Organization: "青岛港"}, Kind: ticketing.KindInquiry},
			"一线", "li", ticketing.P2, ticketing.KindInquiry, 1},
		{"keyword sets the kind; the first agent on duty takes it", ticketing.Ticket{Channel: ticketing.ChannelWeb, Description: "我要投诉", Kind: ticketing.KindInquiry},
			"一线", "li", ticketing.P3, ticketing.KindComplaint, 1},
		{"a priority given by the contact stays", ticketing.Ticket{Channel: ticketing.ChannelPhone, Subject: "宕机", Priority: ticketing.P4, Kind: ticketing.KindIncident},
			"二线", "wang", ticketing.P4, ticketing.KindIncident, 2},
	}
	for _, tc := range cases {
		tk := tc.t
		tk.Status, tk.Tier = ticketing.StatusNew, 1
		c := &ticketing.Change{After: &tk, Now: time.Now()}
		if err := r.Change(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		if tk.Group != tc.group || tk.Assignee != tc.assignee || tk.Priority != tc.priority || tk.Kind != tc.kind || tk.Tier != tc.tier {
			t.Errorf("%s: group %q assignee %q priority %s kind %s tier %d; want %q %q %s %s %d", tc.name,
				tk.Group, tk.Assignee, tk.Priority, tk.Kind, tk.Tier, tc.group, tc.assignee, tc.priority, tc.kind, tc.tier)
		}
		if (tc.assignee != "") != (tk.Status == ticketing.StatusAssigned) || (tc.assignee != "") != c.Has(ticketing.EventAssigned) {
			t.Errorf("%s: status %s, assigned event %v", tc.name, tk.Status, c.Has(ticketing.EventAssigned))
		}
	}
	if g, a, ok := r.Escalate(2, time.Now()); !ok || g != "二线" || a != "wang" {
		t.Errorf("escalate to tier 2: %s %s %v", g, a, ok)
	}
	if _, _, ok := r.Escalate(3, time.Now()); ok {
		t.Error("no group serves tier 3")
	}
	if _, err := r.cfg.Matrix.Priority("low", "low"); err == nil {
		t.Error("a level missing from the matrix gave a priority")
	}
}
