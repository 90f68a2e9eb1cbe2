// Package kb is the knowledge base (总结知识到知识库): an article is made
// from every closed ticket (problem, cause, resolution, category, source
// ticket), kept and edited over the API, searched in Chinese, and the top
// three similar articles are suggested on every new ticket.
//
// Chinese has no spaces between words, so text is matched by character
// n-grams: the store finds the articles that hold any of a query's bigrams
// and words (FTS5 trigram on SQLite, pg_trgm on PostgreSQL), and they are
// ranked here by how much of the query they cover.
package kb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/hotline-desk/hotline/jobs"
	"github.com/hotline-desk/hotline/ticketing"
)

// Job kinds.
const (
	JobFromTicket = "kb.article" // make the article of a closed ticket
	JobSuggest    = "kb.suggest" // suggest articles on a new ticket
)

// EventSuggested lists the articles suggested for a ticket.
const EventSuggested = "kb_suggested"

// Store is what the knowledge base needs of the ticket store.
type Store interface {
	KBCreate(ctx context.Context, a *ticketing.KBArticle) error
	KBUpdate(ctx context.Context, a *ticketing.KBArticle, version int64) error
	KBGet(ctx context.Context, id int64) (*ticketing.KBArticle, error)
	KBList(ctx context.Context, p ticketing.KBListParams) ([]*ticketing.KBArticle, error)
	KBSearch(ctx context.Context, p ticketing.KBSearchParams) ([]*ticketing.KBArticle, error)
	TicketGet(ctx context.Context, p ticketing.TicketGetParams) (*ticketing.Ticket, error)
	TicketAppend(ctx context.Context, p *ticketing.TicketAppendParams) (ticketing.IntakeResult, error)
}

type Base struct {
	store   Store
	now     func() time.Time
	onClose bool
	// articles remembers whether the knowledge base has any article, so
	// that while it is empty new tickets do not each queue a search that
	// cannot find anything. Articles are never deleted, so "some" is for
	// good; "none" is asked again after emptyRecheck (another instance may
	// have made one). 0 unknown, -1 some, else none until that UnixNano.
	articles atomic.Int64
}

const emptyRecheck = 10 * time.Second

// New makes the knowledge base; onClose makes an article of every closed
// ticket.
func New(store Store, now func() time.Time, onClose bool) *Base {
	if now == nil {
		now = time.Now
	}
	return &Base{store: store, now: now, onClose: onClose}
}

// Terms are what a text is searched by: its Chinese character bigrams
// (single characters alone) and its other words, lower case, each once.
func Terms(text string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	// Split into runs of Han characters and runs of letters and digits.
	var seg []rune
	segHan := false
	flush := func() {
		switch {
		case segHan && len(seg) == 1:
			add(string(seg))
		case segHan:
			for i := 0; i+1 < len(seg); i++ {
				add(string(seg[i : i+2]))
			}
		case len(seg) > 1:
			add(strings.ToLower(string(seg)))
		}
		seg = seg[:0]
	}
	for _, r := range text {
		han := unicode.Is(unicode.Han, r)
		word := !han && (unicode.IsLetter(r) || unicode.IsDigit(r))
		if !han && !word {
			flush()
			continue
		}
		if len(seg) > 0 && han != segHan {
			flush()
		}
		segHan = han
		seg = append(seg, r)
	}
	flush()
	return out
}

// maxTerms bounds a query made from a long ticket text.
const maxTerms = 64

// Search returns the articles most like the query, best first.
func (b *Base) Search(ctx context.Context, query string, limit int) ([]*ticketing.KBArticle, error) {
	terms := Terms(query)
	if len(terms) > maxTerms {
		terms = terms[:maxTerms]
	}
	if len(terms) == 0 {
		return nil, nil
	}
	found, err := b.store.KBSearch(ctx, ticketing.KBSearchParams{Terms: terms, Limit: 500})
	if err != nil {
		return nil, fmt.Errorf("search knowledge base: %w", err)
	}
	for _, a := range found {
		a.Score = score(a, terms)
	}
	sort.SliceStable(found, func(i, j int) bool {
		if found[i].Score != found[j].Score {
			return found[i].Score > found[j].Score
		}
		return found[i].ID > found[j].ID
	})
	if limit > 0 && len(found) > limit {
		found = found[:limit]
	}
	return found, nil
}

