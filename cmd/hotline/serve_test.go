package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotline-desk/hotline/ticketing/store/postgres/pgtest"
)

// binary is the hotline command built once for the tests that run it as a
// real process.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hotline-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "hotline")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build hotline: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePort is a free TCP address on 127.0.0.1 for a listener of the
// gateway's.
func freePort(t *testing.T) string {
	t.Helper()
	return "127.0.0.1:" + strconv.Itoa(freeLoopbackPort(t))
}

// testPorts numbers the ports this test process hands out. They lie
// below the kernel's ephemeral range (32768 and up on Linux), where no
// socket bound to port 0 (a PostgreSQL client's, sipgo's own, another
// package's test) can take one between the check here and its use:
// ports picked from that range made sipp fail now and then with "Address
// already in use". The start depends on the process id, so that two test
// processes rarely walk the same ports.
var testPorts = func() *atomic.Int32 {
	var n atomic.Int32
	n.Store(int32(os.Getpid() * 53 % (testPortSpan / 4)))
	return &n
}()

const testPortBase, testPortSpan = 20000, 12000

// freeLoopbackPort returns a port free on 127.0.0.1 for UDP and TCP, with
// the three after it free for UDP: as sipp's media port (-mp), it binds
// audio RTP and RTCP there, and video RTP and RTCP on the next two. Ports
// are handed out four at a time.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
next:
	for range 500 {
		p := testPortBase + int(testPorts.Add(1))%(testPortSpan/4)*4
		var held []io.Closer
		release := func() {
			for _, c := range held {
				c.Close()
			}
		}
		for i := range 4 {
			u, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(p+i))
			if err != nil {
				release()
				continue next
			}
			held = append(held, u)
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		release()
		if err != nil {
			continue
		}
		l.Close()
		return p
	}
	t.Fatal("no free loopback port")
	return 0
}

type instance struct {
	base, token, data string
	cmd               *exec.Cmd
	stderr            *bytes.Buffer
}

