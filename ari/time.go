package ari

import (
	"bytes"
	"fmt"
	"time"
)

// TimeLayout is how Asterisk writes times in events and resources:
// milliseconds and a numeric offset without a colon ("+0000").
const TimeLayout = "2006-01-02T15:04:05.000-0700"

// Time is a time as Asterisk writes it. It also reads RFC 3339, so that a
// future Asterisk that adds the colon does not break the client.
type Time struct{ time.Time }

func (t *Time) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) || bytes.Equal(b, []byte(`""`)) {
		t.Time = time.Time{}
		return nil
	}
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return fmt.Errorf("ari: time %s is not a string", b)
	}
	v, err := ParseTime(string(b[1 : len(b)-1]))
	if err != nil {
		return err
	}
	t.Time = v
	return nil
}

func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte(`""`), nil
	}
	return []byte(`"` + t.Format(TimeLayout) + `"`), nil
}

// ParseTime reads a time in Asterisk's layout, or in RFC 3339.
func ParseTime(s string) (time.Time, error) {
	if v, err := time.Parse(TimeLayout, s); err == nil {
		return v, nil
	}
	// Without the milliseconds, as some resources (startup_time) may be.
	if v, err := time.Parse("2006-01-02T15:04:05-0700", s); err == nil {
		return v, nil
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("ari: time %q: want %s", s, TimeLayout)
	}
	return v, nil
}
