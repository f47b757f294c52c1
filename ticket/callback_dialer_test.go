package ticket_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"hotline/ticket"
)

func registerTicket(t testing.TB, s *ticket.Store, caller string) int64 {
	t.Helper()
	ref, err := s.Register(context.Background(), ticket.NewTicket{Channel: ticket.ChannelHotline, Caller: caller, Content: "test", Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return ref.TicketID
}

func TestCallbackDialerPrimitives(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	now := clk.Now()
	t1 := registerTicket(t, s, "13800000001")
	t2 := registerTicket(t, s, "13800000002")
	t3 := registerTicket(t, s, "13800000003")

	c1, err := s.ScheduleCallbackOnce(ctx, t1, ticket.CallbackSurvey, now, now.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ScheduleCallbackOnce(ctx, t1, ticket.CallbackSurvey, now, now.Add(time.Hour)); !errors.Is(err, ticket.ErrCallbackExists) {
		t.Errorf("second survey: %v, want ErrCallbackExists", err)
	}
	c2, _ := s.ScheduleCallbackOnce(ctx, t2, ticket.CallbackReturn, now, now.Add(time.Hour))
	c3, _ := s.ScheduleCallbackOnce(ctx, t3, ticket.CallbackManual, now.Add(time.Minute), now.Add(2*time.Hour))

	got, err := s.ClaimDueCallbacks(ctx, ticket.ClaimDue{Owner: "a", Now: now, Lease: time.Minute, Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != c2 || got[1].ID != c1 {
		t.Fatalf("claimed %+v, want %d then %d (deadline order; %d not yet due)", got, c2, c1, c3)
	}
	if got[0].Attempts != 1 || got[0].LeaseOwner != "a" || got[0].State != ticket.CallbackClaimed || got[0].TicketNumber == "" {
		t.Errorf("claimed %+v", got[0])
	}
	if more, err := s.ClaimDueCallbacks(ctx, ticket.ClaimDue{Owner: "b", Now: now.Add(5 * time.Minute), Lease: time.Minute, Limit: 5,
		DueBefore: now.Add(time.Hour)}); err != nil || len(more) != 0 {
		t.Errorf("claim with DueBefore = %+v, %v; want nothing (the manual one is due later)", more, err)
	}

	if err := s.RenewCallbackLease(ctx, c2, "a", 1, now.Add(2*time.Minute)); err != nil {
		t.Errorf("renew: %v", err)
	}
	if err := s.RenewCallbackLease(ctx, c2, "b", 1, now.Add(2*time.Minute)); !errors.Is(err, ticket.ErrLeaseLost) {
		t.Errorf("renew by another owner: %v, want ErrLeaseLost", err)
	}
	exp, err := s.ExpiredCallbacks(ctx, now.Add(90*time.Second), 10)
	if err != nil || len(exp) != 1 || exp[0].ID != c1 {
		t.Fatalf("expired = %+v, %v; want callback %d", exp, err, c1)
	}

	busy := ticket.AttemptResult{ID: c2, Owner: "a", Attempt: 1, Outcome: "busy", Cause: 486, Ended: now,
		State: ticket.CallbackPending, RetryAt: now.Add(30 * time.Minute)}
	if err := s.FinishCallbackAttempt(ctx, busy); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishCallbackAttempt(ctx, busy); !errors.Is(err, ticket.ErrLeaseLost) {
		t.Errorf("second finish: %v, want ErrLeaseLost", err)
	}
	v, err := s.CallbackByID(ctx, c2)
	if err != nil || v.State != ticket.CallbackPending || !v.NotBefore.Equal(now.Add(30*time.Minute)) || v.Outcome != "busy" || v.LeaseOwner != "" {
		t.Errorf("after busy: %+v, %v", v, err)
	}
	// Another dialer finishes the dead one's attempt as interrupted.
	if err := s.FinishCallbackAttempt(ctx, ticket.AttemptResult{ID: c1, Owner: "b", Attempt: 1, Outcome: "interrupted", Note: "lease expired",
		Ended: now, State: ticket.CallbackPending, RetryAt: now.Add(30 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	att, err := s.CallbackAttempts(ctx, c1)
	if err != nil || len(att) != 1 || att[0].Outcome != "interrupted" || att[0].Note != "lease expired" || att[0].FinishedAt == nil {
		t.Errorf("attempts of %d = %+v, %v", c1, att, err)
	}
	again, err := s.ClaimDueCallbacks(ctx, ticket.ClaimDue{Owner: "b", Now: now.Add(31 * time.Minute), Lease: time.Minute, Limit: 5})
	if err != nil || len(again) != 3 || again[0].ID != c2 || again[0].Attempts != 2 {
		t.Fatalf("later claim = %+v, %v; want callback %d attempt 2 first", again, err, c2)
	}
	if err := s.FinishCallbackAttempt(ctx, ticket.AttemptResult{ID: c1, Owner: "b", Attempt: 2, Outcome: "answered", Score: 1,
		Recording: "rec/callback-1-2.wav", Ended: now, State: ticket.CallbackDone}); err != nil {
		t.Fatal(err)
	}

	if err := s.CancelCallback(ctx, c3, "agent"); !errors.Is(err, ticket.ErrCallbackBusy) {
		t.Errorf("cancel a claimed callback: %v, want ErrCallbackBusy", err)
	}
	if err := s.CancelCallback(ctx, 999, "agent"); !errors.Is(err, ticket.ErrNotFound) {
		t.Errorf("cancel a missing callback: %v, want ErrNotFound", err)
	}
	if _, err := s.CallbackByID(ctx, 999); !errors.Is(err, ticket.ErrNotFound) {
		t.Errorf("missing callback: %v, want ErrNotFound", err)
	}
	list, err := s.ListCallbacks(ctx, ticket.CallbackFilter{States: []ticket.CallbackState{ticket.CallbackClaimed}})
	if err != nil || len(list) != 2 {
		t.Errorf("claimed list = %+v, %v; want 2", list, err)
	}
	if list, err := s.ListCallbacks(ctx, ticket.CallbackFilter{TicketID: t1}); err != nil || len(list) != 1 || list[0].State != ticket.CallbackDone {
		t.Errorf("ticket %d list = %+v, %v", t1, list, err)
	}
	// A new survey may follow once the first is finished (after 重办).
	if _, err := s.ScheduleCallbackOnce(ctx, t1, ticket.CallbackSurvey, now, now.Add(time.Hour)); err != nil {
		t.Errorf("survey after the first finished: %v", err)
	}
}

// TestClaimDueCallbacksAcrossStores claims from several Store handles on
// one file, as several dialer processes would: no callback twice.
func TestClaimDueCallbacksAcrossStores(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	clk := &clock{t: local(2026, 11, 30, 10, 0)}
	open := func() *ticket.Store {
		s, err := ticket.Open(ctx, path, ticket.WithClock(clk.Now), ticket.WithCalendar(testCalendar(t)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	seed := open()
	const total = 200
	for i := range total {
		id := registerTicket(t, seed, fmt.Sprintf("1380000%04d", i))
		if _, err := seed.ScheduleCallbackOnce(ctx, id, ticket.CallbackSurvey, clk.Now(), clk.Now().Add(time.Duration(i%13)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	by := map[int64]string{}
	var wg sync.WaitGroup
	for w := range 4 {
		s := open()
		owner := fmt.Sprintf("d%d", w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				got, err := s.ClaimDueCallbacks(ctx, ticket.ClaimDue{Owner: owner, Now: clk.Now(), Lease: time.Minute, Limit: 7})
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, c := range got {
					if prev, dup := by[c.ID]; dup {
						t.Errorf("callback %d claimed by %s and %s", c.ID, prev, owner)
					}
					by[c.ID] = owner
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(by) != total {
		t.Errorf("claimed %d, want %d", len(by), total)
	}
}
