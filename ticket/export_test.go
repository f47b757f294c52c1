package ticket

import (
	"context"
	"database/sql"
	"fmt"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// TamperForTest runs raw SQL on the writer, to show what the schema refuses.
func TamperForTest(ctx context.Context, s *Store, q string) error {
	_, err := s.w.ExecContext(ctx, q)
	return err
}

// OpenRawForBench opens a database with the ledger's connection settings
// and one table, for BenchmarkRawInsert.
func OpenRawForBench(ctx context.Context, path string) (*sql.DB, error) {
	// The writer's settings, checkpoints off as on the store's writer.
	db := sql.OpenDB(connector{dsn: dsn(path, false), hook: func(c *sqlite3.SQLiteConn) error {
		_, err := c.Exec("PRAGMA wal_autocheckpoint = 0", nil)
		return err
	}})
	db.SetMaxOpenConns(1)
	// A ticket-like row: the tickets table's unique number and its two
	// indexes (caller, registration time).
	_, err := db.ExecContext(ctx, `CREATE TABLE raw (id INTEGER PRIMARY KEY, number TEXT NOT NULL UNIQUE, caller TEXT NOT NULL,
		status TEXT NOT NULL, created_at TIMESTAMP NOT NULL);
		CREATE INDEX raw_caller ON raw (caller, created_at);
		CREATE INDEX raw_created ON raw (created_at);`)
	return db, err
}

// BulkLoadForBench fills a fresh ledger with n tickets registered in
// October 2026, with their deadlines, in one transaction generated inside
// SQLite: a million tickets load in seconds.
func BulkLoadForBench(ctx context.Context, s *Store, n int) error {
	// Indexes are built after the rows: sorting once beats updating
	// them row by row.
	indexes := map[string]string{}
	rows, err := s.w.QueryContext(ctx, `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL
		AND tbl_name IN ('tickets', 'deadlines', 'ticket_events')`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			rows.Close()
			return err
		}
		indexes[name] = def
	}
	rows.Close()
	for name := range indexes {
		if _, err := s.w.ExecContext(ctx, `DROP INDEX `+name); err != nil {
			return err
		}
	}
	defer func() {
		for _, def := range indexes {
			s.w.ExecContext(ctx, def)
		}
	}()
	return s.write(ctx, func(tx *txn) error {
		for _, u := range []string{"u0", "u1", "u2", "u3", "u4"} {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO units (id, name) VALUES (?, ?)`, u, "单位"+u); err != nil {
				return err
			}
		}
		// 31 days spread over n tickets; times as the ledger writes them.
		_, err := tx.ExecContext(ctx, `INSERT INTO tickets (id, number, channel, kind, status, caller, line, unit_id,
			satisfaction, repeats, reopened, created_at, updated_at)
			WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?1)
			SELECT i, printf('96596-B-%08d', i),
				CASE WHEN i % 10 = 0 THEN 'qrcode' ELSE 'hotline' END,
				CASE i % 3 WHEN 0 THEN 'complaint' WHEN 1 THEN 'question' ELSE 'suggestion' END,
				CASE WHEN i % 50 = 0 THEN 'merged' WHEN i % 4 = 0 THEN 'closed' WHEN i % 4 = 1 THEN 'transferred' ELSE 'replied' END,
				printf('138%08d', i % 200000),
				CASE i % 5 WHEN 0 THEN 'passenger' WHEN 1 THEN 'freight' WHEN 2 THEN 'property' WHEN 3 THEN 'diversified' ELSE 'automotive' END,
				CASE WHEN i % 7 = 0 THEN NULL ELSE 'u' || (i % 5) END,
				CASE i % 6 WHEN 0 THEN 'satisfied' WHEN 1 THEN 'basic' WHEN 2 THEN 'dissatisfied' ELSE '' END,
				CASE WHEN i % 30 = 0 THEN 1 ELSE 0 END,
				CASE WHEN i % 40 = 0 THEN 1 ELSE 0 END,
				strftime('%Y-%m-%d %H:%M:%f', '2026-09-30 16:00:00', '+' || ((i - 1) * 2678400.0 / ?1) || ' seconds'),
				strftime('%Y-%m-%d %H:%M:%f', '2026-09-30 16:00:00', '+' || ((i - 1) * 2678400.0 / ?1) || ' seconds')
			FROM seq`, n)
		if err != nil {
			return err
		}
		// Transfer for all, feedback for those with a unit, callback for
		// two in three of those; some late, some open.
		_, err = tx.ExecContext(ctx, `INSERT INTO deadlines (ticket_id, stage, unit_id, started_at, due_at, done_at, waived)
			SELECT id, 'transfer', NULL, created_at, strftime('%Y-%m-%d %H:%M:%f', created_at, '+1 hours'),
				strftime('%Y-%m-%d %H:%M:%f', created_at, '+' || ((id % 5) * 20) || ' minutes'), status = 'merged'
			FROM tickets`)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO deadlines (ticket_id, stage, unit_id, started_at, due_at, done_at)
			SELECT id, 'feedback', unit_id, created_at, strftime('%Y-%m-%d %H:%M:%f', created_at, '+2 days'),
				CASE WHEN id % 9 = 0 THEN NULL ELSE strftime('%Y-%m-%d %H:%M:%f', created_at, '+' || (id % 4) || ' days') END
			FROM tickets WHERE unit_id IS NOT NULL AND status <> 'merged'`)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO deadlines (ticket_id, stage, unit_id, started_at, due_at, done_at)
			SELECT id, 'callback', unit_id, created_at, strftime('%Y-%m-%d %H:%M:%f', created_at, '+5 days'),
				CASE WHEN id % 11 = 0 THEN NULL ELSE strftime('%Y-%m-%d %H:%M:%f', created_at, '+' || (id % 6) || ' days') END
			FROM tickets WHERE unit_id IS NOT NULL AND status IN ('closed', 'replied') AND id % 3 <> 0`)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO ticket_events (ticket_id, at, kind, unit_id, note)
			SELECT id, created_at, 'return', unit_id, '不属本单位' FROM tickets WHERE unit_id IS NOT NULL AND id % 25 = 0`)
		return err
	})
}

