package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hotline-desk/hotline/ari/aritest"
)

// `hotline serve --ari URL` runs the hotline Stasis application against
// Asterisk (here the simulator): a call becomes a ticket with its events
// and recording, visible in the HTTP API, and the ARI metrics are served.
func TestServeARI(t *testing.T) {
	sim, err := aritest.New(aritest.Options{Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	sim.Register("agent1", aritest.Agent{OnDial: func(l *aritest.Leg) {
		l.Ring()
		l.Answer()
		time.Sleep(1100 * time.Millisecond)
		l.Hangup()
	}})
	cfg := filepath.Join(t.TempDir(), "hotline.yaml")
	os.WriteFile(cfg, []byte(`
desk: {hotline: "4001161016"}
sip: {ring_seconds: 5}
ari:
  menu_timeout: 2s
agents:
  - {id: zhang, name: 张工, sip_user: agent1, sip_password: agent1pass}
`), 0o600)
	t.Setenv("HOTLINE_ARI_PASSWORD", "s3cret")
	in := startServe(t, "--config", cfg, "--ari", sim.URL())
	deadline := time.Now().Add(5 * time.Second)
	for !sim.Connected("hotline") {
		if time.Now().After(deadline) {
			t.Fatalf("hotline serve did not connect to ARI\n%s", in.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	c, err := sim.Call(aritest.Inbound{Name: "张三", Number: "13800138000"})
	if err != nil {
		t.Fatal(err)
	}
	if c.WaitHeard("sound:hotline/menu", 5*time.Second) == "" {
		t.Fatal("no menu")
	}
	c.DTMF("2")
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the call did not end")
	}
	var list struct {
		Tickets []struct {
			Number, Kind, Channel string
			Caller                struct{ Name, Phone string }
		}
	}
	var tk struct {
		Number      string
		Events      []struct{ Type string }
		Attachments []struct {
			Name        string
			ContentType string `json:"content_type"`
		}
	}
	// The recording and the call's events reach the ticket each in its
	// own time: wait for all of them.
	wantEvents := []string{"created", "call_ivr", "call_ringing", "call_answered", "call_ended", "call_recording"}
	missing := func() []string {
		var types []string
		for _, e := range tk.Events {
			types = append(types, e.Type)
		}
		var out []string
		for _, want := range wantEvents {
			if !slices.Contains(types, want) {
				out = append(out, want)
			}
		}
		return out
	}
	deadline = time.Now().Add(5 * time.Second)
	for {
		in.call(t, "GET", "/api/v1/tickets?channel=phone", nil, &list)
		if len(list.Tickets) == 1 {
			in.call(t, "GET", "/api/v1/tickets/"+list.Tickets[0].Number, nil, &tk)
			if len(tk.Attachments) == 1 && len(missing()) == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no phone ticket with a recording and every call event (missing %v): %+v %+v", missing(), list, tk)
		}
		time.Sleep(50 * time.Millisecond)
	}
	got := list.Tickets[0]
	if got.Kind != "service_request" || got.Caller.Name != "张三" || got.Caller.Phone != "+8613800138000" {
		t.Errorf("ticket %+v", got)
	}
	if tk.Attachments[0].ContentType != "audio/wav" {
		t.Errorf("attachment %+v", tk.Attachments[0])
	}
	wantMetrics := []string{"hotline_ari_connected 1", `hotline_ari_calls_total{result="answered"} 1`, `hotline_ari_recordings_total{result="attached"} 1`}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(in.base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var lacking []string
		for _, want := range wantMetrics {
			if !strings.Contains(string(b), want) {
				lacking = append(lacking, want)
			}
		}
		if len(lacking) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %v", lacking)
		}
	}
}
