// Command mail measures SMTP acceptance into Hotline (messages/s, each
// committed as a ticket, with its acknowledgement queued) beside the
// references of ../shared/bench/README.md, all measured in the same run
// with the same load from Postfix's smtp-source:
//
//   - smtp-sink, which discards: the protocol ceiling on this machine;
//   - Postfix's own smtpd writing to its fsync'd queue (a private instance
//     in a temporary directory on a free loopback port): the durable
//     reference;
//   - `hotline serve` on SQLite, and on PostgreSQL (a schema of its own).
//
// Each run checks its result: Postfix's hold queue and Hotline's store must
// hold every message.
//
//	go run ./bench/mail [-n 5000] [-sessions 10] [-size 5000] [-rounds 1] [-pg postgres://…]
//
// Needs the Debian package postfix (smtp-source, smtp-sink, postfix) and
// root (Postfix's daemons drop to the postfix user).
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hotline-desk/hotline/ticketing"
	"github.com/hotline-desk/hotline/ticketing/store/postgres"
	"github.com/hotline-desk/hotline/ticketing/store/postgres/pgtest"
	"github.com/hotline-desk/hotline/ticketing/store/sqlite"
)

type options struct {
	n, sessions, size int
	pg                string
	hotline           string // the built binary
	noAck             bool
}

func main() {
	var o options
	flag.IntVar(&o.n, "n", 5000, "messages per measurement")
	flag.IntVar(&o.sessions, "sessions", 10, "concurrent SMTP sessions, each reused for many messages (smtp-source -d)")
	flag.IntVar(&o.size, "size", 5000, "message size in bytes (smtp-source -l)")
	rounds := flag.Int("rounds", 1, "measure everything this many times, interleaved; the median is reported")
	flag.StringVar(&o.pg, "pg", envOr("HOTLINE_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test"), "PostgreSQL `URL`; empty skips PostgreSQL")
	flag.BoolVar(&o.noAck, "no-ack", false, "run Hotline without mail.relay, so that no acknowledgement is queued")
	flag.Parse()
	for _, tool := range []string{"smtp-source", "smtp-sink", "postfix"} {
		if _, err := exec.LookPath(tool); err != nil {
			fail(fmt.Errorf("%s is not installed (Debian package postfix)", tool))
		}
	}
	dir, err := os.MkdirTemp("", "hotline-bench-mail")
	must(err)
	defer os.RemoveAll(dir)
	o.hotline = filepath.Join(dir, "hotline")
	if out, err := exec.Command("go", "build", "-o", o.hotline, "./cmd/hotline").CombinedOutput(); err != nil {
		fail(fmt.Errorf("build hotline: %v\n%s", err, out))
	}
	type target struct {
		name string
		run  func(o *options, port string) (check func() error, stop func(), err error)
	}
	targets := []target{
		{"smtp-sink (protocol ceiling)", runSink},
		{"postfix smtpd, fsync'd queue", runPostfix},
		{"hotline serve, SQLite", runHotlineSQLite},
	}
	if o.pg != "" {
		targets = append(targets, target{"hotline serve, PostgreSQL", runHotlinePostgres})
	}
	rates := map[string][]float64{}
	for r := 0; r < *rounds; r++ {
		for _, t := range targets {
			rate, err := measure(&o, t.run)
			if err != nil {
				fail(fmt.Errorf("%s: %w", t.name, err))
			}
			fmt.Fprintf(os.Stderr, "round %d: %-32s %7.0f msg/s\n", r+1, t.name, rate)
			rates[t.name] = append(rates[t.name], rate)
		}
	}
	med := func(name string) float64 {
		xs := append([]float64(nil), rates[name]...)
		sort.Float64s(xs)
		return xs[len(xs)/2]
	}
	sink, pf := med(targets[0].name), med(targets[1].name)
	ack := "acknowledgements on (one sender: the per-sender limit queues 5, holds back the rest)"
	if o.noAck {
		ack = "no acknowledgements"
	}
	fmt.Printf("%d messages of %d bytes, %d sessions reused (smtp-source -d), median of %d round(s); Hotline with %s\n",
		o.n, o.size, o.sessions, *rounds, ack)
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "server\tmsg/s\tvs smtp-sink\tvs postfix durable\t\n")
	for _, t := range targets {
		r := med(t.name)
		fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t%.2f×\t\n", t.name, r, r/sink, r/pf)
	}
	tw.Flush()
}

