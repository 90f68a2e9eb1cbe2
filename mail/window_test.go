package mail

import (
	"testing"
	"time"
)

func TestWindow(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	w := newWindow[string](2, time.Minute, 1)
	steps := []struct {
		key  string
		at   time.Duration
		want bool
	}{
		{"a", 0, true},
		{"a", 10 * time.Second, true},
		{"a", 20 * time.Second, false}, // third in the minute
		{"b", 20 * time.Second, true},  // another key; over maxKeys, idle keys go
		{"a", 60 * time.Second, true},  // the first has left the window
		{"a", 65 * time.Second, false}, // the second is still in it
		{"a", 130 * time.Second, true}, // both gone
	}
	for _, s := range steps {
		if got := w.take(s.key, t0.Add(s.at)); got != s.want {
			t.Errorf("take(%s) at %v = %v, want %v", s.key, s.at, got, s.want)
		}
	}
	var none *window[string]
	if !none.take("x", t0) || !newWindow[string](0, time.Hour, 10).take("x", t0) {
		t.Error("a window without a limit refused")
	}
}
