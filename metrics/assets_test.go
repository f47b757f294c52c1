package metrics

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/goccy/go-yaml"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The assets that ship beside the code.
const (
	dashboardFile  = "grafana/hotline.json"
	rulesFile      = "prometheus/alerts.yml"
	rulesTestFile  = "prometheus/alerts_test.yml"
	prometheusFile = "prometheus/prometheus.yml"
)

// tool returns the path of a Prometheus tool, failing the test when it is
// not installed: these checks are the point of the assets.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not installed (Debian package prometheus; run tests/setup.sh): %v", name, err)
	}
	return p
}

func TestAlertRulesWithPromtool(t *testing.T) {
	promtool := tool(t, "promtool")
	tests := []struct {
		name string
		args []string
	}{
		{"check rules", []string{"check", "rules", rulesFile}},
		{"test rules", []string{"test", "rules", rulesTestFile}},
		{"check config", []string{"check", "config", prometheusFile}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := exec.CommandContext(t.Context(), promtool, tt.args...).CombinedOutput()
			if err != nil {
				t.Fatalf("promtool %s: %v\n%s", strings.Join(tt.args, " "), err, out)
			}
		})
	}
}

// TestEveryAlertIsUnitTested keeps alerts_test.yml in step with alerts.yml.
func TestEveryAlertIsUnitTested(t *testing.T) {
	tested := map[string]bool{}
	for _, tc := range readRuleTests(t).Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				tested[a.AlertName] = true
			}
		}
	}
	for _, r := range readRules(t) {
		if r.Alert == "" {
			continue
		}
		t.Run(r.Alert, func(t *testing.T) {
			if !tested[r.Alert] {
				t.Errorf("no promtool test in %s expects %s to fire", rulesTestFile, r.Alert)
			}
			if !hasHan(r.Annotations["summary"]) {
				t.Errorf("summary %q: want one in Chinese for the supervisors", r.Annotations["summary"])
			}
		})
	}
}

func TestDashboard(t *testing.T) {
	d := readDashboard(t)
	t.Run("variables", func(t *testing.T) {
		var names []string
		for _, v := range d.Templating.List {
			names = append(names, v.Name)
		}
		for _, want := range []string{"datasource", "line", "unit"} {
			if !slices.Contains(names, want) {
				t.Errorf("variables %v: no %q", names, want)
			}
		}
	})
	ids := map[int]string{}
	for _, p := range d.Panels {
		t.Run(p.Title, func(t *testing.T) {
			if !hasHan(p.Title) {
				t.Errorf("title %q: want a Chinese title", p.Title)
			}
			if other, dup := ids[p.ID]; dup {
				t.Errorf("id %d also used by %q", p.ID, other)
			}
			ids[p.ID] = p.Title
			if p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 {
				t.Errorf("gridPos %+v: outside the 24 columns", p.GridPos)
			}
			if p.Type == "row" {
				return
			}
			if p.Datasource.UID != "${datasource}" {
				t.Errorf("datasource %q: want the ${datasource} variable", p.Datasource.UID)
			}
			if len(p.Targets) == 0 {
				t.Error("no query")
			}
			for _, q := range p.Targets {
				if strings.TrimSpace(q.Expr) == "" {
					t.Errorf("query %s: empty", q.RefID)
				}
			}
		})
	}
	t.Run("line and unit variables used", func(t *testing.T) {
		all := strings.Join(dashboardExprs(t), "\n")
		for _, v := range []string{"$line", "$unit"} {
			if !strings.Contains(all, v) {
				t.Errorf("no panel filters by %s", v)
			}
		}
	})
}

// TestEveryMetricUsedIsExported checks that each metric the dashboard and
// the rules query is exported by New or the ledger collector, with the
// labels and the label values they match on: a rule on a misspelt series
// never fires.
func TestEveryMetricUsedIsExported(t *testing.T) {
	exported := exportedSeries(t)
	exprs := map[string][]string{
		dashboardFile: dashboardExprs(t),
		rulesFile:     ruleExprs(t),
	}
	for file, list := range exprs {
		for _, expr := range list {
			for _, problem := range checkExpr(expr, exported) {
				t.Errorf("%s: %s\n\tin %s", file, problem, expr)
			}
		}
	}
}

// The pieces of PromQL the check looks at. It is no parser, but the
// expressions of the dashboard and the rules keep to these shapes, and
// promtool and the real Prometheus test (TestPrometheusScrapesService)
// check their syntax.
var (
	selectorRE = regexp.MustCompile(`\b((?:hotline|go|process)_[a-zA-Z0-9_]+|up)\b(\{[^}]*\})?`)
	matcherRE  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"`)
	byRE       = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
)

// labelSet maps a label name to the values seen.
type labelSet map[string]map[string]bool

// checkExpr returns what in expr does not match the exported series.
func checkExpr(expr string, exported map[string]labelSet) []string {
	var problems []string
	used := labelSet{}
	for _, m := range selectorRE.FindAllStringSubmatch(expr, -1) {
		name := m[1]
		if name == "up" {
			used["job"], used["instance"] = nil, nil
			continue
		}
		labels, ok := exported[name]
		if !ok {
			problems = append(problems, "metric "+name+" is not exported")
			continue
		}
		for l := range labels {
			used[l] = nil
		}
		for _, mm := range matcherRE.FindAllStringSubmatch(m[2], -1) {
			label, op, value := mm[1], mm[2], mm[3]
			values, ok := labels[label]
			if !ok {
				problems = append(problems, name+" has no label "+label)
				continue
			}
			if op == "=" && !values[value] {
				problems = append(problems, name+"{"+label+"="+strconv.Quote(value)+"}: no such series")
			}
		}
	}
	for _, m := range byRE.FindAllStringSubmatch(expr, -1) {
		for l := range strings.SplitSeq(m[1], ",") {
			l = strings.TrimSpace(l)
			if _, ok := used[l]; !ok && l != "" {
				problems = append(problems, "grouping by "+l+": no metric of the expression has it")
			}
		}
	}
	return problems
}

