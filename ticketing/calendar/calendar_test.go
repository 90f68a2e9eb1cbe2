package calendar

import (
	"testing"
	"time"
)

var shanghai = mustLoad("Asia/Shanghai")

func mustLoad(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, shanghai)
	if err != nil {
		panic(err)
	}
	return t
}

// office is the calendar of the example: 09:00-17:00 Mon-Fri,
// 2026-10-01..07 holidays, Saturday 2026-10-10 a working day; no official
// table, so that only the config decides.
func office(t *testing.T) *Calendar {
	c, err := New(Spec{Name: "office", Days: [7]bool{false, true, true, true, true, true, false},
		Open: 9 * time.Hour, Close: 17 * time.Hour,
		Holidays: []string{"2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04", "2026-10-05", "2026-10-06", "2026-10-07"},
		Workdays: []string{"2026-10-10"}}, shanghai)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAdd(t *testing.T) {
	c := office(t)
	cn, err := New(Spec{Name: "cn", Days: [7]bool{false, true, true, true, true, true, false},
		Open: 9 * time.Hour, Close: 17 * time.Hour, Official: China{}}, shanghai)
	if err != nil {
		t.Fatal(err)
	}
	night, err := New(Spec{Name: "late", Days: [7]bool{true, true, true, true, true, true, true},
		Open: 20 * time.Hour, Close: 24 * time.Hour}, shanghai)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		cal  *Calendar
		from string
		d    time.Duration
		want string
	}{
		{"issue: response 2h over the National Day holidays", c, "2026-09-30 16:00", 2 * time.Hour, "2026-10-08 10:00"},
		{"issue: resolve 24h ends on the working Saturday", c, "2026-09-30 16:00", 24 * time.Hour, "2026-10-10 16:00"},
		{"within one day", c, "2026-09-29 10:00", 3 * time.Hour, "2026-09-29 13:00"},
		{"ends exactly at closing", c, "2026-09-29 15:00", 2 * time.Hour, "2026-09-29 17:00"},
		{"crosses the night", c, "2026-09-29 16:30", time.Hour, "2026-09-30 09:30"},
		{"received before opening", c, "2026-09-29 06:00", time.Hour, "2026-09-29 10:00"},
		{"received after closing", c, "2026-09-29 22:00", time.Hour, "2026-09-30 10:00"},
		{"received on a Sunday", c, "2026-09-27 12:00", 30 * time.Minute, "2026-09-28 09:30"},
		{"crosses a weekend", c, "2026-09-25 16:00", 2 * time.Hour, "2026-09-28 10:00"},
		{"the Sunday after the working Saturday is closed", c, "2026-10-10 16:30", time.Hour, "2026-10-12 09:30"},
		{"zero target", c, "2026-09-29 22:00", 0, "2026-09-29 22:00"},
		{"open until midnight, crossing it", night, "2026-09-29 23:00", 2 * time.Hour, "2026-09-30 21:00"},
		{"official table: Mid-Autumn Friday 2026-09-25 is a holiday", cn, "2026-09-24 16:00", 2 * time.Hour, "2026-09-28 10:00"},
		{"official table: Sunday 2026-09-20 is a 调休 working day", cn, "2026-09-19 12:00", time.Hour, "2026-09-20 10:00"},
		{"official table: National Day to the working Saturday", cn, "2026-09-30 16:00", 24 * time.Hour, "2026-10-10 16:00"},
		{"24x7 ignores hours and holidays", TwentyFourSeven(shanghai), "2026-09-30 16:00", 24 * time.Hour, "2026-10-01 16:00"},
	}
	for _, tc := range cases {
		got := tc.cal.Add(at(tc.from), tc.d)
		if !got.Equal(at(tc.want)) {
			t.Errorf("%s: Add(%s, %s) = %s, want %s", tc.name, tc.from, tc.d, got.In(shanghai).Format("2006-01-02 15:04 Mon"), tc.want)
		}
		if tc.d > 0 {
			if back := tc.cal.Between(at(tc.from), got); back != tc.d {
				t.Errorf("%s: Between(from, Add(from, d)) = %s, want %s", tc.name, back, tc.d)
			}
		}
	}
}

func TestOverridesBeatTheOfficialTable(t *testing.T) {
	// The config says 2026-10-08 is a holiday too and 2026-09-20 is not a
	// working day after all: the config wins over the library.
	c, err := New(Spec{Name: "cn", Days: [7]bool{false, true, true, true, true, true, false},
		Open: 9 * time.Hour, Close: 17 * time.Hour, Official: China{},
		Holidays: []string{"2026-10-08", "2026-09-20"}}, shanghai)
	if err != nil {
		t.Fatal(err)
	}
	if c.IsWorkday(at("2026-09-20 12:00")) {
		t.Error("2026-09-20: the config's holiday must beat the table's working day")
	}
	if got := c.Add(at("2026-09-30 16:00"), 2*time.Hour); !got.Equal(at("2026-10-09 10:00")) {
		t.Errorf("due %s, want 2026-10-09 10:00", got.In(shanghai))
	}
	if !(China{}).isKnown(2026) {
		t.Error("the library has no 2026 table")
	}
}

func (China) isKnown(year int) bool {
	return China{}.HolidayName(year, time.October, 1) != ""
}

func TestBetweenSkipsClosedTime(t *testing.T) {
	c := office(t)
	cases := []struct {
		a, b string
		want time.Duration
	}{
		{"2026-09-30 16:00", "2026-10-08 10:00", 2 * time.Hour},
		{"2026-09-29 18:00", "2026-09-30 08:00", 0},
		{"2026-09-30 08:00", "2026-09-29 18:00", 0},
		{"2026-09-25 12:00", "2026-09-28 12:00", 8 * time.Hour},
	}
	for _, tc := range cases {
		if got := c.Between(at(tc.a), at(tc.b)); got != tc.want {
			t.Errorf("Between(%s, %s) = %s, want %s", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestNewRefusesBadSpecs(t *testing.T) {
	if _, err := New(Spec{Name: "x", Days: [7]bool{true}, Open: 17 * time.Hour, Close: 9 * time.Hour}, shanghai); err == nil {
		t.Error("hours that end before they start were accepted")
	}
	if _, err := New(Spec{Name: "x", Open: 9 * time.Hour, Close: 17 * time.Hour}, shanghai); err == nil {
		t.Error("a calendar without working days was accepted")
	}
	if _, err := New(Spec{Name: "x", Days: [7]bool{true}, Open: 9 * time.Hour, Close: 17 * time.Hour, Holidays: []string{"10/1"}}, shanghai); err == nil {
		t.Error("a bad date was accepted")
	}
}
