package channels

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hotline-desk/hotline/internal/durable"
	"github.com/hotline-desk/hotline/ticketing"
)

// ErrInvalid marks a contact or note the intake refuses for what it is (bad
// input), as opposed to a store that is down or slow. A journaled record
// refused with it is moved aside instead of being retried forever; every
// other error is taken as temporary. It is the ticket core's own
// ticketing.ErrInvalid, so that errors of either package match.
var ErrInvalid = ticketing.ErrInvalid

// ErrJournalClosed is returned by a Journal after Close.
var ErrJournalClosed = errors.New("journal closed")

// Sink is where journaled records go when the store is back: the intake.
type Sink interface {
	Submit(ctx context.Context, c Contact) (Receipt, error)
	// Record adds a note to the ticket of an earlier contact. It fails
	// with an error matching ticketing.ErrNotFound while that contact has
	// no ticket.
	Record(ctx context.Context, n Note) error
}

// Entry is one journal record: a contact or a note, exactly one of them.
type Entry struct {
	Contact *Contact
	Note    *Note
}

func (e Entry) key() (EventRef, error) {
	switch {
	case e.Contact != nil && e.Note == nil:
		return e.Contact.Key(), nil
	case e.Note != nil && e.Contact == nil:
		return e.Note.Ref, nil
	}
	return EventRef{}, errors.New("journal: an entry holds exactly one of a contact and a note")
}

// Journal is the local, durable journal of contacts and notes that the
// store could not take in time (SPEC §5). It lives in one directory:
//
//	NNNNNNNNNNNNNNNNNNNN.seg  segments of records, named by their first sequence number
//	cursor                    every record with a smaller sequence number is done
//	rejected/                 records the intake refused as invalid, one JSON file each
//
// A record is a frame: the magic "HLJ\x01", the payload's length (uint32,
// little endian), a CRC-32C of those length bytes and the payload, then the
// payload, a JSON object (attachments in base64). A frame cut short by a
// crash is ignored; a damaged frame in the middle of a segment is skipped
// with a log line. Records are applied in order, so what is done is always
// a prefix and one cursor marks it. A segment whose records are all done is
// deleted; segments rotate at a size, so the journal does not grow while
// the store takes what it is given.
type Journal struct {
	dir string
	log *slog.Logger
	now func() time.Time

	// segmentBytes is the size past which a new segment is started.
	segmentBytes int64
	// noteWait is how long a note may wait for its contact's ticket (the
	// store answering not found) before it is moved aside.
	noteWait time.Duration

	// replayMu makes replays take turns; it guards the fields below it.
	replayMu  sync.Mutex
	cursor    uint64
	noteSince map[uint64]time.Time // seq → first "not found"
	rejected  map[EventRef]bool    // contacts moved aside by this process

	// flushWait bounds how long Append waits for its record to be
	// flushed to disk; syncFile flushes a segment (tests put a slow one in
	// its place).
	flushWait time.Duration
	syncFile  func(*os.File) error

	mu      sync.Mutex // guards the fields below
	closed  bool
	next    uint64 // sequence number of the next record
	segs    []*segment
	active  *segment // appended to; nil: the next Append starts a segment
	pending []pendingRecord
	keys    map[EventRef]int // pending records per contact key
	// flushed is the last sequence number known to be on disk. flushing,
	// while a flush runs, is closed when it ends; flushErr is that
	// flush's error, for the records it covered.
	flushed    uint64
	flushing   chan struct{}
	flushErr   error
	flushErrTo uint64
}

type segment struct {
	first   uint64
	path    string
	f       *os.File // while active
	size    int64
	pending int
}

type pendingRecord struct {
	seq  uint64
	seg  *segment
	off  int64 // of the frame
	n    int   // payload length
	key  EventRef
	note bool
}

const (
	frameHeader     = 12
	maxPayload      = 1 << 30
	defaultSegBytes = 8 << 20
	defaultNoteWait = 5 * time.Minute
	// defaultFlushWait is how long a call waits for its journal record to
	// reach the disk: a flush takes well under a millisecond on a healthy
	// disk, and a disk that stalls (VM disks do, for hundreds of
	// milliseconds) must not hold calls up.
	defaultFlushWait = 20 * time.Millisecond
	cursorFile       = "cursor"
	rejectedDir      = "rejected"
	segmentExt       = ".seg"
)

