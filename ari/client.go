package ari

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Config says where Asterisk's ARI is and who we are to it.
type Config struct {
	// URL is ARI's base, e.g. http://127.0.0.1:8088/ari.
	URL      string
	User     string
	Password string
	// HTTPClient carries the REST calls and the WebSocket upgrade; nil
	// gives one with a 10 s timeout per call.
	HTTPClient *http.Client
	// Observe, when set, is told about every REST round trip (for
	// metrics): the operation's route, how long it took, and its error.
	Observe func(op string, d time.Duration, err error)
}

// Client makes ARI REST calls. It is safe for concurrent use.
type Client struct {
	base    *url.URL
	user    string
	pass    string
	hc      *http.Client
	observe func(op string, d time.Duration, err error)
}

// New checks cfg and returns a client. It does not contact Asterisk.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if err != nil {
		return nil, fmt.Errorf("ari: url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("ari: url %q: want http:// or https://", cfg.URL)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	return &Client{base: u, user: cfg.User, pass: cfg.Password, hc: hc, observe: cfg.Observe}, nil
}

// maxBody bounds what is read of a JSON answer; a recording file has its
// own limit (StoredFile).
const maxBody = 8 << 20

// call is one REST request. route names the operation for errors and
// metrics with the path's ids left out ("POST /channels/{channelId}/answer").
type call struct {
	method string
	route  string
	path   []string // segments, escaped one by one
	query  url.Values
	body   any // sent as JSON when not nil
}

func (c *Client) endpoint(k call) string {
	u := *c.base
	segs := make([]string, len(k.path))
	for i, s := range k.path {
		segs[i] = url.PathEscape(s)
	}
	u.Path = c.base.Path + "/" + strings.Join(segs, "/")
	u.RawPath = c.base.EscapedPath() + "/" + strings.Join(segs, "/")
	if len(k.query) > 0 {
		u.RawQuery = k.query.Encode()
	}
	return u.String()
}

// do runs k and decodes a JSON answer into out (when not nil).
func (c *Client) do(ctx context.Context, k call, out any) error {
	resp, err := c.send(ctx, k)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(out); err != nil {
		return fmt.Errorf("ari: %s: decode answer: %w", k.route, err)
	}
	return nil
}

// send runs k and returns a successful response, whose body the caller
// closes; an error status becomes an *Error.
func (c *Client) send(ctx context.Context, k call) (_ *http.Response, err error) {
	start := time.Now()
	defer func() {
		if c.observe != nil {
			c.observe(k.route, time.Since(start), err)
		}
	}()
	var body io.Reader
	if k.body != nil {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(k.body); err != nil {
			return nil, fmt.Errorf("ari: %s: encode: %w", k.route, err)
		}
		body = &buf
	}
	req, err := http.NewRequestWithContext(ctx, k.method, c.endpoint(k), body)
	if err != nil {
		return nil, fmt.Errorf("ari: %s: %w", k.route, err)
	}
	req.SetBasicAuth(c.user, c.pass)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ari: %s: %w", k.route, err)
	}
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		return nil, parseError(k.route, resp.StatusCode, b)
	}
	return resp, nil
}

// Ping asks Asterisk whether it is there (GET /asterisk/ping).
func (c *Client) Ping(ctx context.Context) (AsteriskPing, error) {
	var p AsteriskPing
	err := c.do(ctx, call{method: http.MethodGet, route: "GET /asterisk/ping", path: []string{"asterisk", "ping"}}, &p)
	return p, err
}

// GlobalVar reads a global dialplan variable.
func (c *Client) GlobalVar(ctx context.Context, name string) (string, error) {
	var v Variable
	err := c.do(ctx, call{method: http.MethodGet, route: "GET /asterisk/variable", path: []string{"asterisk", "variable"},
		query: url.Values{"variable": {name}}}, &v)
	return v.Value, err
}

// SetGlobalVar sets a global dialplan variable.
func (c *Client) SetGlobalVar(ctx context.Context, name, value string) error {
	return c.do(ctx, call{method: http.MethodPost, route: "POST /asterisk/variable", path: []string{"asterisk", "variable"},
		query: url.Values{"variable": {name}, "value": {value}}}, nil)
}

// Application returns what the Stasis application is subscribed to.
func (c *Client) Application(ctx context.Context, name string) (Application, error) {
	var a Application
	err := c.do(ctx, call{method: http.MethodGet, route: "GET /applications/{applicationName}", path: []string{"applications", name}}, &a)
	return a, err
}

// errNoID guards calls whose id would otherwise address a collection.
var errNoID = errors.New("ari: empty id")

func need(id string, route string) error {
	if id == "" {
		return fmt.Errorf("%s: %w", route, errNoID)
	}
	return nil
}
