package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/hotline-desk/hotline/ticketing"
)

// maxBatch bounds how many creates share one commit.
const maxBatch = 256

// batchTimeout bounds one batch's work, so that a database that stopped
// answering fails the callers (the mail channel then answers 451) instead
// of holding them forever.
const batchTimeout = 30 * time.Second

type createReq struct {
	ctx  context.Context
	p    *ticketing.TicketCreateParams
	res  ticketing.IntakeResult
	err  error
	done chan struct{}
	// follows is the earlier request of the same batch with the same
	// contact key, whose ticket this one is a duplicate of.
	follows *createReq
	id      int64
	number  string
}

func (s *Store) TicketCreate(ctx context.Context, p *ticketing.TicketCreateParams) (ticketing.IntakeResult, error) {
	r := &createReq{ctx: ctx, p: p, done: make(chan struct{})}
	select {
	case s.creates <- r:
	case <-ctx.Done():
		return ticketing.IntakeResult{}, ctx.Err()
	case <-s.stop:
		return ticketing.IntakeResult{}, errors.New("postgres store is closed")
	}
	// Once queued, the request is answered after its batch commits.
	<-r.done
	return r.res, r.err
}

func (s *Store) committer() {
	defer s.wg.Done()
	for {
		var batch []*createReq
		select {
		case r := <-s.creates:
			batch = append(batch, r)
		case <-s.stop:
			for {
				select {
				case r := <-s.creates:
					s.createBatch([]*createReq{r})
				default:
					return
				}
			}
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case r := <-s.creates:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		s.createBatch(batch)
	}
}

func (s *Store) createBatch(batch []*createReq) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	var live []*createReq
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			close(r.done)
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	err := s.createLive(ctx, live)
	if isUniqueViolation(err, "contacts_pkey") && len(live) > 1 {
		// Another instance recorded one of these contacts meanwhile. Redo
		// them one by one: each then sees what is already there.
		for _, r := range live {
			s.createBatch([]*createReq{r})
		}
		return
	}
	if isUniqueViolation(err, "contacts_pkey") {
		r := live[0]
		r.res, r.err = s.ContactGet(ctx, *r.p.Contact)
		close(r.done)
		return
	}
	for _, r := range live {
		if err != nil {
			r.err = fmt.Errorf("create ticket: %w", err)
		} else if r.follows != nil {
			r.res = ticketing.IntakeResult{TicketID: r.follows.res.TicketID, Number: r.follows.res.Number, Duplicate: true}
		}
		close(r.done)
	}
}

