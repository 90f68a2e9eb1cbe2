// Package storetest is the conformance suite every ticketing.Store driver
// passes. Each driver's tests call Run with a function that opens a fresh,
// migrated, isolated store.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-desk/hotline/ticketing"
)

// Opener returns a fresh, migrated store that no other test uses. The
// store is closed by the suite.
type Opener func(t *testing.T) ticketing.Store

// Run runs the whole suite against the driver.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s ticketing.Store)
	}{
		{"MigrateTwice", testMigrateTwice},
		{"Numbering", testNumbering},
		{"NumberingConcurrent", testNumberingConcurrent},
		{"CreateIdempotent", testCreateIdempotent},
		{"CreateIdempotentConcurrent", testCreateIdempotentConcurrent},
		{"TicketRoundTrip", testTicketRoundTrip},
		{"Append", testAppend},
		{"Update", testUpdate},
		{"Attachments", testAttachments},
		{"LargeAttachments", testLargeAttachments},
		{"List", testList},
		{"ThreadsAndParticipants", testThreads},
		{"Customers", testCustomers},
		{"Tokens", testTokens},
		{"Jobs", testJobs},
		{"JobsUnique", testJobsUnique},
		{"JobsConcurrentClaim", testJobsConcurrentClaim},
		{"JobsLeaseExpiry", testJobsLeaseExpiry},
		{"JobFinishWithUpdate", testJobFinishWithUpdate},
		// The service-desk process (process.go).
		{"SLAStateRoundTrip", testSLAStateRoundTrip},
		{"TimerRescheduledByItsOwnEffect", testTimerRescheduledByItsOwnEffect},
		{"KnowledgeBase", testKnowledgeBase},
		{"KnowledgeBaseChineseSearch", testKBChineseSearch},
		{"ReportTickets", testReportTickets},
		{"Secrets", testSecrets},
		{"MailAckClaim", testMailAckClaim},
		{"MailAckClaimConcurrent", testMailAckClaimConcurrent},
		{"SIPBindings", testSIPBindings},
		{"SIPLockout", testSIPLockout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

var (
	shanghai = mustLoc("Asia/Shanghai")
	// t0 is a fixed instant with sub-microsecond digits, which both drivers
	// must cut to the microsecond alike.
	t0 = time.Date(2026, 11, 27, 9, 30, 0, 123456789, time.UTC)
)

func mustLoc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

func newTicket(subject string) ticketing.Ticket {
	at := t0.Truncate(time.Microsecond)
	return ticketing.Ticket{
		Channel: ticketing.ChannelPhone, Kind: ticketing.KindIncident, Priority: ticketing.P3,
		Status: ticketing.StatusNew, Tier: 1, Subject: subject, Description: "打印机不能打印",
		Caller:     ticketing.Party{Name: "张三", Phone: "+8613800138000", Email: "zhang@example.com", Organization: "慧海"},
		ReceivedAt: at, CreatedAt: at, UpdatedAt: at,
	}
}

func create(t *testing.T, s ticketing.Store, p *ticketing.TicketCreateParams) ticketing.IntakeResult {
	t.Helper()
	if p.Prefix == "" {
		p.Prefix = "HL"
	}
	if p.Day.IsZero() {
		p.Day = t0.In(shanghai)
	}
	r, err := s.TicketCreate(ctx(t), p)
	if err != nil {
		t.Fatalf("TicketCreate: %v", err)
	}
	return r
}

func get(t *testing.T, s ticketing.Store, number string) *ticketing.Ticket {
	t.Helper()
	tk, err := s.TicketGet(ctx(t), ticketing.TicketGetParams{Number: number, Timeline: true})
	if err != nil {
		t.Fatalf("TicketGet %s: %v", number, err)
	}
	return tk
}

func testMigrateTwice(t *testing.T, s ticketing.Store) {
	if err := s.Migrate(ctx(t)); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if err := s.Ping(ctx(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func testNumbering(t *testing.T, s ticketing.Store) {
	day1 := time.Date(2026, 11, 27, 0, 0, 0, 0, shanghai)
	day2 := day1.AddDate(0, 0, 1)
	cases := []struct {
		prefix string
		day    time.Time
		want   string
	}{
		{"HL", day1, "HL-20261127-0001"},
		{"HL", day1, "HL-20261127-0002"},
		{"HL", day2, "HL-20261128-0001"},
		{"IT", day1, "IT-20261127-0001"},
		{"HL", day1, "HL-20261127-0003"},
	}
	for _, c := range cases {
		r := create(t, s, &ticketing.TicketCreateParams{Prefix: c.prefix, Day: c.day, Ticket: newTicket("numbering")})
		if r.Number != c.want || r.Duplicate || r.TicketID == 0 {
			t.Errorf("create %s %s = %+v, want number %s", c.prefix, c.day.Format("2006-01-02"), r, c.want)
		}
	}
}

func testNumberingConcurrent(t *testing.T, s ticketing.Store) {
	const writers, each = 16, 25
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				r, err := s.TicketCreate(ctx(t), &ticketing.TicketCreateParams{Prefix: "HL", Day: t0.In(shanghai), Ticket: newTicket("c"),
					Contact: &ticketing.ContactKey{Channel: ticketing.ChannelWeb, ExternalID: fmt.Sprintf("w%d-%d", w, i)}})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				if seen[r.Number] {
					errs <- fmt.Errorf("number %s given twice", r.Number)
				}
				seen[r.Number] = true
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(seen) != writers*each {
		t.Fatalf("%d distinct numbers, want %d", len(seen), writers*each)
	}
	for i := 1; i <= writers*each; i++ {
		if n := ticketing.FormatNumber("HL", t0.In(shanghai), int64(i)); !seen[n] {
			t.Errorf("number %s missing: numbering has a gap without a failure", n)
		}
	}
}

func testCreateIdempotent(t *testing.T, s ticketing.Store) {
	key := &ticketing.ContactKey{Channel: ticketing.ChannelEmail, ExternalID: "<abc@example.com>"}
	r1 := create(t, s, &ticketing.TicketCreateParams{Ticket: newTicket("first"), Contact: key,
		Events: []ticketing.Event{ticketing.NewEvent(t0, ticketing.EventCreated, "channel:email", nil)}})
	r2 := create(t, s, &ticketing.TicketCreateParams{Ticket: newTicket("second"), Contact: key,
		Events: []ticketing.Event{ticketing.NewEvent(t0, ticketing.EventCreated, "channel:email", nil)}})
	if r1.Duplicate || !r2.Duplicate || r2.Number != r1.Number || r2.TicketID != r1.TicketID {
		t.Fatalf("first %+v, second %+v: want the second a duplicate of the first", r1, r2)
	}
	got, err := s.ContactGet(ctx(t), *key)
	if err != nil || got.Number != r1.Number {
		t.Fatalf("ContactGet = %+v, %v", got, err)
	}
	if _, err := s.ContactGet(ctx(t), ticketing.ContactKey{Channel: ticketing.ChannelEmail, ExternalID: "<nope>"}); !errors.Is(err, ticketing.ErrNotFound) {
		t.Fatalf("ContactGet unknown: %v, want ErrNotFound", err)
	}
	if tk := get(t, s, r1.Number); tk.Subject != "first" || len(tk.Events) != 1 {
		t.Fatalf("ticket after duplicate: subject %q, %d events", tk.Subject, len(tk.Events))
	}
	// The same external id on another channel is another contact.
	r3 := create(t, s, &ticketing.TicketCreateParams{Ticket: newTicket("fax"),
		Contact: &ticketing.ContactKey{Channel: ticketing.ChannelFax, ExternalID: key.ExternalID}})
	if r3.Duplicate || r3.Number == r1.Number {
		t.Fatalf("other channel: %+v", r3)
	}
}

func testCreateIdempotentConcurrent(t *testing.T, s ticketing.Store) {
	const n = 12
	key := &ticketing.ContactKey{Channel: ticketing.ChannelPhone, ExternalID: "call-1@carrier"}
	results := make([]ticketing.IntakeResult, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r, err := s.TicketCreate(ctx(t), &ticketing.TicketCreateParams{Prefix: "HL", Day: t0.In(shanghai), Ticket: newTicket("race"), Contact: key})
			if err != nil {
				t.Errorf("TicketCreate: %v", err)
			}
			results[i] = r
		}(i)
	}
	wg.Wait()
	created := 0
	for _, r := range results {
		if !r.Duplicate {
			created++
		}
		if r.Number != results[0].Number {
			t.Errorf("numbers differ: %s and %s", r.Number, results[0].Number)
		}
	}
	if created != 1 {
		t.Fatalf("%d creates not marked duplicate, want 1", created)
	}
	page, err := s.TicketList(ctx(t), ticketing.TicketListParams{Limit: 100})
	if err != nil || len(page.Tickets) != 1 {
		t.Fatalf("TicketList: %d tickets, %v; want 1", len(page.Tickets), err)
	}
}

func testTicketRoundTrip(t *testing.T, s ticketing.Store) {
	in := newTicket("往返 round trip")
	due1, due2 := t0.Add(2*time.Hour).Truncate(time.Microsecond), t0.Add(24*time.Hour).Truncate(time.Microsecond)
	in.ResponseDue, in.ResolveDue = &due1, &due2
	in.Caller.Withheld = true
	in.Assignee, in.Group, in.Tier, in.Priority = "zhang", "tier1", 2, ticketing.P2
	ev := []ticketing.Event{
		ticketing.NewEvent(t0, ticketing.EventCreated, "channel:phone", map[string]string{"via": "sip"}),
		ticketing.NewEvent(t0.Add(time.Second), "call_ringing", "channel:phone", map[string]any{"agents": []string{"zhang"}}),
	}
	r := create(t, s, &ticketing.TicketCreateParams{Ticket: in, Events: ev})
	got := get(t, s, r.Number)
	want := in
	want.ID, want.Number, want.Version = r.TicketID, r.Number, 1
	want.ReceivedAt = t0.Truncate(time.Microsecond)
	got.Events, got.Attachments = nil, nil
	if err := equalTickets(got, &want); err != nil {
		t.Fatal(err)
	}
	byID, err := s.TicketGet(ctx(t), ticketing.TicketGetParams{ID: r.TicketID})
	if err != nil || byID.Number != r.Number || byID.Events != nil {
		t.Fatalf("TicketGet by id without timeline: %+v, %v", byID, err)
	}
	full := get(t, s, r.Number)
	if len(full.Events) != 2 || full.Events[0].Type != ticketing.EventCreated || full.Events[1].Type != "call_ringing" {
		t.Fatalf("events = %+v", full.Events)
	}
	if !full.Events[0].At.Equal(t0.Truncate(time.Microsecond)) {
		t.Errorf("event time %v, want %v", full.Events[0].At, t0.Truncate(time.Microsecond))
	}
	var data map[string]any
	if err := json.Unmarshal(full.Events[1].Data, &data); err != nil || fmt.Sprint(data["agents"]) != "[zhang]" {
		t.Errorf("event data %s: %v", full.Events[1].Data, err)
	}
	if _, err := s.TicketGet(ctx(t), ticketing.TicketGetParams{Number: "HL-19990101-0001"}); !errors.Is(err, ticketing.ErrNotFound) {
		t.Fatalf("TicketGet unknown: %v", err)
	}
}

func equalTickets(got, want *ticketing.Ticket) error {
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		return fmt.Errorf("ticket\n got %s\nwant %s", g, w)
	}
	return nil
}

func testAppend(t *testing.T, s ticketing.Store) {
	r := create(t, s, &ticketing.TicketCreateParams{Ticket: newTicket("append")})
	later := t0.Add(time.Hour)
	key := &ticketing.ContactKey{Channel: ticketing.ChannelEmail, ExternalID: "<reply@x>"}
	p := &ticketing.TicketAppendParams{TicketID: r.TicketID, Contact: key, At: later,
		Events:     []ticketing.Event{ticketing.NewEvent(later, ticketing.EventContact, "channel:email", map[string]string{"body": "补充"})},
		ThreadKeys: []string{"msgid:<reply@x>"}, Participants: []string{"li@example.com"},
		Jobs: []ticketing.JobSpec{{Kind: "test.ack", RunAt: later}}}
	a1, err := s.TicketAppend(ctx(t), p)
	if err != nil || a1.Number != r.Number || a1.Duplicate {
		t.Fatalf("TicketAppend = %+v, %v", a1, err)
	}
	a2, err := s.TicketAppend(ctx(t), p)
	if err != nil || !a2.Duplicate || a2.Number != r.Number {
		t.Fatalf("TicketAppend again = %+v, %v; want duplicate", a2, err)
	}
	tk := get(t, s, r.Number)
	if len(tk.Events) != 1 || !tk.UpdatedAt.Equal(later.Truncate(time.Microsecond)) || tk.Version != 1 {
		t.Fatalf("after append: %d events, updated %v, version %d", len(tk.Events), tk.UpdatedAt, tk.Version)
	}
	jobs, err := s.JobClaim(ctx(t), ticketing.JobClaimParams{Worker: "w", Kinds: []string{"test.ack"}, Now: later, Lease: time.Minute, Limit: 10})
	if err != nil || len(jobs) != 1 || jobs[0].TicketID != r.TicketID {
		t.Fatalf("jobs of append: %+v, %v", jobs, err)
	}
	// A note without a contact key appends every time.
	for i := 0; i < 2; i++ {
		if _, err := s.TicketAppend(ctx(t), &ticketing.TicketAppendParams{TicketID: r.TicketID, At: later,
			Events: []ticketing.Event{ticketing.NewEvent(later, "call_answered", "channel:phone", nil)}}); err != nil {
			t.Fatal(err)
		}
	}
	if tk := get(t, s, r.Number); len(tk.Events) != 3 {
		t.Fatalf("%d events, want 3", len(tk.Events))
	}
	if _, err := s.TicketAppend(ctx(t), &ticketing.TicketAppendParams{TicketID: 999999, At: later}); !errors.Is(err, ticketing.ErrNotFound) {
		t.Fatalf("append to unknown ticket: %v", err)
	}
}

func testUpdate(t *testing.T, s ticketing.Store) {
	r := create(t, s, &ticketing.TicketCreateParams{Ticket: newTicket("update")})
	tk := get(t, s, r.Number)
	next := *tk
	next.Status, next.Assignee, next.UpdatedAt = ticketing.StatusAssigned, "zhang", t0.Add(time.Minute).Truncate(time.Microsecond)
	closed := t0.Add(time.Hour).Truncate(time.Microsecond)
	next.ClosedAt = &closed
	next.Resolution = "重启后恢复"
	ev := ticketing.NewEvent(next.UpdatedAt, ticketing.EventStatusChanged, "admin", map[string]string{"from": "new", "to": "assigned"})
	if err := s.TicketUpdate(ctx(t), &ticketing.TicketUpdateParams{Ticket: &next, Version: tk.Version, Events: []ticketing.Event{ev}}); err != nil {
		t.Fatalf("TicketUpdate: %v", err)
	}
	got := get(t, s, r.Number)
	if got.Status != ticketing.StatusAssigned || got.Assignee != "zhang" || got.Version != tk.Version+1 ||
		got.ClosedAt == nil || !got.ClosedAt.Equal(closed) || got.Resolution != "重启后恢复" || len(got.Events) != 1 {
		t.Fatalf("after update: %+v", got)
	}
	// A change computed from the old version loses.
	stale := *tk
	stale.Status = ticketing.StatusAssigned
	if err := s.TicketUpdate(ctx(t), &ticketing.TicketUpdateParams{Ticket: &stale, Version: tk.Version, Events: []ticketing.Event{ev}}); !errors.Is(err, ticketing.ErrConflict) {
		t.Fatalf("stale update: %v, want ErrConflict", err)
	}
	if got := get(t, s, r.Number); len(got.Events) != 1 {
		t.Fatalf("a failed update left %d events", len(got.Events))
	}
	missing := *tk
	missing.ID = 987654
	if err := s.TicketUpdate(ctx(t), &ticketing.TicketUpdateParams{Ticket: &missing, Version: 1}); !errors.Is(err, ticketing.ErrNotFound) {
		t.Fatalf("update unknown: %v, want ErrNotFound", err)
	}
}

func file(name, ctype, body string) ticketing.AttachmentInput {
	return ticketing.File(name, ctype, []byte(body))
}

func testAttachments(t *testing.T, s ticketing.Store) {
	same := file("传真.pdf", "application/pdf", "%PDF-1.4 same bytes")
	r1 := create(t, s, &ticketing.TicketCreateParams{Ticket: newTicket("a1"), Attachments: []ticketing.AttachmentInput{same, file("b.txt", "text/plain", "b")}})
	r2 := create(t, s, &ticketing.TicketCreateParams{Ticket: newTicket("a2")})
	if _, err := s.TicketAppend(ctx(t), &ticketing.TicketAppendParams{TicketID: r2.TicketID, At: t0, Attachments: []ticketing.AttachmentInput{same}}); err != nil {
		t.Fatal(err)
	}
	t1, t2 := get(t, s, r1.Number), get(t, s, r2.Number)
	if len(t1.Attachments) != 2 || len(t2.Attachments) != 1 {
		t.Fatalf("attachments: %d and %d", len(t1.Attachments), len(t2.Attachments))
	}
	a := t2.Attachments[0]
	if a.Name != "传真.pdf" || a.ContentType != "application/pdf" || a.Size != int64(len(same.Data)) || a.SHA256 != same.SHA256 {
		t.Fatalf("attachment %+v", a)
	}
	meta, data, err := s.AttachmentGet(ctx(t), a.ID)
	if err != nil || string(data) != string(same.Data) || meta.Name != a.Name {
		t.Fatalf("AttachmentGet = %+v, %q, %v", meta, data, err)
	}
	if _, _, err := s.AttachmentGet(ctx(t), 424242); !errors.Is(err, ticketing.ErrNotFound) {
		t.Fatalf("unknown attachment: %v", err)
	}
}

// Large blobs come back byte for byte, whatever a driver does to store them:
// text that compresses well (a mail) and bytes that do not (a photo).
func testLargeAttachments(t *testing.T, s ticketing.Store) {
	var mail strings.Builder
	mail.WriteString("Subject: =?GB2312?B?VlBOIMGssrvJzw==?=\r\nContent-Type: text/plain; charset=GB2312\r\n\r\n")
	for i := 0; mail.Len() < 20000; i++ {
		fmt.Fprintf(&mail, "第 %d 行：打印机无法连接，请帮忙处理。line %d of the message\r\n", i, i)
	}
	noise := make([]byte, 70000)
	x := uint64(0x9e3779b97f4a7c15)
	for i := range noise {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		noise[i] = byte(x)
	}
	files := []ticketing.AttachmentInput{file("message.eml", "message/rfc822", mail.String()),
		file("photo.jpg", "image/jpeg", string(noise)), file("empty.txt", "text/plain", "")}
	r := create(t, s, &ticketing.TicketCreateParams{Ticket: newTicket("large"), Attachments: files})
	tk := get(t, s, r.Number)
	if len(tk.Attachments) != len(files) {
		t.Fatalf("%d attachments, want %d", len(tk.Attachments), len(files))
	}
	for i, a := range tk.Attachments {
		_, data, err := s.AttachmentGet(ctx(t), a.ID)
		if err != nil {
			t.Fatalf("%s: %v", a.Name, err)
		}
		if string(data) != string(files[i].Data) || a.Size != int64(len(files[i].Data)) {
			t.Errorf("%s: %d bytes back (size %d), want the %d stored", a.Name, len(data), a.Size, len(files[i].Data))
		}
	}
}

func testList(t *testing.T, s ticketing.Store) {
	var numbers []string
	for i := 0; i < 7; i++ {
		tk := newTicket(fmt.Sprintf("list %d", i))
		tk.ReceivedAt = t0.Add(time.Duration(i) * time.Hour).Truncate(time.Microsecond)
		if i%2 == 1 {
			tk.Channel, tk.Kind = ticketing.ChannelEmail, ticketing.KindComplaint
		}
		if i == 3 {
			tk.Subject = "VPN 连不上 100%_done"
		}
		numbers = append(numbers, create(t, s, &ticketing.TicketCreateParams{Ticket: tk}).Number)
	}
	var all []string
	var after int64
	for {
		page, err := s.TicketList(ctx(t), ticketing.TicketListParams{Limit: 3, After: after})
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range page.Tickets {
			all = append(all, tk.Number)
		}
		if page.Next == 0 {
			break
		}
		after = page.Next
	}
	if len(all) != 7 || all[0] != numbers[6] || all[6] != numbers[0] {
		t.Fatalf("paged list = %v", all)
	}
	cases := []struct {
		name string
		p    ticketing.TicketListParams
		want int
	}{
		{"channel", ticketing.TicketListParams{Channel: ticketing.ChannelEmail}, 3},
		{"kind", ticketing.TicketListParams{Kind: ticketing.KindComplaint}, 3},
		{"status", ticketing.TicketListParams{Status: ticketing.StatusNew}, 7},
		{"status none", ticketing.TicketListParams{Status: ticketing.StatusClosed}, 0},
		{"query chinese", ticketing.TicketListParams{Query: "连不上"}, 1},
		{"query like chars literal", ticketing.TicketListParams{Query: "100%_"}, 1},
		{"query percent alone", ticketing.TicketListParams{Query: "%"}, 1},
		{"query caller", ticketing.TicketListParams{Query: "13800138000"}, 7},
		{"query number", ticketing.TicketListParams{Query: numbers[2]}, 1},
		{"received range", ticketing.TicketListParams{ReceivedFrom: t0.Add(2 * time.Hour), ReceivedTo: t0.Add(5 * time.Hour)}, 3},
	}
	for _, c := range cases {
		c.p.Limit = 50
		page, err := s.TicketList(ctx(t), c.p)
		if err != nil || len(page.Tickets) != c.want || page.Next != 0 {
			t.Errorf("%s: %d tickets (next %d), %v; want %d", c.name, len(page.Tickets), page.Next, err, c.want)
		}
	}
}

func testThreads(t *testing.T, s ticketing.Store) {
	r1 := create(t, s, &ticketing.TicketCreateParams{Ticket: newTicket("t1"), ThreadKeys: []string{"msgid:<a@x>", "msgid:<shared@x>"},
		Participants: []string{"zhang@example.com", "cc@example.com"}})
	r2 := create(t, s, &ticketing.TicketCreateParams{Ticket: newTicket("t2"), ThreadKeys: []string{"msgid:<shared@x>", "msgid:<b@x>"}})
	cases := []struct {
		keys []string
		want string
	}{
		{[]string{"msgid:<a@x>"}, r1.Number},
		{[]string{"msgid:<zzz@x>", "msgid:<b@x>"}, r2.Number},
		{[]string{"msgid:<shared@x>"}, r2.Number}, // the newest owner wins
	}
	for _, c := range cases {
		got, err := s.ThreadFind(ctx(t), c.keys)
		if err != nil || got.Number != c.want {
			t.Errorf("ThreadFind %v = %+v, %v; want %s", c.keys, got, err, c.want)
		}
	}
	if _, err := s.ThreadFind(ctx(t), []string{"msgid:<none@x>"}); !errors.Is(err, ticketing.ErrNotFound) {
		t.Errorf("ThreadFind none: %v", err)
	}
	if _, err := s.ThreadFind(ctx(t), nil); !errors.Is(err, ticketing.ErrNotFound) {
		t.Errorf("ThreadFind nil: %v", err)
	}
	for _, c := range []struct {
		id    int64
		addrs []string
		want  bool
	}{
		{r1.TicketID, []string{"cc@example.com"}, true},
		{r1.TicketID, []string{"x@y", "zhang@example.com"}, true},
		{r2.TicketID, []string{"zhang@example.com"}, false},
		{r1.TicketID, nil, false},
	} {
		got, err := s.ParticipantAny(ctx(t), c.id, c.addrs)
		if err != nil || got != c.want {
			t.Errorf("ParticipantAny(%d, %v) = %v, %v", c.id, c.addrs, got, err)
		}
	}
}

func testCustomers(t *testing.T, s ticketing.Store) {
	c1 := &ticketing.Customer{Name: "张三", Organization: "青岛慧海", Phones: []string{"+8653255578279", "+8613800138000"},
		Emails: []string{"zhang@example.com"}, CreatedAt: t0.Truncate(time.Microsecond)}
	c2 := &ticketing.Customer{Name: "李四", Organization: "青岛慧海", Phones: []string{"+8613900139000"}, CreatedAt: t0.Truncate(time.Microsecond)}
	for _, c := range []*ticketing.Customer{c1, c2} {
		if err := s.CustomerCreate(ctx(t), c); err != nil || c.ID == 0 {
			t.Fatalf("CustomerCreate: %v (id %d)", err, c.ID)
		}
	}
	got, err := s.CustomerGet(ctx(t), c1.ID)
	if err != nil {
		t.Fatal(err)
	}
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(c1)
	if string(g) != string(w) {
		t.Fatalf("CustomerGet\n got %s\nwant %s", g, w)
	}
	cases := []struct {
		p    ticketing.CustomerFindParams
		want []int64
	}{
		{ticketing.CustomerFindParams{Phones: []string{"+8613800138000"}}, []int64{c1.ID}},
		{ticketing.CustomerFindParams{Emails: []string{"zhang@example.com"}}, []int64{c1.ID}},
		{ticketing.CustomerFindParams{Phones: []string{"+8613900139000", "+8653255578279"}}, []int64{c1.ID, c2.ID}},
		{ticketing.CustomerFindParams{Phones: []string{"+8613800138000"}, Emails: []string{"zhang@example.com"}}, []int64{c1.ID}},
		{ticketing.CustomerFindParams{Phones: []string{"+10000000000"}}, nil},
		{ticketing.CustomerFindParams{}, nil},
	}
	for _, c := range cases {
		found, err := s.CustomerFind(ctx(t), c.p)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, f := range found {
			ids = append(ids, f.ID)
		}
		if fmt.Sprint(ids) != fmt.Sprint(c.want) {
			t.Errorf("CustomerFind %+v = %v, want %v", c.p, ids, c.want)
		}
	}
	if found, _ := s.CustomerFind(ctx(t), ticketing.CustomerFindParams{Phones: []string{"+8613900139000"}}); len(found) != 1 || found[0].Organization != "青岛慧海" {
		t.Errorf("organization of second customer: %+v", found)
	}
	if _, err := s.CustomerGet(ctx(t), 777777); !errors.Is(err, ticketing.ErrNotFound) {
		t.Errorf("CustomerGet unknown: %v", err)
	}
}

func testTokens(t *testing.T, s ticketing.Store) {
	if err := s.TokenAdd(ctx(t), "admin", "abc123"); err != nil {
		t.Fatal(err)
	}
	if err := s.TokenAdd(ctx(t), "admin", "abc123"); err != nil {
		t.Fatalf("adding a token twice: %v", err)
	}
	if name, err := s.TokenFind(ctx(t), "abc123"); err != nil || name != "admin" {
		t.Fatalf("TokenFind = %q, %v", name, err)
	}
	if _, err := s.TokenFind(ctx(t), "other"); !errors.Is(err, ticketing.ErrNotFound) {
		t.Fatalf("TokenFind unknown: %v", err)
	}
}

func claim(t *testing.T, s ticketing.Store, worker string, now time.Time, kinds ...string) []*ticketing.Job {
	t.Helper()
	jobs, err := s.JobClaim(ctx(t), ticketing.JobClaimParams{Worker: worker, Kinds: kinds, Now: now, Lease: time.Minute, Limit: 100})
	if err != nil {
		t.Fatalf("JobClaim: %v", err)
	}
	return jobs
}

func testJobs(t *testing.T, s ticketing.Store) {
	err := s.JobInsert(ctx(t), []ticketing.JobSpec{
		{Kind: "mail.send", Args: json.RawMessage(`{"to":"a@b"}`), RunAt: t0, MaxAttempts: 3},
		{Kind: "mail.send", RunAt: t0.Add(time.Hour)},
		{Kind: "sla.breach", RunAt: t0},
	})
	if err != nil {
		t.Fatal(err)
	}
	jobs := claim(t, s, "w1", t0, "mail.send")
	if len(jobs) != 1 || jobs[0].Attempt != 1 || jobs[0].MaxAttempts != 3 || string(jobs[0].Args) != `{"to":"a@b"}` {
		t.Fatalf("claimed %+v", jobs)
	}
	if again := claim(t, s, "w2", t0, "mail.send"); len(again) != 0 {
		t.Fatalf("a leased job was claimed again: %+v", again)
	}
	retry := t0.Add(10 * time.Second)
	if err := s.JobFinish(ctx(t), ticketing.JobFinishParams{ID: jobs[0].ID, Worker: "w2", At: t0, Error: "x", RetryAt: retry}); !errors.Is(err, ticketing.ErrLeaseLost) {
		t.Fatalf("finish by another worker: %v", err)
	}
	if err := s.JobFinish(ctx(t), ticketing.JobFinishParams{ID: jobs[0].ID, Worker: "w1", At: t0, Error: "relay down", RetryAt: retry}); err != nil {
		t.Fatal(err)
	}
	if early := claim(t, s, "w1", retry.Add(-time.Millisecond), "mail.send"); len(early) != 0 {
		t.Fatalf("claimed before its retry time: %+v", early)
	}
	jobs = claim(t, s, "w1", retry, "mail.send")
	if len(jobs) != 1 || jobs[0].Attempt != 2 {
		t.Fatalf("retry claim %+v", jobs)
	}
	if err := s.JobFinish(ctx(t), ticketing.JobFinishParams{ID: jobs[0].ID, Worker: "w1", At: retry}); err != nil {
		t.Fatal(err)
	}
	if err := s.JobFinish(ctx(t), ticketing.JobFinishParams{ID: jobs[0].ID, Worker: "w1", At: retry}); !errors.Is(err, ticketing.ErrLeaseLost) {
		t.Fatalf("finishing a done job: %v", err)
	}
	if late := claim(t, s, "w1", t0.Add(2*time.Hour), "mail.send"); len(late) != 1 || !late[0].RunAt.Equal(t0.Add(time.Hour).Truncate(time.Microsecond)) {
		t.Fatalf("the later job: %+v", late)
	} else if err := s.JobFinish(ctx(t), ticketing.JobFinishParams{ID: late[0].ID, Worker: "w1", At: t0, Error: "bad address"}); err != nil {
		t.Fatal(err)
	}
	if none := claim(t, s, "w1", t0.Add(3*time.Hour), "mail.send"); len(none) != 0 {
		t.Fatalf("a failed job came back: %+v", none)
	}
	if other := claim(t, s, "w1", t0, "sla.breach", "sla.warn"); len(other) != 1 {
		t.Fatalf("claim by kind: %+v", other)
	}
}

func testJobsUnique(t *testing.T, s ticketing.Store) {
	ins := func(spec ticketing.JobSpec) {
		t.Helper()
		if err := s.JobInsert(ctx(t), []ticketing.JobSpec{spec}); err != nil {
			t.Fatal(err)
		}
	}
	ins(ticketing.JobSpec{Kind: "sla.warn", UniqueKey: "sla:1:warn", RunAt: t0.Add(time.Hour)})
	ins(ticketing.JobSpec{Kind: "sla.warn", UniqueKey: "sla:1:warn", RunAt: t0})                                    // ignored
	ins(ticketing.JobSpec{Kind: "sla.warn", UniqueKey: "sla:2:warn", RunAt: t0.Add(time.Hour)})                     // another key
	ins(ticketing.JobSpec{Kind: "sla.warn", UniqueKey: "sla:2:warn", RunAt: t0.Add(time.Minute), Reschedule: true}) // moved
	jobs := claim(t, s, "w", t0.Add(30*time.Minute), "sla.warn")
	if len(jobs) != 1 || jobs[0].UniqueKey != "sla:2:warn" {
		t.Fatalf("claimed %+v, want only the rescheduled sla:2:warn", jobs)
	}
	if err := s.JobFinish(ctx(t), ticketing.JobFinishParams{ID: jobs[0].ID, Worker: "w", At: t0}); err != nil {
		t.Fatal(err)
	}
	// A finished job's key may be used again.
	ins(ticketing.JobSpec{Kind: "sla.warn", UniqueKey: "sla:2:warn", RunAt: t0})
	if err := s.JobCancel(ctx(t), []string{"sla:1:warn"}); err != nil {
		t.Fatal(err)
	}
	jobs = claim(t, s, "w", t0.Add(2*time.Hour), "sla.warn")
	if len(jobs) != 1 || jobs[0].UniqueKey != "sla:2:warn" {
		t.Fatalf("after cancel: %+v", jobs)
	}
}

func testJobsConcurrentClaim(t *testing.T, s ticketing.Store) {
	const n = 200
	specs := make([]ticketing.JobSpec, n)
	for i := range specs {
		specs[i] = ticketing.JobSpec{Kind: "work", RunAt: t0, Args: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))}
	}
	if err := s.JobInsert(ctx(t), specs); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[int64]string{}
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			name := fmt.Sprintf("w%d", w)
			for {
				jobs, err := s.JobClaim(ctx(t), ticketing.JobClaimParams{Worker: name, Kinds: []string{"work"}, Now: t0, Lease: time.Minute, Limit: 7})
				if err != nil {
					t.Error(err)
					return
				}
				if len(jobs) == 0 {
					return
				}
				for _, j := range jobs {
					mu.Lock()
					if prev, dup := seen[j.ID]; dup {
						t.Errorf("job %d claimed by %s and %s", j.ID, prev, name)
					}
					seen[j.ID] = name
					mu.Unlock()
					if err := s.JobFinish(ctx(t), ticketing.JobFinishParams{ID: j.ID, Worker: name, At: t0}); err != nil {
						t.Error(err)
					}
				}
			}
		}(w)
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("%d jobs run, want %d", len(seen), n)
	}
}

