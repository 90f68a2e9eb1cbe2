package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/hotline-desk/hotline/ticketing"
	"github.com/hotline-desk/hotline/ticketing/store/sqlite"
	"github.com/hotline-desk/hotline/ticketing/store/storetest"
)

func open(t *testing.T) ticketing.Store {
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "hotline.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) { storetest.Run(t, open) }
