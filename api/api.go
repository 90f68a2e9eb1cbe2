// Package api is Hotline's HTTP API (/api/v1, JSON) with the health and
// metrics endpoints beside it. Every /api/ call needs the bearer token.
package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hotline-desk/hotline/channels"
	"github.com/hotline-desk/hotline/metrics"
	"github.com/hotline-desk/hotline/ticketing"
)

// Submitter is the intake, through which tickets made by hand arrive like
// any other contact.
type Submitter interface {
	Submit(ctx context.Context, c channels.Contact) (channels.Receipt, error)
}

// Tokens finds API tokens by their sha256 hash.
type Tokens interface {
	TokenFind(ctx context.Context, hash string) (string, error)
}

// Attachments reads stored files.
type Attachments interface {
	AttachmentGet(ctx context.Context, id int64) (*ticketing.Attachment, []byte, error)
}

type Config struct {
	Desk        *ticketing.Desk
	Intake      Submitter
	Tokens      Tokens
	Attachments Attachments
	Monitor     *metrics.Monitor
	Log         *slog.Logger
	// Ready reports whether the gateway can take work (store reachable,
	// workers running); /readyz answers 503 with its error otherwise.
	Ready func(ctx context.Context) error
	// Mount adds more routes (the KPI report, the confirmation link) to
	// the same mux; route patterns as for http.ServeMux.
	Mount func(mux *http.ServeMux, auth func(http.HandlerFunc) http.HandlerFunc)
}

type server struct {
	Config
	tokens sync.Map // hash → name, tokens seen valid
}

// maxBody bounds a JSON request body.
const maxBody = 2 << 20

// New returns the gateway's HTTP handler.
func New(cfg Config) http.Handler {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s := &server{Config: cfg}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	if cfg.Monitor != nil {
		mux.Handle("GET /metrics", cfg.Monitor.Handler())
	}
	mux.HandleFunc("GET /api/v1/tickets", s.auth(s.listTickets))
	mux.HandleFunc("POST /api/v1/tickets", s.auth(s.createTicket))
	mux.HandleFunc("GET /api/v1/tickets/{number}", s.auth(s.getTicket))
	mux.HandleFunc("PATCH /api/v1/tickets/{number}", s.auth(s.patchTicket))
	mux.HandleFunc("POST /api/v1/tickets/{number}/comments", s.auth(s.comment))
	mux.HandleFunc("GET /api/v1/attachments/{id}", s.auth(s.attachment))
	mux.HandleFunc("POST /api/v1/customers", s.auth(s.createCustomer))
	mux.HandleFunc("GET /api/v1/customers", s.auth(s.findCustomers))
	mux.HandleFunc("GET /api/v1/customers/{id}", s.auth(s.getCustomer))
	if cfg.Mount != nil {
		cfg.Mount(mux, s.auth)
	}
	mux.HandleFunc("/api/", s.auth(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such API endpoint: "+r.Method+" "+r.URL.Path)
	}))
	return s.observe(mux)
}

// observe records each request's route, status and latency.
func (s *server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		s.Monitor.HTTPServed(route, sw.code, time.Since(start))
	})
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type actorKey struct{}

