package metrics

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"github.com/prometheus/client_golang/prometheus"

	"hotline/ticket"
)

// testClock is a settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var ledgerUnits = []ticket.Unit{
	{ID: "kefu", Name: "客服中心"},
	{ID: "fangchan", Name: "房产部"},
	{ID: "wuliu", Name: "物流部"},
}

func ledgerConfig() Config {
	cfg := Config{Lines: []string{"1", "2", "3", "4", "5", "0"}, Backends: []string{"sip", "ledger"},
		LineNames: testConfig().LineNames, UnitNames: map[string]string{}}
	for _, u := range ledgerUnits {
		cfg.Units = append(cfg.Units, u.ID)
		cfg.UnitNames[u.ID] = u.Name
	}
	return cfg
}

// ledgerWithTickets returns a real SQLite ledger holding three complaints
// registered a week before its clock: one awaiting its transfer, one at
// 房产部 (fangchan) awaiting the unit's feedback, one replied by 物流部
// (wuliu) awaiting its callback; every clock has run out.
func ledgerWithTickets(t *testing.T) (*ticket.Store, *testClock) {
	t.Helper()
	ctx := t.Context()
	// Monday 30 November 2026, 10:00 in Shanghai: office hours.
	clock := &testClock{t: time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)}
	store, err := ticket.Open(ctx, filepath.Join(t.TempDir(), "ledger.db"), ticket.WithClock(clock.Now))
	if err != nil {
		t.Fatalf("open ledger: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.SyncUnits(ctx, ledgerUnits); err != nil {
		t.Fatalf("sync units: %v", err)
	}
	var ids []int64
	for i := range 3 {
		ref, err := store.Register(ctx, ticket.NewTicket{Channel: ticket.ChannelHotline,
			Caller: fmt.Sprintf("1380013800%d", i), Kind: ticket.KindComplaint, Content: "车站候车室空调不制冷", Actor: "test"})
		if err != nil {
			t.Fatalf("register: %v", err)
		}
		ids = append(ids, ref.TicketID)
	}
	if _, err := store.Apply(ctx, ids[0], ticket.Change{Action: ticket.ActTransfer, Unit: "fangchan", Actor: "test"}); err != nil {
		t.Fatalf("transfer: %v", err)
	}
	if _, err := store.Apply(ctx, ids[1], ticket.Change{Action: ticket.ActTransfer, Unit: "wuliu", Actor: "test"}); err != nil {
		t.Fatalf("transfer: %v", err)
	}
	if _, err := store.Apply(ctx, ids[1], ticket.Change{Action: ticket.ActReply, Actor: "test", Result: "已维修空调",
		NoPaymentAttested: true}); err != nil {
		t.Fatalf("reply: %v", err)
	}
	// A week later every clock has run out.
	clock.Advance(7 * 24 * time.Hour)
	return store, clock
}

// TestTicketStatsFromLedger reads the ticket gauges from a real ledger.
func TestTicketStatsFromLedger(t *testing.T) {
	store, clock := ledgerWithTickets(t)
	lc, err := NewLedgerCollector(TicketStats(store, clock.Now), ledgerConfig(), 0, discardLog())
	if err != nil {
		t.Fatalf("NewLedgerCollector: %v", err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(lc)

	type labels = map[string]string
	tests := []sampleWant{
		{"awaiting transfer", "hotline_tickets_open", labels{"stage": "transfer", "unit": "none"}, 1},
		{"transfer overdue", "hotline_tickets_overdue", labels{"stage": "transfer", "unit": "none"}, 1},
		{"feedback at the unit", "hotline_tickets_open", labels{"stage": "feedback", "unit": "fangchan"}, 1},
		{"feedback overdue at the unit", "hotline_tickets_overdue", labels{"stage": "feedback", "unit": "fangchan"}, 1},
		{"transferred ticket no longer awaits transfer", "hotline_tickets_open", labels{"stage": "transfer", "unit": "fangchan"}, 0},
		{"awaiting callback", "hotline_tickets_open", labels{"stage": "callback", "unit": "wuliu"}, 1},
		{"callbacks due", "hotline_callbacks_due", nil, 1},
		{"callbacks overdue", "hotline_callbacks_overdue", nil, 1},
		{"ledger read", "hotline_ledger_stats_up", nil, 1},
	}
	checkSamples(t, reg, tests)
}

// BenchmarkScrapeLedger measures a whole /metrics request with the ticket
// gauges read from a real SQLite ledger of 100,000 tickets.
func BenchmarkScrapeLedger(b *testing.B) {
	fixtures := []struct {
		name string
		open float64 // share of tickets still open
	}{
		{"100k-tickets-5pct-open", 0.05},
		{"100k-tickets-all-open", 1},
	}
	for _, f := range fixtures {
		b.Run(f.name, func(b *testing.B) {
			ctx := context.Background()
			now := time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)
			path := filepath.Join(b.TempDir(), "ledger.db")
			fillLedger(b, path, 100_000, f.open, now)
			store, err := ticket.Open(ctx, path, ticket.WithClock(func() time.Time { return now }))
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			reg := prometheus.NewRegistry()
			if _, err := New(reg, ledgerConfig()); err != nil {
				b.Fatal(err)
			}
			lc, err := NewLedgerCollector(TicketStats(store, func() time.Time { return now }), ledgerConfig(), 0, discardLog())
			if err != nil {
				b.Fatal(err)
			}
			reg.MustRegister(lc)
			h := Handler(reg, discardLog())
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("GET /metrics: %d", rec.Code)
				}
			}
			b.StopTimer()
			if v, _ := sample(b, reg, "hotline_ledger_stats_up", nil); v != 1 {
				b.Fatal("ledger stats failed")
			}
		})
	}
}

