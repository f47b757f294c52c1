package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hotline/metrics/promtest"
	"hotline/telephony"
)

// serveLog passes the service's log to the test's.
type serveLog struct{ t *testing.T }

func (w serveLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestServeMetricsScrapedByPrometheus runs `hotline serve` on free loopback
// ports, places a scripted call through the embedded SIP engine (the caller
// hangs up at once), and has a real Prometheus scrape /metrics: the call is
// counted and the ticket it opened shows in the ticket gauges. (Where the
// call is abandoned depends on the office hours at the time the test runs,
// so it is not checked here; the ivr tests do with a fixed calendar.)
func TestServeMetricsScrapedByPrometheus(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "ledger.db")
	cfgFile := filepath.Join(dir, "hotline.yaml")
	if err := os.WriteFile(cfgFile, fmt.Appendf(nil, "ledger:\n  path: %s\nhttp:\n  listen: 127.0.0.1:0\n", db), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := startServe(ctx, t, serveLog{t}, "-config", cfgFile, "-sip", "127.0.0.1:0", "-prompts", "../../prompts/wav",
		"-recordings", filepath.Join(dir, "rec"), "-log", "warn")
	sipAddr, httpAddr := srv.sipAddr, srv.httpAddr

	prom := promtest.Start(t, httpAddr)
	// Before any call: the series exist at zero.
	prom.AwaitValue(t, `hotline_calls_total{direction="inbound"}`, 0)

	phone := callerPhone(ctx, t, dir)
	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	defer dcancel()
	call, err := phone.Dial(dctx, telephony.DialRequest{To: "sip:96596@" + sipAddr, CallerID: "13900000001"})
	if err != nil {
		t.Fatal(err)
	}
	if err := call.Hangup(dctx, telephony.ReasonNormal); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		query string
		want  float64
	}{
		{`up{job="hotline"}`, 1},
		{`hotline_calls_total{direction="inbound"}`, 1},
		{`hotline_calls_active{direction="inbound"}`, 0},
		{`hotline_calls_ended_total{direction="inbound",reason="hungup"}`, 1},
		{`sum(hotline_tickets_open{stage="transfer"})`, 1},
		{`hotline_tickets_opened_total`, 1},
		{`sum(hotline_tickets_overdue{stage="transfer"})`, 0},
		{`hotline_ledger_stats_up`, 1},
		{`hotline_backend_up{backend="sip"}`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			if got := prom.AwaitValue(t, tt.query, tt.want); got != tt.want {
				t.Errorf("%s = %v, want %v", tt.query, got, tt.want)
			}
		})
	}
	t.Run("no phone number in any series", func(t *testing.T) {
		samples, err := prom.Query(ctx, `{job="hotline"}`)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range samples {
			for k, v := range s.Metric {
				if strings.Contains(v, "13900000001") {
					t.Errorf("%v: label %s carries the caller's number", s.Metric, k)
				}
			}
		}
	})

	srv.stop(t, cancel)
}
