package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hotline-desk/hotline/internal/smtptest"
	"github.com/hotline-desk/hotline/internal/testenv"
)

// sentMail is one fax-to-mail message as the relay got it.
type sentMail struct {
	ticket, messageID, subject, text string
	pdf                              []byte
}

func sentMails(t *testing.T, k *smtptest.Sink) []sentMail {
	t.Helper()
	var out []sentMail
	for _, msg := range k.Messages() {
		p := smtptest.Parse(t, msg.Data)
		m := sentMail{ticket: p.Header.Get("X-Hotline-Ticket"), text: p.Text}
		m.messageID, _ = p.Header.MessageID()
		m.subject, _ = p.Header.Subject()
		for _, f := range p.Files {
			if f.ContentType == "application/pdf" {
				m.pdf = f.Data
			}
		}
		out = append(out, m)
	}
	return out
}

// faxGateway is a `hotline serve` with its fax inbox on and mail relayed
// to a sink.
type faxGateway struct {
	data, config, addr string
	cmd                *exec.Cmd
	stderr             *bytes.Buffer
}

func writeFaxConfig(t *testing.T, relay string) string {
	cfg := filepath.Join(t.TempDir(), "hotline.yaml")
	yaml := fmt.Sprintf(`desk:
  name: 慧海联创服务台
  addresses: [servicedesk@example.com]
  console_url: http://desk.example.com:8080
mail:
  relay: %s
  from: servicedesk@example.com
agents:
  - {id: zhang, name: 张工, email: zhang@example.com, mobile: "+8613800000001"}
`, relay)
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func startFaxGateway(t *testing.T, config, data string) *faxGateway {
	t.Helper()
	g := &faxGateway{data: data, config: config, addr: freePort(t), stderr: &bytes.Buffer{}}
	g.cmd = exec.Command(binary, "serve", "--config", config, "--data", data, "--http", g.addr, "--smtp", "off", "--sip", "off")
	g.cmd.Env = append(os.Environ(), "HOTLINE_LOG_LEVEL=warn")
	g.cmd.Stderr = g.stderr
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if g.cmd.ProcessState == nil {
			g.cmd.Process.Signal(os.Interrupt)
			g.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("hotline serve stderr:\n%s", g.stderr.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if resp, err := http.Get("http://" + g.addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return g
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway not ready:\n%s", g.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// uniqueFax is the simulator's 3-page G3 fax made distinct by bytes after
// its data: another sha256, the same pages.
func uniqueFax(n int) []byte {
	return append(append([]byte(nil), simulatedFax...), fmt.Sprintf("\nfax %d", n)...)
}

// dropFax writes a fax and its sidecar into the inbox the way Asterisk's
// dialplan should: under a temporary name, then renamed.
func dropFax(t *testing.T, inbox, name string, data []byte, caller string) {
	t.Helper()
	side := fmt.Sprintf(`{"caller":%q,"station_id":"ACME %s","status":"SUCCESS","pages":"3"}`, caller, name)
	for _, f := range []struct {
		name string
		b    []byte
	}{{name + ".json", []byte(side)}, {name, data}} {
		tmp := filepath.Join(inbox, "."+f.name+".part")
		if err := os.WriteFile(tmp, f.b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(inbox, f.name)); err != nil {
			t.Fatal(err)
		}
	}
}

func countFiles(dir, suffix string) int {
	es, _ := os.ReadDir(dir)
	n := 0
	for _, e := range es {
		if strings.HasSuffix(e.Name(), suffix) && !strings.HasPrefix(e.Name(), ".") {
			n++
		}
	}
	return n
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
	}
}

// pdfPages counts a PDF's pages with pdfinfo.
func pdfPages(t *testing.T, pdf []byte) int {
	t.Helper()
	bin := testenv.Command(t, "pdfinfo")
	p := filepath.Join(t.TempDir(), "m.pdf")
	os.WriteFile(p, pdf, 0o644)
	out, err := exec.Command(bin, p).CombinedOutput()
	if err != nil {
		t.Fatalf("pdfinfo: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(?m)^Pages:\s+(\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("pdfinfo: %s", out)
	}
	var n int
	fmt.Sscan(string(m[1]), &n)
	return n
}

// TestFaxEndToEnd: a 3-page G3 fax dropped in the inbox with a sidecar,
// and one handed over by `hotline fax ingest`, each give a ticket and one
// fax-to-mail message with a 3-page PDF through a real SMTP relay.
func TestFaxEndToEnd(t *testing.T) {
	relay := smtptest.Start(t)
	cfg := writeFaxConfig(t, relay.Addr)
	data := t.TempDir()
	g := startFaxGateway(t, cfg, data)
	inbox := filepath.Join(data, "fax-inbox")

	dropFax(t, inbox, "fax-0001.tif", uniqueFax(1), "0532-55578279")
	waitUntil(t, 30*time.Second, "the inbox fax's mail", func() bool { return len(sentMails(t, relay)) == 1 })
	first := sentMails(t, relay)[0]
	if countFiles(filepath.Join(inbox, "done"), ".tif") != 1 {
		t.Error("the fax is not in done/")
	}

	file := filepath.Join(t.TempDir(), "hylafax-q1.tif")
	os.WriteFile(file, uniqueFax(2), 0o644)
	out, err := exec.Command(binary, "fax", "ingest", file, "--from", "13800138000", "--station-id", "HYLAFAX 1",
		"--data", data, "--config", cfg, "--url", "http://"+g.addr).CombinedOutput()
	if err != nil {
		t.Fatalf("fax ingest: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`^HL-\d{8}-\d{4} created: 3 pages, received`).Match(out) {
		t.Errorf("fax ingest printed %q", out)
	}
	waitUntil(t, 30*time.Second, "the ingested fax's mail", func() bool { return len(sentMails(t, relay)) == 2 })

	// The same file again is the same fax: one ticket, no second mail.
	out, err = exec.Command(binary, "fax", "ingest", file, "--from", "13800138000", "--data", data, "--config", cfg,
		"--url", "http://"+g.addr).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "already taken") {
		t.Errorf("second ingest: %v %s", err, out)
	}
	time.Sleep(500 * time.Millisecond)
	mails := sentMails(t, relay)
	if len(mails) != 2 {
		t.Fatalf("%d mails, want 2", len(mails))
	}
	for i, m := range []sentMail{first, mails[1]} {
		caller := []string{"+8653255578279", "+8613800138000"}[i]
		if !strings.Contains(m.subject, caller) || !strings.Contains(m.subject, "共 3 页") || !strings.Contains(m.subject, "["+m.ticket+"]") {
			t.Errorf("subject %q", m.subject)
		}
		if !strings.Contains(m.text, "http://desk.example.com:8080/tickets/"+m.ticket) {
			t.Errorf("no ticket link in %q", m.text)
		}
		if m.pdf == nil || pdfPages(t, m.pdf) != 3 {
			t.Errorf("mail %d: no 3-page PDF", i+1)
		}
	}

	resp, err := http.Get("http://" + g.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`hotline_fax_received_total{source="inbox",status="received"} 1`,
		`hotline_fax_received_total{source="ingest",status="duplicate"} 1`, `hotline_fax_pages_total{source="ingest"} 3`,
		`hotline_fax_conversion_seconds_count{method="ccitt"} 3`, `hotline_fax_inbox_files_total{result="done"} 1`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// A wrong token is refused, and the command says so with its exit code.
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "admin-token"), []byte("wrong\n"), 0o600)
	if out, err := exec.Command(binary, "fax", "ingest", file, "--from", "1", "--data", bad, "--url", "http://"+g.addr).CombinedOutput(); err == nil {
		t.Errorf("ingest with a wrong token exited 0: %s", out)
	}

	// `hotline simulate fax` drops a fax into the running gateway's inbox.
	if out, err := exec.Command(binary, "simulate", "fax", "--data", data, "--config", cfg).CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "taken: done/") {
		t.Errorf("simulate fax: %v\n%s", err, out)
	}
	waitUntil(t, 30*time.Second, "the simulated fax's mail", func() bool { return len(sentMails(t, relay)) == 3 })
}

// TestFaxIngestWithoutGateway: with no gateway running, `hotline fax
// ingest` writes the ticket to the store itself; the gateway sends the
// fax-to-mail message when it starts.
func TestFaxIngestWithoutGateway(t *testing.T) {
	relay := smtptest.Start(t)
	cfg := writeFaxConfig(t, relay.Addr)
	data := t.TempDir()
	file := filepath.Join(t.TempDir(), "q2.tif")
	os.WriteFile(file, uniqueFax(3), 0o644)
	out, err := exec.Command(binary, "fax", "ingest", file, "--from", "010-12345678", "--data", data, "--config", cfg,
		"--url", "http://"+freePort(t)).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "created: 3 pages") {
		t.Fatalf("fax ingest: %v\n%s", err, out)
	}
	// Not a fax at all, and the gateway down: still a ticket noting it.
	junk := filepath.Join(t.TempDir(), "junk.tif")
	os.WriteFile(junk, []byte("garbage"), 0o644)
	out, err = exec.Command(binary, "fax", "ingest", junk, "--from", "010-12345678", "--data", data, "--config", cfg,
		"--url", "http://"+freePort(t)).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "failed") {
		t.Fatalf("fax ingest of junk: %v\n%s", err, out)
	}
	startFaxGateway(t, cfg, data)
	waitUntil(t, 30*time.Second, "the queued mails", func() bool { return len(sentMails(t, relay)) == 2 })
	// Bad usage exits non-zero.
	if err := exec.Command(binary, "fax", "ingest", "--from", "1").Run(); err == nil {
		t.Error("ingest without a file exited 0")
	}
}

// TestFaxInboxKill: SIGKILL while 50 faxes are in the inbox. After a
// restart every fax has exactly one ticket and one fax-to-mail message;
// none is left behind or duplicated.
func TestFaxInboxKill(t *testing.T) {
	const faxes = 50
	relay := smtptest.Start(t)
	cfg := writeFaxConfig(t, relay.Addr)
	data := t.TempDir()
	inbox := filepath.Join(data, "fax-inbox")
	os.MkdirAll(inbox, 0o750)
	for i := range faxes {
		dropFax(t, inbox, fmt.Sprintf("fax-%03d.tif", i), uniqueFax(1000+i), fmt.Sprintf("021-5555%04d", i))
	}
	g := startFaxGateway(t, cfg, data)
	done := filepath.Join(inbox, "done")
	waitUntil(t, 60*time.Second, "the first faxes taken", func() bool { return countFiles(done, ".tif") >= 20 })
	if err := g.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	g.cmd.Wait()
	taken := countFiles(done, ".tif")
	t.Logf("killed with %d of %d faxes moved to done/, %d mails sent", taken, faxes, len(sentMails(t, relay)))
	if taken == faxes {
		t.Log("every fax was taken before the kill; the restart checks idempotency only")
	}

	g = startFaxGateway(t, cfg, data)
	// A mail job leased by the killed process is due again when its lease
	// (2 min) runs out.
	waitUntil(t, 4*time.Minute, "every fax in done/ and every mail sent", func() bool {
		return countFiles(done, ".tif") == faxes && countFiles(inbox, ".tif") == 0 && distinctTickets(sentMails(t, relay)) == faxes
	})
	time.Sleep(time.Second)
	mails := sentMails(t, relay)
	perTicket := map[string]map[string]bool{}
	for _, m := range mails {
		if perTicket[m.ticket] == nil {
			perTicket[m.ticket] = map[string]bool{}
		}
		perTicket[m.ticket][m.messageID] = true
	}
	for tk, ids := range perTicket {
		if len(ids) != 1 {
			t.Errorf("ticket %s got %d different fax-to-mail messages", tk, len(ids))
		}
	}
	if len(mails) != faxes {
		// The relay took a mail whose job was not yet marked done when
		// the process died: SMTP delivery is at least once. The copy has
		// the same Message-ID, so mail clients show one.
		t.Logf("%d deliveries for %d mails (resent with the same Message-ID after the kill)", len(mails), faxes)
	}

	// One ticket per fax, each with its caller.
	g.cmd.Process.Signal(os.Interrupt)
	g.cmd.Wait()
	out, err := exec.Command(binary, "tickets", "list", "--data", data, "--config", cfg, "--channel", "fax", "--limit", "200").CombinedOutput()
	if err != nil {
		t.Fatalf("tickets list: %v\n%s", err, out)
	}
	if n := len(regexp.MustCompile(`(?m)^HL-`).FindAll(out, -1)); n != faxes {
		t.Fatalf("%d fax tickets, want %d:\n%s", n, faxes, out)
	}
	for i := range faxes {
		if !strings.Contains(string(out), fmt.Sprintf("+86215555%04d", i)) {
			t.Errorf("no ticket for the fax from 021-5555%04d", i)
		}
	}
}

func distinctTickets(ms []sentMail) int {
	seen := map[string]bool{}
	for _, m := range ms {
		seen[m.ticket] = true
	}
	return len(seen)
}
