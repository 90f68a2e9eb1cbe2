package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/hotline-desk/hotline/ticketing"
)

func (s *Store) CustomerCreate(ctx context.Context, c *ticketing.Customer) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var org pgtype.Int8
		if c.Organization != "" {
			if err := tx.QueryRow(ctx, `INSERT INTO organizations (name) VALUES ($1)
				ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id`, c.Organization).Scan(&org); err != nil {
				return fmt.Errorf("insert organization: %w", err)
			}
		}
		if err := tx.QueryRow(ctx, `INSERT INTO customers (name, organization_id, created_at) VALUES ($1, $2, $3) RETURNING id`,
			c.Name, org, c.CreatedAt).Scan(&c.ID); err != nil {
			return fmt.Errorf("insert customer: %w", err)
		}
		b := &pgx.Batch{}
		for _, p := range c.Phones {
			b.Queue(`INSERT INTO customer_phones (customer_id, phone) VALUES ($1, $2) ON CONFLICT DO NOTHING`, c.ID, p)
		}
		for _, e := range c.Emails {
			b.Queue(`INSERT INTO customer_emails (customer_id, email) VALUES ($1, $2) ON CONFLICT DO NOTHING`, c.ID, e)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("insert customer contacts: %w", err)
		}
		return nil
	})
}

func (s *Store) CustomerGet(ctx context.Context, id int64) (*ticketing.Customer, error) {
	cs, err := s.customersByID(ctx, []int64{id})
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, ticketing.ErrNotFound
	}
	return cs[0], nil
}

// CustomerFind is asked on every contact with a phone or e-mail, so
// concurrent calls are answered together: one query per batch.
func (s *Store) CustomerFind(ctx context.Context, p ticketing.CustomerFindParams) ([]*ticketing.Customer, error) {
	if len(p.Phones)+len(p.Emails) == 0 {
		return nil, nil
	}
	r := &findReq{ctx: ctx, p: p, done: make(chan struct{})}
	select {
	case s.finds <- r:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.stop:
		return nil, errors.New("postgres store is closed")
	}
	<-r.done
	return r.res, r.err
}

type findReq struct {
	ctx  context.Context
	p    ticketing.CustomerFindParams
	res  []*ticketing.Customer
	err  error
	done chan struct{}
}

// findSQL matches a batch of phones and e-mails. Like every statement here
// it runs on a generic plan, made once per connection from the statistics
// of that moment, often of near-empty tables. Each lookup is therefore a
// LATERAL subquery (kept apart by LIMIT or OFFSET 0), which stays an index
// lookup whatever the plan saw; a plain join was planned as a scan of the
// whole table, whose cost grew with every customer.
const findSQL = `WITH q AS (
	SELECT * FROM unnest($1::int[], $2::bool[], $3::text[]) AS q(ord, is_phone, v)
), m AS (
	SELECT q.ord, cp.customer_id FROM q
	CROSS JOIN LATERAL (SELECT customer_id FROM customer_phones WHERE phone = q.v OFFSET 0) cp WHERE q.is_phone
	UNION
	SELECT q.ord, ce.customer_id FROM q
	CROSS JOIN LATERAL (SELECT customer_id FROM customer_emails WHERE email = q.v OFFSET 0) ce WHERE NOT q.is_phone
)
SELECT m.ord, c.id, c.name, c.org, c.created_at,
	array(SELECT phone FROM customer_phones WHERE customer_id = c.id ORDER BY id),
	array(SELECT email FROM customer_emails WHERE customer_id = c.id ORDER BY id)
FROM m CROSS JOIN LATERAL (
	SELECT c.id, c.name, coalesce(o.name, '') AS org, c.created_at FROM customers c
	LEFT JOIN organizations o ON o.id = c.organization_id WHERE c.id = m.customer_id LIMIT 1) c
ORDER BY m.ord, c.id`

func (s *Store) findBatch(batch []*findReq) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	var ords []int32
	var isPhone []bool
	var values []string
	for i, r := range batch {
		for _, v := range r.p.Phones {
			ords, isPhone, values = append(ords, int32(i)), append(isPhone, true), append(values, v)
		}
		for _, v := range r.p.Emails {
			ords, isPhone, values = append(ords, int32(i)), append(isPhone, false), append(values, v)
		}
	}
	err := func() error {
		rows, err := s.pool.Query(ctx, findSQL, ords, isPhone, values)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var ord int
			c := &ticketing.Customer{}
			if err := rows.Scan(&ord, &c.ID, &c.Name, &c.Organization, &c.CreatedAt, &c.Phones, &c.Emails); err != nil {
				return err
			}
			c.CreatedAt = c.CreatedAt.UTC()
			batch[ord].res = append(batch[ord].res, c)
		}
		return rows.Err()
	}()
	for _, r := range batch {
		if err != nil {
			r.res, r.err = nil, fmt.Errorf("find customer: %w", err)
		}
		close(r.done)
	}
}

func (s *Store) customersByID(ctx context.Context, ids []int64) ([]*ticketing.Customer, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT c.id, c.name, coalesce(o.name, ''), c.created_at FROM customers c
		LEFT JOIN organizations o ON o.id = c.organization_id WHERE c.id = ANY($1) ORDER BY c.id`, ids)
	b.Queue(`SELECT customer_id, phone FROM customer_phones WHERE customer_id = ANY($1) ORDER BY id`, ids)
	b.Queue(`SELECT customer_id, email FROM customer_emails WHERE customer_id = ANY($1) ORDER BY id`, ids)
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	rows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("load customers: %w", err)
	}
	var out []*ticketing.Customer
	byID := map[int64]*ticketing.Customer{}
	for rows.Next() {
		c := &ticketing.Customer{Phones: []string{}, Emails: []string{}}
		if err := rows.Scan(&c.ID, &c.Name, &c.Organization, &c.CreatedAt); err != nil {
			rows.Close()
			return nil, fmt.Errorf("load customers: %w", err)
		}
		c.CreatedAt = c.CreatedAt.UTC()
		out = append(out, c)
		byID[c.ID] = c
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load customers: %w", err)
	}
	for _, add := range []func(c *ticketing.Customer, v string){
		func(c *ticketing.Customer, v string) { c.Phones = append(c.Phones, v) },
		func(c *ticketing.Customer, v string) { c.Emails = append(c.Emails, v) },
	} {
		rows, err := br.Query()
		if err != nil {
			return nil, fmt.Errorf("load customers: %w", err)
		}
		for rows.Next() {
			var id int64
			var v string
			if err := rows.Scan(&id, &v); err != nil {
				rows.Close()
				return nil, fmt.Errorf("load customers: %w", err)
			}
			if c := byID[id]; c != nil {
				add(c, v)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("load customers: %w", err)
		}
	}
	return out, nil
}

func (s *Store) TokenAdd(ctx context.Context, name, hash string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO api_tokens (hash, name) VALUES ($1, $2) ON CONFLICT DO NOTHING`, hash, name)
	if err != nil {
		return fmt.Errorf("add token: %w", err)
	}
	return nil
}

func (s *Store) TokenFind(ctx context.Context, hash string) (string, error) {
	var name string
	err := s.pool.QueryRow(ctx, `SELECT name FROM api_tokens WHERE hash = $1`, hash).Scan(&name)
	return name, notFound(err)
}
