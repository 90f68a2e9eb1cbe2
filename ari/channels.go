package ari

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// OriginateParams are POST /channels (and POST /channels/create) in a JSON
// body. Variables may set dialplan functions, which is how a leg gets its
// caller id and SIP headers before it is dialled:
// "CALLERID(name)", "PJSIP_HEADER(add,X-Hotline-Ticket)".
type OriginateParams struct {
	Endpoint       string            `json:"endpoint"`
	App            string            `json:"app,omitempty"`
	AppArgs        string            `json:"appArgs,omitempty"`
	Extension      string            `json:"extension,omitempty"`
	Context        string            `json:"context,omitempty"`
	Priority       int64             `json:"priority,omitempty"`
	CallerID       string            `json:"callerId,omitempty"`
	Timeout        int               `json:"timeout,omitempty"`
	ChannelID      string            `json:"channelId,omitempty"`
	OtherChannelID string            `json:"otherChannelId,omitempty"`
	Originator     string            `json:"originator,omitempty"`
	Formats        string            `json:"formats,omitempty"`
	Variables      map[string]string `json:"variables,omitempty"`
}

// Originate creates a channel and dials it at once (POST /channels).
func (c *Client) Originate(ctx context.Context, p OriginateParams) (Channel, error) {
	var ch Channel
	err := c.do(ctx, call{method: http.MethodPost, route: "POST /channels", path: []string{"channels"}, body: p}, &ch)
	return ch, err
}

// CreateParams are POST /channels/create: the channel is made and put in
// the Stasis app (StasisStart) but not dialled until Dial.
type CreateParams struct {
	Endpoint       string            `json:"endpoint"`
	App            string            `json:"app"`
	AppArgs        string            `json:"appArgs,omitempty"`
	ChannelID      string            `json:"channelId,omitempty"`
	OtherChannelID string            `json:"otherChannelId,omitempty"`
	Originator     string            `json:"originator,omitempty"`
	Formats        string            `json:"formats,omitempty"`
	Variables      map[string]string `json:"variables,omitempty"`
}

// Create makes a channel without dialling it (POST /channels/create). An
// endpoint that cannot be reached (an agent not registered) fails with
// 500 "Allocation failed".
func (c *Client) Create(ctx context.Context, p CreateParams) (Channel, error) {
	var ch Channel
	err := c.do(ctx, call{method: http.MethodPost, route: "POST /channels/create", path: []string{"channels", "create"}, body: p}, &ch)
	return ch, err
}

// Dial dials a created channel; timeout is in seconds (0: Asterisk's
// default). caller names the channel it is dialled for.
func (c *Client) Dial(ctx context.Context, id, caller string, timeoutSeconds int) error {
	q := url.Values{}
	if caller != "" {
		q.Set("caller", caller)
	}
	if timeoutSeconds > 0 {
		q.Set("timeout", strconv.Itoa(timeoutSeconds))
	}
	return c.chanOp(ctx, http.MethodPost, id, "dial", q)
}

// Channel returns a channel's current snapshot.
func (c *Client) Channel(ctx context.Context, id string) (Channel, error) {
	const route = "GET /channels/{channelId}"
	var ch Channel
	if err := need(id, route); err != nil {
		return ch, err
	}
	err := c.do(ctx, call{method: http.MethodGet, route: route, path: []string{"channels", id}}, &ch)
	return ch, err
}

// Channels lists every channel.
func (c *Client) Channels(ctx context.Context) ([]Channel, error) {
	var out []Channel
	err := c.do(ctx, call{method: http.MethodGet, route: "GET /channels", path: []string{"channels"}}, &out)
	return out, err
}

// Hangup reasons for Hangup (the reason query parameter).
const (
	ReasonNormal     = "normal"
	ReasonBusy       = "busy"
	ReasonCongestion = "congestion"
	ReasonNoAnswer   = "no_answer"
	ReasonTimeout    = "timeout"
	ReasonRejected   = "rejected"
)

// Hangup hangs a channel up; reason may be empty (normal clearing).
func (c *Client) Hangup(ctx context.Context, id, reason string) error {
	const route = "DELETE /channels/{channelId}"
	if err := need(id, route); err != nil {
		return err
	}
	q := url.Values{}
	if reason != "" {
		q.Set("reason", reason)
	}
	return c.do(ctx, call{method: http.MethodDelete, route: route, path: []string{"channels", id}, query: q}, nil)
}

func (c *Client) chanOp(ctx context.Context, method, id, op string, q url.Values) error {
	route := method + " /channels/{channelId}/" + op
	if err := need(id, route); err != nil {
		return err
	}
	return c.do(ctx, call{method: method, route: route, path: []string{"channels", id, op}, query: q}, nil)
}

// Answer answers an inbound channel.
func (c *Client) Answer(ctx context.Context, id string) error {
	return c.chanOp(ctx, http.MethodPost, id, "answer", nil)
}

// Ring sends ringing (180) to an inbound channel.
func (c *Client) Ring(ctx context.Context, id string) error {
	return c.chanOp(ctx, http.MethodPost, id, "ring", nil)
}

// RingStop stops the ringing indication.
func (c *Client) RingStop(ctx context.Context, id string) error {
	return c.chanOp(ctx, http.MethodDelete, id, "ring", nil)
}

