package ticketing_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline-desk/hotline/ticketing"
	"github.com/hotline-desk/hotline/ticketing/store/sqlite"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newDesk(t *testing.T, c *clock) *ticketing.Desk {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "h.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	loc, _ := time.LoadLocation("Asia/Shanghai")
	return ticketing.NewDesk(st, ticketing.DeskConfig{Prefix: "HL", Location: loc, ReopenWindow: 7 * 24 * time.Hour, Now: c.now})
}

func TestNumberingFollowsTheDesksDay(t *testing.T) {
	// 17:00 UTC on the 27th is 01:00 on the 28th in Shanghai.
	c := &clock{time.Date(2026, 11, 27, 15, 59, 0, 0, time.UTC)}
	d := newDesk(t, c)
	ctx := context.Background()
	r1, err := d.Open(ctx, ticketing.OpenParams{Channel: ticketing.ChannelWeb, Subject: "before midnight"})
	if err != nil {
		t.Fatal(err)
	}
	c.t = time.Date(2026, 11, 27, 16, 1, 0, 0, time.UTC)
	r2, _ := d.Open(ctx, ticketing.OpenParams{Channel: ticketing.ChannelWeb, Subject: "after midnight"})
	if r1.Number != "HL-20261127-0001" || r2.Number != "HL-20261128-0001" {
		t.Fatalf("numbers %s, %s", r1.Number, r2.Number)
	}
}

func TestOpenMatchesTheCaller(t *testing.T) {
	c := &clock{time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)}
	d := newDesk(t, c)
	ctx := context.Background()
	cust := &ticketing.Customer{Name: "赵六", Organization: "慧海联创", Phones: []string{"138 0013 8000"}, Emails: []string{"Zhao@Example.com"}}
	if err := d.CustomerCreate(ctx, cust); err != nil {
		t.Fatal(err)
	}
	if cust.Phones[0] != "+8613800138000" || cust.Emails[0] != "zhao@example.com" {
		t.Fatalf("stored forms %v %v", cust.Phones, cust.Emails)
	}
	cases := []struct {
		name             string
		caller           ticketing.Party
		wantName, wantOr string
		wantPhone        string
		wantDetail       map[string]string
	}{
		{"by phone, any form", ticketing.Party{Name: "sipp", Phone: "0086-138-0013-8000"}, "赵六", "慧海联创", "+8613800138000",
			map[string]string{"caller_name": "sipp"}},
		{"by e-mail, case-insensitive", ticketing.Party{Email: "ZHAO@example.com"}, "赵六", "慧海联创", "", nil},
		{"a stranger keeps their name", ticketing.Party{Name: "张三", Phone: "13900139000"}, "张三", "", "+8613900139000", nil},
		{"a non-number is kept on the timeline", ticketing.Party{Name: "anonymous", Phone: "anonymous"}, "anonymous", "", "",
			map[string]string{"caller_number": "anonymous"}},
	}
	for _, tc := range cases {
		r, err := d.Open(ctx, ticketing.OpenParams{Channel: ticketing.ChannelPhone, Caller: tc.caller, Subject: tc.name})
		if err != nil {
			t.Fatal(err)
		}
		tk, _ := d.Get(ctx, r.Number)
		if tk.Caller.Name != tc.wantName || tk.Caller.Organization != tc.wantOr || tk.Caller.Phone != tc.wantPhone {
			t.Errorf("%s: caller %+v", tc.name, tk.Caller)
		}
		var detail map[string]string
		json.Unmarshal(tk.Events[0].Data, &detail)
		for k, v := range tc.wantDetail {
			if detail[k] != v {
				t.Errorf("%s: created event %s = %q, want %q", tc.name, k, detail[k], v)
			}
		}
	}
}

