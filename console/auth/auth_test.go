package auth_test

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/mattn/go-sqlite3"
	"golang.org/x/crypto/bcrypt"

	"hotline/console/auth"
)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestLimiter(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)}
	l := auth.NewLimiter(3, time.Minute, clk.now)
	for i := range 3 {
		if !l.Allow("1.2.3.4") {
			t.Fatalf("hit %d refused, want allowed", i+1)
		}
		clk.add(10 * time.Second)
	}
	if l.Allow("1.2.3.4") || !l.Blocked("1.2.3.4") {
		t.Fatal("4th hit in the window allowed, want refused")
	}
	if !l.Allow("5.6.7.8") {
		t.Fatal("another key refused, want allowed")
	}
	clk.add(31 * time.Second) // the first hit is now a minute old
	if !l.Allow("1.2.3.4") {
		t.Fatal("hit after the window slid refused, want allowed")
	}
	l.Reset("1.2.3.4")
	if l.Blocked("1.2.3.4") {
		t.Fatal("blocked after reset")
	}
}

func TestSessionsExpire(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)}
	s := auth.NewSessions(clk.now, time.Hour, 3*time.Hour)
	a := s.Start(auth.User{Name: "a1", Role: auth.RoleAgent})
	if a.ID == "" || a.CSRF == "" || a.ID == a.CSRF {
		t.Fatalf("got session %+v, want distinct random id and CSRF token", a)
	}
	for range 4 { // used every 50 minutes: idle never reached, but max is
		clk.add(50 * time.Minute)
		if _, err := s.Get(a.ID); err != nil && clk.now().Sub(a.Created) <= 3*time.Hour {
			t.Fatalf("at %v: %v", clk.now().Sub(a.Created), err)
		}
	}
	if _, err := s.Get(a.ID); !errors.Is(err, auth.ErrNoSession) {
		t.Fatalf("after the maximum life: got %v, want ErrNoSession", err)
	}
	b := s.Start(auth.User{Name: "a2", Role: auth.RoleAgent})
	clk.add(61 * time.Minute)
	if _, err := s.Get(b.ID); !errors.Is(err, auth.ErrNoSession) {
		t.Fatalf("after idling: got %v, want ErrNoSession", err)
	}
	c := s.Start(auth.User{Name: "u1", Role: auth.RoleUnit, Unit: "keyun"})
	s.EndUser("u1")
	if _, err := s.Get(c.ID); !errors.Is(err, auth.ErrNoSession) {
		t.Fatalf("after EndUser: got %v, want ErrNoSession", err)
	}
}

func TestSQLStore(t *testing.T) {
	ctx := t.Context()
	db, err := sqlx.Open("sqlite3", filepath.Join(t.TempDir(), "users.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store, err := auth.NewSQLStore(ctx, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := bcrypt.GenerateFromPassword([]byte("first password"), bcrypt.MinCost)
	if err := store.AddUser(ctx, auth.User{Name: "u1", Role: auth.RoleUnit, Unit: "keyun", Hash: hash}); err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		name string
		u    auth.User
		want error
	}{
		{"duplicate", auth.User{Name: "u1", Role: auth.RoleAgent, Hash: hash}, auth.ErrUserExists},
		{"bad role", auth.User{Name: "x", Role: "boss", Hash: hash}, auth.ErrBadRole},
		{"bad name", auth.User{Name: "a b", Role: auth.RoleAgent, Hash: hash}, auth.ErrBadName},
		{"unit user without unit", auth.User{Name: "u9", Role: auth.RoleUnit, Hash: hash}, nil},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			err := store.AddUser(ctx, tt.u)
			if err == nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := auth.Authenticate(ctx, store, "u1", "first password"); err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	if _, err := auth.Authenticate(ctx, store, "u1", "wrong"); !errors.Is(err, auth.ErrBadCredential) {
		t.Fatalf("wrong password: got %v, want ErrBadCredential", err)
	}
	if _, err := auth.Authenticate(ctx, store, "nobody", "x"); !errors.Is(err, auth.ErrBadCredential) {
		t.Fatalf("unknown user: got %v, want ErrBadCredential", err)
	}
	hash2, _ := bcrypt.GenerateFromPassword([]byte("second password"), bcrypt.MinCost)
	if err := store.SetPassword(ctx, "u1", hash2); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Authenticate(ctx, store, "u1", "first password"); !errors.Is(err, auth.ErrBadCredential) {
		t.Fatalf("old password after change: got %v", err)
	}
	if err := store.SetDisabled(ctx, "u1", true); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Authenticate(ctx, store, "u1", "second password"); !errors.Is(err, auth.ErrDisabled) {
		t.Fatalf("disabled: got %v, want ErrDisabled", err)
	}
	if err := store.SetDisabled(ctx, "ghost", true); !errors.Is(err, auth.ErrNoSuchUser) {
		t.Fatalf("unknown user: got %v, want ErrNoSuchUser", err)
	}
	u, err := store.User(ctx, "u1")
	if err != nil || u.Unit != "keyun" || u.Role != auth.RoleUnit || !u.Disabled {
		t.Fatalf("got %+v, %v", u, err)
	}
}

func TestHashPassword(t *testing.T) {
	if _, err := auth.HashPassword("short"); !errors.Is(err, auth.ErrWeakPassword) {
		t.Fatalf("got %v, want ErrWeakPassword", err)
	}
	if _, err := auth.HashPassword(string(make([]byte, 80))); err == nil {
		t.Fatal("got no error for a password over 72 bytes")
	}
}
