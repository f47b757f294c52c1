package ticket

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// GroupCount counts the tickets registered in a month that share channel,
// kind, line and unit.
type GroupCount struct {
	Channel      Channel `db:"channel" json:"channel"`
	Kind         Kind    `db:"kind" json:"kind"`
	Line         string  `db:"line" json:"line"`
	UnitID       string  `db:"unit_id" json:"unit"`
	Tickets      int     `db:"tickets" json:"tickets"`           // not counting merged repeat contacts
	Repeats      int     `db:"repeats" json:"repeats"`           // contacts merged into an earlier ticket (并单)
	Reopened     int     `db:"reopened" json:"reopened"`         // tickets reopened at least once (重办)
	Closed       int     `db:"closed" json:"closed"`             // 办结
	Satisfied    int     `db:"satisfied" json:"satisfied"`       // 满意
	Basic        int     `db:"basic" json:"basic"`               // 基本满意
	Dissatisfied int     `db:"dissatisfied" json:"dissatisfied"` // 不满意
}

// StageFigure counts, per stage and unit, the deadlines that fell due in a
// month: met on time, late (met after, or still open past due at the time
// of the figures), and still open before due.
type StageFigure struct {
	Stage   Stage  `db:"stage" json:"stage"`
	UnitID  string `db:"unit_id" json:"unit"`
	Due     int    `db:"due" json:"due"`
	Done    int    `db:"done" json:"done"`
	OnTime  int    `db:"on_time" json:"on_time"`
	Late    int    `db:"late" json:"late"`
	Pending int    `db:"pending" json:"pending"`
}

// LateTicket is a ticket on the month's list of late or dissatisfied
// tickets.
type LateTicket struct {
	Number       string       `db:"number" json:"number"`
	CreatedAt    time.Time    `db:"created_at" json:"created_at"`
	Kind         Kind         `db:"kind" json:"kind"`
	Line         string       `db:"line" json:"line"`
	UnitID       string       `db:"unit_id" json:"unit"`
	Status       Status       `db:"status" json:"status"`
	Satisfaction Satisfaction `db:"satisfaction" json:"satisfaction"`
	// LateStages lists the stages it missed, comma separated.
	LateStages string `db:"late_stages" json:"late_stages"`
}

// MonthFigures are the ledger's numbers for one month, the raw material
// of the monthly report.
type MonthFigures struct {
	Month   string         `json:"month"` // 2026-10
	AsOf    time.Time      `json:"as_of"`
	Groups  []GroupCount   `json:"groups"`
	Stages  []StageFigure  `json:"stages"`
	Returns map[string]int `json:"returns"` // returns (退单) per unit
	// Late lists late and dissatisfied tickets, at most MaxLateListed;
	// LateTotal is how many there are.
	Late      []LateTicket `json:"late"`
	LateTotal int          `json:"late_total"`
}

// MaxLateListed bounds the list of late and dissatisfied tickets.
const MaxLateListed = 500

// MonthBounds is the first instant of month ("2026-10") and of the next,
// in the calendar's zone.
func (s *Store) MonthBounds(month string) (time.Time, time.Time, error) {
	from, err := time.ParseInLocation("2006-01", month, s.cal.Location())
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("month %q: want YYYY-MM: %w", month, ErrInvalid)
	}
	return from, from.AddDate(0, 1, 0), nil
}