func TestUpdateLifecycle(t *testing.T) {
	c := &clock{time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)}
	d := newDesk(t, c)
	ctx := context.Background()
	r, _ := d.Open(ctx, ticketing.OpenParams{Channel: ticketing.ChannelWeb, Subject: "VPN"})
	ptr := func(s ticketing.Status) *ticketing.Status { return &s }
	str := func(s string) *string { return &s }
	_, err := d.Update(ctx, r.Number, ticketing.Update{Status: ptr(ticketing.StatusClosed)}, "admin")
	var te *ticketing.TransitionError
	if !errors.As(err, &te) {
		t.Fatalf("closing a new ticket: %v", err)
	}
	tk, err := d.Update(ctx, r.Number, ticketing.Update{Assignee: str("zhang")}, "lead")
	if err != nil || tk.Status != ticketing.StatusAssigned || tk.Assignee != "zhang" {
		t.Fatalf("assign: %+v %v", tk, err)
	}
	steps := []ticketing.Update{
		{Status: ptr(ticketing.StatusInProgress)},
		{Status: ptr(ticketing.StatusPending)},
	}
	for _, u := range steps {
		if _, err := d.Update(ctx, r.Number, u, "zhang"); err != nil {
			t.Fatal(err)
		}
	}
	// The customer writes back: a pending ticket goes back to work.
	if _, err := d.Append(ctx, ticketing.AppendParams{TicketID: r.TicketID, FromCustomer: true,
		Contact: &ticketing.ContactKey{Channel: ticketing.ChannelEmail, ExternalID: "<reply@x>"}}); err != nil {
		t.Fatal(err)
	}
	tk, _ = d.Get(ctx, r.Number)
	if tk.Status != ticketing.StatusInProgress {
		t.Fatalf("after the customer's reply: %s", tk.Status)
	}
	c.t = c.t.Add(time.Hour)
	tk, err = d.Update(ctx, r.Number, ticketing.Update{Status: ptr(ticketing.StatusResolved), Resolution: str("重置 VPN 证书")}, "zhang")
	if err != nil || tk.ResolvedAt == nil || !tk.ResolvedAt.Equal(c.t) || tk.Resolution != "重置 VPN 证书" {
		t.Fatalf("resolve: %+v %v", tk, err)
	}
	tk, _ = d.Update(ctx, r.Number, ticketing.Update{Status: ptr(ticketing.StatusClosed)}, "customer")
	if tk.Status != ticketing.StatusClosed || tk.ClosedAt == nil {
		t.Fatalf("close: %+v", tk)
	}
	// Reopen inside the window clears the resolution times.
	tk, err = d.Update(ctx, r.Number, ticketing.Update{Status: ptr(ticketing.StatusInProgress)}, "customer")
	if err != nil || tk.ClosedAt != nil || tk.ResolvedAt != nil {
		t.Fatalf("reopen: %+v %v", tk, err)
	}
	var types []string
	for _, e := range tk.Events {
		types = append(types, e.Type+"/"+e.Actor)
	}
	want := "created/channel:web assigned/lead status_changed/lead status_changed/zhang status_changed/zhang " +
		"status_changed/customer updated/zhang status_changed/zhang status_changed/customer status_changed/customer"
	if got := strings.Join(types, " "); got != want {
		t.Fatalf("timeline\n got %s\nwant %s", got, want)
	}
	if _, err := d.Update(ctx, "HL-19990101-0001", ticketing.Update{}, "x"); !errors.Is(err, ticketing.ErrNotFound) {
		t.Fatalf("unknown ticket: %v", err)
	}
	bad := ticketing.Kind("bogus")
	if _, err := d.Update(ctx, r.Number, ticketing.Update{Kind: &bad}, "x"); !errors.Is(err, ticketing.ErrInvalid) {
		t.Fatalf("bad kind: %v", err)
	}
}

func TestCustomerValidation(t *testing.T) {
	d := newDesk(t, &clock{time.Now()})
	ctx := context.Background()
	for _, c := range []*ticketing.Customer{
		{Name: ""},
		{Name: "x", Phones: []string{"sipp"}},
		{Name: "x", Emails: []string{"not an address"}},
	} {
		if err := d.CustomerCreate(ctx, c); !errors.Is(err, ticketing.ErrInvalid) {
			t.Errorf("CustomerCreate(%+v) = %v, want ErrInvalid", c, err)
		}
	}
	if _, err := d.CustomerFind(ctx, "", ""); !errors.Is(err, ticketing.ErrInvalid) {
		t.Errorf("empty lookup: %v", err)
	}
}
