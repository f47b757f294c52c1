package ticket_test

import (
	"context"
	"path/filepath"
	"testing"

	"hotline/ticket"
)

// BenchmarkOpenCounts is the metrics scrape: open and overdue deadlines
// per stage and unit, over a ledger of 100,000 tickets.
func BenchmarkOpenCounts(b *testing.B) {
	ctx := context.Background()
	s, err := ticket.Open(ctx, filepath.Join(b.TempDir(), "counts.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := ticket.BulkLoadForBench(ctx, s, 100_000); err != nil {
		b.Fatal(err)
	}
	now := local(2026, 10, 20, 10, 0)
	counts, err := s.OpenCounts(ctx, now)
	if err != nil {
		b.Fatal(err)
	}
	open := 0
	for _, c := range counts {
		open += c.Open
	}
	b.Logf("%d open deadlines in %d groups", open, len(counts))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.OpenCounts(ctx, now); err != nil {
			b.Fatal(err)
		}
	}
}