// MonthFigures reads the figures of a month, as of now. Everything is
// counted in a few grouped scans, in one read transaction.
func (s *Store) MonthFigures(ctx context.Context, month string) (MonthFigures, error) {
	from, to, err := s.MonthBounds(month)
	if err != nil {
		return MonthFigures{}, err
	}
	now := s.now()
	f := MonthFigures{Month: month, AsOf: now, Returns: map[string]int{}}
	tx, err := s.r.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return f, fmt.Errorf("month figures: %w", err)
	}
	defer tx.Rollback()
	lo, hi, n := ts(from), ts(to), ts(now)
	err = tx.SelectContext(ctx, &f.Groups, `SELECT channel, kind, line, COALESCE(unit_id, '') AS unit_id,
		sum(status <> 'merged') AS tickets, sum(status = 'merged') AS repeats,
		sum(reopened > 0) AS reopened, sum(status = 'closed') AS closed,
		sum(satisfaction = 'satisfied') AS satisfied, sum(satisfaction = 'basic') AS basic,
		sum(satisfaction = 'dissatisfied') AS dissatisfied
		FROM tickets WHERE created_at >= ? AND created_at < ?
		GROUP BY channel, kind, line, unit_id ORDER BY channel, kind, line, unit_id`, lo, hi)
	if err != nil {
		return f, fmt.Errorf("month figures: count tickets: %w", err)
	}
	err = tx.SelectContext(ctx, &f.Stages, `SELECT stage, COALESCE(unit_id, '') AS unit_id, count(*) AS due,
		sum(done_at IS NOT NULL) AS done,
		sum(done_at IS NOT NULL AND done_at <= due_at) AS on_time,
		sum((done_at IS NOT NULL AND done_at > due_at) OR (done_at IS NULL AND due_at < ?)) AS late,
		sum(done_at IS NULL AND due_at >= ?) AS pending
		FROM deadlines WHERE waived = 0 AND due_at >= ? AND due_at < ?
		GROUP BY stage, unit_id ORDER BY stage, unit_id`, n, n, lo, hi)
	if err != nil {
		return f, fmt.Errorf("month figures: count deadlines: %w", err)
	}
	rows, err := tx.QueryxContext(ctx, `SELECT COALESCE(unit_id, ''), count(*) FROM ticket_events
		WHERE kind = 'return' AND at >= ? AND at < ? GROUP BY unit_id`, lo, hi)
	if err != nil {
		return f, fmt.Errorf("month figures: count returns: %w", err)
	}
	for rows.Next() {
		var unit string
		var k int
		if err := rows.Scan(&unit, &k); err != nil {
			rows.Close()
			return f, fmt.Errorf("month figures: count returns: %w", err)
		}
		f.Returns[unit] = k
	}
	if err := rows.Close(); err != nil {
		return f, fmt.Errorf("month figures: count returns: %w", err)
	}
	// Late: a deadline due this month missed; dissatisfied: a ticket of
	// this month rated so.
	const lateSet = `SELECT ticket_id AS id FROM deadlines WHERE waived = 0 AND due_at >= ?1 AND due_at < ?2
			AND ((done_at IS NOT NULL AND done_at > due_at) OR (done_at IS NULL AND due_at < ?3))
		UNION SELECT id FROM tickets WHERE created_at >= ?1 AND created_at < ?2 AND satisfaction = 'dissatisfied'`
	if err := tx.GetContext(ctx, &f.LateTotal, `SELECT count(*) FROM (`+lateSet+`)`, lo, hi, n); err != nil {
		return f, fmt.Errorf("month figures: count late tickets: %w", err)
	}
	err = tx.SelectContext(ctx, &f.Late, `SELECT t.number, t.created_at, t.kind, t.line, COALESCE(t.unit_id, '') AS unit_id,
		t.status, t.satisfaction,
		COALESCE((SELECT group_concat(stage, ',') FROM (SELECT DISTINCT d.stage FROM deadlines d WHERE d.ticket_id = t.id AND d.waived = 0
			AND ((d.done_at IS NOT NULL AND d.done_at > d.due_at) OR (d.done_at IS NULL AND d.due_at < ?3)) ORDER BY d.stage)), '') AS late_stages
		FROM tickets t WHERE t.id IN (`+lateSet+`) ORDER BY t.created_at, t.id LIMIT ?4`, lo, hi, n, MaxLateListed)
	if err != nil {
		return f, fmt.Errorf("month figures: list late tickets: %w", err)
	}
	return f, nil
}

// Published is a frozen monthly report.
type Published struct {
	Month       string    `db:"month"`
	PublishedAt time.Time `db:"published_at"`
	SHA256      string    `db:"sha256"`
	Data        []byte    `db:"data"`
}

// ErrPublished: the month's report is published (frozen) already.
var ErrPublished = errors.New("report already published")

// PublishReport freezes a month's report: data with its SHA-256. A
// published month is refused with ErrPublished unless replace is set.
func (s *Store) PublishReport(ctx context.Context, month string, data []byte, sha256 string, replace bool) error {
	err := s.write(ctx, func(tx *txn) error {
		q := `INSERT INTO reports (month, published_at, sha256, data) VALUES (?, ?, ?, ?)`
		if replace {
			q += ` ON CONFLICT (month) DO UPDATE SET published_at = excluded.published_at, sha256 = excluded.sha256, data = excluded.data`
		}
		_, err := tx.ExecContext(ctx, q, month, ts(tx.now), sha256, data)
		var se sqliteError
		if errors.As(err, &se) && isUniqueErr(se) {
			return ErrPublished
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("publish report %s: %w", month, err)
	}
	return nil
}

// PublishedReport reads a month's frozen report; ErrNotFound when the
// month is not published.
func (s *Store) PublishedReport(ctx context.Context, month string) (Published, error) {
	var p Published
	err := s.r.GetContext(ctx, &p, `SELECT month, published_at, sha256, data FROM reports WHERE month = ?`, month)
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("report %s: %w", month, ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("read report %s: %w", month, err)
	}
	return p, nil
}
