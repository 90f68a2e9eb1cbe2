package notify

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hotline-desk/hotline/channels"
	"github.com/hotline-desk/hotline/config"
	"github.com/hotline-desk/hotline/ticketing"
	"github.com/hotline-desk/hotline/ticketing/sla"
)

func newNotifier(t *testing.T) *Notifier {
	n, err := New(Config{DeskName: "慧海联创服务台", ConsoleURL: "http://desk.example.com/", Location: time.UTC,
		People: map[string]Person{
			"zhang": {ID: "zhang", Name: "张工", Email: "zhang@example.com"},
			"wang":  {ID: "wang", Name: "王经理", Email: "wang@example.com"},
			"li":    {ID: "li", Name: "李总", Email: "li@example.com"},
			"boss":  {ID: "boss", Name: "老板", Email: "boss@example.com"},
		},
		Escalation: []string{"wang", "li"}, Managers: []string{"boss"}, Templates: config.DefaultTemplates(),
		Robots: []string{WeCom, Feishu}, Links: NewLinks([]byte("k"), time.Hour), AutoCloseAfter: 7 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

type sent struct {
	to      []string
	subject string
	text    string
}

func mails(t *testing.T, c *ticketing.Change) (out []sent, robots int) {
	for _, j := range c.Jobs {
		switch j.Kind {
		case channels.JobMailSend:
			var m channels.OutboundMail
			if err := json.Unmarshal(j.Args, &m); err != nil {
				t.Fatal(err)
			}
			out = append(out, sent{m.To, m.Subject, m.Text})
		case JobRobot:
			robots++
		}
	}
	return out, robots
}

func ticket() *ticketing.Ticket {
	now := time.Date(2026, 9, 28, 2, 0, 0, 0, time.UTC)
	return &ticketing.Ticket{ID: 9, Number: "HL-20260928-0001", Subject: "打印机卡纸", Priority: "P2", Tier: 1, Status: ticketing.StatusAssigned,
		Caller: ticketing.Party{Name: "张三", Email: "zs@example.com"}, Assignee: "zhang", ResponseDue: &now, ResolveDue: &now}
}

func ev(typ string, data any) ticketing.Event { return ticketing.NewEvent(time.Now(), typ, "x", data) }

func TestNotifications(t *testing.T) {
	n := newNotifier(t)
	now := time.Date(2026, 9, 28, 3, 0, 0, 0, time.UTC)
	assigned := ev(ticketing.EventAssigned, map[string]string{"from": "", "to": "zhang"})

	// Assigned at creation (by routing): the agent hears, the customer
	// does not (the mail channel's acknowledgement is theirs).
	c := &ticketing.Change{After: ticket(), Now: now, Events: []ticketing.Event{assigned}}
	n.Change(context.Background(), c)
	got, robots := mails(t, c)
	if len(got) != 1 || !slices.Equal(got[0].to, []string{"zhang@example.com"}) || robots != 0 {
		t.Fatalf("assignment at creation: %+v, %d robots", got, robots)
	}

	// Assigned later: the agent and the customer.
	c = &ticketing.Change{Before: ticket(), After: ticket(), Now: now, Events: []ticketing.Event{assigned}}
	n.Change(context.Background(), c)
	got, _ = mails(t, c)
	if len(got) != 2 || !slices.Equal(got[1].to, []string{"zs@example.com"}) || !strings.Contains(got[1].text, "张工") {
		t.Fatalf("assignment: %+v", got)
	}

	// Resolved: "please confirm", with a link that checks.
	res := ticket()
	res.Status, res.ResolvedAt, res.Resolution = ticketing.StatusResolved, &now, "清理进纸通道"
	c = &ticketing.Change{Before: ticket(), After: res, Now: now, Events: []ticketing.Event{ev(ticketing.EventStatusChanged, map[string]string{"to": "resolved"})}}
	n.Change(context.Background(), c)
	got, _ = mails(t, c)
	if len(got) != 1 || !strings.Contains(got[0].subject, "请确认") || !strings.Contains(got[0].text, "清理进纸通道") {
		t.Fatalf("resolution: %+v", got)
	}
	link := got[0].text[strings.Index(got[0].text, "http://desk.example.com/confirm/"):]
	link = strings.Fields(link)[0]
	if id, at, err := n.cfg.Links.Check(strings.TrimPrefix(link, "http://desk.example.com/confirm/"), now); err != nil || id != 9 || !at.Equal(now) {
		t.Fatalf("confirmation link %q: %d %v %v", link, id, at, err)
	}

	// Closed without confirmation: the note says it closed by itself.
	closed := ticket()
	closed.Status = ticketing.StatusClosed
	c = &ticketing.Change{Before: res, After: closed, Now: now, Events: []ticketing.Event{ev(ticketing.EventStatusChanged, map[string]string{"to": "closed"})}}
	n.Change(context.Background(), c)
	got, _ = mails(t, c)
	if len(got) != 1 || !strings.Contains(got[0].text, "自动关闭") {
		t.Fatalf("auto-closed: %+v", got)
	}

	// A warning: the assignee and the robots.
	c = &ticketing.Change{Before: ticket(), After: ticket(), Now: now, Events: []ticketing.Event{
		ev(sla.EventWarning, map[string]any{"clock": "response", "due": now, "percent": 75})}}
	n.Change(context.Background(), c)
	got, robots = mails(t, c)
	if len(got) != 1 || !slices.Equal(got[0].to, []string{"zhang@example.com"}) || !strings.Contains(got[0].text, "75%") || robots != 2 {
		t.Fatalf("warning: %+v, %d robots", got, robots)
	}

	// 逐级向上: tier 2 tells the first of the list, tier 3 the first two;
	// the managers every time.
	for tier, want := range map[int][]string{2: {"wang@example.com", "boss@example.com"}, 3: {"wang@example.com", "li@example.com", "boss@example.com"}} {
		esc := ticket()
		esc.Tier = tier
		c = &ticketing.Change{Before: ticket(), After: esc, Now: now, Events: []ticketing.Event{
			ev(sla.EventBreached, map[string]any{"clock": "resolve", "due": now}),
			ev(sla.EventEscalated, map[string]any{"clock": "resolve", "from_tier": tier - 1, "to_tier": tier})}}
		n.Change(context.Background(), c)
		got, robots = mails(t, c)
		if len(got) != 1 || !slices.Equal(got[0].to, want) || !strings.Contains(got[0].subject, "升级") || robots != 2 {
			t.Errorf("escalation to tier %d: %+v, %d robots", tier, got, robots)
		}
	}

	// No customer address: no customer mail, the rest as usual.
	anon := ticket()
	anon.Caller.Email = ""
	c = &ticketing.Change{Before: anon, After: anon, Now: now, Events: []ticketing.Event{assigned}}
	n.Change(context.Background(), c)
	if got, _ = mails(t, c); len(got) != 1 {
		t.Errorf("no customer e-mail: %+v", got)
	}
}
