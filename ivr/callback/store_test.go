package callback

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/mattn/go-sqlite3"
)

// openLedger opens a fresh SQLite ledger file with the callbacks tables.
func openLedger(t testing.TB, path string) *SQLStore {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "ledger.db")
	}
	db, err := sqlx.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_synchronous=NORMAL&_busy_timeout=10000&_foreign_keys=on")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := NewSQLStore(db)
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// stores gives each conformance test a fresh store of every kind.
var stores = []struct {
	name string
	open func(t testing.TB) Store
}{
	{"memory", func(testing.TB) Store { return NewMemStore() }},
	{"sqlite", func(t testing.TB) Store { return openLedger(t, "") }},
}

func TestStoreClaimAndFinish(t *testing.T) {
	ctx := context.Background()
	now := monday10
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			s := st.open(t)
			sched := func(r Request) Callback {
				t.Helper()
				cb, err := s.Schedule(ctx, r, now)
				if err != nil {
					t.Fatal(err)
				}
				return cb
			}
			c1 := sched(Request{TicketID: 1, Kind: KindSurvey, Number: "111", Due: now.Add(3 * time.Hour)})
			c2 := sched(Request{TicketID: 2, Kind: KindReturn, Number: "222", Due: now.Add(time.Hour)})
			c3 := sched(Request{TicketID: 3, Kind: KindSurvey, Number: "333", Due: now.Add(2 * time.Hour), NotBefore: now.Add(time.Minute)})
			c4 := sched(Request{TicketID: 4, Kind: KindManual, Number: "444", Due: now.Add(50 * time.Hour)})
			if _, err := s.Schedule(ctx, Request{TicketID: 1, Kind: KindSurvey, Number: "111", Due: now.Add(time.Hour)}, now); !errors.Is(err, ErrDuplicate) {
				t.Errorf("second survey: err = %v, want ErrDuplicate", err)
			}
			if _, err := s.Schedule(ctx, Request{TicketID: 1, Kind: "bogus", Number: "111", Due: now}, now); err == nil {
				t.Error("bad kind accepted")
			}

			got, err := s.Claim(ctx, ClaimRequest{Now: now, Owner: "a", Lease: time.Minute, Limit: 2})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || got[0].Callback.ID != c2.ID || got[1].Callback.ID != c1.ID {
				t.Fatalf("claimed %+v, want callbacks %d then %d", got, c2.ID, c1.ID)
			}
			if got[0].N != 1 || got[0].Owner != "a" || !got[0].LeaseUntil.Equal(now.Add(time.Minute)) {
				t.Errorf("attempt = %+v, want n 1, owner a, lease until %v", got[0], now.Add(time.Minute))
			}
			// c3 is not yet due; c4 is beyond DueBefore.
			more, err := s.Claim(ctx, ClaimRequest{Now: now, Owner: "b", Lease: time.Minute, Limit: 10, DueBefore: now.Add(10 * time.Hour)})
			if err != nil || len(more) != 0 {
				t.Fatalf("second claim = %+v, %v; want nothing", more, err)
			}

			if err := s.Renew(ctx, got[0], now.Add(2*time.Minute)); err != nil {
				t.Errorf("renew: %v", err)
			}
			exp, err := s.Expired(ctx, now.Add(90*time.Second), 10)
			if err != nil || len(exp) != 1 || exp[0].ID != got[1].ID {
				t.Fatalf("expired = %+v, %v; want attempt %d", exp, err, got[1].ID)
			}

			retry := Result{Outcome: OutcomeBusy, Ended: now, Next: StateScheduled, NotBefore: now.Add(30 * time.Minute)}
			if err := s.Finish(ctx, got[0], retry); err != nil {
				t.Fatal(err)
			}
			if err := s.Finish(ctx, got[0], Result{Outcome: OutcomeInterrupted, Ended: now, Next: StateScheduled}); !errors.Is(err, ErrLeaseLost) {
				t.Errorf("second finish: err = %v, want ErrLeaseLost", err)
			}
			if err := s.Renew(ctx, got[0], now.Add(time.Hour)); !errors.Is(err, ErrLeaseLost) {
				t.Errorf("renew after finish: err = %v, want ErrLeaseLost", err)
			}
			cb, err := s.Get(ctx, c2.ID)
			if err != nil {
				t.Fatal(err)
			}
			if cb.State != StateScheduled || cb.Outcome != OutcomeBusy || !cb.NotBefore.Equal(now.Add(30*time.Minute)) || cb.Attempts != 1 {
				t.Errorf("after busy: %+v", cb)
			}
			if err := s.Finish(ctx, got[1], Result{Outcome: OutcomeAnswered, Ended: now, Score: 2, Next: StateDone}); err != nil {
				t.Fatal(err)
			}
			if cb, _ := s.Get(ctx, c1.ID); cb.State != StateDone || cb.Score != 2 {
				t.Errorf("after survey: %+v", cb)
			}

			// The retry is claimed as attempt 2 once due.
			later, err := s.Claim(ctx, ClaimRequest{Now: now.Add(31 * time.Minute), Owner: "a", Lease: time.Minute, Limit: 10, DueBefore: now.Add(10 * time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			if len(later) != 2 || later[0].Callback.ID != c2.ID || later[0].N != 2 || later[1].Callback.ID != c3.ID {
				t.Errorf("later claim = %+v, want callback %d attempt 2, then %d", later, c2.ID, c3.ID)
			}

			if err := s.Cancel(ctx, c4.ID, now); err != nil {
				t.Errorf("cancel: %v", err)
			}
			if err := s.Cancel(ctx, c4.ID, now); !errors.Is(err, ErrFinished) {
				t.Errorf("cancel twice: %v, want ErrFinished", err)
			}
			if err := s.Cancel(ctx, 999, now); !errors.Is(err, ErrNotFound) {
				t.Errorf("cancel missing: %v, want ErrNotFound", err)
			}
			if _, err := s.Get(ctx, 999); !errors.Is(err, ErrNotFound) {
				t.Errorf("get missing: %v, want ErrNotFound", err)
			}
			list, err := s.List(ctx, Filter{States: []State{StateRunning}})
			if err != nil || len(list) != 2 {
				t.Errorf("running = %+v, %v; want 2", list, err)
			}
			list, err = s.List(ctx, Filter{Ticket: 4})
			if err != nil || len(list) != 1 || list[0].State != StateCancelled {
				t.Errorf("ticket 4 = %+v, %v; want one cancelled", list, err)
			}
			// A cancelled survey does not block a new one.
			if _, err := s.Schedule(ctx, Request{TicketID: 4, Kind: KindSurvey, Number: "444", Due: now.Add(time.Hour)}, now); err != nil {
				t.Errorf("survey after a cancelled manual callback: %v", err)
			}
		})
	}
}
