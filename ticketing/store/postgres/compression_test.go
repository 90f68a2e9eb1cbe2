package postgres

import (
	"context"
	"testing"
)

// On a server built with lz4, the columns that hold large values compress
// with it (migration 006); elsewhere the migration still applies.
func TestLargeValuesCompressWithLZ4(t *testing.T) {
	ctx := context.Background()
	conn := migratedConn(t)
	want := "l"
	if _, err := conn.Exec(ctx, `SET default_toast_compression = lz4`); err != nil {
		t.Logf("this server has no lz4 (%v): the columns keep the default", err)
		want = ""
	}
	for _, c := range []struct{ table, column string }{
		{"tickets", "description"}, {"blobs", "data"}, {"events", "data"}, {"jobs", "args"},
	} {
		var method string
		err := conn.QueryRow(ctx, `SELECT attcompression::text FROM pg_attribute
			WHERE attrelid = to_regclass($1) AND attname = $2`, c.table, c.column).Scan(&method)
		if err != nil {
			t.Fatalf("%s.%s: %v", c.table, c.column, err)
		}
		if method != want {
			t.Errorf("%s.%s compresses with %q, want %q", c.table, c.column, method, want)
		}
	}
}
