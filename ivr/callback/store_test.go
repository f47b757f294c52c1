package callback

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"hotline/ticket"
)

// ledgerFixture is a real ledger file with the Store over it.
type ledgerFixture struct {
	*LedgerStore
	l *ticket.Store
}

// openLedger opens (creating when needed) the ledger at path, or in a
// fresh file when path is "".
func openLedger(t testing.TB, path string) *ledgerFixture {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "ledger.db")
	}
	// These tests place their surveys themselves.
	l, err := ticket.Open(context.Background(), path, ticket.WithSurveyOnReply(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return &ledgerFixture{LedgerStore: NewLedgerStore(l, "test"), l: l}
}

// newTicket registers a ticket of caller number and returns its id.
func (f *ledgerFixture) newTicket(t testing.TB, number string) int64 {
	t.Helper()
	ref, err := f.l.Register(context.Background(), ticket.NewTicket{Channel: ticket.ChannelHotline, Caller: number, Content: "test", Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return ref.TicketID
}

// testStore is a Store and a way to make tickets it accepts.
type testStore struct {
	Store
	newTicket func(t testing.TB, number string) int64
}

// stores gives each conformance test a fresh store of every kind.
var stores = []struct {
	name string
	open func(t testing.TB) testStore
}{
	{"memory", func(testing.TB) testStore {
		var n int64
		return testStore{Store: NewMemStore(), newTicket: func(testing.TB, string) int64 { n++; return n }}
	}},
	{"ledger", func(t testing.TB) testStore {
		f := openLedger(t, "")
		return testStore{Store: f, newTicket: f.newTicket}
	}},
}

func TestStoreClaimAndFinish(t *testing.T) {
	ctx := context.Background()
	now := monday10
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			s := st.open(t)
			tk := func(n string) int64 { return s.newTicket(t, n) }
			sched := func(r Request) Callback {
				t.Helper()
				cb, err := s.Schedule(ctx, r, now)
				if err != nil {
					t.Fatal(err)
				}
				return cb
			}
			t1, t2, t3, t4 := tk("13800000001"), tk("13800000002"), tk("13800000003"), tk("13800000004")
			c1 := sched(Request{TicketID: t1, Kind: KindSurvey, Number: "13800000001", Due: now.Add(3 * time.Hour)})
			c2 := sched(Request{TicketID: t2, Kind: KindReturn, Number: "13800000002", Due: now.Add(time.Hour)})
			c3 := sched(Request{TicketID: t3, Kind: KindSurvey, Number: "13800000003", Due: now.Add(2 * time.Hour), NotBefore: now.Add(time.Minute)})
			c4 := sched(Request{TicketID: t4, Kind: KindManual, Number: "13800000004", Due: now.Add(50 * time.Hour)})
			if _, err := s.Schedule(ctx, Request{TicketID: t1, Kind: KindSurvey, Number: "13800000001", Due: now.Add(time.Hour)}, now); !errors.Is(err, ErrDuplicate) {
				t.Errorf("second survey: err = %v, want ErrDuplicate", err)
			}
			if _, err := s.Schedule(ctx, Request{TicketID: t1, Kind: "bogus", Number: "13800000001", Due: now}, now); err == nil {
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
			list, err = s.List(ctx, Filter{Ticket: t4})
			if err != nil || len(list) != 1 || list[0].State != StateCancelled {
				t.Errorf("ticket 4 = %+v, %v; want one cancelled", list, err)
			}
			// A cancelled survey does not block a new one.
			if _, err := s.Schedule(ctx, Request{TicketID: t4, Kind: KindSurvey, Number: "13800000004", Due: now.Add(time.Hour)}, now); err != nil {
				t.Errorf("survey after a cancelled manual callback: %v", err)
			}
		})
	}
}