var (
	frameMagic = []byte("HLJ\x01")
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
)

// record is a frame's payload.
type record struct {
	V       int       `json:"v"`
	Seq     uint64    `json:"seq"`
	At      time.Time `json:"at"`
	Contact *Contact  `json:"contact,omitempty"`
	Note    *Note     `json:"note,omitempty"`
}

// recordHead is what opening a journal reads of each record.
type recordHead struct {
	Seq     uint64 `json:"seq"`
	Contact *struct {
		Channel    ticketing.Channel
		ExternalID string
	} `json:"contact"`
	Note *struct{ Ref EventRef } `json:"note"`
}

// OpenJournal opens the journal in dir, creating it if need be, and finds
// the records still to be applied, including those left by a crash.
func OpenJournal(dir string, log *slog.Logger) (*Journal, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	j := &Journal{
		dir:          dir,
		log:          log,
		now:          time.Now,
		segmentBytes: defaultSegBytes,
		noteWait:     defaultNoteWait,
		flushWait:    defaultFlushWait,
		syncFile:     (*os.File).Sync,
		noteSince:    make(map[uint64]time.Time),
		rejected:     make(map[EventRef]bool),
		keys:         make(map[EventRef]int),
	}
	if err := os.MkdirAll(filepath.Join(dir, rejectedDir), 0o700); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	_ = os.Remove(filepath.Join(dir, cursorFile+".tmp"))
	cursor, err := j.readCursor()
	if err != nil {
		return nil, err
	}
	j.cursor = cursor
	j.next = max(cursor, 1)

	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	for _, de := range des {
		name, ok := strings.CutSuffix(de.Name(), segmentExt)
		if !ok || !de.Type().IsRegular() {
			continue
		}
		first, err := strconv.ParseUint(name, 10, 64)
		if err != nil {
			j.log.Warn("journal: ignoring a file that is not a segment", "file", de.Name())
			continue
		}
		j.segs = append(j.segs, &segment{first: first, path: filepath.Join(dir, de.Name())})
	}
	slices.SortFunc(j.segs, func(a, b *segment) int { return cmpUint(a.first, b.first) })

	for _, s := range j.segs {
		j.next = max(j.next, s.first+1)
		if err := j.load(s); err != nil {
			return nil, err
		}
	}
	j.dropDone()
	if n := len(j.pending); n > 0 {
		j.log.Info("journal: records waiting for the store", "dir", dir, "pending", n)
	}
	return j, nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// load scans segment s and queues its records not yet done.
func (j *Journal) load(s *segment) error {
	f, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	s.size = fi.Size()
	return scanFrames(f, s.size, j.log.With("segment", s.path), func(off int64, payload []byte) {
		var h recordHead
		if err := json.Unmarshal(payload, &h); err != nil || (h.Contact == nil) == (h.Note == nil) {
			j.log.Error("journal: skipping a record that cannot be read", "segment", s.path, "offset", off, "err", err)
			return
		}
		j.next = max(j.next, h.Seq+1)
		if h.Seq < j.cursor {
			return
		}
		if n := len(j.pending); n > 0 && h.Seq <= j.pending[n-1].seq {
			j.log.Error("journal: skipping a record out of sequence", "segment", s.path, "offset", off, "seq", h.Seq)
			return
		}
		pr := pendingRecord{seq: h.Seq, seg: s, off: off, n: len(payload)}
		if h.Contact != nil {
			pr.key = EventRef{Channel: h.Contact.Channel, ExternalID: h.Contact.ExternalID}
		} else {
			pr.key, pr.note = h.Note.Ref, true
		}
		j.queue(pr)
	})
}

// scanFrames calls fn for every sound frame of the file, in order. It skips
// damaged stretches when a sound frame follows them, and stops at a torn
// tail.
func scanFrames(f io.ReaderAt, size int64, log *slog.Logger, fn func(off int64, payload []byte)) error {
	off := int64(0)
	for off < size {
		payload, err := readFrame(f, size, off)
		if err == nil {
			fn(off, payload)
			off += frameHeader + int64(len(payload))
			continue
		}
		next, err := resync(f, size, off+1)
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		if next < 0 {
			log.Warn("journal: ignoring a torn record at the end of a segment (a write cut short)", "offset", off, "bytes", size-off)
			return nil
		}
		log.Error("journal: skipping a damaged record", "offset", off, "bytes", next-off)
		off = next
	}
	return nil
}

var errBadFrame = errors.New("damaged record")

// readFrame reads the frame at off and checks it.
func readFrame(f io.ReaderAt, size, off int64) ([]byte, error) {
	if size-off < frameHeader {
		return nil, errBadFrame
	}
	var h [frameHeader]byte
	if _, err := f.ReadAt(h[:], off); err != nil {
		return nil, err
	}
	if !bytes.Equal(h[:4], frameMagic) {
		return nil, errBadFrame
	}
	n := int64(binary.LittleEndian.Uint32(h[4:8]))
	if n > maxPayload || n > size-off-frameHeader {
		return nil, errBadFrame
	}
	payload := make([]byte, n)
	if _, err := f.ReadAt(payload, off+frameHeader); err != nil {
		return nil, err
	}
	if frameCRC(h[4:8], payload) != binary.LittleEndian.Uint32(h[8:12]) {
		return nil, errBadFrame
	}
	return payload, nil
}

func frameCRC(length, payload []byte) uint32 {
	return crc32.Update(crc32.Checksum(length, castagnoli), castagnoli, payload)
}

// resync finds the next sound frame at or after off; -1 if there is none.
func resync(f io.ReaderAt, size, off int64) (int64, error) {
	buf := make([]byte, 64<<10)
	for off < size {
		n, err := f.ReadAt(buf, off)
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		chunk := buf[:n]
		for i := 0; ; {
			k := bytes.Index(chunk[i:], frameMagic)
			if k < 0 {
				break
			}
			at := off + int64(i+k)
			if _, err := readFrame(f, size, at); err == nil {
				return at, nil
			}
			i += k + 1
		}
		if int64(n) < int64(len(buf)) {
			break
		}
		off += int64(n) - int64(len(frameMagic)) + 1 // a magic may straddle chunks
	}
	return -1, nil
}

func (j *Journal) queue(pr pendingRecord) {
	j.pending = append(j.pending, pr)
	pr.seg.pending++
	j.keys[pr.key]++
}

// Append writes e to the journal. When it returns nil the record is in the
// segment file, so that it survives the process being killed, and it is
// on disk too unless the disk took longer than flushWait to flush it: a
// call does not wait on a stalled disk (SPEC §5), and its record reaches
// the disk with the flush under way. The records appended meanwhile share
// one flush. A new segment's directory entry is flushed before the first
// record is written to it.
func (j *Journal) Append(e Entry) error {
	key, err := e.key()
	if err != nil {
		return err
	}
	field, v := "contact", any(e.Contact)
	if e.Note != nil {
		field, v = "note", e.Note
	}
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	at, err := j.now().UTC().MarshalJSON()
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}

	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return ErrJournalClosed
	}
	seq := j.next
	j.next++

	frame := make([]byte, frameHeader, frameHeader+len(body)+len(at)+64)
	copy(frame, frameMagic)
	frame = fmt.Appendf(frame, `{"v":1,"seq":%d,"at":%s,%q:`, seq, at, field)
	frame = append(frame, body...)
	frame = append(frame, '}')
	n := len(frame) - frameHeader
	if n > maxPayload {
		return fmt.Errorf("journal: record of %d bytes is too large", n)
	}
	binary.LittleEndian.PutUint32(frame[4:8], uint32(n))
	binary.LittleEndian.PutUint32(frame[8:12], frameCRC(frame[4:8], frame[frameHeader:]))

	if j.active == nil || j.active.size >= j.segmentBytes {
		if err := j.rotate(seq); err != nil {
			return err
		}
	}
	s := j.active
	if _, err := s.f.Write(frame); err != nil {
		j.abandonActive()
		return fmt.Errorf("journal: %w", err)
	}
	off := s.size
	s.size += int64(len(frame))
	j.queue(pendingRecord{seq: seq, seg: s, off: off, n: n, key: key, note: e.Note != nil})
	return j.awaitFlush(seq)
}

