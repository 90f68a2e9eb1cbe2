package sla_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hotline-desk/hotline/jobs"
	"github.com/hotline-desk/hotline/ticketing"
	"github.com/hotline-desk/hotline/ticketing/sla"
)

// resolved opens a ticket and takes it to resolved, with the auto-closer
// on the desk.
func resolved(t *testing.T) (*fixture, *sla.AutoCloser, *ticketing.Ticket) {
	f := newFixture(t)
	ac := &sla.AutoCloser{After: 7 * 24 * time.Hour}
	f.desk.Use(ac)
	ac.Attach(f.desk, "test-worker")
	tk := f.open(t, ticketing.P2, "2026-09-28 09:00")
	f.update(t, "2026-09-28 09:05", tk.Number, ticketing.Update{Assignee: ptr("zhang")})
	f.update(t, "2026-09-28 09:10", tk.Number, ticketing.Update{Status: ptr(ticketing.StatusInProgress)})
	tk = f.update(t, "2026-09-28 10:00", tk.Number, ticketing.Update{Status: ptr(ticketing.StatusResolved), Resolution: ptr("更换硒鼓")})
	return f, ac, tk
}

func (f *fixture) reply(t *testing.T, when string, tk *ticketing.Ticket, text string) *ticketing.Ticket {
	t.Helper()
	f.clock.Set(at(when))
	ev := ticketing.NewEvent(at(when), ticketing.EventContact, "channel:email", map[string]string{"body": text})
	if _, err := f.desk.Append(context.Background(), ticketing.AppendParams{TicketID: tk.ID, FromCustomer: true,
		Events: []ticketing.Event{ev}}); err != nil {
		t.Fatal(err)
	}
	got, err := f.desk.Get(context.Background(), tk.Number)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestConfirmByReply(t *testing.T) {
	quoted := "确认，谢谢！\n\n-----原始邮件-----\n发件人: 服务台\n如问题仍存在，请回复“未解决”"
	f, _, tk := resolved(t)
	tk = f.reply(t, "2026-09-28 11:00", tk, quoted)
	if tk.Status != ticketing.StatusClosed || tk.ConfirmedAt == nil || !tk.ConfirmedAt.Equal(at("2026-09-28 11:00")) {
		t.Fatalf("after 确认: status %s, confirmed %v", tk.Status, tk.ConfirmedAt)
	}
	if count(tk, ticketing.EventConfirmed) != 1 {
		t.Errorf("%d confirmed events", count(tk, ticketing.EventConfirmed))
	}
}

func TestNotSolvedGoesBackToWork(t *testing.T) {
	for _, text := range []string{"还是未解决，打印机依旧卡纸", "打印出来有条纹"} {
		f, _, tk := resolved(t)
		tk = f.reply(t, "2026-09-28 11:00", tk, text)
		if tk.Status != ticketing.StatusInProgress || tk.ResolvedAt != nil || tk.ConfirmedAt != nil || tk.Reopens != 1 {
			t.Fatalf("%q: status %s resolved %v reopens %d", text, tk.Status, tk.ResolvedAt, tk.Reopens)
		}
		// The resolve clock runs again: Mon 09:00 + 24 business hours.
		if local(tk.ResolveDue) != "2026-09-30 17:00" {
			t.Errorf("%q: resolve due %s", text, local(tk.ResolveDue))
		}
		// The auto-close of the old resolution does nothing now.
		f.clock.Set(at("2026-10-06 10:00"))
		if n := f.fireAutoClose(t); n != 1 {
			t.Fatalf("%d auto-close jobs", n)
		}
		if tk, _ = f.desk.Get(context.Background(), tk.Number); tk.Status != ticketing.StatusInProgress {
			t.Fatalf("%q: auto-closed after the customer said no: %s", text, tk.Status)
		}
	}
}

func (f *fixture) fireAutoClose(t *testing.T) int {
	t.Helper()
	js, err := f.store.JobClaim(context.Background(), ticketing.JobClaimParams{Worker: "test-worker", Kinds: []string{sla.JobAutoClose},
		Now: f.clock.Now(), Lease: time.Minute, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	ac := &sla.AutoCloser{After: 7 * 24 * time.Hour}
	ac.Attach(f.desk, "test-worker")
	for _, j := range js {
		err := ac.Work(context.Background(), j)
		if err != nil && !errors.Is(err, jobs.ErrFinished) {
			t.Fatal(err)
		}
		if err == nil {
			f.store.JobFinish(context.Background(), ticketing.JobFinishParams{ID: j.ID, Worker: "test-worker", At: f.clock.Now()})
		}
	}
	return len(js)
}

func TestAutoCloseAfterSilence(t *testing.T) {
	f, _, tk := resolved(t)
	f.clock.Set(at("2026-10-05 09:59"))
	if n := f.fireAutoClose(t); n != 0 {
		t.Fatalf("auto-close ran early: %d", n)
	}
	f.clock.Set(at("2026-10-05 10:00"))
	if n := f.fireAutoClose(t); n != 1 {
		t.Fatalf("%d auto-close jobs at 7 days", n)
	}
	tk, _ = f.desk.Get(context.Background(), tk.Number)
	if tk.Status != ticketing.StatusClosed || tk.ConfirmedAt != nil || count(tk, ticketing.EventComment) != 1 {
		t.Fatalf("after 7 silent days: status %s confirmed %v notes %d", tk.Status, tk.ConfirmedAt, count(tk, ticketing.EventComment))
	}
	// Exactly once.
	f.clock.Set(at("2026-10-12 10:00"))
	if n := f.fireAutoClose(t); n != 0 {
		t.Fatalf("auto-close ran again: %d", n)
	}
}

func TestConfirmByLinkIsSingleUse(t *testing.T) {
	f, _, tk := resolved(t)
	f.clock.Set(at("2026-09-28 12:00"))
	got, err := f.desk.Confirm(context.Background(), tk.ID, *tk.ResolvedAt)
	if err != nil || got.Status != ticketing.StatusClosed || got.ConfirmedAt == nil {
		t.Fatalf("confirm: %v %+v", err, got)
	}
	if _, err := f.desk.Confirm(context.Background(), tk.ID, *tk.ResolvedAt); !errors.Is(err, ticketing.ErrLinkUsed) {
		t.Fatalf("second use: %v", err)
	}
}

func TestReadConfirmation(t *testing.T) {
	cases := map[string]ticketing.Confirmation{
		"确认":                          ticketing.Confirmed,
		"已解决，谢谢":                      ticketing.Confirmed,
		"问题未解决":                       ticketing.NotSolved,
		"没有解决，还是不行":                   ticketing.NotSolved,
		"请问什么时候上门？":                   ticketing.Other,
		"> 请回复确认\n还是不行":               ticketing.Other,
		"好的\nOn Mon, desk wrote:\n确认": ticketing.Other,
		"Confirmed, thanks":           ticketing.Confirmed,
	}
	for text, want := range cases {
		if got := ticketing.ReadConfirmation(text); got != want {
			t.Errorf("%q: %v, want %v", text, got, want)
		}
	}
}
