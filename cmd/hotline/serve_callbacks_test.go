package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"hotline/config"
	"hotline/ivr/callback"
	"hotline/metrics"
	"hotline/ticket"
)

// TestCallbackAPIRoutes: the API the console delegates to sends
// /api/callbacks to the dialer's handler (prefix stripped) and the rest to
// the web package's.
func TestCallbackAPIRoutes(t *testing.T) {
	var got string
	named := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = name + " " + r.URL.Path })
	}
	h := callbackAPI(named("web"), named("callbacks"))
	tests := []struct{ method, path, want string }{
		{http.MethodGet, "/api/callbacks", "callbacks "},
		{http.MethodPost, "/api/callbacks", "callbacks "},
		{http.MethodGet, "/api/callbacks/12", "callbacks /12"},
		{http.MethodDelete, "/api/callbacks/12", "callbacks /12"},
		{http.MethodGet, "/api/agents", "web /api/agents"},
		{http.MethodPost, "/api/tickets/3/transfer", "web /api/tickets/3/transfer"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			got = ""
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(tt.method, tt.path, nil))
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestCallbackObserver: every attempt is counted by outcome; a survey's
// score is counted by the ticket's line (menu key) and unit.
func TestCallbackObserver(t *testing.T) {
	ctx := context.Background()
	store, err := ticket.Open(ctx, filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := store.OpenForCall(ctx, ticket.CallInfo{CallID: "c1", Direction: "inbound", Caller: "13800000001",
		Dialled: "96596", Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	ref, err := store.SetLine(ctx, "c1", "passenger")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	reg := prometheus.NewRegistry()
	mcfg := metrics.Config{Lines: []string{"1"}, Units: []string{"passenger"}}
	m, err := metrics.New(reg, mcfg)
	if err != nil {
		t.Fatal(err)
	}
	observe := callbackObserver(cfg, store, m, slog.New(slog.NewTextHandler(io.Discard, nil)))
	survey := callback.Attempt{Callback: callback.Callback{ID: 1, TicketID: ref.TicketID, Kind: callback.KindSurvey}}
	observe(survey, callback.Result{Outcome: callback.OutcomeBusy})
	observe(survey, callback.Result{Outcome: callback.OutcomeAnswered, Score: 2})
	observe(callback.Attempt{Callback: callback.Callback{ID: 2, TicketID: ref.TicketID, Kind: callback.KindReturn}},
		callback.Result{Outcome: callback.OutcomeSkipped})

	tests := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"hotline_callback_attempts_total", map[string]string{"outcome": "busy"}, 1},
		{"hotline_callback_attempts_total", map[string]string{"outcome": "normal"}, 1},
		{"hotline_satisfaction_responses_total", map[string]string{"line": "1", "unit": metrics.NoUnit, "score": "basically_satisfied"}, 1},
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := counterValue(families, tt.name, tt.labels); got != tt.want {
				t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
			}
		})
	}
}

// counterValue is the value of the counter name with the given labels, 0
// when there is none.
func counterValue(families []*dto.MetricFamily, name string, labels map[string]string) float64 {
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// TestServeSIPConfig: the sip: section's directories are relative to the
// configuration file; the flags, when given, override the section.
func TestServeSIPConfig(t *testing.T) {
	fromFile, err := config.Parse("/etc/hotline/hotline.yaml", []byte("sip:\n  udp: 10.0.0.2:5060\n  tcp: \"\"\n  prompt_dir: wav\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name                           string
		cfg                            *config.Config
		listen, prompts, recordings    string
		wantUDP, wantTCP, wantP, wantR string
	}{
		{"defaults, no flags", config.Default(), "", "", "", "127.0.0.1:5060", "127.0.0.1:5060", "prompts/wav", "var/recordings"},
		{"flags override", config.Default(), "127.0.0.1:0", "/p", "/r", "127.0.0.1:0", "127.0.0.1:0", "/p", "/r"},
		{"file, relative to it", fromFile, "", "", "", "10.0.0.2:5060", "", "/etc/hotline/wav", "/etc/hotline/var/recordings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := serveSIPConfig(tt.cfg, tt.listen, tt.prompts, tt.recordings)
			if got.UDP != tt.wantUDP || got.TCP != tt.wantTCP || got.PromptDir != tt.wantP || got.RecordingDir != tt.wantR {
				t.Errorf("got udp %q tcp %q prompts %q recordings %q, want %q %q %q %q",
					got.UDP, got.TCP, got.PromptDir, got.RecordingDir, tt.wantUDP, tt.wantTCP, tt.wantP, tt.wantR)
			}
		})
	}
}
