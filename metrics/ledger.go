package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// LedgerSource gives the ticket counts the supervisors watch. It is called
// on every scrape, so it must be one cheap query (indexed counts grouped by
// stage and unit), never a walk over the tickets; it must honour ctx.
type LedgerSource interface {
	LedgerStats(ctx context.Context) (LedgerSnapshot, error)
}

// LedgerSourceFunc adapts a function to LedgerSource.
type LedgerSourceFunc func(ctx context.Context) (LedgerSnapshot, error)

// LedgerStats calls f(ctx).
func (f LedgerSourceFunc) LedgerStats(ctx context.Context) (LedgerSnapshot, error) { return f(ctx) }

// LedgerSnapshot is the state of the ledger at one instant.
type LedgerSnapshot struct {
	// Stages holds, per timed stage and responsible unit, the tickets
	// waiting for that stage; combinations with no ticket may be left out.
	Stages []StageCount
	// CallbacksDue are the callback surveys owed to callers (回访).
	CallbacksDue int
	// CallbacksOverdue are those of them past their deadline.
	CallbacksOverdue int
}

// StageCount counts the open tickets of one unit waiting for one stage.
type StageCount struct {
	Stage string
	Unit  string // "" before the ticket has a unit (reported as "none")
	// Open tickets waiting for this stage, overdue ones included.
	Open int
	// Overdue ones: their deadline for this stage has passed.
	Overdue int
}

// DefaultLedgerTimeout bounds the ledger query of one scrape.
const DefaultLedgerTimeout = 2 * time.Second

// LedgerCollector is a prometheus.Collector that reads the ticket gauges
// from the ledger at scrape time, so they are never stale and cost nothing
// between scrapes. Every stage and unit of the configuration is reported,
// at zero when the ledger has none; counts for a stage or unit outside the
// configuration are added to "other", those of no unit yet to "none".
type LedgerCollector struct {
	src     LedgerSource
	log     *slog.Logger
	timeout time.Duration
	units   []string
	stages  []string
	unitSet map[string]bool
	stgSet  map[string]bool

	open, overdue, due, late, up, took *prometheus.Desc
}

// NewLedgerCollector builds the collector for the units and stages of cfg.
// timeout bounds one scrape's query (DefaultLedgerTimeout when zero); a
// failed or slow query reports hotline_ledger_stats_up 0 and no ticket
// gauges, and is logged.
func NewLedgerCollector(src LedgerSource, cfg Config, timeout time.Duration, log *slog.Logger) (*LedgerCollector, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if timeout <= 0 {
		timeout = DefaultLedgerTimeout
	}
	c := &LedgerCollector{
		src:     src,
		log:     log,
		timeout: timeout,
		units:   append(append([]string{}, cfg.Units...), NoUnit, Other),
		stages:  append(append([]string{}, cfg.Stages...), Other),
		unitSet: make(map[string]bool),
		stgSet:  make(map[string]bool),
		open: prometheus.NewDesc("hotline_tickets_open",
			"Open tickets waiting for a timed stage, by stage and responsible unit.", []string{"stage", "unit"}, nil),
		overdue: prometheus.NewDesc("hotline_tickets_overdue",
			"Open tickets past their deadline for a stage, by stage and responsible unit.", []string{"stage", "unit"}, nil),
		due: prometheus.NewDesc("hotline_callbacks_due",
			"Callback surveys owed to callers (回访).", nil, nil),
		late: prometheus.NewDesc("hotline_callbacks_overdue",
			"Callback surveys owed past their deadline.", nil, nil),
		up: prometheus.NewDesc("hotline_ledger_stats_up",
			"Whether the last scrape could read the ticket counts from the ledger.", nil, nil),
		took: prometheus.NewDesc("hotline_ledger_stats_duration_seconds",
			"Time the ledger took to count the tickets for this scrape.", nil, nil),
	}
	for _, u := range cfg.Units {
		c.unitSet[u] = true
	}
	for _, s := range cfg.Stages {
		c.stgSet[s] = true
	}
	return c, nil
}

// Describe sends the descriptors of every metric the collector reports.
func (c *LedgerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.open, c.overdue, c.due, c.late, c.up, c.took} {
		ch <- d
	}
}

// Collect queries the ledger and sends the ticket gauges.
func (c *LedgerCollector) Collect(ch chan<- prometheus.Metric) {
	// Collect has no context of its own: the deadline keeps a slow ledger
	// from holding the scrape past Prometheus' scrape timeout.
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	start := time.Now()
	snap, err := c.src.LedgerStats(ctx)
	took := time.Since(start)
	ch <- prometheus.MustNewConstMetric(c.took, prometheus.GaugeValue, took.Seconds())
	if err != nil {
		c.log.Warn("ledger stats for metrics", "err", err, "took", took)
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(c.due, prometheus.GaugeValue, float64(snap.CallbacksDue))
	ch <- prometheus.MustNewConstMetric(c.late, prometheus.GaugeValue, float64(snap.CallbacksOverdue))

	type key struct{ stage, unit string }
	counts := make(map[key][2]int, len(snap.Stages))
	for _, s := range snap.Stages {
		k := key{s.Stage, s.Unit}
		if !c.stgSet[k.stage] {
			k.stage = Other
		}
		switch {
		case k.unit == "":
			k.unit = NoUnit
		case !c.unitSet[k.unit]:
			k.unit = Other
		}
		n := counts[k]
		n[0] += s.Open
		n[1] += s.Overdue
		counts[k] = n
	}
	for _, s := range c.stages {
		for _, u := range c.units {
			n := counts[key{s, u}]
			ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(n[0]), s, u)
			ch <- prometheus.MustNewConstMetric(c.overdue, prometheus.GaugeValue, float64(n[1]), s, u)
		}
	}
}
