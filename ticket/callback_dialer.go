package ticket

// The primitives the callback dialer (ivr/callback) needs beyond
// ScheduleCallback: claiming a batch of due callbacks by deadline under a
// lease, renewing the lease, recording an attempt once, and finding the
// attempts whose dialer died. A callback's attempt n is held by the dialer
// named in lease_owner while state is 'claimed' and attempts = n.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrCallbackExists is returned when a survey callback is scheduled for a
// ticket that already has one pending or in progress.
var ErrCallbackExists = errors.New("a survey callback is already pending for the ticket")

// ErrCallbackBusy is returned when cancelling a callback that is claimed
// by a dialer or already finished.
var ErrCallbackBusy = errors.New("callback is in progress or finished")

// CallbackView is a callback with what lists and the dialer show beside
// it: the ticket's public number and satisfaction, and why it ended.
type CallbackView struct {
	Callback
	Note         string       `db:"note" json:"note,omitempty"`
	Score        int          `db:"score" json:"score,omitempty"` // keyed in the last attempt, 0 for none
	TicketNumber string       `db:"ticket_number" json:"ticket_number"`
	Satisfaction Satisfaction `db:"satisfaction" json:"satisfaction,omitempty"`
	CreatedAt    time.Time    `db:"created_at" json:"created_at"`
	UpdatedAt    time.Time    `db:"updated_at" json:"updated_at"`
}

const callbackViewCols = `c.id, c.ticket_id, c.kind, c.number, c.not_before, c.due_at, c.state, c.attempts,
	c.lease_owner, c.lease_until, c.outcome, c.note,
	COALESCE((SELECT a.score FROM callback_attempts a WHERE a.callback_id = c.id AND a.attempt = c.attempts), 0) AS score,
	t.number AS ticket_number, t.satisfaction, c.created_at, c.updated_at`

const callbackViewFrom = ` FROM callbacks c JOIN tickets t ON t.id = c.ticket_id`

// CallbackFilter selects callbacks to list.
type CallbackFilter struct {
	States   []CallbackState // empty for all
	TicketID int64           // 0 for all
	Limit    int             // 0 for no limit
}

// ListCallbacks lists callbacks by deadline.
func (s *Store) ListCallbacks(ctx context.Context, f CallbackFilter) ([]CallbackView, error) {
	q := `SELECT ` + callbackViewCols + callbackViewFrom + ` WHERE 1 = 1`
	var args []any
	if len(f.States) > 0 {
		q += ` AND c.state IN (?` + strings.Repeat(`, ?`, len(f.States)-1) + `)`
		for _, st := range f.States {
			args = append(args, st)
		}
	}
	if f.TicketID != 0 {
		q += ` AND c.ticket_id = ?`
		args = append(args, f.TicketID)
	}
	q += ` ORDER BY c.due_at, c.id`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	var out []CallbackView
	if err := s.r.SelectContext(ctx, &out, q, args...); err != nil {
		return nil, fmt.Errorf("list callbacks: %w", err)
	}
	return out, nil
}

