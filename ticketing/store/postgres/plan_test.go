package postgres

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hotline-desk/hotline/ticketing/store/postgres/pgtest"
)

// migratedConn is a plain connection to a test schema the store has
// migrated, for tests that look at the schema or plans themselves.
func migratedConn(t *testing.T) *pgx.Conn {
	t.Helper()
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
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// The hot statements run on generic plans, which PostgreSQL makes once per
// connection (and again after each ANALYZE of their tables), with the
// parameters unknown. A lookup planned as a scan of a whole table costs more
// with every ticket: the intake bench lost half its rate to it, and the job
// poll scanned every pending SLA timer. Each statement must stay index
// lookups, on a new desk's empty tables and on a busy desk's big ones.
func TestGenericPlansUseIndexes(t *testing.T) {
	ctx := context.Background()
	conn := migratedConn(t)
	if _, err := conn.Exec(ctx, `SET plan_cache_mode = force_generic_plan`); err != nil {
		t.Fatal(err)
	}
	statements := []struct {
		name, sql string
		params    int
	}{
		{"create_batch", createSQL, 50},
		{"find_batch", findSQL, 3},
		{"job_claim", claimSQL, 5},
		{"job_fail_expired", failExpiredSQL, 2},
	}
	check := func(t *testing.T, stage string, scan *regexp.Regexp) {
		for _, st := range statements {
			t.Run(stage+"/"+st.name, func(t *testing.T) {
				name := stage + "_" + st.name
				if _, err := conn.Exec(ctx, `PREPARE `+name+` AS `+st.sql); err != nil {
					t.Fatal(err)
				}
				args := strings.TrimSuffix(strings.Repeat("NULL,", st.params), ",")
				rows, err := conn.Query(ctx, `EXPLAIN EXECUTE `+name+`(`+args+`)`, pgx.QueryExecModeSimpleProtocol)
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
	// A new desk: the first statements are planned on tables never analyzed.
	check(t, "new", regexp.MustCompile(`Seq Scan on (contacts|tickets|customers|customer_phones|customer_emails|organizations|jobs)\b`))
	// A busy desk: thousands of contacts, customers and pending SLA timers,
	// with statistics that say so (the claim's OR was planned as a scan).
	for _, q := range []string{
		`INSERT INTO tickets (id, number, channel, kind, priority, status, tier, subject, description, caller_name,
			caller_phone, caller_email, caller_organization, caller_withheld, assignee, grp, resolution, received_at,
			created_at, updated_at, version)
			VALUES (1, 'HL-20261127-0001', 'phone', 'incident', 'P3', 'new', 1, 's', '', '', '', '', '', false, '', '', '',
			now(), now(), now(), 1)`,
		`INSERT INTO contacts (channel, external_id, ticket_id, created_at)
			SELECT 'phone', 'call-' || i, 1, now() FROM generate_series(1, 5000) i`,
		`INSERT INTO customers (name, created_at) SELECT '客户' || i, now() FROM generate_series(1, 5000) i`,
		`INSERT INTO customer_phones (customer_id, phone) SELECT id, '+86138' || lpad(id::text, 8, '0') FROM customers`,
		`INSERT INTO jobs (kind, ticket_id, args, state, run_at, max_attempts, created_at)
			SELECT 'sla.timer', 1, '{}', 'available', now() + i * interval '1 second', 25, now() FROM generate_series(1, 5000) i`,
		`ANALYZE`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// Tables of a row or two are rightly scanned; the big ones must not be.
	check(t, "busy", regexp.MustCompile(`Seq Scan on (contacts|customers|customer_phones|jobs)\b`))
}
