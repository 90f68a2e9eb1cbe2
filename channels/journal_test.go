package channels

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotline-desk/hotline/ticketing"
)

// logWriter sends log lines to t.Log and keeps them for assertions.
type logWriter struct {
	t   testing.TB
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *logWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func testLogger(t testing.TB) (*slog.Logger, *logWriter) {
	w := &logWriter{t: t}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})), w
}

// fakeSink is the intake as the journal sees it. Its function fields
// default to success; what succeeded is kept in order.
type fakeSink struct {
	SubmitFunc func(ctx context.Context, c Contact) (Receipt, error)
	RecordFunc func(ctx context.Context, n Note) error

	mu       sync.Mutex
	applied  []string // "contact:KEY", "note:KEY/ID"
	contacts []Contact
	notes    []Note
}

func (s *fakeSink) Submit(ctx context.Context, c Contact) (Receipt, error) {
	if s.SubmitFunc != nil {
		if _, err := s.SubmitFunc(ctx, c); err != nil {
			return Receipt{}, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.applied = append(s.applied, "contact:"+c.ExternalID)
	s.contacts = append(s.contacts, c)
	return Receipt{Ticket: "HL-20261127-0001", TicketID: 1, Created: true}, nil
}

func (s *fakeSink) Record(ctx context.Context, n Note) error {
	if s.RecordFunc != nil {
		if err := s.RecordFunc(ctx, n); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.applied = append(s.applied, "note:"+n.Ref.ExternalID+"/"+n.ID)
	s.notes = append(s.notes, n)
	return nil
}

func (s *fakeSink) Applied() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.applied)
}

// ticketed reports whether the contact was submitted successfully.
func (s *fakeSink) ticketed(key EventRef) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.contacts {
		if c.Key() == key {
			return true
		}
	}
	return false
}

// failTimes fails the first n calls with err, then succeeds.
func failTimes(n int, err error) func() error {
	var calls atomic.Int64
	return func() error {
		if calls.Add(1) <= int64(n) {
			return err
		}
		return nil
	}
}

var errStoreDown = errors.New("store: connection refused")

func testContact(id string) Contact {
	at := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
	blob := make([]byte, 300)
	for i := range blob {
		blob[i] = byte(i)
	}
	return Contact{
		Channel:    ticketing.ChannelPhone,
		ExternalID: id,
		Caller:     ticketing.Party{Name: "张三", Phone: "+8613800138000"},
		Callee:     "+864001160016",
		Subject:    "电话 " + id,
		Kind:       ticketing.KindIncident,
		Priority:   ticketing.P2,
		ReceivedAt: at,
		Metadata:   map[string]string{"sip.call_id": id},
		Events:     []ticketing.Event{ticketing.NewEvent(at, "ivr_choice", "caller", map[string]string{"digit": "1"})},
		Attachments: []Attachment{
			{Name: "greeting.wav", ContentType: "audio/wav", Data: blob},
			{Name: "empty.txt", ContentType: "text/plain", Data: []byte{}},
		},
	}
}

func testNote(contactID, id string) Note {
	at := time.Date(2026, 11, 27, 9, 31, 0, 0, time.UTC)
	return Note{
		Ref:         EventRef{Channel: ticketing.ChannelPhone, ExternalID: contactID},
		ID:          id,
		Events:      []ticketing.Event{ticketing.NewEvent(at, "call_"+id, "sip", nil)},
		Attachments: []Attachment{{Name: id + ".wav", ContentType: "audio/wav", Data: []byte{0, 1, 0xff, 0xfe}}},
	}
}

