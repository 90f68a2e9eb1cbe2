package fax

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-desk/hotline/channels"
	"github.com/hotline-desk/hotline/internal/durable"
	"github.com/hotline-desk/hotline/metrics"
)

// Processor takes one fax (*Service).
type Processor interface {
	Process(ctx context.Context, d channels.FaxDocument) (Outcome, error)
}

type InboxConfig struct {
	// Dir is the inbox; done/ and failed/ are made inside it.
	Dir string
	// Poll is how often the inbox is looked at.
	Poll time.Duration
	// Settle is how long a file (and its sidecar) must stay unchanged
	// before it is taken: a file still being written is not picked up
	// half-written.
	Settle time.Duration
	// MaxBytes bounds a fax file; a larger one is a failed fax.
	MaxBytes int64
	Location *time.Location // for sidecar times without a zone
}

// Inbox watches the fax inbox directory (Asterisk's ReceiveFAX, a spool
// that HylaFAX or a scanner writes). Each TIFF, with its optional sidecar
// NAME.json, becomes a ticket; the file leaves the inbox (for done/, or
// failed/ with NAME.reason) only after the ticket is committed. A crash
// between the two leaves the file in the inbox, and taking it again finds
// the ticket already made (the file's sha256 is the contact's key).
type Inbox struct {
	cfg  InboxConfig
	p    Processor
	mon  *metrics.Fax
	log  *slog.Logger
	seen map[string]fileSeen
	now  func() time.Time
}

// fileSeen is what a scan saw of a file, to tell when it stops changing.
type fileSeen struct {
	sig   string    // size and modification time of the file and sidecar
	since time.Time // when sig was first seen
}

// Sidecar is the optional NAME.json beside a fax: what the fax machine or
// Asterisk's dialplan knows about the call. Pages may be a number or a
// string (dialplan variables are strings).
type Sidecar struct {
	Caller     string          `json:"caller"`
	StationID  string          `json:"station_id"`
	Status     string          `json:"status"` // SUCCESS or FAILURE (FAXSTATUS)
	Error      string          `json:"error"`
	Pages      json.RawMessage `json:"pages"`
	ReceivedAt string          `json:"received_at"`
}

func NewInbox(p Processor, cfg InboxConfig, mon *metrics.Fax, log *slog.Logger) (*Inbox, error) {
	if cfg.Poll <= 0 {
		cfg.Poll = 500 * time.Millisecond
	}
	if cfg.Settle <= 0 {
		cfg.Settle = 3 * time.Second
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 64 << 20
	}
	if cfg.Location == nil {
		cfg.Location = time.Local
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for _, d := range []string{cfg.Dir, filepath.Join(cfg.Dir, "done"), filepath.Join(cfg.Dir, "failed")} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("fax inbox: %w", err)
		}
	}
	return &Inbox{cfg: cfg, p: p, mon: mon, log: log, seen: map[string]fileSeen{}, now: time.Now}, nil
}

