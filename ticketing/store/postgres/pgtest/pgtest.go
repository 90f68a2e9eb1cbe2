// Package pgtest gives each test (and each benchmark measurement) its own
// PostgreSQL schema. Tests take the server from HOTLINE_TEST_DATABASE_URL;
// without that variable they are skipped, unless HOTLINE_REQUIRE_POSTGRES=1
// (as in CI), which makes the missing database a failure.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
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
	u, drop, err := Schema(base, "hltest")
	if err != nil {
		t.Fatalf("HOTLINE_TEST_DATABASE_URL: %v", err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Logf("drop schema: %v", err)
		}
	})
	return u
}

// Schema creates a schema named prefix_<random> on the server at base and
// returns a URL whose search_path is it, and a function that drops it.
func Schema(base, prefix string) (string, func() error, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, fmt.Errorf("parse %q: %w", base, err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := prefix + "_" + hex.EncodeToString(b)
	if err := exec(base, "CREATE SCHEMA "+name); err != nil {
		return "", nil, fmt.Errorf("create schema: %w", err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String(), func() error { return exec(base, "DROP SCHEMA "+name+" CASCADE") }, nil
}

func exec(base, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}