// CallbackByID reads one callback; ErrNotFound when there is none.
func (s *Store) CallbackByID(ctx context.Context, id int64) (CallbackView, error) {
	var v CallbackView
	err := s.r.GetContext(ctx, &v, `SELECT `+callbackViewCols+callbackViewFrom+` WHERE c.id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return v, fmt.Errorf("callback %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return v, fmt.Errorf("callback %d: %w", id, err)
	}
	return v, nil
}

// ScheduleCallbackOnce schedules a callback like ScheduleCallback, except
// that a survey is refused with ErrCallbackExists while the ticket has
// another survey pending or claimed: one survey per ticket at a time. The
// check and the insert are one write transaction.
func (s *Store) ScheduleCallbackOnce(ctx context.Context, ticketID int64, kind CallbackKind, notBefore, due time.Time) (int64, error) {
	switch kind {
	case CallbackSurvey, CallbackReturn, CallbackManual:
	default:
		return 0, fmt.Errorf("schedule callback: kind %q: %w", kind, ErrInvalid)
	}
	var id int64
	err := s.write(ctx, func(tx *txn) error {
		t, err := tx.ticket(ticketID)
		if err != nil {
			return err
		}
		if id, err = s.scheduleOnce(tx, t, kind, notBefore, due); err != nil {
			return err
		}
		return tx.addEvent(Event{TicketID: t.ID, Kind: "callback_scheduled", Actor: "system",
			Note: fmt.Sprintf("%s %s", kind, notBefore.In(s.cal.Location()).Format("2006-01-02 15:04"))})
	})
	if err != nil {
		return 0, fmt.Errorf("schedule callback on ticket %d: %w", ticketID, err)
	}
	return id, nil
}

// scheduleOnce is ScheduleCallbackOnce inside a write transaction, less
// the event (the caller's action names the callback in its own).
func (s *Store) scheduleOnce(tx *txn, t Ticket, kind CallbackKind, notBefore, due time.Time) (int64, error) {
	if t.Caller == UnknownCaller {
		return 0, fmt.Errorf("ticket %s has no caller number: %w", t.Number, ErrInvalid)
	}
	if kind == CallbackSurvey {
		var n int
		if err := tx.GetContext(tx.ctx, &n, `SELECT COUNT(*) FROM callbacks WHERE ticket_id = ? AND kind = 'survey'
			AND state IN ('pending', 'claimed')`, t.ID); err != nil {
			return 0, err
		}
		if n > 0 {
			return 0, ErrCallbackExists
		}
	}
	var id int64
	err := tx.QueryRowxContext(tx.ctx, `INSERT INTO callbacks (ticket_id, kind, number, not_before, due_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, t.ID, kind, t.Caller, ts(notBefore), ts(due), ts(tx.now), ts(tx.now)).Scan(&id)
	return id, err
}

// CancelCallback cancels a pending callback: ErrNotFound when there is
// none, ErrCallbackBusy when it is claimed or finished.
func (s *Store) CancelCallback(ctx context.Context, id int64, actor string) error {
	err := s.write(ctx, func(tx *txn) error {
		var ticketID int64
		err := tx.GetContext(ctx, &ticketID, `UPDATE callbacks SET state = 'cancelled', updated_at = ?
			WHERE id = ? AND state = 'pending' RETURNING ticket_id`, ts(tx.now), id)
		if errors.Is(err, sql.ErrNoRows) {
			var n int
			if err := tx.GetContext(ctx, &n, `SELECT COUNT(*) FROM callbacks WHERE id = ?`, id); err != nil {
				return err
			}
			if n == 0 {
				return ErrNotFound
			}
			return ErrCallbackBusy
		}
		if err != nil {
			return err
		}
		return tx.addEvent(Event{TicketID: ticketID, Kind: "callback_cancelled", Actor: actor, Note: fmt.Sprintf("callback %d", id)})
	})
	if err != nil {
		return fmt.Errorf("cancel callback %d: %w", id, err)
	}
	return nil
}

// ClaimDue asks for the next due callbacks.
type ClaimDue struct {
	Owner string
	Now   time.Time // the dialer's clock
	Lease time.Duration
	Limit int
	// DueBefore, when not zero, takes only callbacks due before it.
	DueBefore time.Time
}

// ClaimDueCallbacks atomically claims up to Limit pending callbacks whose
// not-before has passed, earliest deadline first, for Owner until Now +
// Lease, and records attempt n of each. Expired claims are not taken: see
// ExpiredCallbacks. The UPDATE is the transaction's first statement on the
// one writer, so two dialers (also in two processes) never claim the same
// callback. The pick walks the partial index on (due_at, id) of pending
// callbacks: without statistics SQLite would rather take callbacks_ready
// and sort every due callback.
func (s *Store) ClaimDueCallbacks(ctx context.Context, r ClaimDue) ([]CallbackView, error) {
	if r.Limit <= 0 {
		return nil, nil
	}
	// Not "9999": the column's NUMERIC affinity would make that a number,
	// and every text sorts after a number.
	dueBefore := "9999-12-31 23:59:59.999"
	if !r.DueBefore.IsZero() {
		dueBefore = ts(r.DueBefore)
	}
	var out []CallbackView
	err := s.write(ctx, func(tx *txn) error {
		out = nil // a write may run again
		var ids []struct {
			ID       int64 `db:"id"`
			Attempts int   `db:"attempts"`
		}
		err := tx.SelectContext(ctx, &ids, `UPDATE callbacks SET state = 'claimed', lease_owner = ?, lease_until = ?,
			attempts = attempts + 1, updated_at = ?
			WHERE id IN (SELECT id FROM callbacks INDEXED BY callbacks_due
			             WHERE state = 'pending' AND not_before <= ? AND due_at < ?
			             ORDER BY due_at, id LIMIT ?)
			RETURNING id, attempts`,
			r.Owner, ts(r.Now.Add(r.Lease)), ts(tx.now), ts(r.Now), dueBefore, r.Limit)
		if err != nil || len(ids) == 0 {
			return err
		}
		q := `INSERT INTO callback_attempts (callback_id, attempt, owner, claimed_at) VALUES ` +
			strings.TrimSuffix(strings.Repeat(`(?, ?, ?, ?), `, len(ids)), `, `)
		args := make([]any, 0, 4*len(ids))
		in := make([]any, 0, len(ids))
		for _, x := range ids {
			args = append(args, x.ID, x.Attempts, r.Owner, ts(r.Now))
			in = append(in, x.ID)
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("record attempts: %w", err)
		}
		return tx.SelectContext(ctx, &out, `SELECT `+callbackViewCols+callbackViewFrom+
			` WHERE c.id IN (?`+strings.Repeat(`, ?`, len(in)-1)+`) ORDER BY c.due_at, c.id`, in...)
	})
	if err != nil {
		return nil, fmt.Errorf("claim due callbacks: %w", err)
	}
	return out, nil
}

// RenewCallbackLease extends owner's lease on attempt n of callback id;
// ErrLeaseLost when owner no longer holds it.
func (s *Store) RenewCallbackLease(ctx context.Context, id int64, owner string, attempt int, until time.Time) error {
	err := s.write(ctx, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, `UPDATE callbacks SET lease_until = ?
			WHERE id = ? AND state = 'claimed' AND lease_owner = ? AND attempts = ?`, ts(until), id, owner, attempt)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrLeaseLost
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("renew callback %d: %w", id, err)
	}
	return nil
}

