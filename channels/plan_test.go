package channels

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-desk/hotline/config"
)

// describe renders a plan one line per step: "name ring [parallel] targets".
func describe(p Plan) []string {
	var out []string
	for _, s := range p.Steps {
		var ts []string
		for _, t := range s.Targets {
			switch t.Kind {
			case TargetSoftphone:
				ts = append(ts, "sip:"+t.SIPUser)
			case TargetMobile:
				ts = append(ts, t.Agent.ID+":"+t.Number)
			}
		}
		line := fmt.Sprintf("%s %s %s", s.Name, s.Ring, strings.Join(ts, " "))
		if s.Parallel {
			line = fmt.Sprintf("%s %s parallel %s", s.Name, s.Ring, strings.Join(ts, " "))
		}
		out = append(out, line)
	}
	return out
}

func TestPlan(t *testing.T) {
	loc := shanghai(t)
	r := testRoster(t)
	ringAll := PlanConfig{Ring: 20 * time.Second, MobileRing: 30 * time.Second, Strategy: StrategyRingAll}
	hunt := PlanConfig{Ring: 15 * time.Second, MobileRing: 25 * time.Second, Strategy: StrategyHunt}
	at := func(day, hh, mm int) time.Time { return time.Date(2026, 11, day, hh, mm, 0, 0, loc) }

	escalationOnly := []string{
		"escalation 30s wang:" + mobileWang,
		"escalation 30s li:" + mobileLi,
		"escalation 30s zhang:" + mobileZhang,
	}
	tests := []struct {
		name string
		t    time.Time
		pc   PlanConfig
		want []string
	}{
		{
			// zhang and wang on duty; wang has no softphone. zhang's mobile is
			// rung as the agent on duty, so escalation skips him.
			name: "weekday day, ring_all",
			t:    at(25, 10, 0),
			pc:   ringAll,
			want: []string{
				"softphones 20s parallel sip:zhang",
				"mobile 30s zhang:" + mobileZhang,
				"escalation 30s wang:" + mobileWang,
				"escalation 30s li:" + mobileLi,
			},
		},
		{
			name: "weekday night after midnight, ring_all",
			t:    at(26, 2, 0),
			pc:   ringAll,
			want: []string{
				"softphones 20s parallel sip:li",
				"mobile 30s li:" + mobileLi,
				"escalation 30s wang:" + mobileWang,
				"escalation 30s zhang:" + mobileZhang,
			},
		},
		{
			name: "Saturday 02:00, Friday's night shift",
			t:    at(28, 2, 0),
			pc:   ringAll,
			want: []string{
				"softphones 20s parallel sip:li",
				"mobile 30s li:" + mobileLi,
				"escalation 30s wang:" + mobileWang,
				"escalation 30s zhang:" + mobileZhang,
			},
		},
		{name: "weekend day: nobody on duty", t: at(28, 11, 0), pc: ringAll, want: escalationOnly},
		{name: "Monday 02:00: no Sunday night shift", t: at(30, 2, 0), pc: ringAll, want: escalationOnly},
		{
			name: "weekday day, hunt",
			t:    at(25, 10, 0),
			pc:   hunt,
			want: []string{
				"softphones 15s sip:zhang",
				"mobile 25s zhang:" + mobileZhang,
				"escalation 25s wang:" + mobileWang,
				"escalation 25s li:" + mobileLi,
			},
		},
		{
			name: "defaults",
			t:    at(26, 2, 0),
			pc:   PlanConfig{},
			want: []string{
				"softphones 20s parallel sip:li",
				"mobile 30s li:" + mobileLi,
				"escalation 30s wang:" + mobileWang,
				"escalation 30s zhang:" + mobileZhang,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := describe(r.Plan(tt.t, tt.pc))
			if !slices.Equal(got, tt.want) {
				t.Errorf("Plan(%s):\n got  %q\n want %q", tt.t.Format("Mon 15:04"), got, tt.want)
			}
		})
	}
}

