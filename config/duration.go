package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration as the config file writes it: "90s", "15m",
// "4h", "1h30m", and also days and weeks, "3d" and "2w" (a day is 24 hours,
// a week 7 days, whatever the calendar says). A bare integer is seconds.
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String writes d the way the config file does: whole days as "7d", else
// the shortest time.Duration form without zero units ("4h", "1h30m", "90s"
// is written "1m30s").
func (d Duration) String() string {
	std := time.Duration(d)
	const day = 24 * time.Hour
	if std != 0 && std%day == 0 {
		return strconv.FormatInt(int64(std/day), 10) + "d"
	}
	s := std.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

var durationUnits = map[string]time.Duration{
	"ns": time.Nanosecond,
	"us": time.Microsecond,
	"µs": time.Microsecond,
	"ms": time.Millisecond,
	"s":  time.Second,
	"m":  time.Minute,
	"h":  time.Hour,
	"d":  24 * time.Hour,
	"w":  7 * 24 * time.Hour,
}

// ParseDuration reads a Duration: a sequence of numbers with units (ns, us,
// ms, s, m, h, d, w), such as "15m", "3d" or "1d12h", or a bare integer of
// seconds. Negative durations are refused.
func ParseDuration(s string) (Duration, error) {
	in := s
	s = strings.TrimSpace(s)
	bad := func(why string) (Duration, error) {
		return 0, fmt.Errorf("bad duration %q: %s", in, why)
	}
	if s == "" {
		return bad("empty")
	}
	if s[0] == '-' {
		return bad("negative")
	}
	s = strings.TrimPrefix(s, "+")
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > int64(math.MaxInt64/time.Second) {
			return bad("too long")
		}
		return Duration(time.Duration(n) * time.Second), nil
	}
	var total float64
	for s != "" {
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			i++
		}
		if i == 0 {
			return bad(fmt.Sprintf("expected a number at %q", s))
		}
		num, err := strconv.ParseFloat(s[:i], 64)
		if err != nil {
			return bad(fmt.Sprintf("bad number %q", s[:i]))
		}
		s = s[i:]
		j := 0
		for j < len(s) && !(s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
			j++
		}
		unit, ok := durationUnits[s[:j]]
		if !ok {
			if j == 0 {
				return bad("a number without a unit (use s, m, h, d or w)")
			}
			return bad(fmt.Sprintf("unknown unit %q (use s, m, h, d or w)", s[:j]))
		}
		s = s[j:]
		total += num * float64(unit)
		if total >= math.MaxInt64 {
			return bad("too long")
		}
	}
	return Duration(time.Duration(math.Round(total))), nil
}

// UnmarshalYAML reads a Duration from a YAML scalar; the error names the
// value and its line.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a duration such as 15m, 4h or 3d", n.Line)
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = v
	return nil
}

// MarshalYAML writes d as String does.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalText reads a Duration as ParseDuration does, for flags
// (flag.TextVar) and environment variables.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalText writes d as String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }
