package channels

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // the zones below, whatever the machine has

	"github.com/hotline-desk/hotline/config"
)

const (
	mobileZhang = "+8613800000001"
	mobileLi    = "+8613800000002"
	mobileWang  = "+8613800000003"
)

// The desk of the tests: zhang and wang on the day shift (wang, the team
// lead, has no softphone), li on nights; escalation goes wang → li → zhang.
var (
	testAgents = []config.Agent{
		{ID: "zhang", Name: "张工", SIPUser: "zhang", Mobile: mobileZhang, Email: "zhang@example.com", Tier: 1},
		{ID: "li", Name: "李工", SIPUser: "li", Mobile: mobileLi, Email: "li@example.com", Tier: 1},
		{ID: "wang", Name: "王经理", Mobile: mobileWang, Email: "wang@example.com", Tier: 2},
	}
	testShifts = []config.Shift{
		{Name: "day", Days: "mon-fri", From: "08:30", To: "17:30", Agents: []string{"zhang", "wang"}},
		{Name: "night", Days: "mon-fri", From: "17:30", To: "08:30", Agents: []string{"li"}},
	}
	testEscalation = []string{"wang", "li", "zhang"}
)

func shanghai(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func testRoster(t *testing.T) *Roster {
	t.Helper()
	r, err := NewRoster(testAgents, testShifts, testEscalation, shanghai(t))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func ids(agents []Agent) string {
	var s []string
	for _, a := range agents {
		s = append(s, a.ID)
	}
	return strings.Join(s, ",")
}

func TestOnDuty(t *testing.T) {
	loc := shanghai(t)
	r := testRoster(t)
	at := func(day, hh, mm, ss int) time.Time { return time.Date(2026, 11, day, hh, mm, ss, 0, loc) }
	tests := []struct {
		name string
		t    time.Time
		want string
	}{
		{"Wednesday morning", at(25, 10, 0, 0), "zhang,wang"},
		{"day shift starts", at(25, 8, 30, 0), "zhang,wang"},
		{"night shift's last second", at(25, 8, 29, 59), "li"},
		{"day shift's last second", at(25, 17, 29, 59), "zhang,wang"},
		{"night shift starts", at(25, 17, 30, 0), "li"},
		{"Wednesday before midnight", at(25, 23, 59, 59), "li"},
		{"Thursday after midnight", at(26, 2, 0, 0), "li"},
		{"Monday after midnight: Sunday has no night shift", at(30, 2, 0, 0), ""},
		{"Friday night", at(27, 22, 0, 0), "li"},
		{"Saturday 02:00, Friday's night shift", at(28, 2, 0, 0), "li"},
		{"Saturday 08:29", at(28, 8, 29, 0), "li"},
		{"Saturday 08:30: nobody", at(28, 8, 30, 0), ""},
		{"Saturday noon", at(28, 12, 0, 0), ""},
		{"Sunday night", at(29, 22, 0, 0), ""},
		// 18:00 UTC on Friday is 02:00 on Saturday in Shanghai.
		{"UTC instant", time.Date(2026, 11, 27, 18, 0, 0, 0, time.UTC), "li"},
		{"UTC instant, day", time.Date(2026, 11, 27, 1, 0, 0, 0, time.UTC), "zhang,wang"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ids(r.OnDuty(tt.t)); got != tt.want {
				t.Errorf("OnDuty(%s) = %q, want %q", tt.t.In(loc).Format("Mon 2006-01-02 15:04:05"), got, tt.want)
			}
		})
	}
}

func TestOnDutyOrderAndOverlap(t *testing.T) {
	shifts := []config.Shift{
		{Name: "early", Days: "mon-sun", From: "08:00", To: "12:00", Agents: []string{"wang", "zhang"}},
		{Name: "late", Days: "mon-sun", From: "10:00", To: "18:00", Agents: []string{"li", "zhang", "li"}},
	}
	r, err := NewRoster(testAgents, shifts, nil, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	day := func(h int) time.Time { return time.Date(2026, 11, 25, h, 0, 0, 0, time.UTC) }
	for h, want := range map[int]string{9: "wang,zhang", 11: "wang,zhang,li", 13: "li,zhang", 20: ""} {
		if got := ids(r.OnDuty(day(h))); got != want {
			t.Errorf("OnDuty(%02d:00) = %q, want %q", h, got, want)
		}
	}
}

func TestOnDutyNoShifts(t *testing.T) {
	r, err := NewRoster(testAgents, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tm := range []time.Time{
		time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC),
	} {
		if got := ids(r.OnDuty(tm)); got != "zhang,li,wang" {
			t.Errorf("OnDuty(%v) = %q, want every agent", tm, got)
		}
	}
}

func TestOnDutyAcrossDST(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	// On Sunday 2026-03-08 clocks jump from 02:00 to 03:00; on Sunday
	// 2026-11-01 they fall back from 02:00 to 01:00.
	shifts := []config.Shift{
		{Name: "sat-night", Days: "sat", From: "22:00", To: "06:00", Agents: []string{"li"}},
		{Name: "sun-early", Days: "sun", From: "01:00", To: "03:30", Agents: []string{"zhang"}},
	}
	r, err := NewRoster(testAgents, shifts, nil, ny)
	if err != nil {
		t.Fatal(err)
	}
	at := func(mo time.Month, d, h, m int) time.Time { return time.Date(2026, mo, d, h, m, 0, 0, ny) }
	tests := []struct {
		t    time.Time
		want string
	}{
		{at(3, 7, 22, 0), "li"},
		{at(3, 8, 1, 59), "li,zhang"},
		{at(3, 8, 3, 15), "li,zhang"}, // 03:15 EDT, 15 minutes after 01:59 EST
		{at(3, 8, 5, 59), "li"},       // a 7-hour night, still until 06:00 on the wall
		{at(3, 8, 6, 0), ""},
		{at(3, 8, 3, 30), "li"},
		{at(11, 1, 5, 59), "li"}, // a 9-hour night
		{at(11, 1, 6, 0), ""},
		// Both 01:30s of the night the clocks fall back are covered.
		{time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC), "li,zhang"}, // 01:30 EDT
		{time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC), "li,zhang"}, // 01:30 EST
	}
	for _, tt := range tests {
		if got := ids(r.OnDuty(tt.t)); got != tt.want {
			t.Errorf("OnDuty(%s) = %q, want %q", tt.t.In(ny).Format("Mon Jan 2 15:04 MST"), got, tt.want)
		}
	}
}