// StartMOH plays music on hold to a channel (class "" is the default).
func (c *Client) StartMOH(ctx context.Context, id, class string) error {
	q := url.Values{}
	if class != "" {
		q.Set("mohClass", class)
	}
	return c.chanOp(ctx, http.MethodPost, id, "moh", q)
}

// StopMOH stops the channel's music on hold.
func (c *Client) StopMOH(ctx context.Context, id string) error {
	return c.chanOp(ctx, http.MethodDelete, id, "moh", nil)
}

// Hold and Unhold put the channel on hold and take it off.
func (c *Client) Hold(ctx context.Context, id string) error {
	return c.chanOp(ctx, http.MethodPost, id, "hold", nil)
}

func (c *Client) Unhold(ctx context.Context, id string) error {
	return c.chanOp(ctx, http.MethodDelete, id, "hold", nil)
}

// SendDTMF sends digits to the channel.
func (c *Client) SendDTMF(ctx context.Context, id, digits string) error {
	return c.chanOp(ctx, http.MethodPost, id, "dtmf", url.Values{"dtmf": {digits}})
}

// Continue sends the channel back to the dialplan (StasisEnd follows; if
// the dialplan enters Stasis again, a new StasisStart with the same id).
func (c *Client) Continue(ctx context.Context, id, context_, extension string, priority int) error {
	q := url.Values{}
	if context_ != "" {
		q.Set("context", context_)
	}
	if extension != "" {
		q.Set("extension", extension)
	}
	if priority > 0 {
		q.Set("priority", strconv.Itoa(priority))
	}
	return c.chanOp(ctx, http.MethodPost, id, "continue", q)
}

// ChannelVar reads a channel variable or dialplan function
// ("CALLERID(pres)"). A variable that is not set is a 404; a function that
// cannot be read (PJSIP_HEADER of an absent header) is a 500.
func (c *Client) ChannelVar(ctx context.Context, id, name string) (string, error) {
	const route = "GET /channels/{channelId}/variable"
	if err := need(id, route); err != nil {
		return "", err
	}
	var v Variable
	err := c.do(ctx, call{method: http.MethodGet, route: route, path: []string{"channels", id, "variable"},
		query: url.Values{"variable": {name}}}, &v)
	return v.Value, err
}

// SetChannelVar sets a channel variable or writes a dialplan function.
func (c *Client) SetChannelVar(ctx context.Context, id, name, value string) error {
	return c.chanOp(ctx, http.MethodPost, id, "variable", url.Values{"variable": {name}, "value": {value}})
}

// PlayParams describe media to play. Media is a playlist: Asterisk plays
// only the last of repeated media= parameters, so the list goes as one
// comma-separated value, which gives one playback that moves through the
// items (PlaybackContinuing between them).
type PlayParams struct {
	ID    string // the playback id; empty lets Asterisk choose
	Media []string
	Lang  string
}

func (p PlayParams) query() url.Values {
	q := url.Values{"media": {strings.Join(p.Media, ",")}}
	if p.Lang != "" {
		q.Set("lang", p.Lang)
	}
	return q
}

// Play plays media to a channel.
func (c *Client) Play(ctx context.Context, channelID string, p PlayParams) (Playback, error) {
	return c.play(ctx, "channels", "channelId", channelID, p)
}

func (c *Client) play(ctx context.Context, kind, param, id string, p PlayParams) (Playback, error) {
	k := call{method: http.MethodPost, route: "POST /" + kind + "/{" + param + "}/play", path: []string{kind, id, "play"}, query: p.query()}
	if p.ID != "" {
		k.route += "/{playbackId}"
		k.path = append(k.path, p.ID)
	}
	var pb Playback
	if err := need(id, k.route); err != nil {
		return pb, err
	}
	err := c.do(ctx, k, &pb)
	return pb, err
}

// RecordParams describe a recording of a channel or bridge.
type RecordParams struct {
	Name               string
	Format             string // wav, gsm, …
	MaxDurationSeconds int
	MaxSilenceSeconds  int
	IfExists           string // fail, overwrite, append
	Beep               bool
	TerminateOn        string // none, any, *, #
}

func (p RecordParams) query() url.Values {
	q := url.Values{"name": {p.Name}, "format": {p.Format}}
	if p.MaxDurationSeconds > 0 {
		q.Set("maxDurationSeconds", strconv.Itoa(p.MaxDurationSeconds))
	}
	if p.MaxSilenceSeconds > 0 {
		q.Set("maxSilenceSeconds", strconv.Itoa(p.MaxSilenceSeconds))
	}
	if p.IfExists != "" {
		q.Set("ifExists", p.IfExists)
	}
	if p.Beep {
		q.Set("beep", "true")
	}
	if p.TerminateOn != "" {
		q.Set("terminateOn", p.TerminateOn)
	}
	return q
}

// Record records a channel. Asterisk answers with the recording queued;
// RecordingStarted and RecordingFinished follow.
func (c *Client) Record(ctx context.Context, channelID string, p RecordParams) (LiveRecording, error) {
	const route = "POST /channels/{channelId}/record"
	var r LiveRecording
	if err := need(channelID, route); err != nil {
		return r, err
	}
	err := c.do(ctx, call{method: http.MethodPost, route: route, path: []string{"channels", channelID, "record"}, query: p.query()}, &r)
	return r, err
}