// measure starts a server on a free loopback port, sends the load with
// smtp-source, checks that the server kept every message, and stops it.
func measure(o *options, run func(o *options, port string) (func() error, func(), error)) (float64, error) {
	port, err := freePort()
	if err != nil {
		return 0, err
	}
	check, stop, err := run(o, port)
	if err != nil {
		return 0, err
	}
	defer stop()
	if err := waitListen("127.0.0.1:" + port); err != nil {
		return 0, err
	}
	start := time.Now()
	cmd := exec.Command("smtp-source", "-s", fmt.Sprint(o.sessions), "-m", fmt.Sprint(o.n), "-d", "-l", fmt.Sprint(o.size),
		"-f", "bench@example.org", "-t", "servicedesk@example.com", "127.0.0.1:"+port)
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("smtp-source: %v\n%s", err, out)
	}
	rate := float64(o.n) / time.Since(start).Seconds()
	if err := check(); err != nil {
		return 0, err
	}
	return rate, nil
}

func runSink(o *options, port string) (func() error, func(), error) {
	cmd := exec.Command("smtp-sink", "-u", "postfix", "127.0.0.1:"+port, "256")
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	return func() error { return nil }, func() { cmd.Process.Kill(); cmd.Wait() }, nil
}

// runPostfix runs a private Postfix whose smtpd puts every message on hold
// in its own queue: the durable work (cleanup writes and fsyncs the queue
// file) without delivery.
func runPostfix(o *options, port string) (func() error, func(), error) {
	dir, err := os.MkdirTemp("", "hotline-bench-postfix")
	if err != nil {
		return nil, nil, err
	}
	// Postfix's daemons run as the postfix user and must reach the queue.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, nil, err
	}
	conf := filepath.Join(dir, "conf")
	data := filepath.Join(dir, "data")
	queue := filepath.Join(dir, "queue")
	for _, d := range []string{conf, data, queue} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, nil, err
		}
	}
	if out, err := exec.Command("chown", "postfix", data).CombinedOutput(); err != nil {
		return nil, nil, fmt.Errorf("chown: %v %s", err, out)
	}
	mainCf := fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %s