func TestRosterWholeDayShift(t *testing.T) {
	r, err := NewRoster(testAgents, []config.Shift{
		{Name: "duty", Days: "sat,sun", From: "00:00", To: "24:00", Agents: []string{"wang"}},
	}, nil, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		d, h, m int
		want    string
	}{{27, 23, 59, ""}, {28, 0, 0, "wang"}, {29, 23, 59, "wang"}, {30, 0, 0, ""}} {
		if got := ids(r.OnDuty(time.Date(2026, 11, c.d, c.h, c.m, 0, 0, time.UTC))); got != c.want {
			t.Errorf("day %d %02d:%02d: OnDuty = %q, want %q", c.d, c.h, c.m, got, c.want)
		}
	}
}

func TestRosterLookups(t *testing.T) {
	r := testRoster(t)
	if a, ok := r.Agent("li"); !ok || a.Name != "李工" || a.Mobile != mobileLi || a.SIPUser != "li" || a.Tier != 1 {
		t.Errorf("Agent(li) = %+v, %v", a, ok)
	}
	if _, ok := r.Agent("nobody"); ok {
		t.Error("Agent(nobody) found")
	}
	if a, ok := r.AgentBySIPUser("zhang"); !ok || a.ID != "zhang" {
		t.Errorf("AgentBySIPUser(zhang) = %+v, %v", a, ok)
	}
	if _, ok := r.AgentBySIPUser(""); ok {
		t.Error("AgentBySIPUser(\"\") found wang, who has no softphone")
	}
	if got := ids(r.Escalation()); got != "wang,li,zhang" {
		t.Errorf("Escalation() = %q", got)
	}
	if got := ids(r.Agents()); got != "zhang,li,wang" {
		t.Errorf("Agents() = %q", got)
	}
}

