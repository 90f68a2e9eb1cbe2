package channels

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/hotline-desk/hotline/ticketing"
)

// RegistrationStore is the part of the ticket store that keeps the SIP
// registrar's state: softphone bindings and lock-outs.
type RegistrationStore interface {
	SIPBindingSave(ctx context.Context, p *ticketing.SIPBindingSaveParams) ([]ticketing.SIPBinding, error)
	SIPBindingList(ctx context.Context, now time.Time) ([]ticketing.SIPBinding, error)
	SIPAuthFailure(ctx context.Context, p ticketing.SIPAuthFailureParams) (time.Time, error)
	SIPAuthReset(ctx context.Context, source string, now time.Time) error
	SIPLockoutList(ctx context.Context, now time.Time) ([]ticketing.SIPLockout, error)
}

// LockoutPolicy says how many failed authentications from one address
// within Window lock it out, and for how long.
type LockoutPolicy struct {
	Limit   int
	Window  time.Duration
	LockFor time.Duration
}

// DefaultLockout locks an address out for 15 minutes after 5 failed
// authentications within 5 minutes: a softphone with a mistyped password
// fails once per registration attempt, a scanner fails many times a second.
var DefaultLockout = LockoutPolicy{Limit: 5, Window: 5 * time.Minute, LockFor: 15 * time.Minute}

// Registrations is the registrar's state as the SIP adapter uses it. The
// store is the shared copy (several instances ring every registered
// phone); a copy in memory, refreshed every few seconds, answers the call
// path, so that a slow or absent store never delays a call. Lock-outs are
// counted both in memory and in the store, so that a scanner is stopped by
// one instance while the store is down and by all of them when it is up.
type Registrations struct {
	store    RegistrationStore
	policy   LockoutPolicy
	log      *slog.Logger
	now      func() time.Time
	every    time.Duration
	deadline time.Duration

	mu       sync.RWMutex
	bindings map[string][]ticketing.SIPBinding // by AOR
	locked   map[string]time.Time              // source → until, from the store and from here
	failures map[string]*localFailures
}

type localFailures struct {
	n     int
	since time.Time
}

// NewRegistrations returns the registrar state over store.
func NewRegistrations(store RegistrationStore, policy LockoutPolicy, log *slog.Logger) *Registrations {
	if policy.Limit <= 0 {
		policy = DefaultLockout
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Registrations{
		store: store, policy: policy, log: log, now: time.Now,
		every: 2 * time.Second, deadline: 2 * time.Second,
		bindings: map[string][]ticketing.SIPBinding{},
		locked:   map[string]time.Time{},
		failures: map[string]*localFailures{},
	}
}

// Bind applies one REGISTER to the store and returns the AOR's current
// bindings. It fails when the store does not take it in time: the
// registrar then answers with a temporary error and the phone retries.
func (r *Registrations) Bind(ctx context.Context, p ticketing.SIPBindingSaveParams) ([]ticketing.SIPBinding, error) {
	if p.Now.IsZero() {
		p.Now = r.now()
	}
	ctx, cancel := context.WithTimeout(ctx, r.deadline)
	defer cancel()
	bs, err := r.store.SIPBindingSave(ctx, &p)
	if err != nil {
		return nil, fmt.Errorf("save bindings of %s: %w", p.AOR, err)
	}
	r.mu.Lock()
	if len(bs) == 0 {
		delete(r.bindings, p.AOR)
	} else {
		r.bindings[p.AOR] = bs
	}
	r.mu.Unlock()
	return bs, nil
}

// Contacts returns the AOR's bindings that have not expired, from memory.
func (r *Registrations) Contacts(aor string) []ticketing.SIPBinding {
	now := r.now()
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []ticketing.SIPBinding
	for _, b := range r.bindings[aor] {
		if b.ExpiresAt.After(now) {
			out = append(out, b)
		}
	}
	return out
}

// KnownSource reports whether a softphone is registered from the IP
// address ip (any port): the registrar challenges an INVITE from such an
// address instead of refusing it.
func (r *Registrations) KnownSource(ip string) bool {
	now := r.now()
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, bs := range r.bindings {
		for _, b := range bs {
			if b.ExpiresAt.After(now) && hostOf(b.Source) == ip {
				return true
			}
		}
	}
	return false
}

func hostOf(hostport string) string {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport
	}
	return host
}