func testJobsLeaseExpiry(t *testing.T, s ticketing.Store) {
	if err := s.JobInsert(ctx(t), []ticketing.JobSpec{{Kind: "sla.breach", RunAt: t0, MaxAttempts: 2}}); err != nil {
		t.Fatal(err)
	}
	first := claim(t, s, "dead", t0, "sla.breach")
	if len(first) != 1 {
		t.Fatalf("claim: %+v", first)
	}
	// The worker dies; within the lease nobody else gets the job.
	if got := claim(t, s, "alive", t0.Add(59*time.Second), "sla.breach"); len(got) != 0 {
		t.Fatalf("claimed within the lease: %+v", got)
	}
	second := claim(t, s, "alive", t0.Add(61*time.Second), "sla.breach")
	if len(second) != 1 || second[0].Attempt != 2 {
		t.Fatalf("rescue after lease: %+v", second)
	}
	if err := s.JobFinish(ctx(t), ticketing.JobFinishParams{ID: first[0].ID, Worker: "dead", At: t0}); !errors.Is(err, ticketing.ErrLeaseLost) {
		t.Fatalf("the dead worker finishing late: %v", err)
	}
	// The second worker dies too: the job has used its attempts.
	if got := claim(t, s, "third", t0.Add(3*time.Minute), "sla.breach"); len(got) != 0 {
		t.Fatalf("a job past its attempts was claimed: %+v", got)
	}
}

