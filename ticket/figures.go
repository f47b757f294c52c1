package ticket

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
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
	// Late lists late and dissatisfied tickets, at most MaxLateListed.
	Late []LateTicket `json:"late"`
	// LateCount is how many deadlines due in the month were missed;
	// DissatisfiedCount how many tickets of the month were rated
	// dissatisfied.
	LateCount         int `json:"late_count"`
	DissatisfiedCount int `json:"dissatisfied_count"`
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
	// Grouping a million rows in SQLite means sorting them; counting them
	// here, as they come off a covering index, is cheaper: one text key
	// per row (the group) and one integer (what to count).
	groups := map[string]*GroupCount{}
	err = countRows(ctx, tx, `SELECT channel || '|' || kind || '|' || line || '|' || COALESCE(unit_id, ''),
		(status = 'merged') + 2 * (reopened > 0) + 4 * (status = 'closed')
		+ 8 * ((satisfaction = 'satisfied') + 2 * (satisfaction = 'basic') + 3 * (satisfaction = 'dissatisfied'))
		FROM tickets WHERE created_at >= ? AND created_at < ?`, []any{lo, hi}, func(key string, flags int64, k int) {
		g := groups[key]
		if g == nil {
			parts := splitN(key, '|', 4)
			g = &GroupCount{Channel: Channel(parts[0]), Kind: Kind(parts[1]), Line: parts[2], UnitID: parts[3]}
			groups[key] = g
		}
		if flags&1 != 0 {
			g.Repeats += k
		} else {
			g.Tickets += k
		}
		if flags&2 != 0 {
			g.Reopened += k
		}
		if flags&4 != 0 {
			g.Closed += k
		}
		switch flags >> 3 {
		case 1:
			g.Satisfied += k
		case 2:
			g.Basic += k
		case 3:
			g.Dissatisfied += k
		}
	})
	if err != nil {
		return f, fmt.Errorf("month figures: count tickets: %w", err)
	}
	for _, g := range groups {
		f.Groups = append(f.Groups, *g)
	}
	slices.SortFunc(f.Groups, func(a, b GroupCount) int {
		return cmp.Or(cmp.Compare(a.Channel, b.Channel), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Line, b.Line), cmp.Compare(a.UnitID, b.UnitID))
	})
	stages := map[string]*StageFigure{}
	// class: 0 met on time, 1 met late, 2 open and overdue, 3 open, not due.
	err = countRows(ctx, tx, `SELECT stage || '|' || COALESCE(unit_id, ''),
		(done_at IS NULL) * (2 + (due_at >= ?)) + (done_at IS NOT NULL AND done_at > due_at)
		FROM deadlines WHERE due_at >= ? AND due_at < ? AND waived = 0`, []any{n, lo, hi}, func(key string, class int64, k int) {
		st := stages[key]
		if st == nil {
			parts := splitN(key, '|', 2)
			st = &StageFigure{Stage: Stage(parts[0]), UnitID: parts[1]}
			stages[key] = st
		}
		st.Due += k
		switch class {
		case 0:
			st.OnTime += k
			st.Done += k
		case 1:
			st.Late += k
			st.Done += k
		case 2:
			st.Late += k
		default:
			st.Pending += k
		}
	})
	if err != nil {
		return f, fmt.Errorf("month figures: count deadlines: %w", err)
	}
	for _, st := range stages {
		f.Stages = append(f.Stages, *st)
	}
	slices.SortFunc(f.Stages, func(a, b StageFigure) int {
		return cmp.Or(cmp.Compare(a.Stage, b.Stage), cmp.Compare(a.UnitID, b.UnitID))
	})
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
	// The list: the first late deadlines of the month in due order and
	// the first dissatisfied tickets, each read in index order and cut
	// short, then merged.
	const late = `waived = 0 AND due_at >= ?1 AND due_at < ?2
		AND ((done_at IS NOT NULL AND done_at > due_at) OR (done_at IS NULL AND due_at < ?3))`
	if err := tx.GetContext(ctx, &f.LateCount, `SELECT count(*) FROM deadlines WHERE `+late, lo, hi, n); err != nil {
		return f, fmt.Errorf("month figures: count late deadlines: %w", err)
	}
	if err := tx.GetContext(ctx, &f.DissatisfiedCount, `SELECT count(*) FROM tickets
		WHERE created_at >= ? AND created_at < ? AND satisfaction = 'dissatisfied'`, lo, hi); err != nil {
		return f, fmt.Errorf("month figures: count dissatisfied: %w", err)
	}
	err = tx.SelectContext(ctx, &f.Late, `SELECT t.number, t.created_at, t.kind, t.line, COALESCE(t.unit_id, '') AS unit_id,
		t.status, t.satisfaction,
		COALESCE((SELECT group_concat(stage, ',') FROM (SELECT DISTINCT d.stage FROM deadlines d WHERE d.ticket_id = t.id AND d.waived = 0
			AND ((d.done_at IS NOT NULL AND d.done_at > d.due_at) OR (d.done_at IS NULL AND d.due_at < ?3)) ORDER BY d.stage)), '') AS late_stages
		FROM tickets t WHERE t.id IN (
			SELECT ticket_id FROM (SELECT ticket_id FROM deadlines WHERE `+late+` ORDER BY due_at LIMIT ?4)
			UNION SELECT id FROM (SELECT id FROM tickets WHERE created_at >= ?1 AND created_at < ?2 AND satisfaction = 'dissatisfied'
				ORDER BY created_at LIMIT ?4))
		ORDER BY t.created_at, t.id LIMIT ?4`, lo, hi, n, MaxLateListed)
	if err != nil {
		return f, fmt.Errorf("month figures: list late tickets: %w", err)
	}
	return f, nil
}

// countRows runs a query that yields a text key and an integer per row,
// and calls add with each distinct pair and how often it came.
func countRows(ctx context.Context, tx *sqlx.Tx, q string, args []any, add func(key string, v int64, n int)) error {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	type entry struct {
		v int64
		n int
	}
	counts := map[string][]entry{}
	var key sql.RawBytes
	var v int64
	for rows.Next() {
		if err := rows.Scan(&key, &v); err != nil {
			return err
		}
		es, ok := counts[string(key)] // no allocation for a known key
		if !ok {
			counts[string(key)] = []entry{{v, 1}}
			continue
		}
		found := false
		for i := range es {
			if es[i].v == v {
				es[i].n++
				found = true
				break
			}
		}
		if !found {
			counts[string(key)] = append(es, entry{v, 1})
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for k, es := range counts {
		for _, e := range es {
			add(k, e.v, e.n)
		}
	}
	return nil
}

func splitN(s string, sep byte, n int) []string {
	parts := strings.SplitN(s, string(sep), n)
	for len(parts) < n {
		parts = append(parts, "")
	}
	return parts
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