// createLive writes the batch. It sets each request's res; the caller
// closes done.
func (s *Store) createLive(ctx context.Context, live []*createReq) error {
	// Contacts already recorded, in earlier batches or earlier in this one.
	first := map[ticketing.ContactKey]*createReq{}
	var chans, exts []string
	for _, r := range live {
		r.follows = nil
		if r.p.Contact == nil {
			continue
		}
		if f, ok := first[*r.p.Contact]; ok {
			r.follows = f
			continue
		}
		first[*r.p.Contact] = r
		chans, exts = append(chans, string(r.p.Contact.Channel)), append(exts, r.p.Contact.ExternalID)
	}
	existing := map[ticketing.ContactKey]ticketing.IntakeResult{}
	if len(chans) > 0 {
		rows, err := s.pool.Query(ctx, `SELECT c.channel, c.external_id, c.ticket_id, t.number
			FROM contacts c JOIN tickets t ON t.id = c.ticket_id
			WHERE (c.channel, c.external_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`, chans, exts)
		if err != nil {
			return err
		}
		for rows.Next() {
			var k ticketing.ContactKey
			var r ticketing.IntakeResult
			if err := rows.Scan(&k.Channel, &k.ExternalID, &r.TicketID, &r.Number); err != nil {
				rows.Close()
				return err
			}
			r.Duplicate = true
			existing[k] = r
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	var fresh []*createReq
	for _, r := range live {
		if r.follows != nil {
			continue
		}
		if r.p.Contact != nil {
			if ex, ok := existing[*r.p.Contact]; ok {
				r.res = ex
				continue
			}
		}
		fresh = append(fresh, r)
	}
	if len(fresh) == 0 {
		return nil
	}
	if err := s.allocate(ctx, fresh); err != nil {
		return err
	}
	b := &pgx.Batch{}
	queueTickets(b, fresh)
	queueRest(b, fresh)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	for _, r := range fresh {
		r.res = ticketing.IntakeResult{TicketID: r.id, Number: r.number}
	}
	return nil
}

// allocate gives each request a ticket id and the next number of its day.
func (s *Store) allocate(ctx context.Context, reqs []*createReq) error {
	type day struct{ prefix, day string }
	var order []day
	groups := map[day][]*createReq{}
	for _, r := range reqs {
		d := day{r.p.Prefix, r.p.Day.Format("20060102")}
		if _, ok := groups[d]; !ok {
			order = append(order, d)
		}
		groups[d] = append(groups[d], r)
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT nextval('tickets_id_seq') FROM generate_series(1, $1)`, len(reqs))
	for _, d := range order {
		b.Queue(`INSERT INTO ticket_counters (prefix, day, last) VALUES ($1, $2, $3)
			ON CONFLICT (prefix, day) DO UPDATE SET last = ticket_counters.last + excluded.last RETURNING last`,
			d.prefix, d.day, len(groups[d]))
	}
	br := s.lazy.SendBatch(ctx, b)
	defer br.Close()
	rows, err := br.Query()
	if err != nil {
		return fmt.Errorf("allocate ids: %w", err)
	}
	i := 0
	for rows.Next() {
		if err := rows.Scan(&reqs[i].id); err != nil {
			rows.Close()
			return fmt.Errorf("allocate ids: %w", err)
		}
		i++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("allocate ids: %w", err)
	}
	for _, d := range order {
		var last int64
		if err := br.QueryRow().Scan(&last); err != nil {
			return fmt.Errorf("allocate numbers: %w", err)
		}
		g := groups[d]
		for j, r := range g {
			r.number = ticketing.FormatNumber(r.p.Prefix, r.p.Day, last-int64(len(g))+int64(j)+1)
		}
	}
	return br.Close()
}

func ts(t *time.Time) pgtype.Timestamptz {
	if t == nil || t.IsZero() {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: *t, Valid: true}
}

func queueTickets(b *pgx.Batch, reqs []*createReq) {
	n := len(reqs)
	var (
		ids, customers                                = make([]int64, n), make([]pgtype.Int8, n)
		numbers, channels, kinds, prios, statuses     = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		subjects, descs, names, phones, emails, orgs  = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		assignees, groups, resolutions                = make([]string, n), make([]string, n), make([]string, n)
		tiers                                         = make([]int32, n)
		withheld                                      = make([]bool, n)
		received, created, updated                    = make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
		resolvedAt, closedAt, responseDue, resolveDue = make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n)
		cChannels, cExts                              []string
		cTickets                                      []int64
		cCreated                                      []time.Time
		eTickets                                      []int64
		eAt                                           []time.Time
		eTypes, eActors                               []string
		eData                                         []pgtype.Text
	)
	for i, r := range reqs {
		t := &r.p.Ticket
		ids[i], numbers[i] = r.id, r.number
		if t.CustomerID != 0 {
			customers[i] = pgtype.Int8{Int64: t.CustomerID, Valid: true}
		}
		channels[i], kinds[i], prios[i], statuses[i] = string(t.Channel), string(t.Kind), string(t.Priority), string(t.Status)
		subjects[i], descs[i] = t.Subject, t.Description
		names[i], phones[i], emails[i], orgs[i], withheld[i] = t.Caller.Name, t.Caller.Phone, t.Caller.Email, t.Caller.Organization, t.Caller.Withheld
		assignees[i], groups[i], resolutions[i], tiers[i] = t.Assignee, t.Group, t.Resolution, int32(t.Tier)
		received[i], created[i], updated[i] = t.ReceivedAt, t.CreatedAt, t.UpdatedAt
		resolvedAt[i], closedAt[i], responseDue[i], resolveDue[i] = ts(t.ResolvedAt), ts(t.ClosedAt), ts(t.ResponseDue), ts(t.ResolveDue)
		if c := r.p.Contact; c != nil {
			cChannels, cExts = append(cChannels, string(c.Channel)), append(cExts, c.ExternalID)
			cTickets, cCreated = append(cTickets, r.id), append(cCreated, t.CreatedAt)
		}
		for _, e := range r.p.Events {
			eTickets, eAt, eTypes, eActors = append(eTickets, r.id), append(eAt, e.At), append(eTypes, e.Type), append(eActors, e.Actor)
			eData = append(eData, pgtype.Text{String: string(e.Data), Valid: len(e.Data) > 0})
		}
	}
	b.Queue(`INSERT INTO tickets (id, number, channel, kind, priority, status, tier, subject, description,
		caller_name, caller_phone, caller_email, caller_organization, caller_withheld, customer_id,
		assignee, grp, resolution, received_at, created_at, updated_at, resolved_at, closed_at,
		response_due, resolve_due, version)
		SELECT *, 1 FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[],
			$8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::bool[], $15::bigint[],
			$16::text[], $17::text[], $18::text[], $19::timestamptz[], $20::timestamptz[], $21::timestamptz[],
			$22::timestamptz[], $23::timestamptz[], $24::timestamptz[], $25::timestamptz[])`,
		ids, numbers, channels, kinds, prios, statuses, tiers, subjects, descs, names, phones, emails, orgs, withheld,
		customers, assignees, groups, resolutions, received, created, updated, resolvedAt, closedAt, responseDue, resolveDue)
	if len(cTickets) > 0 {
		b.Queue(`INSERT INTO contacts (channel, external_id, ticket_id, created_at)
			SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::timestamptz[])`, cChannels, cExts, cTickets, cCreated)
	}
	if len(eTickets) > 0 {
		b.Queue(`INSERT INTO events (ticket_id, at, type, actor, data)
			SELECT t, a, ty, ac, d::json FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[]) AS x(t, a, ty, ac, d)`,
			eTickets, eAt, eTypes, eActors, eData)
	}
}

// queueRest queues what a create has besides the ticket, its contact and its
// events: the rarer parts, one statement each.
func queueRest(b *pgx.Batch, reqs []*createReq) {
	for _, r := range reqs {
		queueAdditions(b, r.id, r.p.Attachments, r.p.ThreadKeys, r.p.Participants, r.p.Jobs, r.p.Ticket.CreatedAt)
	}
}

func queueAdditions(b *pgx.Batch, id int64, files []ticketing.AttachmentInput, keys, participants []string, jobs []ticketing.JobSpec, at time.Time) {
	for _, f := range files {
		b.Queue(`INSERT INTO blobs (sha256, size, data) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, f.SHA256, len(f.Data), f.Data)
		b.Queue(`INSERT INTO attachments (ticket_id, name, content_type, size, sha256, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			id, f.Name, f.ContentType, len(f.Data), f.SHA256, at)
	}
	if len(keys) > 0 {
		b.Queue(`INSERT INTO thread_keys (key, ticket_id) SELECT k, $2 FROM unnest($1::text[]) AS k ON CONFLICT DO NOTHING`, keys, id)
	}
	if len(participants) > 0 {
		b.Queue(`INSERT INTO participants (ticket_id, address) SELECT $2, a FROM unnest($1::text[]) AS a ON CONFLICT DO NOTHING`, participants, id)
	}
	for _, j := range jobs {
		if j.TicketID == 0 {
			j.TicketID = id
		}
		queueJob(b, j, at)
	}
}
