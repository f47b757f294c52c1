package ticket

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Call is the record of one call.
type Call struct {
	ID            int64      `db:"id" json:"-"`
	CallID        string     `db:"call_id" json:"call_id"`
	TicketID      int64      `db:"ticket_id" json:"ticket_id"`
	Direction     string     `db:"direction" json:"direction"`
	Caller        string     `db:"caller" json:"caller"`
	CallerName    string     `db:"caller_name" json:"caller_name,omitempty"`
	Dialled       string     `db:"dialled" json:"dialled,omitempty"`
	Line          string     `db:"line" json:"line,omitempty"`
	IVRChoice     string     `db:"ivr_choice" json:"ivr_choice,omitempty"`
	AgentID       int64      `db:"agent_id" json:"agent,omitempty"`
	StartedAt     time.Time  `db:"started_at" json:"started_at"`
	AnsweredAt    *time.Time `db:"answered_at" json:"answered_at,omitempty"`
	EndedAt       *time.Time `db:"ended_at" json:"ended_at,omitempty"`
	EndReason     string     `db:"end_reason" json:"end_reason,omitempty"`
	EndBy         string     `db:"end_by" json:"end_by,omitempty"`
	Cause         int        `db:"cause" json:"cause,omitempty"`
	RecordingPath string     `db:"recording_path" json:"recording_path,omitempty"`
	RecordingMS   int64      `db:"recording_ms" json:"recording_ms,omitempty"`
	Repeat        bool       `db:"repeat" json:"repeat,omitempty"`
}

// Detail is a ticket with its handling process, clocks and calls.
type Detail struct {
	Ticket
	Events    []Event    `json:"events"`
	Deadlines []Deadline `json:"deadlines"`
	Calls     []Call     `json:"calls"`
}

// Ticket reads a ticket with its events, deadlines and calls.
func (s *Store) Ticket(ctx context.Context, id int64) (Detail, error) {
	return s.detail(ctx, `id = ?`, id)
}

// TicketByNumber reads a ticket by its public number.
func (s *Store) TicketByNumber(ctx context.Context, number string) (Detail, error) {
	return s.detail(ctx, `number = ?`, number)
}

// TicketForCall reads the ticket a call landed on.
func (s *Store) TicketForCall(ctx context.Context, callID string) (Detail, error) {
	return s.detail(ctx, `id = (SELECT ticket_id FROM calls WHERE call_id = ?)`, callID)
}

func (s *Store) detail(ctx context.Context, where string, arg any) (Detail, error) {
	// One read transaction, so that the parts agree with each other.
	tx, err := s.r.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return Detail{}, fmt.Errorf("read ticket: %w", err)
	}
	defer tx.Rollback()
	var d Detail
	if err := tx.GetContext(ctx, &d.Ticket, `SELECT `+ticketCols+` FROM tickets WHERE `+where, arg); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Detail{}, fmt.Errorf("ticket %v: %w", arg, ErrNotFound)
		}
		return Detail{}, fmt.Errorf("read ticket %v: %w", arg, err)
	}
	if err := tx.SelectContext(ctx, &d.Events, `SELECT id, ticket_id, at, kind, actor, from_status, to_status,
		COALESCE(unit_id, '') AS unit_id, note FROM ticket_events WHERE ticket_id = ? ORDER BY id`, d.ID); err != nil {
		return Detail{}, fmt.Errorf("read events of %s: %w", d.Number, err)
	}
	if err := tx.SelectContext(ctx, &d.Deadlines, `SELECT id, ticket_id, '' AS number, stage, COALESCE(unit_id, '') AS unit_id,
		started_at, due_at, done_at, waived FROM deadlines WHERE ticket_id = ? ORDER BY id`, d.ID); err != nil {
		return Detail{}, fmt.Errorf("read deadlines of %s: %w", d.Number, err)
	}
	if err := tx.SelectContext(ctx, &d.Calls, `SELECT id, call_id, COALESCE(ticket_id, 0) AS ticket_id, direction, caller,
		caller_name, dialled, line, ivr_choice, COALESCE(agent_id, 0) AS agent_id, started_at, answered_at, ended_at,
		end_reason, end_by, cause, recording_path, recording_ms, repeat FROM calls WHERE ticket_id = ? ORDER BY id`, d.ID); err != nil {
		return Detail{}, fmt.Errorf("read calls of %s: %w", d.Number, err)
	}
	return d, nil
}

// Filter selects tickets for List.
type Filter struct {
	Caller string   // contact number (normalised like a caller ID)
	Status []Status // any of these; none means all
	Unit   string
	Line   string
	Since  time.Time // registered at or after
	Until  time.Time // registered before
	Before int64     // only tickets with a smaller id (paging, newest first)
	Limit  int       // 0 means 100
}

// List lists tickets, newest first.
func (s *Store) List(ctx context.Context, f Filter) ([]Ticket, error) {
	q := `SELECT ` + ticketCols + ` FROM tickets WHERE 1 = 1`
	var args []any
	if f.Caller != "" {
		q += ` AND caller = ?`
		args = append(args, NormalizeCaller(f.Caller))
	}
	if len(f.Status) > 0 {
		q += ` AND status IN (?` + repeatString(", ?", len(f.Status)-1) + `)`
		for _, st := range f.Status {
			args = append(args, st)
		}
	}
	if f.Unit != "" {
		q += ` AND unit_id = ?`
		args = append(args, f.Unit)
	}
	if f.Line != "" {
		q += ` AND line = ?`
		args = append(args, f.Line)
	}
	if !f.Since.IsZero() {
		q += ` AND created_at >= ?`
		args = append(args, ts(f.Since))
	}
	if !f.Until.IsZero() {
		q += ` AND created_at < ?`
		args = append(args, ts(f.Until))
	}
	if f.Before > 0 {
		q += ` AND id < ?`
		args = append(args, f.Before)
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, f.Limit)
	var ts []Ticket
	if err := s.r.SelectContext(ctx, &ts, q, args...); err != nil {
		return nil, fmt.Errorf("list tickets: %w", err)
	}
	return ts, nil
}

func repeatString(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}

// CallerHistory lists the caller's tickets other than exceptID, newest
// first, for the agent's screen-pop. An unknown caller has no history.
func (s *Store) CallerHistory(ctx context.Context, caller string, exceptID int64, limit int) ([]Ticket, error) {
	caller = NormalizeCaller(caller)
	if caller == UnknownCaller {
		return nil, nil
	}
	if limit <= 0 {
		limit = 20
	}
	var ts []Ticket
	err := s.r.SelectContext(ctx, &ts, `SELECT `+ticketCols+` FROM tickets WHERE caller = ? AND id <> ? AND status <> 'merged'
		ORDER BY created_at DESC, id DESC LIMIT ?`, caller, exceptID, limit)
	if err != nil {
		return nil, fmt.Errorf("caller history: %w", err)
	}
	return ts, nil
}
