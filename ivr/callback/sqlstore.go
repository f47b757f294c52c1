package callback

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// SQLStore keeps callbacks in the SQLite ledger. Times are stored as UTC
// Unix milliseconds, so that the picking index compares integers.
//
// The database must be opened with a busy timeout (e.g. _busy_timeout=5000)
// so that dialers sharing it wait for each other's short transactions.
type SQLStore struct {
	db *sqlx.DB
}

var _ Store = (*SQLStore)(nil)

// NewSQLStore returns a store over db. Call Migrate once before use.
func NewSQLStore(db *sqlx.DB) *SQLStore { return &SQLStore{db: db} }

// Schema creates the callbacks tables. The partial index serves the
// dialer's pick (scheduled, by deadline); the unique index on
// (callback_id, n) makes "attempt n of a callback" exist at most once. One
// survey per ticket is kept by Schedule's single INSERT rather than by a
// unique index on state, which would double the cost of every claim.
const Schema = `
CREATE TABLE IF NOT EXISTS callbacks (
	id           INTEGER PRIMARY KEY,
	ticket_id    INTEGER NOT NULL,
	ticket_no    TEXT    NOT NULL DEFAULT '',
	kind         TEXT    NOT NULL CHECK (kind IN ('survey', 'return', 'manual')),
	number       TEXT    NOT NULL,
	not_before   INTEGER NOT NULL,
	due          INTEGER NOT NULL,
	state        TEXT    NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	last_outcome TEXT    NOT NULL DEFAULT '',
	score        INTEGER NOT NULL DEFAULT 0,
	note         TEXT    NOT NULL DEFAULT '',
	created      INTEGER NOT NULL,
	updated      INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS callbacks_pick ON callbacks (due, id) WHERE state = 'scheduled';
CREATE INDEX IF NOT EXISTS callbacks_ticket ON callbacks (ticket_id);
CREATE TABLE IF NOT EXISTS callback_attempts (
	id          INTEGER PRIMARY KEY,
	callback_id INTEGER NOT NULL REFERENCES callbacks (id),
	n           INTEGER NOT NULL,
	owner       TEXT    NOT NULL,
	claimed     INTEGER NOT NULL,
	lease_until INTEGER NOT NULL,
	running     INTEGER NOT NULL DEFAULT 1,
	outcome     TEXT    NOT NULL DEFAULT '',
	ended       INTEGER NOT NULL DEFAULT 0,
	cause       INTEGER NOT NULL DEFAULT 0,
	score       INTEGER NOT NULL DEFAULT 0,
	recording   TEXT    NOT NULL DEFAULT '',
	note        TEXT    NOT NULL DEFAULT '',
	UNIQUE (callback_id, n)
);
CREATE INDEX IF NOT EXISTS callback_attempts_running ON callback_attempts (lease_until) WHERE running = 1;
`

// Migrate creates the tables when they are missing.
func (s *SQLStore) Migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, Schema); err != nil {
		return fmt.Errorf("create callbacks tables: %w", err)
	}
	return nil
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// cbRow is a callbacks row.
type cbRow struct {
	ID          int64  `db:"id"`
	TicketID    int64  `db:"ticket_id"`
	TicketNo    string `db:"ticket_no"`
	Kind        string `db:"kind"`
	Number      string `db:"number"`
	NotBefore   int64  `db:"not_before"`
	Due         int64  `db:"due"`
	State       string `db:"state"`
	Attempts    int    `db:"attempts"`
	LastOutcome string `db:"last_outcome"`
	Score       int    `db:"score"`
	Note        string `db:"note"`
	Created     int64  `db:"created"`
	Updated     int64  `db:"updated"`
}

const cbColumns = `id, ticket_id, ticket_no, kind, number, not_before, due, state, attempts, last_outcome, score, note, created, updated`

func (r cbRow) callback() Callback {
	return Callback{ID: r.ID, TicketID: r.TicketID, TicketNo: r.TicketNo, Kind: Kind(r.Kind), Number: r.Number,
		NotBefore: fromMS(r.NotBefore), Due: fromMS(r.Due), State: State(r.State), Attempts: r.Attempts,
		Outcome: Outcome(r.LastOutcome), Score: r.Score, Note: r.Note, Created: fromMS(r.Created), Updated: fromMS(r.Updated)}
}

