package ticket

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	sqlite3 "github.com/mattn/go-sqlite3"
	"github.com/pressly/goose/v3"

	"hotline/ticket/calendar"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Errors callers tell apart.
var (
	// ErrNotFound: no such ticket, call, user or callback.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the ticket changed since the caller read it (optimistic
	// version check); read it again and decide anew.
	ErrConflict = errors.New("ticket changed meanwhile")
	// ErrUnknownUnit: the unit is not in the directory.
	ErrUnknownUnit = errors.New("unknown unit")
	// ErrUnknownUser: the user does not exist.
	ErrUnknownUser = errors.New("unknown user")
	// ErrNotAttested: a unit reply must attest that no money was paid for
	// satisfaction (第八条).
	ErrNotAttested = errors.New("reply does not attest that no money was paid for satisfaction")
	// ErrInvalid: a value outside its allowed set (kind, satisfaction ...).
	ErrInvalid = errors.New("invalid value")
	// ErrLeaseLost: the callback is not (or no longer) claimed by this owner.
	ErrLeaseLost = errors.New("callback lease not held")
)

// Store is the complaint ledger. It is safe for concurrent use: writes go
// through one connection (SQLite has one writer), reads through a pool.
type Store struct {
	w, r      *sqlx.DB
	path      string
	now       func() time.Time
	cal       *calendar.Calendar
	deadlines Deadlines
	window    time.Duration
	log       *slog.Logger
	observer  Observer
	// surveyOnReply schedules the survey callback with a unit's reply.
	surveyOnReply bool

	st *prepared
	// batches holds the statements of group commits by size; only the
	// opening loop uses it.
	batches map[int]*batchStatements
	// opens carries OpenForCall requests to the one goroutine that writes
	// them, several to a transaction (group commit).
	opens  chan openReq
	quit   chan struct{}
	closed sync.WaitGroup
	// pending carries writes to the one goroutine that runs them, several
	// to a transaction; it stops after the opening loop (whose batches are
	// writes too).
	pending    chan writeReq
	writerStop chan struct{}
	writerDone sync.WaitGroup

	ck         *sql.DB // the checkpointing connection
	checkpoint chan struct{}
	writes     atomic.Int64
}

// prepared holds the statements of the hot path (opening a ticket for a
// call), prepared once on the writer connection.
type prepared struct {
	savepoint, rollbackTo, release, findCall, newestNumber, dayNumber, insTicket, insEvent, insDeadline, insDeadlines2, insCall *sqlx.Stmt
}

func (s *Store) prepare(ctx context.Context) error {
	s.st = &prepared{}
	for _, p := range []struct {
		dst **sqlx.Stmt
		q   string
	}{
		{&s.st.findCall, `SELECT t.id, t.number FROM calls c JOIN tickets t ON t.id = c.ticket_id WHERE c.call_id = ?`},
		{&s.st.savepoint, `SAVEPOINT write`},
		{&s.st.rollbackTo, `ROLLBACK TO write`},
		{&s.st.release, `RELEASE write`},
		{&s.st.newestNumber, `SELECT number FROM tickets ORDER BY id DESC LIMIT 1`},
		// A day's numbers sort together ("." follows "-"); the highest by
		// value, as a five-digit number sorts before "9999" as text.
		{&s.st.dayNumber, `SELECT max(CAST(substr(number, ?3) AS INTEGER)) FROM tickets WHERE number >= ?1 AND number < ?2`},
		{&s.st.insTicket, ticketInsert.rows(1)},
		{&s.st.insEvent, eventInsert.rows(1)},
		{&s.st.insDeadline, clockInsert.rows(1)},
		{&s.st.insDeadlines2, clockInsert.rows(2)},
		{&s.st.insCall, callInsert.rows(1)},
	} {
		st, err := s.w.PreparexContext(ctx, p.q)
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		*p.dst = st
	}
	return nil
}

// Option configures a Store.
type Option func(*Store)

// WithClock sets the clock (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithCalendar sets the working calendar (default calendar.DefaultConfig).
func WithCalendar(c *calendar.Calendar) Option { return func(s *Store) { s.cal = c } }

// WithDeadlines sets the deadline rules (default DefaultDeadlines).
func WithDeadlines(d Deadlines) Option { return func(s *Store) { s.deadlines = d } }

// WithRepeatWindow sets the 并单 window: a contact about the same line from
// the same number within this time of an earlier open ticket joins that
// ticket. Zero disables merging. Default DefaultRepeatWindow.
func WithRepeatWindow(d time.Duration) Option { return func(s *Store) { s.window = d } }