func TestDialable(t *testing.T) {
	r := testRoster(t)
	for number, want := range map[string]bool{
		mobileZhang:        true,
		mobileLi:           true,
		mobileWang:         true,
		"+8613800000009":   false,
		"":                 false,
		"13800000001":      false, // only the E.164 form is matched
		"+86 13800000001":  false,
		"+8613800000001 ":  false,
		"+864001160016":    false,
		"+0013800000001":   false,
		"+8613800000001@x": false,
	} {
		if got := r.Dialable(number); got != want {
			t.Errorf("Dialable(%q) = %v, want %v", number, got, want)
		}
	}
	var h RosterHolder
	if h.Load().Dialable(mobileZhang) || len(h.Load().OnDuty(time.Now())) != 0 {
		t.Error("an empty holder dials or has someone on duty")
	}
}

func TestNewRosterErrors(t *testing.T) {
	tests := []struct {
		name       string
		agents     []config.Agent
		shifts     []config.Shift
		escalation []string
		want       string
	}{
		{"duplicate id", append(slices.Clone(testAgents), config.Agent{ID: "li"}), nil, nil, `agent "li" is listed twice`},
		{"no id", []config.Agent{{Name: "x"}}, nil, nil, "no id"},
		{"shared sip user", append(slices.Clone(testAgents), config.Agent{ID: "x", SIPUser: "zhang"}), nil, nil, `share sip_user "zhang"`},
		{"mobile not E.164", []config.Agent{{ID: "x", Mobile: "13800000001"}}, nil, nil, "not in E.164"},
		{"unknown shift agent", testAgents, []config.Shift{{Name: "day", Days: "mon", From: "08:00", To: "09:00", Agents: []string{"zhao"}}}, nil, `shift day: unknown agent "zhao"`},
		{"bad days", testAgents, []config.Shift{{Name: "day", Days: "someday", From: "08:00", To: "09:00"}}, nil, "shift day: days"},
		{"bad from", testAgents, []config.Shift{{Name: "day", Days: "mon", From: "8h", To: "09:00"}}, nil, "shift day: from"},
		{"bad to", testAgents, []config.Shift{{Name: "day", Days: "mon", From: "08:00", To: "25:00"}}, nil, "shift day: to"},
		{"no days", testAgents, []config.Shift{{Name: "day", From: "08:00", To: "09:00"}}, nil, "shift day: days"},
		{"from 24:00", testAgents, []config.Shift{{Name: "day", Days: "mon", From: "24:00", To: "09:00"}}, nil, "shift day: from"},
		{"from == to", testAgents, []config.Shift{{Name: "day", Days: "mon", From: "09:00", To: "09:00"}}, nil, "shift day: to"},
		{"unknown escalation", testAgents, nil, []string{"boss"}, `escalation: unknown agent "boss"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewRoster(tt.agents, tt.shifts, tt.escalation, time.UTC)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewRoster: err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestRosterHolderReload(t *testing.T) {
	var h RosterHolder
	old := testRoster(t)
	h.Store(old)

	// A call in progress holds the roster it started with.
	call := h.Load()

	// SIGHUP: li leaves, zhang gets a new mobile.
	agents := []config.Agent{{ID: "zhang", SIPUser: "zhang", Mobile: "+8613900000001"}}
	next, err := NewRoster(agents, nil, nil, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	h.Store(next)

	if call != old || !call.Dialable(mobileLi) || !call.Dialable(mobileZhang) {
		t.Error("the call in progress lost its roster")
	}
	now := h.Load()
	if now != next || now.Dialable(mobileLi) || now.Dialable(mobileZhang) || !now.Dialable("+8613900000001") {
		t.Error("a new call does not see the reloaded roster")
	}

	// Reloads race with calls starting.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 200 {
				if i%2 == 0 {
					h.Store(old)
				} else if r := h.Load(); r != old && r != next {
					t.Error("Load returned a roster never stored")
				}
			}
		})
	}
	wg.Wait()
}