func openTestJournal(t *testing.T, dir string) (*Journal, *logWriter) {
	t.Helper()
	log, w := testLogger(t)
	j, err := OpenJournal(dir, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j, w
}

func appendContacts(t *testing.T, j *Journal, ids ...string) {
	t.Helper()
	for _, id := range ids {
		c := testContact(id)
		if err := j.Append(Entry{Contact: &c}); err != nil {
			t.Fatal(err)
		}
	}
}

func segments(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+segmentExt))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestJournalRoundTrip(t *testing.T) {
	dir := t.TempDir()
	j, _ := openTestJournal(t, dir)
	c := testContact("call-1")
	n := testNote("call-1", "answered")
	if err := j.Append(Entry{Contact: &c}); err != nil {
		t.Fatal(err)
	}
	if err := j.Append(Entry{Note: &n}); err != nil {
		t.Fatal(err)
	}
	if err := j.Append(Entry{}); err == nil {
		t.Error("Append of an empty entry succeeded")
	}
	if err := j.Append(Entry{Contact: &c, Note: &n}); err == nil {
		t.Error("Append of a contact and a note at once succeeded")
	}
	if got := j.Pending(); got != 2 {
		t.Fatalf("Pending = %d, want 2", got)
	}

	// Reopen, as after a restart.
	j.Close()
	j, _ = openTestJournal(t, dir)
	if got := j.Pending(); got != 2 {
		t.Fatalf("Pending after reopen = %d, want 2", got)
	}
	sink := &fakeSink{}
	applied, err := j.Replay(t.Context(), sink)
	if err != nil || applied != 2 {
		t.Fatalf("Replay = %d, %v", applied, err)
	}
	if len(sink.contacts) != 1 || !reflect.DeepEqual(sink.contacts[0], c) {
		t.Errorf("replayed contact differs:\n got  %+v\n want %+v", sink.contacts, c)
	}
	if len(sink.notes) != 1 || !reflect.DeepEqual(sink.notes[0], n) {
		t.Errorf("replayed note differs:\n got  %+v\n want %+v", sink.notes, n)
	}
	if j.Pending() != 0 {
		t.Errorf("Pending = %d after replay", j.Pending())
	}
	if s := segments(t, dir); len(s) != 0 {
		t.Errorf("segments left after a full replay: %v", s)
	}

	j.Close()
	j, _ = openTestJournal(t, dir)
	if applied, err := j.Replay(t.Context(), sink); applied != 0 || err != nil || j.Pending() != 0 {
		t.Errorf("second replay after reopen = %d, %v (pending %d)", applied, err, j.Pending())
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Append(Entry{Contact: &c}); !errors.Is(err, ErrJournalClosed) {
		t.Errorf("Append after Close: %v", err)
	}
}

func TestJournalReplayStopsWhileStoreDown(t *testing.T) {
	j, _ := openTestJournal(t, t.TempDir())
	appendContacts(t, j, "call-1", "call-2", "call-3")
	fail := failTimes(3, errStoreDown)
	var calls atomic.Int64
	sink := &fakeSink{SubmitFunc: func(ctx context.Context, c Contact) (Receipt, error) {
		calls.Add(1)
		return Receipt{}, fail()
	}}
	for i := range 3 {
		applied, err := j.Replay(t.Context(), sink)
		if !errors.Is(err, errStoreDown) || applied != 0 || j.Pending() != 3 {
			t.Fatalf("replay %d while the store is down = %d, %v (pending %d)", i, applied, err, j.Pending())
		}
	}
	applied, err := j.Replay(t.Context(), sink)
	if err != nil || applied != 3 || j.Pending() != 0 {
		t.Fatalf("replay when the store is back = %d, %v (pending %d)", applied, err, j.Pending())
	}
	if want := []string{"contact:call-1", "contact:call-2", "contact:call-3"}; !slices.Equal(sink.Applied(), want) {
		t.Errorf("applied %q, want %q", sink.Applied(), want)
	}
	if calls.Load() != 6 {
		t.Errorf("sink called %d times, want 6 (a failed record is not skipped, nothing after it tried)", calls.Load())
	}
}

// frameEnds returns the offset after each record of a segment.
func frameEnds(t *testing.T, path string) []int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ends []int64
	if err := scanFrames(bytes.NewReader(b), int64(len(b)), slog.New(slog.DiscardHandler), func(off int64, p []byte) {
		ends = append(ends, off+frameHeader+int64(len(p)))
	}); err != nil {
		t.Fatal(err)
	}
	return ends
}