// Run watches the inbox until ctx is done.
func (in *Inbox) Run(ctx context.Context) error {
	in.log.Info("fax inbox watched", "dir", in.cfg.Dir)
	t := time.NewTicker(in.cfg.Poll)
	defer t.Stop()
	for {
		if _, err := in.Scan(ctx); err != nil && ctx.Err() == nil {
			in.log.Warn("fax inbox", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Scan takes every fax in the inbox that is ready. It returns how many it
// took; an error means some are left for the next scan (the store is
// down, say).
func (in *Inbox) Scan(ctx context.Context) (int, error) {
	entries, err := os.ReadDir(in.cfg.Dir)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", in.cfg.Dir, err)
	}
	names := map[string]bool{}
	for _, e := range entries {
		if e.Type().IsRegular() && !ignored(e.Name()) {
			names[e.Name()] = true
		}
	}
	type job struct {
		fax, sidecar string
		mtime        time.Time
	}
	var ready []job
	now := in.now()
	alive := map[string]bool{}
	for name := range names {
		fax, sidecar := name, ""
		if strings.HasSuffix(name, ".json") {
			// A sidecar alone: the fax it describes failed before any
			// file was written, or its file is still to come.
			if faxFor(name, names) != "" {
				continue
			}
			fax, sidecar = "", name
		} else {
			sidecar = sidecarFor(name, names)
		}
		key := fax + "|" + sidecar
		alive[key] = true
		sig, mtime, ok := in.signature(fax, sidecar)
		if !ok {
			continue
		}
		s, known := in.seen[key]
		if !known || s.sig != sig {
			s = fileSeen{sig: sig, since: now}
			// A file untouched for Settle before we first saw it (after a
			// restart) is ready at once.
			if now.Sub(mtime) >= in.cfg.Settle {
				s.since = mtime
			}
			in.seen[key] = s
		}
		settle := in.cfg.Settle
		if fax == "" {
			// A sidecar waits longer for its fax, unless it says the fax
			// failed.
			if sc, err := readSidecar(filepath.Join(in.cfg.Dir, sidecar)); err != nil || isSuccess(sc.Status) {
				settle *= 10
			}
		}
		if now.Sub(s.since) < settle || now.Sub(mtime) < in.cfg.Settle {
			continue
		}
		ready = append(ready, job{fax, sidecar, mtime})
	}
	for key := range in.seen {
		if !alive[key] {
			delete(in.seen, key)
		}
	}
	sort.Slice(ready, func(i, j int) bool { return ready[i].mtime.Before(ready[j].mtime) })
	taken := 0
	var errs []error
	for _, j := range ready {
		if ctx.Err() != nil {
			return taken, ctx.Err()
		}
		if err := in.take(ctx, j.fax, j.sidecar); err != nil {
			errs = append(errs, err)
			continue
		}
		delete(in.seen, j.fax+"|"+j.sidecar)
		taken++
	}
	return taken, errors.Join(errs...)
}

// ignored are names writers use while a file is not complete yet, and the
// reason files of failed/.
func ignored(name string) bool {
	if strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") {
		return true
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".tmp", ".part", ".partial", ".swp", ".reason", ".lock":
		return true
	}
	return false
}

// sidecarFor finds the sidecar of a fax: NAME.json or STEM.json.
func sidecarFor(fax string, names map[string]bool) string {
	for _, c := range []string{fax + ".json", strings.TrimSuffix(fax, filepath.Ext(fax)) + ".json"} {
		if c != fax && names[c] {
			return c
		}
	}
	return ""
}

// faxFor finds the fax a sidecar belongs to.
func faxFor(sidecar string, names map[string]bool) string {
	stem := strings.TrimSuffix(sidecar, ".json")
	if names[stem] && !strings.HasSuffix(stem, ".json") {
		return stem
	}
	for n := range names {
		if n != sidecar && !strings.HasSuffix(n, ".json") && strings.TrimSuffix(n, filepath.Ext(n)) == stem {
			return n
		}
	}
	return ""
}

// signature is the size and time of the fax and its sidecar; it changes
// while either is being written.
func (in *Inbox) signature(fax, sidecar string) (string, time.Time, bool) {
	var sig strings.Builder
	var latest time.Time
	for _, n := range []string{fax, sidecar} {
		if n == "" {
			continue
		}
		fi, err := os.Stat(filepath.Join(in.cfg.Dir, n))
		if err != nil {
			return "", time.Time{}, false
		}
		fmt.Fprintf(&sig, "%s:%d:%d;", n, fi.Size(), fi.ModTime().UnixNano())
		if fi.ModTime().After(latest) {
			latest = fi.ModTime()
		}
	}
	return sig.String(), latest, true
}

// take makes the ticket of one fax, then moves its files out of the inbox.
func (in *Inbox) take(ctx context.Context, fax, sidecar string) error {
	doc := channels.FaxDocument{Source: "inbox", Name: fax, Metadata: map[string]string{}}
	var mtime time.Time
	if fax != "" {
		path := filepath.Join(in.cfg.Dir, fax)
		data, key, size, err := readLimited(path, in.cfg.MaxBytes)
		if err != nil {
			return fmt.Errorf("read %s: %w", fax, err)
		}
		doc.Data, doc.ExternalID = data, key
		if data == nil && size > 0 {
			doc.Status = "FAILURE"
			doc.Error = fmt.Sprintf("the file is %d MiB, more than the %d MiB a fax may be", size>>20, in.cfg.MaxBytes>>20)
		}
		if fi, err := os.Stat(path); err == nil {
			mtime = fi.ModTime()
		}
	}
	if sidecar != "" {
		path := filepath.Join(in.cfg.Dir, sidecar)
		sc, err := readSidecar(path)
		if err != nil {
			doc.Metadata["sidecar_error"] = err.Error()
		} else {
			in.apply(&doc, sc)
		}
		if fax == "" {
			// No file: the sidecar's own bytes make the fax's identity.
			b, _ := os.ReadFile(path)
			sum := sha256.Sum256(b)
			doc.ExternalID = "sidecar:" + hex.EncodeToString(sum[:])
			if doc.Error == "" {
				doc.Error = "no fax file arrived"
			}
			if isSuccess(doc.Status) {
				doc.Status = "FAILURE"
			}
		}
		if fi, err := os.Stat(path); err == nil && mtime.IsZero() {
			mtime = fi.ModTime()
		}
	}
	if doc.ReceivedAt.IsZero() {
		doc.ReceivedAt = mtime
	}
	o, err := in.p.Process(ctx, doc)
	if err != nil {
		return err
	}
	dest := "done"
	if o.Status == StatusFailed {
		dest = "failed"
	}
	base := fax
	if base == "" {
		base = sidecar
	}
	target := uniqueName(filepath.Join(in.cfg.Dir, dest), base)
	if dest == "failed" {
		reason := fmt.Sprintf("%v\nticket: %s\n", o.Problem, o.Ticket)
		if err := durable.WriteFile(filepath.Join(in.cfg.Dir, dest, target+".reason"), []byte(reason), 0o640); err != nil {
			return fmt.Errorf("write the reason for %s: %w", base, err)
		}
	}
	// The fax first: once it is gone from the inbox, it is not taken
	// again; a sidecar left behind alone is then harmless (its ticket is
	// found by the same key when it is taken).
	if fax != "" {
		if err := os.Rename(filepath.Join(in.cfg.Dir, fax), filepath.Join(in.cfg.Dir, dest, target)); err != nil {
			return fmt.Errorf("move %s to %s/: %w", fax, dest, err)
		}
	}
	if sidecar != "" {
		to := target + ".json"
		if fax == "" {
			to = target
		}
		if err := os.Rename(filepath.Join(in.cfg.Dir, sidecar), filepath.Join(in.cfg.Dir, dest, to)); err != nil {
			return fmt.Errorf("move %s to %s/: %w", sidecar, dest, err)
		}
	}
	durable.SyncDir(filepath.Join(in.cfg.Dir, dest))
	durable.SyncDir(in.cfg.Dir)
	in.mon.InboxFileMoved(dest)
	in.log.Info("fax inbox: file taken", "file", base, "ticket", o.Ticket, "status", o.Status, "to", dest)
	return nil
}

func (in *Inbox) apply(doc *channels.FaxDocument, sc Sidecar) {
	doc.Caller, doc.StationID = strings.TrimSpace(sc.Caller), strings.TrimSpace(sc.StationID)
	if s := strings.TrimSpace(sc.Status); s != "" {
		doc.Status = s
	}
	if e := strings.TrimSpace(sc.Error); e != "" {
		if doc.Error != "" {
			doc.Error += "; "
		}
		doc.Error += e
	}
	if p := strings.Trim(strings.TrimSpace(string(sc.Pages)), `"`); p != "" && p != "null" {
		if n, err := strconv.Atoi(p); err == nil && n >= 0 {
			doc.Pages = n
		}
	}
	if t, ok := parseTime(sc.ReceivedAt, in.cfg.Location); ok {
		doc.ReceivedAt = t
	}
}

func isSuccess(status string) bool {
	s := strings.ToUpper(strings.TrimSpace(status))
	return s == "" || s == "SUCCESS" || s == "OK"
}

// parseTime reads a sidecar time: RFC 3339, a local "2006-01-02 15:04:05",
// or Unix seconds (Asterisk's ${EPOCH}).
func parseTime(s string, loc *time.Location) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, true
	}
	if t, err := time.ParseInLocation("2006-01-02 15:04:05", s, loc); err == nil {
		return t, true
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
		return time.Unix(n, 0), true
	}
	return time.Time{}, false
}

