package ticket

import (
	"context"
	"fmt"
	"time"
)

// Deadline is the clock of one stage of one ticket.
type Deadline struct {
	ID        int64      `db:"id" json:"-"`
	TicketID  int64      `db:"ticket_id" json:"ticket_id"`
	Number    string     `db:"number" json:"number,omitempty"`
	Stage     Stage      `db:"stage" json:"stage"`
	UnitID    string     `db:"unit_id" json:"unit,omitempty"`
	StartedAt time.Time  `db:"started_at" json:"started_at"`
	DueAt     time.Time  `db:"due_at" json:"due_at"`
	DoneAt    *time.Time `db:"done_at" json:"done_at,omitempty"`
	// Waived is true when the stage turned out not to apply (a ticket
	// answered on the spot needs no transfer).
	Waived bool `db:"waived" json:"waived,omitempty"`
}

// Late tells whether the stage missed its deadline: done after it, or not
// done and past it at now.
func (d Deadline) Late(now time.Time) bool {
	if d.Waived {
		return false
	}
	if d.DoneAt != nil {
		return d.DoneAt.After(d.DueAt)
	}
	return now.After(d.DueAt)
}

// startClocks starts the given stages' deadlines from now.
func (s *Store) startClocks(tx *txn, ticketID int64, unit string, stages ...Stage) error {
	var u any
	if unit != "" {
		u = unit
	}
	if len(stages) == 2 { // the two clocks of every opening, in one statement
		a, b := stages[0], stages[1]
		vals := tx.clockValues(nil, ticketID, a, u, s.deadlines.Rule(a).Due(s.cal, tx.now))
		vals = tx.clockValues(vals, ticketID, b, u, s.deadlines.Rule(b).Due(s.cal, tx.now))
		if _, err := tx.exec(tx.st.insDeadlines2, vals...); err != nil {
			return fmt.Errorf("start clocks: %w", err)
		}
		return nil
	}
	for _, st := range stages {
		due := s.deadlines.Rule(st).Due(s.cal, tx.now)
		if _, err := tx.exec(tx.st.insDeadline, tx.clockValues(nil, ticketID, st, u, due)...); err != nil {
			return fmt.Errorf("start %s clock: %w", st, err)
		}
	}
	return nil
}

// meetClock marks the open deadline of stage (every open one when stage is
// "") as done now.
func (s *Store) meetClock(tx *txn, ticketID int64, stage Stage) error {
	q := `UPDATE deadlines SET done_at = ? WHERE ticket_id = ? AND done_at IS NULL`
	args := []any{ts(tx.now), ticketID}
	if stage != "" {
		q += ` AND stage = ?`
		args = append(args, stage)
	}
	if tx.observer == nil {
		if _, err := tx.ExecContext(tx.ctx, q, args...); err != nil {
			return fmt.Errorf("stop %s clock: %w", stage, err)
		}
		return nil
	}
	var done []struct {
		Stage Stage  `db:"stage"`
		Unit  string `db:"unit_id"`
		Late  bool   `db:"late"`
	}
	q += ` RETURNING stage, COALESCE(unit_id, '') AS unit_id, due_at < done_at AS late`
	if err := tx.SelectContext(tx.ctx, &done, q, args...); err != nil {
		return fmt.Errorf("stop %s clock: %w", stage, err)
	}
	for _, d := range done {
		tx.notify(func(o Observer) { o.DeadlineDone(d.Stage, d.Unit, d.Late) })
	}
	return nil
}

// waiveClocks closes the open deadlines of stages that turned out not to
// apply; they count neither as met nor as late.
func (s *Store) waiveClocks(tx *txn, ticketID int64, stages ...Stage) error {
	for _, st := range stages {
		if _, err := tx.ExecContext(tx.ctx, `UPDATE deadlines SET done_at = ?, waived = 1 WHERE ticket_id = ? AND stage = ? AND done_at IS NULL`,
			ts(tx.now), ticketID, st); err != nil {
			return fmt.Errorf("waive %s clock: %w", st, err)
		}
	}
	return nil
}

// DeadlineFilter selects open deadlines.
type DeadlineFilter struct {
	Stage Stage  // "" for every stage
	Unit  string // "" for every unit
	// DueBefore keeps the deadlines due before this instant: now for the
	// overdue ones, now+N for those due within N. Zero keeps all.
	DueBefore time.Time
	Limit     int // 0 means 1000
}

// OpenDeadlines lists open deadlines, the most urgent first.
func (s *Store) OpenDeadlines(ctx context.Context, f DeadlineFilter) ([]Deadline, error) {
	q := `SELECT d.id, d.ticket_id, t.number, d.stage, COALESCE(d.unit_id, '') AS unit_id, d.started_at, d.due_at, d.done_at, d.waived
		FROM deadlines d JOIN tickets t ON t.id = d.ticket_id WHERE d.done_at IS NULL`
	var args []any
	if f.Stage != "" {
		q += ` AND d.stage = ?`
		args = append(args, f.Stage)
	}
	if f.Unit != "" {
		q += ` AND d.unit_id = ?`
		args = append(args, f.Unit)
	}
	if !f.DueBefore.IsZero() {
		q += ` AND d.due_at < ?`
		args = append(args, ts(f.DueBefore))
	}
	if f.Limit <= 0 {
		f.Limit = 1000
	}
	q += ` ORDER BY d.due_at LIMIT ?`
	args = append(args, f.Limit)
	var ds []Deadline
	if err := s.r.SelectContext(ctx, &ds, q, args...); err != nil {
		return nil, fmt.Errorf("list open deadlines: %w", err)
	}
	return ds, nil
}

// Overdue lists the open deadlines past due at now.
func (s *Store) Overdue(ctx context.Context, now time.Time) ([]Deadline, error) {
	return s.OpenDeadlines(ctx, DeadlineFilter{DueBefore: now})
}

// StageCount is how many tickets wait on a stage at a unit ("" before a
// unit is chosen), and how many of them are overdue.
type StageCount struct {
	Stage   Stage  `db:"stage" json:"stage"`
	UnitID  string `db:"unit_id" json:"unit"`
	Open    int    `db:"open" json:"open"`
	Overdue int    `db:"overdue" json:"overdue"`
}

// OpenCounts counts the open deadlines per stage and unit and those of
// them overdue at now. It reads only the partial index of open deadlines,
// so it stays cheap however large the ledger grows (metrics call it on
// every scrape).
func (s *Store) OpenCounts(ctx context.Context, now time.Time) ([]StageCount, error) {
	var cs []StageCount
	err := s.r.SelectContext(ctx, &cs, `SELECT stage, COALESCE(unit_id, '') AS unit_id, count(*) AS open,
		COALESCE(sum(due_at < ?), 0) AS overdue
		FROM deadlines WHERE done_at IS NULL GROUP BY stage, unit_id ORDER BY stage, unit_id`, ts(now))
	if err != nil {
		return nil, fmt.Errorf("count open deadlines: %w", err)
	}
	return cs, nil
}
