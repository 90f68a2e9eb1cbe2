// Command ari measures the hotline Stasis application under load: calls
// placed concurrently on the ARI simulator (in a child process, so that
// the CPU measured here is the application's own, with its SQLite store),
// each driven to its end: the IVR (the caller presses 1 as soon as the
// menu starts), the ticket, the read-back, the agent's phone ringing and
// answering, a short recorded conversation, the recording attached.
//
// It reports the ARI REST round trips per call, the application's CPU per
// call, and the time from StasisStart to the first agent leg created (as
// the simulator sees it: WebSocket delivery, the IVR, the ticket commit
// and the REST calls before it), beside two references measured in the
// same run: one REST round trip (GET /asterisk/ping) and one contact
// committed through the call intake, both at the same concurrency.
//
//	go run ./bench/ari [-calls 600] [-conc 200] [-talk 5s] [-ramp 5s]
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hotline-desk/hotline/ari"
	"github.com/hotline-desk/hotline/ari/aritest"
	"github.com/hotline-desk/hotline/ari/hotline"
	"github.com/hotline-desk/hotline/channels"
	"github.com/hotline-desk/hotline/config"
	"github.com/hotline-desk/hotline/ticketing"
	"github.com/hotline-desk/hotline/ticketing/store/sqlite"
)

func main() {
	role := flag.String("role", "app", "app (the measurement) or sim (the child process)")
	calls := flag.Int("calls", 600, "calls in all")
	conc := flag.Int("conc", 200, "calls at once")
	talk := flag.Duration("talk", 5*time.Second, "conversation length")
	ramp := flag.Duration("ramp", -1, "spread the first calls over this long (default: -talk; 0: all at once)")
	flag.Parse()
	var err error
	if *role == "sim" {
		err = runSim(*calls, *conc, *talk, *ramp)
	} else {
		if *ramp < 0 {
			*ramp = *talk
		}
		err = runApp(*calls, *conc, *talk, *ramp)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/ari:", err)
		os.Exit(1)
	}
}

// runSim is the child: the simulator and the far ends of every call.
func runSim(calls, conc int, talk, ramp time.Duration) error {
	sim, err := aritest.New(aritest.Options{MediaDuration: func(string) time.Duration { return time.Millisecond }})
	if err != nil {
		return err
	}
	defer sim.Close()
	sim.Register("agent1", aritest.Agent{OnDial: func(l *aritest.Leg) {
		l.Ring()
		time.Sleep(10 * time.Millisecond)
		if l.Answer() {
			time.Sleep(talk)
			l.Hangup()
		}
	}})
	fmt.Printf("url %s\n", sim.URL())
	for !sim.Connected("hotline") {
		time.Sleep(5 * time.Millisecond)
	}
	start := sim.Requests()
	var mu sync.Mutex
	var firstLeg []time.Duration
	var failed atomic.Int64
	var wg sync.WaitGroup
	var next atomic.Int64
	began := time.Now()
	// conc callers, each placing calls one after another; they start
	// spread over ramp, so that calls arrive at a steady rate with conc
	// of them in progress (a burst of conc at once with -ramp 0).
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(w) * ramp / time.Duration(conc))
			for {
				i := int(next.Add(1)) - 1
				if i >= calls {
					return
				}
				placeCall(sim, i, &mu, &firstLeg, &failed)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(began)
	slices.Sort(firstLeg)
	fmt.Printf("done requests=%d calls=%d failed=%d elapsed=%s p50=%s p99=%s max=%s\n", sim.Requests()-start, len(firstLeg),
		failed.Load(), elapsed, pct(firstLeg, 50), pct(firstLeg, 99), pct(firstLeg, 100))
	// Stay up for the references until the parent is done.
	io.Copy(io.Discard, os.Stdin)
	return nil
}

// placeCall makes one call and drives the caller's side to its end.
func placeCall(sim *aritest.Server, i int, mu *sync.Mutex, firstLeg *[]time.Duration, failed *atomic.Int64) {
	{
		{
			c, err := sim.Call(aritest.Inbound{Name: "压测", Number: fmt.Sprintf("1380013%04d", i%10000)})
			if err != nil {
				failed.Add(1)
				return
			}
			if c.WaitHeard(hotline.DefaultPrompts.Menu, 30*time.Second) != "" {
				c.DTMF("1")
			}
			select {
			case <-c.Done():
			case <-time.After(60 * time.Second):
				failed.Add(1)
				c.Hangup()
				return
			}
			d := c.FirstLeg()
			if d == 0 {
				failed.Add(1)
				return
			}
			mu.Lock()
			*firstLeg = append(*firstLeg, d)
			mu.Unlock()
		}
	}
}

func pct(xs []time.Duration, p int) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	i := (len(xs)*p + 99) / 100
	return xs[min(max(i-1, 0), len(xs)-1)]
}

