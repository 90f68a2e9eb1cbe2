package ari

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// Playback returns a playback in progress (404 once it has finished).
func (c *Client) Playback(ctx context.Context, id string) (Playback, error) {
	const route = "GET /playbacks/{playbackId}"
	var pb Playback
	if err := need(id, route); err != nil {
		return pb, err
	}
	err := c.do(ctx, call{method: http.MethodGet, route: route, path: []string{"playbacks", id}}, &pb)
	return pb, err
}

// StopPlayback stops a playback (PlaybackFinished follows).
func (c *Client) StopPlayback(ctx context.Context, id string) error {
	const route = "DELETE /playbacks/{playbackId}"
	if err := need(id, route); err != nil {
		return err
	}
	return c.do(ctx, call{method: http.MethodDelete, route: route, path: []string{"playbacks", id}}, nil)
}

// ControlPlayback pauses, unpauses, restarts, rewinds or forwards.
func (c *Client) ControlPlayback(ctx context.Context, id, operation string) error {
	const route = "POST /playbacks/{playbackId}/control"
	if err := need(id, route); err != nil {
		return err
	}
	return c.do(ctx, call{method: http.MethodPost, route: route, path: []string{"playbacks", id, "control"},
		query: url.Values{"operation": {operation}}}, nil)
}

// LiveRecording returns a recording in progress (404 once it stopped).
func (c *Client) LiveRecording(ctx context.Context, name string) (LiveRecording, error) {
	const route = "GET /recordings/live/{recordingName}"
	var r LiveRecording
	if err := need(name, route); err != nil {
		return r, err
	}
	err := c.do(ctx, call{method: http.MethodGet, route: route, path: []string{"recordings", "live", name}}, &r)
	return r, err
}

func (c *Client) liveOp(ctx context.Context, method, name, op string) error {
	route := method + " /recordings/live/{recordingName}"
	path := []string{"recordings", "live", name}
	if op != "" {
		route += "/" + op
		path = append(path, op)
	}
	if err := need(name, route); err != nil {
		return err
	}
	return c.do(ctx, call{method: method, route: route, path: path}, nil)
}

// StopRecording stops and keeps a recording (RecordingFinished follows).
func (c *Client) StopRecording(ctx context.Context, name string) error {
	return c.liveOp(ctx, http.MethodPost, name, "stop")
}

// CancelRecording stops a recording and throws it away.
func (c *Client) CancelRecording(ctx context.Context, name string) error {
	return c.liveOp(ctx, http.MethodDelete, name, "")
}

// PauseRecording and UnpauseRecording pause and resume a recording. (The
// unpause is DELETE …/pause; POST …/unpause does not exist.)
func (c *Client) PauseRecording(ctx context.Context, name string) error {
	return c.liveOp(ctx, http.MethodPost, name, "pause")
}

func (c *Client) UnpauseRecording(ctx context.Context, name string) error {
	return c.liveOp(ctx, http.MethodDelete, name, "pause")
}

// MuteRecording and UnmuteRecording record silence and resume.
func (c *Client) MuteRecording(ctx context.Context, name string) error {
	return c.liveOp(ctx, http.MethodPost, name, "mute")
}

func (c *Client) UnmuteRecording(ctx context.Context, name string) error {
	return c.liveOp(ctx, http.MethodDelete, name, "mute")
}

// StoredRecordings lists the recordings on Asterisk's disk.
func (c *Client) StoredRecordings(ctx context.Context) ([]StoredRecording, error) {
	var out []StoredRecording
	err := c.do(ctx, call{method: http.MethodGet, route: "GET /recordings/stored", path: []string{"recordings", "stored"}}, &out)
	return out, err
}

// StoredRecording returns a stored recording's name and format.
func (c *Client) StoredRecording(ctx context.Context, name string) (StoredRecording, error) {
	const route = "GET /recordings/stored/{recordingName}"
	var r StoredRecording
	if err := need(name, route); err != nil {
		return r, err
	}
	err := c.do(ctx, call{method: http.MethodGet, route: route, path: []string{"recordings", "stored", name}}, &r)
	return r, err
}