func TestPlanSkipsAndDeduplicates(t *testing.T) {
	agents := []config.Agent{
		{ID: "a", SIPUser: "a"},                      // no mobile
		{ID: "b", SIPUser: "b", Mobile: mobileZhang}, // first on duty with a mobile
		{ID: "c", Mobile: mobileLi},                  // no softphone
		{ID: "d", SIPUser: "d", Mobile: mobileZhang}, // shares b's mobile (a duty phone)
		{ID: "e"}, // reachable on nothing
	}
	r, err := NewRoster(agents, nil, []string{"e", "d", "c", "b", "a", "c"}, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()

	got := describe(r.Plan(now, PlanConfig{Strategy: StrategyRingAll}))
	want := []string{
		"softphones 20s parallel sip:a sip:b sip:d",
		"mobile 30s b:" + mobileZhang,
		"escalation 30s c:" + mobileLi,
	}
	if !slices.Equal(got, want) {
		t.Errorf("ring_all:\n got  %q\n want %q", got, want)
	}

	got = describe(r.Plan(now, PlanConfig{Strategy: StrategyHunt, Ring: 5 * time.Second, MobileRing: 10 * time.Second}))
	want = []string{
		"softphones 5s sip:a",
		"softphones 5s sip:b",
		"softphones 5s sip:d",
		"mobile 10s b:" + mobileZhang,
		"escalation 10s c:" + mobileLi,
	}
	if !slices.Equal(got, want) {
		t.Errorf("hunt:\n got  %q\n want %q", got, want)
	}

	// Every number a plan dials is dialable.
	for _, s := range r.Plan(now, PlanConfig{}).Steps {
		for _, tg := range s.Targets {
			if tg.Kind == TargetMobile && !r.Dialable(tg.Number) {
				t.Errorf("plan dials %s, which is not dialable", tg.Number)
			}
		}
	}

	empty, err := NewRoster(nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := empty.Plan(now, PlanConfig{}); len(p.Steps) != 0 {
		t.Errorf("empty roster: plan %q", describe(p))
	}
}

// runPlan is a plan of every kind of step with short rings.
func runPlan() Plan {
	ring := 40 * time.Millisecond
	zhang := Agent{ID: "zhang", SIPUser: "zhang", Mobile: mobileZhang}
	li := Agent{ID: "li", SIPUser: "li", Mobile: mobileLi}
	wang := Agent{ID: "wang", Mobile: mobileWang}
	return Plan{Steps: []Step{
		{Name: StepSoftphones, Ring: ring, Parallel: true, Targets: []Target{
			{Kind: TargetSoftphone, Agent: zhang, SIPUser: "zhang"},
			{Kind: TargetSoftphone, Agent: li, SIPUser: "li"},
		}},
		{Name: StepMobile, Ring: 2 * ring, Targets: []Target{{Kind: TargetMobile, Agent: zhang, Number: mobileZhang}}},
		{Name: StepEscalation, Ring: 3 * ring, Targets: []Target{{Kind: TargetMobile, Agent: wang, Number: mobileWang}}},
		{Name: StepEscalation, Ring: ring, Targets: []Target{{Kind: TargetMobile, Agent: li, Number: mobileLi}}},
	}}
}

// ringOut waits until the step rings out, as a dialer does when nobody
// answers.
func ringOut(ctx context.Context) (*Target, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestPlanRun(t *testing.T) {
	errTrunk := errors.New("503 trunk unavailable")
	tests := []struct {
		name string
		// answer decides what step i does; nil: it rings out.
		answer    func(i int, s Step) (*Target, error)
		abandonAt int // cancel the caller's context during this step; -1: never
		wantStep  int
		wantWho   string
		wantMiss  bool
		wantErr   error
		wantFails int
	}{
		{
			name: "answered on a softphone",
			answer: func(i int, s Step) (*Target, error) {
				if i == 0 {
					return &s.Targets[1], nil
				}
				return nil, nil
			},
			abandonAt: -1, wantStep: 0, wantWho: "li",
		},
		{
			name: "answered on the mobile",
			answer: func(i int, s Step) (*Target, error) {
				if i == 1 {
					return &s.Targets[0], nil
				}
				return nil, nil
			},
			abandonAt: -1, wantStep: 1, wantWho: "zhang",
		},
		{
			name: "answered by escalation",
			answer: func(i int, s Step) (*Target, error) {
				if i == 3 {
					return &s.Targets[0], nil
				}
				return nil, nil
			},
			abandonAt: -1, wantStep: 3, wantWho: "li",
		},
		{
			name:      "missed",
			abandonAt: -1, wantStep: 4, wantMiss: true,
		},
		{
			name: "a failing step does not drop the caller",
			answer: func(i int, s Step) (*Target, error) {
				switch i {
				case 1:
					return nil, errTrunk
				case 2:
					return &s.Targets[0], nil
				}
				return nil, nil
			},
			abandonAt: -1, wantStep: 2, wantWho: "wang", wantFails: 1,
		},
		{
			name: "every step fails",
			answer: func(i int, s Step) (*Target, error) {
				return nil, errTrunk
			},
			abandonAt: -1, wantStep: 4, wantMiss: true, wantFails: 4,
		},
		{
			name:      "caller abandons during the mobile step",
			abandonAt: 1, wantStep: 1, wantErr: context.Canceled,
		},
		{
			name:      "caller abandons on the first ring",
			abandonAt: 0, wantStep: 0, wantErr: context.Canceled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			p := runPlan()
			var called []int
			start := time.Now()
			out, err := p.Run(ctx, func(sctx context.Context, s Step) (*Target, error) {
				i := len(called)
				called = append(called, i)
				if i == tt.abandonAt {
					go func() {
						time.Sleep(s.Ring / 4)
						cancel()
					}()
				}
				if tt.answer != nil {
					if who, err := tt.answer(i, s); who != nil || err != nil {
						return who, err
					}
				}
				return ringOut(sctx)
			})
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("Run: err = %v, want %v", err, tt.wantErr)
			}
			if out.Step != tt.wantStep || out.Missed != tt.wantMiss {
				t.Errorf("Run: step %d missed %v, want step %d missed %v", out.Step, out.Missed, tt.wantStep, tt.wantMiss)
			}
			who := ""
			if out.Answered != nil {
				who = out.Answered.Agent.ID
			}
			if who != tt.wantWho {
				t.Errorf("Run: answered by %q, want %q", who, tt.wantWho)
			}
			if len(out.Errors) != tt.wantFails {
				t.Errorf("Run: step errors %v, want %d", out.Errors, tt.wantFails)
			}
			for _, e := range out.Errors {
				if !errors.Is(e, errTrunk) || !strings.Contains(e.Error(), "step ") {
					t.Errorf("step error %q does not wrap the dialer's and name its step", e)
				}
			}
			last := tt.wantStep
			if last == len(p.Steps) {
				last--
			}
			if len(called) != last+1 {
				t.Errorf("dial called for %d steps, want %d", len(called), last+1)
			}
			if tt.abandonAt >= 0 {
				// Run returned promptly after the hang-up, not at the step's end.
				var before time.Duration
				for _, s := range p.Steps[:tt.abandonAt] {
					before += s.Ring
				}
				if el := time.Since(start); el > before+p.Steps[tt.abandonAt].Ring {
					t.Errorf("Run returned %v after the start; the abandoned step would have ended by then", el)
				}
			}
		})
	}
}

func TestPlanRunDeadlineIsStepRing(t *testing.T) {
	p := runPlan()
	var mu sync.Mutex
	var got []time.Duration
	out, err := p.Run(t.Context(), func(ctx context.Context, s Step) (*Target, error) {
		dl, ok := ctx.Deadline()
		if !ok {
			t.Error("dial got a context without a deadline")
			return nil, nil
		}
		mu.Lock()
		got = append(got, time.Until(dl))
		mu.Unlock()
		return ringOut(ctx)
	})
	if err != nil || !out.Missed {
		t.Fatalf("Run = %+v, %v", out, err)
	}
	if len(got) != len(p.Steps) {
		t.Fatalf("dial called %d times, want %d", len(got), len(p.Steps))
	}
	for i, left := range got {
		ring := p.Steps[i].Ring
		if left > ring || left < ring-10*time.Millisecond {
			t.Errorf("step %d: dial's deadline %v away, want the step's ring %v", i, left, ring)
		}
	}

	// The caller's own, earlier deadline still wins.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if _, err := p.Run(ctx, func(ctx context.Context, s Step) (*Target, error) { return ringOut(ctx) }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run past the caller's deadline: err = %v", err)
	}
}

func TestPlanRunEmpty(t *testing.T) {
	out, err := Plan{}.Run(t.Context(), func(context.Context, Step) (*Target, error) {
		t.Error("dial called for an empty plan")
		return nil, nil
	})
	if err != nil || !out.Missed || out.Step != 0 {
		t.Errorf("empty plan: %+v, %v", out, err)
	}
}
