package channels

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// TargetKind is what a routing target is reached on.
type TargetKind string

const (
	// TargetSoftphone is an agent's registered softphone (SIPUser).
	TargetSoftphone TargetKind = "softphone"
	// TargetMobile is a mobile (Number, E.164) dialled through the trunk.
	TargetMobile TargetKind = "mobile"
)

// Target is one leg a step rings.
type Target struct {
	Kind    TargetKind
	Agent   Agent
	SIPUser string // set for softphones
	Number  string // E.164, set for mobiles
}

func (t Target) String() string {
	if t.Kind == TargetMobile {
		return fmt.Sprintf("%s (mobile %s)", t.Agent.ID, t.Number)
	}
	return fmt.Sprintf("%s (softphone %s)", t.Agent.ID, t.SIPUser)
}

// Step names, as they go on the call's timeline.
const (
	StepSoftphones = "softphones"
	StepMobile     = "mobile"
	StepEscalation = "escalation"
)

// Step rings its targets for Ring: all at once when Parallel, else one
// after another (a step of the plan holds one target then).
type Step struct {
	Name     string // StepSoftphones, StepMobile or StepEscalation
	Targets  []Target
	Ring     time.Duration
	Parallel bool
}

// Plan is who rings, in what order, for how long. The SIP B2BUA executes it
// by forking, the Asterisk app by originating; both walk it with Run.
type Plan struct {
	Steps []Step
}

// Routing strategies for the softphones (sip.strategy).
const (
	StrategyRingAll = "ring_all" // every on-duty softphone at once
	StrategyHunt    = "hunt"     // one on-duty agent after another
)

// Defaults for a zero PlanConfig field (sip.ring_seconds,
// sip.mobile_ring_seconds).
const (
	DefaultRing       = 20 * time.Second
	DefaultMobileRing = 30 * time.Second
)

// PlanConfig is the sip: part of the config that shapes plans.
type PlanConfig struct {
	Ring       time.Duration // how long softphones ring (each, for hunt)
	MobileRing time.Duration // how long each mobile rings
	Strategy   string        // StrategyRingAll (default) or StrategyHunt
}

// Plan builds the routing plan for a call arriving at t (SPEC §1, §4):
//
//  1. the softphones of the agents on duty, for Ring: all in one step
//     (ring_all), or one step per agent (hunt); agents without a sip_user
//     are left out;
//  2. the mobile of the first agent on duty who has one, for MobileRing;
//  3. each escalation contact's mobile in order, each for MobileRing.
//
// A mobile number is never dialled twice in one plan, so an escalation
// contact who was just rung as the agent on duty is skipped. Steps without
// targets are left out; an empty plan means nobody can be reached and the
// call is missed at once.
func (r *Roster) Plan(t time.Time, pc PlanConfig) Plan {
	if pc.Ring <= 0 {
		pc.Ring = DefaultRing
	}
	if pc.MobileRing <= 0 {
		pc.MobileRing = DefaultMobileRing
	}
	onDuty := r.OnDuty(t)

	var p Plan
	var phones []Target
	for _, a := range onDuty {
		if a.SIPUser != "" {
			phones = append(phones, Target{Kind: TargetSoftphone, Agent: a, SIPUser: a.SIPUser})
		}
	}
	if pc.Strategy == StrategyHunt {
		for _, tg := range phones {
			p.Steps = append(p.Steps, Step{Name: StepSoftphones, Targets: []Target{tg}, Ring: pc.Ring})
		}
	} else if len(phones) > 0 {
		p.Steps = append(p.Steps, Step{Name: StepSoftphones, Targets: phones, Ring: pc.Ring, Parallel: true})
	}

	dialled := make(map[string]bool)
	mobile := func(name string, a Agent) {
		if a.Mobile == "" || dialled[a.Mobile] {
			return
		}
		dialled[a.Mobile] = true
		p.Steps = append(p.Steps, Step{
			Name:    name,
			Targets: []Target{{Kind: TargetMobile, Agent: a, Number: a.Mobile}},
			Ring:    pc.MobileRing,
		})
	}
	for _, a := range onDuty {
		if a.Mobile != "" {
			mobile(StepMobile, a)
			break
		}
	}
	for _, a := range r.Escalation() {
		mobile(StepEscalation, a)
	}
	return p
}

// Outcome is how a plan ended.
type Outcome struct {
	// Answered is the target that took the call, nil if none did.
	Answered *Target
	// Step is the index of the step that answered, or that was ringing
	// when the caller hung up; len(Steps) when every step rang out.
	Step int
	// Missed is set when every step rang out without an answer.
	Missed bool
	// Errors are the failures of steps that could not ring (trunk down,
	// every target busy), each naming its step. They did not stop the plan.
	Errors []error
}

// DialFunc rings the step's targets until one answers (it returns that
// target), ctx is done (the step rang out, or the caller hung up), or all
// of them declined. It must release every leg it did not answer with
// before returning.
type DialFunc func(ctx context.Context, s Step) (answered *Target, err error)

// Run walks the plan: it calls dial for each step in turn with a context
// that ends after the step's Ring, and stops at the first answer. When ctx
// ends (the caller hung up) Run returns ctx's error at once, with Step set
// to the step that was ringing. A step that fails (dial returns an error)
// counts as rung out: the caller is never dropped while someone is left to
// ring. When every step rang out, the outcome is Missed.
func (p Plan) Run(ctx context.Context, dial DialFunc) (Outcome, error) {
	var errs []error
	for i, s := range p.Steps {
		if err := ctx.Err(); err != nil {
			return Outcome{Step: i, Errors: errs}, err
		}
		answered, err := p.ring(ctx, dial, s)
		if answered != nil {
			return Outcome{Answered: answered, Step: i, Errors: errs}, nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return Outcome{Step: i, Errors: errs}, cerr
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			errs = append(errs, fmt.Errorf("step %d (%s): %w", i, s.Name, err))
		}
	}
	return Outcome{Step: len(p.Steps), Missed: true, Errors: errs}, nil
}

func (Plan) ring(ctx context.Context, dial DialFunc, s Step) (*Target, error) {
	sctx, cancel := context.WithTimeout(ctx, s.Ring)
	defer cancel()
	return dial(sctx, s)
}
