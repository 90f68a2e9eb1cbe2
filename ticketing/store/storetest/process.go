package storetest

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hotline-desk/hotline/ticketing"
)

func ptr[T any](v T) *T { return &v }

func testSLAStateRoundTrip(t *testing.T, s ticketing.Store) {
	r := create(t, s, &ticketing.TicketCreateParams{Ticket: newTicket("sla state")})
	tk := get(t, s, r.Number)
	if tk.RespondedAt != nil || tk.Flags != 0 || tk.Paused != 0 || tk.Escalations != 0 {
		t.Fatalf("a new ticket has SLA state: %+v", tk.SLAState)
	}
	at := t0.Add(time.Hour).Truncate(time.Microsecond)
	up := *tk
	up.UpdatedAt = at
	up.RespondedAt, up.ConfirmedAt, up.PausedSince = ptr(at), ptr(at.Add(time.Minute)), ptr(at.Add(2*time.Minute))
	up.Paused, up.Flags = 90*time.Minute+time.Microsecond, ticketing.ResponseWarned|ticketing.ResolveBreached
	up.Escalations, up.Reopens, up.Reassigns = 2, 1, 3
	up.ResponseDue, up.ResolveDue = ptr(at.Add(time.Hour)), ptr(at.Add(8*time.Hour))
	if err := s.TicketUpdate(ctx(t), &ticketing.TicketUpdateParams{Ticket: &up, Version: tk.Version}); err != nil {
		t.Fatal(err)
	}
	got := get(t, s, r.Number)
	if !got.RespondedAt.Equal(at) || !got.ConfirmedAt.Equal(at.Add(time.Minute)) || !got.PausedSince.Equal(at.Add(2*time.Minute)) ||
		got.Paused != up.Paused || got.Flags != up.Flags || got.Escalations != 2 || got.Reopens != 1 || got.Reassigns != 3 ||
		!got.ResponseDue.Equal(at.Add(time.Hour)) || !got.ResolveDue.Equal(at.Add(8*time.Hour)) {
		t.Fatalf("SLA state did not round-trip:\n got %+v\nwant %+v", got.SLAState, up.SLAState)
	}
	if !got.Flags.Has(ticketing.ResolveBreached) || got.Flags.Has(ticketing.ResponseBreached) {
		t.Errorf("flags %b", got.Flags)
	}
}

// A timer whose effect schedules the same timer again (the next SLA step)
// must end up waiting at the new time, not lost to its own unique key.
func testTimerRescheduledByItsOwnEffect(t *testing.T, s ticketing.Store) {
	r := create(t, s, &ticketing.TicketCreateParams{Ticket: newTicket("timer chain")})
	key := "sla:test"
	if err := s.JobInsert(ctx(t), []ticketing.JobSpec{{Kind: "sla.timer", TicketID: r.TicketID, RunAt: t0, UniqueKey: key, Reschedule: true}}); err != nil {
		t.Fatal(err)
	}
	jobs := claim(t, s, "w1", t0, "sla.timer")
	if len(jobs) != 1 {
		t.Fatalf("claim: %+v", jobs)
	}
	tk := get(t, s, r.Number)
	next := t0.Add(time.Hour)
	up := *tk
	up.UpdatedAt = t0.Add(time.Second).Truncate(time.Microsecond)
	up.Flags = ticketing.ResponseWarned
	err := s.TicketUpdate(ctx(t), &ticketing.TicketUpdateParams{Ticket: &up, Version: tk.Version,
		Jobs:      []ticketing.JobSpec{{Kind: "sla.timer", RunAt: next, UniqueKey: key, Reschedule: true}},
		FinishJob: &ticketing.JobFinishParams{ID: jobs[0].ID, Worker: "w1", At: up.UpdatedAt}})
	if err != nil {
		t.Fatal(err)
	}
	if early := claim(t, s, "w2", next.Add(-time.Second), "sla.timer"); len(early) != 0 {
		t.Fatalf("the next step fired early: %+v", early)
	}
	again := claim(t, s, "w2", next, "sla.timer")
	if len(again) != 1 || again[0].ID == jobs[0].ID || again[0].TicketID != r.TicketID {
		t.Fatalf("the next step is not waiting at its time: %+v", again)
	}
}