func TestJournalTornWrite(t *testing.T) {
	for _, cut := range []int64{1, 4, frameHeader - 1, frameHeader, frameHeader + 7, -1} {
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			dir := t.TempDir()
			j, _ := openTestJournal(t, dir)
			appendContacts(t, j, "call-1", "call-2", "call-3", "call-4")
			j.Close()

			segs := segments(t, dir)
			if len(segs) != 1 {
				t.Fatalf("segments %v", segs)
			}
			ends := frameEnds(t, segs[0])
			if len(ends) != 4 {
				t.Fatalf("%d records in the segment, want 4", len(ends))
			}
			// The fourth write was cut short by a crash.
			size := ends[2] + cut
			if cut < 0 {
				size = ends[3] + cut
			}
			if err := os.Truncate(segs[0], size); err != nil {
				t.Fatal(err)
			}

			j, logs := openTestJournal(t, dir)
			if j.Pending() != 3 {
				t.Fatalf("Pending after a torn write = %d, want 3", j.Pending())
			}
			if !strings.Contains(logs.String(), "torn") {
				t.Error("the torn tail was not logged")
			}
			sink := &fakeSink{}
			if applied, err := j.Replay(t.Context(), sink); err != nil || applied != 3 {
				t.Fatalf("Replay = %d, %v", applied, err)
			}
			appendContacts(t, j, "call-5")
			if applied, err := j.Replay(t.Context(), sink); err != nil || applied != 1 {
				t.Fatalf("Replay of a record appended after reopening = %d, %v", applied, err)
			}
			if want := []string{"contact:call-1", "contact:call-2", "contact:call-3", "contact:call-5"}; !slices.Equal(sink.Applied(), want) {
				t.Errorf("applied %q, want %q", sink.Applied(), want)
			}
			j.Close()
			j, _ = openTestJournal(t, dir)
			if j.Pending() != 0 || len(segments(t, dir)) != 0 {
				t.Errorf("after a full replay and reopen: pending %d, segments %v", j.Pending(), segments(t, dir))
			}
		})
	}
}

func TestJournalEmptySegmentAfterCrash(t *testing.T) {
	// A crash right after a segment file was created, before its first
	// record reached the disk.
	dir := t.TempDir()
	j, _ := openTestJournal(t, dir)
	appendContacts(t, j, "call-1")
	j.Close()
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%020d%s", 2, segmentExt)), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	j, _ = openTestJournal(t, dir)
	appendContacts(t, j, "call-2")
	sink := &fakeSink{}
	if applied, err := j.Replay(t.Context(), sink); err != nil || applied != 2 {
		t.Fatalf("Replay = %d, %v", applied, err)
	}
	if s := segments(t, dir); len(s) != 0 {
		t.Errorf("segments left: %v", s)
	}
}

func TestJournalDamagedRecordSkipped(t *testing.T) {
	damage := map[string]func(b []byte, off int64){
		"payload": func(b []byte, off int64) { b[off+frameHeader+20] ^= 0x40 },
		"magic":   func(b []byte, off int64) { b[off] = 'X' },
		"length":  func(b []byte, off int64) { b[off+4], b[off+5], b[off+6] = 0xff, 0xff, 0x0f },
		"crc":     func(b []byte, off int64) { b[off+9]++ },
	}
	for name, spoil := range damage {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			j, _ := openTestJournal(t, dir)
			appendContacts(t, j, "call-1", "call-2", "call-3", "call-4")
			j.Close()

			seg := segments(t, dir)[0]
			ends := frameEnds(t, seg)
			b, err := os.ReadFile(seg)
			if err != nil {
				t.Fatal(err)
			}
			spoil(b, ends[0]) // the second record
			if err := os.WriteFile(seg, b, 0o600); err != nil {
				t.Fatal(err)
			}

			j, logs := openTestJournal(t, dir)
			if !strings.Contains(logs.String(), "damaged") {
				t.Error("the damaged record was not logged")
			}
			sink := &fakeSink{}
			if applied, err := j.Replay(t.Context(), sink); err != nil || applied != 3 {
				t.Fatalf("Replay = %d, %v", applied, err)
			}
			if want := []string{"contact:call-1", "contact:call-3", "contact:call-4"}; !slices.Equal(sink.Applied(), want) {
				t.Errorf("applied %q, want %q", sink.Applied(), want)
			}
		})
	}
}

