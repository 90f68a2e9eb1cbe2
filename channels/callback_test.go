package channels

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hotline-desk/hotline/config"
)

func TestCallbackTask(t *testing.T) {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	agents := []config.Agent{
		{ID: "zhang", Name: "张工", Email: "zhang@example.com"},
		{ID: "li", Name: "李工"},
		{ID: "wang", Name: "王经理", Email: "wang@example.com"},
	}
	day := []config.Shift{{Name: "day", Days: "mon-fri", From: "08:30", To: "17:30", Agents: []string{"zhang"}},
		{Name: "night", Days: "mon-sun", From: "17:30", To: "08:30", Agents: []string{"li"}}}
	r, err := NewRoster(agents, day, []string{"wang"}, loc)
	if err != nil {
		t.Fatal(err)
	}
	missed := MissedCall{CallID: "c1", Name: "张三", Number: "+8613800138000", Reason: "no agent answered", Ticket: "HL-20261127-0001"}
	cases := []struct {
		name string
		at   time.Time
		want string // recipients
	}{
		{"the agent on duty", time.Date(2026, 11, 27, 10, 0, 0, 0, loc), "zhang@example.com"},
		{"nobody on duty has mail: the escalation list", time.Date(2026, 11, 27, 22, 0, 0, 0, loc), "wang@example.com"},
	}
	for _, c := range cases {
		m := missed
		m.At = c.at
		to, job, ok := CallbackTask(r, m)
		if !ok || strings.Join(to, ",") != c.want {
			t.Fatalf("%s: to %v ok %v", c.name, to, ok)
		}
		var mail OutboundMail
		if err := json.Unmarshal(job.Args, &mail); err != nil {
			t.Fatal(err)
		}
		if job.Kind != JobMailSend || job.UniqueKey != "callback:c1" || !strings.Contains(mail.Subject, "+8613800138000") ||
			!strings.Contains(mail.Text, "HL-20261127-0001") || !strings.Contains(mail.Text, c.at.Format("2006-01-02 15:04")) {
			t.Errorf("%s: job %+v mail %+v", c.name, job, mail)
		}
	}
	empty, _ := NewRoster([]config.Agent{{ID: "li", Name: "李工"}}, nil, nil, loc)
	if _, _, ok := CallbackTask(empty, missed); ok {
		t.Error("a callback task with nobody to mail")
	}
}
