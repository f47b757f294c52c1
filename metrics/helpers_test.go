package metrics

import (
	"io"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// testConfig is the configuration of the tests: the menu keys of the
// design and a few units of the directory.
func testConfig() Config {
	return Config{
		Lines:     []string{"1", "2", "3", "4", "5", "0"},
		Units:     []string{"客服中心", "客运营销部", "物流部", "房产部", "安全统筹中心", "汽车事业部"},
		Backends:  []string{"sip", "ledger"},
		LineNames: map[string]string{"1": "客运", "2": "货运物流", "3": "房产物业", "4": "多种经营", "5": "汽车服务", "0": "人工服务"},
	}
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newTestMetrics returns metrics of testConfig on a fresh registry.
func newTestMetrics(t testing.TB) (*Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	m, err := New(reg, testConfig())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m, reg
}

// gather returns the metric families of reg by name.
func gather(t testing.TB, g prometheus.Gatherer) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	byName := make(map[string]*dto.MetricFamily, len(mfs))
	for _, mf := range mfs {
		byName[mf.GetName()] = mf
	}
	return byName
}

// sample returns the value of the series of name with exactly labels: the
// value of a counter or gauge, the sample count of a histogram. ok is false
// when there is no such series.
func sample(t testing.TB, g prometheus.Gatherer, name string, labels map[string]string) (v float64, ok bool) {
	t.Helper()
	mf := gather(t, g)[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		for _, lp := range m.GetLabel() {
			if want, has := labels[lp.GetName()]; !has || want != lp.GetValue() {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// sampleWant is a series of a registry and the value it should have.
type sampleWant struct {
	name   string
	metric string
	labels map[string]string
	want   float64
}

// checkSamples checks each series, one subtest a series.
func checkSamples(t *testing.T, g prometheus.Gatherer, tests []sampleWant) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := sample(t, g, tt.metric, tt.labels)
			if !ok {
				t.Fatalf("no series %s%v", tt.metric, tt.labels)
			}
			if got != tt.want {
				t.Errorf("%s%v = %v, want %v", tt.metric, tt.labels, got, tt.want)
			}
		})
	}
}
