package ticket_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"hotline/ticket"
	"hotline/ticket/calendar"
)

// clock is a settable clock for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var shanghai = mustLoc("Asia/Shanghai")

func mustLoc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// local is a wall-clock time in Shanghai.
func local(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, shanghai)
}

// testCalendar is the calendar fixture: the default office hours, weekends,
// and made-up holidays (not official dates): 2026-10-01..07 closed, the
// Saturday 2026-10-10 a make-up working day, and 2027-01-01 closed.
func testCalendar(t testing.TB) *calendar.Calendar {
	t.Helper()
	cfg := calendar.DefaultConfig()
	cfg.Holidays = []string{"2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06", "2026-10-07", "2027-01-01"}
	cfg.Workdays = []string{"2026-10-10"}
	cal, err := calendar.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cal
}

var testUnits = []ticket.Unit{
	{ID: "keyun", Name: "客运公司", Department: "客运营销部", Line: "passenger", Phone: "sip:keyun@127.0.0.1"},
	{ID: "wuliu", Name: "物流公司", Department: "物流部", Line: "freight", Phone: "8001"},
}

// newStore opens a ledger in a fresh file with the test calendar and the
// clock at Monday 2026-11-30 10:00 Shanghai.
func newStore(t testing.TB, opts ...ticket.Option) (*ticket.Store, *clock) {
	t.Helper()
	clk := &clock{t: local(2026, 11, 30, 10, 0)}
	all := append([]ticket.Option{ticket.WithClock(clk.Now), ticket.WithCalendar(testCalendar(t))}, opts...)
	s, err := ticket.Open(context.Background(), filepath.Join(t.TempDir(), "ledger.db"), all...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.SyncUnits(context.Background(), testUnits); err != nil {
		t.Fatal(err)
	}
	return s, clk
}
