package ari

import (
	"context"
	"net/http"
	"net/url"
)

// CreateBridge makes a bridge; typ is a comma-separated list such as
// "mixing" or "mixing,dtmf_events". An empty id lets Asterisk choose.
func (c *Client) CreateBridge(ctx context.Context, id, typ, name string) (Bridge, error) {
	q := url.Values{}
	if typ != "" {
		q.Set("type", typ)
	}
	if name != "" {
		q.Set("name", name)
	}
	k := call{method: http.MethodPost, route: "POST /bridges", path: []string{"bridges"}, query: q}
	if id != "" {
		k.route = "POST /bridges/{bridgeId}"
		k.path = append(k.path, id)
	}
	var b Bridge
	err := c.do(ctx, k, &b)
	return b, err
}

// Bridge returns a bridge's snapshot.
func (c *Client) Bridge(ctx context.Context, id string) (Bridge, error) {
	const route = "GET /bridges/{bridgeId}"
	var b Bridge
	if err := need(id, route); err != nil {
		return b, err
	}
	err := c.do(ctx, call{method: http.MethodGet, route: route, path: []string{"bridges", id}}, &b)
	return b, err
}

// Bridges lists every bridge.
func (c *Client) Bridges(ctx context.Context) ([]Bridge, error) {
	var out []Bridge
	err := c.do(ctx, call{method: http.MethodGet, route: "GET /bridges", path: []string{"bridges"}}, &out)
	return out, err
}

// DestroyBridge deletes a bridge; the channels in it stay up.
func (c *Client) DestroyBridge(ctx context.Context, id string) error {
	const route = "DELETE /bridges/{bridgeId}"
	if err := need(id, route); err != nil {
		return err
	}
	return c.do(ctx, call{method: http.MethodDelete, route: route, path: []string{"bridges", id}}, nil)
}

func (c *Client) bridgeOp(ctx context.Context, method, id, op string, q url.Values) error {
	route := method + " /bridges/{bridgeId}/" + op
	if err := need(id, route); err != nil {
		return err
	}
	return c.do(ctx, call{method: method, route: route, path: []string{"bridges", id, op}, query: q}, nil)
}

// AddChannel puts a channel in a bridge; role may be empty.
func (c *Client) AddChannel(ctx context.Context, bridgeID, channelID, role string) error {
	q := url.Values{"channel": {channelID}}
	if role != "" {
		q.Set("role", role)
	}
	return c.bridgeOp(ctx, http.MethodPost, bridgeID, "addChannel", q)
}

// RemoveChannel takes a channel out of a bridge.
func (c *Client) RemoveChannel(ctx context.Context, bridgeID, channelID string) error {
	return c.bridgeOp(ctx, http.MethodPost, bridgeID, "removeChannel", url.Values{"channel": {channelID}})
}

// StartBridgeMOH plays music on hold to the bridge (class "" is default).
func (c *Client) StartBridgeMOH(ctx context.Context, bridgeID, class string) error {
	q := url.Values{}
	if class != "" {
		q.Set("mohClass", class)
	}
	return c.bridgeOp(ctx, http.MethodPost, bridgeID, "moh", q)
}

// StopBridgeMOH stops the bridge's music on hold.
func (c *Client) StopBridgeMOH(ctx context.Context, bridgeID string) error {
	return c.bridgeOp(ctx, http.MethodDelete, bridgeID, "moh", nil)
}

// PlayBridge plays media to everyone in a bridge.
func (c *Client) PlayBridge(ctx context.Context, bridgeID string, p PlayParams) (Playback, error) {
	return c.play(ctx, "bridges", "bridgeId", bridgeID, p)
}

// RecordBridge records the bridge's mix.
func (c *Client) RecordBridge(ctx context.Context, bridgeID string, p RecordParams) (LiveRecording, error) {
	const route = "POST /bridges/{bridgeId}/record"
	var r LiveRecording
	if err := need(bridgeID, route); err != nil {
		return r, err
	}
	err := c.do(ctx, call{method: http.MethodPost, route: route, path: []string{"bridges", bridgeID, "record"}, query: p.query()}, &r)
	return r, err
}