// WithSurveyOnReply sets whether a unit's reply schedules the caller's
// satisfaction survey (a survey callback, due at the callback deadline) in
// the same transaction; on by default. Off, surveys are scheduled by hand.
func WithSurveyOnReply(on bool) Option { return func(s *Store) { s.surveyOnReply = on } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// DefaultRepeatWindow is the default 并单 window.
const DefaultRepeatWindow = 72 * time.Hour

// Open opens (creating if needed) the ledger at path and brings its schema
// up to date.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	s := &Store{path: path, now: time.Now, deadlines: DefaultDeadlines(), window: DefaultRepeatWindow, surveyOnReply: true,
		log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(s)
	}
	if s.cal == nil {
		cal, err := calendar.New(calendar.DefaultConfig())
		if err != nil {
			return nil, fmt.Errorf("default calendar: %w", err)
		}
		s.cal = cal
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("open ledger: %w", err)
		}
	}
	// The writer never checkpoints itself: a checkpoint copies the WAL
	// into the database and syncs, and would stall the opening of tickets.
	// A goroutine on its own connection does it instead. Under a long
	// burst the checkpoints cannot catch up and the WAL grows; once they
	// have, the writer starts it over and cuts it back to 64 MiB, so that
	// a burst does not keep its disk space.
	w := sqlx.NewDb(sql.OpenDB(connector{dsn: dsn(path, false), hook: func(c *sqlite3.SQLiteConn) error {
		_, err := c.Exec("PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864", nil)
		return err
	}}), "sqlite3")
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if _, err := migrate(ctx, w.DB); err != nil {
		w.Close()
		return nil, fmt.Errorf("open ledger %s: %w", path, err)
	}
	// Readers sort and group in memory (the monthly report groups a
	// month of tickets) rather than in temporary files.
	r := sqlx.NewDb(sql.OpenDB(connector{dsn: dsn(path, true), hook: func(c *sqlite3.SQLiteConn) error {
		_, err := c.Exec("PRAGMA temp_store = MEMORY; PRAGMA cache_size = -32768", nil)
		return err
	}}), "sqlite3")
	r.SetMaxOpenConns(readConns)
	r.SetMaxIdleConns(readConns)
	s.w, s.r = w, r
	if err := s.prepare(ctx); err != nil {
		s.w.Close()
		s.r.Close()
		return nil, fmt.Errorf("open ledger %s: %w", path, err)
	}
	ck, err := sql.Open("sqlite3", dsn(path, false))
	if err != nil {
		s.w.Close()
		s.r.Close()
		return nil, fmt.Errorf("open ledger %s: %w", path, err)
	}
	ck.SetMaxOpenConns(1)
	s.ck = ck
	s.batches = map[int]*batchStatements{}
	s.opens, s.quit, s.checkpoint = make(chan openReq), make(chan struct{}), make(chan struct{}, 1)
	s.pending, s.writerStop = make(chan writeReq), make(chan struct{})
	s.writerDone.Add(1)
	go s.writeLoop()
	s.closed.Add(2)
	go s.openLoop()
	go s.checkpointLoop()
	return s, nil
}

// connector opens SQLite connections with a hook run on each, without
// registering a driver globally.
type connector struct {
	dsn  string
	hook func(*sqlite3.SQLiteConn) error
}

func (c connector) Connect(context.Context) (driver.Conn, error) {
	return c.Driver().Open(c.dsn)
}

func (c connector) Driver() driver.Driver { return &sqlite3.SQLiteDriver{ConnectHook: c.hook} }

// checkpointEvery is how many write transactions pass between checkpoints.
const checkpointEvery = 200