// fillLedger writes n tickets straight into a migrated ledger, as a year
// of work would leave them: the closed ones with all four stages done,
// the open share waiting at one stage (spread over the stages and units)
// with the earlier ones done, a third of them overdue. It writes SQL
// rather than going through the store so that the fixture takes seconds,
// not minutes.
func fillLedger(b *testing.B, path string, n int, openShare float64, now time.Time) {
	b.Helper()
	ctx := context.Background()
	if _, err := ticket.Migrate(ctx, path); err != nil {
		b.Fatal(err)
	}
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_foreign_keys=on&_txlock=immediate")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	const layout = "2006-01-02 15:04:05.000"
	ts := func(t time.Time) string { return t.UTC().Format(layout) }
	for _, u := range ledgerUnits {
		if _, err := tx.ExecContext(ctx, `INSERT INTO units (id, name) VALUES (?, ?)`, u.ID, u.Name); err != nil {
			b.Fatal(err)
		}
	}
	insTicket, err := tx.PrepareContext(ctx, `INSERT INTO tickets (id, number, channel, kind, status, caller, line, unit_id, created_at, updated_at, closed_at)
		VALUES (?, ?, 'hotline', 'complaint', ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	insDeadline, err := tx.PrepareContext(ctx, `INSERT INTO deadlines (ticket_id, stage, unit_id, started_at, due_at, done_at) VALUES (?, ?, ?, ?, ?, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	stages := []string{"transfer", "sheet", "feedback", "callback"}
	openEvery := int(1 / openShare)
	for i := 1; i <= n; i++ {
		created := now.Add(-time.Duration(n-i) * 5 * time.Minute) // a year of tickets, newest last
		unit := ledgerUnits[i%len(ledgerUnits)].ID
		caller := fmt.Sprintf("1380%07d", i)
		open := i%openEvery == 0
		status, closed := "closed", any(ts(created.Add(72*time.Hour)))
		if open {
			status, closed = "transferred", nil
		}
		if _, err := insTicket.ExecContext(ctx, i, fmt.Sprintf("96596-%s-%05d", created.Format("20060102"), i), status, caller,
			fmt.Sprint(1+i%5), unit, ts(created), ts(created), closed); err != nil {
			b.Fatal(err)
		}
		waiting := -1 // the stage an open ticket waits for
		if open {
			waiting = i / openEvery % len(stages)
		}
		for s, stage := range stages {
			if open && s > waiting {
				break
			}
			due := created.Add(time.Duration(s+1) * 24 * time.Hour)
			var done any = ts(due.Add(-time.Hour))
			if s == waiting {
				done = nil
				if i%3 != 0 { // two in three open stages are not due yet
					due = now.Add(time.Duration(i%48+1) * time.Hour)
				}
			}
			if _, err := insDeadline.ExecContext(ctx, i, stage, unit, ts(created), ts(due), done); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE); ANALYZE`); err != nil {
		b.Fatal(err)
	}
}

// fakeCounter is a hand-written TicketCounter.
type fakeCounter struct {
	counts []ticket.StageCount
	err    error
	asked  time.Time
}

func (f *fakeCounter) OpenCounts(_ context.Context, now time.Time) ([]ticket.StageCount, error) {
	f.asked = now
	return f.counts, f.err
}

func TestTicketStats(t *testing.T) {
	now := time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)
	t.Run("callbacks are the callback stage", func(t *testing.T) {
		f := &fakeCounter{counts: []ticket.StageCount{
			{Stage: ticket.StageCallback, UnitID: "wuliu", Open: 4, Overdue: 1},
			{Stage: ticket.StageCallback, UnitID: "fangchan", Open: 2, Overdue: 2},
			{Stage: ticket.StageFeedback, UnitID: "fangchan", Open: 9, Overdue: 5},
		}}
		snap, err := TicketStats(f, func() time.Time { return now }).LedgerStats(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !f.asked.Equal(now) {
			t.Errorf("counted at %v, want the clock's %v", f.asked, now)
		}
		if snap.CallbacksDue != 6 || snap.CallbacksOverdue != 3 {
			t.Errorf("callbacks due %d, overdue %d; want 6, 3", snap.CallbacksDue, snap.CallbacksOverdue)
		}
		if len(snap.Stages) != 3 {
			t.Errorf("got %d stage counts, want 3", len(snap.Stages))
		}
	})
	t.Run("ledger error", func(t *testing.T) {
		locked := errors.New("database is locked")
		_, err := TicketStats(&fakeCounter{err: locked}, func() time.Time { return now }).LedgerStats(t.Context())
		if !errors.Is(err, locked) {
			t.Errorf("err = %v, want it to wrap %v", err, locked)
		}
	})
}

// TestLedgerObserver counts what a real ledger commits: tickets opened,
// deadlines met and missed per stage and unit, reopened tickets.
func TestLedgerObserver(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m, err := New(reg, ledgerConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	clock := &testClock{t: time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)} // Monday 10:00 in Shanghai
	store, err := ticket.Open(ctx, filepath.Join(t.TempDir(), "ledger.db"), ticket.WithClock(clock.Now),
		ticket.WithObserver(LedgerObserver(m)))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.SyncUnits(ctx, ledgerUnits); err != nil {
		t.Fatal(err)
	}
	ref, err := store.Register(ctx, ticket.NewTicket{Channel: ticket.ChannelHotline, Caller: "13800138000", Kind: ticket.KindComplaint})
	if err != nil {
		t.Fatal(err)
	}
	steps := []ticket.Change{
		{Action: ticket.ActTransfer, Unit: "fangchan", Actor: "test"},
		{Action: ticket.ActReply, Actor: "test", Result: "已处理", NoPaymentAttested: true},
		{Action: ticket.ActCallback, Actor: "test", Satisfaction: ticket.Dissatisfied},
	}
	for i, c := range steps {
		if i == 1 {
			clock.Advance(7 * 24 * time.Hour) // the unit replies late
		}
		if _, err := store.Apply(ctx, ref.TicketID, c); err != nil {
			t.Fatalf("%s: %v", c.Action, err)
		}
	}
	if n := histogramCount(t, reg, "hotline_ledger_write_duration_seconds"); n < 4 {
		t.Errorf("ledger writes observed: %d, want at least 4 (register, transfer, reply, callback)", n)
	}
	type labels = map[string]string
	checkSamples(t, reg, []sampleWant{
		{"opened", "hotline_tickets_opened_total", nil, 1},
		{"transfer met", "hotline_ticket_deadlines_total", labels{"stage": "transfer", "unit": "none", "result": "met"}, 1},
		{"late reply missed", "hotline_ticket_deadlines_total", labels{"stage": "feedback", "unit": "fangchan", "result": "missed"}, 1},
		{"late reply not met", "hotline_ticket_deadlines_total", labels{"stage": "feedback", "unit": "fangchan", "result": "met"}, 0},
		{"callback met", "hotline_ticket_deadlines_total", labels{"stage": "callback", "unit": "fangchan", "result": "met"}, 1},
		{"reopened", "hotline_tickets_reopened_total", labels{"unit": "fangchan"}, 1},
	})
}

// histogramCount is the sample count of a histogram without labels.
func histogramCount(t *testing.T, g prometheus.Gatherer, name string) uint64 {
	t.Helper()
	mf := gather(t, g)[name]
	if mf == nil || len(mf.GetMetric()) == 0 {
		t.Fatalf("no histogram %s", name)
	}
	return mf.GetMetric()[0].GetHistogram().GetSampleCount()
}
