package ticket

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// CallbackKind is why the centre calls a caller back.
type CallbackKind string

// The kinds of callback.
const (
	CallbackSurvey CallbackKind = "survey" // 回访: the satisfaction survey after the unit's reply
	CallbackReturn CallbackKind = "return" // returning a message left after hours
	CallbackManual CallbackKind = "manual" // asked for by an agent
)

// CallbackState is where a callback stands.
type CallbackState string

// The states of a callback.
const (
	CallbackPending   CallbackState = "pending"   // waiting for its window
	CallbackClaimed   CallbackState = "claimed"   // a dialer holds the lease
	CallbackDone      CallbackState = "done"      // reached the caller
	CallbackFailed    CallbackState = "failed"    // gave up
	CallbackCancelled CallbackState = "cancelled" //
)

// Callback is a call the centre owes a caller.
type Callback struct {
	ID         int64         `db:"id" json:"id"`
	TicketID   int64         `db:"ticket_id" json:"ticket_id"`
	Kind       CallbackKind  `db:"kind" json:"kind"`
	Number     string        `db:"number" json:"number"`
	NotBefore  time.Time     `db:"not_before" json:"not_before"`
	DueAt      time.Time     `db:"due_at" json:"due_at"`
	State      CallbackState `db:"state" json:"state"`
	Attempts   int           `db:"attempts" json:"attempts"`
	LeaseOwner string        `db:"lease_owner" json:"lease_owner,omitempty"`
	LeaseUntil *time.Time    `db:"lease_until" json:"lease_until,omitempty"`
	Outcome    string        `db:"outcome" json:"outcome,omitempty"`
}

const callbackCols = `id, ticket_id, kind, number, not_before, due_at, state, attempts, lease_owner, lease_until, outcome`

// ScheduleCallback schedules a callback on a ticket, to be placed between
// notBefore and due, to the ticket's caller.
func (s *Store) ScheduleCallback(ctx context.Context, ticketID int64, kind CallbackKind, notBefore, due time.Time) (int64, error) {
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
		if t.Caller == UnknownCaller {
			return fmt.Errorf("ticket %s has no caller number: %w", t.Number, ErrInvalid)
		}
		err = tx.QueryRowxContext(ctx, `INSERT INTO callbacks (ticket_id, kind, number, not_before, due_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, ticketID, kind, t.Caller, ts(notBefore), ts(due), ts(tx.now), ts(tx.now)).Scan(&id)
		if err != nil {
			return err
		}
		return tx.addEvent(Event{TicketID: ticketID, Kind: "callback_scheduled", Actor: "system",
			Note: fmt.Sprintf("%s %s", kind, notBefore.In(s.cal.Location()).Format("2006-01-02 15:04"))})
	})
	if err != nil {
		return 0, fmt.Errorf("schedule callback on ticket %d: %w", ticketID, err)
	}
	return id, nil
}

// Callbacks lists callbacks in the given states (all when none), the
// earliest first.
func (s *Store) Callbacks(ctx context.Context, states ...CallbackState) ([]Callback, error) {
	q := `SELECT ` + callbackCols + ` FROM callbacks`
	var args []any
	if len(states) > 0 {
		q += ` WHERE state IN (?` + repeatString(", ?", len(states)-1) + `)`
		for _, st := range states {
			args = append(args, st)
		}
	}
	var cs []Callback
	if err := s.r.SelectContext(ctx, &cs, q+` ORDER BY not_before, id`, args...); err != nil {
		return nil, fmt.Errorf("list callbacks: %w", err)
	}
	return cs, nil
}

// ClaimCallback gives owner the earliest callback that may be placed now
// (pending with its window open, or claimed by a dialer whose lease ran
// out), leased to owner for lease. The claim is one statement on the one
// writer, so two dialers never hold the same attempt. It returns
// ErrNotFound when nothing is ready. Each claim is a numbered attempt.
func (s *Store) ClaimCallback(ctx context.Context, owner string, lease time.Duration) (Callback, error) {
	var cb Callback
	err := s.write(ctx, func(tx *txn) error {
		now := ts(tx.now)
		err := tx.GetContext(ctx, &cb, `UPDATE callbacks SET state = 'claimed', lease_owner = ?, lease_until = ?,
			attempts = attempts + 1, updated_at = ?
			WHERE id = (SELECT id FROM callbacks
				WHERE (state = 'pending' AND not_before <= ?) OR (state = 'claimed' AND lease_until < ?)
				ORDER BY not_before, id LIMIT 1)
			RETURNING `+callbackCols, owner, ts(tx.now.Add(lease)), now, now, now)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO callback_attempts (callback_id, attempt, owner, claimed_at) VALUES (?, ?, ?, ?)`,
			cb.ID, cb.Attempts, owner, now)
		return err
	})
	if err != nil {
		return Callback{}, fmt.Errorf("claim callback: %w", err)
	}
	return cb, nil
}

// FinishCallback records the outcome of the attempt owner holds. With
// retryAt non-zero the callback goes back to pending until then; otherwise
// it ends in state (done or failed). It returns ErrLeaseLost when owner no
// longer holds the lease.
func (s *Store) FinishCallback(ctx context.Context, id int64, owner, outcome string, state CallbackState, retryAt time.Time) error {
	if retryAt.IsZero() && state != CallbackDone && state != CallbackFailed && state != CallbackCancelled {
		return fmt.Errorf("finish callback %d: state %q: %w", id, state, ErrInvalid)
	}
	err := s.write(ctx, func(tx *txn) error {
		var cb Callback
		err := tx.GetContext(ctx, &cb, `SELECT `+callbackCols+` FROM callbacks WHERE id = ?`, id)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if cb.State != CallbackClaimed || cb.LeaseOwner != owner {
			return ErrLeaseLost
		}
		next, notBefore := state, cb.NotBefore
		if !retryAt.IsZero() {
			next, notBefore = CallbackPending, retryAt
		}
		if _, err := tx.ExecContext(ctx, `UPDATE callbacks SET state = ?, not_before = ?, outcome = ?, lease_owner = '',
			lease_until = NULL, updated_at = ? WHERE id = ?`, next, ts(notBefore), outcome, ts(tx.now), id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE callback_attempts SET finished_at = ?, outcome = ? WHERE callback_id = ? AND attempt = ?`,
			ts(tx.now), outcome, id, cb.Attempts); err != nil {
			return err
		}
		return tx.addEvent(Event{TicketID: cb.TicketID, Kind: "callback_attempt", Actor: owner,
			Note: fmt.Sprintf("%s attempt %d: %s", cb.Kind, cb.Attempts, outcome)})
	})
	if err != nil {
		return fmt.Errorf("finish callback %d: %w", id, err)
	}
	return nil
}
