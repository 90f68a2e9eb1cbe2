package notify

import (
	"errors"
	"testing"
	"time"
)

func TestLinks(t *testing.T) {
	now := time.Date(2026, 9, 28, 10, 0, 0, 0, time.UTC)
	resolved := now.Add(-time.Minute).Truncate(time.Microsecond)
	l := NewLinks([]byte("0123456789abcdef0123456789abcdef"), 14*24*time.Hour)
	tok := l.Token(42, resolved, now)
	id, at, err := l.Check(tok, now.Add(13*24*time.Hour))
	if err != nil || id != 42 || !at.Equal(resolved) {
		t.Fatalf("check: %d %v %v", id, at, err)
	}
	if _, _, err := l.Check(tok, now.Add(15*24*time.Hour)); !errors.Is(err, ErrExpiredLink) {
		t.Errorf("after the TTL: %v", err)
	}
	other := NewLinks([]byte("another key of another desk......"), 14*24*time.Hour)
	if _, _, err := other.Check(tok, now); !errors.Is(err, ErrBadLink) {
		t.Errorf("another key: %v", err)
	}
	flip := []byte(tok)
	flip[3] ^= 1 // another ticket id, same signature
	// The last character of each part carries fewer than 6 bits: any other
	// character in its place is another token, never the same one spelled
	// differently.
	var respelled []string
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" {
		if t := tok[:len(tok)-1] + string(c); t != tok {
			respelled = append(respelled, t)
		}
	}
	for _, bad := range append([]string{"", "x", tok + "x", string(flip), tok[:len(tok)-1]}, respelled...) {
		if _, _, err := l.Check(bad, now); !errors.Is(err, ErrBadLink) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