// auth lets the request through with a valid bearer token, and puts the
// token's name in the context as the default actor.
func (s *server) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		token = strings.TrimSpace(token)
		if !ok || token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hotline"`)
			writeError(w, http.StatusUnauthorized, "missing bearer token")
			return
		}
		hash := TokenHash(token)
		name, cached := s.tokens.Load(hash)
		if !cached {
			n, err := s.Tokens.TokenFind(r.Context(), hash)
			if errors.Is(err, ticketing.ErrNotFound) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="hotline", error="invalid_token"`)
				writeError(w, http.StatusUnauthorized, "invalid bearer token")
				return
			}
			if err != nil {
				s.fail(w, r, err)
				return
			}
			s.tokens.Store(hash, n)
			name = n
		}
		next(w, r.WithContext(context.WithValue(r.Context(), actorKey{}, name.(string))))
	}
}

func actor(r *http.Request) string {
	a, _ := r.Context().Value(actorKey{}).(string)
	return a
}

// TokenHash is how tokens are stored: their sha256, never the token.
func TokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// NewToken makes a random API token.
func NewToken() string {
	b := make([]byte, 24)
	rand.Read(b)
	return "hl_" + hex.EncodeToString(b)
}

func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.Ready(ctx); err != nil {
			writeError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

type createRequest struct {
	Subject     string             `json:"subject"`
	Description string             `json:"description"`
	Kind        ticketing.Kind     `json:"kind"`
	Priority    ticketing.Priority `json:"priority"`
	Channel     ticketing.Channel  `json:"channel"`
	Caller      ticketing.Party    `json:"caller"`
	ReceivedAt  *time.Time         `json:"received_at"`
}

// createTicket opens a ticket by hand (channel web, or the channel an agent
// records a contact for). An Idempotency-Key header makes a retried request
// give the same ticket.
func (s *server) createTicket(w http.ResponseWriter, r *http.Request) {
	var req createRequest
	if !decode(w, r, &req) {
		return
	}
	if req.Channel == "" {
		req.Channel = ticketing.ChannelWeb
	}
	key := strings.TrimSpace(r.Header.Get("Idempotency-Key"))
	if key == "" {
		b := make([]byte, 16)
		rand.Read(b)
		key = "api-" + hex.EncodeToString(b)
	} else {
		key = "api-key:" + key
	}
	c := channels.Contact{Channel: req.Channel, ExternalID: key, Caller: req.Caller, Subject: req.Subject,
		Body: req.Description, Kind: req.Kind, Priority: req.Priority, Actor: actor(r)}
	if req.ReceivedAt != nil {
		c.ReceivedAt = *req.ReceivedAt
	}
	rc, err := s.Intake.Submit(r.Context(), c)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	t, err := s.Desk.Get(r.Context(), rc.Ticket)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/tickets/"+t.Number)
	code := http.StatusCreated
	if rc.Duplicate {
		code = http.StatusOK
	}
	writeJSON(w, code, full(t))
}

// full makes the timeline and file lists present even when empty.
func full(t *ticketing.Ticket) *ticketing.Ticket {
	if t.Events == nil {
		t.Events = []ticketing.Event{}
	}
	if t.Attachments == nil {
		t.Attachments = []ticketing.Attachment{}
	}
	return t
}

func (s *server) getTicket(w http.ResponseWriter, r *http.Request) {
	t, err := s.Desk.Get(r.Context(), r.PathValue("number"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, full(t))
}

func (s *server) listTickets(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p := ticketing.ListParams{Channel: ticketing.Channel(q.Get("channel")), Status: ticketing.Status(q.Get("status")),
		Kind: ticketing.Kind(q.Get("kind")), Query: q.Get("q")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "limit must be a positive integer")
			return
		}
		p.Limit = n
	}
	if v := q.Get("cursor"); v != "" {
		n, err := strconv.ParseInt(v, 36, 64)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "cursor is not one this API gave")
			return
		}
		p.After = n
	}
	page, err := s.Desk.List(r.Context(), p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := struct {
		Tickets []*ticketing.Ticket `json:"tickets"`
		Next    string              `json:"next"`
	}{Tickets: page.Tickets}
	if out.Tickets == nil {
		out.Tickets = []*ticketing.Ticket{}
	}
	if page.Next > 0 {
		out.Next = strconv.FormatInt(page.Next, 36)
	}
	writeJSON(w, http.StatusOK, out)
}

type patchRequest struct {
	ticketing.Update
	Actor string `json:"actor"`
}

func (s *server) patchTicket(w http.ResponseWriter, r *http.Request) {
	var req patchRequest
	if !decode(w, r, &req) {
		return
	}
	t, err := s.Desk.Update(r.Context(), r.PathValue("number"), req.Update, actorOf(r, req.Actor))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, full(t))
}

// actorOf is who the change is recorded for: the agent the console names,
// else the token.
func actorOf(r *http.Request, named string) string {
	if named = strings.TrimSpace(named); named != "" {
		return named
	}
	return actor(r)
}

func (s *server) comment(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Body  string `json:"body"`
		Actor string `json:"actor"`
	}
	if !decode(w, r, &req) {
		return
	}
	t, err := s.Desk.Comment(r.Context(), r.PathValue("number"), req.Body, actorOf(r, req.Actor))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, full(t))
}

func (s *server) attachment(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, "attachment id must be a number")
		return
	}
	a, data, err := s.Attachments.AttachmentGet(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", a.ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Header().Set("Content-Disposition", contentDisposition(a.Name))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(data)
}

// contentDisposition names the file for download, with an RFC 5987 UTF-8
// form so that Chinese names survive.
func contentDisposition(name string) string {
	ascii := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '_'
		}
		return r
	}, name)
	return fmt.Sprintf(`attachment; filename="%s"; filename*=UTF-8''%s`, ascii, pathEscape(name))
}

func pathEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func (s *server) createCustomer(w http.ResponseWriter, r *http.Request) {
	var c ticketing.Customer
	if !decode(w, r, &c) {
		return
	}
	c.ID = 0
	if err := s.Desk.CustomerCreate(r.Context(), &c); err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", fmt.Sprintf("/api/v1/customers/%d", c.ID))
	writeJSON(w, http.StatusCreated, c)
}

func (s *server) findCustomers(w http.ResponseWriter, r *http.Request) {
	cs, err := s.Desk.CustomerFind(r.Context(), r.URL.Query().Get("phone"), r.URL.Query().Get("email"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if cs == nil {
		cs = []*ticketing.Customer{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"customers": cs})
}

func (s *server) getCustomer(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, "customer id must be a number")
		return
	}
	c, err := s.Desk.CustomerGet(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// decode reads a JSON body strictly: unknown fields are a 400 that names
// them, so that a typo is not silently ignored.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", maxBody))
		case errors.Is(err, io.EOF):
			writeError(w, http.StatusBadRequest, "request body is empty; JSON expected")
		default:
			writeError(w, http.StatusBadRequest, "bad JSON: "+err.Error())
		}
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "bad JSON: more than one value in the body")
		return false
	}
	return true
}

// fail answers err with the status that fits it. Unexpected errors are
// logged and answered without detail.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var te *ticketing.TransitionError
	switch {
	case errors.As(err, &te):
		writeError(w, http.StatusConflict, te.Error())
	case errors.Is(err, ticketing.ErrInvalid):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, ticketing.ErrNotFound):
		writeError(w, http.StatusNotFound, "not found: "+r.URL.Path)
	case errors.Is(err, ticketing.ErrConflict):
		writeError(w, http.StatusConflict, "the ticket changed meanwhile; reload and try again")
	case errors.Is(err, context.Canceled):
		writeError(w, 499, "request cancelled")
	default:
		s.Log.Error("api request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		writeError(w, http.StatusInternalServerError, "internal error; see the gateway's log")
	}
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