func TestJournalConcurrentAppend(t *testing.T) {
	dir := t.TempDir()
	j, _ := openTestJournal(t, dir)
	j.segmentBytes = 8 << 10 // rotate every few records
	const writers, each = 16, 25
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				c := testContact(fmt.Sprintf("w%02d-%03d", w, i))
				if err := j.Append(Entry{Contact: &c}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if j.Pending() != writers*each {
		t.Fatalf("Pending = %d, want %d", j.Pending(), writers*each)
	}
	if n := len(segments(t, dir)); n < 2 {
		t.Errorf("%d segments; rotation did not happen", n)
	}

	// Reopen and replay: every record exactly once, each writer's in order.
	j.Close()
	j, _ = openTestJournal(t, dir)
	sink := &fakeSink{}
	if applied, err := j.Replay(t.Context(), sink); err != nil || applied != writers*each {
		t.Fatalf("Replay = %d, %v", applied, err)
	}
	seen := make(map[string]bool)
	last := make(map[string]string)
	for _, a := range sink.Applied() {
		if seen[a] {
			t.Errorf("%s applied twice", a)
		}
		seen[a] = true
		w := a[:len("contact:w00")]
		if a <= last[w] {
			t.Errorf("%s applied after %s", a, last[w])
		}
		last[w] = a
	}
	if len(seen) != writers*each {
		t.Errorf("%d distinct records applied, want %d", len(seen), writers*each)
	}
	if s := segments(t, dir); len(s) != 0 {
		t.Errorf("%d segments left after a full replay", len(s))
	}
}

func TestJournalInterruptedReplay(t *testing.T) {
	dir := t.TempDir()
	j, _ := openTestJournal(t, dir)
	j.segmentBytes = 2 << 10
	ids := []string{"call-1", "call-2", "call-3", "call-4", "call-5", "call-6"}
	appendContacts(t, j, ids...)

	// The process dies during a replay, right after the store took the
	// third record and the journal marked it.
	ctx, cancel := context.WithCancel(t.Context())
	first := &fakeSink{}
	first.SubmitFunc = func(_ context.Context, c Contact) (Receipt, error) {
		if c.ExternalID == "call-4" {
			cancel()
			return Receipt{}, context.Canceled
		}
		return Receipt{}, nil
	}
	applied, err := j.Replay(ctx, first)
	if !errors.Is(err, context.Canceled) || applied != 3 {
		t.Fatalf("interrupted Replay = %d, %v", applied, err)
	}
	// No Close: kill -9. A new process opens the journal.
	j2, _ := openTestJournal(t, dir)
	if j2.Pending() != 3 {
		t.Fatalf("Pending after restart = %d, want 3", j2.Pending())
	}
	second := &fakeSink{}
	if applied, err := j2.Replay(t.Context(), second); err != nil || applied != 3 {
		t.Fatalf("Replay after restart = %d, %v", applied, err)
	}
	all := append(first.Applied(), second.Applied()...)
	want := []string{"contact:call-1", "contact:call-2", "contact:call-3", "contact:call-4", "contact:call-5", "contact:call-6"}
	if !slices.Equal(all, want) {
		t.Errorf("applied %q, want each once: %q", all, want)
	}
}

func TestJournalMarkedButNotCompacted(t *testing.T) {
	// A crash after the cursor moved but before the segments were deleted.
	dir := t.TempDir()
	j, _ := openTestJournal(t, dir)
	appendContacts(t, j, "call-1", "call-2")
	j.Close()
	seg := segments(t, dir)[0]
	saved, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	j, _ = openTestJournal(t, dir)
	sink := &fakeSink{}
	if applied, err := j.Replay(t.Context(), sink); err != nil || applied != 2 {
		t.Fatalf("Replay = %d, %v", applied, err)
	}
	j.Close()
	if err := os.WriteFile(seg, saved, 0o600); err != nil { // the deletion never happened
		t.Fatal(err)
	}
	j, _ = openTestJournal(t, dir)
	if j.Pending() != 0 {
		t.Errorf("Pending = %d: done records came back", j.Pending())
	}
	if applied, err := j.Replay(t.Context(), sink); err != nil || applied != 0 {
		t.Errorf("Replay = %d, %v", applied, err)
	}
	if s := segments(t, dir); len(s) != 0 {
		t.Errorf("finished segments not deleted on open: %v", s)
	}
	appendContacts(t, j, "call-3")
	if applied, err := j.Replay(t.Context(), sink); err != nil || applied != 1 {
		t.Errorf("Replay of a new record = %d, %v", applied, err)
	}
	if want := []string{"contact:call-1", "contact:call-2", "contact:call-3"}; !slices.Equal(sink.Applied(), want) {
		t.Errorf("applied %q, want %q", sink.Applied(), want)
	}
}

func TestJournalCompaction(t *testing.T) {
	dir := t.TempDir()
	j, _ := openTestJournal(t, dir)
	j.segmentBytes = 4 << 10
	var ids []string
	for i := range 40 {
		ids = append(ids, fmt.Sprintf("call-%02d", i))
	}
	appendContacts(t, j, ids...)
	before := len(segments(t, dir))
	if before < 4 {
		t.Fatalf("%d segments, want several", before)
	}

	fail := 0
	sink := &fakeSink{SubmitFunc: func(_ context.Context, c Contact) (Receipt, error) {
		if c.ExternalID == "call-25" && fail < 1 {
			fail++
			return Receipt{}, errStoreDown
		}
		return Receipt{}, nil
	}}
	if applied, err := j.Replay(t.Context(), sink); !errors.Is(err, errStoreDown) || applied != 25 {
		t.Fatalf("Replay = %d, %v", applied, err)
	}
	mid := len(segments(t, dir))
	if mid >= before || mid == 0 {
		t.Errorf("segments: %d before, %d with 15 of 40 records left", before, mid)
	}
	if applied, err := j.Replay(t.Context(), sink); err != nil || applied != 15 {
		t.Fatalf("Replay = %d, %v", applied, err)
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	if want := []string{cursorFile, rejectedDir}; !slices.Equal(names, want) {
		t.Errorf("journal dir holds %q, want %q", names, want)
	}
}

func TestJournalRejectsInvalid(t *testing.T) {
	dir := t.TempDir()
	j, logs := openTestJournal(t, dir)
	c1, c2, c3 := testContact("call-1"), testContact("call-2"), testContact("call-3")
	n2 := testNote("call-2", "answered")
	for _, e := range []Entry{{Contact: &c1}, {Contact: &c2}, {Note: &n2}, {Contact: &c3}} {
		if err := j.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	sink := &fakeSink{}
	sink.SubmitFunc = func(_ context.Context, c Contact) (Receipt, error) {
		if c.ExternalID == "call-2" {
			return Receipt{}, fmt.Errorf("intake: %w: no caller", ErrInvalid)
		}
		return Receipt{}, nil
	}
	sink.RecordFunc = func(_ context.Context, n Note) error {
		if !sink.ticketed(n.Ref) {
			return fmt.Errorf("intake: contact %s: %w", n.Ref.ExternalID, ticketing.ErrNotFound)
		}
		return nil
	}
	applied, err := j.Replay(t.Context(), sink)
	if err != nil || applied != 2 || j.Pending() != 0 {
		t.Fatalf("Replay = %d, %v (pending %d)", applied, err, j.Pending())
	}
	if want := []string{"contact:call-1", "contact:call-3"}; !slices.Equal(sink.Applied(), want) {
		t.Errorf("applied %q, want %q", sink.Applied(), want)
	}
	if !strings.Contains(logs.String(), "refused") {
		t.Error("the rejection was not logged")
	}
	files, _ := filepath.Glob(filepath.Join(dir, rejectedDir, "*.json"))
	if len(files) != 2 {
		t.Fatalf("rejected files %v, want the contact and its note", files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Error  string
		Record record
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(doc.Error, "no caller") || doc.Record.Contact == nil || !reflect.DeepEqual(*doc.Record.Contact, c2) {
		t.Errorf("rejected file: error %q, contact %+v", doc.Error, doc.Record.Contact)
	}
}

func TestJournalNoteWaitsForItsContact(t *testing.T) {
	j, _ := openTestJournal(t, t.TempDir())
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	j.now = func() time.Time { return now }

	// The call's contact went to the store, which then went down; its
	// note was journaled. The store came back without the ticket yet (a
	// commit still in flight), then found it.
	n := testNote("call-1", "answered")
	if err := j.Append(Entry{Note: &n}); err != nil {
		t.Fatal(err)
	}
	appendContacts(t, j, "call-2")
	found := false
	sink := &fakeSink{RecordFunc: func(context.Context, Note) error {
		if !found {
			return ticketing.ErrNotFound
		}
		return nil
	}}
	applied, err := j.Replay(t.Context(), sink)
	if !errors.Is(err, ticketing.ErrNotFound) || applied != 0 || j.Pending() != 2 {
		t.Fatalf("Replay = %d, %v (pending %d): the note should wait", applied, err, j.Pending())
	}
	found = true
	if applied, err := j.Replay(t.Context(), sink); err != nil || applied != 2 {
		t.Fatalf("Replay = %d, %v", applied, err)
	}
	if want := []string{"note:call-1/answered", "contact:call-2"}; !slices.Equal(sink.Applied(), want) {
		t.Errorf("applied %q, want %q", sink.Applied(), want)
	}

	// A note whose contact never gets a ticket does not block the journal
	// for ever.
	found = false
	orphan := testNote("call-9", "hangup")
	if err := j.Append(Entry{Note: &orphan}); err != nil {
		t.Fatal(err)
	}
	appendContacts(t, j, "call-3")
	if _, err := j.Replay(t.Context(), sink); !errors.Is(err, ticketing.ErrNotFound) {
		t.Fatalf("Replay: %v", err)
	}
	now = now.Add(defaultNoteWait)
	if applied, err := j.Replay(t.Context(), sink); err != nil || applied != 1 || j.Pending() != 0 {
		t.Fatalf("Replay after the wait = %d, %v (pending %d)", applied, err, j.Pending())
	}
}

// blockingSink holds every call until release is closed, whatever its
// context says: a store that hangs.
type blockingSink struct {
	release chan struct{}
	calls   atomic.Int64
}

func (s *blockingSink) Submit(context.Context, Contact) (Receipt, error) {
	s.calls.Add(1)
	<-s.release
	return Receipt{Ticket: "late"}, nil
}

func (s *blockingSink) Record(context.Context, Note) error {
	s.calls.Add(1)
	<-s.release
	return nil
}

func TestCallIntakeStoreUp(t *testing.T) {
	log, _ := testLogger(t)
	j, _ := openTestJournal(t, t.TempDir())
	sink := &fakeSink{}
	ci := NewCallIntake(sink, j, 0, log)
	rc, err := ci.Submit(t.Context(), testContact("call-1"))
	if err != nil || rc.Journaled || rc.Ticket != "HL-20261127-0001" {
		t.Fatalf("Submit = %+v, %v", rc, err)
	}
	if err := ci.Record(t.Context(), testNote("call-1", "answered")); err != nil {
		t.Fatal(err)
	}
	if j.Pending() != 0 || len(sink.Applied()) != 2 {
		t.Errorf("pending %d, applied %q", j.Pending(), sink.Applied())
	}

	// A caller who hung up is still recorded.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if rc, err := ci.Submit(ctx, testContact("call-2")); err != nil || rc.Journaled || rc.Ticket == "" {
		t.Errorf("Submit after hang-up = %+v, %v", rc, err)
	}
}

func TestCallIntakeSlowStore(t *testing.T) {
	log, _ := testLogger(t)
	j, _ := openTestJournal(t, t.TempDir())
	sink := &blockingSink{release: make(chan struct{})}
	t.Cleanup(func() { close(sink.release) })
	const deadline = 100 * time.Millisecond
	ci := NewCallIntake(sink, j, deadline, log)

	start := time.Now()
	rc, err := ci.Submit(t.Context(), testContact("call-1"))
	el := time.Since(start)
	if err != nil || !rc.Journaled || rc.Ticket != "" {
		t.Fatalf("Submit = %+v, %v", rc, err)
	}
	if el > deadline+50*time.Millisecond {
		t.Errorf("Submit took %v with a deadline of %v", el, deadline)
	}

	// Notes for the journaled contact queue behind it, without asking the
	// store.
	calls := sink.calls.Load()
	start = time.Now()
	if err := ci.Record(t.Context(), testNote("call-1", "answered")); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 50*time.Millisecond || sink.calls.Load() != calls {
		t.Errorf("Record of a journaled contact's note took %v and asked the store", el)
	}
	// The same contact again (a retransmission) is not journaled twice.
	if rc, err := ci.Submit(t.Context(), testContact("call-1")); err != nil || !rc.Journaled {
		t.Errorf("Submit again = %+v, %v", rc, err)
	}
	// A note of a contact the store took earlier tries the store first.
	start = time.Now()
	if err := ci.Record(t.Context(), testNote("call-0", "hangup")); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > deadline+50*time.Millisecond {
		t.Errorf("Record took %v with a deadline of %v", el, deadline)
	}
	if j.Pending() != 3 {
		t.Errorf("Pending = %d, want 3", j.Pending())
	}
}

func TestCallIntakeInvalid(t *testing.T) {
	log, _ := testLogger(t)
	j, _ := openTestJournal(t, t.TempDir())
	sink := &fakeSink{
		SubmitFunc: func(context.Context, Contact) (Receipt, error) {
			return Receipt{}, fmt.Errorf("%w: no channel", ErrInvalid)
		},
		RecordFunc: func(context.Context, Note) error { return fmt.Errorf("%w: no note id", ErrInvalid) },
	}
	ci := NewCallIntake(sink, j, 0, log)
	if _, err := ci.Submit(t.Context(), testContact("call-1")); !errors.Is(err, ErrInvalid) {
		t.Errorf("Submit: %v, want ErrInvalid", err)
	}
	if err := ci.Record(t.Context(), testNote("call-1", "x")); !errors.Is(err, ErrInvalid) {
		t.Errorf("Record: %v, want ErrInvalid", err)
	}
	if j.Pending() != 0 {
		t.Errorf("bad input was journaled: pending %d", j.Pending())
	}
}

// waitFor polls cond for up to d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !cond(); {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCallIntakeRun(t *testing.T) {
	baseline := runtime.NumGoroutine()
	log, logs := testLogger(t)
	dir := t.TempDir()
	j, _ := openTestJournal(t, dir)

	var up atomic.Bool
	down := func() error {
		if up.Load() {
			return nil
		}
		return errStoreDown
	}
	sink := &fakeSink{
		SubmitFunc: func(context.Context, Contact) (Receipt, error) { return Receipt{}, down() },
		RecordFunc: func(context.Context, Note) error { return down() },
	}
	ci := NewCallIntake(sink, j, 50*time.Millisecond, log)
	ci.every = 10 * time.Millisecond

	if rc, err := ci.Submit(t.Context(), testContact("call-1")); err != nil || !rc.Journaled {
		t.Fatalf("Submit = %+v, %v", rc, err)
	}
	for _, id := range []string{"answered", "hangup"} {
		if err := ci.Record(t.Context(), testNote("call-1", id)); err != nil {
			t.Fatal(err)
		}
	}

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- ci.Run(ctx) }()

	time.Sleep(50 * time.Millisecond)
	if j.Pending() != 3 {
		t.Fatalf("Pending = %d while the store is down", j.Pending())
	}
	up.Store(true)
	waitFor(t, 5*time.Second, "the journal to drain", func() bool { return j.Pending() == 0 })
	if want := []string{"contact:call-1", "note:call-1/answered", "note:call-1/hangup"}; !slices.Equal(sink.Applied(), want) {
		t.Errorf("applied %q, want %q", sink.Applied(), want)
	}
	if got := strings.Count(logs.String(), "journal replay stopped"); got != 1 {
		t.Errorf("the failing replay was logged %d times, want once", got)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not stop")
	}
	waitFor(t, 2*time.Second, "goroutines to end", func() bool { return runtime.NumGoroutine() <= baseline })
}

func TestCallIntakeRunReplaysAtStart(t *testing.T) {
	// Records a crashed process left behind are replayed at once, not at
	// the first tick.
	dir := t.TempDir()
	j, _ := openTestJournal(t, dir)
	appendContacts(t, j, "call-1")
	j.Close()

	log, _ := testLogger(t)
	j, _ = openTestJournal(t, dir)
	sink := &fakeSink{}
	ci := NewCallIntake(sink, j, 0, log)
	ci.every = time.Hour
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- ci.Run(ctx) }()
	waitFor(t, 2*time.Second, "the replay at start", func() bool { return j.Pending() == 0 })
	if want := []string{"contact:call-1"}; !slices.Equal(sink.Applied(), want) {
		t.Errorf("applied %q", sink.Applied())
	}
	cancel()
	<-done
}

func TestCallIntakeRunStopsDuringHungReplay(t *testing.T) {
	baseline := runtime.NumGoroutine()
	log, _ := testLogger(t)
	j, _ := openTestJournal(t, t.TempDir())
	appendContacts(t, j, "call-1")
	sink := &blockingSink{release: make(chan struct{})}
	ci := NewCallIntake(sink, j, 0, log)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- ci.Run(ctx) }()
	waitFor(t, 2*time.Second, "the replay to reach the store", func() bool { return sink.calls.Load() > 0 })
	cancel()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("Run did not stop while the store hung")
	}
	close(sink.release) // the hung store call ends too
	waitFor(t, 2*time.Second, "goroutines to end", func() bool { return runtime.NumGoroutine() <= baseline })
	if j.Pending() != 1 {
		t.Errorf("Pending = %d: a record the store never confirmed was dropped", j.Pending())
	}
}

