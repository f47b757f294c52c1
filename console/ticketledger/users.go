package ticketledger

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"hotline/console/auth"
	"hotline/ticket"
)

// Users keeps the console's accounts in the ledger's users table. A
// disabled account keeps its hash behind a "!" (as /etc/shadow does), so
// that enabling it again restores the password.
type Users struct {
	store *ticket.Store
}

var _ auth.Store = (*Users)(nil)

// NewUsers returns the account store over the ledger.
func NewUsers(store *ticket.Store) *Users { return &Users{store: store} }

const disabledMark = "!"

// User implements auth.Store.
func (s *Users) User(ctx context.Context, name string) (auth.User, error) {
	u, err := s.store.UserByLogin(ctx, name)
	if errors.Is(err, ticket.ErrUnknownUser) || errors.Is(err, ticket.ErrNotFound) {
		return auth.User{}, fmt.Errorf("user %q: %w", name, auth.ErrNoSuchUser)
	}
	if err != nil {
		return auth.User{}, err
	}
	hash, disabled := strings.CutPrefix(u.PasswordHash, disabledMark)
	return auth.User{Name: u.Login, Role: auth.Role(u.Role), Unit: u.UnitID, Hash: []byte(hash), Disabled: disabled}, nil
}

// AddUser implements auth.Store.
func (s *Users) AddUser(ctx context.Context, u auth.User) error {
	if err := auth.CheckName(u.Name); err != nil {
		return err
	}
	if _, err := auth.ParseRole(string(u.Role)); err != nil {
		return err
	}
	if (u.Role == auth.RoleUnit) != (u.Unit != "") {
		return fmt.Errorf("user %q: a unit user needs a unit, and only a unit user has one", u.Name)
	}
	if len(u.Hash) == 0 {
		return fmt.Errorf("user %q: no password hash", u.Name)
	}
	if _, err := s.store.UserByLogin(ctx, u.Name); err == nil {
		return fmt.Errorf("user %q: %w", u.Name, auth.ErrUserExists)
	}
	hash := string(u.Hash)
	if u.Disabled {
		hash = disabledMark + hash
	}
	_, err := s.store.PutUser(ctx, ticket.User{Login: u.Name, Name: u.Name, Role: ticket.Role(u.Role), UnitID: u.Unit, PasswordHash: hash})
	if err != nil {
		return fmt.Errorf("add user %q: %w", u.Name, err)
	}
	return nil
}

func (s *Users) update(ctx context.Context, name string, change func(hash string) string) error {
	u, err := s.store.UserByLogin(ctx, name)
	if errors.Is(err, ticket.ErrUnknownUser) || errors.Is(err, ticket.ErrNotFound) {
		return fmt.Errorf("user %q: %w", name, auth.ErrNoSuchUser)
	}
	if err != nil {
		return err
	}
	u.PasswordHash = change(u.PasswordHash)
	if _, err := s.store.PutUser(ctx, u); err != nil {
		return fmt.Errorf("update user %q: %w", name, err)
	}
	return nil
}

// SetPassword implements auth.Store; a disabled account stays disabled.
func (s *Users) SetPassword(ctx context.Context, name string, hash []byte) error {
	return s.update(ctx, name, func(old string) string {
		if strings.HasPrefix(old, disabledMark) {
			return disabledMark + string(hash)
		}
		return string(hash)
	})
}

// SetDisabled implements auth.Store.
func (s *Users) SetDisabled(ctx context.Context, name string, disabled bool) error {
	return s.update(ctx, name, func(old string) string {
		bare := strings.TrimPrefix(old, disabledMark)
		if disabled {
			return disabledMark + bare
		}
		return bare
	})
}
