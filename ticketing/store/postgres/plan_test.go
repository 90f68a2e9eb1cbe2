package postgres

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hotline-desk/hotline/ticketing/store/postgres/pgtest"
)

// The hot statements run on generic plans, which PostgreSQL makes once per
// connection, often while the tables are still small. A lookup planned as a
// scan of a whole table then costs more with every ticket: the intake bench
// lost half its rate to it. Each statement must stay index lookups in the
// generic plan made on empty tables.
func TestGenericPlansUseIndexes(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	s, err := Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SET plan_cache_mode = force_generic_plan`); err != nil {
		t.Fatal(err)
	}
	scan := regexp.MustCompile(`Seq Scan on (contacts|tickets|customers|customer_phones|customer_emails|organizations)\b`)
	for _, tc := range []struct {
		name, sql string
		params    int
	}{
		{"create_batch", createSQL, 50},
		{"find_batch", findSQL, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := conn.Exec(ctx, `PREPARE `+tc.name+` AS `+tc.sql); err != nil {
				t.Fatal(err)
			}
			args := strings.TrimSuffix(strings.Repeat("NULL,", tc.params), ",")
			rows, err := conn.Query(ctx, `EXPLAIN EXECUTE `+tc.name+`(`+args+`)`, pgx.QueryExecModeSimpleProtocol)
			if err != nil {
				t.Fatal(err)
			}
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			plan := strings.Join(lines, "\n")
			if m := scan.FindString(plan); m != "" {
				t.Errorf("generic plan has %q:\n%s", m, plan)
			}
		})
	}
}
