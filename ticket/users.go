package ticket

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Role is what a user may do.
type Role string

// The roles.
const (
	RoleAgent      Role = "agent"      // 客服中心坐席
	RoleUnit       Role = "unit"       // staff of a responsible unit
	RoleSupervisor Role = "supervisor" // 领导小组, 企业发展部
	RoleAdmin      Role = "admin"
)

// User is an agent, a unit's staff member, a supervisor or an admin.
type User struct {
	ID    int64  `db:"id" json:"id"`
	Login string `db:"login" json:"login"`
	Name  string `db:"name" json:"name"`
	Role  Role   `db:"role" json:"role"`
	// UnitID is the unit of a unit user.
	UnitID string `db:"unit_id" json:"unit,omitempty"`
	// Endpoint is where an agent's phone is reached: a SIP URI or an
	// Asterisk endpoint.
	Endpoint string `db:"endpoint" json:"endpoint,omitempty"`
	// PasswordHash is for the web console; the ledger stores it as given.
	PasswordHash string `db:"password_hash" json:"-"`
	// LoggedIn is an agent's login state; it survives restarts.
	LoggedIn bool       `db:"logged_in" json:"logged_in"`
	StateAt  *time.Time `db:"state_at" json:"state_at,omitempty"`
}

const userCols = `id, login, name, role, COALESCE(unit_id, '') AS unit_id, endpoint, password_hash, logged_in, state_at`

// PutUser creates the user or, when the login exists, updates its name,
// role, unit, endpoint and (when not empty) password hash. It returns the
// user's id.
func (s *Store) PutUser(ctx context.Context, u User) (int64, error) {
	switch u.Role {
	case RoleAgent, RoleUnit, RoleSupervisor, RoleAdmin:
	default:
		return 0, fmt.Errorf("put user %s: role %q: %w", u.Login, u.Role, ErrInvalid)
	}
	if u.Login == "" {
		return 0, fmt.Errorf("put user: empty login: %w", ErrInvalid)
	}
	var id int64
	err := s.write(ctx, func(tx *txn) error {
		var unit any
		if u.UnitID != "" {
			if err := tx.unitExists(u.UnitID); err != nil {
				return err
			}
			unit = u.UnitID
		}
		return tx.QueryRowxContext(ctx, `INSERT INTO users (login, name, role, unit_id, endpoint, password_hash, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (login) DO UPDATE SET name = excluded.name, role = excluded.role, unit_id = excluded.unit_id,
			endpoint = excluded.endpoint,
			password_hash = CASE WHEN excluded.password_hash <> '' THEN excluded.password_hash ELSE password_hash END
			RETURNING id`, u.Login, u.Name, u.Role, unit, u.Endpoint, u.PasswordHash, ts(tx.now)).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("put user %s: %w", u.Login, err)
	}
	return id, nil
}

// User reads a user by id.
func (s *Store) User(ctx context.Context, id int64) (User, error) {
	return s.user(ctx, `id = ?`, id)
}

// UserByLogin reads a user by login name.
func (s *Store) UserByLogin(ctx context.Context, login string) (User, error) {
	return s.user(ctx, `login = ?`, login)
}

func (s *Store) user(ctx context.Context, where string, arg any) (User, error) {
	var u User
	err := s.r.GetContext(ctx, &u, `SELECT `+userCols+` FROM users WHERE `+where, arg)
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("user %v: %w", arg, ErrUnknownUser)
	}
	if err != nil {
		return u, fmt.Errorf("read user %v: %w", arg, err)
	}
	return u, nil
}

// SetLoggedIn records an agent's login or logout.
func (s *Store) SetLoggedIn(ctx context.Context, userID int64, in bool) error {
	err := s.write(ctx, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET logged_in = ?, state_at = ? WHERE id = ?`, in, ts(tx.now), userID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrUnknownUser
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("set login state of user %d: %w", userID, err)
	}
	return nil
}

// Users lists users of a role ("" for all); loggedInOnly keeps those logged
// in (the agents available to take calls).
func (s *Store) Users(ctx context.Context, role Role, loggedInOnly bool) ([]User, error) {
	q := `SELECT ` + userCols + ` FROM users WHERE 1 = 1`
	var args []any
	if role != "" {
		q += ` AND role = ?`
		args = append(args, role)
	}
	if loggedInOnly {
		q += ` AND logged_in = 1`
	}
	var us []User
	if err := s.r.SelectContext(ctx, &us, q+` ORDER BY id`, args...); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return us, nil
}
