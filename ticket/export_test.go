package ticket

import (
	"context"
	"database/sql"

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