// startServe runs `hotline serve` and waits until /healthz answers, which
// must be within 2 s of the process starting.
func startServe(t *testing.T, extra ...string) *instance {
	t.Helper()
	data := t.TempDir()
	addr := freePort(t)
	args := append([]string{"serve", "--data", data, "--http", addr, "--smtp", "off", "--sip", "off", "--fax-inbox", "off"}, extra...)
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "HOTLINE_LOG_LEVEL=warn")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	in := &instance{base: "http://" + addr, data: data, cmd: cmd, stderr: &stderr}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Errorf("hotline serve did not stop on SIGINT within 10 s")
		}
		if t.Failed() {
			t.Logf("hotline serve stderr:\n%s", stderr.String())
		}
	})
	for {
		resp, err := http.Get(in.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Since(start) > 2*time.Second {
			t.Fatalf("/healthz did not answer within 2 s of start: %v\n%s", err, stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("/healthz answered %v after start", time.Since(start).Round(time.Millisecond))
	tok, err := os.ReadFile(filepath.Join(data, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(data, "admin-token")); fi.Mode().Perm() != 0o600 {
		t.Errorf("admin-token mode %v, want 0600", fi.Mode().Perm())
	}
	in.token = strings.TrimSpace(string(tok))
	return in
}

// call does one API request and decodes the JSON answer into out (if not
// nil). It returns the status code.
func (in *instance) call(t testing.TB, method, path string, body any, out any) int {
	t.Helper()
	code, err := in.try(method, path, body, out, true)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func (in *instance) try(method, path string, body any, out any, auth bool) (int, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, in.base+path, rd)
	if auth {
		req.Header.Set("Authorization", "Bearer "+in.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode, nil
}

type ticketJSON struct {
	Number   string `json:"number"`
	Status   string `json:"status"`
	Channel  string `json:"channel"`
	Assignee string `json:"assignee"`
	Caller   struct {
		Name, Phone, Email, Organization string
	} `json:"caller"`
	Events []struct {
		Type  string          `json:"type"`
		Actor string          `json:"actor"`
		Data  json.RawMessage `json:"data"`
	} `json:"events"`
	Attachments []any  `json:"attachments"`
	Error       string `json:"error"`
}

func today() string {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	return time.Now().In(loc).Format("20060102")
}

// exerciseAPI is the must-show of the ticket core, against any store.
func exerciseAPI(t *testing.T, in *instance) {
	var tk ticketJSON
	code := in.call(t, "POST", "/api/v1/tickets", map[string]any{"subject": "打印机卡纸", "description": "三楼打印机卡纸，无法打印",
		"kind": "incident", "caller": map[string]string{"name": "张三", "phone": "13800138000"}}, &tk)
	if code != 201 || tk.Number != "HL-"+today()+"-0001" || tk.Caller.Phone != "+8613800138000" || tk.Caller.Name != "张三" {
		t.Fatalf("create: %d %+v", code, tk)
	}
	var got ticketJSON
	if code := in.call(t, "GET", "/api/v1/tickets/"+tk.Number, nil, &got); code != 200 || len(got.Events) != 1 || got.Events[0].Type != "created" || got.Attachments == nil {
		t.Fatalf("get: %d %+v", code, got)
	}
	for _, c := range []struct{ method, path string }{
		{"POST", "/api/v1/tickets"}, {"GET", "/api/v1/tickets"}, {"GET", "/api/v1/tickets/" + tk.Number},
		{"PATCH", "/api/v1/tickets/" + tk.Number}, {"GET", "/api/v1/customers?phone=13800138000"},
	} {
		code, err := in.try(c.method, c.path, map[string]string{}, nil, false)
		if err != nil || code != 401 {
			t.Errorf("%s %s without token: %d %v, want 401", c.method, c.path, code, err)
		}
	}
	var e ticketJSON
	if code := in.call(t, "PATCH", "/api/v1/tickets/"+tk.Number, map[string]string{"status": "closed"}, &e); code != 409 || !strings.Contains(e.Error, "resolved") {
		t.Fatalf("closing a new ticket: %d %q, want 409 with the reason", code, e.Error)
	}
	steps := []map[string]any{
		{"assignee": "zhang"},
		{"status": "in_progress"},
		{"status": "resolved", "resolution": "更换硒鼓后恢复"},
		{"status": "closed"},
	}
	want := []string{"assigned", "in_progress", "resolved", "closed"}
	for i, step := range steps {
		var after ticketJSON
		if code := in.call(t, "PATCH", "/api/v1/tickets/"+tk.Number, step, &after); code != 200 || after.Status != want[i] {
			t.Fatalf("step %v: %d %+v", step, code, after)
		}
	}
	in.call(t, "GET", "/api/v1/tickets/"+tk.Number, nil, &got)
	var changes []string
	for _, ev := range got.Events {
		if ev.Type == "status_changed" {
			var d map[string]string
			json.Unmarshal(ev.Data, &d)
			changes = append(changes, d["from"]+"→"+d["to"])
			if ev.Actor != "admin" {
				t.Errorf("event %s actor %q, want admin", ev.Type, ev.Actor)
			}
		}
	}
	if strings.Join(changes, ",") != "new→assigned,assigned→in_progress,in_progress→resolved,resolved→closed" {
		t.Fatalf("status events %v", changes)
	}
	var list struct {
		Tickets []ticketJSON `json:"tickets"`
		Next    string       `json:"next"`
	}
	if code := in.call(t, "GET", "/api/v1/tickets?status=closed&channel=web", nil, &list); code != 200 || len(list.Tickets) != 1 {
		t.Fatalf("list closed: %d %+v", code, list)
	}
	if code := in.call(t, "GET", "/api/v1/tickets/HL-19990101-0001", nil, &e); code != 404 || e.Error == "" {
		t.Fatalf("unknown ticket: %d %+v", code, e)
	}
	if code := in.call(t, "POST", "/api/v1/tickets", map[string]any{"subject": "x", "kind": "bogus"}, &e); code != 400 || !strings.Contains(e.Error, "bogus") {
		t.Fatalf("bad kind: %d %+v", code, e)
	}
	if code := in.call(t, "POST", "/api/v1/tickets", map[string]any{"subjcet": "typo"}, &e); code != 400 || !strings.Contains(e.Error, "subjcet") {
		t.Fatalf("unknown field: %d %+v", code, e)
	}
	exerciseCustomers(t, in)
	resp, err := http.Get(in.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{`hotline_contacts_total{channel="web",result="created"}`, `hotline_tickets_created_total{channel="web"}`, "hotline_intake_seconds_bucket", `hotline_store_seconds_bucket{op="ticket_open"`} {
		if !strings.Contains(string(b), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
}

func exerciseCustomers(t *testing.T, in *instance) {
	type customer struct {
		ID           int64    `json:"id"`
		Name         string   `json:"name"`
		Organization string   `json:"organization"`
		Phones       []string `json:"phones"`
	}
	var c1, c2 customer
	if code := in.call(t, "POST", "/api/v1/customers", map[string]any{"name": "王五", "organization": "青岛港务局",
		"phones": []string{"0532-55578279"}, "emails": []string{"Wang.Wu@Example.com"}}, &c1); code != 201 || c1.ID == 0 {
		t.Fatalf("create customer: %d %+v", code, c1)
	}
	if code := in.call(t, "POST", "/api/v1/customers", map[string]any{"name": "赵六", "organization": "慧海联创",
		"phones": []string{"138 0013 8000"}}, &c2); code != 201 {
		t.Fatalf("create customer: %d %+v", code, c2)
	}
	for _, c := range []struct {
		query string
		want  int64
	}{
		{"phone=%2B8653255578279", c1.ID},
		{"phone=008653255578279", c1.ID},
		{"phone=0532-55578279", c1.ID},
		{"phone=%2B86%2013800138000", c2.ID},
		{"email=wang.wu@example.com", c1.ID},
	} {
		var found struct{ Customers []customer }
		if code := in.call(t, "GET", "/api/v1/customers?"+c.query, nil, &found); code != 200 || len(found.Customers) != 1 || found.Customers[0].ID != c.want {
			t.Errorf("find %s: %d %+v, want customer %d", c.query, code, found, c.want)
		}
	}
	var e ticketJSON
	if code := in.call(t, "GET", "/api/v1/customers?phone=sipp", nil, &e); code != 400 {
		t.Errorf("bad phone lookup: %d %+v", code, e)
	}
	var tk ticketJSON
	in.call(t, "POST", "/api/v1/tickets", map[string]any{"subject": "VPN", "caller": map[string]string{"phone": "13800138000"}}, &tk)
	if tk.Caller.Name != "赵六" || tk.Caller.Organization != "慧海联创" {
		t.Fatalf("ticket of a known caller: %+v", tk.Caller)
	}
}

func TestServeSQLite(t *testing.T) {
	exerciseAPI(t, startServe(t))
}

func TestServePostgres(t *testing.T) {
	exerciseAPI(t, startServe(t, "--db", pgtest.URL(t)))
}

// Two gateways on one PostgreSQL, 8 API writers each, 250 creates per
// writer: 4,000 tickets, every number distinct, no error.
func TestTwoInstancesSharePostgres(t *testing.T) {
	url := pgtest.URL(t)
	a, b := startServe(t, "--db", url), startServe(t, "--db", url)
	const writers, each = 8, 250
	var mu sync.Mutex
	numbers := map[string]bool{}
	var wg sync.WaitGroup
	errs := make(chan error, 2*writers)
	for _, in := range []*instance{a, b} {
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					var tk ticketJSON
					code, err := in.try("POST", "/api/v1/tickets", map[string]any{"subject": fmt.Sprintf("load %d", i),
						"caller": map[string]string{"phone": "13900139000"}}, &tk, true)
					if err != nil || code != 201 {
						errs <- fmt.Errorf("create: %d %v %s", code, err, tk.Error)
						return
					}
					mu.Lock()
					if numbers[tk.Number] {
						errs <- fmt.Errorf("number %s given twice", tk.Number)
					}
					numbers[tk.Number] = true
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(numbers) != 2*writers*each {
		t.Fatalf("%d distinct numbers, want %d", len(numbers), 2*writers*each)
	}
	// Each instance accepts the other's token: the store holds them.
	var list struct{ Tickets []ticketJSON }
	if code := (&instance{base: a.base, token: b.token}).call(t, "GET", "/api/v1/tickets?limit=1", nil, &list); code != 200 {
		t.Fatalf("b's token on a: %d", code)
	}
}

func TestUnknownConfigKeyIsAnError(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "hotline.yaml")
	os.WriteFile(cfg, []byte("sip:\n  rign_seconds: 5\n"), 0o600)
	out, err := exec.Command(binary, "serve", "--config", cfg, "--data", t.TempDir()).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "rign_seconds") {
		t.Fatalf("serve with an unknown key: %v\n%s", err, out)
	}
}

func TestCommandsHaveHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"serve", "--help"}, {"migrate", "--help"}, {"tickets", "--help"}, {"version", "--help"}} {
		out, err := exec.Command(binary, args...).CombinedOutput()
		if err != nil || !strings.Contains(strings.ToLower(string(out)), "usage") {
			t.Errorf("hotline %v: %v\n%s", args, err, out)
		}
	}
	if err := exec.Command(binary, "nonsense").Run(); err == nil {
		t.Errorf("an unknown command exited 0")
	}
}

func TestMigrateAndTicketsCommands(t *testing.T) {
	data := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(binary, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("hotline %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := run("migrate", "--data", data); !strings.Contains(out, "up to date") {
		t.Fatalf("migrate: %s", out)
	}
	in := startServeAt(t, data)
	var tk ticketJSON
	in.call(t, "POST", "/api/v1/tickets", map[string]any{"subject": "邮件发不出去", "caller": map[string]string{"name": "李四", "email": "li@example.com"}}, &tk)
	if out := run("tickets", "list", "--data", data); !strings.Contains(out, tk.Number) || !strings.Contains(out, "邮件发不出去") {
		t.Fatalf("tickets list:\n%s", out)
	}
	if out := run("tickets", "show", "--data", data, tk.Number); !strings.Contains(out, "李四") || !strings.Contains(out, "created") {
		t.Fatalf("tickets show:\n%s", out)
	}
	if out, err := exec.Command(binary, "tickets", "show", "--data", data, "HL-19990101-0001").CombinedOutput(); err == nil {
		t.Fatalf("show of an unknown ticket exited 0:\n%s", out)
	}
}

func startServeAt(t *testing.T, data string) *instance {
	t.Helper()
	addr := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, binary, "serve", "--data", data, "--http", addr, "--smtp", "off", "--sip", "off", "--fax-inbox", "off")
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	in := &instance{base: "http://" + addr, cmd: cmd}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if resp, err := http.Get(in.base + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("gateway did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	tok, _ := os.ReadFile(filepath.Join(data, "admin-token"))
	in.token = strings.TrimSpace(string(tok))
	return in
}