// awaitFlush waits, up to flushWait, until the record seq is on disk: it
// joins the flush under way if that flush covers seq, and otherwise starts
// one that covers every record written so far. Called with j.mu held; it
// returns with j.mu held.
func (j *Journal) awaitFlush(seq uint64) error {
	timeout := time.NewTimer(j.flushWait)
	defer timeout.Stop()
	for {
		switch {
		case j.flushErr != nil && seq <= j.flushErrTo:
			return fmt.Errorf("journal: %w", j.flushErr)
		case j.flushed >= seq:
			return nil
		case j.flushing == nil:
			if j.active == nil {
				// Its segment was closed since: flushed on closing (a
				// failed flush is flushErr, above), or its records are
				// all in the store.
				return nil
			}
			j.flushing = make(chan struct{})
			go j.flush(j.active, j.next-1, j.flushing)
		}
		done := j.flushing
		j.mu.Unlock()
		select {
		case <-done:
			j.mu.Lock()
		case <-timeout.C:
			j.mu.Lock()
			return nil
		}
	}
}

// flush syncs the segment s, which holds every record up to last not
// flushed yet, and closes done.
func (j *Journal) flush(s *segment, last uint64, done chan struct{}) {
	j.mu.Lock()
	f := s.f
	j.mu.Unlock()
	// A segment closed meanwhile was flushed by whoever closed it (which
	// recorded the outcome): os.File defers closing the descriptor until
	// a Sync under way returns, and a later one fails with ErrClosed.
	closed := f == nil
	var err error
	if !closed {
		err = j.syncFile(f)
		closed = errors.Is(err, os.ErrClosed)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	switch {
	case closed:
	case err != nil:
		j.log.Error("journal: flush failed; starting a new segment", "segment", s.path, "err", err)
		j.flushErr, j.flushErrTo = err, last
		if j.active == s {
			// Not flushed again on close: after a failed fsync the next
			// one may succeed without the lost pages.
			s.f.Close()
			s.f = nil
			j.active = nil
			j.dropDone()
		}
	default:
		j.flushed = max(j.flushed, last)
	}
	j.flushing = nil
	close(done)
}

// closeSegment flushes and closes the active segment's file. Called with
// j.mu held.
func (j *Journal) closeSegment(s *segment) error {
	err := j.syncFile(s.f)
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	if err != nil {
		j.flushErr, j.flushErrTo = err, j.next-1
	} else {
		j.flushed = max(j.flushed, j.next-1)
	}
	return err
}

// rotate closes the active segment and starts one whose first record is
// seq. Called with j.mu held.
func (j *Journal) rotate(seq uint64) error {
	if j.active != nil {
		err := j.closeSegment(j.active)
		j.active = nil
		j.dropDone()
		if err != nil {
			return fmt.Errorf("journal: flush a full segment: %w", err)
		}
	}
	path := filepath.Join(j.dir, fmt.Sprintf("%020d%s", seq, segmentExt))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if err := durable.SyncDir(j.dir); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("journal: %w", err)
	}
	s := &segment{first: seq, path: path, f: f}
	j.segs = append(j.segs, s)
	j.active = s
	return nil
}

