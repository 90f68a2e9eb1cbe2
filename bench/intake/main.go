// Command intake measures the ticket intake (contacts/s through
// channels.Intake, every one committed) on SQLite and PostgreSQL, at 1 and
// 16 concurrent submitters, beside the raw ceiling of each store measured in
// the same run: pgbench with a one-row INSERT script at the same
// concurrency, and a bare one-row INSERT loop on SQLite with the same
// pragmas.
//
//	go run ./bench/intake [-duration 5s] [-pg postgres://…] [-conc 1,16]
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hotline-desk/hotline/channels"
	"github.com/hotline-desk/hotline/ticketing"
	"github.com/hotline-desk/hotline/ticketing/store/postgres"
	"github.com/hotline-desk/hotline/ticketing/store/postgres/pgtest"
	"github.com/hotline-desk/hotline/ticketing/store/sqlite"
)

func main() {
	duration := flag.Duration("duration", 5*time.Second, "how long each measurement runs")
	pgURL := flag.String("pg", envOr("HOTLINE_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test"), "PostgreSQL `URL`; empty skips PostgreSQL")
	concs := flag.String("conc", "1,16", "concurrent submitters, comma separated")
	stores := flag.String("stores", "sqlite,postgres", "stores to measure, comma separated")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to `FILE`")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		must(err)
		must(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	want := map[string]bool{}
	for _, s := range strings.Split(*stores, ",") {
		want[strings.TrimSpace(s)] = true
	}
	var levels []int
	for _, c := range strings.Split(*concs, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 {
			fail(fmt.Errorf("bad -conc %q", *concs))
		}
		levels = append(levels, n)
	}
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "store\tconcurrency\tintake/s\traw ceiling/s\tratio\tintake p50\tintake p99\t\n")
	for _, n := range levels {
		if !want["sqlite"] {
			break
		}
		settle("")
		intake, p50, p99, err := runSQLiteIntake(n, *duration)
		must(err)
		settle("")
		raw, err := runSQLiteRaw(n, *duration)
		must(err)
		fmt.Fprintf(tw, "sqlite\t%d\t%.0f\t%.0f\t%.2f\t%v\t%v\t\n", n, intake, raw, intake/raw, p50, p99)
		tw.Flush()
	}
	if *pgURL != "" && want["postgres"] {
		for _, n := range levels {
			settle(*pgURL)
			intake, p50, p99, err := runPostgresIntake(*pgURL, n, *duration)
			must(err)
			settle(*pgURL)
			raw, err := runPgbench(*pgURL, n, *duration)
			must(err)
			fmt.Fprintf(tw, "postgres\t%d\t%.0f\t%.0f\t%.2f\t%v\t%v\t\n", n, intake, raw, intake/raw, p50, p99)
			tw.Flush()
		}
	}
}

// settle starts each measurement from the same state: the page cache
// written back (the SQLite runs leave hundreds of MB dirty, which slowed
// the fsyncs of whatever ran next), and PostgreSQL just checkpointed.
func settle(pgURL string) {
	syscall.Sync()
	if pgURL != "" {
		conn, err := pgx.Connect(context.Background(), pgURL)
		must(err)
		_, err = conn.Exec(context.Background(), "CHECKPOINT")
		conn.Close(context.Background())
		must(err)
	}
	time.Sleep(500 * time.Millisecond)
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
	pprof.StopCPUProfile()
	fmt.Fprintln(os.Stderr, "intake bench:", err)
	os.Exit(1)
}

// contact is a realistic phone contact: a caller number to match against
// the customers, a subject and a short description.
func contact(w, i int) channels.Contact {
	return channels.Contact{
		Channel:    ticketing.ChannelPhone,
		ExternalID: fmt.Sprintf("bench-%d-%d-%s@carrier.example", w, i, runID),
		Caller:     ticketing.Party{Name: "张三", Phone: fmt.Sprintf("1380013%04d", (w*7919+i)%10000)},
		Callee:     "4001160016",
		Subject:    "来电：打印机无法打印",
		Body:       "客户来电反映三楼财务室打印机卡纸，无法打印，请尽快处理。Caller reports the third-floor printer jammed.",
		Metadata:   map[string]string{"sip_call_id": "bench", "trunk": "carrier"},
	}
}

var runID = func() string { b := make([]byte, 4); rand.Read(b); return hex.EncodeToString(b) }()

// drive runs n submitters for d and returns the rate of successful
// submissions and their latency percentiles. Any failed submission fails
// the benchmark: every submission must be committed.
func drive(n int, d time.Duration, submit func(w, i int) error) (rate float64, p50, p99 time.Duration, err error) {
	var done atomic.Int64
	var firstErr atomic.Value
	lat := make([][]time.Duration, n)
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				t0 := time.Now()
				if err := submit(w, i); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
				done.Add(1)
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	if e := firstErr.Load(); e != nil {
		return 0, 0, 0, e.(error)
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	p50, p99 = percentile(all, 0.50), percentile(all, 0.99)
	return float64(done.Load()) / elapsed.Seconds(), p50, p99, nil
}

func percentile(xs []time.Duration, p float64) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[int(float64(len(s)-1)*p)].Round(10 * time.Microsecond)
}

