// Package promtest runs a real Prometheus server for tests, on loopback,
// scraping the service with the hotline's alert rules loaded, and reads it
// back through its HTTP API. Like net/http/httptest it is for tests only.
package promtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// RulesFile is the path of the hotline's alert rules
// (metrics/prometheus/alerts.yml) in the source tree.
func RulesFile() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "prometheus", "alerts.yml")
}

// Server is a Prometheus process started for a test.
type Server struct {
	URL string // e.g. http://127.0.0.1:41234
}

// Start runs prometheus, as job "hotline", scraping target (host:port,
// path /metrics) every 500 ms with the hotline's alert rules, on a free
// loopback port and its own storage, and stops it when the test ends. It
// fails the test when prometheus is not installed (tests/setup.sh).
//
// A scrape that times out (a loaded CI machine) marks the series stale for
// a moment: read values with the Await functions, not with one Query.
func Start(t testing.TB, target string) *Server {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("prometheus not installed (Debian package prometheus; run tests/setup.sh): %v", err)
	}
	rules := RulesFile()
	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	err = os.WriteFile(config, fmt.Appendf(nil, `global:
  scrape_interval: 500ms
  scrape_timeout: 500ms
  evaluation_interval: 500ms
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
		p, err := run(t, bin, config, dir)
		if err == nil {
			return p
		}
		lastErr = err
	}
	t.Fatalf("start prometheus: %v", lastErr)
	return nil
}

func run(t testing.TB, bin, config, dir string) (*Server, error) {
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

	p := &Server{URL: "http://" + addr}
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

func (p *Server) ready(ctx context.Context) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/-/ready", nil)
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
func (p *Server) apiGet(ctx context.Context, path string, data any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+path, nil)
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

// Sample is one series of an instant vector.
type Sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// query runs an instant query and returns its samples (none for a scalar
// or a string result).
func (p *Server) Query(ctx context.Context, q string) ([]Sample, error) {
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
	var v []Sample
	return v, json.Unmarshal(data.Result, &v)
}

// Await polls Prometheus (it has no push API) until done reports true,
// and fails the test with the last error seen when 20 s pass first.
func Await(t testing.TB, what string, done func(ctx context.Context) (bool, error)) {
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
		if err != nil && ctx.Err() == nil { // not the deadline cutting the last try short
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
func (p *Server) AwaitValue(t testing.TB, q string, want float64) float64 {
	t.Helper()
	var got float64
	Await(t, q, func(ctx context.Context) (bool, error) {
		v, err := p.Query(ctx, q)
		if err != nil {
			return false, err
		}
		if len(v) != 1 {
			return false, fmt.Errorf("%d samples", len(v))
		}
		s, _ := v[0].Value[1].(string)
		got, err = strconv.ParseFloat(s, 64)
		if err != nil {
			return false, err
		}
		return got == want, fmt.Errorf("value %v", got)
	})
	return got
}

// AwaitRulesHealthy waits until every rule has been evaluated, and fails
// the test when one evaluates with an error.
func (p *Server) AwaitRulesHealthy(t testing.TB) {
	t.Helper()
	Await(t, "rules healthy", func(ctx context.Context) (bool, error) {
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

// Alert is an active alert as /api/v1/alerts lists it.
type Alert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
}

// awaitAlert waits until the alert name is pending or firing. The rules'
// "for" durations are minutes, so a test sees it pending.
func (p *Server) AwaitAlert(t testing.TB, name string) Alert {
	t.Helper()
	var found Alert
	Await(t, "alert "+name, func(ctx context.Context) (bool, error) {
		var data struct {
			Alerts []Alert `json:"alerts"`
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
