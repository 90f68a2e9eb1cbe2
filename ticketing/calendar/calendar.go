// Package calendar is business time for SLA clocks: which days are working
// days (weekdays, public holidays, and the 调休 weekend days that China
// works to make up for long holidays) and the open hours of a working day.
// Durations are added and measured in open time only.
package calendar

import (
	"fmt"
	"time"
)

// Name24x7 is the built-in calendar that never closes.
const Name24x7 = "24x7"

// Holidays tells what an official table says of a day: a public holiday
// (closed although a weekday), a working day (调休, open although a
// weekend day), or nothing (the weekday rule applies).
type Holidays interface {
	Day(year int, month time.Month, day int) DayKind
}

// DayKind is what a holiday table says of one day.
type DayKind int

const (
	Ordinary DayKind = iota // the weekday rule applies
	Holiday                 // closed all day
	Workday                 // open, whatever its weekday
)

// Spec describes a calendar as the config writes it.
type Spec struct {
	Name string
	// Days are the working weekdays, indexed by time.Weekday.
	Days [7]bool
	// Open and Close are offsets from local midnight; Close is after Open
	// (24h closes at midnight).
	Open, Close time.Duration
	// Holidays and Workdays are local dates (YYYY-MM-DD). They override the
	// official table, which is where a table's mistake gets fixed.
	Holidays, Workdays []string
	// Official is the public holiday table (China's, by default); nil for
	// none.
	Official Holidays
}

// Calendar answers business-time questions in one time zone. Its methods
// are safe for concurrent use.
type Calendar struct {
	name        string
	loc         *time.Location
	always      bool
	days        [7]bool
	open, close time.Duration
	holidays    map[date]bool
	workdays    map[date]bool
	official    Holidays
}

type date struct {
	y int
	m time.Month
	d int
}

// TwentyFourSeven is the calendar that is always open.
func TwentyFourSeven(loc *time.Location) *Calendar {
	if loc == nil {
		loc = time.UTC
	}
	return &Calendar{name: Name24x7, loc: loc, always: true}
}

// New builds a calendar in loc from s.
func New(s Spec, loc *time.Location) (*Calendar, error) {
	if loc == nil {
		loc = time.UTC
	}
	if s.Open < 0 || s.Close > 24*time.Hour || s.Close <= s.Open {
		return nil, fmt.Errorf("calendar %s: open hours %s-%s are not a span within one day", s.Name, s.Open, s.Close)
	}
	any := false
	for _, d := range s.Days {
		any = any || d
	}
	if !any && len(s.Workdays) == 0 && s.Official == nil {
		return nil, fmt.Errorf("calendar %s: no working days", s.Name)
	}
	c := &Calendar{name: s.Name, loc: loc, days: s.Days, open: s.Open, close: s.Close,
		holidays: map[date]bool{}, workdays: map[date]bool{}, official: s.Official}
	for _, list := range []struct {
		in  []string
		out map[date]bool
	}{{s.Holidays, c.holidays}, {s.Workdays, c.workdays}} {
		for _, v := range list.in {
			t, err := time.Parse("2006-01-02", v)
			if err != nil {
				return nil, fmt.Errorf("calendar %s: %q is not a date YYYY-MM-DD", s.Name, v)
			}
			list.out[date{t.Year(), t.Month(), t.Day()}] = true
		}
	}
	return c, nil
}

// Name is the calendar's name in the config.
func (c *Calendar) Name() string { return c.name }

// Location is the time zone the calendar's days and hours are in.
func (c *Calendar) Location() *time.Location { return c.loc }

// IsWorkday reports whether the local day of t is a working day: the
// config's own dates first, then the official table, then the weekday.
func (c *Calendar) IsWorkday(t time.Time) bool {
	if c.always {
		return true
	}
	t = t.In(c.loc)
	d := date{t.Year(), t.Month(), t.Day()}
	switch {
	case c.workdays[d]:
		return true
	case c.holidays[d]:
		return false
	}
	if c.official != nil {
		switch c.official.Day(d.y, d.m, d.d) {
		case Holiday:
			return false
		case Workday:
			return true
		}
	}
	return c.days[t.Weekday()]
}

// window returns the open span [from, to) of the local day that starts at
// midnight, or ok false when the day is closed.
func (c *Calendar) window(midnight time.Time) (from, to time.Time, ok bool) {
	if !c.IsWorkday(midnight) {
		return time.Time{}, time.Time{}, false
	}
	y, m, d := midnight.Date()
	return clockOn(y, m, d, c.open, c.loc), clockOn(y, m, d, c.close, c.loc), true
}

// clockOn is the wall-clock offset off on a local date; 24h is the next
// midnight. Wall clocks are used (not midnight plus a duration) so that
// daylight-saving days keep their hours.
func clockOn(y int, m time.Month, d int, off time.Duration, loc *time.Location) time.Time {
	h := int(off / time.Hour)
	min := int(off % time.Hour / time.Minute)
	sec := int(off % time.Minute / time.Second)
	return time.Date(y, m, d, h, min, sec, 0, loc)
}

func midnightOf(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// maxDays bounds the search for open time, so that a calendar without any
// working day cannot loop forever.
const maxDays = 3 * 366

// Add returns the moment when d of open time has passed since from. A
// target that ends exactly at closing time is due at closing time, not at
// the next opening. With d zero, from itself is returned.
func (c *Calendar) Add(from time.Time, d time.Duration) time.Time {
	if c.always || d <= 0 {
		return from.Add(max(d, 0))
	}
	day := midnightOf(from, c.loc)
	for i := 0; i < maxDays; i++ {
		if open, close, ok := c.window(day); ok {
			start := open
			if from.After(start) {
				start = from
			}
			if start.Before(close) {
				if left := close.Sub(start); d <= left {
					return start.Add(d)
				} else {
					d -= left
				}
			}
		}
		day = nextDay(day, c.loc)
	}
	// No open time for years: report the target as never due within reach.
	return day
}

// Between returns the open time in [a, b); zero when b is not after a.
func (c *Calendar) Between(a, b time.Time) time.Duration {
	if !b.After(a) {
		return 0
	}
	if c.always {
		return b.Sub(a)
	}
	var total time.Duration
	day := midnightOf(a, c.loc)
	for i := 0; i < maxDays*10 && day.Before(b); i++ {
		if open, close, ok := c.window(day); ok {
			s, e := open, close
			if a.After(s) {
				s = a
			}
			if b.Before(e) {
				e = b
			}
			if e.After(s) {
				total += e.Sub(s)
			}
		}
		day = nextDay(day, c.loc)
	}
	return total
}

func nextDay(midnight time.Time, loc *time.Location) time.Time {
	y, m, d := midnight.Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, loc)
}