// exportedSeries returns, per metric name as PromQL sees it (histograms
// as _bucket, _sum and _count), the label names and values exported by a
// registry with New and the ledger collector.
func exportedSeries(t *testing.T) map[string]labelSet {
	t.Helper()
	cfg := ledgerConfig() // with display names
	reg := prometheus.NewPedanticRegistry()
	if _, err := New(reg, cfg); err != nil {
		t.Fatalf("New: %v", err)
	}
	src := LedgerSourceFunc(func(context.Context) (LedgerSnapshot, error) { return LedgerSnapshot{}, nil })
	lc, err := NewLedgerCollector(src, cfg, 0, discardLog())
	if err != nil {
		t.Fatalf("NewLedgerCollector: %v", err)
	}
	reg.MustRegister(lc)
	out := map[string]labelSet{}
	add := func(name string, labels []*dto.LabelPair, extra ...string) {
		set := out[name]
		if set == nil {
			set = labelSet{}
			out[name] = set
		}
		for _, lp := range labels {
			if set[lp.GetName()] == nil {
				set[lp.GetName()] = map[string]bool{}
			}
			set[lp.GetName()][lp.GetValue()] = true
		}
		for _, l := range extra {
			set[l] = map[string]bool{}
		}
	}
	for name, mf := range gather(t, reg) {
		for _, m := range mf.GetMetric() {
			if mf.GetType() == dto.MetricType_HISTOGRAM {
				add(name+"_bucket", m.GetLabel(), "le")
				add(name+"_sum", m.GetLabel())
				add(name+"_count", m.GetLabel())
				continue
			}
			add(name, m.GetLabel())
		}
	}
	return out
}

func TestCheckExprFindsMistakes(t *testing.T) {
	exported := exportedSeries(t)
	tests := []struct {
		name string
		expr string
		bad  bool
	}{
		{"fine", `sum by (unit) (hotline_tickets_overdue{stage="transfer"}) > 0`, false},
		{"histogram bucket", `histogram_quantile(0.95, sum by (le) (rate(hotline_queue_wait_seconds_bucket{line=~"$line"}[5m])))`, false},
		{"misspelt metric", `hotline_ticket_overdue > 0`, true},
		{"unknown label", `hotline_tickets_overdue{stage="transfer",caller="1"}`, true},
		{"unknown value", `hotline_tickets_overdue{stage="tranfser"}`, true},
		{"grouping by a missing label", `sum by (line) (hotline_tickets_overdue)`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems := checkExpr(tt.expr, exported)
			if got := len(problems) > 0; got != tt.bad {
				t.Errorf("checkExpr(%s) = %q; want problems: %v", tt.expr, problems, tt.bad)
			}
		})
	}
}

// dashboard is the part of the Grafana dashboard model the tests read.
type dashboard struct {
	Panels []struct {
		ID         int    `json:"id"`
		Type       string `json:"type"`
		Title      string `json:"title"`
		Datasource struct {
			UID string `json:"uid"`
		} `json:"datasource"`
		GridPos struct{ X, Y, W, H int } `json:"gridPos"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []dashboardVar `json:"list"`
	} `json:"templating"`
}

type dashboardVar struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	Definition string `json:"definition"`
	Regex      string `json:"regex"`
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// dashboardExprs returns the queries of the panels and the variables.
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	d := readDashboard(t)
	var out []string
	for _, p := range d.Panels {
		for _, q := range p.Targets {
			out = append(out, q.Expr)
		}
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" {
			out = append(out, v.Definition)
		}
	}
	return out
}

// dashboardVariable returns the dashboard's variable name.
func dashboardVariable(t *testing.T, name string) dashboardVar {
	t.Helper()
	for _, v := range readDashboard(t).Templating.List {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("dashboard has no variable %q", name)
	return dashboardVar{}
}

type rule struct {
	Alert       string            `yaml:"alert"`
	Record      string            `yaml:"record"`
	Expr        string            `yaml:"expr"`
	Annotations map[string]string `yaml:"annotations"`
}

func readRules(t *testing.T) []rule {
	t.Helper()
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []rule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	var out []rule
	for _, g := range f.Groups {
		out = append(out, g.Rules...)
	}
	return out
}

func ruleExprs(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, r := range readRules(t) {
		out = append(out, r.Expr)
	}
	return out
}

type ruleTests struct {
	Tests []struct {
		AlertRuleTest []struct {
			AlertName string `yaml:"alertname"`
			ExpAlerts []any  `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

func readRuleTests(t *testing.T) ruleTests {
	t.Helper()
	b, err := os.ReadFile(rulesTestFile)
	if err != nil {
		t.Fatal(err)
	}
	var rt ruleTests
	if err := yaml.Unmarshal(b, &rt); err != nil {
		t.Fatalf("%s: %v", rulesTestFile, err)
	}
	return rt
}

func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}
