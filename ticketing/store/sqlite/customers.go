package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/hotline-desk/hotline/ticketing"
)

func (s *Store) CustomerCreate(ctx context.Context, c *ticketing.Customer) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		var org any
		if c.Organization != "" {
			var id int64
			if err := tx.QueryRowContext(ctx, `INSERT INTO organizations (name) VALUES (?)
				ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id`, c.Organization).Scan(&id); err != nil {
				return fmt.Errorf("insert organization: %w", err)
			}
			org = id
		}
		if err := tx.QueryRowContext(ctx, `INSERT INTO customers (name, organization_id, created_at) VALUES (?, ?, ?) RETURNING id`,
			c.Name, org, micros(c.CreatedAt)).Scan(&c.ID); err != nil {
			return fmt.Errorf("insert customer: %w", err)
		}
		for _, p := range c.Phones {
			if _, err := tx.ExecContext(ctx, `INSERT INTO customer_phones (customer_id, phone) VALUES (?, ?) ON CONFLICT DO NOTHING`, c.ID, p); err != nil {
				return fmt.Errorf("insert customer phone: %w", err)
			}
		}
		for _, e := range c.Emails {
			if _, err := tx.ExecContext(ctx, `INSERT INTO customer_emails (customer_id, email) VALUES (?, ?) ON CONFLICT DO NOTHING`, c.ID, e); err != nil {
				return fmt.Errorf("insert customer email: %w", err)
			}
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

func (s *Store) CustomerFind(ctx context.Context, p ticketing.CustomerFindParams) ([]*ticketing.Customer, error) {
	if len(p.Phones)+len(p.Emails) == 0 {
		return nil, nil
	}
	var ids []int64
	q := `SELECT customer_id FROM customer_phones WHERE phone IN (` + placeholders(len(p.Phones)) + `)
		UNION SELECT customer_id FROM customer_emails WHERE email IN (` + placeholders(len(p.Emails)) + `)
		ORDER BY 1`
	rows, err := s.r.QueryContext(ctx, q, append(anys(p.Phones), anys(p.Emails)...)...)
	if err != nil {
		return nil, fmt.Errorf("find customer: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("find customer: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find customer: %w", err)
	}
	return s.customersByID(ctx, ids)
}

func (s *Store) customersByID(ctx context.Context, ids []int64) ([]*ticketing.Customer, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := s.r.QueryContext(ctx, `SELECT c.id, c.name, coalesce(o.name, ''), c.created_at FROM customers c
		LEFT JOIN organizations o ON o.id = c.organization_id WHERE c.id IN (`+placeholders(len(ids))+`) ORDER BY c.id`, anys(ids)...)
	if err != nil {
		return nil, fmt.Errorf("load customers: %w", err)
	}
	defer rows.Close()
	var out []*ticketing.Customer
	byID := map[int64]*ticketing.Customer{}
	for rows.Next() {
		c := &ticketing.Customer{Phones: []string{}, Emails: []string{}}
		var created int64
		if err := rows.Scan(&c.ID, &c.Name, &c.Organization, &created); err != nil {
			return nil, fmt.Errorf("load customers: %w", err)
		}
		c.CreatedAt = fromMicros(created)
		out = append(out, c)
		byID[c.ID] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load customers: %w", err)
	}
	for _, q := range []struct {
		sql string
		add func(c *ticketing.Customer, v string)
	}{
		{`SELECT customer_id, phone FROM customer_phones WHERE customer_id IN (%s) ORDER BY rowid`,
			func(c *ticketing.Customer, v string) { c.Phones = append(c.Phones, v) }},
		{`SELECT customer_id, email FROM customer_emails WHERE customer_id IN (%s) ORDER BY rowid`,
			func(c *ticketing.Customer, v string) { c.Emails = append(c.Emails, v) }},
	} {
		rows, err := s.r.QueryContext(ctx, fmt.Sprintf(q.sql, placeholders(len(ids))), anys(ids)...)
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
				q.add(c, v)
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
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO api_tokens (hash, name, created_at) VALUES (?, ?, unixepoch('subsec') * 1000000)
			ON CONFLICT DO NOTHING`, hash, name)
		return err
	})
}

func (s *Store) TokenFind(ctx context.Context, hash string) (string, error) {
	var name string
	err := s.r.QueryRowContext(ctx, `SELECT name FROM api_tokens WHERE hash = ?`, hash).Scan(&name)
	return name, notFound(err)
}
