package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hotline-desk/hotline/internal/testenv"
	"github.com/hotline-desk/hotline/ticketing/store/postgres/pgtest"
)

// The SIP channel's end-to-end tests run the real binary against sipp
// peers on loopback: sipp as the carrier trunk (the caller, and the mobile
// network receiving forwards) and as the agents' softphones, which
// register with digest authentication first. Every port is a free one,
// and every sipp is killed when its test ends.

func scenario(t *testing.T, name string) string {
	if filepath.IsAbs(name) {
		return name // one a test wrote
	}
	return filepath.Join(testenv.ModuleRoot(t), "sip", "testdata", name)
}

// sipp is one sipp process of a test.
type sipp struct {
	name, dir string
	cmd       *exec.Cmd
	out       bytes.Buffer
	done      chan struct{}
	err       error
}

// startSipp runs sipp with the scenario file and args in dir, logging the
// messages to dir/NAME.msg and the errors to dir/NAME.err.
func startSipp(t *testing.T, dir, name, sf string, args ...string) *sipp {
	t.Helper()
	bin := testenv.Command(t, "sipp")
	s := &sipp{name: name, dir: dir, done: make(chan struct{})}
	all := append([]string{"-sf", sf, "-nostdin", "-trace_msg", "-message_file", s.msgFile(),
		"-trace_err", "-error_file", s.errFile(), "-mp", strconv.Itoa(freeLoopbackPort(t))}, args...)
	s.cmd = exec.Command(bin, all...)
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.err = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			s.cmd.Process.Kill()
			<-s.done
		}
	})
	return s
}

func (s *sipp) msgFile() string { return filepath.Join(s.dir, s.name+".msg") }
func (s *sipp) errFile() string { return filepath.Join(s.dir, s.name+".err") }

// wait waits for sipp to exit and fails the test unless every call of its
// scenario succeeded.
func (s *sipp) wait(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(d):
		s.cmd.Process.Kill()
		<-s.done
		t.Fatalf("sipp %s did not finish within %v\n%s", s.name, d, s.report())
	}
	if s.err != nil {
		t.Fatalf("sipp %s: %v\n%s", s.name, s.err, s.report())
	}
}

func (s *sipp) report() string {
	b, _ := os.ReadFile(s.errFile())
	out := s.out.String()
	if len(out) > 3000 {
		out = out[len(out)-3000:]
	}
	return fmt.Sprintf("errors:\n%s\noutput:\n%s", b, out)
}

// received lists the requests sipp received, with the time each came.
func (s *sipp) received(t *testing.T) []sippMessage {
	t.Helper()
	f, err := os.Open(s.msgFile())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []sippMessage
	var at time.Time
	var cur *sippMessage
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if ts, ok := strings.CutPrefix(line, "----------------------------------------------- "); ok {
			at, _ = time.ParseInLocation("2006-01-02 15:04:05.000000", strings.TrimSpace(ts), time.Local)
			cur = nil
			continue
		}
		if strings.Contains(line, "message received") {
			out = append(out, sippMessage{At: at})
			cur = &out[len(out)-1]
			continue
		}
		if strings.Contains(line, "message sent") {
			cur = nil
			continue
		}
		if cur != nil && line != "" {
			cur.Lines = append(cur.Lines, line)
		}
	}
	return out
}

type sippMessage struct {
	At    time.Time
	Lines []string
}

func (m sippMessage) start() string {
	if len(m.Lines) == 0 {
		return ""
	}
	return m.Lines[0]
}

