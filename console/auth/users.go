// Package auth holds the console's accounts, sessions, CSRF tokens and
// login rate limiting. Passwords are stored as bcrypt hashes.
package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// Role is what a user may do in the console.
type Role string

// The roles of issue 7.
const (
	RoleAgent      Role = "agent"      // takes calls: screen-pop, registration, transfer
	RoleUnit       Role = "unit"       // a responsible unit's user, bound to one unit
	RoleSupervisor Role = "supervisor" // reads the whole ledger, reports, recordings
	RoleAdmin      Role = "admin"      // everything a supervisor may, plus accounts
)

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleAgent, RoleUnit, RoleSupervisor, RoleAdmin:
		return r, nil
	}
	return "", fmt.Errorf("role %q: %w", s, ErrBadRole)
}

// Label is the role's Chinese name, for pages.
func (r Role) Label() string {
	switch r {
	case RoleAgent:
		return "坐席"
	case RoleUnit:
		return "责任单位"
	case RoleSupervisor:
		return "管理人员"
	case RoleAdmin:
		return "系统管理员"
	}
	return string(r)
}

// Oversees reports whether the role may read every ticket.
func (r Role) Oversees() bool { return r == RoleSupervisor || r == RoleAdmin }

// User is a console account. For agents the name is also the agent id the
// IVR routes calls to.
type User struct {
	Name     string
	Role     Role
	Unit     string // the unit of a RoleUnit user, "" otherwise
	Hash     []byte // bcrypt
	Disabled bool
	Created  time.Time
}

// Errors callers tell apart.
var (
	ErrNoSuchUser    = errors.New("no such user")
	ErrUserExists    = errors.New("user exists")
	ErrBadRole       = errors.New("unknown role")
	ErrBadCredential = errors.New("wrong user name or password")
	ErrDisabled      = errors.New("account disabled")
	ErrWeakPassword  = errors.New("password too short")
	ErrBadName       = errors.New("bad user name")
)

// MinPasswordLen is the shortest password accepted, in characters.
const MinPasswordLen = 10

// bcryptMax is bcrypt's input limit in bytes; longer passwords are refused
// rather than silently truncated.
const bcryptMax = 72

// HashPassword returns the bcrypt hash of password at bcrypt's default cost.
func HashPassword(password string) ([]byte, error) {
	return HashPasswordCost(password, bcrypt.DefaultCost)
}

// HashPasswordCost is HashPassword at a given bcrypt cost (tests use the
// lowest).
func HashPasswordCost(password string, cost int) ([]byte, error) {
	if utf8.RuneCountInString(password) < MinPasswordLen {
		return nil, fmt.Errorf("at least %d characters: %w", MinPasswordLen, ErrWeakPassword)
	}
	if len(password) > bcryptMax {
		return nil, fmt.Errorf("password longer than %d bytes", bcryptMax)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	return h, nil
}

// CheckName validates a user name: 1-64 characters of letters, digits,
// '.', '_' or '-'.
func CheckName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("%q: 1 to 64 characters: %w", name, ErrBadName)
	}
	if strings.IndexFunc(name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-')
	}) >= 0 {
		return fmt.Errorf("%q: letters, digits, '.', '_' or '-' only: %w", name, ErrBadName)
	}
	return nil
}

// Store keeps the accounts; console/ticketledger keeps them in the
// ledger's users table.
type Store interface {
	User(ctx context.Context, name string) (User, error)
	AddUser(ctx context.Context, u User) error
	SetPassword(ctx context.Context, name string, hash []byte) error
	SetDisabled(ctx context.Context, name string, disabled bool) error
}

// dummyHash is compared against when the user does not exist, so that a
// wrong name costs as much time as a wrong password.
var dummyHash = []byte("$2a$10$I2IyPtVjvnCd4qwmMrqT8uZDoNohG9ClOEBpqHJIGQlLVMyvyDMAS")

// Authenticate checks a name and password against the store.
func Authenticate(ctx context.Context, s Store, name, password string) (User, error) {
	u, err := s.User(ctx, name)
	if errors.Is(err, ErrNoSuchUser) {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return User{}, ErrBadCredential
	}
	if err != nil {
		return User{}, fmt.Errorf("authenticate %q: %w", name, err)
	}
	if bcrypt.CompareHashAndPassword(u.Hash, []byte(password)) != nil {
		return User{}, ErrBadCredential
	}
	if u.Disabled {
		return User{}, ErrDisabled
	}
	return u, nil
}