func testJobFinishWithUpdate(t *testing.T, s ticketing.Store) {
	r := create(t, s, &ticketing.TicketCreateParams{Ticket: newTicket("timer")})
	if err := s.JobInsert(ctx(t), []ticketing.JobSpec{{Kind: "sla.breach", TicketID: r.TicketID, RunAt: t0}}); err != nil {
		t.Fatal(err)
	}
	jobs := claim(t, s, "w1", t0, "sla.breach")
	if len(jobs) != 1 {
		t.Fatalf("claim: %+v", jobs)
	}
	tk := get(t, s, r.Number)
	esc := *tk
	esc.Tier, esc.UpdatedAt = 2, t0.Add(time.Second).Truncate(time.Microsecond)
	ev := []ticketing.Event{ticketing.NewEvent(esc.UpdatedAt, "escalated", "system", map[string]int{"tier": 2})}
	// Another worker's lease: the effect must not be written.
	err := s.TicketUpdate(ctx(t), &ticketing.TicketUpdateParams{Ticket: &esc, Version: tk.Version, Events: ev,
		FinishJob: &ticketing.JobFinishParams{ID: jobs[0].ID, Worker: "w2", At: esc.UpdatedAt}})
	if !errors.Is(err, ticketing.ErrLeaseLost) {
		t.Fatalf("update finishing another's job: %v", err)
	}
	if got := get(t, s, r.Number); got.Tier != 1 || len(got.Events) != 0 {
		t.Fatalf("the effect was written without the lease: tier %d, %d events", got.Tier, len(got.Events))
	}
	err = s.TicketUpdate(ctx(t), &ticketing.TicketUpdateParams{Ticket: &esc, Version: tk.Version, Events: ev,
		FinishJob: &ticketing.JobFinishParams{ID: jobs[0].ID, Worker: "w1", At: esc.UpdatedAt}})
	if err != nil {
		t.Fatal(err)
	}
	if got := get(t, s, r.Number); got.Tier != 2 || len(got.Events) != 1 {
		t.Fatalf("after escalation: tier %d, %d events", got.Tier, len(got.Events))
	}
	if again := claim(t, s, "w3", t0.Add(time.Hour), "sla.breach"); len(again) != 0 {
		t.Fatalf("the finished timer fired again: %+v", again)
	}
}