// DeleteStoredRecording deletes a recording from Asterisk's disk.
func (c *Client) DeleteStoredRecording(ctx context.Context, name string) error {
	const route = "DELETE /recordings/stored/{recordingName}"
	if err := need(name, route); err != nil {
		return err
	}
	return c.do(ctx, call{method: http.MethodDelete, route: route, path: []string{"recordings", "stored", name}}, nil)
}

// CopyStoredRecording copies a stored recording (409 if dest exists).
func (c *Client) CopyStoredRecording(ctx context.Context, name, dest string) (StoredRecording, error) {
	const route = "POST /recordings/stored/{recordingName}/copy"
	var r StoredRecording
	if err := need(name, route); err != nil {
		return r, err
	}
	err := c.do(ctx, call{method: http.MethodPost, route: route, path: []string{"recordings", "stored", name, "copy"},
		query: url.Values{"destinationRecordingName": {dest}}}, &r)
	return r, err
}

// ErrTooLarge is returned by StoredFile for a file over its limit.
var ErrTooLarge = errors.New("ari: file over the size limit")

// RecordingFile is a stored recording's bytes (audio/wav for wav).
type RecordingFile struct {
	ContentType string
	Data        []byte
	// Size is the length Asterisk announced (-1 if it did not), also
	// when the file was over the limit and Data is empty.
	Size int64
}

// StoredFile downloads a stored recording (GET
// /recordings/stored/{name}/file). A file over limit bytes (limit > 0) is
// not read: the answer has Size set and the error matches ErrTooLarge.
func (c *Client) StoredFile(ctx context.Context, name string, limit int64) (RecordingFile, error) {
	const route = "GET /recordings/stored/{recordingName}/file"
	if err := need(name, route); err != nil {
		return RecordingFile{}, err
	}
	resp, err := c.send(ctx, call{method: http.MethodGet, route: route, path: []string{"recordings", "stored", name, "file"}})
	if err != nil {
		return RecordingFile{}, err
	}
	defer resp.Body.Close()
	f := RecordingFile{ContentType: resp.Header.Get("Content-Type"), Size: resp.ContentLength}
	if limit > 0 && f.Size > limit {
		return f, fmt.Errorf("recording %s: %d bytes: %w", name, f.Size, ErrTooLarge)
	}
	r := io.Reader(resp.Body)
	if limit > 0 {
		r = io.LimitReader(resp.Body, limit+1)
	}
	f.Data, err = io.ReadAll(r)
	if err != nil {
		return RecordingFile{}, fmt.Errorf("ari: %s: %w", route, err)
	}
	if limit > 0 && int64(len(f.Data)) > limit {
		f.Size, f.Data = int64(len(f.Data)), nil
		return f, fmt.Errorf("recording %s: over %d bytes: %w", name, limit, ErrTooLarge)
	}
	f.Size = int64(len(f.Data))
	return f, nil
}

// Endpoints lists every endpoint.
func (c *Client) Endpoints(ctx context.Context) ([]Endpoint, error) {
	var out []Endpoint
	err := c.do(ctx, call{method: http.MethodGet, route: "GET /endpoints", path: []string{"endpoints"}}, &out)
	return out, err
}

// Endpoint returns one endpoint, e.g. ("PJSIP", "agent1"): State is
// online while it has a registered contact.
func (c *Client) Endpoint(ctx context.Context, tech, resource string) (Endpoint, error) {
	const route = "GET /endpoints/{tech}/{resource}"
	var e Endpoint
	if err := need(resource, route); err != nil {
		return e, err
	}
	err := c.do(ctx, call{method: http.MethodGet, route: route, path: []string{"endpoints", tech, resource}}, &e)
	return e, err
}