data_directory = %s
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = bench.invalid
mydestination =
mynetworks = 127.0.0.0/8
relay_domains = example.com
alias_maps =
alias_database =
smtpd_recipient_restrictions = permit_mynetworks, reject
smtpd_data_restrictions = check_client_access static:HOLD
smtpd_client_connection_count_limit = 0
smtpd_client_message_rate_limit = 0
default_process_limit = 100
maillog_file_prefixes = %s
maillog_file = %s
`, queue, data, dir, filepath.Join(dir, "maillog"))
	masterCf := fmt.Sprintf(`127.0.0.1:%s inet n - n - - smtpd
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
proxymap unix - - n - - proxymap
anvil unix - - n - 1 anvil
postlog unix-dgram n - n - 1 postlogd
`, port)
	if err := os.WriteFile(filepath.Join(conf, "main.cf"), []byte(mainCf), 0o644); err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(filepath.Join(conf, "master.cf"), []byte(masterCf), 0o644); err != nil {
		return nil, nil, err
	}
	// check creates the queue directories with their owners.
	if out, err := exec.Command("postfix", "-c", conf, "check").CombinedOutput(); err != nil {
		return nil, nil, fmt.Errorf("postfix check: %v\n%s", err, out)
	}
	cmd := exec.Command("postfix", "-c", conf, "start-fg")
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	if err := waitListen("127.0.0.1:" + port); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		b, _ := os.ReadFile(filepath.Join(dir, "maillog"))
		return nil, nil, fmt.Errorf("postfix did not start: %v\n%s%s", err, log.String(), b)
	}
	stop := func() {
		exec.Command("postfix", "-c", conf, "stop").Run()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
		}
		os.RemoveAll(dir)
	}
	check := func() error {
		n := 0
		filepath.WalkDir(filepath.Join(queue, "hold"), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				n++
			}
			return nil
		})
		if n != o.n {
			return fmt.Errorf("postfix holds %d messages, want %d", n, o.n)
		}
		return nil
	}
	return check, stop, nil
}

func runHotlineSQLite(o *options, port string) (func() error, func(), error) {
	data, err := os.MkdirTemp("", "hotline-bench-data")
	if err != nil {
		return nil, nil, err
	}
	check, stop, err := runHotline(o, port, data, nil, func(ctx context.Context) (ticketing.Store, error) {
		return sqlite.Open(filepath.Join(data, "hotline.db"), nil)
	})
	return check, func() { stop(); os.RemoveAll(data) }, err
}

func runHotlinePostgres(o *options, port string) (func() error, func(), error) {
	u, drop, err := pgtest.Schema(o.pg, "hlbench_mail")
	if err != nil {
		return nil, nil, err
	}
	data, err := os.MkdirTemp("", "hotline-bench-data")
	if err != nil {
		return nil, nil, err
	}
	check, stop, err := runHotline(o, port, data, []string{"--db", u}, func(ctx context.Context) (ticketing.Store, error) {
		return postgres.Open(ctx, u, nil)
	})
	return check, func() { stop(); drop(); os.RemoveAll(data) }, err
}

// runHotline starts `hotline serve` with the bench's desk address, and an
// smtp-sink as mail.relay so that acknowledgements are queued and sent.
func runHotline(o *options, port, data string, extra []string, open func(ctx context.Context) (ticketing.Store, error)) (func() error, func(), error) {
	relay := ""
	var sink *exec.Cmd
	if !o.noAck {
		rp, err := freePort()
		if err != nil {
			return nil, nil, err
		}
		sink = exec.Command("smtp-sink", "-u", "postfix", "127.0.0.1:"+rp, "64")
		if err := sink.Start(); err != nil {
			return nil, nil, err
		}
		relay = "127.0.0.1:" + rp
	}
	cfg := filepath.Join(data, "hotline.yaml")
	yaml := "desk:\n  addresses: [servicedesk@example.com]\nmail:\n  relay: \"" + relay + "\"\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		return nil, nil, err
	}
	args := append([]string{"serve", "--config", cfg, "--data", data, "--http", "off", "--sip", "off", "--fax-inbox", "off",
		"--smtp", "127.0.0.1:" + port}, extra...)
	cmd := exec.Command(o.hotline, args...)
	var log bytes.Buffer
	cmd.Stderr = &log
	cmd.Env = append(os.Environ(), "HOTLINE_LOG_LEVEL=warn")
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cmd.Process.Signal(os.Interrupt)
			cmd.Wait()
		}
		if sink != nil {
			sink.Process.Kill()
			sink.Wait()
			sink = nil
		}
	}
	check := func() error {
		stop()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		st, err := open(ctx)
		if err != nil {
			return err
		}
		defer st.Close()
		n := 0
		var after int64
		for {
			page, err := st.TicketList(ctx, ticketing.TicketListParams{Limit: 500, After: after})
			if err != nil {
				return err
			}
			n += len(page.Tickets)
			if page.Next == 0 {
				break
			}
			after = page.Next
		}
		if n != o.n {
			return fmt.Errorf("hotline has %d tickets, want %d\n%s", n, o.n, log.String())
		}
		return nil
	}
	return check, stop, nil
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port, nil
}

func waitListen(addr string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("nothing listens on " + addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func must(err error) {
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/mail:", strings.TrimSpace(err.Error()))
	os.Exit(1)
}