func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runApp is the measurement: the application with a SQLite store.
func runApp(calls, conc int, talk, ramp time.Duration) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	child := exec.Command(self, "-role", "sim", "-calls", strconv.Itoa(calls), "-conc", strconv.Itoa(conc), "-talk", talk.String(), "-ramp", ramp.String())
	child.Stderr = os.Stderr
	stdin, _ := child.StdinPipe()
	stdout, _ := child.StdoutPipe()
	if err := child.Start(); err != nil {
		return err
	}
	defer func() { stdin.Close(); child.Wait() }()
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() {
		return fmt.Errorf("the simulator did not start")
	}
	url := strings.TrimPrefix(lines.Text(), "url ")

	dir, err := os.MkdirTemp("", "bench-ari")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	log := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := sqlite.Open(filepath.Join(dir, "hotline.db"), log)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return err
	}
	desk := ticketing.NewDesk(st, ticketing.DeskConfig{Prefix: "HL", Location: time.UTC, Log: log})
	intake := channels.NewIntake(desk, nil, log)
	journal, err := channels.OpenJournal(filepath.Join(dir, "journal"), log)
	if err != nil {
		return err
	}
	defer journal.Close()
	callIntake := channels.NewCallIntake(intake, journal, 0, log)
	go callIntake.Run(ctx)
	roster, err := channels.NewRoster([]config.Agent{{ID: "zhang", SIPUser: "agent1"}}, nil, nil, time.UTC)
	if err != nil {
		return err
	}
	holder := &channels.RosterHolder{}
	holder.Store(roster)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc}, Timeout: 30 * time.Second}
	client, err := ari.New(ari.Config{URL: url, User: "hotline", Password: "hotline", HTTPClient: hc})
	if err != nil {
		return err
	}
	app := hotline.New(client, callIntake, holder, hotline.Config{
		Menu: map[string]string{"1": "incident", "2": "service_request", "3": "complaint", "0": hotline.ChoiceOperator},
		Plan: channels.PlanConfig{Ring: 20 * time.Second}, ARIURL: url, Log: log,
	})
	done := make(chan struct{})
	go func() { app.Run(ctx); close(done) }()

	cpu0, wall0 := cpu(), time.Now()
	if !lines.Scan() {
		return fmt.Errorf("the simulator stopped: %v", lines.Err())
	}
	res := fields(strings.TrimPrefix(lines.Text(), "done "))
	for app.Active() > 0 {
		time.Sleep(5 * time.Millisecond)
	}
	appCPU, wall := cpu()-cpu0, time.Since(wall0)
	n, _ := strconv.Atoi(res["calls"])
	reqs, _ := strconv.Atoi(res["requests"])
	p99, _ := time.ParseDuration(res["p99"])

	// References, same run: one at a time, and conc at once.
	ping1 := pingRef(ctx, client, 1, 1000)
	submit1 := submitRef(ctx, callIntake, 1, 200, "one")
	ping := pingRef(ctx, client, conc, 20*conc)
	submit := submitRef(ctx, callIntake, conc, 5*conc, "conc")

	fmt.Printf("calls %d (%d in progress at once, talk %s, first calls spread over %s), failed %s, wall %s, %.0f calls/s\n",
		n, conc, talk, ramp, res["failed"], wall.Round(time.Millisecond), float64(n)/wall.Seconds())
	if n == 0 {
		return fmt.Errorf("no call completed")
	}
	fmt.Printf("ARI round trips per call     %.1f\n", float64(reqs)/float64(n))
	fmt.Printf("app CPU per call             %s (%.0f%% of a core while the calls ran)\n",
		(appCPU / time.Duration(n)).Round(time.Microsecond), 100*appCPU.Seconds()/wall.Seconds())
	fmt.Printf("StasisStart → first originate  p50 %s  p99 %s  max %s  (target p99 < 50ms)\n", res["p50"], res["p99"], res["max"])
	fmt.Printf("reference, one at a time: REST round trip (GET /asterisk/ping) p99 %s; contact committed p99 %s\n", ping1[1], submit1[1])
	fmt.Printf("reference, %d at once:    REST round trip p99 %s; contact committed p99 %s\n", conc, ping[1], submit[1])
	fmt.Printf("ratio: first-originate p99 = %.1f × REST p99 = %.1f × commit p99 (one-at-a-time references)\n",
		p99.Seconds()/ping1[1].Seconds(), p99.Seconds()/submit1[1].Seconds())
	cancel()
	<-done
	return nil
}

func fields(s string) map[string]string {
	out := map[string]string{}
	for _, f := range strings.Fields(s) {
		k, v, _ := strings.Cut(f, "=")
		out[k] = v
	}
	return out
}

// pingRef: GET /asterisk/ping n times, conc at once; p50 and p99.
func pingRef(ctx context.Context, c *ari.Client, conc, n int) [2]time.Duration {
	return measure(conc, n, func(i int) {
		c.Ping(ctx)
	})
}

// submitRef: n contacts through the call intake, conc at once.
func submitRef(ctx context.Context, in *channels.CallIntake, conc, n int, tag string) [2]time.Duration {
	return measure(conc, n, func(i int) {
		in.Submit(ctx, channels.Contact{Channel: ticketing.ChannelPhone, ExternalID: fmt.Sprintf("ref-%s-%d", tag, i),
			Caller: ticketing.Party{Name: "压测", Phone: "13800138000"}, Subject: "ref"})
	})
}

func measure(conc, n int, f func(i int)) [2]time.Duration {
	var mu sync.Mutex
	var ds []time.Duration
	var next atomic.Int64
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t := time.Now()
				f(i)
				d := time.Since(t)
				mu.Lock()
				ds = append(ds, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.Sort(ds)
	return [2]time.Duration{pct(ds, 50), pct(ds, 99)}
}