// abandonActive stops appending to the active segment after a failed write:
// whatever part of the frame reached the disk becomes that segment's torn
// tail. Called with j.mu held.
func (j *Journal) abandonActive() {
	// The records before the torn one were written whole: flush them.
	if err := j.closeSegment(j.active); err != nil {
		j.log.Error("journal: flush of an abandoned segment failed", "segment", j.active.path, "err", err)
	}
	j.active = nil
	j.dropDone()
}

// dropDone deletes the segments whose records are all done. Called with
// j.mu held.
func (j *Journal) dropDone() {
	kept := j.segs[:0]
	for _, s := range j.segs {
		if s.pending > 0 {
			kept = append(kept, s)
			continue
		}
		if s == j.active {
			s.f.Close()
			s.f = nil
			j.active = nil
		}
		if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			j.log.Warn("journal: cannot delete a finished segment", "segment", s.path, "err", err)
		}
	}
	clear(j.segs[len(kept):])
	j.segs = kept
}

// Pending is the number of records waiting for the store (the
// hotline_journal_backlog metric).
func (j *Journal) Pending() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.pending)
}

// hasPending reports whether a record about the contact key waits in the
// journal; later notes for it must queue behind.
func (j *Journal) hasPending(key EventRef) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.keys[key] > 0
}

