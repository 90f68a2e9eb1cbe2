package metrics

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"
)

// The dashboard and the alert rules in deploy/ name only metrics that
// exist, so that a renamed metric cannot leave a panel or an alert silent.
func TestDeployNamesRealMetrics(t *testing.T) {
	m := New()
	NewSIP(m).Registrations(m, func() int { return 0 })
	NewMail(m)
	NewARI(m)
	NewFax(m)
	NewProcess(m)
	NewOutbox(m)
	m.JournalBacklog(func() int { return 0 })
	// Describe lists every metric, also the vectors nothing has observed
	// yet (Gather would leave those out).
	known := map[string]bool{}
	descs := make(chan *prometheus.Desc)
	go func() { m.Registry().Describe(descs); close(descs) }()
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	for d := range descs {
		if sub := fqName.FindStringSubmatch(d.String()); sub != nil {
			known[sub[1]] = true
		}
	}
	if !known["hotline_contacts_total"] {
		t.Fatalf("could not read the metric names: %v", known)
	}
	// Histograms and summaries are queried by their series names.
	name := regexp.MustCompile(`\bhotline_[a-z0-9_]+`)
	series := func(n string) bool {
		for _, suffix := range []string{"", "_bucket", "_sum", "_count"} {
			if len(n) > len(suffix) && known[n[:len(n)-len(suffix)]] && n[len(n)-len(suffix):] == suffix {
				return true
			}
		}
		return false
	}
	deploy := filepath.Join("..", "deploy")
	var exprs []string
	rules, _ := filepath.Glob(filepath.Join(deploy, "prometheus", "*.yml"))
	if len(rules) == 0 {
		t.Fatal("no alert rules in deploy/prometheus")
	}
	for _, f := range rules {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Groups []struct {
				Rules []struct {
					Alert, Expr string
				}
			}
		}
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, g := range doc.Groups {
			for _, r := range g.Rules {
				if r.Alert == "" || r.Expr == "" {
					t.Errorf("%s: a rule without alert name or expr", f)
				}
				exprs = append(exprs, r.Expr)
			}
		}
	}
	b, err := os.ReadFile(filepath.Join(deploy, "grafana", "hotline.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	var unknown []string
	for _, e := range exprs {
		for _, n := range name.FindAllString(e, -1) {
			if !series(n) {
				unknown = append(unknown, n)
			}
		}
	}
	sort.Strings(unknown)
	if len(unknown) > 0 {
		t.Fatalf("deploy/ names metrics that do not exist: %v", unknown)
	}
	if len(exprs) < 40 {
		t.Fatalf("only %d expressions read; the files were not parsed", len(exprs))
	}
}
