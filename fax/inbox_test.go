package fax

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotline-desk/hotline/channels"
	"github.com/hotline-desk/hotline/ticketing"
)

// runInbox watches dir with a short poll and settle time until the test
// ends.
func runInbox(t *testing.T, p Processor, dir string, settle time.Duration) *Inbox {
	t.Helper()
	in, err := NewInbox(p, InboxConfig{Dir: dir, Poll: 50 * time.Millisecond, Settle: settle}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { in.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return in
}

func listDir(t testing.TB, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		if e.Type().IsRegular() {
			out = append(out, e.Name())
		}
	}
	return out
}

func (f *fixture) onlyTicket(t testing.TB) *ticketing.Ticket {
	t.Helper()
	page, err := f.store.TicketList(context.Background(), ticketing.TicketListParams{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Tickets) != 1 {
		t.Fatalf("%d tickets, want 1", len(page.Tickets))
	}
	return f.ticket(t, page.Tickets[0].ID)
}

func TestInboxThreePageG3WithSidecar(t *testing.T) {
	f := newFixture(t)
	dir := filepath.Join(t.TempDir(), "inbox")
	runInbox(t, f.service, dir, 200*time.Millisecond)
	data, err := os.ReadFile(gsTIFF(t, "tiffg3", "204x98"))
	if err != nil {
		t.Fatal(err)
	}
	sidecar := `{"caller":"053255578279","station_id":"QD PORT","status":"SUCCESS","error":"","pages":"3","received_at":"2026-11-27T09:30:00+08:00"}`
	if err := os.WriteFile(filepath.Join(dir, "fax-0001.json"), []byte(sidecar), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "fax-0001.tif"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the fax to leave the inbox", func() bool { return len(listDir(t, filepath.Join(dir, "done"))) == 2 })
	if got := listDir(t, dir); len(got) != 0 {
		t.Errorf("left in the inbox: %v", got)
	}
	if got := strings.Join(listDir(t, filepath.Join(dir, "done")), ","); got != "fax-0001.tif,fax-0001.tif.json" {
		t.Errorf("done/ holds %s", got)
	}
	tk := f.onlyTicket(t)
	if tk.Caller.Phone != "+8653255578279" || !hasEvent(tk, ticketing.EventCreated, `"station_id":"QD PORT"`) {
		t.Errorf("caller %+v, events %+v", tk.Caller, tk.Events)
	}
	if want := time.Date(2026, 11, 27, 1, 30, 0, 0, time.UTC); !tk.ReceivedAt.Equal(want) {
		t.Errorf("received at %v, want %v", tk.ReceivedAt, want)
	}
	checkFaxMail(t, f, tk.Number, "+8653255578279", 3)
}

// TestInboxHalfWritten: a fax written slowly, as Asterisk writes it during
// the call, is taken only when complete.
func TestInboxHalfWritten(t *testing.T) {
	f := newFixture(t)
	dir := filepath.Join(t.TempDir(), "inbox")
	settle := 400 * time.Millisecond
	runInbox(t, f.service, dir, settle)
	data, err := os.ReadFile(gsTIFF(t, "tiffg4", "204x196"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(dir, "slow.tif"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := len(data)/10 + 1
	for off := 0; off < len(data); off += chunk {
		if _, err := out.Write(data[off:min(off+chunk, len(data))]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(settle / 3)
		if n := len(listDir(t, filepath.Join(dir, "done"))) + len(listDir(t, filepath.Join(dir, "failed"))); n != 0 {
			t.Fatalf("the fax was taken after %d of %d bytes", off+chunk, len(data))
		}
	}
	out.Close()
	waitFor(t, "the fax", func() bool { return len(listDir(t, filepath.Join(dir, "done"))) == 1 })
	tk := f.onlyTicket(t)
	if n := pdfPagesOf(t, f.file(t, tk, "application/pdf")); n != 3 {
		t.Errorf("PDF of %d pages, want 3", n)
	}
	// The ignored names of writers that rename a finished file into place.
	for _, n := range []string{".incoming.tif", "x.tif.part", "y.tmp"} {
		if err := os.WriteFile(filepath.Join(dir, n), data[:100], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(3 * settle)
	if len(listDir(t, dir)) != 3 || len(listDir(t, filepath.Join(dir, "failed"))) != 0 {
		t.Errorf("a file being written under a temporary name was taken: %v", listDir(t, dir))
	}
}

func TestInboxBadInput(t *testing.T) {
	f := newFixture(t)
	dir := filepath.Join(t.TempDir(), "inbox")
	good, err := os.ReadFile(gsTIFF(t, "tiffg3", "204x196"))
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string][]byte{
		"truncated.tif": good[:len(good)/2],
		"letter.tif":    []byte("this is no fax"),
		"empty.tif":     nil,
		"bomb.tif":      bombTIFF(10000),
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for n, b := range bad {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A sidecar whose fax never came, saying it failed.
	os.WriteFile(filepath.Join(dir, "lost.json"), []byte(`{"caller":"13800138000","status":"FAILURE","error":"T30_ERR_NODATA"}`), 0o644)
	runInbox(t, f.service, dir, 100*time.Millisecond)
	failed := filepath.Join(dir, "failed")
	waitFor(t, "the bad files in failed/", func() bool { return len(listDir(t, failed)) == 10 })
	for _, n := range append([]string{"lost.json"}, keysOf(bad)...) {
		reason, err := os.ReadFile(filepath.Join(failed, n+".reason"))
		if err != nil {
			t.Errorf("no reason for %s: %v", n, err)
			continue
		}
		if !strings.Contains(string(reason), "ticket: HL-") {
			t.Errorf("reason for %s names no ticket: %s", n, reason)
		}
		t.Logf("%s: %s", n, strings.ReplaceAll(string(reason), "\n", " | "))
	}
	page, err := f.store.TicketList(context.Background(), ticketing.TicketListParams{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Tickets) != 5 {
		t.Fatalf("%d tickets, want 5", len(page.Tickets))
	}
	for _, tk := range page.Tickets {
		full := f.ticket(t, tk.ID)
		if !hasEvent(full, "fax_failed", `"callback_needed":true`) {
			t.Errorf("ticket %s (%s) does not note the failure", tk.Number, tk.Subject)
		}
	}
}

func keysOf(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// flakyStore fails the first calls, as a store that is down would.
type flakyStore struct {
	fails atomic.Int32
	next  Processor
}

func (p *flakyStore) Process(ctx context.Context, d channels.FaxDocument) (Outcome, error) {
	if p.fails.Add(-1) >= 0 {
		return Outcome{}, errors.New("store: connection refused")
	}
	return p.next.Process(ctx, d)
}

// TestInboxStoreDown: while the ticket cannot be committed the fax stays
// in the inbox; it is taken once the store is back.
func TestInboxStoreDown(t *testing.T) {
	f := newFixture(t)
	dir := filepath.Join(t.TempDir(), "inbox")
	p := &flakyStore{next: f.service}
	p.fails.Store(5)
	runInbox(t, p, dir, 50*time.Millisecond)
	data, err := os.ReadFile(gsTIFF(t, "tiffg4", "204x98"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a.tif"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "some failed attempts", func() bool { return p.fails.Load() <= 2 })
	if p.fails.Load() >= 0 && len(listDir(t, dir)) != 1 {
		t.Fatalf("the fax left the inbox while the store was down: %v", listDir(t, dir))
	}
	waitFor(t, "the fax in done/", func() bool { return len(listDir(t, filepath.Join(dir, "done"))) == 1 })
	f.onlyTicket(t)
}
