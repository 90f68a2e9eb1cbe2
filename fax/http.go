package fax

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-desk/hotline/channels"
)

// IngestPath is the HTTP route `hotline fax ingest` posts a fax to: the
// file as the body, what is known of the call as query parameters (from,
// station_id, status, error, pages, name, received_at).
const IngestPath = "/api/v1/fax"

// IngestResult is the route's answer.
type IngestResult struct {
	Ticket    string `json:"ticket"`
	Created   bool   `json:"created"`
	Duplicate bool   `json:"duplicate"`
	Status    string `json:"status"`
	Pages     int    `json:"pages"`
	Problem   string `json:"problem,omitempty"`
}

// IngestHandler serves IngestPath: it takes the fax and answers only
// after its ticket is committed (201, or 200 for a fax taken before), 503
// when the store cannot take it (the caller keeps the fax and retries).
func IngestHandler(p Processor, maxBytes int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBytes))
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				answer(w, http.StatusRequestEntityTooLarge, map[string]string{"error": fmt.Sprintf("a fax may be at most %d MiB", maxBytes>>20)})
				return
			}
			answer(w, http.StatusBadRequest, map[string]string{"error": "reading the fax: " + err.Error()})
			return
		}
		q := r.URL.Query()
		doc := channels.FaxDocument{ExternalID: FileKey(data), Source: "ingest", Caller: q.Get("from"), StationID: q.Get("station_id"),
			Status: q.Get("status"), Error: q.Get("error"), Name: q.Get("name"), ContentType: r.Header.Get("Content-Type"), Data: data}
		if len(data) == 0 {
			// A failed fax may come without a file; its key is the call.
			doc.ExternalID = "ingest:" + FileKey([]byte(r.URL.RawQuery))
		}
		if p := q.Get("pages"); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n < 0 {
				answer(w, http.StatusBadRequest, map[string]string{"error": "pages must be a number"})
				return
			}
			doc.Pages = n
		}
		if s := q.Get("received_at"); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				answer(w, http.StatusBadRequest, map[string]string{"error": "received_at must be RFC 3339"})
				return
			}
			doc.ReceivedAt = t
		}
		o, err := p.Process(r.Context(), doc)
		if err != nil {
			answer(w, http.StatusServiceUnavailable, map[string]string{"error": "the fax could not be stored; try again: " + err.Error()})
			return
		}
		res := IngestResult{Ticket: o.Ticket, Created: o.Created, Duplicate: o.Duplicate, Status: o.Status, Pages: o.Pages}
		if o.Problem != nil {
			res.Problem = o.Problem.Error()
		}
		code := http.StatusCreated
		if o.Duplicate {
			code = http.StatusOK
		}
		answer(w, code, res)
	}
}

func answer(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// IngestRequest is one fax for PostIngest.
type IngestRequest struct {
	BaseURL, Token string
	Doc            channels.FaxDocument
}

// ErrUnreachable marks a gateway that did not answer at all (not running),
// as opposed to one that refused the fax.
var ErrUnreachable = errors.New("the gateway does not answer")

// PostIngest hands a fax to a running gateway over IngestPath.
func PostIngest(ctx context.Context, client *http.Client, req IngestRequest) (IngestResult, error) {
	q := url.Values{}
	d := req.Doc
	for k, v := range map[string]string{"from": d.Caller, "station_id": d.StationID, "status": d.Status, "error": d.Error, "name": d.Name} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if d.Pages > 0 {
		q.Set("pages", strconv.Itoa(d.Pages))
	}
	if !d.ReceivedAt.IsZero() {
		q.Set("received_at", d.ReceivedAt.Format(time.RFC3339))
	}
	u := strings.TrimRight(req.BaseURL, "/") + IngestPath + "?" + q.Encode()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(d.Data))
	if err != nil {
		return IngestResult{}, err
	}
	hr.Header.Set("Authorization", "Bearer "+req.Token)
	ctype := d.ContentType
	if ctype == "" {
		ctype = sniffType(d.Data)
	}
	hr.Header.Set("Content-Type", ctype)
	resp, err := client.Do(hr)
	if err != nil {
		return IngestResult{}, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		json.Unmarshal(body, &e)
		if e.Error == "" {
			e.Error = strings.TrimSpace(string(body))
		}
		return IngestResult{}, fmt.Errorf("the gateway refused the fax: %s: %s", resp.Status, e.Error)
	}
	var res IngestResult
	if err := json.Unmarshal(body, &res); err != nil || res.Ticket == "" {
		return IngestResult{}, fmt.Errorf("the gateway's answer has no ticket: %s", body)
	}
	return res, nil
}
