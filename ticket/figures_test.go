package ticket_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"hotline/ticket"
)

// TestMonthFiguresOneSnapshot: the month's scans run on several
// connections at once, and must still all read the same ledger. Every
// opening adds a ticket and its transfer clock in one transaction, so the
// figures must count as many tickets as transfer deadlines, however many
// openings commit while they are being read.
func TestMonthFiguresOneSnapshot(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	// Tickets in both halves of the month, which are counted apart.
	clk.Set(local(2026, 11, 3, 10, 0))
	for i := range 50 {
		if _, err := s.OpenForCall(ctx, ticket.CallInfo{CallID: fmt.Sprint("early", i), Caller: "13800000001"}); err != nil {
			t.Fatal(err)
		}
	}
	clk.Set(local(2026, 11, 20, 10, 0))
	wctx, stop := context.WithCancel(ctx)
	var writers sync.WaitGroup
	writers.Go(func() {
		for i := 0; wctx.Err() == nil; i++ {
			if _, err := s.OpenForCall(wctx, ticket.CallInfo{CallID: fmt.Sprint("late", i), Caller: fmt.Sprint(13900000000 + i)}); err != nil && wctx.Err() == nil {
				t.Error(err)
				return
			}
		}
	})
	defer func() { stop(); writers.Wait() }()

	last := 0
	for range 150 {
		f, err := s.MonthFigures(ctx, "2026-11")
		if err != nil {
			t.Fatal(err)
		}
		contacts, transfers := 0, 0
		for _, g := range f.Groups {
			contacts += g.Tickets + g.Repeats
		}
		for _, st := range f.Stages {
			if st.Stage == ticket.StageTransfer {
				transfers += st.Due
			}
		}
		if contacts != transfers {
			t.Fatalf("figures count %d contacts but %d transfer deadlines: the scans read different snapshots", contacts, transfers)
		}
		if contacts < 50 || contacts < last {
			t.Fatalf("figures count %d contacts, after %d before", contacts, last)
		}
		last = contacts
	}
}
