package storetest

import (
	"testing"
	"time"

	"github.com/hotline-desk/hotline/ticketing"
)

func binding(contact, callID string, cseq uint32, expires time.Time) ticketing.SIPBinding {
	return ticketing.SIPBinding{Contact: contact, Source: "192.0.2.7:5062", Transport: "UDP", CallID: callID,
		CSeq: cseq, ExpiresAt: expires.Truncate(time.Microsecond), UpdatedAt: t0.Truncate(time.Microsecond), Instance: "a"}
}

func contacts(bs []ticketing.SIPBinding) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.Contact)
	}
	return out
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func testSIPBindings(t *testing.T, s ticketing.Store) {
	now := t0.Truncate(time.Microsecond)
	save := func(p ticketing.SIPBindingSaveParams) []ticketing.SIPBinding {
		t.Helper()
		if p.Now.IsZero() {
			p.Now = now
		}
		bs, err := s.SIPBindingSave(ctx(t), &p)
		if err != nil {
			t.Fatalf("SIPBindingSave: %v", err)
		}
		return bs
	}
	a, b := "sip:zhang@192.0.2.7:5062", "sip:zhang@192.0.2.8:5060;transport=tcp"
	got := save(ticketing.SIPBindingSaveParams{AOR: "zhang", Set: []ticketing.SIPBinding{
		binding(a, "c1", 1, now.Add(time.Hour)), binding(b, "c2", 1, now.Add(30*time.Second))}})
	if !sameStrings(contacts(got), []string{a, b}) {
		t.Fatalf("after two bindings: %v", contacts(got))
	}
	if got[0].AOR != "zhang" || got[0].CallID != "c1" || !got[0].ExpiresAt.Equal(now.Add(time.Hour)) || got[0].Source != "192.0.2.7:5062" {
		t.Fatalf("binding did not round-trip: %+v", got[0])
	}
	save(ticketing.SIPBindingSaveParams{AOR: "li", Set: []ticketing.SIPBinding{binding("sip:li@192.0.2.9", "c3", 7, now.Add(time.Hour))}})

	// A reordered retransmission (same Call-ID, lower CSeq) changes nothing;
	// a refresh moves the expiry.
	got = save(ticketing.SIPBindingSaveParams{AOR: "zhang", Set: []ticketing.SIPBinding{binding(a, "c1", 0, now.Add(time.Minute))}})
	if !got[0].ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("stale refresh applied: %v", got[0].ExpiresAt)
	}
	got = save(ticketing.SIPBindingSaveParams{AOR: "zhang", Set: []ticketing.SIPBinding{binding(a, "c1", 2, now.Add(2*time.Hour))}})
	if !got[0].ExpiresAt.Equal(now.Add(2 * time.Hour)) {
		t.Fatalf("refresh not applied: %v", got[0].ExpiresAt)
	}

	// Expired bindings are neither listed nor returned.
	all, err := s.SIPBindingList(ctx(t), now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if !sameStrings(contacts(all), []string{"sip:li@192.0.2.9", a}) {
		t.Fatalf("list a minute later: %v", contacts(all))
	}

	got = save(ticketing.SIPBindingSaveParams{AOR: "zhang", Remove: []string{a}})
	if !sameStrings(contacts(got), []string{b}) {
		t.Fatalf("after removing one: %v", contacts(got))
	}
	got = save(ticketing.SIPBindingSaveParams{AOR: "zhang", RemoveAll: true})
	if len(got) != 0 {
		t.Fatalf("after removing all: %v", contacts(got))
	}
	all, err = s.SIPBindingList(ctx(t), now)
	if err != nil {
		t.Fatal(err)
	}
	if !sameStrings(contacts(all), []string{"sip:li@192.0.2.9"}) {
		t.Fatalf("other AOR touched: %v", contacts(all))
	}
}

func testSIPLockout(t *testing.T, s ticketing.Store) {
	now := t0.Truncate(time.Microsecond)
	fail := func(src string, at time.Time) time.Time {
		t.Helper()
		until, err := s.SIPAuthFailure(ctx(t), ticketing.SIPAuthFailureParams{Source: src, At: at, Window: time.Minute, Limit: 3, LockFor: 10 * time.Minute})
		if err != nil {
			t.Fatalf("SIPAuthFailure: %v", err)
		}
		return until
	}
	if u := fail("192.0.2.66", now); !u.IsZero() {
		t.Fatalf("locked after one failure: %v", u)
	}
	if u := fail("192.0.2.66", now.Add(time.Second)); !u.IsZero() {
		t.Fatalf("locked after two failures: %v", u)
	}
	// Another address counts apart.
	if u := fail("192.0.2.67", now.Add(time.Second)); !u.IsZero() {
		t.Fatalf("other address locked: %v", u)
	}
	u := fail("192.0.2.66", now.Add(2*time.Second))
	if want := now.Add(2 * time.Second).Add(10 * time.Minute); !u.Equal(want) {
		t.Fatalf("third failure: locked until %v, want %v", u, want)
	}
	// Failures while locked do not extend the lock.
	if u2 := fail("192.0.2.66", now.Add(3*time.Second)); !u2.Equal(u) {
		t.Fatalf("lock moved to %v", u2)
	}
	ls, err := s.SIPLockoutList(ctx(t), now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 1 || ls[0].Source != "192.0.2.66" || !ls[0].LockedUntil.Equal(u) {
		t.Fatalf("lockouts: %+v", ls)
	}
	// A reset does not lift an active lock-out.
	if err := s.SIPAuthReset(ctx(t), "192.0.2.66", now.Add(4*time.Second)); err != nil {
		t.Fatal(err)
	}
	if ls, _ := s.SIPLockoutList(ctx(t), now.Add(time.Minute)); len(ls) != 1 {
		t.Fatalf("reset lifted the lock-out: %+v", ls)
	}
	if ls, _ := s.SIPLockoutList(ctx(t), u.Add(time.Second)); len(ls) != 0 {
		t.Fatalf("lock-out did not end: %+v", ls)
	}
	// Once it has ended, a reset forgets it: the next failure counts from one.
	if err := s.SIPAuthReset(ctx(t), "192.0.2.66", u.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if u2 := fail("192.0.2.66", u.Add(2*time.Second)); !u2.IsZero() {
		t.Fatalf("one failure after the reset locked until %v", u2)
	}

	// Failures spread wider than the window never lock.
	for i := range 5 {
		if u := fail("192.0.2.68", now.Add(time.Duration(i)*2*time.Minute)); !u.IsZero() {
			t.Fatalf("slow failures locked at %d: %v", i, u)
		}
	}
	// The window starts again after a reset.
	fail("192.0.2.67", now.Add(2*time.Second))
	if err := s.SIPAuthReset(ctx(t), "192.0.2.67", now.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if u := fail("192.0.2.67", now.Add(3*time.Second)); !u.IsZero() {
		t.Fatalf("reset did not clear the failures: %v", u)
	}
}
