package kb

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hotline-desk/hotline/ticketing"
	"github.com/hotline-desk/hotline/ticketing/store/sqlite"
)

func TestTerms(t *testing.T) {
	cases := map[string][]string{
		"打印机无法打印":         {"打印", "印机", "机无", "无法", "法打"},
		"VPN 连接失败":        {"vpn", "连接", "接失", "失败"},
		"Outlook邮箱，密码错误！": {"outlook", "邮箱", "密码", "码错", "错误"},
		"卡":               {"卡"},
		"a b":             nil,
	}
	for in, want := range cases {
		if got := Terms(in); !slices.Equal(got, want) {
			t.Errorf("Terms(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestArticleSplitsTheCause(t *testing.T) {
	a := Article(&ticketing.Ticket{ID: 3, Subject: "打印机卡纸", Description: "三楼打印机卡纸", Kind: ticketing.KindIncident,
		Resolution: "原因：进纸辊老化\n更换进纸辊后恢复"})
	if a.Cause != "进纸辊老化" || a.Resolution != "更换进纸辊后恢复" || a.Problem != "三楼打印机卡纸" || a.Category != "incident" || a.SourceTicketID != 3 {
		t.Errorf("article %+v", a)
	}
}

func TestSearchRanksByCoverage(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "kb.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	b := New(st, time.Now, true)
	for _, a := range []ticketing.KBArticle{
		{Title: "打印机卡纸", Problem: "打印机卡纸，无法打印", Resolution: "清理进纸通道"},
		{Title: "复印机无法启动", Problem: "复印机电源灯不亮", Resolution: "更换保险丝"},
		{Title: "打印机驱动安装失败", Problem: "Windows 11 安装打印机驱动报错", Resolution: "使用通用驱动"},
		{Title: "邮箱登录失败", Problem: "密码错误", Resolution: "重置密码"},
	} {
		if err := b.Create(ctx, &a); err != nil {
			t.Fatal(err)
		}
	}
	got, err := b.Search(ctx, "三楼的打印机无法打印了", 3)
	if err != nil {
		t.Fatal(err)
	}
	var titles []string
	for _, a := range got {
		titles = append(titles, a.Title)
	}
	if len(titles) != 3 || titles[0] != "打印机卡纸" || slices.Contains(titles, "邮箱登录失败") {
		t.Errorf("top 3 for a printer problem: %q", titles)
	}
}

// A new ticket queues a search for articles only once there are articles:
// while the knowledge base is empty, it would cost every contact a job
// and find nothing.
func TestSuggestOnlyWithArticles(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "kb.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	b := New(st, func() time.Time { return now }, true)
	queued := func() bool {
		t.Helper()
		c := &ticketing.Change{After: &ticketing.Ticket{Subject: "打印机卡纸"}}
		if err := b.Change(ctx, c); err != nil {
			t.Fatal(err)
		}
		return slices.ContainsFunc(c.Jobs, func(j ticketing.JobSpec) bool { return j.Kind == JobSuggest })
	}
	if queued() {
		t.Fatal("a search was queued with no article to find")
	}
	// Another instance writes an article: seen once the empty answer is old.
	other := New(st, time.Now, true)
	if err := other.Create(ctx, &ticketing.KBArticle{Title: "打印机卡纸", Problem: "卡纸"}); err != nil {
		t.Fatal(err)
	}
	if queued() {
		t.Fatal("the empty answer was asked again before emptyRecheck")
	}
	now = now.Add(emptyRecheck + time.Second)
	if !queued() {
		t.Fatal("no search queued although the knowledge base has an article")
	}
}
