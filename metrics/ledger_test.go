package metrics

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// fakeLedger is a hand-written LedgerSource: it returns snap or err, or,
// when block is set, waits for the scrape's deadline.
type fakeLedger struct {
	snap  LedgerSnapshot
	err   error
	block bool
}

func (f *fakeLedger) LedgerStats(ctx context.Context) (LedgerSnapshot, error) {
	if f.block {
		<-ctx.Done()
		return LedgerSnapshot{}, ctx.Err()
	}
	return f.snap, f.err
}

func newLedgerRegistry(t *testing.T, src LedgerSource, timeout time.Duration) *prometheus.Registry {
	t.Helper()
	c, err := NewLedgerCollector(src, testConfig(), timeout, discardLog())
	if err != nil {
		t.Fatalf("NewLedgerCollector: %v", err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	return reg
}

func TestLedgerCollector(t *testing.T) {
	src := &fakeLedger{snap: LedgerSnapshot{
		Stages: []StageCount{
			{Stage: "feedback", Unit: "房产部", Open: 12, Overdue: 3},
			{Stage: "transfer", Unit: "客服中心", Open: 2, Overdue: 1},
			{Stage: "transfer", Unit: "", Open: 6, Overdue: 2},
			{Stage: "feedback", Unit: "未登记单位", Open: 4, Overdue: 4},
			{Stage: "feedback", Unit: "另一个单位", Open: 1},
			{Stage: "archive", Unit: "物流部", Open: 9},
		},
		CallbacksDue:     5,
		CallbacksOverdue: 2,
	}}
	reg := newLedgerRegistry(t, src, 0)
	type labels = map[string]string
	tests := []sampleWant{
		{"open", "hotline_tickets_open", labels{"stage": "feedback", "unit": "房产部"}, 12},
		{"overdue", "hotline_tickets_overdue", labels{"stage": "feedback", "unit": "房产部"}, 3},
		{"transfer overdue", "hotline_tickets_overdue", labels{"stage": "transfer", "unit": "客服中心"}, 1},
		{"no unit yet", "hotline_tickets_overdue", labels{"stage": "transfer", "unit": "none"}, 2},
		{"no ticket reads zero", "hotline_tickets_open", labels{"stage": "callback", "unit": "汽车事业部"}, 0},
		{"unknown units add up in other", "hotline_tickets_open", labels{"stage": "feedback", "unit": "other"}, 5},
		{"unknown stage in other", "hotline_tickets_open", labels{"stage": "other", "unit": "物流部"}, 9},
		{"callbacks due", "hotline_callbacks_due", nil, 5},
		{"callbacks overdue", "hotline_callbacks_overdue", nil, 2},
		{"up", "hotline_ledger_stats_up", nil, 1},
	}
	checkSamples(t, reg, tests)
	t.Run("every stage and unit reported", func(t *testing.T) {
		cfg := testConfig()
		want := (len(DefaultStages) + 1) * (len(cfg.Units) + 2)
		if got := len(gather(t, reg)["hotline_tickets_overdue"].GetMetric()); got != want {
			t.Errorf("got %d hotline_tickets_overdue series, want %d", got, want)
		}
	})
}

func TestLedgerCollectorFailure(t *testing.T) {
	tests := []struct {
		name string
		src  *fakeLedger
	}{
		{"query fails", &fakeLedger{err: errors.New("database is locked")}},
		{"query outlives the deadline", &fakeLedger{block: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := newLedgerRegistry(t, tt.src, 20*time.Millisecond)
			if got, _ := sample(t, reg, "hotline_ledger_stats_up", nil); got != 0 {
				t.Errorf("hotline_ledger_stats_up = %v, want 0", got)
			}
			if _, ok := sample(t, reg, "hotline_tickets_open", map[string]string{"stage": "feedback", "unit": "房产部"}); ok {
				t.Error("ticket gauges reported without ledger data; want none rather than false zeros")
			}
		})
	}
}

// BenchmarkLedgerCollect measures a scrape of the ticket gauges alone,
// without the ledger query, for the configuration of the tests.
func BenchmarkLedgerCollect(b *testing.B) {
	src := &fakeLedger{snap: LedgerSnapshot{Stages: []StageCount{{Stage: "feedback", Unit: "房产部", Open: 12, Overdue: 3}}}}
	c, err := NewLedgerCollector(src, testConfig(), 0, discardLog())
	if err != nil {
		b.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMetricsPage measures a whole /metrics request (every call-path
// series, the Go and process collectors, the ticket gauges from a source
// that costs nothing) for the configuration of the tests.
func BenchmarkMetricsPage(b *testing.B) {
	reg := prometheus.NewRegistry()
	if _, err := New(reg, testConfig()); err != nil {
		b.Fatal(err)
	}
	src := &fakeLedger{snap: LedgerSnapshot{Stages: []StageCount{{Stage: "feedback", Unit: "房产部", Open: 12, Overdue: 3}}}}
	c, err := NewLedgerCollector(src, testConfig(), 0, discardLog())
	if err != nil {
		b.Fatal(err)
	}
	reg.MustRegister(c)
	h := Handler(reg, discardLog())
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("GET /metrics: %d", rec.Code)
		}
	}
}
