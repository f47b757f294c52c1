package callback

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/mattn/go-sqlite3"

	"hotline/telephony/telephonytest"
	"hotline/ticket"
)

const benchLayout = "2006-01-02 15:04:05.000" // the ledger's stored time format

// benchLedger makes a ledger file holding n tickets, each with a due
// survey callback, and returns the Store over it and a raw handle on the
// file. The deadlines are spread over three days and scattered against
// insertion order, so that a batch touches rows all over the table (the
// worst case; in service deadlines mostly follow insertion).
func benchLedger(b *testing.B, n int, now time.Time) (*ledgerFixture, *sqlx.DB) {
	b.Helper()
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "ledger.db")
	l, err := ticket.Open(ctx, path) // creates the schema
	if err != nil {
		b.Fatal(err)
	}
	l.Close()
	raw, err := sqlx.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_busy_timeout=10000&_synchronous=NORMAL")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { raw.Close() })
	ts := func(t time.Time) string { return t.UTC().Format(benchLayout) }
	tx := raw.MustBegin()
	for i := range n {
		number := fmt.Sprintf("1380%07d", i)
		res := tx.MustExec(`INSERT INTO tickets (number, channel, status, caller, created_at, updated_at)
			VALUES (?, 'hotline', 'replied', ?, ?, ?)`, fmt.Sprintf("96596-20261130-%06d", i), number, ts(now), ts(now))
		id, _ := res.LastInsertId()
		due := now.Add(time.Duration((i*7919)%(72*60)) * time.Minute)
		tx.MustExec(`INSERT INTO callbacks (ticket_id, kind, number, not_before, due_at, created_at, updated_at)
			VALUES (?, 'survey', ?, ?, ?, ?, ?)`, id, number, ts(now.Add(-time.Hour)), ts(due), ts(now), ts(now))
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	return openLedger(b, path), raw
}

// BenchmarkClaimNextBatch claims the next batch among 100,000 due
// callbacks in the ledger (goal: under 5 ms): pick by deadline, mark them
// claimed, record an attempt each, commit. The dialer claims at most the
// rate limiter's burst at a time (max_per_second, rounded up), so batches
// of 1 to 5 are the usual; 50 is a whole max_concurrent at once.
func BenchmarkClaimNextBatch(b *testing.B) {
	ctx := context.Background()
	s, raw := benchLedger(b, 100_000, monday10)
	var plan []struct {
		ID, Parent, Notused int
		Detail              string
	}
	if err := raw.Select(&plan, `EXPLAIN QUERY PLAN SELECT id FROM callbacks INDEXED BY callbacks_due WHERE state = 'pending' AND not_before <= ? AND due_at < ?
		ORDER BY due_at, id LIMIT 50`, "2026", "9999-"); err == nil {
		for _, p := range plan {
			b.Logf("plan: %s", p.Detail)
		}
	}
	for _, size := range []int{1, 5, 50} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			b.ReportAllocs()
			var cpu time.Duration
			for i := 0; i < b.N; i++ {
				before := processCPU()
				got, err := s.Claim(ctx, ClaimRequest{Now: monday10, Owner: "bench", Lease: time.Minute, Limit: size})
				cpu += processCPU() - before
				if err != nil || len(got) != size {
					b.Fatalf("claim: %d, %v", len(got), err)
				}
				b.StopTimer()
				// Put them back, so that every pick sees 100,000 due callbacks.
				raw.MustExec(`UPDATE callbacks SET state = 'pending', attempts = 0, lease_owner = '', lease_until = NULL WHERE state = 'claimed'`)
				raw.MustExec(`DELETE FROM callback_attempts`)
				b.StartTimer()
			}
			// CPU time does not grow with other work on the machine the
			// way wall-clock time does.
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// processCPU is the CPU time (user and system) the process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPickOnly is the read half of a claim: the next 50 due callbacks
// by deadline among 100,000, without marking them.
func BenchmarkPickOnly(b *testing.B) {
	_, raw := benchLedger(b, 100_000, monday10)
	now := monday10.UTC().Format(benchLayout)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var ids []int64
		if err := raw.Select(&ids, `SELECT id FROM callbacks INDEXED BY callbacks_due WHERE state = 'pending' AND not_before <= ? AND due_at < ?
			ORDER BY due_at, id LIMIT 50`, now, "9999-12-31 23:59:59.999"); err != nil || len(ids) != 50 {
			b.Fatalf("pick: %d, %v", len(ids), err)
		}
	}
}

// BenchmarkDialerPerCall is the dialer's own cost per callback, on a
// ledger with 100,000 callbacks waiting: claim, dial (a fake phone that
// answers and presses 1 at once), survey, record the attempt.
func BenchmarkDialerPerCall(b *testing.B) {
	ctx := context.Background()
	s, _ := benchLedger(b, 100_000, monday10)
	cfg := testConfig(b)
	cfg.MaxConcurrent = 50
	cfg.MaxPerSecond = 1e9
	engine := telephonytest.NewEngine()
	engine.DialFunc = (&phone{onPlay: pressOn(PromptSurveyQuestion, "1")}).dial
	d, err := New(cfg, Deps{Store: s, Tickets: nopTickets{}, Engine: engine, Now: newClock(monday10).Now})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		n, err := d.Tick(ctx)
		if err != nil {
			b.Fatal(err)
		}
		d.Wait()
		done += n
	}
}

// nopTickets lets every callback through and forgets the results.
type nopTickets struct{}

func (nopTickets) SkipReason(context.Context, int64, Kind) (string, error)        { return "", nil }
func (nopTickets) RecordSurvey(context.Context, int64, Survey) error              { return nil }
func (nopTickets) CallbackFailed(context.Context, int64, string, time.Time) error { return nil }