func TestJournalDamagedAfterOpen(t *testing.T) {
	// A record rots on disk after it was written: it is moved aside with
	// its bytes, the others go on.
	dir := t.TempDir()
	j, _ := openTestJournal(t, dir)
	appendContacts(t, j, "call-1", "call-2", "call-3")
	seg := segments(t, dir)[0]
	ends := frameEnds(t, seg)
	f, err := os.OpenFile(seg, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{'#'}, ends[0]+frameHeader+30); err != nil {
		t.Fatal(err)
	}
	f.Close()

	sink := &fakeSink{}
	if applied, err := j.Replay(t.Context(), sink); err != nil || applied != 2 {
		t.Fatalf("Replay = %d, %v", applied, err)
	}
	if want := []string{"contact:call-1", "contact:call-3"}; !slices.Equal(sink.Applied(), want) {
		t.Errorf("applied %q, want %q", sink.Applied(), want)
	}
	b, err := os.ReadFile(filepath.Join(dir, rejectedDir, fmt.Sprintf("%020d.json", 2)))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Raw []byte }
	if err := json.Unmarshal(b, &doc); err != nil || int64(len(doc.Raw)) != ends[1]-ends[0] {
		t.Errorf("rejected file keeps %d raw bytes (%v), want the %d of the frame", len(doc.Raw), err, ends[1]-ends[0])
	}
}
