package sqlite_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-desk/hotline/ticketing"
)

// wchar is how many bytes this process has written, from /proc/self/io.
func wchar(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Skipf("no /proc/self/io: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "wchar: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no wchar in /proc/self/io")
	return 0
}

// Group commit runs each write in a savepoint. Their journals must stay in
// memory: spilled to a temporary file, they tripled the bytes written per
// ticket (104 KB against 32 KB here) and cost the mail channel a quarter of
// its rate.
func TestGroupCommitWritesLittleBeyondTheDatabase(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "hotline.db")
	s := openAt(t, path)
	ctx := context.Background()
	text := strings.Repeat("打印机卡纸，无法打印。", 150) // 4.5 KB, as a mail body
	const writers, each = 16, 40
	before := wchar(t)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				raw := bytes.Repeat([]byte(fmt.Sprintf("%d-%d;", w, i)), 600)
				key := ticketing.ContactKey{Channel: ticketing.ChannelEmail, ExternalID: fmt.Sprintf("<%d.%d@example.com>", w, i)}
				_, err := s.TicketCreate(ctx, &ticketing.TicketCreateParams{Prefix: "HL", Day: time.Now(), Contact: &key,
					Ticket: ticketing.Ticket{Channel: ticketing.ChannelEmail, Kind: ticketing.KindInquiry, Priority: ticketing.P3,
						Status: ticketing.StatusNew, Tier: 1, Subject: "打印机", Description: text},
					Events:      []ticketing.Event{{At: time.Now(), Type: ticketing.EventCreated, Actor: "channel:email"}},
					ThreadKeys:  []string{key.ExternalID},
					Attachments: []ticketing.AttachmentInput{ticketing.File("raw.eml", "message/rfc822", raw)}})
				if err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	written := wchar(t) - before
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	perTicket := written / (writers * each)
	t.Logf("%d bytes written per ticket; database %d bytes", perTicket, fi.Size())
	if limit := 6 * fi.Size() / (writers * each); perTicket > limit {
		t.Errorf("%d bytes written per ticket, over 6× the database's %d per ticket", perTicket, limit/6)
	}
}