func testKnowledgeBase(t *testing.T, s ticketing.Store) {
	r := create(t, s, &ticketing.TicketCreateParams{Ticket: newTicket("打印机卡纸")})
	at := t0.Truncate(time.Microsecond)
	a := &ticketing.KBArticle{Title: "打印机卡纸", Problem: "打印机卡纸，无法打印", Cause: "进纸辊老化", Resolution: "更换进纸辊",
		Category: "incident", SourceTicketID: r.TicketID, CreatedAt: at}
	if err := s.KBCreate(ctx(t), a); err != nil {
		t.Fatal(err)
	}
	if a.ID == 0 || a.Version != 1 || a.SourceTicket != r.Number || !a.CreatedAt.Equal(at) {
		t.Fatalf("created %+v", a)
	}
	// A second article from the same ticket keeps the first.
	dup := &ticketing.KBArticle{Title: "另一个", SourceTicketID: r.TicketID, CreatedAt: at}
	if err := s.KBCreate(ctx(t), dup); err != nil {
		t.Fatal(err)
	}
	if dup.ID != a.ID || dup.Title != "打印机卡纸" {
		t.Fatalf("second article from one ticket: %+v", dup)
	}
	edit := *a
	edit.Cause, edit.UpdatedAt = "进纸辊磨损", at.Add(time.Hour)
	if err := s.KBUpdate(ctx(t), &edit, a.Version); err != nil {
		t.Fatal(err)
	}
	if err := s.KBUpdate(ctx(t), &edit, a.Version); !errors.Is(err, ticketing.ErrConflict) {
		t.Fatalf("stale update: %v", err)
	}
	if err := s.KBUpdate(ctx(t), &ticketing.KBArticle{ID: 99999}, 1); !errors.Is(err, ticketing.ErrNotFound) {
		t.Fatalf("update of a missing article: %v", err)
	}
	got, err := s.KBGet(ctx(t), a.ID)
	if err != nil || got.Cause != "进纸辊磨损" || got.Version != 2 || !got.UpdatedAt.Equal(at.Add(time.Hour)) {
		t.Fatalf("after edit: %+v %v", got, err)
	}
	if _, err := s.KBGet(ctx(t), 99999); !errors.Is(err, ticketing.ErrNotFound) {
		t.Fatalf("missing article: %v", err)
	}
	free := &ticketing.KBArticle{Title: "VPN 连接断开", Problem: "VPN drops", CreatedAt: at}
	if err := s.KBCreate(ctx(t), free); err != nil {
		t.Fatal(err)
	}
	list, err := s.KBList(ctx(t), ticketing.KBListParams{Limit: 1})
	if err != nil || len(list) != 1 || list[0].ID != free.ID {
		t.Fatalf("list: %+v %v", list, err)
	}
	list, err = s.KBList(ctx(t), ticketing.KBListParams{Limit: 10, After: free.ID})
	if err != nil || len(list) != 1 || list[0].ID != a.ID {
		t.Fatalf("list after cursor: %+v %v", list, err)
	}
}

func testKBChineseSearch(t *testing.T, s ticketing.Store) {
	at := t0.Truncate(time.Microsecond)
	arts := []*ticketing.KBArticle{
		{Title: "打印机卡纸", Problem: "三楼打印机卡纸，无法打印", Resolution: "清理进纸通道"},
		{Title: "邮箱登录失败", Problem: "Outlook 提示密码错误", Resolution: "重置域账号密码"},
		{Title: "VPN 无法连接", Problem: "出差时 VPN 连接超时", Resolution: "更新客户端证书"},
	}
	for _, a := range arts {
		a.CreatedAt = at
		if err := s.KBCreate(ctx(t), a); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		terms []string
		want  []int64
	}{
		{[]string{"打印机"}, []int64{arts[0].ID}}, // a trigram
		{[]string{"打印"}, []int64{arts[0].ID}},  // two characters: scanned
		{[]string{"密码错误", "连接"}, []int64{arts[2].ID, arts[1].ID}},
		{[]string{"outlook"}, []int64{arts[1].ID}}, // case-insensitive
		{[]string{"vpn"}, []int64{arts[2].ID}},
		{[]string{"传真机"}, nil},
	}
	for _, tc := range cases {
		got, err := s.KBSearch(ctx(t), ticketing.KBSearchParams{Terms: tc.terms, Limit: 10})
		if err != nil {
			t.Fatalf("search %v: %v", tc.terms, err)
		}
		var ids []int64
		for _, a := range got {
			ids = append(ids, a.ID)
		}
		slices.Sort(ids)
		want := slices.Clone(tc.want)
		slices.Sort(want)
		if !slices.Equal(ids, want) {
			t.Errorf("search %v: got %v, want %v", tc.terms, ids, want)
		}
	}
}

