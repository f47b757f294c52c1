package ticket

import "time"

// Observer is told what the ledger committed, for counters that must not
// be recomputed from the whole ledger on every scrape (deadlines met and
// missed, tickets opened, repeats, reopened). Its methods run after the
// commit, on the writer's goroutine: they must be quick and not block.
type Observer interface {
	TicketOpened()
	// RepeatContact is a contact merged into an earlier open ticket (并单).
	RepeatContact()
	TicketReopened(unit string)
	// DeadlineDone is a timed stage finished; late tells whether after its
	// due time. Waived stages (that turned out not to apply) are not told.
	DeadlineDone(stage Stage, unit string, late bool)
	// WriteDone is a write committed, elapsed after its transaction
	// began: writes group-committed together are told each, a batch of
	// call openings once.
	WriteDone(elapsed time.Duration)
}

// WithObserver sets who is told of committed changes (default: nobody).
func WithObserver(o Observer) Option { return func(s *Store) { s.observer = o } }

// notify queues f to run once the transaction has committed; a rolled-back
// transaction drops it.
func (tx *txn) notify(f func(Observer)) {
	if tx.observer != nil {
		tx.afters = append(tx.afters, f)
	}
}
