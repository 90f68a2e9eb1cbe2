// Package benchpg gives each benchmark measurement a PostgreSQL schema of
// its own.
package benchpg

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"

	"github.com/jackc/pgx/v5"
)

// Schema makes a schema of its own for one measurement and returns a URL
// whose search_path is it, and a function that drops it.
func Schema(base string) (string, func(), error) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, fmt.Errorf("connect to %s: %w", base, err)
	}
	b := make([]byte, 4)
	rand.Read(b)
	name := "hlbench_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		conn.Close(ctx)
		return "", nil, err
	}
	u, err := url.Parse(base)
	if err != nil {
		conn.Close(ctx)
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String(), func() {
		conn.Exec(ctx, "DROP SCHEMA "+name+" CASCADE")
		conn.Close(ctx)
	}, nil
}
