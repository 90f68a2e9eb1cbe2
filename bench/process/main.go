// Command process measures the service-desk process's timer engine and
// reports on SQLite and PostgreSQL:
//
//   - 100,000 open tickets, each with its SLA timer, received over the last
//     calendar month (so that the monthly report covers them all);
//
//   - the timer engine at rest over them (the runner that serve runs, with
//     the real SLA handler): CPU time and memory of this process;
//
//   - timer lag: a further set of tickets whose SLA warnings and breaches
//     come due during the run; lag is the time from a step's due moment to
//     its event on the ticket, p50 / p99 / max, beside the runner's poll
//     interval as the reference;
//
//   - the monthly report over the 100,000 tickets, beside a bare count(*)
//     of the same rows as the reference.
//
//     go run ./bench/process [-tickets 100000] [-due 1000] [-pg postgres://…] [-stores sqlite,postgres]
package main

import (
	"context"
	"database/sql"
	"encoding/json"

	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hotline-desk/hotline/jobs"
	"github.com/hotline-desk/hotline/ticketing"
	"github.com/hotline-desk/hotline/ticketing/calendar"
	"github.com/hotline-desk/hotline/ticketing/report"
	"github.com/hotline-desk/hotline/ticketing/sla"
	"github.com/hotline-desk/hotline/ticketing/store/postgres"
	"github.com/hotline-desk/hotline/ticketing/store/postgres/pgtest"
	"github.com/hotline-desk/hotline/ticketing/store/sqlite"
)

var loc = func() *time.Location {
	l, err := time.LoadLocation("Asia/Shanghai")
	must(err)
	return l
}()

func main() {
	n := flag.Int("tickets", 100000, "open tickets with timers")
	due := flag.Int("due", 1000, "tickets whose SLA steps come due during the lag measurement")
	rest := flag.Duration("rest", 10*time.Second, "how long the engine is measured at rest")
	pgURL := flag.String("pg", envOr("HOTLINE_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test"), "PostgreSQL `URL`")
	stores := flag.String("stores", "sqlite,postgres", "stores to measure")
	flag.Parse()
	for _, kind := range strings.Split(*stores, ",") {
		st, raw, cleanup, err := open(kind, *pgURL)
		must(err)
		res, err := measure(st, raw, *n, *due, *rest)
		cleanup()
		must(err)
		res.print(kind)
	}
}

type result struct {
	tickets                    int
	seed                       time.Duration
	restCPU                    time.Duration
	restWall                   time.Duration
	heapMB, rssMB              float64
	polls                      time.Duration
	lags                       []time.Duration
	steps                      int
	report, reportQ, reference time.Duration
	reportTickets              int
}

func (r result) print(kind string) {
	slices.Sort(r.lags)
	q := func(p float64) time.Duration {
		if len(r.lags) == 0 {
			return 0
		}
		return r.lags[min(len(r.lags)-1, int(p*float64(len(r.lags))))]
	}
	fmt.Printf("== %s: %d open tickets with timers, seeded in %v (%.0f/s)\n", kind, r.tickets, r.seed.Round(time.Millisecond),
		float64(r.tickets)/r.seed.Seconds())
	fmt.Printf("timer engine at rest over %v: CPU %v = %.2f%% of one core; Go heap in use %.1f MiB, process RSS %.1f MiB\n",
		r.restWall, r.restCPU.Round(time.Millisecond), 100*r.restCPU.Seconds()/r.restWall.Seconds(), r.heapMB, r.rssMB)
	fmt.Printf("timer lag over %d SLA steps: p50 %v, p99 %v, max %v; p99 = %.2f × the %v poll (target p99 < 1 s: %v)\n",
		r.steps, q(0.5).Round(time.Millisecond), q(0.99).Round(time.Millisecond), q(1).Round(time.Millisecond),
		q(0.99).Seconds()/r.polls.Seconds(), r.polls, q(0.99) < time.Second)
	fmt.Printf("monthly report over %d tickets: %v (its ticket query alone %v); reference count(*) of the rows %v, ratio %.1f× (target < 2 s: %v)\n",
		r.reportTickets, r.report.Round(time.Millisecond), r.reportQ.Round(time.Millisecond), r.reference.Round(time.Millisecond),
		r.report.Seconds()/r.reference.Seconds(), r.report < 2*time.Second)
}

