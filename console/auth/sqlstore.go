package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// SQLStore keeps accounts in the console_users table of a SQLite
// database (the ledger's file, or one of its own). The table is the
// console's own until the ledger's users table takes over.
type SQLStore struct {
	db  *sqlx.DB
	now func() time.Time
}

const usersSchema = `CREATE TABLE IF NOT EXISTS console_users (
	name     TEXT PRIMARY KEY,
	role     TEXT NOT NULL CHECK (role IN ('agent','unit','supervisor','admin')),
	unit     TEXT NOT NULL DEFAULT '',
	hash     BLOB NOT NULL,
	disabled INTEGER NOT NULL DEFAULT 0,
	created  TEXT NOT NULL
)`

// NewSQLStore creates the table when missing and returns the store.
func NewSQLStore(ctx context.Context, db *sqlx.DB, now func() time.Time) (*SQLStore, error) {
	if now == nil {
		now = time.Now
	}
	if _, err := db.ExecContext(ctx, usersSchema); err != nil {
		return nil, fmt.Errorf("create console_users: %w", err)
	}
	return &SQLStore{db: db, now: now}, nil
}

type userRow struct {
	Name     string `db:"name"`
	Role     string `db:"role"`
	Unit     string `db:"unit"`
	Hash     []byte `db:"hash"`
	Disabled bool   `db:"disabled"`
	Created  string `db:"created"`
}

// User returns the named account.
func (s *SQLStore) User(ctx context.Context, name string) (User, error) {
	var r userRow
	err := s.db.GetContext(ctx, &r, `SELECT name, role, unit, hash, disabled, created FROM console_users WHERE name = ?`, name)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("user %q: %w", name, ErrNoSuchUser)
	}
	if err != nil {
		return User{}, fmt.Errorf("read user %q: %w", name, err)
	}
	created, _ := time.Parse(time.RFC3339Nano, r.Created)
	return User{Name: r.Name, Role: Role(r.Role), Unit: r.Unit, Hash: r.Hash, Disabled: r.Disabled, Created: created}, nil
}

// AddUser stores a new account.
func (s *SQLStore) AddUser(ctx context.Context, u User) error {
	if err := CheckName(u.Name); err != nil {
		return err
	}
	if _, err := ParseRole(string(u.Role)); err != nil {
		return err
	}
	if (u.Role == RoleUnit) != (u.Unit != "") {
		return fmt.Errorf("user %q: a unit user needs a unit, and only a unit user has one", u.Name)
	}
	if len(u.Hash) == 0 {
		return fmt.Errorf("user %q: no password hash", u.Name)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO console_users (name, role, unit, hash, disabled, created) VALUES (?, ?, ?, ?, ?, ?)`,
		u.Name, string(u.Role), u.Unit, u.Hash, u.Disabled, s.now().UTC().Format(time.RFC3339Nano))
	if err != nil {
		if strings.Contains(err.Error(), "UNIQUE") {
			return fmt.Errorf("user %q: %w", u.Name, ErrUserExists)
		}
		return fmt.Errorf("add user %q: %w", u.Name, err)
	}
	return nil
}

// SetPassword replaces an account's password hash.
func (s *SQLStore) SetPassword(ctx context.Context, name string, hash []byte) error {
	return s.update(ctx, name, `UPDATE console_users SET hash = ? WHERE name = ?`, hash)
}

// SetDisabled disables or enables an account.
func (s *SQLStore) SetDisabled(ctx context.Context, name string, disabled bool) error {
	return s.update(ctx, name, `UPDATE console_users SET disabled = ? WHERE name = ?`, disabled)
}

func (s *SQLStore) update(ctx context.Context, name, query string, v any) error {
	res, err := s.db.ExecContext(ctx, query, v, name)
	if err != nil {
		return fmt.Errorf("update user %q: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("user %q: %w", name, ErrNoSuchUser)
	}
	return nil
}