func testReportTickets(t *testing.T, s ticketing.Store) {
	in := newTicket("in the period")
	in.ReceivedAt = t0.Add(time.Hour).Truncate(time.Microsecond)
	r1 := create(t, s, &ticketing.TicketCreateParams{Ticket: in, Events: []ticketing.Event{
		ticketing.NewEvent(t0, ticketing.EventCallAnswered, "channel:phone", map[string]any{"wait_seconds": 12.5}),
		ticketing.NewEvent(t0, "call_ringing", "channel:phone", nil)}})
	ab := newTicket("abandoned")
	ab.ReceivedAt = t0.Add(2 * time.Hour).Truncate(time.Microsecond)
	ab.Description = ""
	create(t, s, &ticketing.TicketCreateParams{Ticket: ab, Events: []ticketing.Event{
		ticketing.NewEvent(t0, ticketing.EventCallAbandoned, "channel:phone", nil)}})
	out := newTicket("before")
	out.ReceivedAt = t0.Add(-time.Hour).Truncate(time.Microsecond)
	create(t, s, &ticketing.TicketCreateParams{Ticket: out})
	rows, err := s.ReportTickets(ctx(t), ticketing.ReportParams{From: t0, To: t0.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("%d rows, want the 2 received in the period", len(rows))
	}
	// In no particular order.
	a, b := rows[0], rows[1]
	if a.ID != r1.TicketID {
		a, b = b, a
	}
	if a.ID != r1.TicketID || a.Number != r1.Number || !a.CallAnswered || a.CallWait != 12500*time.Millisecond ||
		a.CallAbandoned || !a.HasDesc || a.CallerPhone != "+8613800138000" || a.Subject != "in the period" {
		t.Errorf("answered call row: %+v", a)
	}
	if !b.CallAbandoned || b.CallAnswered || b.HasDesc || !b.ReceivedAt.Equal(ab.ReceivedAt) {
		t.Errorf("abandoned call row: %+v", b)
	}
	// Contacts count by the time of the contact, whatever the ticket.
	if _, err := s.TicketAppend(ctx(t), &ticketing.TicketAppendParams{TicketID: r1.TicketID, At: t0.Add(3 * time.Hour),
		Events: []ticketing.Event{
			ticketing.NewEvent(t0.Add(-2*time.Hour), ticketing.EventCreated, "x", map[string]string{"channel": "fax"}),
			ticketing.NewEvent(t0.Add(3*time.Hour), ticketing.EventContact, "x", map[string]string{"channel": "email"}),
			ticketing.NewEvent(t0.Add(4*time.Hour), ticketing.EventContact, "x", map[string]string{"channel": "email"}),
			ticketing.NewEvent(t0.Add(4*time.Hour), ticketing.EventComment, "x", map[string]string{"channel": "web"}),
		}}); err != nil {
		t.Fatal(err)
	}
	contacts, err := s.ReportContacts(ctx(t), ticketing.ReportParams{From: t0, To: t0.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(contacts) != 1 || contacts[ticketing.ChannelEmail] != 2 {
		t.Errorf("contacts %v, want email: 2", contacts)
	}
}

func testSecrets(t *testing.T, s ticketing.Store) {
	first, err := s.SecretGet(ctx(t), "confirm", []byte("one"))
	if err != nil || !bytes.Equal(first, []byte("one")) {
		t.Fatalf("first: %q %v", first, err)
	}
	again, err := s.SecretGet(ctx(t), "confirm", []byte("two"))
	if err != nil || !bytes.Equal(again, []byte("one")) {
		t.Fatalf("the stored secret must win: %q %v", again, err)
	}
}