// open gives a fresh store, a database/sql handle or pgx URL for the
// reference query, and a cleanup.
func open(kind, pgURL string) (ticketing.Store, func(ctx context.Context, from, to time.Time) (int, error), func(), error) {
	ctx := context.Background()
	switch kind {
	case "sqlite":
		dir, err := os.MkdirTemp("", "hotline-bench-process")
		if err != nil {
			return nil, nil, nil, err
		}
		path := filepath.Join(dir, "hotline.db")
		st, err := sqlite.Open(path, nil)
		if err != nil {
			return nil, nil, nil, err
		}
		db, err := sql.Open("sqlite", sqlite.DSN(path))
		if err != nil {
			return nil, nil, nil, err
		}
		count := func(ctx context.Context, from, to time.Time) (int, error) {
			var n int
			err := db.QueryRowContext(ctx, `SELECT count(*) FROM tickets WHERE received_at >= ? AND received_at < ?`,
				from.UnixMicro(), to.UnixMicro()).Scan(&n)
			return n, err
		}
		return st, count, func() { db.Close(); st.Close(); os.RemoveAll(dir) }, st.Migrate(ctx)
	case "postgres":
		u, drop, err := pgtest.Schema(pgURL, "hlbench_process")
		if err != nil {
			return nil, nil, nil, err
		}
		st, err := postgres.Open(ctx, u, nil)
		if err != nil {
			drop()
			return nil, nil, nil, err
		}
		conn, err := pgx.Connect(ctx, u)
		if err != nil {
			return nil, nil, nil, err
		}
		count := func(ctx context.Context, from, to time.Time) (int, error) {
			var n int
			err := conn.QueryRow(ctx, `SELECT count(*) FROM tickets WHERE received_at >= $1 AND received_at < $2`, from, to).Scan(&n)
			return n, err
		}
		return st, count, func() { conn.Close(ctx); st.Close(); drop() }, st.Migrate(ctx)
	}
	return nil, nil, nil, fmt.Errorf("unknown store %q", kind)
}