func intakeOn(st ticketing.Store) (*channels.Intake, error) {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	desk := ticketing.NewDesk(st, ticketing.DeskConfig{Prefix: "HL", Location: loc})
	// A realistic customer base: some callers are known.
	for i := 0; i < 200; i++ {
		c := &ticketing.Customer{Name: fmt.Sprintf("客户%d", i), Organization: "慧海联创",
			Phones: []string{fmt.Sprintf("1380013%04d", i*50)}}
		if err := desk.CustomerCreate(context.Background(), c); err != nil {
			return nil, err
		}
	}
	return channels.NewIntake(desk, nil, nil), nil
}

// measureIntake drives n submitters through an intake on st for d. Every
// submission must come back created.
func measureIntake(st ticketing.Store, n int, d time.Duration) (float64, time.Duration, time.Duration, error) {
	in, err := intakeOn(st)
	if err != nil {
		return 0, 0, 0, err
	}
	return drive(n, d, func(w, i int) error {
		r, err := in.Submit(context.Background(), contact(w, i))
		if err == nil && (!r.Created || r.Ticket == "") {
			err = fmt.Errorf("submission not created: %+v", r)
		}
		return err
	})
}

func runSQLiteIntake(n int, d time.Duration) (float64, time.Duration, time.Duration, error) {
	dir, err := os.MkdirTemp("", "intake-sqlite")
	if err != nil {
		return 0, 0, 0, err
	}
	defer os.RemoveAll(dir)
	st, err := sqlite.Open(filepath.Join(dir, "hotline.db"), nil)
	if err != nil {
		return 0, 0, 0, err
	}
	defer st.Close()
	if err := st.Migrate(context.Background()); err != nil {
		return 0, 0, 0, err
	}
	return measureIntake(st, n, d)
}

// runSQLiteRaw is the ceiling: one-row INSERTs, each its own transaction,
// with the driver's pragmas (WAL, synchronous=FULL: each commit fsync'd).
// The store's own writer reaches the same durability another way (it
// commits with synchronous=NORMAL and fsyncs the WAL itself before it
// answers), so both count only commits that are on disk. It reports the
// better of one shared connection and one connection per writer.
func runSQLiteRaw(n int, d time.Duration) (float64, error) {
	best := 0.0
	for _, conns := range []int{1, n} {
		dir, err := os.MkdirTemp("", "raw-sqlite")
		if err != nil {
			return 0, err
		}
		db, err := sql.Open("sqlite", sqlite.DSN(filepath.Join(dir, "raw.db")))
		if err != nil {
			return 0, err
		}
		db.SetMaxOpenConns(conns)
		if _, err := db.Exec(`CREATE TABLE raw_insert (id INTEGER PRIMARY KEY, channel TEXT, external_id TEXT, subject TEXT, created_at INTEGER)`); err != nil {
			return 0, err
		}
		rate, _, _, err := drive(n, d, func(w, i int) error {
			_, err := db.Exec(`INSERT INTO raw_insert (channel, external_id, subject, created_at) VALUES (?, ?, ?, ?)`,
				"phone", fmt.Sprintf("raw-%d-%d", w, i), "来电：打印机无法打印", time.Now().UnixMicro())
			return err
		})
		db.Close()
		os.RemoveAll(dir)
		if err != nil {
			return 0, err
		}
		best = max(best, rate)
		if n == 1 {
			break
		}
	}
	return best, nil
}

func runPostgresIntake(base string, n int, d time.Duration) (float64, time.Duration, time.Duration, error) {
	u, drop, err := pgtest.Schema(base, "hlbench_intake")
	if err != nil {
		return 0, 0, 0, err
	}
	defer drop()
	st, err := postgres.Open(context.Background(), u, nil)
	if err != nil {
		return 0, 0, 0, err
	}
	defer st.Close()
	if err := st.Migrate(context.Background()); err != nil {
		return 0, 0, 0, err
	}
	return measureIntake(st, n, d)
}

var tpsLine = regexp.MustCompile(`tps = ([0-9.]+)`)

// runPgbench is the ceiling: pgbench with a one-row INSERT script at the
// same concurrency against the same server.
func runPgbench(base string, n int, d time.Duration) (float64, error) {
	u, drop, err := pgtest.Schema(base, "hlbench_intake")
	if err != nil {
		return 0, err
	}
	defer drop()
	conn, err := pgx.Connect(context.Background(), u)
	if err != nil {
		return 0, err
	}
	_, err = conn.Exec(context.Background(), `CREATE TABLE raw_insert (id bigserial PRIMARY KEY, channel text,
		external_id text, subject text, created_at timestamptz DEFAULT now())`)
	conn.Close(context.Background())
	if err != nil {
		return 0, err
	}
	script, err := os.CreateTemp("", "insert-*.sql")
	if err != nil {
		return 0, err
	}
	defer os.Remove(script.Name())
	fmt.Fprintln(script, `INSERT INTO raw_insert (channel, external_id, subject) VALUES ('phone', 'raw-' || :client_id || '-' || random(), '来电：打印机无法打印');`)
	script.Close()
	pu, _ := url.Parse(base)
	pq := pu.Query()
	search := ""
	if uu, _ := url.Parse(u); uu != nil {
		search = uu.Query().Get("search_path")
	}
	pu.RawQuery = pq.Encode()
	threads := min(n, 2)
	cmd := exec.Command("pgbench", "-n", "-f", script.Name(), "-c", strconv.Itoa(n), "-j", strconv.Itoa(threads),
		"-T", strconv.Itoa(int(d.Seconds())), pu.String())
	cmd.Env = append(os.Environ(), "PGOPTIONS=-c search_path="+search)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("pgbench: %v\n%s", err, out)
	}
	m := tpsLine.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("pgbench printed no tps:\n%s", out)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}
