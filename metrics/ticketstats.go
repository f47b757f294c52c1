package metrics

import (
	"context"
	"fmt"
	"time"

	"hotline/ticket"
)

// TicketCounter is what TicketStats reads of the ledger; *ticket.Store has
// it.
type TicketCounter interface {
	// OpenCounts counts open deadlines per stage and unit, and the overdue
	// ones, from the partial index of open deadlines: its cost follows the
	// open tickets, not the size of the ledger.
	OpenCounts(ctx context.Context, now time.Time) ([]ticket.StageCount, error)
}

// TicketStats is the LedgerSource of the ticket ledger: open and overdue
// deadlines per stage and unit, in one query. now is the clock that
// decides what is overdue.
//
// The callbacks due and overdue are those of the callback stage (回访
// within 3 days of the unit's reply, 第九条): the tickets waiting for
// their survey call, and those past its deadline. Listing the dialer's
// queue instead would cost a row read per callback owed on every scrape.
func TicketStats(store TicketCounter, now func() time.Time) LedgerSource {
	return LedgerSourceFunc(func(ctx context.Context) (LedgerSnapshot, error) {
		counts, err := store.OpenCounts(ctx, now())
		if err != nil {
			return LedgerSnapshot{}, fmt.Errorf("ticket stats: %w", err)
		}
		snap := LedgerSnapshot{Stages: make([]StageCount, len(counts))}
		for i, c := range counts {
			snap.Stages[i] = StageCount{Stage: string(c.Stage), Unit: c.UnitID, Open: c.Open, Overdue: c.Overdue}
			if c.Stage == ticket.StageCallback {
				snap.CallbacksDue += c.Open
				snap.CallbacksOverdue += c.Overdue
			}
		}
		return snap, nil
	})
}

// LedgerObserver counts what the ledger commits — tickets opened, repeat
// contacts (并单), reopened tickets, deadlines met and missed — as it
// happens, so that those counters cost nothing at scrape time. Give it to
// the ledger with ticket.WithObserver.
func LedgerObserver(m *Metrics) ticket.Observer { return ledgerObserver{m} }

type ledgerObserver struct{ m *Metrics }

func (o ledgerObserver) TicketOpened()              { o.m.TicketOpened(false) }
func (o ledgerObserver) RepeatContact()             { o.m.ticketsRepeat.Inc() }
func (o ledgerObserver) TicketReopened(unit string) { o.m.TicketReopened(unit) }
func (o ledgerObserver) WriteDone(d time.Duration)  { o.m.LedgerWrite(d) }

func (o ledgerObserver) DeadlineDone(stage ticket.Stage, unit string, late bool) {
	if late {
		o.m.DeadlineMissed(string(stage), unit)
		return
	}
	o.m.DeadlineMet(string(stage), unit)
}
