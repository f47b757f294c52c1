package ticket

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
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
	// A month is a million tickets and twice as many deadlines. Grouping
	// them in SQLite means sorting them; counting them here as they come
	// off a covering index is cheaper, the more so when each row crosses
	// as little as it can: its texts (line, unit) and one number that
	// packs the rest (see ticketCodeSQL and deadlineCodeSQL). The scans
	// are cut in halves of the month, counted on as many connections as
	// there are cores, all reading one snapshot.
	workers := min(runtime.GOMAXPROCS(0), readConns)
	readers, release, err := s.readSnapshot(ctx, workers)
	if err != nil {
		return f, fmt.Errorf("month figures: %w", err)
	}
	defer release()
	tx := readers[0].tx
	lo, hi, n := ts(from), ts(to), ts(now)
	mid := ts(from.Add(to.Sub(from) / 2))
	const (
		ticketsQ = `SELECT line, unit_id, ` + ticketCodeSQL + `
			FROM tickets WHERE created_at >= ?1 AND created_at < ?2`
		deadlinesQ = `SELECT unit_id, ` + deadlineCodeSQL + `
			FROM deadlines WHERE due_at >= ?1 AND due_at < ?2 AND waived = 0`
	)
	tickets, deadlines := map[codeKey]int{}, map[codeKey]int{}
	// The longest first, so that the halves even out over the workers.
	jobs := []countJob{
		{deadlinesQ, []any{lo, mid, n}, deadlines},
		{deadlinesQ, []any{mid, hi, n}, deadlines},
		{ticketsQ, []any{lo, mid}, tickets},
		{ticketsQ, []any{mid, hi}, tickets},
	}
	if err := countParallel(ctx, readers, jobs); err != nil {
		return f, fmt.Errorf("month figures: count: %w", err)
	}
	groups := map[GroupCount]*GroupCount{}
	for k, count := range tickets {
		c := decodeTicketCode(k.code)
		key := GroupCount{Channel: c.channel, Kind: c.kind, Line: k.a, UnitID: k.b}
		g := groups[key]
		if g == nil {
			g = &key
			groups[key] = g
		}
		if c.merged {
			g.Repeats += count
		} else {
			g.Tickets += count
		}
		if c.reopened {
			g.Reopened += count
		}
		if c.closed {
			g.Closed += count
		}
		switch c.satisfaction {
		case Satisfied:
			g.Satisfied += count
		case Basic:
			g.Basic += count
		case Dissatisfied:
			g.Dissatisfied += count
			f.DissatisfiedCount += count
		}
	}
	for _, g := range groups {
		f.Groups = append(f.Groups, *g)
	}
	slices.SortFunc(f.Groups, func(a, b GroupCount) int {
		return cmp.Or(cmp.Compare(a.Channel, b.Channel), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Line, b.Line), cmp.Compare(a.UnitID, b.UnitID))
	})
	stages := map[StageFigure]*StageFigure{}
	for k, count := range deadlines {
		stage, class := decodeDeadlineCode(k.code)
		key := StageFigure{Stage: stage, UnitID: k.a}
		st := stages[key]
		if st == nil {
			st = &key
			stages[key] = st
		}
		st.Due += count
		switch class {
		case deadlineMetOnTime:
			st.OnTime += count
			st.Done += count
		case deadlineMetLate:
			st.Late += count
			st.Done += count
			f.LateCount += count
		case deadlineOverdue:
			st.Late += count
			f.LateCount += count
		default:
			st.Pending += count
		}
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

// ticketCodeSQL packs channel, kind, repeat (merged), reopened, closed and
// satisfaction of a ticket into one integer; decodeTicketCode unpacks it.
const ticketCodeSQL = `(channel = 'qrcode')
	+ 2 * CASE kind WHEN 'complaint' THEN 1 WHEN 'question' THEN 2 WHEN 'suggestion' THEN 3 ELSE 0 END
	+ 8 * (status = 'merged') + 16 * (reopened > 0) + 32 * (status = 'closed')
	+ 64 * CASE satisfaction WHEN 'satisfied' THEN 1 WHEN 'basic' THEN 2 WHEN 'dissatisfied' THEN 3 ELSE 0 END`

type ticketCode struct {
	channel                  Channel
	kind                     Kind
	merged, reopened, closed bool
	satisfaction             Satisfaction
}

func decodeTicketCode(c int64) ticketCode {
	t := ticketCode{channel: ChannelHotline, merged: c&8 != 0, reopened: c&16 != 0, closed: c&32 != 0}
	if c&1 != 0 {
		t.channel = ChannelQRCode
	}
	t.kind = []Kind{"", KindComplaint, KindQuestion, KindSuggestion}[c>>1&3]
	t.satisfaction = []Satisfaction{"", Satisfied, Basic, Dissatisfied}[c>>6&3]
	return t
}

// deadlineCodeSQL packs the stage of a deadline and how it stands at ?3
// (now) into one integer; decodeDeadlineCode unpacks it.
const deadlineCodeSQL = `4 * CASE stage WHEN 'transfer' THEN 0 WHEN 'sheet' THEN 1 WHEN 'feedback' THEN 2 ELSE 3 END
	+ CASE WHEN done_at IS NOT NULL THEN done_at > due_at WHEN due_at < ?3 THEN 2 ELSE 3 END`

// How a deadline stands.
const (
	deadlineMetOnTime = iota
	deadlineMetLate
	deadlineOverdue // open and past due
	deadlinePending // open, not due yet
)

func decodeDeadlineCode(c int64) (Stage, int) {
	return []Stage{StageTransfer, StageSheet, StageFeedback, StageCallback}[c>>2&3], int(c & 3)
}

// readConns is the size of the read pool.
const readConns = 4

// snapshotReader is a read transaction on a connection of its own.
type snapshotReader struct {
	conn *sqlx.Conn
	tx   *sqlx.Tx
}

// readSnapshot begins n read transactions that all see one snapshot of the
// ledger: each takes its snapshot (its first read) while this process
// holds the write lock, so that no commit falls between them. release
// ends them.
func (s *Store) readSnapshot(ctx context.Context, n int) (readers []snapshotReader, release func(), err error) {
	release = func() {
		for _, r := range readers {
			r.tx.Rollback()
			r.conn.Close()
		}
	}
	lock, err := s.w.BeginTxx(ctx, nil) // BEGIN IMMEDIATE: the write lock
	if err != nil {
		return nil, release, fmt.Errorf("hold writes for a snapshot: %w", err)
	}
	defer lock.Rollback()
	for range n {
		conn, err := s.r.Connx(ctx)
		if err != nil {
			return readers, release, fmt.Errorf("snapshot: %w", err)
		}
		tx, err := conn.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			conn.Close()
			return readers, release, fmt.Errorf("snapshot: %w", err)
		}
		readers = append(readers, snapshotReader{conn, tx})
		var one int
		if err := tx.GetContext(ctx, &one, `SELECT count(*) FROM sqlite_schema`); err != nil {
			return readers, release, fmt.Errorf("snapshot: %w", err)
		}
	}
	return readers, release, nil
}