// Schedule adds a callback.
func (s *SQLStore) Schedule(ctx context.Context, r Request, now time.Time) (Callback, error) {
	if err := r.Validate(); err != nil {
		return Callback{}, err
	}
	nb := r.NotBefore
	if nb.IsZero() {
		nb = now
	}
	var row cbRow
	err := s.db.GetContext(ctx, &row, `INSERT INTO callbacks (ticket_id, ticket_no, kind, number, not_before, due, state, created, updated)
		SELECT ?, ?, ?, ?, ?, ?, 'scheduled', ?, ?
		WHERE ? <> 'survey' OR NOT EXISTS (
			SELECT 1 FROM callbacks WHERE ticket_id = ? AND kind = 'survey' AND state <> 'cancelled')
		RETURNING `+cbColumns,
		r.TicketID, r.TicketNo, r.Kind, r.Number, ms(nb), ms(r.Due), ms(now), ms(now), r.Kind, r.TicketID)
	if errors.Is(err, sql.ErrNoRows) {
		return Callback{}, ErrDuplicate
	}
	if err != nil {
		return Callback{}, fmt.Errorf("schedule callback for ticket %d: %w", r.TicketID, err)
	}
	return row.callback(), nil
}

// Cancel cancels a scheduled callback.
func (s *SQLStore) Cancel(ctx context.Context, id int64, now time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE callbacks SET state = 'cancelled', updated = ? WHERE id = ? AND state = 'scheduled'`, ms(now), id)
	if err != nil {
		return fmt.Errorf("cancel callback %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	if _, err := s.Get(ctx, id); err != nil {
		return err
	}
	return ErrFinished
}

// Get returns one callback.
func (s *SQLStore) Get(ctx context.Context, id int64) (Callback, error) {
	var row cbRow
	err := s.db.GetContext(ctx, &row, `SELECT `+cbColumns+` FROM callbacks WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return Callback{}, ErrNotFound
	}
	if err != nil {
		return Callback{}, fmt.Errorf("get callback %d: %w", id, err)
	}
	return row.callback(), nil
}

// List returns callbacks by deadline.
func (s *SQLStore) List(ctx context.Context, f Filter) ([]Callback, error) {
	q := `SELECT ` + cbColumns + ` FROM callbacks WHERE 1 = 1`
	var args []any
	if len(f.States) > 0 {
		q += ` AND state IN (?` + strings.Repeat(`, ?`, len(f.States)-1) + `)`
		for _, st := range f.States {
			args = append(args, st)
		}
	}
	if f.Ticket != 0 {
		q += ` AND ticket_id = ?`
		args = append(args, f.Ticket)
	}
	q += ` ORDER BY due, id`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	var rows []cbRow
	if err := s.db.SelectContext(ctx, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("list callbacks: %w", err)
	}
	out := make([]Callback, len(rows))
	for i, r := range rows {
		out[i] = r.callback()
	}
	return out, nil
}

// Claim takes due callbacks in deadline order. The UPDATE is the
// transaction's first statement, so it takes SQLite's write lock before it
// reads: two dialers cannot pick the same rows.
func (s *SQLStore) Claim(ctx context.Context, r ClaimRequest) ([]Attempt, error) {
	if r.Limit <= 0 {
		return nil, nil
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("claim callbacks: %w", err)
	}
	defer tx.Rollback()

	dueBefore := int64(1<<63 - 1)
	if !r.DueBefore.IsZero() {
		dueBefore = ms(r.DueBefore)
	}
	var rows []cbRow
	err = tx.SelectContext(ctx, &rows, `UPDATE callbacks SET state = 'running', attempts = attempts + 1, updated = ?
		WHERE id IN (SELECT id FROM callbacks WHERE state = 'scheduled' AND not_before <= ? AND due < ?
		             ORDER BY due, id LIMIT ?)
		RETURNING `+cbColumns, ms(r.Now), ms(r.Now), dueBefore, r.Limit)
	if err != nil {
		return nil, fmt.Errorf("claim callbacks: %w", err)
	}
	slices.SortFunc(rows, func(a, b cbRow) int {
		if a.Due != b.Due {
			return int(min(max(a.Due-b.Due, -1), 1))
		}
		return int(min(max(a.ID-b.ID, -1), 1))
	})
	if len(rows) == 0 {
		return nil, nil
	}
	// One INSERT for the whole batch: a statement per row costs more than
	// the pick itself.
	until := r.Now.Add(r.Lease)
	q := `INSERT INTO callback_attempts (callback_id, n, owner, claimed, lease_until) VALUES ` +
		strings.TrimSuffix(strings.Repeat(`(?, ?, ?, ?, ?), `, len(rows)), `, `) + ` RETURNING id, callback_id`
	args := make([]any, 0, 5*len(rows))
	for _, row := range rows {
		args = append(args, row.ID, row.Attempts, r.Owner, ms(r.Now), ms(until))
	}
	var ids []struct {
		ID         int64 `db:"id"`
		CallbackID int64 `db:"callback_id"`
	}
	if err := tx.SelectContext(ctx, &ids, q, args...); err != nil {
		return nil, fmt.Errorf("record attempts: %w", err)
	}
	attemptID := make(map[int64]int64, len(ids))
	for _, x := range ids {
		attemptID[x.CallbackID] = x.ID
	}
	out := make([]Attempt, 0, len(rows))
	for _, row := range rows {
		out = append(out, Attempt{ID: attemptID[row.ID], N: row.Attempts, Callback: row.callback(), Owner: r.Owner, Claimed: r.Now, LeaseUntil: until})
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("claim callbacks: %w", err)
	}
	return out, nil
}

