// Package pgtest gives each test its own PostgreSQL schema on the server
// named by HOTLINE_TEST_DATABASE_URL. Without that variable the test is
// skipped, unless HOTLINE_REQUIRE_POSTGRES=1 (as in CI), which makes the
// missing database a failure.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// URL creates a fresh schema for t and returns a connection URL whose
// search_path is that schema. The schema is dropped when t ends.
func URL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("HOTLINE_TEST_DATABASE_URL")
	if base == "" {
		if os.Getenv("HOTLINE_REQUIRE_POSTGRES") == "1" {
			t.Fatal("HOTLINE_REQUIRE_POSTGRES=1 but HOTLINE_TEST_DATABASE_URL is not set")
		}
		t.Skip("HOTLINE_TEST_DATABASE_URL is not set; skipping the PostgreSQL test")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to HOTLINE_TEST_DATABASE_URL: %v", err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	rand.Read(b)
	schema := "hltest_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Logf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Logf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse HOTLINE_TEST_DATABASE_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
