package channels_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/hotline-desk/hotline/channels"
	"github.com/hotline-desk/hotline/ticketing"
	"github.com/hotline-desk/hotline/ticketing/store/sqlite"
)

// downStore is the real store with a switch that makes it fail, as a store
// that went away does.
type downStore struct {
	*sqlite.Store
	down bool
}

var errDown = errors.New("store is down")

func (s *downStore) SIPBindingSave(ctx context.Context, p *ticketing.SIPBindingSaveParams) ([]ticketing.SIPBinding, error) {
	if s.down {
		return nil, errDown
	}
	return s.Store.SIPBindingSave(ctx, p)
}

func (s *downStore) SIPBindingList(ctx context.Context, now time.Time) ([]ticketing.SIPBinding, error) {
	if s.down {
		return nil, errDown
	}
	return s.Store.SIPBindingList(ctx, now)
}

func (s *downStore) SIPAuthFailure(ctx context.Context, p ticketing.SIPAuthFailureParams) (time.Time, error) {
	if s.down {
		return time.Time{}, errDown
	}
	return s.Store.SIPAuthFailure(ctx, p)
}

func (s *downStore) SIPLockoutList(ctx context.Context, now time.Time) ([]ticketing.SIPLockout, error) {
	if s.down {
		return nil, errDown
	}
	return s.Store.SIPLockoutList(ctx, now)
}

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "hotline.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

// Two instances over one store share bindings and lock-outs; with the
// store gone, each keeps serving what it has in memory and still locks out
// a scanner on its own.
func TestRegistrationsShared(t *testing.T) {
	ctx := context.Background()
	st := &downStore{Store: openStore(t)}
	t.Cleanup(func() { st.Store.Close() })
	policy := channels.LockoutPolicy{Limit: 3, Window: time.Minute, LockFor: time.Hour}
	a := channels.NewRegistrations(st, policy, nil)
	b := channels.NewRegistrations(st, policy, nil)
	now := time.Now()
	bs, err := a.Bind(ctx, ticketing.SIPBindingSaveParams{AOR: "zhang", Set: []ticketing.SIPBinding{{
		Contact: "sip:zhang@192.0.2.7:5062", Source: "192.0.2.7:5062", Transport: "UDP", CallID: "r1", CSeq: 1,
		ExpiresAt: now.Add(time.Hour), UpdatedAt: now, Instance: "a"}}})
	if err != nil || len(bs) != 1 {
		t.Fatalf("Bind: %v %v", bs, err)
	}
	if len(a.Contacts("zhang")) != 1 || a.Count() != 1 {
		t.Fatal("the binding instance does not see its binding")
	}
	if len(b.Contacts("zhang")) != 0 {
		t.Fatal("b saw the binding before refreshing")
	}
	if err := b.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := b.Contacts("zhang"); len(got) != 1 || got[0].Source != "192.0.2.7:5062" {
		t.Fatalf("b after refresh: %+v", got)
	}

	for i := range 3 {
		until, newly := a.AuthFailed(ctx, "198.51.100.9")
		if (i < 2) != until.IsZero() || newly != (i == 2) {
			t.Fatalf("failure %d: until %v newly %v", i+1, until, newly)
		}
	}
	if _, locked := a.LockedOut("198.51.100.9"); !locked {
		t.Fatal("a did not lock the scanner out")
	}
	if err := b.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, locked := b.LockedOut("198.51.100.9"); !locked {
		t.Fatal("the lock-out was not shared")
	}
	if _, locked := b.LockedOut("198.51.100.10"); locked {
		t.Fatal("another address is locked")
	}

	st.down = true
	if err := b.Refresh(ctx); err == nil {
		t.Fatal("refresh from a store that is down succeeded")
	}
	if len(b.Contacts("zhang")) != 1 {
		t.Fatal("a failed refresh dropped the bindings in memory")
	}
	if _, err := b.Bind(ctx, ticketing.SIPBindingSaveParams{AOR: "li"}); err == nil {
		t.Fatal("Bind without a store succeeded")
	}
	for range 3 {
		b.AuthFailed(ctx, "203.0.113.5")
	}
	if _, locked := b.LockedOut("203.0.113.5"); !locked {
		t.Fatal("without the store the lock-out does not work")
	}
}