// countJob is a counting query and the counts it adds to.
type countJob struct {
	q    string
	args []any
	into map[codeKey]int
}

// countParallel runs the jobs, each reader taking the next job when it is
// done with one, and adds up their counts.
func countParallel(ctx context.Context, readers []snapshotReader, jobs []countJob) error {
	next := make(chan countJob, len(jobs))
	for _, j := range jobs {
		next <- j
	}
	close(next)
	type result struct {
		into, counts map[codeKey]int
	}
	results := make(chan result, len(jobs))
	errs := make([]error, len(readers))
	var wg sync.WaitGroup
	for i, r := range readers {
		wg.Go(func() {
			for j := range next {
				counts, err := countCodes(ctx, r.conn, j.q, j.args...)
				if err != nil {
					errs[i] = err
					return
				}
				results <- result{j.into, counts}
			}
		})
	}
	wg.Wait()
	close(results)
	for r := range results {
		for k, n := range r.counts {
			r.into[k] += n
		}
	}
	return errors.Join(errs...)
}

// codeKey is a row of a counting query: up to two texts and a code.
type codeKey struct {
	a, b string
	code int64
}

// countCodes runs a query whose rows are one or two texts (NULL reads as
// "") and an integer code, on conn inside its transaction, and counts how
// often each distinct row came. It reads rows straight from the driver:
// database/sql's scanning costs as much as SQLite's own work here.
func countCodes(ctx context.Context, conn *sqlx.Conn, q string, args ...any) (map[codeKey]int, error) {
	counts := map[codeKey]int{}
	err := conn.Raw(func(dc any) error {
		qc, ok := dc.(driver.QueryerContext)
		if !ok {
			return fmt.Errorf("driver %T cannot query", dc)
		}
		named := make([]driver.NamedValue, len(args))
		for i, a := range args {
			named[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
		}
		rows, err := qc.QueryContext(ctx, q, named)
		if err != nil {
			return err
		}
		defer rows.Close()
		cols := len(rows.Columns())
		row := make([]driver.Value, cols)
		for {
			if err := rows.Next(row); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
			var k codeKey
			k.code, ok = row[cols-1].(int64)
			if !ok {
				return fmt.Errorf("code %v (%T) is not an integer", row[cols-1], row[cols-1])
			}
			if cols > 1 {
				k.a = driverText(row[0])
			}
			if cols > 2 {
				k.b = driverText(row[1])
			}
			counts[k]++
		}
	})
	return counts, err
}

// driverText is a text column as the driver hands it over.
func driverText(v driver.Value) string {
	switch v := v.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	}
	return ""
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