// OpenBatchForTest opens calls as one group commit, as the opening loop
// does with the requests waiting together, each request with its own
// context. It tells whether the one-statement-per-table path took the
// batch.
func OpenBatchForTest(s *Store, ctxs []context.Context, calls []CallInfo) (refs []Ref, errs []error, together bool) {
	batch := make([]openReq, len(calls))
	for i, c := range calls {
		batch[i] = openReq{ctx: ctxs[i], info: c, done: make(chan openRes, 1)}
	}
	if together = s.openTogether(batch); !together {
		s.openBatch(batch)
	}
	for _, r := range batch {
		res := <-r.done
		refs, errs = append(refs, res.ref), append(errs, res.err)
	}
	return refs, errs, together
}

// RowsForTest reads a query's rows as text, for comparing two ledgers.
func RowsForTest(ctx context.Context, s *Store, q string) ([]string, error) {
	rows, err := s.r.QueryxContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals, err := rows.SliceScan()
		if err != nil {
			return nil, err
		}
		out = append(out, fmt.Sprint(vals...))
	}
	return out, rows.Err()
}

// TestTx is a write's transaction, for WriteBatchForTest.
type TestTx struct {
	s  *Store
	tx *txn
}

// Exec runs SQL in the write's transaction.
func (t TestTx) Exec(q string, args ...any) error {
	_, err := t.tx.ExecContext(t.tx.ctx, q, args...)
	return err
}

// Number draws the next ticket number.
func (t TestTx) Number() (string, error) { return t.s.nextNumber(t.tx) }

// WriteBatchForTest runs writes as one group commit, as the write loop
// does with the writes waiting together, and returns what each returned.
func WriteBatchForTest(ctx context.Context, s *Store, writes ...func(TestTx) error) []error {
	batch := make([]writeReq, len(writes))
	for i, w := range writes {
		batch[i] = writeReq{ctx: ctx, fn: func(tx *txn) error { return w(TestTx{s, tx}) }, done: make(chan error, 1)}
	}
	s.commitMany(batch)
	errs := make([]error, len(batch))
	for i, r := range batch {
		errs[i] = <-r.done
	}
	return errs
}
