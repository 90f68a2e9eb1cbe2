package sqlite_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline-desk/hotline/ticketing"
	"github.com/hotline-desk/hotline/ticketing/store/sqlite"
	"github.com/hotline-desk/hotline/ticketing/store/storetest"
)

func open(t *testing.T) ticketing.Store {
	return openAt(t, filepath.Join(t.TempDir(), "hotline.db"))
}

// openAt opens and migrates the store at path; the caller closes it.
func openAt(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(context.Background()); err != nil {
		s.Close()
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) { storetest.Run(t, open) }

// A write after Close fails at once instead of waiting for a writer that
// is gone.
func TestWriteAfterClose(t *testing.T) {
	s := open(t).(*sqlite.Store)
	s.Close()
	done := make(chan error, 1)
	go func() {
		done <- s.JobInsert(context.Background(), []ticketing.JobSpec{{Kind: "x"}})
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a write after Close succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a write after Close hangs")
	}
}

// The WAL is checkpointed as it grows: it does not grow with the
// database under a steady load.
func TestWALStaysSmall(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, filepath.Join(dir, "hotline.db"))
	defer s.Close()
	ctx := context.Background()
	// Random bytes: the store compresses what compresses, and 25 MiB of
	// zeros would never reach the WAL.
	big := make([]byte, 64<<10)
	for i := 0; i < 400; i++ { // 25 MiB of attachments
		rand.Read(big)
		_, err := s.TicketCreate(ctx, &ticketing.TicketCreateParams{Prefix: "HL", Day: time.Now(),
			Ticket:      ticketing.Ticket{Channel: ticketing.ChannelEmail, Kind: ticketing.KindInquiry, Priority: ticketing.P3, Status: ticketing.StatusNew, Tier: 1, Subject: "s"},
			Attachments: []ticketing.AttachmentInput{ticketing.File("raw.eml", "message/rfc822", big)}})
		if err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			time.Sleep(300 * time.Millisecond) // readers come and go meanwhile
		}
	}
	time.Sleep(600 * time.Millisecond)
	fi, err := os.Stat(filepath.Join(dir, "hotline.db-wal"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > 8<<20 {
		t.Fatalf("the WAL holds %d bytes after 25 MiB of writes; it is not being checkpointed", fi.Size())
	}
}

// A database a newer hotline migrated is refused, not misread.
func TestMigrateRefusesANewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hotline.db")
	openAt(t, path).Close()
	db, err := sql.Open("sqlite", sqlite.DSN(path))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'from_the_future', 0)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := sqlite.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Migrate(context.Background())
	if err == nil || !strings.Contains(err.Error(), "schema version 999") {
		t.Fatalf("Migrate on a newer schema: %v", err)
	}
}