func (m sippMessage) header(name string) string {
	for _, l := range m.Lines {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func invites(ms []sippMessage) []sippMessage {
	var out []sippMessage
	for _, m := range ms {
		if strings.HasPrefix(m.start(), "INVITE ") {
			out = append(out, m)
		}
	}
	return out
}

// sipGateway is a running `hotline serve` with the SIP channel on a free
// port, one agent (zhang, with a softphone and a mobile), a second agent on
// duty with a softphone (wang), and an escalation contact (lead).
type sipGateway struct {
	*instance
	sipPort, trunkPort int
	dir                string
}

// wangAgent is a second agent on duty with a softphone, for sipOptions.agents.
const wangAgent = `  - id: wang
    name: 王工
    sip_user: wang
    sip_password: wang-secret
`

type sipOptions struct {
	ringSeconds int
	allow       string // the trunk's allow list
	agents      string // extra agents YAML
	shifts      string
	strategy    string // sip.strategy; ring_all when empty
}

func startSIPGateway(t *testing.T, o sipOptions) *sipGateway {
	t.Helper()
	testenv.Command(t, "sipp")
	if o.ringSeconds == 0 {
		o.ringSeconds = 2
	}
	if o.allow == "" {
		o.allow = "127.0.0.1/32"
	}
	if o.strategy == "" {
		o.strategy = "ring_all"
	}
	dir := t.TempDir()
	g := &sipGateway{sipPort: freeLoopbackPort(t), trunkPort: freeLoopbackPort(t), dir: dir}
	cfg := fmt.Sprintf(`desk:
  hotline: "4001160016"
  console_url: http://desk.example.com:8080
sip:
  strategy: %s
  ring_seconds: %d
  mobile_ring_seconds: %d
  trunks:
    - name: carrier
      address: 127.0.0.1:%d
      allow: [%s]
agents:
  - id: zhang
    name: 张工
    sip_user: zhang
    sip_password: zhang-secret
    mobile: "+8613800000001"
    email: zhang@example.com
  - id: lead
    name: 李组长
    mobile: "+8613800000002"
    email: lead@example.com
%s
escalation: [lead]
%s`, o.strategy, o.ringSeconds, o.ringSeconds, g.trunkPort, o.allow, o.agents, o.shifts)
	path := filepath.Join(dir, "hotline.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g.instance = startServe(t, "--config", path, "--sip", "127.0.0.1:"+strconv.Itoa(g.sipPort))
	return g
}

// answeredCall makes one call of 500 ms from the carrier (scenario
// callerSF) to zhang's registered softphone (agentSF), and returns the
// gateway, the phone's sipp and the ticket once the call has ended.
func answeredCall(t *testing.T, agentSF, callerSF string) (*sipGateway, *sipp, ticketJSON) {
	t.Helper()
	g := startSIPGateway(t, sipOptions{})
	port := g.register(t, "zhang", "zhang-secret")
	agent := g.phone(t, "agent", agentSF, port, 1)
	caller := g.call(t, "caller", callerSF, "-m", "1", "-d", "500")
	caller.wait(t, 20*time.Second)
	agent.wait(t, 20*time.Second)
	return g, agent, g.waitEvent(t, "call_ended")
}

func (g *sipGateway) sipAddr() string { return "127.0.0.1:" + strconv.Itoa(g.sipPort) }

// register registers user from a free port with its password, as a
// softphone does, and returns the port: a UAS started on it gets the calls.
func (g *sipGateway) register(t *testing.T, user, password string) int {
	t.Helper()
	port := freeLoopbackPort(t)
	r := startSipp(t, g.dir, "register-"+user, scenario(t, "register.xml"), "-s", user, "-au", user, "-ap", password,
		"-i", "127.0.0.1", "-p", strconv.Itoa(port), "-m", "1", "-timeout", "10", g.sipAddr())
	r.wait(t, 15*time.Second)
	return port
}

// tryRegister registers user once from ip (lock-outs count per address),
// as a softphone does, and reports whether the registrar took it.
func (g *sipGateway) tryRegister(t *testing.T, name, user, password, ip string) bool {
	t.Helper()
	r := startSipp(t, g.dir, name, scenario(t, "register.xml"), "-s", user, "-au", user, "-ap", password,
		"-i", ip, "-p", strconv.Itoa(freeLoopbackPort(t)), "-m", "1", "-timeout", "10", g.sipAddr())
	<-r.done
	return r.err == nil
}

// phone runs a UAS scenario on port (a softphone, or the carrier's mobile
// network on the trunk port).
func (g *sipGateway) phone(t *testing.T, name, sf string, port, calls int) *sipp {
	t.Helper()
	return startSipp(t, g.dir, name, scenario(t, sf), "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-m", strconv.Itoa(calls),
		"-timeout", "60")
}

// call places calls from the trunk's address to the desk's number.
func (g *sipGateway) call(t *testing.T, name, sf string, args ...string) *sipp {
	t.Helper()
	all := append([]string{"-s", "4001160016", "-i", "127.0.0.1", "-p", strconv.Itoa(freeLoopbackPort(t)), "-timeout", "60"}, args...)
	return startSipp(t, g.dir, name, scenario(t, sf), append(all, g.sipAddr())...)
}

// lastTicket is the newest ticket, with its timeline.
func (g *sipGateway) tickets(t *testing.T) []ticketJSON {
	t.Helper()
	var page struct {
		Tickets []ticketJSON `json:"tickets"`
	}
	g.call2(t, "/api/v1/tickets?limit=200", &page)
	out := make([]ticketJSON, 0, len(page.Tickets))
	for _, tk := range page.Tickets {
		var full ticketJSON
		g.call2(t, "/api/v1/tickets/"+tk.Number, &full)
		out = append(out, full)
	}
	return out
}

func (g *sipGateway) call2(t *testing.T, path string, out any) {
	t.Helper()
	if code := g.instance.call(t, "GET", path, nil, out); code != 200 {
		t.Fatalf("GET %s: %d", path, code)
	}
}

// waitEvent waits until the newest ticket has an event of type typ.
func (g *sipGateway) waitEvent(t *testing.T, typ string) ticketJSON {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		tks := g.tickets(t)
		if len(tks) > 0 {
			if _, ok := event(tks[0], typ); ok {
				return tks[0]
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s event on the newest ticket: %+v", typ, tks)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func event(tk ticketJSON, typ string) (map[string]any, bool) {
	for _, e := range tk.Events {
		if e.Type == typ {
			var m map[string]any
			json.Unmarshal(e.Data, &m)
			return m, true
		}
	}
	return nil, false
}

func (g *sipGateway) metric(t *testing.T, name string) float64 {
	t.Helper()
	resp, err := http.Get(g.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` ([0-9.e+-]+)$`)
	m := re.FindSubmatch(b)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// A call from "张三" rings the registered agent, whose phone sees the
// ticket number, and the ticket has the caller's data and the answer.
func TestSIPCallAnsweredBySoftphone(t *testing.T) {
	g, agent, tk := answeredCall(t, "agent_answer.xml", "caller.xml")
	if tk.Channel != "phone" || tk.Caller.Phone != "+8613800138000" || tk.Caller.Name != "张三" {
		t.Fatalf("ticket: %+v", tk)
	}
	ans, ok := event(tk, "call_answered")
	if !ok || ans["agent"] != "zhang" || ans["target"] != "softphone" {
		t.Fatalf("answered event: %v %v", ans, ok)
	}
	if _, ok := event(tk, "call_ringing"); !ok {
		t.Fatal("no ringing event")
	}
	inv := invites(agent.received(t))
	if len(inv) != 1 {
		t.Fatalf("agent got %d INVITEs", len(inv))
	}
	if got := inv[0].header("X-Hotline-Ticket"); got != tk.Number {
		t.Errorf("X-Hotline-Ticket %q, want %q", got, tk.Number)
	}
	if got, want := inv[0].header("Call-Info"), "<http://desk.example.com:8080/tickets/"+tk.Number+">;purpose=info"; got != want {
		t.Errorf("Call-Info %q, want %q", got, want)
	}
	if from := inv[0].header("From"); !strings.HasPrefix(from, `"张三" <sip:+8613800138000@`) {
		t.Errorf("agent's From %q: the caller's UTF-8 name and number must survive", from)
	}
	if n := g.metric(t, `hotline_sip_calls_total{outcome="answered"}`); n != 1 {
		t.Errorf("answered calls metric %v", n)
	}
}

// The sipgo traps: an INVITE over 1,300 bytes passes over UDP both ways; a
// provisional response after the final one is borne; a 200 sent again
// after the ACK is acknowledged again.
func TestSIPLargeInviteLate180ReACK(t *testing.T) {
	_, _, tk := answeredCall(t, "agent_quirks.xml", "caller_big.xml")
	if e, _ := event(tk, "call_ended"); e["hung_up_by"] != "caller" {
		t.Fatalf("ended event: %v", e)
	}
}

// The agent puts the caller on hold (re-INVITE) and hangs up first: the
// gateway relays the re-INVITE with its SDP to the caller and the answer
// back, then the BYE.
func TestSIPReInviteAndAgentHangsUp(t *testing.T) {
	g := startSIPGateway(t, sipOptions{})
	port := g.register(t, "zhang", "zhang-secret")
	agent := g.phone(t, "agent", "agent_reinvite.xml", port, 1)
	caller := g.call(t, "caller", "caller_held.xml", "-m", "1")
	caller.wait(t, 20*time.Second)
	agent.wait(t, 20*time.Second)
	tk := g.waitEvent(t, "call_ended")
	if e, _ := event(tk, "call_ended"); e["hung_up_by"] != "agent" {
		t.Fatalf("ended event: %v", e)
	}
}

// An agent who does not answer: the carrier receives an INVITE for the
// agent's mobile within ring_seconds + 1 s, with Diversion, and the mobile
// answers.
func TestSIPForwardToMobile(t *testing.T) {
	g := startSIPGateway(t, sipOptions{ringSeconds: 2})
	port := g.register(t, "zhang", "zhang-secret")
	agent := g.phone(t, "agent", "ring_noanswer.xml", port, 1)
	mobile := g.phone(t, "mobile", "mobile_answer.xml", g.trunkPort, 1)
	caller := g.call(t, "caller", "caller.xml", "-m", "1", "-d", "500")
	caller.wait(t, 20*time.Second)
	mobile.wait(t, 20*time.Second)
	agent.wait(t, 20*time.Second)

	first := invites(agent.received(t))
	fwd := invites(mobile.received(t))
	if len(first) != 1 || len(fwd) != 1 {
		t.Fatalf("INVITEs: agent %d, mobile %d", len(first), len(fwd))
	}
	if !strings.HasPrefix(fwd[0].start(), "INVITE sip:13800000001@") {
		t.Fatalf("forward went to %q, want the agent's mobile", fwd[0].start())
	}
	if d := fwd[0].At.Sub(first[0].At); d > 3*time.Second || d < 2*time.Second-100*time.Millisecond {
		t.Errorf("mobile rang %v after the softphone, want within ring_seconds (2 s) + 1 s", d)
	}
	if fwd[0].header("X-Hotline-Ticket") != "" {
		t.Error("the ticket header must not leave through the trunk")
	}
	tk := g.waitEvent(t, "call_ended")
	f, ok := event(tk, "call_forwarded")
	if !ok || f["number"] != "+8613800000001" || f["agent"] != "zhang" {
		t.Fatalf("forwarded event: %v", f)
	}
	if a, _ := event(tk, "call_answered"); a["target"] != "mobile" || a["number"] != "+8613800000001" {
		t.Fatalf("answered event: %v", a)
	}
}

// A softphone that is busy (486) or declines (603) does not hold the
// caller for ring_seconds: the mobile rings at once.
func TestSIPBusyOrDeclinedGoesToMobileAtOnce(t *testing.T) {
	for _, code := range []string{"486", "603"} {
		t.Run(code, func(t *testing.T) {
			g := startSIPGateway(t, sipOptions{ringSeconds: 10})
			port := g.register(t, "zhang", "zhang-secret")
			b, err := os.ReadFile(scenario(t, "agent_busy.xml"))
			if err != nil {
				t.Fatal(err)
			}
			sf := filepath.Join(g.dir, "agent_"+code+".xml")
			if err := os.WriteFile(sf, bytes.ReplaceAll(b, []byte("[code]"), []byte(code)), 0o644); err != nil {
				t.Fatal(err)
			}
			agent := startSipp(t, g.dir, "agent", sf, "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-m", "1", "-timeout", "30")
			mobile := g.phone(t, "mobile", "mobile_answer.xml", g.trunkPort, 1)
			caller := g.call(t, "caller", "caller.xml", "-m", "1", "-d", "300")
			caller.wait(t, 20*time.Second)
			mobile.wait(t, 20*time.Second)
			agent.wait(t, 20*time.Second)
			first, fwd := invites(agent.received(t)), invites(mobile.received(t))
			if len(first) != 1 || len(fwd) != 1 {
				t.Fatalf("INVITEs: agent %d, mobile %d", len(first), len(fwd))
			}
			if d := fwd[0].At.Sub(first[0].At); d > time.Second {
				t.Errorf("the mobile rang %v after a %s, want at once (ring_seconds is 10)", d, code)
			}
		})
	}
}

// Shutting down with a call ringing a phone that never answers (a stale
// registration): the caller is told 503 with Retry-After and the gateway
// stops promptly, without waiting out the ringing leg's timers.
func TestSIPShutdownWhileRinging(t *testing.T) {
	g := startSIPGateway(t, sipOptions{ringSeconds: 30})
	g.register(t, "zhang", "zhang-secret") // and nobody answers on that port
	b, err := os.ReadFile(scenario(t, "caller_missed.xml"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?s)<recv response="480">.*?</recv>`)
	b = re.ReplaceAll(b, []byte(`<recv response="503"/>`))
	b = bytes.ReplaceAll(b, []byte(`<Reference variables="reason"/>`), nil)
	sf := filepath.Join(g.dir, "caller_503.xml")
	if err := os.WriteFile(sf, b, 0o644); err != nil {
		t.Fatal(err)
	}
	caller := g.call(t, "caller", sf, "-m", "1")
	time.Sleep(800 * time.Millisecond)
	start := time.Now()
	g.cmd.Process.Signal(os.Interrupt)
	caller.wait(t, 10*time.Second)
	done := make(chan error, 1)
	go func() { done <- g.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(8 * time.Second):
		t.Fatal("hotline serve did not stop within 8 s of SIGINT with a call ringing")
	}
	t.Logf("stopped %v after SIGINT with a call ringing", time.Since(start).Round(time.Millisecond))
}

// A mobile that does not answer: the escalation contact's mobile rings
// next; nobody answering ends in 480 with a reason, and the ticket is
// marked missed with a callback task.
func TestSIPEscalationThenMissed(t *testing.T) {
	g := startSIPGateway(t, sipOptions{ringSeconds: 1})
	port := g.register(t, "zhang", "zhang-secret")
	agent := g.phone(t, "agent", "ring_noanswer.xml", port, 1)
	carrier := g.phone(t, "carrier", "ring_noanswer.xml", g.trunkPort, 2)
	caller := g.call(t, "caller", "caller_missed.xml", "-m", "1")
	caller.wait(t, 20*time.Second)
	carrier.wait(t, 20*time.Second)
	agent.wait(t, 20*time.Second)

	fwd := invites(carrier.received(t))
	if len(fwd) != 2 || !strings.HasPrefix(fwd[0].start(), "INVITE sip:13800000001@") || !strings.HasPrefix(fwd[1].start(), "INVITE sip:13800000002@") {
		t.Fatalf("carrier INVITEs: %v", fwd)
	}
	if d := fwd[1].At.Sub(fwd[0].At); d < 900*time.Millisecond || d > 2500*time.Millisecond {
		t.Errorf("escalation rang %v after the mobile, want mobile_ring_seconds (1 s)", d)
	}
	tk := g.waitEvent(t, "call_missed")
	m, _ := event(tk, "call_missed")
	if m["callback"] != "pending" || m["reason"] == "" {
		t.Fatalf("missed event: %v", m)
	}
	// Without shifts every agent is on duty: each is told to call back.
	if to, _ := m["callback_notified"].([]any); len(to) != 2 || to[0] != "zhang@example.com" || to[1] != "lead@example.com" {
		t.Fatalf("callback not addressed to the agents on duty: %v", m["callback_notified"])
	}
	if n := g.metric(t, `hotline_sip_calls_total{outcome="missed"}`); n != 1 {
		t.Errorf("missed calls metric %v", n)
	}
}

// The caller hangs up while two softphones ring: CANCEL reaches every fork
// and the ticket says abandoned, with the wait time.
func TestSIPCallerHangsUpWhileRinging(t *testing.T) {
	g := startSIPGateway(t, sipOptions{ringSeconds: 10, agents: wangAgent})
	p1 := g.register(t, "zhang", "zhang-secret")
	p2 := g.register(t, "wang", "wang-secret")
	a1 := g.phone(t, "zhang", "ring_noanswer.xml", p1, 1)
	a2 := g.phone(t, "wang", "ring_noanswer.xml", p2, 1)
	caller := g.call(t, "caller", "caller_cancel.xml", "-m", "1", "-d", "1500")
	caller.wait(t, 20*time.Second)
	// Each phone's scenario completes only if it got its CANCEL.
	a1.wait(t, 10*time.Second)
	a2.wait(t, 10*time.Second)

	tk := g.waitEvent(t, "call_abandoned")
	ab, _ := event(tk, "call_abandoned")
	w, _ := ab["wait_seconds"].(float64)
	if w < 1.4 || w > 4 || ab["step"] != "softphones" {
		t.Fatalf("abandoned event %v: want a wait of about 1.5 s while the softphones rang", ab)
	}
	if _, ok := event(tk, "call_answered"); ok {
		t.Fatal("an abandoned call has no answer")
	}
}

// An INVITE from an address not on the trunk list gets 403, and no ticket.
func TestSIPInviteFromStrangerRefused(t *testing.T) {
	g := startSIPGateway(t, sipOptions{allow: "127.0.0.1/32"})
	stranger := startSipp(t, g.dir, "stranger", scenario(t, "caller_refused.xml"), "-s", "4001160016",
		"-i", "127.0.0.2", "-p", strconv.Itoa(freeLoopbackPort(t)), "-m", "1", "-timeout", "10", g.sipAddr())
	stranger.wait(t, 15*time.Second)
	time.Sleep(200 * time.Millisecond)
	if tks := g.tickets(t); len(tks) != 0 {
		t.Fatalf("a refused INVITE made tickets: %+v", tks)
	}
	if n := g.metric(t, `hotline_sip_refused_total{reason="not_trunk"}`); n != 1 {
		t.Errorf("refused metric %v", n)
	}
}

// An agent may call the desk from a registered softphone that is not a
// trunk: the INVITE is challenged (407) and admitted with the agent's
// credentials; the same address without a registration gets 403.
func TestSIPAgentCallsInWithCredentials(t *testing.T) {
	g := startSIPGateway(t, sipOptions{agents: wangAgent})
	port := g.register(t, "zhang", "zhang-secret")
	agent := g.phone(t, "agent", "agent_answer.xml", port, 1)
	// wang's softphone registers from 127.0.0.3, which is no trunk.
	reg := startSipp(t, g.dir, "register-wang", scenario(t, "register.xml"), "-s", "wang", "-au", "wang", "-ap", "wang-secret",
		"-i", "127.0.0.3", "-p", strconv.Itoa(freeLoopbackPort(t)), "-m", "1", "-timeout", "10", g.sipAddr())
	reg.wait(t, 15*time.Second)
	caller := startSipp(t, g.dir, "wang-calls", scenario(t, "caller_agent_auth.xml"), "-s", "4001160016", "-au", "wang", "-ap", "wang-secret",
		"-i", "127.0.0.3", "-p", strconv.Itoa(freeLoopbackPort(t)), "-m", "1", "-d", "300", "-timeout", "30", g.sipAddr())
	caller.wait(t, 30*time.Second)
	agent.wait(t, 20*time.Second)
	tk := g.waitEvent(t, "call_ended")
	if tk.Caller.Name != "王工" {
		t.Fatalf("ticket caller: %+v", tk.Caller)
	}
	created, _ := event(tk, "created")
	if created["from_agent"] != "wang" {
		t.Fatalf("created event: %v", created)
	}
	// A wrong password from there is refused and counted.
	bad := startSipp(t, g.dir, "wang-wrong", scenario(t, "caller_agent_auth.xml"), "-s", "4001160016", "-au", "wang", "-ap", "guess",
		"-i", "127.0.0.3", "-p", strconv.Itoa(freeLoopbackPort(t)), "-m", "1", "-timeout", "10", g.sipAddr())
	<-bad.done
	if b, _ := os.ReadFile(bad.errFile()); bad.err == nil || !bytes.Contains(b, []byte("403 Forbidden")) {
		t.Fatalf("a wrong password was not refused with 403: %v\n%s", bad.err, b)
	}
	if n := g.metric(t, "hotline_sip_auth_failures_total"); n != 1 {
		t.Errorf("auth failures %v, want 1", n)
	}
}

// Wrong passwords from one address lock it out: after the limit even the
// right password is refused with 403, and the lock-out is counted.
func TestSIPWrongPasswordsLockOut(t *testing.T) {
	g := startSIPGateway(t, sipOptions{})
	// Five wrong answers (the limit): the fifth is refused with 403, which
	// the scenario does not expect, so exactly one call fails.
	s := startSipp(t, g.dir, "scanner", scenario(t, "register_wrong.xml"), "-s", "zhang", "-au", "zhang", "-ap", "guess",
		"-i", "127.0.0.1", "-p", strconv.Itoa(freeLoopbackPort(t)), "-m", "5", "-l", "1", "-timeout", "20", g.sipAddr())
	<-s.done
	if ee, ok := s.err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("scanner run: %v, want exactly one failed call (the 403)\n%s", s.err, s.report())
	}
	if b, _ := os.ReadFile(s.errFile()); !bytes.Contains(b, []byte("403 Forbidden")) {
		t.Fatalf("no 403 for the locked-out address:\n%s", b)
	}
	// The right password from the same address is refused too.
	if g.tryRegister(t, "locked", "zhang", "zhang-secret", "127.0.0.1") {
		t.Fatal("a locked-out address registered")
	}
	if n := g.metric(t, "hotline_sip_lockouts_total"); n != 1 {
		t.Errorf("lockouts metric %v, want 1", n)
	}
	if n := g.metric(t, "hotline_sip_auth_failures_total"); n != 5 {
		t.Errorf("auth failures metric %v, want 5", n)
	}
	// Another address is not locked.
	if !g.tryRegister(t, "other", "zhang", "zhang-secret", "127.0.0.3") {
		t.Fatal("an address that never failed cannot register")
	}
	if n := g.metric(t, "hotline_sip_registrations"); n != 1 {
		t.Errorf("registrations metric %v, want 1", n)
	}
}

// `hotline simulate call` places a real call; with --privacy the agent's
// phone shows an anonymous caller while the ticket keeps the number, marked
// withheld.
func TestSIPSimulateCall(t *testing.T) {
	g := startSIPGateway(t, sipOptions{})
	port := g.register(t, "zhang", "zhang-secret")
	agent := g.phone(t, "agent", "agent_answer.xml", port, 2)
	for _, privacy := range []bool{false, true} {
		args := []string{"simulate", "call", "--to", "sip:4001160016@" + g.sipAddr(), "--from", "13800138000", "--name", "张三",
			"--talk", "300ms", "--local", "127.0.0.1:0"}
		if privacy {
			args = append(args, "--privacy")
		}
		out, err := exec.Command(binary, args...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "200 OK") || !strings.Contains(string(out), "hung up") {
			t.Fatalf("simulate call (privacy %v): %v\n%s", privacy, err, out)
		}
		tk := g.waitEvent(t, "call_ended")
		if tk.Caller.Phone != "+8613800138000" || tk.Caller.Name != "张三" {
			t.Fatalf("ticket caller: %+v", tk.Caller)
		}
		var raw struct {
			Caller struct {
				Withheld bool `json:"withheld"`
			} `json:"caller"`
		}
		g.call2(t, "/api/v1/tickets/"+tk.Number, &raw)
		if raw.Caller.Withheld != privacy {
			t.Errorf("privacy %v: ticket withheld=%v", privacy, raw.Caller.Withheld)
		}
	}
	agent.wait(t, 20*time.Second)
	inv := invites(agent.received(t))
	if len(inv) != 2 {
		t.Fatalf("agent got %d INVITEs", len(inv))
	}
	if from := inv[0].header("From"); !strings.HasPrefix(from, `"张三" <sip:+8613800138000@`) {
		t.Errorf("From without privacy: %q", from)
	}
	from := inv[1].header("From")
	if !strings.HasPrefix(from, `"Anonymous" <sip:anonymous@anonymous.invalid>`) || strings.Contains(strings.Join(inv[1].Lines, "\n"), "13800138000") {
		t.Errorf("with privacy the agent's phone must not see the caller: From %q\n%s", from, strings.Join(inv[1].Lines, "\n"))
	}
}

// serveProcess is a `hotline serve` run on a given data directory, so that
// a test can kill it and start it again on the same data.
func serveProcess(t *testing.T, data, httpAddr string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"serve", "--data", data, "--http", httpAddr, "--smtp", "off", "--fax-inbox", "off"}, args...)...)
	cmd.Env = append(os.Environ(), "HOTLINE_LOG_LEVEL=warn")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get("http://" + httpAddr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return cmd, &stderr
			}
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("hotline serve did not come up:\n%s", stderr.String())
		}
	}
}

// stop ends a sipp early and lets it write its logs.
func (s *sipp) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(3 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// oneAgentGateway writes the config of a gateway with one agent (zhang,
// softphone only) for the tests that start `hotline serve` themselves.
func oneAgentGateway(t *testing.T) (*sipGateway, string) {
	t.Helper()
	testenv.Command(t, "sipp")
	dir := t.TempDir()
	g := &sipGateway{sipPort: freeLoopbackPort(t), trunkPort: freeLoopbackPort(t), dir: dir}
	cfg := fmt.Sprintf(`sip:
  ring_seconds: 5
  trunks:
    - {name: carrier, address: "127.0.0.1:%d", allow: [127.0.0.1/32]}
agents:
  - {id: zhang, name: 张工, sip_user: zhang, sip_password: zhang-secret}
`, g.trunkPort)
	path := filepath.Join(dir, "hotline.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return g, path
}

// Kill test: `hotline serve` is killed with SIGKILL during a call load;
// after the restart, every call that had reached an agent has a ticket.
func TestSIPKillDuringCalls(t *testing.T) {
	g, path := oneAgentGateway(t)
	dir := g.dir
	data := filepath.Join(dir, "data")
	httpAddr := freePort(t)
	args := []string{"--config", path, "--sip", g.sipAddr()}
	cmd, stderr := serveProcess(t, data, httpAddr, args...)
	g.instance = &instance{base: "http://" + httpAddr, data: data, cmd: cmd, stderr: stderr}

	port := g.register(t, "zhang", "zhang-secret")
	agent := g.phone(t, "agent", "agent_load.xml", port, 1000)
	caller := g.call(t, "caller", "caller_load.xml", "-r", "40", "-m", "400", "-d", "1000", "-l", "200")
	time.Sleep(2500 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	caller.stop()
	agent.stop()

	cmd, stderr = serveProcess(t, data, httpAddr, args...)
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		if t.Failed() {
			t.Logf("hotline serve stderr:\n%s", stderr.String())
		}
	}()
	tok, err := os.ReadFile(filepath.Join(data, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	g.instance = &instance{base: "http://" + httpAddr, data: data, cmd: cmd, stderr: stderr, token: strings.TrimSpace(string(tok))}
	for start := time.Now(); g.metric(t, "hotline_journal_backlog") > 0; time.Sleep(100 * time.Millisecond) {
		if time.Since(start) > 20*time.Second {
			t.Fatal("the journal was not replayed after the restart")
		}
	}

	reached := map[string]bool{}
	for _, m := range invites(agent.received(t)) {
		from := m.header("From")
		if i := strings.Index(from, "<sip:"); i >= 0 {
			user, _, _ := strings.Cut(from[i+5:], "@")
			reached[user] = true
		}
	}
	if len(reached) < 20 {
		t.Fatalf("only %d calls reached the agent before the kill; the test needs a load", len(reached))
	}
	tickets := map[string]bool{}
	var page struct {
		Tickets []ticketJSON `json:"tickets"`
		Next    string       `json:"next"`
	}
	for cursor := ""; ; {
		g.call2(t, "/api/v1/tickets?channel=phone&limit=200&cursor="+cursor, &page)
		for _, tk := range page.Tickets {
			tickets[tk.Caller.Phone] = true
		}
		if page.Next == "" {
			break
		}
		cursor, page.Next = page.Next, ""
	}
	var lost []string
	for n := range reached {
		if !tickets[n] {
			lost = append(lost, n)
		}
	}
	if len(lost) > 0 {
		t.Fatalf("%d of %d calls that reached the agent have no ticket after kill -9: %v", len(lost), len(reached), lost)
	}
	t.Logf("kill -9 after %d calls reached the agent; %d phone tickets after the restart, none missing", len(reached), len(tickets))
}

// Under overload the gateway sheds calls with 503 and Retry-After instead
// of collapsing: every call either connects or is refused at once, none
// fails. After the load, the goroutines come back down (sipgo has leaked
// goroutines under UDP load before).
func TestSIPOverloadShedsAndNoGoroutineLeak(t *testing.T) {
	g, path := oneAgentGateway(t)
	t.Setenv("HOTLINE_SIP_MAX_CALLS", "20")
	g.instance = startServe(t, "--config", path, "--sip", g.sipAddr())
	port := g.register(t, "zhang", "zhang-secret")
	time.Sleep(500 * time.Millisecond) // let the Go runtime settle
	base := g.metric(t, "go_goroutines")

	agent := g.phone(t, "agent", "agent_load.xml", port, 1000)
	caller := g.call(t, "caller", "caller_overload.xml", "-r", "50", "-m", "300", "-d", "1000")
	caller.wait(t, 60*time.Second)
	agent.stop()

	// A 503 is retransmitted until its ACK (Timer G): count calls, not
	// messages.
	shedCalls := map[string]bool{}
	for _, m := range caller.received(t) {
		if strings.HasPrefix(m.start(), "SIP/2.0 503") {
			shedCalls[m.header("Call-ID")] = true
			if m.header("Retry-After") == "" {
				t.Fatal("503 without Retry-After")
			}
		}
	}
	shed := len(shedCalls)
	answered := g.metric(t, `hotline_sip_calls_total{outcome="answered"}`)
	if shed == 0 || answered == 0 || float64(shed)+answered != 300 {
		t.Fatalf("shed %d, answered %v: want every one of 300 calls either shed or answered", shed, answered)
	}
	if n := g.metric(t, `hotline_sip_refused_total{reason="overload"}`); int(n) != shed {
		t.Errorf("overload metric %v, want %d", n, shed)
	}
	t.Logf("300 calls at 50/s with room for 20: %v answered, %d shed with 503", answered, shed)

	// Transactions end by their timers (64*T1 = 32 s at most); the
	// goroutines must be back near the baseline by then.
	start := time.Now()
	for {
		n := g.metric(t, "go_goroutines")
		if n <= base+5 {
			t.Logf("goroutines back to %v (baseline %v) %v after the load", n, base, time.Since(start).Round(time.Second))
			break
		}
		if time.Since(start) > 45*time.Second {
			t.Fatalf("goroutines at %v 45 s after the load, baseline %v: a leak", n, base)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if n := g.metric(t, "hotline_sip_calls_active"); n != 0 {
		t.Errorf("calls active %v after the load", n)
	}
}

// stallProxy forwards TCP to PostgreSQL and can hold every byte back, as a
// store that hangs does (a stuck disk, a lock, a network partition).
type stallProxy struct {
	ln      net.Listener
	target  string
	mu      sync.Mutex
	cond    *sync.Cond
	stalled bool
}

func newStallProxy(t *testing.T, target string) *stallProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln, target: target}
	p.cond = sync.NewCond(&p.mu)
	t.Cleanup(func() { ln.Close(); p.stall(false) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.pipe(c)
		}
	}()
	return p
}

func (p *stallProxy) stall(on bool) {
	p.mu.Lock()
	p.stalled = on
	p.mu.Unlock()
	p.cond.Broadcast()
}

func (p *stallProxy) pipe(c net.Conn) {
	defer c.Close()
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer up.Close()
	copyGated := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				p.mu.Lock()
				for p.stalled {
					p.cond.Wait()
				}
				p.mu.Unlock()
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	go func() { copyGated(up, c); up.Close(); c.Close() }()
	copyGated(c, up)
}

// A store that hangs never delays or fails a call: the call is journaled
// and answered at once, and becomes a ticket, with its events, when the
// store is back.
func TestSIPStoreHangsCallStillAnswered(t *testing.T) {
	testenv.Command(t, "sipp")
	u, err := url.Parse(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := newStallProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	g, path := oneAgentGateway(t)
	g.instance = startServe(t, "--config", path, "--sip", g.sipAddr(), "--db", u.String())
	port := g.register(t, "zhang", "zhang-secret")
	agent := g.phone(t, "agent", "agent_load.xml", port, 1)

	proxy.stall(true)
	start := time.Now()
	caller := g.call(t, "caller", "caller.xml", "-m", "1", "-d", "300")
	caller.wait(t, 20*time.Second)
	agent.wait(t, 20*time.Second)
	setup := invites(agent.received(t))[0].At.Sub(start)
	if setup > 2*time.Second {
		t.Errorf("the agent rang %v after the call came, with the store hanging", setup)
	}
	if inv := invites(agent.received(t))[0]; inv.header("X-Hotline-Ticket") != "" {
		t.Errorf("a ticket number while the store hangs: %q", inv.header("X-Hotline-Ticket"))
	}
	if n := g.metric(t, "hotline_journal_backlog"); n == 0 {
		t.Fatal("nothing journaled while the store hangs")
	}

	proxy.stall(false)
	for start := time.Now(); g.metric(t, "hotline_journal_backlog") > 0; time.Sleep(100 * time.Millisecond) {
		if time.Since(start) > 30*time.Second {
			t.Fatal("the journal was not replayed when the store came back")
		}
	}
	tk := g.waitEvent(t, "call_ended")
	if tk.Caller.Phone != "+8613800138000" || tk.Caller.Name != "张三" {
		t.Fatalf("ticket after the store came back: %+v", tk)
	}
	if _, ok := event(tk, "call_answered"); !ok {
		t.Fatalf("the answered event was lost: %+v", tk.Events)
	}
}

var _ = context.Background

// SIGHUP takes a new agent's softphone and a changed password: the
// registrar answers with the reloaded config, without a restart.
func TestSIPReloadTakesNewAgentAndPassword(t *testing.T) {
	g := startSIPGateway(t, sipOptions{})
	if g.tryRegister(t, "chen-before", "chen", "chen-secret", "127.0.0.4") {
		t.Fatal("an agent not in the config registered")
	}
	path := filepath.Join(g.dir, "hotline.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), "sip_password: zhang-secret", "sip_password: zhang-new", 1)
	cfg = strings.Replace(cfg, "escalation: [lead]", `  - id: chen
    name: 陈工
    sip_user: chen
    sip_password: chen-secret
escalation: [lead]`, 1)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := g.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// The reload is quick but not instant: try a few times, each from an
	// address of its own.
	took := false
	for i := 5; i < 10 && !took; i++ {
		time.Sleep(300 * time.Millisecond)
		took = g.tryRegister(t, fmt.Sprintf("chen-after-%d", i), "chen", "chen-secret", fmt.Sprintf("127.0.0.%d", i))
	}
	if !took {
		t.Fatal("the agent added by SIGHUP cannot register")
	}
	if g.tryRegister(t, "zhang-old", "zhang", "zhang-secret", "127.0.0.20") {
		t.Error("the password replaced by SIGHUP still registers")
	}
	if !g.tryRegister(t, "zhang-new", "zhang", "zhang-new", "127.0.0.21") {
		t.Error("the password set by SIGHUP does not register")
	}
}

// A late offer (an INVITE without SDP, as some carriers send): the agent's
// phone offers in its 200, the caller gets that offer in our 200, and the
// caller's answer, which comes in its ACK, reaches the agent in ours.
func TestSIPLateOffer(t *testing.T) {
	_, _, tk := answeredCall(t, "agent_late_offer.xml", "caller_late_offer.xml")
	if _, ok := event(tk, "call_answered"); !ok {
		t.Fatalf("no answered event: %+v", tk)
	}
}

// Hunt: the agents on duty ring one after another, each for ring_seconds;
// the first who does not answer gets CANCEL when the next one rings.
func TestSIPHuntRingsAgentsInTurn(t *testing.T) {
	g := startSIPGateway(t, sipOptions{strategy: "hunt", ringSeconds: 2, agents: wangAgent})
	p1 := g.register(t, "zhang", "zhang-secret")
	p2 := g.register(t, "wang", "wang-secret")
	first := g.phone(t, "zhang", "ring_noanswer.xml", p1, 1)
	second := g.phone(t, "wang", "agent_answer.xml", p2, 1)
	caller := g.call(t, "caller", "caller.xml", "-m", "1", "-d", "500")
	caller.wait(t, 20*time.Second)
	first.wait(t, 20*time.Second) // completes only if it got its CANCEL
	second.wait(t, 20*time.Second)

	i1, i2 := invites(first.received(t)), invites(second.received(t))
	if len(i1) != 1 || len(i2) != 1 {
		t.Fatalf("INVITEs: zhang %d, wang %d", len(i1), len(i2))
	}
	if d := i2[0].At.Sub(i1[0].At); d < 2*time.Second-100*time.Millisecond || d > 3*time.Second {
		t.Errorf("wang rang %v after zhang, want ring_seconds (2 s)", d)
	}
	tk := g.waitEvent(t, "call_ended")
	if a, _ := event(tk, "call_answered"); a["agent"] != "wang" || a["target"] != "softphone" {
		t.Fatalf("answered event: %v", a)
	}
	var rang []string
	for _, e := range tk.Events {
		if e.Type == "call_ringing" {
			rang = append(rang, string(e.Data))
		}
	}
	if len(rang) != 2 || !strings.Contains(rang[0], "zhang") || !strings.Contains(rang[1], "wang") {
		t.Errorf("ringing events %q, want zhang's then wang's", rang)
	}
}

// The caller hangs up and the agent's phone has dropped off the network:
// the call is over at once, though our BYE to the phone waits out its
// transaction in the background. It held the call among the calls in
// progress (and its place under max_calls) for 32 s.
func TestSIPCallEndsThoughAgentNeverAnswersBye(t *testing.T) {
	g, _, _ := answeredCall(t, "agent_gone.xml", "caller.xml")
	deadline := time.Now().Add(2 * time.Second)
	for g.metric(t, "hotline_sip_calls_active") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the call is still in progress 2 s after the caller hung up")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