// AttemptResult is what became of attempt Attempt of callback ID.
type AttemptResult struct {
	ID      int64
	Owner   string // the owner that claimed it
	Attempt int
	Outcome string // the dialer's outcome, e.g. "answered", "busy", "interrupted"
	Cause   int
	Score   int
	// Recording of the call, "" for none.
	Recording string
	Note      string
	Ended     time.Time
	// State is the callback's next state: CallbackPending (again, from
	// RetryAt), CallbackDone, CallbackFailed or CallbackCancelled (skipped).
	State   CallbackState
	RetryAt time.Time
}

// FinishCallbackAttempt records r once: the attempt must still be claimed
// (state 'claimed', attempts = r.Attempt; the owner need not match, so
// that another dialer can finish the attempt of a dead one as
// interrupted). ErrLeaseLost when it was finished already.
func (s *Store) FinishCallbackAttempt(ctx context.Context, r AttemptResult) error {
	switch r.State {
	case CallbackPending, CallbackDone, CallbackFailed, CallbackCancelled:
	default:
		return fmt.Errorf("finish callback %d: state %q: %w", r.ID, r.State, ErrInvalid)
	}
	err := s.write(ctx, func(tx *txn) error {
		var cb struct {
			TicketID  int64     `db:"ticket_id"`
			Kind      string    `db:"kind"`
			NotBefore time.Time `db:"not_before"`
		}
		err := tx.GetContext(ctx, &cb, `SELECT ticket_id, kind, not_before FROM callbacks
			WHERE id = ? AND state = 'claimed' AND attempts = ?`, r.ID, r.Attempt)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrLeaseLost
		}
		if err != nil {
			return err
		}
		notBefore := cb.NotBefore
		if r.State == CallbackPending {
			notBefore = r.RetryAt
		}
		if _, err := tx.ExecContext(ctx, `UPDATE callbacks SET state = ?, not_before = ?, outcome = ?, note = ?,
			lease_owner = '', lease_until = NULL, updated_at = ? WHERE id = ?`,
			r.State, ts(notBefore), r.Outcome, r.Note, ts(tx.now), r.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE callback_attempts SET finished_at = ?, outcome = ?, cause = ?, score = ?,
			recording = ?, note = ? WHERE callback_id = ? AND attempt = ?`,
			ts(r.Ended), r.Outcome, r.Cause, r.Score, r.Recording, r.Note, r.ID, r.Attempt); err != nil {
			return err
		}
		note := fmt.Sprintf("%s attempt %d: %s", cb.Kind, r.Attempt, r.Outcome)
		if r.Note != "" {
			note += " (" + r.Note + ")"
		}
		return tx.addEvent(Event{TicketID: cb.TicketID, Kind: "callback_attempt", Actor: r.Owner, Note: note})
	})
	if err != nil {
		return fmt.Errorf("finish callback %d attempt %d: %w", r.ID, r.Attempt, err)
	}
	return nil
}

// ExpiredCallbacks lists claimed callbacks whose lease ran out before now:
// their dialer died or hung. Whoever finds them finishes them with
// FinishCallbackAttempt (as interrupted) rather than dialling them again.
func (s *Store) ExpiredCallbacks(ctx context.Context, now time.Time, limit int) ([]CallbackView, error) {
	var out []CallbackView
	err := s.r.SelectContext(ctx, &out, `SELECT `+callbackViewCols+callbackViewFrom+`
		WHERE c.state = 'claimed' AND c.lease_until < ? ORDER BY c.lease_until LIMIT ?`, ts(now), limit)
	if err != nil {
		return nil, fmt.Errorf("expired callbacks: %w", err)
	}
	return out, nil
}

// CallbackAttempt is one attempt as recorded.
type CallbackAttempt struct {
	CallbackID int64      `db:"callback_id" json:"callback_id"`
	Attempt    int        `db:"attempt" json:"attempt"`
	Owner      string     `db:"owner" json:"owner"`
	ClaimedAt  time.Time  `db:"claimed_at" json:"claimed_at"`
	FinishedAt *time.Time `db:"finished_at" json:"finished_at,omitempty"`
	Outcome    string     `db:"outcome" json:"outcome,omitempty"`
	Cause      int        `db:"cause" json:"cause,omitempty"`
	Score      int        `db:"score" json:"score,omitempty"`
	Recording  string     `db:"recording" json:"recording,omitempty"`
	Note       string     `db:"note" json:"note,omitempty"`
}

// CallbackAttempts lists the attempts of callback id, or of every callback
// when id is 0, in order.
func (s *Store) CallbackAttempts(ctx context.Context, id int64) ([]CallbackAttempt, error) {
	var out []CallbackAttempt
	err := s.r.SelectContext(ctx, &out, `SELECT callback_id, attempt, owner, claimed_at, finished_at, outcome, cause, score,
		recording, note FROM callback_attempts WHERE ? = 0 OR callback_id = ? ORDER BY callback_id, attempt`, id, id)
	if err != nil {
		return nil, fmt.Errorf("callback attempts: %w", err)
	}
	return out, nil
}
