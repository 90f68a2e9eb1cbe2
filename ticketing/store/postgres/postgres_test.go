package postgres_test

import (
	"context"
	"testing"

	"github.com/hotline-desk/hotline/ticketing"
	"github.com/hotline-desk/hotline/ticketing/store/postgres"
	"github.com/hotline-desk/hotline/ticketing/store/postgres/pgtest"
	"github.com/hotline-desk/hotline/ticketing/store/storetest"
)

func open(t *testing.T) ticketing.Store {
	s, err := postgres.Open(context.Background(), pgtest.URL(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) { storetest.Run(t, open) }
