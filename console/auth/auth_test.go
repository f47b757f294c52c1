package auth_test

import (
	"errors"
	"sync"
	"testing"
	"time"

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

func TestHashPassword(t *testing.T) {
	if _, err := auth.HashPassword("short"); !errors.Is(err, auth.ErrWeakPassword) {
		t.Fatalf("got %v, want ErrWeakPassword", err)
	}
	if _, err := auth.HashPassword(string(make([]byte, 80))); err == nil {
		t.Fatal("got no error for a password over 72 bytes")
	}
}