func readSidecar(path string) (Sidecar, error) {
	var sc Sidecar
	b, err := os.ReadFile(path)
	if err != nil {
		return sc, err
	}
	if len(b) > 64<<10 {
		return sc, errors.New("sidecar larger than 64 KiB")
	}
	if err := json.Unmarshal(b, &sc); err != nil {
		return sc, fmt.Errorf("sidecar %s: %w", filepath.Base(path), err)
	}
	return sc, nil
}

// readLimited reads a file of at most max bytes, with its key. A larger
// file is hashed but not kept: data is nil, size says how large it is.
func readLimited(path string, max int64) (data []byte, key string, size int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, "", 0, err
	}
	if fi.Size() > max {
		h := sha256.New()
		n, err := io.Copy(h, f)
		if err != nil {
			return nil, "", 0, err
		}
		return nil, "sha256:" + hex.EncodeToString(h.Sum(nil)), n, nil
	}
	var buf bytes.Buffer
	buf.Grow(int(fi.Size()))
	n, err := io.Copy(&buf, io.LimitReader(f, max+1))
	if err != nil {
		return nil, "", 0, err
	}
	if n > max {
		return readLimited(path, max) // it grew meanwhile: hash it as too large
	}
	return buf.Bytes(), FileKey(buf.Bytes()), n, nil
}

// uniqueName is name, or name with a counter, so that it is free in dir.
func uniqueName(dir, name string) string {
	if _, err := os.Lstat(filepath.Join(dir, name)); errors.Is(err, os.ErrNotExist) {
		return name
	}
	ext := filepath.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	for i := 2; ; i++ {
		n := fmt.Sprintf("%s-%d%s", stem, i, ext)
		if _, err := os.Lstat(filepath.Join(dir, n)); errors.Is(err, os.ErrNotExist) {
			return n
		}
	}
}
