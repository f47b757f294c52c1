package callback

import (
	"context"
	"fmt"
	"testing"
	"time"

	"hotline/telephony/telephonytest"
)

// fillLedger schedules n due callbacks in one transaction. Their
// deadlines are spread over three days and scattered against insertion
// order, so that a batch touches rows all over the table (the worst case;
// in service, deadlines mostly follow insertion).
func fillLedger(b *testing.B, s *SQLStore, n int, now time.Time) {
	b.Helper()
	tx := s.db.MustBegin()
	stmt, err := tx.Preparex(`INSERT INTO callbacks (ticket_id, kind, number, not_before, due, state, created, updated)
		VALUES (?, 'survey', ?, ?, ?, 'scheduled', ?, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		due := now.Add(time.Duration((i*7919)%(72*60)) * time.Minute)
		if _, err := stmt.Exec(i+1, fmt.Sprintf("1380000%05d", i), ms(now.Add(-time.Hour)), ms(due), ms(now), ms(now)); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkClaimNextBatch picks the next batch of 50 among 100,000 due
// callbacks in a SQLite ledger (goal: under 5 ms).
func BenchmarkClaimNextBatch(b *testing.B) {
	ctx := context.Background()
	s := openLedger(b, "")
	fillLedger(b, s, 100_000, monday10)
	var plan []struct {
		ID, Parent, Notused int
		Detail              string
	}
	if err := s.db.Select(&plan, `EXPLAIN QUERY PLAN SELECT id FROM callbacks WHERE state = 'scheduled' AND not_before <= ? AND due < ? ORDER BY due, id LIMIT 50`, 0, 0); err == nil {
		for _, p := range plan {
			b.Logf("plan: %s", p.Detail)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		got, err := s.Claim(ctx, ClaimRequest{Now: monday10, Owner: "bench", Lease: time.Minute, Limit: 50})
		if err != nil || len(got) != 50 {
			b.Fatalf("claim: %d, %v", len(got), err)
		}
		b.StopTimer()
		// Put them back, so that every pick sees 100,000 due callbacks.
		if _, err := s.db.Exec(`UPDATE callbacks SET state = 'scheduled', attempts = 0 WHERE state = 'running'`); err != nil {
			b.Fatal(err)
		}
		if _, err := s.db.Exec(`DELETE FROM callback_attempts`); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkDialerPerCall is the dialer's own cost per callback, on a
// SQLite ledger with 100,000 callbacks waiting: claim, dial (a fake phone
// that answers and presses 1 at once), survey, record the result.
func BenchmarkDialerPerCall(b *testing.B) {
	ctx := context.Background()
	s := openLedger(b, "")
	fillLedger(b, s, 100_000, monday10)
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

// BenchmarkPickOnly is the read half of a claim: the next 50 due callbacks
// in deadline order among 100,000, without marking them.
func BenchmarkPickOnly(b *testing.B) {
	s := openLedger(b, "")
	fillLedger(b, s, 100_000, monday10)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var rows []cbRow
		if err := s.db.Select(&rows, `SELECT `+cbColumns+` FROM callbacks WHERE state = 'scheduled' AND not_before <= ? AND due < ?
			ORDER BY due, id LIMIT 50`, ms(monday10), int64(1<<62)); err != nil || len(rows) != 50 {
			b.Fatalf("pick: %d, %v", len(rows), err)
		}
	}
}