// Close closes the journal. Its records stay on disk for the next open.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil
	}
	j.closed = true
	var err error
	if j.active != nil {
		err = j.closeSegment(j.active)
		j.active = nil
	}
	return err
}

// Replay applies the pending records through sink, in order. A record is
// marked done once sink returned nil for it. Replay stops at the first
// temporary failure (the store is still down) and returns it; the record
// and those after it wait for the next replay. A record the sink refuses as
// invalid (ErrInvalid) is moved to rejected/ and logged. A note whose
// contact has no ticket yet waits, up to a few minutes, and is then moved
// aside too. Applied counts the records the sink took.
func (j *Journal) Replay(ctx context.Context, sink Sink) (applied int, err error) {
	j.replayMu.Lock()
	defer j.replayMu.Unlock()
	for {
		if err := ctx.Err(); err != nil {
			return applied, err
		}
		j.mu.Lock()
		if j.closed {
			j.mu.Unlock()
			return applied, ErrJournalClosed
		}
		if len(j.pending) == 0 {
			j.mu.Unlock()
			return applied, nil
		}
		pr := j.pending[0]
		j.mu.Unlock()

		payload, rec, err := j.read(pr)
		if errors.Is(err, errBadFrame) {
			// Damaged on disk since the journal was opened.
			j.log.Error("journal: a record is damaged; moved to "+rejectedDir+"/", "seq", pr.seq,
				"channel", pr.key.Channel, "external_id", pr.key.ExternalID, "err", err)
			if err := j.reject(pr, payload, err); err != nil {
				return applied, err
			}
			continue
		}
		if err != nil {
			return applied, fmt.Errorf("journal: record %d: %w", pr.seq, err)
		}

		if rec.Contact != nil {
			_, err = sink.Submit(ctx, *rec.Contact)
		} else {
			err = sink.Record(ctx, *rec.Note)
		}
		switch {
		case err == nil:
			if err := j.markDone(pr); err != nil {
				return applied, err
			}
			applied++
		case ctx.Err() != nil:
			return applied, ctx.Err()
		case errors.Is(err, ErrInvalid):
			j.log.Error("journal: the intake refused a record; moved to "+rejectedDir+"/", "seq", pr.seq,
				"channel", pr.key.Channel, "external_id", pr.key.ExternalID, "err", err)
			if !pr.note {
				j.rejected[pr.key] = true
			}
			if err := j.reject(pr, payload, err); err != nil {
				return applied, err
			}
		case pr.note && errors.Is(err, ticketing.ErrNotFound):
			since, ok := j.noteSince[pr.seq]
			if !ok {
				since = j.now()
				j.noteSince[pr.seq] = since
			}
			if !j.rejected[pr.key] && j.now().Sub(since) < j.noteWait {
				return applied, fmt.Errorf("journal: note %d waits for its contact's ticket: %w", pr.seq, err)
			}
			j.log.Error("journal: a note's contact was never ticketed; moved to "+rejectedDir+"/", "seq", pr.seq,
				"channel", pr.key.Channel, "external_id", pr.key.ExternalID, "err", err)
			if err := j.reject(pr, payload, err); err != nil {
				return applied, err
			}
		default:
			return applied, fmt.Errorf("journal: record %d: %w", pr.seq, err)
		}
	}
}