// Count is the number of bindings that have not expired (the
// hotline_sip_registrations metric).
func (r *Registrations) Count() int {
	now := r.now()
	r.mu.RLock()
	defer r.mu.RUnlock()
	n := 0
	for _, bs := range r.bindings {
		for _, b := range bs {
			if b.ExpiresAt.After(now) {
				n++
			}
		}
	}
	return n
}

// LockedOut reports whether source (an IP address) is locked out, and
// until when.
func (r *Registrations) LockedOut(source string) (time.Time, bool) {
	r.mu.RLock()
	until, ok := r.locked[source]
	r.mu.RUnlock()
	if ok && until.After(r.now()) {
		return until, true
	}
	return time.Time{}, false
}

// AuthFailed counts a failed authentication from source and returns until
// when it is locked out (zero if it is not). newly is set when this failure
// locked it.
func (r *Registrations) AuthFailed(ctx context.Context, source string) (until time.Time, newly bool) {
	now := r.now()
	r.mu.Lock()
	f := r.failures[source]
	if f == nil || now.Sub(f.since) >= r.policy.Window {
		f = &localFailures{since: now}
		r.failures[source] = f
	}
	f.n++
	if f.n >= r.policy.Limit {
		until = now.Add(r.policy.LockFor)
	}
	r.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, r.deadline)
	defer cancel()
	shared, err := r.store.SIPAuthFailure(ctx, ticketing.SIPAuthFailureParams{
		Source: source, At: now, Window: r.policy.Window, Limit: r.policy.Limit, LockFor: r.policy.LockFor,
	})
	if err != nil {
		r.log.Warn("sip: lock-out not shared: store failed", "source", source, "err", err)
	}
	if shared.After(until) {
		until = shared
	}
	if until.IsZero() {
		return time.Time{}, false
	}
	r.mu.Lock()
	prev, was := r.locked[source]
	newly = !was || !prev.After(now)
	if until.After(prev) {
		r.locked[source] = until
	}
	delete(r.failures, source)
	r.mu.Unlock()
	return until, newly
}

// AuthSucceeded forgets the failures of source.
func (r *Registrations) AuthSucceeded(ctx context.Context, source string) {
	r.mu.Lock()
	_, had := r.failures[source]
	delete(r.failures, source)
	r.mu.Unlock()
	if !had {
		// Nothing counted here; another instance's count expires by itself.
		return
	}
	ctx, cancel := context.WithTimeout(ctx, r.deadline)
	defer cancel()
	if err := r.store.SIPAuthReset(ctx, source, r.now()); err != nil {
		r.log.Warn("sip: auth failures not reset: store failed", "source", source, "err", err)
	}
}

// Refresh reloads the bindings and lock-outs from the store. When the store
// fails, the copy in memory stays as it is (its bindings expire by their
// own times).
func (r *Registrations) Refresh(ctx context.Context) error {
	now := r.now()
	ctx, cancel := context.WithTimeout(ctx, r.deadline)
	defer cancel()
	bs, err := r.store.SIPBindingList(ctx, now)
	if err != nil {
		return fmt.Errorf("refresh bindings: %w", err)
	}
	ls, err := r.store.SIPLockoutList(ctx, now)
	if err != nil {
		return fmt.Errorf("refresh lock-outs: %w", err)
	}
	byAOR := make(map[string][]ticketing.SIPBinding, len(r.bindings))
	for _, b := range bs {
		byAOR[b.AOR] = append(byAOR[b.AOR], b)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bindings = byAOR
	for src, until := range r.locked {
		if !until.After(now) {
			delete(r.locked, src)
		}
	}
	for _, l := range ls {
		if l.LockedUntil.After(r.locked[l.Source]) {
			r.locked[l.Source] = l.LockedUntil
		}
	}
	for src, f := range r.failures {
		if now.Sub(f.since) >= r.policy.Window {
			delete(r.failures, src)
		}
	}
	return nil
}

// Run refreshes the copy in memory at once and then every few seconds,
// until ctx is done.
func (r *Registrations) Run(ctx context.Context) error {
	t := time.NewTicker(r.every)
	defer t.Stop()
	failing := false
	for {
		err := r.Refresh(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && !failing:
			r.log.Warn("sip: registrations not refreshed; keeping the copy in memory", "err", err)
			failing = true
		case err == nil && failing:
			r.log.Info("sip: registrations refreshed again")
			failing = false
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Lockouts returns the sources locked out now, for the console and tests.
func (r *Registrations) Lockouts() []string {
	now := r.now()
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []string
	for src, until := range r.locked {
		if until.After(now) {
			out = append(out, src)
		}
	}
	slices.Sort(out)
	return out
}