// checkpointLoop copies the WAL back into the database when asked, off the
// writer's path.
func (s *Store) checkpointLoop() {
	defer s.closed.Done()
	for {
		select {
		case <-s.quit:
			return
		case <-s.checkpoint:
			if _, err := s.ck.Exec(`PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
				s.log.Warn("checkpoint", "err", err)
			}
		}
	}
}

// dsn is the connection string: WAL (readers never block the writer),
// foreign keys, a busy timeout for other processes (backup, tools), and
// immediate transactions on the writer so that a write never fails halfway
// on a lock upgrade. synchronous=NORMAL in WAL mode keeps every committed
// transaction across a crash of the process (only a power loss may lose the
// last ones).
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_foreign_keys", "on")
	q.Set("_busy_timeout", "5000")
	q.Set("_synchronous", "NORMAL")
	// Statements written as text (most of the ledger's) are prepared once
	// per connection, not on every use.
	q.Set("_stmt_cache_size", "256")
	if readOnly {
		q.Set("_query_only", "true")
	} else {
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode()
}

// Migrate brings the ledger at path up to date and returns the versions it
// applied (none when it was current).
func Migrate(ctx context.Context, path string) ([]int64, error) {
	db, err := sql.Open("sqlite3", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	return migrate(ctx, db)
}

func migrate(ctx context.Context, db *sql.DB) ([]int64, error) {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sub, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	applied := make([]int64, 0, len(res))
	for _, r := range res {
		applied = append(applied, r.Source.Version)
	}
	return applied, nil
}

// ErrClosed: the store is closed.
var ErrClosed = errors.New("ledger closed")

// Close closes the ledger. Openings in flight finish first.
func (s *Store) Close() error {
	select {
	case <-s.quit:
		return nil
	default:
	}
	close(s.quit)
	s.closed.Wait()
	close(s.writerStop)
	s.writerDone.Wait()
	// A last checkpoint, so that the WAL does not outlive the service.
	_, ckErr := s.ck.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	if ckErr != nil {
		ckErr = fmt.Errorf("final checkpoint: %w", ckErr)
	}
	return errors.Join(s.r.Close(), ckErr, s.ck.Close(), s.w.Close())
}

// Calendar is the store's working calendar.
func (s *Store) Calendar() *calendar.Calendar { return s.cal }

// Deadlines are the store's deadline rules.
func (s *Store) Deadlines() Deadlines { return s.deadlines }

// timeLayout is how times are stored: UTC, fixed width, so that text order
// is time order. go-sqlite3 reads it back into time.Time for TIMESTAMP
// columns.
const timeLayout = "2006-01-02 15:04:05.000"

func ts(t time.Time) string { return t.UTC().Format(timeLayout) }

// txn is a write transaction with the time it started, the "now" of every
// row it writes.
type txn struct {
	*sqlx.Tx
	ctx context.Context
	now time.Time
	st  *prepared

	// The day's last ticket number, read once per transaction.
	numbers *txNumbers

	// What to tell the observer once committed.
	observer Observer
	afters   []func(Observer)
}

// txNumbers is the day's last ticket number as a transaction drew them.
type txNumbers struct {
	day  string
	last int64
}

// exec runs a prepared statement in the transaction.
func (tx *txn) exec(p *sqlx.Stmt, args ...any) (sql.Result, error) {
	return tx.Stmtx(p).ExecContext(tx.ctx, args...)
}

// queryRow runs a prepared query in the transaction.
func (tx *txn) queryRow(p *sqlx.Stmt, args ...any) *sqlx.Row {
	return tx.Stmtx(p).QueryRowxContext(tx.ctx, args...)
}

// write runs fn in a write transaction, committed when fn returns nil,
// and returns once it is.
//
// Writes that wait together share one transaction (group commit), each in
// a savepoint of its own: one that fails is undone alone, and the others
// are committed. A burst of calls (hang-ups, lines chosen) is written at
// the pace of transactions, not of single writes. Should the shared
// transaction be lost, fn runs again in one of its own: it must set, not
// accumulate, what it hands out.
func (s *Store) write(ctx context.Context, fn func(tx *txn) error) error {
	req := writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case s.pending <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.writerStop:
		return ErrClosed
	}
	// The loop always answers a request it took.
	return <-req.done
}

// writeOpenings runs a batch of call openings in a transaction of its
// own, from the opening loop: openings are group-committed by that loop
// already, and going through the write loop too would cost a caller
// waiting alone another hand-over between goroutines.
func (s *Store) writeOpenings(fn func(tx *txn) error) error {
	return s.commitOne(writeReq{ctx: context.Background(), fn: fn})
}

type writeReq struct {
	ctx  context.Context
	fn   func(tx *txn) error
	done chan error
}

// maxWrites bounds a group commit of writes.
const maxWrites = 64

// writeLoop runs the writes, taking every request that is waiting into the
// same transaction.
func (s *Store) writeLoop() {
	defer s.writerDone.Done()
	batch := make([]writeReq, 0, maxWrites)
	for {
		select {
		case <-s.writerStop:
			return
		case r := <-s.pending:
			batch = gather(append(batch[:0], r), s.pending)
		}
		if len(batch) == 1 {
			batch[0].done <- s.commitOne(batch[0])
			continue
		}
		s.commitMany(batch)
	}
}

// commitOne runs one write in a transaction of its own.
func (s *Store) commitOne(r writeReq) error {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	began := time.Now()
	tx, err := s.w.BeginTxx(r.ctx, nil)
	if err != nil {
		return err
	}
	t := s.newTxn(tx, r.ctx, s.now(), &txNumbers{})
	if err := r.fn(t); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.committed(began, t)
	return nil
}

// commitMany runs the writes of a batch in one transaction, each in a
// savepoint. When the transaction itself is lost (SQLite rolls back the
// whole of it on some errors, an interrupted statement among them), the
// writes that had not failed are run again one by one.
func (s *Store) commitMany(batch []writeReq) {
	began := time.Now()
	errs := make([]error, len(batch))
	done := make([]*txn, len(batch))
	tx, err := s.w.BeginTxx(context.Background(), nil)
	if err != nil {
		for _, r := range batch {
			r.done <- err
		}
		return
	}
	now, numbers := s.now(), &txNumbers{}
	lost := false
	for i, r := range batch {
		if errs[i] = r.ctx.Err(); errs[i] != nil {
			continue
		}
		if _, err := tx.Stmtx(s.st.savepoint).Exec(); err != nil {
			lost = true
			break
		}
		before := *numbers
		t := s.newTxn(tx, r.ctx, now, numbers)
		if errs[i] = r.fn(t); errs[i] == nil {
			done[i] = t
		} else {
			*numbers = before
			if _, err := tx.Stmtx(s.st.rollbackTo).Exec(); err != nil {
				lost = true
				break
			}
		}
		if _, err := tx.Stmtx(s.st.release).Exec(); err != nil {
			lost = true
			break
		}
	}
	if !lost {
		if err := tx.Commit(); err != nil {
			for i, r := range batch {
				if errs[i] == nil {
					errs[i] = err
				}
				r.done <- errs[i]
			}
			return
		}
		for i, r := range batch {
			if done[i] != nil {
				s.committed(began, done[i])
			}
			r.done <- errs[i]
		}
		return
	}
	tx.Rollback()
	for i, r := range batch {
		if done[i] != nil || errs[i] == nil {
			errs[i] = s.commitOne(r)
		}
		r.done <- errs[i]
	}
}

// newTxn is one write's view of a transaction.
func (s *Store) newTxn(tx *sqlx.Tx, ctx context.Context, now time.Time, numbers *txNumbers) *txn {
	return &txn{Tx: tx, ctx: ctx, now: now, st: s.st, numbers: numbers, observer: s.observer}
}

// committed tells the observer what a write committed, and asks for a
// checkpoint now and then.
func (s *Store) committed(began time.Time, t *txn) {
	if s.observer != nil {
		s.observer.WriteDone(time.Since(began))
		for _, f := range t.afters {
			f(s.observer)
		}
	}
	if s.writes.Add(1)%checkpointEvery == 0 {
		select {
		case s.checkpoint <- struct{}{}:
		default: // one is pending already
		}
	}
}

// Backup writes a consistent copy of the live ledger to dst (which must not
// exist) with SQLite's online backup; writers keep going meanwhile.
func (s *Store) Backup(ctx context.Context, dst string) error {
	return Backup(ctx, s.path, dst)
}

// Backup copies the ledger at src to dst (which must not exist) with
// SQLite's online backup. It is safe while a service writes to src.
func Backup(ctx context.Context, src, dst string) error {
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("backup to %s: file exists", dst)
	}
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("backup of %s: %w", src, err)
	}
	srcDB, err := sql.Open("sqlite3", dsn(src, true))
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer srcDB.Close()
	dstDB, err := sql.Open("sqlite3", "file:"+dst+"?_busy_timeout=5000")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer dstDB.Close()
	srcConn, err := srcDB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer srcConn.Close()
	dstConn, err := dstDB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer dstConn.Close()
	err = dstConn.Raw(func(d any) error {
		return srcConn.Raw(func(sc any) error {
			b, err := d.(*sqlite3.SQLiteConn).Backup("main", sc.(*sqlite3.SQLiteConn), "main")
			if err != nil {
				return err
			}
			for {
				if err := ctx.Err(); err != nil {
					b.Close()
					return err
				}
				// Copy in slices so that the source's writer is never
				// held up for long.
				done, err := b.Step(256)
				if err != nil {
					b.Close()
					return err
				}
				if done {
					return b.Finish()
				}
			}
		})
	})
	if err != nil {
		return fmt.Errorf("backup to %s: %w", dst, err)
	}
	return nil
}

// sqliteError is go-sqlite3's error, for telling constraint failures apart.
type sqliteError = sqlite3.Error

func isUniqueErr(e sqlite3.Error) bool {
	return e.ExtendedCode == sqlite3.ErrConstraintUnique || e.ExtendedCode == sqlite3.ErrConstraintPrimaryKey
}