// read reads and decodes a pending record. A record damaged since it was
// written fails with errBadFrame, and its bytes are returned as they are.
func (j *Journal) read(pr pendingRecord) ([]byte, *record, error) {
	f, err := os.Open(pr.seg.path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	payload, err := readFrame(f, pr.off+frameHeader+int64(pr.n), pr.off)
	if errors.Is(err, errBadFrame) {
		raw := make([]byte, frameHeader+pr.n)
		n, _ := f.ReadAt(raw, pr.off)
		return raw[:n], nil, err
	}
	if err != nil {
		return nil, nil, err
	}
	var rec record
	if err := json.Unmarshal(payload, &rec); err != nil {
		return payload, nil, fmt.Errorf("%w: %v", errBadFrame, err)
	}
	if (rec.Contact == nil) == (rec.Note == nil) || rec.Seq != pr.seq {
		return payload, nil, fmt.Errorf("%w: not the record expected", errBadFrame)
	}
	return payload, &rec, nil
}

// markDone records durably that pr and everything before it is done, then
// drops it from the queue. Called with j.replayMu held.
func (j *Journal) markDone(pr pendingRecord) error {
	if err := j.writeCursor(pr.seq + 1); err != nil {
		return err
	}
	j.cursor = pr.seq + 1
	delete(j.noteSince, pr.seq)

	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.pending) == 0 || j.pending[0].seq != pr.seq {
		return nil // cannot happen: only Replay pops, one at a time
	}
	j.pending[0] = pendingRecord{}
	j.pending = j.pending[1:]
	if len(j.pending) == 0 {
		j.pending = nil // let the backing array go
	}
	pr.seg.pending--
	if j.keys[pr.key]--; j.keys[pr.key] <= 0 {
		delete(j.keys, pr.key)
	}
	if pr.seg.pending == 0 {
		j.dropDone()
	}
	return nil
}

// reject moves pr to rejected/ for a human to look at, and marks it done.
func (j *Journal) reject(pr pendingRecord, payload []byte, cause error) error {
	doc := struct {
		Seq        uint64          `json:"seq"`
		RejectedAt time.Time       `json:"rejected_at"`
		Error      string          `json:"error"`
		Record     json.RawMessage `json:"record,omitempty"`
		Raw        []byte          `json:"raw,omitempty"`
	}{Seq: pr.seq, RejectedAt: j.now().UTC(), Error: cause.Error()}
	if json.Valid(payload) {
		doc.Record = payload
	} else {
		doc.Raw = payload
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	dir := filepath.Join(j.dir, rejectedDir)
	if err := durable.WriteFile(filepath.Join(dir, fmt.Sprintf("%020d.json", pr.seq)), b, 0o600); err != nil {
		return err
	}
	return j.markDone(pr)
}

func (j *Journal) readCursor() (uint64, error) {
	b, err := os.ReadFile(filepath.Join(j.dir, cursorFile))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("journal: %w", err)
	}
	if len(b) != 12 || crc32.Checksum(b[:8], castagnoli) != binary.LittleEndian.Uint32(b[8:]) {
		// Written by rename, so this is not a torn write but damage: applying
		// everything again is safe, the intake being idempotent.
		j.log.Error("journal: the cursor is damaged; replaying every record", "file", filepath.Join(j.dir, cursorFile))
		return 0, nil
	}
	return binary.LittleEndian.Uint64(b[:8]), nil
}

