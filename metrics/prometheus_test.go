package metrics

import (
	"context"
	"fmt"
	"maps"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"hotline/metrics/promtest"
	"hotline/telephony"
)

// TestPrometheusScrapesService starts a real Prometheus on loopback that
// scrapes the metrics handler, with the alert rules loaded, and reads back
// through its HTTP API a recorded call, the ticket gauges of a real
// ledger, the rules' health and an alert, then runs every dashboard query
// against it.
func TestPrometheusScrapesService(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m, err := New(reg, ledgerConfig())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	store, clock := ledgerWithTickets(t)
	lc, err := NewLedgerCollector(TicketStats(store, clock.Now), ledgerConfig(), 0, discardLog())
	if err != nil {
		t.Fatalf("NewLedgerCollector: %v", err)
	}
	reg.MustRegister(lc)

	// One call on line 1: menu, queue, answered after 4 s, 2 minutes' talk.
	m.BackendUp("sip", true)
	m.BackendUp("ledger", true)
	m.CallStarted(telephony.Inbound)
	m.TicketOpened(false)
	m.IVRChoice("1")
	m.CallOffered("1")
	m.CallAnswered("1", 4*time.Second)
	m.TalkTime("1", 2*time.Minute)
	m.CallEnded(telephony.Inbound, telephony.ReasonHungUp)

	target := httptest.NewServer(Handler(reg, discardLog()))
	t.Cleanup(target.Close)
	prom := promtest.Start(t, strings.TrimPrefix(target.URL, "http://"))

	tests := []struct {
		query string
		want  float64
	}{
		{`up{job="hotline"}`, 1},
		{`hotline_calls_total{direction="inbound"}`, 1},
		{`hotline_calls_answered_total{line="1"}`, 1},
		{`hotline_calls_answered_in_time_total{line="1"}`, 1},
		{`hotline_calls_active{direction="inbound"}`, 0},
		{`hotline_queue_wait_seconds_bucket{line="1",le="5"}`, 1},
		{`hotline_tickets_open{stage="transfer",unit="none"}`, 1},
		{`hotline_tickets_overdue{stage="feedback",unit="fangchan"}`, 1},
		{`hotline_tickets_open{stage="callback",unit="wuliu"}`, 1},
		{`hotline_tickets_overdue{stage="callback",unit="kefu"}`, 0},
		{`hotline_callbacks_overdue`, 1},
		{`hotline_ledger_stats_up`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got := prom.AwaitValue(t, tt.query, tt.want)
			if got != tt.want {
				t.Errorf("%s = %v, want %v", tt.query, got, tt.want)
			}
		})
	}

	t.Run("a later call is counted", func(t *testing.T) {
		m.CallStarted(telephony.Inbound)
		m.AbandonedInMenu("")
		m.CallEnded(telephony.Inbound, telephony.ReasonHungUp)
		q := `hotline_calls_abandoned_total{line="none",where="menu"}`
		if got := prom.AwaitValue(t, q, 1); got != 1 {
			t.Errorf("%s = %v, want 1", q, got)
		}
	})

	t.Run("rules evaluate without error", func(t *testing.T) {
		prom.AwaitRulesHealthy(t)
	})

	t.Run("overdue feedback raises the alert", func(t *testing.T) {
		a := prom.AwaitAlert(t, "UnitFeedbackOverdue")
		if got := a.Labels["unit"]; got != "fangchan" {
			t.Errorf("alert unit = %q, want fangchan", got)
		}
		if want := "房产部：1 张工单超过期限未反馈处理结果，请督促责任单位"; a.Annotations["summary"] != want {
			t.Errorf("summary = %q, want %q", a.Annotations["summary"], want)
		}
	})

	t.Run("dashboard queries run", func(t *testing.T) {
		vars := strings.NewReplacer("$line", ".*", "$unit", ".*", "$__rate_interval", "1m", "$__range", "1h", "$__interval", "1m")
		for _, expr := range dashboardExprs(t) {
			if strings.HasPrefix(expr, "label_values(") {
				continue // a Grafana function, not PromQL
			}
			if inner, ok := strings.CutPrefix(expr, "query_result("); ok {
				expr = strings.TrimSuffix(inner, ")") // the variable's PromQL
			}
			if _, err := prom.Query(t.Context(), vars.Replace(expr)); err != nil {
				t.Errorf("%s: %v", expr, err)
			}
		}
	})

	t.Run("unit variable shows names", func(t *testing.T) {
		v := dashboardVariable(t, "unit")
		re, err := regexp.Compile(strings.Trim(v.Regex, "/"))
		if err != nil {
			t.Fatalf("regex %s: %v", v.Regex, err)
		}
		want := map[string]string{"kefu": "客服中心", "fangchan": "房产部", "wuliu": "物流部"}
		var got map[string]string
		promtest.Await(t, "unit choices", func(ctx context.Context) (bool, error) {
			samples, err := prom.Query(ctx, strings.TrimSuffix(strings.TrimPrefix(v.Definition, "query_result("), ")"))
			if err != nil {
				return false, err
			}
			got = map[string]string{}
			for _, s := range samples {
				// Grafana's query_result text: {label="value", ...} value
				// time, labels in Prometheus' (sorted) order.
				var pairs []string
				for _, k := range slices.Sorted(maps.Keys(s.Metric)) {
					pairs = append(pairs, fmt.Sprintf("%s=%q", k, s.Metric[k]))
				}
				m := re.FindStringSubmatch("{" + strings.Join(pairs, ", ") + "} 1 0")
				if m == nil {
					return false, fmt.Errorf("regex does not match %v", s.Metric)
				}
				got[m[re.SubexpIndex("value")]] = m[re.SubexpIndex("text")]
			}
			return maps.Equal(got, want), fmt.Errorf("unit choices %v, want %v", got, want)
		})
	})
}