// score is the share of the query's terms the article holds; a term in the
// title counts a quarter more.
func score(a *ticketing.KBArticle, terms []string) float64 {
	title := strings.ToLower(a.Title)
	body := strings.ToLower(a.Problem + " " + a.Cause + " " + a.Resolution + " " + a.Category)
	var s float64
	for _, t := range terms {
		switch {
		case strings.Contains(title, t):
			s += 1.25
		case strings.Contains(body, t):
			s++
		}
	}
	return s / (1.25 * float64(len(terms)))
}

// Change queues the article of a ticket being closed, and the suggestions
// for a ticket being opened.
func (b *Base) Change(ctx context.Context, c *ticketing.Change) error {
	t := c.After
	switch {
	case c.Opened():
		some, err := b.haveArticles(ctx)
		if err != nil {
			return err
		}
		if some {
			c.Jobs = append(c.Jobs, ticketing.JobSpec{Kind: JobSuggest, MaxAttempts: 5})
		}
	case b.onClose && t.Status == ticketing.StatusClosed && c.Before.Status != ticketing.StatusClosed:
		c.Jobs = append(c.Jobs, ticketing.JobSpec{Kind: JobFromTicket, TicketID: t.ID, MaxAttempts: 20,
			UniqueKey: "kb:" + strconv.FormatInt(t.ID, 10)})
	}
	return nil
}

// haveArticles reports whether the knowledge base holds an article.
func (b *Base) haveArticles(ctx context.Context) (bool, error) {
	switch v := b.articles.Load(); {
	case v == -1:
		return true, nil
	case v > b.now().UnixNano():
		return false, nil
	}
	list, err := b.store.KBList(ctx, ticketing.KBListParams{Limit: 1})
	if err != nil {
		return false, fmt.Errorf("knowledge base: %w", err)
	}
	if len(list) > 0 {
		b.articles.Store(-1)
		return true, nil
	}
	b.articles.Store(b.now().Add(emptyRecheck).UnixNano())
	return false, nil
}

// Article is what a ticket teaches: the resolution's "原因：" (or
// "cause:") lines are the cause, the rest the resolution.
func Article(t *ticketing.Ticket) ticketing.KBArticle {
	var cause, res []string
	for _, line := range strings.Split(t.Resolution, "\n") {
		l := strings.TrimSpace(line)
		low := strings.ToLower(l)
		if rest, ok := cutAny(l, low, "原因：", "原因:", "cause:"); ok {
			cause = append(cause, strings.TrimSpace(rest))
			continue
		}
		res = append(res, line)
	}
	problem := strings.TrimSpace(t.Description)
	if problem == "" {
		problem = t.Subject
	}
	return ticketing.KBArticle{Title: t.Subject, Problem: problem, Cause: strings.Join(cause, "\n"),
		Resolution: strings.TrimSpace(strings.Join(res, "\n")), Category: string(t.Kind), SourceTicketID: t.ID}
}

func cutAny(s, low string, prefixes ...string) (string, bool) {
	for _, p := range prefixes {
		if strings.HasPrefix(low, p) {
			return s[len(p):], true
		}
	}
	return "", false
}