func (j *Journal) writeCursor(c uint64) error {
	var b [12]byte
	binary.LittleEndian.PutUint64(b[:8], c)
	binary.LittleEndian.PutUint32(b[8:], crc32.Checksum(b[:8], castagnoli))
	if err := durable.WriteFile(filepath.Join(j.dir, cursorFile), b[:], 0o600); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// DefaultStoreDeadline is how long a call waits for the store before its
// contact is journaled instead. A healthy store commits a call's ticket in
// a few milliseconds (p99 10-25 ms at 1,000-1,200 calls/s in bench/sip);
// a disk that stalls for a few hundred milliseconds must not hold every
// call of that moment up as long, nor pile them past the SIP channel's
// bound on calls being set up, which refuses calls with 503.
const DefaultStoreDeadline = 50 * time.Millisecond

// CallIntake is the intake as the call adapters (sip, ari) use it: a call
// never waits on the ticket store longer than a short deadline. When the
// store is slow or down, the contact or note is written to the journal and
// the call goes on; Run hands the journal to the store when it is back.
// Mail does not use it (it answers 451), nor fax (the file stays in the
// inbox).
type CallIntake struct {
	sink     Sink
	journal  *Journal
	log      *slog.Logger
	deadline time.Duration

	// every is how often Run replays the journal; replayTimeout bounds one
	// record's trip to the store during a replay.
	every         time.Duration
	replayTimeout time.Duration
}

var _ Sink = (*CallIntake)(nil)

// NewCallIntake returns the call intake over sink (the intake), journaling
// into j what sink cannot take within deadline (0: DefaultStoreDeadline).
func NewCallIntake(sink Sink, j *Journal, deadline time.Duration, log *slog.Logger) *CallIntake {
	if deadline <= 0 {
		deadline = DefaultStoreDeadline
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &CallIntake{
		sink:          sink,
		journal:       j,
		log:           log,
		deadline:      deadline,
		every:         time.Second,
		replayTimeout: 30 * time.Second,
	}
}

// Submit hands c to the intake, or journals it when the intake does not
// answer in time or fails for a reason other than bad input; the receipt is
// then Journaled and carries no ticket number. Errors are those of bad
// input (ErrInvalid), and of a journal that cannot be written either.
func (ci *CallIntake) Submit(ctx context.Context, c Contact) (Receipt, error) {
	if ci.journal.hasPending(c.Key()) {
		// Submitted before, and waiting in the journal: it is idempotent.
		return Receipt{Journaled: true}, nil
	}
	rc, err := callWithin(context.WithoutCancel(ctx), ci.deadline, func(ctx context.Context) (Receipt, error) {
		return ci.sink.Submit(ctx, c)
	})
	if err == nil {
		return rc, nil
	}
	if errors.Is(err, ErrInvalid) {
		return Receipt{}, err
	}
	if jerr := ci.journal.Append(Entry{Contact: &c}); jerr != nil {
		return Receipt{}, fmt.Errorf("intake: store: %v; and %w", err, jerr)
	}
	ci.log.Warn("store slow or down: contact journaled",
		"channel", c.Channel, "external_id", c.ExternalID, "err", err)
	return Receipt{Journaled: true}, nil
}

// Record adds n to its contact's ticket, or journals it like Submit does.
// A note whose contact still waits in the journal goes to the journal
// behind it, so that the notes of a call keep their order.
func (ci *CallIntake) Record(ctx context.Context, n Note) error {
	if !ci.journal.hasPending(n.Ref) {
		_, err := callWithin(context.WithoutCancel(ctx), ci.deadline, func(ctx context.Context) (struct{}, error) {
			return struct{}{}, ci.sink.Record(ctx, n)
		})
		if err == nil || errors.Is(err, ErrInvalid) {
			return err
		}
		ci.log.Warn("store slow or down: note journaled",
			"channel", n.Ref.Channel, "external_id", n.Ref.ExternalID, "note", n.ID, "err", err)
	}
	if err := ci.journal.Append(Entry{Note: &n}); err != nil {
		return fmt.Errorf("intake: %w", err)
	}
	return nil
}

// Run replays the journal at once (records a crash left behind) and then
// every second, until ctx is done. It returns nil then.
func (ci *CallIntake) Run(ctx context.Context) error {
	t := time.NewTicker(ci.every)
	defer t.Stop()
	failing := false
	for {
		if ci.journal.Pending() > 0 {
			n, err := ci.journal.Replay(ctx, replaySink{ci})
			switch {
			case ctx.Err() != nil:
				return nil
			case err != nil:
				if !failing {
					ci.log.Warn("journal replay stopped; retrying every "+ci.every.String(),
						"applied", n, "backlog", ci.journal.Pending(), "err", err)
				}
				failing = true
			default:
				ci.log.Info("journal replayed", "applied", n, "backlog", ci.journal.Pending())
				failing = false
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// replaySink bounds each call of a replay to replayTimeout.
type replaySink struct{ ci *CallIntake }

func (s replaySink) Submit(ctx context.Context, c Contact) (Receipt, error) {
	return callWithin(ctx, s.ci.replayTimeout, func(ctx context.Context) (Receipt, error) {
		return s.ci.sink.Submit(ctx, c)
	})
}

func (s replaySink) Record(ctx context.Context, n Note) error {
	_, err := callWithin(ctx, s.ci.replayTimeout, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, s.ci.sink.Record(ctx, n)
	})
	return err
}

// callWithin calls f with a context that ends after d, and returns when f
// does or that context ends, whichever comes first, so that a store that
// ignores its context still cannot hold the caller. (Submit and Record pass
// a context without cancel: a caller hanging up must not stop the contact
// from being recorded.)
func callWithin[T any](ctx context.Context, d time.Duration, f func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := f(ctx)
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}
