package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
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

// coalesce runs requests from in in batches: one request, then whatever
// else is already waiting, up to maxBatch. At stop it runs what is still
// queued, one by one, so that no caller is left waiting.
func coalesce[T any](in <-chan T, stop <-chan struct{}, run func([]T)) {
	for {
		var batch []T
		select {
		case r := <-in:
			batch = append(batch, r)
		case <-stop:
			for {
				select {
				case r := <-in:
					run([]T{r})
				default:
					return
				}
			}
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case r := <-in:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		run(batch)
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

// createLive writes the batch: for each (prefix, day) in it, one statement
// that skips contacts already recorded, allocates the day's next numbers and
// inserts everything, all in one implicit transaction, one round trip and
// one WAL flush. It sets each request's res; the caller closes done.
func (s *Store) createLive(ctx context.Context, live []*createReq) error {
	type day struct{ prefix, day string }
	var order []day
	groups := map[day][]*createReq{}
	first := map[ticketing.ContactKey]*createReq{}
	for _, r := range live {
		r.follows = nil
		if r.p.Contact != nil {
			if f, ok := first[*r.p.Contact]; ok {
				r.follows = f
				continue
			}
			first[*r.p.Contact] = r
		}
		d := day{r.p.Prefix, r.p.Day.Format("20060102")}
		if _, ok := groups[d]; !ok {
			order = append(order, d)
		}
		groups[d] = append(groups[d], r)
	}
	for _, d := range order {
		if err := s.ensureSequence(ctx, d.prefix, d.day); err != nil {
			return err
		}
	}
	b := &pgx.Batch{}
	for _, d := range order {
		queueCreate(b, d.prefix, d.day, groups[d])
	}
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	for _, d := range order {
		g := groups[d]
		rows, err := br.Query()
		if err != nil {
			return err
		}
		for rows.Next() {
			var ord int
			var res ticketing.IntakeResult
			if err := rows.Scan(&ord, &res.TicketID, &res.Number, &res.Duplicate); err != nil {
				rows.Close()
				return err
			}
			g[ord].res = res
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return br.Close()
}

// createSQL is the group commit of one (prefix, day). The CTE input holds
// the requests; dup those whose contact is already recorded; fresh the
// others, with new ids and the day's next numbers. Numbers come from the
// day's own sequence, which never blocks, so that several batches (of this
// instance and others) commit at once and share WAL flushes. A number is
// lost only when its transaction fails. The lookups of recorded contacts
// and their tickets are LATERAL subqueries, for the reason findSQL gives:
// as joins, the generic plan scanned all contacts on every batch.
const createSQL = `WITH input AS (
	SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[],
		$9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::bool[], $16::bigint[],
		$17::text[], $18::text[], $19::text[], $20::timestamptz[], $21::timestamptz[], $22::timestamptz[],
		$23::timestamptz[], $24::timestamptz[], $25::timestamptz[], $26::timestamptz[])
	AS x(ord, c_channel, c_ext, channel, kind, priority, status, tier, subject, description, caller_name, caller_phone,
		caller_email, caller_organization, caller_withheld, customer_id, assignee, grp, resolution, received_at,
		created_at, updated_at, resolved_at, closed_at, response_due, resolve_due)
), dup AS (
	SELECT x.ord, c.ticket_id FROM input x
	JOIN LATERAL (SELECT ticket_id FROM contacts c WHERE c.channel = x.c_channel AND c.external_id = x.c_ext LIMIT 1) c ON true
), fresh AS MATERIALIZED (
	SELECT x.*, nextval('tickets_id_seq') AS id, nextval($50::regclass) AS seq
	FROM (SELECT * FROM input ORDER BY ord) x WHERE NOT EXISTS (SELECT 1 FROM dup WHERE dup.ord = x.ord)
), t AS (
	INSERT INTO tickets (id, number, channel, kind, priority, status, tier, subject, description,
		caller_name, caller_phone, caller_email, caller_organization, caller_withheld, customer_id,
		assignee, grp, resolution, received_at, created_at, updated_at, resolved_at, closed_at,
		response_due, resolve_due, version)
	SELECT f.id, $27 || '-' || $28 || '-' || lpad(f.seq::text, greatest(4, length(f.seq::text)), '0'),
		f.channel, f.kind, f.priority, f.status, f.tier, f.subject, f.description, f.caller_name, f.caller_phone,
		f.caller_email, f.caller_organization, f.caller_withheld, f.customer_id, f.assignee, f.grp, f.resolution,
		f.received_at, f.created_at, f.updated_at, f.resolved_at, f.closed_at, f.response_due, f.resolve_due, 1
	FROM fresh f
	RETURNING id, number
), c AS (
	INSERT INTO contacts (channel, external_id, ticket_id, created_at)
	SELECT f.c_channel, f.c_ext, f.id, f.created_at FROM fresh f WHERE f.c_ext IS NOT NULL
), e AS (
	INSERT INTO events (ticket_id, at, type, actor, data)
	SELECT f.id, v.at, v.type, v.actor, v.data::json
	FROM unnest($29::int[], $30::timestamptz[], $31::text[], $32::text[], $33::text[]) WITH ORDINALITY AS v(ord, at, type, actor, data, n)
	JOIN fresh f ON f.ord = v.ord ORDER BY v.n
), k AS (
	INSERT INTO thread_keys (key, ticket_id)
	SELECT v.key, f.id FROM unnest($34::int[], $35::text[]) AS v(ord, key) JOIN fresh f ON f.ord = v.ord
	ON CONFLICT DO NOTHING
), p AS (
	INSERT INTO participants (ticket_id, address)
	SELECT f.id, v.address FROM unnest($36::int[], $37::text[]) AS v(ord, address) JOIN fresh f ON f.ord = v.ord
	ON CONFLICT DO NOTHING
), b AS (
	INSERT INTO blobs (sha256, size, data)
	SELECT v.sha256, length(v.data), v.data FROM unnest($38::int[], $39::text[], $40::bytea[]) AS v(ord, sha256, data)
	WHERE EXISTS (SELECT 1 FROM fresh f WHERE f.ord = v.ord)
	ON CONFLICT DO NOTHING
), att AS (
	INSERT INTO attachments (ticket_id, name, content_type, size, sha256, created_at)
	SELECT f.id, v.name, v.ctype, length(v.data), v.sha256, f.created_at
	FROM unnest($38::int[], $39::text[], $40::bytea[], $41::text[], $42::text[]) WITH ORDINALITY AS v(ord, sha256, data, name, ctype, n)
	JOIN fresh f ON f.ord = v.ord ORDER BY v.n
), j AS (
	INSERT INTO jobs (kind, ticket_id, args, unique_key, state, run_at, max_attempts, created_at)
	SELECT v.kind, coalesce(nullif(v.ticket_id, 0), f.id), v.args::json, v.unique_key, 'available', v.run_at, v.max_attempts, f.created_at
	FROM unnest($43::int[], $44::text[], $45::bigint[], $46::text[], $47::text[], $48::timestamptz[], $49::int[])
		WITH ORDINALITY AS v(ord, kind, ticket_id, args, unique_key, run_at, max_attempts, n)
	JOIN fresh f ON f.ord = v.ord ORDER BY v.n
	ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state IN ('available', 'running') DO NOTHING
)
SELECT f.ord, f.id, t.number, false FROM fresh f JOIN t ON t.id = f.id
UNION ALL
SELECT d.ord, d.ticket_id, tk.number, true FROM dup d
JOIN LATERAL (SELECT number FROM tickets WHERE id = d.ticket_id LIMIT 1) tk ON true`

func queueCreate(b *pgx.Batch, prefix, day string, reqs []*createReq) {
	n := len(reqs)
	var (
		ords, tiers                                   = make([]int32, n), make([]int32, n)
		customers                                     = make([]pgtype.Int8, n)
		cChannels, cExts                              = make([]pgtype.Text, n), make([]pgtype.Text, n)
		channels, kinds, prios, statuses              = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		subjects, descs, names, phones, emails, orgs  = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		assignees, groups, resolutions                = make([]string, n), make([]string, n), make([]string, n)
		withheld                                      = make([]bool, n)
		received, created, updated                    = make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
		resolvedAt, closedAt, responseDue, resolveDue = make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n)
		eOrd                                          = []int32{}
		eAt                                           = []time.Time{}
		eTypes, eActors                               = []string{}, []string{}
		eData                                         = []pgtype.Text{}
		kOrd, pOrd, fOrd, jOrd, jMax                  = []int32{}, []int32{}, []int32{}, []int32{}, []int32{}
		keys, parts, fSHA, fNames, fTypes             = []string{}, []string{}, []string{}, []string{}, []string{}
		fData                                         = [][]byte{}
		jKinds, jArgs                                 = []string{}, []string{}
		jTickets                                      = []int64{}
		jKeys                                         = []pgtype.Text{}
		jRunAt                                        = []time.Time{}
	)
	for i, r := range reqs {
		t := &r.p.Ticket
		ord := int32(i)
		ords[i], tiers[i] = ord, int32(t.Tier)
		if t.CustomerID != 0 {
			customers[i] = pgtype.Int8{Int64: t.CustomerID, Valid: true}
		}
		if c := r.p.Contact; c != nil {
			cChannels[i], cExts[i] = pgtype.Text{String: string(c.Channel), Valid: true}, pgtype.Text{String: c.ExternalID, Valid: true}
		}
		channels[i], kinds[i], prios[i], statuses[i] = string(t.Channel), string(t.Kind), string(t.Priority), string(t.Status)
		subjects[i], descs[i] = t.Subject, t.Description
		names[i], phones[i], emails[i], orgs[i], withheld[i] = t.Caller.Name, t.Caller.Phone, t.Caller.Email, t.Caller.Organization, t.Caller.Withheld
		assignees[i], groups[i], resolutions[i] = t.Assignee, t.Group, t.Resolution
		received[i], created[i], updated[i] = t.ReceivedAt, t.CreatedAt, t.UpdatedAt
		resolvedAt[i], closedAt[i], responseDue[i], resolveDue[i] = ts(t.ResolvedAt), ts(t.ClosedAt), ts(t.ResponseDue), ts(t.ResolveDue)
		for _, e := range r.p.Events {
			eOrd, eAt, eTypes, eActors = append(eOrd, ord), append(eAt, e.At), append(eTypes, e.Type), append(eActors, e.Actor)
			eData = append(eData, pgtype.Text{String: string(e.Data), Valid: len(e.Data) > 0})
		}
		for _, k := range r.p.ThreadKeys {
			kOrd, keys = append(kOrd, ord), append(keys, k)
		}
		for _, a := range r.p.Participants {
			pOrd, parts = append(pOrd, ord), append(parts, a)
		}
		for _, f := range r.p.Attachments {
			fOrd, fSHA, fData = append(fOrd, ord), append(fSHA, f.SHA256), append(fData, f.Data)
			fNames, fTypes = append(fNames, f.Name), append(fTypes, f.ContentType)
		}
		for _, j := range r.p.Jobs {
			args := string(j.Args)
			if args == "" {
				args = "{}"
			}
			runAt := j.RunAt
			if runAt.IsZero() {
				runAt = t.CreatedAt
			}
			jOrd, jKinds, jTickets, jArgs = append(jOrd, ord), append(jKinds, j.Kind), append(jTickets, j.TicketID), append(jArgs, args)
			jKeys = append(jKeys, pgtype.Text{String: j.UniqueKey, Valid: j.UniqueKey != ""})
			jRunAt, jMax = append(jRunAt, runAt), append(jMax, int32(maxAttempts(j.MaxAttempts)))
		}
	}
	b.Queue(createSQL, ords, cChannels, cExts, channels, kinds, prios, statuses, tiers, subjects, descs, names, phones,
		emails, orgs, withheld, customers, assignees, groups, resolutions, received, created, updated, resolvedAt,
		closedAt, responseDue, resolveDue, prefix, day,
		eOrd, eAt, eTypes, eActors, eData, kOrd, keys, pOrd, parts,
		fOrd, fSHA, fData, fNames, fTypes, jOrd, jKinds, jTickets, jArgs, jKeys, jRunAt, jMax, daySequence(prefix, day))
}

// daySequence names the sequence of a prefix's numbers on one day.
func daySequence(prefix, day string) string {
	return "ticket_number_" + strings.ToLower(prefix) + "_" + day
}

var safePrefix = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]{0,9}$`)

// ensureSequence creates the day's number sequence the first time any
// instance needs it.
func (s *Store) ensureSequence(ctx context.Context, prefix, day string) error {
	name := daySequence(prefix, day)
	if _, ok := s.sequences.Load(name); ok {
		return nil
	}
	if !safePrefix.MatchString(prefix) || len(day) != 8 {
		return fmt.Errorf("%w: ticket prefix %q", ticketing.ErrInvalid, prefix)
	}
	_, err := s.pool.Exec(ctx, "CREATE SEQUENCE IF NOT EXISTS "+name)
	// Two instances creating it at once: the loser sees a unique violation
	// on the catalog, and the sequence exists.
	if err != nil && !isUniqueViolation(err, "") {
		return fmt.Errorf("create number sequence %s: %w", name, err)
	}
	s.sequences.Store(name, true)
	return nil
}

func maxAttempts(n int) int {
	if n <= 0 {
		return 25
	}
	return n
}

func ts(t *time.Time) pgtype.Timestamptz {
	if t == nil || t.IsZero() {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: *t, Valid: true}
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