// Renew extends a running attempt's lease.
func (s *SQLStore) Renew(ctx context.Context, a Attempt, until time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE callback_attempts SET lease_until = ? WHERE id = ? AND running = 1`, ms(until), a.ID)
	if err != nil {
		return fmt.Errorf("renew attempt %d: %w", a.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrLeaseLost
	}
	return nil
}

// Finish records the attempt's result once and moves its callback on.
func (s *SQLStore) Finish(ctx context.Context, a Attempt, r Result) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("finish attempt %d: %w", a.ID, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE callback_attempts
		SET running = 0, outcome = ?, ended = ?, cause = ?, score = ?, recording = ?, note = ?
		WHERE id = ? AND running = 1`,
		r.Outcome, ms(r.Ended), r.Cause, r.Score, r.Recording, r.Note, a.ID)
	if err != nil {
		return fmt.Errorf("finish attempt %d: %w", a.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrLeaseLost
	}
	_, err = tx.ExecContext(ctx, `UPDATE callbacks
		SET state = ?, last_outcome = ?, note = ?, updated = ?,
		    score = CASE WHEN ? > 0 THEN ? ELSE score END,
		    not_before = CASE WHEN ? = 'scheduled' THEN ? ELSE not_before END
		WHERE id = ?`,
		r.Next, r.Outcome, r.Note, ms(r.Ended), r.Score, r.Score, r.Next, ms(r.NotBefore), a.Callback.ID)
	if err != nil {
		return fmt.Errorf("finish callback %d: %w", a.Callback.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("finish attempt %d: %w", a.ID, err)
	}
	return nil
}

// Expired returns running attempts whose lease ran out.
func (s *SQLStore) Expired(ctx context.Context, now time.Time, limit int) ([]Attempt, error) {
	var rows []struct {
		cbRow
		AttemptID  int64  `db:"attempt_id"`
		N          int    `db:"n"`
		Owner      string `db:"owner"`
		Claimed    int64  `db:"claimed"`
		LeaseUntil int64  `db:"lease_until"`
	}
	err := s.db.SelectContext(ctx, &rows, `SELECT a.id AS attempt_id, a.n, a.owner, a.claimed, a.lease_until,
		c.id, c.ticket_id, c.ticket_no, c.kind, c.number, c.not_before, c.due, c.state, c.attempts, c.last_outcome, c.score, c.note, c.created, c.updated
		FROM callback_attempts a JOIN callbacks c ON c.id = a.callback_id
		WHERE a.running = 1 AND a.lease_until < ? ORDER BY a.lease_until LIMIT ?`, ms(now), limit)
	if err != nil {
		return nil, fmt.Errorf("find expired attempts: %w", err)
	}
	out := make([]Attempt, len(rows))
	for i, r := range rows {
		out[i] = Attempt{ID: r.AttemptID, N: r.N, Callback: r.callback(), Owner: r.Owner, Claimed: fromMS(r.Claimed), LeaseUntil: fromMS(r.LeaseUntil)}
	}
	return out, nil
}

// AttemptRecord is one attempt as the ledger keeps it, for reports and tests.
type AttemptRecord struct {
	ID         int64  `db:"id" json:"id"`
	CallbackID int64  `db:"callback_id" json:"callback_id"`
	N          int    `db:"n" json:"n"`
	Owner      string `db:"owner" json:"owner"`
	Running    bool   `db:"running" json:"running"`
	Outcome    string `db:"outcome" json:"outcome"`
	Score      int    `db:"score" json:"score,omitempty"`
	Recording  string `db:"recording" json:"recording,omitempty"`
	Note       string `db:"note" json:"note,omitempty"`
}

// Attempts lists the attempts of one callback, or of all when id is 0.
func (s *SQLStore) Attempts(ctx context.Context, id int64) ([]AttemptRecord, error) {
	var out []AttemptRecord
	err := s.db.SelectContext(ctx, &out, `SELECT id, callback_id, n, owner, running, outcome, score, recording, note
		FROM callback_attempts WHERE ? = 0 OR callback_id = ? ORDER BY callback_id, n`, id, id)
	if err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
	return out, nil
}
