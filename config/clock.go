package config

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // Asia/Shanghai must load on a machine without zoneinfo
)

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "sunday": time.Sunday,
	"mon": time.Monday, "monday": time.Monday,
	"tue": time.Tuesday, "tuesday": time.Tuesday,
	"wed": time.Wednesday, "wednesday": time.Wednesday,
	"thu": time.Thursday, "thursday": time.Thursday,
	"fri": time.Friday, "friday": time.Friday,
	"sat": time.Saturday, "saturday": time.Saturday,
}

// ParseDays reads a set of weekdays, indexed by time.Weekday: a range
// ("mon-fri", "mon-sun", or "fri-mon", which wraps over the weekend), a list
// ("sat,sun", "mon,wed,fri"), a mix of both ("mon-wed,fri"), or "daily".
// Day names are the English ones, three letters or in full, in any case.
func ParseDays(s string) ([7]bool, error) {
	var days [7]bool
	in := s
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return days, fmt.Errorf("no days given (e.g. mon-fri, sat,sun or daily)")
	}
	if s == "daily" {
		return [7]bool{true, true, true, true, true, true, true}, nil
	}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		from, to, isRange := strings.Cut(part, "-")
		first, ok := weekdays[strings.TrimSpace(from)]
		if !ok {
			return days, fmt.Errorf("bad days %q: %q is not a day (mon, tue, … sun)", in, strings.TrimSpace(from))
		}
		last := first
		if isRange {
			if last, ok = weekdays[strings.TrimSpace(to)]; !ok {
				return days, fmt.Errorf("bad days %q: %q is not a day (mon, tue, … sun)", in, strings.TrimSpace(to))
			}
		}
		for d := first; ; d = (d + 1) % 7 {
			days[d] = true
			if d == last {
				break
			}
		}
	}
	return days, nil
}

// ParseClock reads a wall-clock time "HH:MM" (also "H:MM"), from 00:00 to
// 23:59, and 24:00 for the end of the day.
func ParseClock(s string) (hour, min int, err error) {
	bad := func() (int, int, error) {
		return 0, 0, fmt.Errorf("bad time %q: want HH:MM, 00:00 to 24:00", s)
	}
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || len(h) < 1 || len(h) > 2 || len(m) != 2 {
		return bad()
	}
	hour, err1 := strconv.Atoi(h)
	min, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || h[0] == '+' || h[0] == '-' || m[0] == '+' || m[0] == '-' {
		return bad()
	}
	if hour < 0 || hour > 24 || min < 0 || min > 59 || hour == 24 && min != 0 {
		return bad()
	}
	return hour, min, nil
}

// ParseHours reads a span of business hours "09:00-17:00" and returns both
// ends as offsets from midnight. The end must be after the start ("24:00"
// ends at midnight).
func ParseHours(s string) (from, to time.Duration, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("bad hours %q: want HH:MM-HH:MM", s)
	}
	fh, fm, err := ParseClock(a)
	if err != nil {
		return 0, 0, fmt.Errorf("bad hours %q: %w", s, err)
	}
	th, tm, err := ParseClock(b)
	if err != nil {
		return 0, 0, fmt.Errorf("bad hours %q: %w", s, err)
	}
	from = time.Duration(fh)*time.Hour + time.Duration(fm)*time.Minute
	to = time.Duration(th)*time.Hour + time.Duration(tm)*time.Minute
	if from >= 24*time.Hour {
		return 0, 0, fmt.Errorf("bad hours %q: cannot start at 24:00", s)
	}
	if to <= from {
		return 0, 0, fmt.Errorf("bad hours %q: the end must be after the start", s)
	}
	return from, to, nil
}

// dateLayout is how holidays and workdays are written.
const dateLayout = "2006-01-02"

var locations sync.Map // name → *time.Location

func loadLocation(name string) (*time.Location, error) {
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	locations.Store(name, l)
	return l, nil
}

// Location is the desk's time zone, in which ticket numbers are dated,
// shifts and calendars are read. Call it after Validate: a time zone that
// does not load gives UTC (Validate reports it).
func (d Desk) Location() *time.Location {
	if l, err := loadLocation(d.Timezone); err == nil && d.Timezone != "" {
		return l
	}
	return time.UTC
}