// Work runs the knowledge base's jobs.
func (b *Base) Work(ctx context.Context, j *ticketing.Job) error {
	t, err := b.store.TicketGet(ctx, ticketing.TicketGetParams{ID: j.TicketID})
	if errors.Is(err, ticketing.ErrNotFound) {
		return jobs.Permanent(err)
	}
	if err != nil {
		return err
	}
	switch j.Kind {
	case JobFromTicket:
		a := Article(t)
		a.CreatedAt = b.now().UTC().Truncate(time.Microsecond)
		if err := b.store.KBCreate(ctx, &a); err != nil {
			return err
		}
		b.articles.Store(-1)
		return nil
	case JobSuggest:
		found, err := b.Search(ctx, t.Subject+"\n"+t.Description, 3)
		if err != nil || len(found) == 0 {
			return err
		}
		type suggestion struct {
			ID    int64   `json:"id"`
			Title string  `json:"title"`
			Score float64 `json:"score"`
		}
		var list []suggestion
		for _, a := range found {
			list = append(list, suggestion{a.ID, a.Title, float64(int(a.Score*1000)) / 1000})
		}
		now := b.now().UTC().Truncate(time.Microsecond)
		// Idempotent by the job: a retried job suggests once.
		_, err = b.store.TicketAppend(ctx, &ticketing.TicketAppendParams{TicketID: t.ID, At: now,
			Contact: &ticketing.ContactKey{Channel: t.Channel, ExternalID: "kb-suggest:" + strconv.FormatInt(j.ID, 10)},
			Events:  []ticketing.Event{ticketing.NewEvent(now, EventSuggested, "system:kb", map[string]any{"articles": list})}})
		return err
	}
	return jobs.Permanent(fmt.Errorf("unknown job kind %s", j.Kind))
}

// Edit is a change to an article over the API; nil fields stay.
type Edit struct {
	Title      *string `json:"title"`
	Problem    *string `json:"problem"`
	Cause      *string `json:"cause"`
	Resolution *string `json:"resolution"`
	Category   *string `json:"category"`
	Version    int64   `json:"version"` // the version edited; 0: the current one
}

// Update applies an edit, refusing it when the article changed since the
// version it names.
func (b *Base) Update(ctx context.Context, id int64, e Edit) (*ticketing.KBArticle, error) {
	a, err := b.store.KBGet(ctx, id)
	if err != nil {
		return nil, err
	}
	version := a.Version
	if e.Version != 0 && e.Version != version {
		return nil, ticketing.ErrConflict
	}
	for _, f := range []struct {
		v   *string
		dst *string
	}{{e.Title, &a.Title}, {e.Problem, &a.Problem}, {e.Cause, &a.Cause}, {e.Resolution, &a.Resolution}, {e.Category, &a.Category}} {
		if f.v != nil {
			*f.dst = strings.TrimSpace(*f.v)
		}
	}
	if a.Title == "" {
		return nil, fmt.Errorf("%w: an article needs a title", ticketing.ErrInvalid)
	}
	a.UpdatedAt = b.now().UTC().Truncate(time.Microsecond)
	if err := b.store.KBUpdate(ctx, a, version); err != nil {
		return nil, err
	}
	return b.store.KBGet(ctx, id)
}

// Create stores an article written by hand.
func (b *Base) Create(ctx context.Context, a *ticketing.KBArticle) error {
	a.Title = strings.TrimSpace(a.Title)
	if a.Title == "" {
		return fmt.Errorf("%w: an article needs a title", ticketing.ErrInvalid)
	}
	a.ID, a.SourceTicketID, a.Version = 0, 0, 0
	a.CreatedAt = b.now().UTC().Truncate(time.Microsecond)
	if err := b.store.KBCreate(ctx, a); err != nil {
		return err
	}
	b.articles.Store(-1)
	return nil
}

func (b *Base) Get(ctx context.Context, id int64) (*ticketing.KBArticle, error) {
	return b.store.KBGet(ctx, id)
}

func (b *Base) List(ctx context.Context, limit int, after int64) ([]*ticketing.KBArticle, error) {
	return b.store.KBList(ctx, ticketing.KBListParams{Limit: min(max(limit, 1), 500), After: after})
}

// Suggestions reads the articles suggested on a ticket's timeline.
func Suggestions(t *ticketing.Ticket) []int64 {
	var ids []int64
	for _, e := range t.Events {
		if e.Type != EventSuggested {
			continue
		}
		var d struct {
			Articles []struct {
				ID int64 `json:"id"`
			} `json:"articles"`
		}
		if json.Unmarshal(e.Data, &d) == nil {
			for _, a := range d.Articles {
				if !slices.Contains(ids, a.ID) {
					ids = append(ids, a.ID)
				}
			}
		}
	}
	return ids
}