func measure(st ticketing.Store, count func(ctx context.Context, from, to time.Time) (int, error), n, due int, rest time.Duration) (result, error) {
	ctx := context.Background()
	res := result{tickets: n, polls: 200 * time.Millisecond}
	// Open tickets get targets far beyond the run (their timers wait at
	// rest); P1 tickets come due in seconds, for the lag.
	clocks := sla.New(sla.Config{Targets: map[ticketing.Priority]sla.Target{
		ticketing.P1: {Response: 8 * time.Second, Resolve: 12 * time.Second, Calendar: calendar.TwentyFourSeven(loc)},
		ticketing.P3: {Response: 120 * 24 * time.Hour, Resolve: 180 * 24 * time.Hour, Calendar: calendar.TwentyFourSeven(loc)},
	}})
	desk := ticketing.NewDesk(st, ticketing.DeskConfig{Location: loc, Hooks: []ticketing.Hook{clocks}})
	month, err := report.Last("month", time.Now(), loc)
	if err != nil {
		return res, err
	}
	span := month.To.AddDate(0, 0, 1).Sub(month.From)
	channels := []ticketing.Channel{ticketing.ChannelPhone, ticketing.ChannelEmail, ticketing.ChannelFax, ticketing.ChannelWeb}
	kinds := ticketing.Kinds
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				received := month.From.Add(time.Duration(int64(span) / int64(n) * int64(i)))
				_, err := desk.Open(ctx, ticketing.OpenParams{Channel: channels[i%4], Kind: kinds[i%len(kinds)], Priority: ticketing.P3,
					Subject: fmt.Sprintf("打印机故障 %d", i), Description: "三楼打印机无法打印",
					Caller:     ticketing.Party{Name: "客户", Phone: fmt.Sprintf("+86138%08d", i)},
					ReceivedAt: received})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return res, err
	}
	res.seed = time.Since(start)

	// The engine as serve runs it: a runner with the SLA handler.
	worker := "bench-timers"
	clocks.Attach(desk, worker)
	runner := jobs.New(st, jobs.Config{Worker: worker, Lease: 5 * time.Second, Concurrency: 16})
	runner.Handle(sla.JobTimer, clocks)
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- runner.Run(rctx) }()
	time.Sleep(time.Second) // settle: the first polls
	runtime.GC()
	cpu0, wall0 := cpuTime(), time.Now()
	time.Sleep(rest)
	res.restCPU, res.restWall = cpuTime()-cpu0, time.Since(wall0)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.heapMB, res.rssMB = float64(ms.HeapInuse)/(1<<20), rssMiB()

	// Lag: due tickets opened evenly over 8 s; each has a response warning
	// at +6 s, the breach at +8 s, the resolve warning at +9 s and its
	// breach at +12 s, so steps come due over some 20 s.
	var opened []string
	var mu sync.Mutex
	var lwg sync.WaitGroup
	gap := 8 * time.Second / time.Duration(max(due, 1))
	for i := 0; i < due; i++ {
		lwg.Add(1)
		go func() {
			defer lwg.Done()
			r, err := desk.Open(ctx, ticketing.OpenParams{Channel: ticketing.ChannelPhone, Kind: ticketing.KindIncident,
				Priority: ticketing.P1, Subject: "服务器宕机", Caller: ticketing.Party{Phone: "+8613900139000"}})
			if err == nil {
				mu.Lock()
				opened = append(opened, r.Number)
				mu.Unlock()
			}
		}()
		time.Sleep(gap)
	}
	lwg.Wait()
	time.Sleep(15 * time.Second)
	stop()
	<-done
	for _, num := range opened {
		t, err := desk.Get(ctx, num)
		if err != nil {
			return res, err
		}
		for _, e := range t.Events {
			if e.Type != sla.EventWarning && e.Type != sla.EventBreached {
				continue
			}
			var d struct{ Due time.Time }
			if err := json.Unmarshal(e.Data, &d); err != nil {
				return res, err
			}
			res.lags = append(res.lags, e.At.Sub(d.Due))
		}
	}
	res.steps = len(res.lags)
	if want := 4 * len(opened); res.steps != want {
		return res, fmt.Errorf("%d SLA steps fired for %d due tickets, want %d", res.steps, len(opened), want)
	}

	// The monthly report over the seeded tickets.
	var best, bestQ, ref time.Duration = 1 << 62, 1 << 62, 1 << 62
	for i := 0; i < 3; i++ {
		t0 := time.Now()
		if _, err := st.ReportTickets(ctx, ticketing.ReportParams{From: month.From.UTC(), To: month.To.AddDate(0, 0, 1).UTC()}); err != nil {
			return res, err
		}
		q := time.Since(t0)
		t0 = time.Now()
		k, err := report.Generate(ctx, st, month, time.Now())
		if err != nil {
			return res, err
		}
		d := time.Since(t0)
		if d < best {
			best, bestQ, res.reportTickets = d, q, k.Tickets
		}
		t1 := time.Now()
		if _, err := count(ctx, month.From, month.To.AddDate(0, 0, 1)); err != nil {
			return res, err
		}
		ref = min(ref, time.Since(t1))
	}
	res.report, res.reportQ, res.reference = best, bestQ, ref
	if res.reportTickets != n {
		return res, fmt.Errorf("the monthly report counted %d tickets, want %d", res.reportTickets, n)
	}
	return res, nil
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func rssMiB() float64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, rss int64
	fmt.Sscan(string(b), &size, &rss)
	return float64(rss*int64(os.Getpagesize())) / (1 << 20)
}

// schema makes a schema of its own for the run and returns a URL whose
// search_path is it, and a function that drops it.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/process:", err)
		os.Exit(1)
	}
}
