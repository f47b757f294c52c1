package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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
	prom := startPrometheus(t, strings.TrimPrefix(target.URL, "http://"))

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
			got := prom.awaitValue(t, tt.query, tt.want)
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
		if got := prom.awaitValue(t, q, 1); got != 1 {
			t.Errorf("%s = %v, want 1", q, got)
		}
	})

	t.Run("rules evaluate without error", func(t *testing.T) {
		prom.awaitRulesHealthy(t)
	})

	t.Run("overdue feedback raises the alert", func(t *testing.T) {
		a := prom.awaitAlert(t, "UnitFeedbackOverdue")
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
			if _, err := prom.query(t.Context(), vars.Replace(expr)); err != nil {
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
		samples, err := prom.query(t.Context(), strings.TrimSuffix(strings.TrimPrefix(v.Definition, "query_result("), ")"))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, s := range samples {
			// Grafana's query_result text: {label="value", ...} value time,
			// labels in Prometheus' (sorted) order.
			var pairs []string
			for _, k := range slices.Sorted(maps.Keys(s.Metric)) {
				pairs = append(pairs, fmt.Sprintf("%s=%q", k, s.Metric[k]))
			}
			m := re.FindStringSubmatch("{" + strings.Join(pairs, ", ") + "} 1 0")
			if m == nil {
				t.Errorf("regex does not match %v", s.Metric)
				continue
			}
			got[m[re.SubexpIndex("value")]] = m[re.SubexpIndex("text")]
		}
		want := map[string]string{"kefu": "客服中心", "fangchan": "房产部", "wuliu": "物流部"}
		if !maps.Equal(got, want) {
			t.Errorf("unit choices %v, want %v", got, want)
		}
	})
}

// promServer is a Prometheus process started for a test.
type promServer struct {
	base string
}

// startPrometheus runs prometheus scraping target (host:port) every 200 ms
// with the alert rules, on a free loopback port and its own storage, and
// stops it when the test ends.
func startPrometheus(t *testing.T, target string) *promServer {
	t.Helper()
	bin := tool(t, "prometheus")
	rules, err := filepath.Abs(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	err = os.WriteFile(config, fmt.Appendf(nil, `global:
  scrape_interval: 200ms
  scrape_timeout: 200ms
  evaluation_interval: 200ms
rule_files:
  - %q
scrape_configs:
  - job_name: hotline
    static_configs:
      - targets: [%q]
`, rules, target), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	// The free port is picked, closed and handed over, so another process
	// may take it meanwhile: try again on a bind failure.
	var lastErr error
	for range 3 {
		p, err := runPrometheus(t, bin, config, dir)
		if err == nil {
			return p
		}
		lastErr = err
	}
	t.Fatalf("start prometheus: %v", lastErr)
	return nil
}

func runPrometheus(t *testing.T, bin, config, dir string) (*promServer, error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	data, err := os.MkdirTemp(dir, "data")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin,
		"--config.file="+config,
		"--storage.tsdb.path="+data,
		"--web.listen-address="+addr,
		"--log.level=warn",
	)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}

	p := &promServer{base: "http://" + addr}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			return nil, fmt.Errorf("prometheus exited: %v\n%s", err, out.String())
		case <-ctx.Done():
			stop()
			return nil, fmt.Errorf("prometheus not ready: %w\n%s", ctx.Err(), out.String())
		case <-tick.C:
		}
		if p.ready(ctx) {
			t.Cleanup(func() {
				stop()
				if t.Failed() {
					t.Logf("prometheus output:\n%s", out.String())
				}
			})
			return p, nil
		}
	}
}

func (p *promServer) ready(ctx context.Context) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/-/ready", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// apiGet calls the Prometheus HTTP API and decodes the data of the answer.
func (p *promServer) apiGet(ctx context.Context, path string, data any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("GET %s: %s: %w", path, resp.Status, err)
	}
	if body.Status != "success" {
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, body.Error)
	}
	return json.Unmarshal(body.Data, data)
}

type vectorSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// query runs an instant query and returns its samples (none for a scalar
// or a string result).
func (p *promServer) query(ctx context.Context, q string) ([]vectorSample, error) {
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := p.apiGet(ctx, "/api/v1/query?query="+url.QueryEscape(q), &data); err != nil {
		return nil, err
	}
	if data.ResultType != "vector" {
		return nil, nil
	}
	var v []vectorSample
	return v, json.Unmarshal(data.Result, &v)
}

// await polls Prometheus (it has no push API) until done reports true or
// the deadline passes; it returns the last error seen.
func await(t *testing.T, what string, done func(ctx context.Context) (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		ok, err := done(ctx)
		if ok {
			return
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v (last: %v)", what, ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// awaitValue waits until q has one sample equal to want and returns the
// last value seen.
func (p *promServer) awaitValue(t *testing.T, q string, want float64) float64 {
	t.Helper()
	var got float64
	await(t, q, func(ctx context.Context) (bool, error) {
		v, err := p.query(ctx, q)
		if err != nil {
			return false, err
		}
		if len(v) != 1 {
			return false, fmt.Errorf("%d samples", len(v))
		}
		s, _ := v[0].Value[1].(string)
		got, err = strconv.ParseFloat(s, 64)
		return err == nil && got == want, err
	})
	return got
}

func (p *promServer) awaitRulesHealthy(t *testing.T) {
	t.Helper()
	await(t, "rules healthy", func(ctx context.Context) (bool, error) {
		var data struct {
			Groups []struct {
				Rules []struct {
					Name      string `json:"name"`
					Health    string `json:"health"`
					LastError string `json:"lastError"`
				} `json:"rules"`
			} `json:"groups"`
		}
		if err := p.apiGet(ctx, "/api/v1/rules", &data); err != nil {
			return false, err
		}
		if len(data.Groups) == 0 {
			return false, errors.New("no rule groups loaded")
		}
		for _, g := range data.Groups {
			for _, r := range g.Rules {
				if r.Health == "err" {
					t.Fatalf("rule %s: %s", r.Name, r.LastError)
				}
				if r.Health != "ok" {
					return false, fmt.Errorf("rule %s: health %q", r.Name, r.Health)
				}
			}
		}
		return true, nil
	})
}

type alert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
}

// awaitAlert waits until the alert name is pending or firing. The rules'
// "for" durations are minutes, so a test sees it pending.
func (p *promServer) awaitAlert(t *testing.T, name string) alert {
	t.Helper()
	var found alert
	await(t, "alert "+name, func(ctx context.Context) (bool, error) {
		var data struct {
			Alerts []alert `json:"alerts"`
		}
		if err := p.apiGet(ctx, "/api/v1/alerts", &data); err != nil {
			return false, err
		}
		for _, a := range data.Alerts {
			if a.Labels["alertname"] == name {
				found = a
				return true, nil
			}
		}
		return false, fmt.Errorf("%d other alerts", len(data.Alerts))
	})
	return found
}

// syncBuffer collects a process' output written from its own goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
