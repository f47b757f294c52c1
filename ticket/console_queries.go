package ticket

// Queries the web console needs beyond the ledger's own: the supervisors'
// search with every filter of issue 7, a unit's work queue with its next
// deadline, and a call's recording. Written for the console; kept in this
// file so that it stays apart from the ledger's core.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// SearchFilter selects tickets for Search. Zero fields do not filter.
type SearchFilter struct {
	Since, Until time.Time // registered in [Since, Until)
	Line         string
	Unit         string
	Kind         Kind
	Status       Status
	Channel      Channel
	Satisfaction Satisfaction
	// Overdue keeps tickets with a stage that missed its deadline: done
	// late, or pending past due now. Waived stages do not count.
	Overdue bool
	// Text is searched in the number, caller, caller name and content.
	Text  string
	Limit int // 0 means 200
}

// Listed is a ticket in a list, with its next pending deadline.
type Listed struct {
	Ticket
	NextStage Stage     `db:"next_stage" json:"next_stage,omitempty"`
	NextDue   time.Time `db:"-" json:"next_due,omitzero"`
	Overdue   bool      `db:"overdue" json:"overdue"`
}

// listedRow is how a Listed is scanned: a computed column has no
// declared type, so SQLite returns the time as text.
type listedRow struct {
	Ticket
	NextStage sql.NullString `db:"next_stage"`
	NextDue   sql.NullString `db:"next_due"`
	Overdue   bool           `db:"overdue"`
}

// listedCols adds to ticketCols the next pending deadline and whether any
// stage is late at the time bound to the first parameter.
const listedCols = ticketCols + `,
	(SELECT d.stage FROM deadlines d WHERE d.ticket_id = tickets.id AND d.done_at IS NULL AND d.waived = 0
		ORDER BY d.due_at LIMIT 1) AS next_stage,
	(SELECT MIN(d.due_at) FROM deadlines d WHERE d.ticket_id = tickets.id AND d.done_at IS NULL AND d.waived = 0) AS next_due,
	EXISTS (SELECT 1 FROM deadlines d WHERE d.ticket_id = tickets.id AND d.waived = 0
		AND ((d.done_at IS NULL AND d.due_at < ?) OR d.done_at > d.due_at)) AS overdue`

// Search lists tickets matching f, newest first.
func (s *Store) Search(ctx context.Context, f SearchFilter) ([]Listed, error) {
	now := ts(s.now())
	q := `SELECT ` + listedCols + ` FROM tickets WHERE status <> 'merged'`
	args := []any{now}
	add := func(cond string, v any) {
		q += ` AND ` + cond
		args = append(args, v)
	}
	if !f.Since.IsZero() {
		add(`created_at >= ?`, ts(f.Since))
	}
	if !f.Until.IsZero() {
		add(`created_at < ?`, ts(f.Until))
	}
	if f.Line != "" {
		add(`line = ?`, f.Line)
	}
	if f.Unit != "" {
		add(`unit_id = ?`, f.Unit)
	}
	if f.Kind != "" {
		add(`kind = ?`, f.Kind)
	}
	if f.Status != "" {
		add(`status = ?`, f.Status)
	}
	if f.Channel != "" {
		add(`channel = ?`, f.Channel)
	}
	if f.Satisfaction != "" {
		add(`satisfaction = ?`, f.Satisfaction)
	}
	if f.Overdue {
		add(`EXISTS (SELECT 1 FROM deadlines d WHERE d.ticket_id = tickets.id AND d.waived = 0
			AND ((d.done_at IS NULL AND d.due_at < ?) OR d.done_at > d.due_at))`, now)
	}
	if text := strings.TrimSpace(f.Text); text != "" {
		like := "%" + escapeLike(text) + "%"
		q += ` AND (number LIKE ? ESCAPE '\' OR caller LIKE ? ESCAPE '\' OR caller_name LIKE ? ESCAPE '\' OR content LIKE ? ESCAPE '\')`
		args = append(args, like, like, like, like)
	}
	if f.Limit <= 0 {
		f.Limit = 200
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, f.Limit)
	return s.selectListed(ctx, q, args...)
}

// UnitQueue lists the tickets waiting for a unit's reply (transferred,
// forwarded or reopened to it), the soonest deadline first.
func (s *Store) UnitQueue(ctx context.Context, unit string) ([]Listed, error) {
	q := `SELECT ` + listedCols + ` FROM tickets WHERE unit_id = ? AND status IN ('transferred', 'forwarded', 'reopened')
		ORDER BY next_due IS NULL, next_due, id LIMIT 500`
	return s.selectListed(ctx, q, ts(s.now()), unit)
}

func (s *Store) selectListed(ctx context.Context, q string, args ...any) ([]Listed, error) {
	var rows []listedRow
	if err := s.r.SelectContext(ctx, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("search tickets: %w", err)
	}
	out := make([]Listed, 0, len(rows))
	for _, r := range rows {
		l := Listed{Ticket: r.Ticket, NextStage: Stage(r.NextStage.String), Overdue: r.Overdue}
		if r.NextDue.Valid {
			due, err := time.ParseInLocation(timeLayout, r.NextDue.String, time.UTC)
			if err != nil {
				return nil, fmt.Errorf("ticket %s: next deadline %q: %w", r.Number, r.NextDue.String, err)
			}
			l.NextDue = due
		}
		out = append(out, l)
	}
	return out, nil
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// CallRecord reads one call by its row id (Call.ID), e.g. to play its
// recording.
func (s *Store) CallRecord(ctx context.Context, id int64) (Call, error) {
	var c Call
	err := s.r.GetContext(ctx, &c, `SELECT id, call_id, COALESCE(ticket_id, 0) AS ticket_id, direction, caller,
		caller_name, dialled, line, ivr_choice, COALESCE(agent_id, 0) AS agent_id, started_at, answered_at, ended_at,
		end_reason, end_by, cause, recording_path, recording_ms, repeat FROM calls WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return Call{}, fmt.Errorf("call %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Call{}, fmt.Errorf("read call %d: %w", id, err)
	}
	return c, nil
}
