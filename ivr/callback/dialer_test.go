package callback

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"hotline/telephony"
	"hotline/telephony/telephonytest"
)

type harness struct {
	newTicket func(t testing.TB, number string) int64
	cfg       *Config
	clock     *clock
	store     Store
	tickets   *fakeTickets
	engine    *telephonytest.Engine
	dialer    *Dialer
}

func newHarness(t *testing.T, cfg *Config, cal Calendar) *harness {
	t.Helper()
	return newHarnessOn(t, cfg, cal, stores[0].open(t))
}

func newHarnessOn(t *testing.T, cfg *Config, cal Calendar, st testStore) *harness {
	t.Helper()
	h := &harness{cfg: cfg, clock: newClock(monday10), store: st.Store, newTicket: st.newTicket, tickets: newFakeTickets(), engine: telephonytest.NewEngine()}
	d, err := New(cfg, Deps{Store: h.store, Tickets: h.tickets, Engine: h.engine, Calendar: cal, Now: h.clock.Now, Owner: "t"})
	if err != nil {
		t.Fatal(err)
	}
	h.dialer = d
	return h
}

func (h *harness) schedule(t *testing.T, r Request) Callback {
	t.Helper()
	if r.Kind == "" {
		r.Kind = KindSurvey
	}
	if r.Number == "" {
		r.Number = "13812345678"
	}
	if r.Due.IsZero() {
		r.Due = h.clock.Now().Add(72 * time.Hour)
	}
	if r.TicketID == 0 {
		r.TicketID = h.newTicket(t, r.Number)
	}
	cb, err := h.store.Schedule(context.Background(), r, h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return cb
}

// round runs one tick and waits for the attempts it started.
func (h *harness) round(t *testing.T) int {
	t.Helper()
	n, err := h.dialer.Tick(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	h.dialer.Wait()
	return n
}

func (h *harness) get(t *testing.T, id int64) Callback {
	t.Helper()
	cb, err := h.store.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return cb
}

func TestDialerOutcomes(t *testing.T) {
	intro := []string{PromptSurveyIntro, PromptSurveyQuestion}
	tests := []struct {
		name         string
		onPlay       func(c *telephonytest.Call, prompt string)
		dial         func(context.Context, telephony.DialRequest) (telephony.Call, error)
		ticketSkip   string
		number       string
		wantDialled  int
		wantOutcome  Outcome
		wantState    State
		wantScore    int
		wantReopened bool
		wantFlagged  bool          // marked for an agent
		wantRetryIn  time.Duration // NotBefore - now when rescheduled
		wantPlayed   []string
	}{
		{name: "answers and presses 1", onPlay: pressOn(PromptSurveyQuestion, "1"), wantDialled: 1,
			wantOutcome: OutcomeAnswered, wantState: StateDone, wantScore: 1,
			wantPlayed: append(intro, PromptSurveyThanks)},
		{name: "answers and presses 3 reopens", onPlay: pressOn(PromptSurveyQuestion, "3"), wantDialled: 1,
			wantOutcome: OutcomeAnswered, wantState: StateDone, wantScore: 3, wantReopened: true,
			wantPlayed: append(intro, PromptSurveyReopen)},
		{name: "presses during the intro", onPlay: pressOn(PromptSurveyIntro, "2"), wantDialled: 1,
			wantOutcome: OutcomeAnswered, wantState: StateDone, wantScore: 2},
		{name: "wrong key then 2", onPlay: pressOn(PromptSurveyQuestion, "7", "2"), wantDialled: 1,
			wantOutcome: OutcomeAnswered, wantState: StateDone, wantScore: 2,
			wantPlayed: append(intro, PromptSurveyInvalid, PromptSurveyQuestion, PromptSurveyThanks)},
		{name: "silence then 1 on the repeat", onPlay: pressOn(PromptSurveyQuestion, "", "1"), wantDialled: 1,
			wantOutcome: OutcomeAnswered, wantState: StateDone, wantScore: 1,
			wantPlayed: append(intro, PromptSurveyRepeat, PromptSurveyQuestion, PromptSurveyThanks)},
		{name: "no key", onPlay: func(*telephonytest.Call, string) {}, wantDialled: 1,
			wantOutcome: OutcomeNoInput, wantState: StateFailed, wantFlagged: true,
			wantPlayed: append(intro, PromptSurveyRepeat, PromptSurveyQuestion, PromptSurveyGoodbye)},
		{name: "hangs up during the question", onPlay: func(c *telephonytest.Call, p string) {
			if p == PromptSurveyQuestion {
				c.HangupRemote()
			}
		}, wantDialled: 1, wantOutcome: OutcomeHungUp, wantState: StateFailed, wantFlagged: true, wantPlayed: intro},
		{name: "busy", dial: failing(telephony.ReasonBusy, 486), wantDialled: 1,
			wantOutcome: OutcomeBusy, wantState: StateScheduled, wantRetryIn: 30 * time.Minute},
		{name: "no answer", dial: failing(telephony.ReasonNoAnswer, 480), wantDialled: 1,
			wantOutcome: OutcomeNoAnswer, wantState: StateScheduled, wantRetryIn: 4 * time.Hour}, // 12:00 lands in lunch: 14:00
		{name: "unreachable", dial: failing(telephony.ReasonUnreachable, 404), wantDialled: 1,
			wantOutcome: OutcomeUnreachable, wantState: StateFailed, wantFlagged: true},
		{name: "network timeout", dial: failing(telephony.ReasonTimeout, 408), wantDialled: 1,
			wantOutcome: OutcomeTimeout, wantState: StateScheduled, wantRetryIn: time.Hour},
		{name: "do-not-call", number: "13900000000", wantOutcome: OutcomeSkipped, wantState: StateSkipped},
		{name: "不需回访", ticketSkip: "不需回访", wantOutcome: OutcomeSkipped, wantState: StateSkipped},
	}
	for _, st := range stores {
		for _, tt := range tests {
			t.Run(st.name+"/"+tt.name, func(t *testing.T) {
				h := newHarnessOn(t, testConfig(t), nil, st.open(t))
				p := &phone{onPlay: tt.onPlay}
				h.engine.DialFunc = p.dial
				if tt.dial != nil {
					h.engine.DialFunc = tt.dial
				}
				number := tt.number
				if number == "" {
					number = "13812345678"
				}
				tid := h.newTicket(t, number)
				h.tickets.skip[tid] = tt.ticketSkip
				cb := h.schedule(t, Request{TicketID: tid, Number: number})

				h.round(t)

				dialled := h.engine.Dialled()
				if len(dialled) != tt.wantDialled {
					t.Fatalf("dialled %d times, want %d", len(dialled), tt.wantDialled)
				}
				if len(dialled) > 0 {
					if got := dialled[0]; got.To != "sip:13812345678@127.0.0.1:5070" || got.CallerID != "96596" {
						t.Errorf("dialled %q as %q, want sip:13812345678@127.0.0.1:5070 as 96596", got.To, got.CallerID)
					}
				}
				got := h.get(t, cb.ID)
				if got.Outcome != tt.wantOutcome || got.State != tt.wantState {
					t.Errorf("outcome, state = %s, %s; want %s, %s (note %q)", got.Outcome, got.State, tt.wantOutcome, tt.wantState, got.Note)
				}
				if got.Score != tt.wantScore {
					t.Errorf("score = %d, want %d", got.Score, tt.wantScore)
				}
				if tt.wantState == StateScheduled {
					if in := got.NotBefore.Sub(monday10); in != tt.wantRetryIn {
						t.Errorf("retry in %v, want %v", in, tt.wantRetryIn)
					}
				}
				surveys, reopened, flagged := h.tickets.snapshot(tid)
				if tt.wantScore != 0 {
					wantRec := fmt.Sprintf("fake/callback-%d-1.wav", cb.ID)
					if len(surveys) != 1 || surveys[0].Score != tt.wantScore || surveys[0].Recording != wantRec || !surveys[0].At.Equal(monday10) {
						t.Errorf("surveys on ticket = %+v, want one scored %d with recording %s", surveys, tt.wantScore, wantRec)
					}
				} else if len(surveys) != 0 {
					t.Errorf("surveys on ticket = %+v, want none", surveys)
				}
				if reopened != tt.wantReopened {
					t.Errorf("reopened = %v, want %v", reopened, tt.wantReopened)
				}
				if (len(flagged) > 0) != tt.wantFlagged {
					t.Errorf("marked for agent: %q, want %v", flagged, tt.wantFlagged)
				}
				if tt.wantPlayed != nil {
					c := p.last()
					if got := c.Played(); !slices.Equal(got, tt.wantPlayed) {
						t.Errorf("played %v, want %v", got, tt.wantPlayed)
					}
					if c.End().Reason == "" {
						t.Error("the call was left up")
					}
				}
			})
		}
	}
}

func TestDialerRetriesUpToTheLimit(t *testing.T) {
	h := newHarness(t, testConfig(t), nil)
	h.engine.DialFunc = failing(telephony.ReasonBusy, 486)
	cb := h.schedule(t, Request{TicketID: 1})
	for i := range 5 {
		h.round(t)
		got := h.get(t, cb.ID)
		if got.State != StateScheduled {
			break
		}
		if i > 5 {
			t.Fatal("never gave up")
		}
		h.clock.Set(got.NotBefore)
	}
	got := h.get(t, cb.ID)
	if got.State != StateFailed || got.Attempts != 3 {
		t.Errorf("state, attempts = %s, %d; want failed, 3", got.State, got.Attempts)
	}
	if n := len(h.engine.Dialled()); n != 3 {
		t.Errorf("dialled %d times, want 3", n)
	}
	if _, _, flagged := h.tickets.snapshot(1); len(flagged) != 1 || !strings.Contains(flagged[0], "3 attempts") {
		t.Errorf("ticket marks = %q, want one saying 3 attempts", flagged)
	}
}

func TestDialerGivesUpBeforeTheDeadline(t *testing.T) {
	h := newHarness(t, testConfig(t), nil)
	h.engine.DialFunc = failing(telephony.ReasonNoAnswer, 480)
	// Due at 17:00: a retry at 14:00 would leave less than the 4h margin.
	cb := h.schedule(t, Request{TicketID: 1, Due: monday10.Add(7 * time.Hour)})
	h.round(t)
	got := h.get(t, cb.ID)
	if got.State != StateFailed {
		t.Fatalf("state = %s, want failed", got.State)
	}
	if _, _, flagged := h.tickets.snapshot(1); len(flagged) != 1 || !strings.Contains(flagged[0], "deadline") {
		t.Errorf("ticket marks = %q, want one about the deadline", flagged)
	}
}

func TestDialerOneSurveyPerTicket(t *testing.T) {
	h := newHarness(t, testConfig(t), nil)
	if _, err := h.store.Schedule(context.Background(), Request{TicketID: 1, Kind: KindSurvey, Number: "1", Due: monday10.Add(time.Hour)}, monday10); err != nil {
		t.Fatal(err)
	}
	_, err := h.store.Schedule(context.Background(), Request{TicketID: 1, Kind: KindSurvey, Number: "1", Due: monday10.Add(time.Hour)}, monday10)
	if !errors.Is(err, ErrDuplicate) {
		t.Errorf("second survey: err = %v, want ErrDuplicate", err)
	}
}

func TestDialerDeadlineOrder(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxConcurrent = 1
	h := newHarness(t, cfg, nil)
	p := &phone{onPlay: pressOn(PromptSurveyQuestion, "1")}
	h.engine.DialFunc = p.dial
	late := h.schedule(t, Request{TicketID: 1, Number: "111", Due: monday10.Add(50 * time.Hour)})
	early := h.schedule(t, Request{TicketID: 2, Number: "222", Due: monday10.Add(10 * time.Hour)})
	notYet := h.schedule(t, Request{TicketID: 3, Number: "333", Due: monday10.Add(5 * time.Hour), NotBefore: monday10.Add(time.Minute)})
	for range 3 {
		h.round(t)
	}
	var got []string
	for _, r := range h.engine.Dialled() {
		got = append(got, r.To)
	}
	want := []string{"sip:222@127.0.0.1:5070", "sip:111@127.0.0.1:5070"}
	if !slices.Equal(got, want) {
		t.Errorf("dialled %v, want %v", got, want)
	}
	for id, want := range map[int64]State{late.ID: StateDone, early.ID: StateDone, notYet.ID: StateScheduled} {
		if got := h.get(t, id).State; got != want {
			t.Errorf("callback %d: state %s, want %s", id, got, want)
		}
	}
}

func TestDialerCallingWindow(t *testing.T) {
	// Thursday 1 October 2026 is a public holiday (国庆节).
	holidays := CalendarFunc(func(d time.Time) bool {
		y, m, day := d.Date()
		return (y == 2026 && m == time.October && day <= 7) || d.Weekday() == time.Saturday || d.Weekday() == time.Sunday
	})
	at := func(month time.Month, day, hour, minute int) time.Time {
		return time.Date(2026, month, day, hour, minute, 0, 0, shanghai)
	}
	tests := []struct {
		name       string
		now        time.Time
		due        time.Time
		wantDialed bool
	}{
		{name: "morning window", now: at(11, 30, 9, 0), due: at(12, 3, 9, 0), wantDialed: true},
		{name: "before opening", now: at(11, 30, 8, 59), due: at(12, 3, 9, 0)},
		{name: "lunch", now: at(11, 30, 12, 0), due: at(12, 3, 9, 0)},
		{name: "afternoon", now: at(11, 30, 19, 59), due: at(12, 3, 9, 0), wantDialed: true},
		{name: "evening", now: at(11, 30, 20, 0), due: at(12, 3, 9, 0)},
		{name: "holiday, deadline can wait", now: at(10, 2, 10, 0), due: at(10, 12, 9, 0)},
		{name: "holiday, deadline cannot wait", now: at(10, 2, 10, 0), due: at(10, 8, 11, 0), wantDialed: true},
		{name: "holiday evening, even when urgent", now: at(10, 2, 21, 0), due: at(10, 3, 11, 0)},
		{name: "saturday, deadline monday evening", now: at(11, 28, 10, 0), due: at(11, 30, 19, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, testConfig(t), holidays)
			h.engine.DialFunc = failing(telephony.ReasonBusy, 486)
			h.clock.Set(tt.now)
			h.schedule(t, Request{TicketID: 1, Due: tt.due, NotBefore: tt.now.Add(-time.Hour)})
			h.round(t)
			if got := len(h.engine.Dialled()) > 0; got != tt.wantDialed {
				t.Errorf("dialled = %v, want %v", got, tt.wantDialed)
			}
		})
	}
}

func TestWindowEarliest(t *testing.T) {
	cfg := testConfig(t)
	holidays := CalendarFunc(func(d time.Time) bool { return d.Weekday() == time.Saturday || d.Weekday() == time.Sunday })
	w := window{cfg: cfg, cal: holidays}
	at := func(day, hour, minute int) time.Time { return time.Date(2026, 11, day, hour, minute, 0, 0, shanghai) }
	tests := []struct {
		name string
		from time.Time
		due  time.Time
		want time.Time
	}{
		{name: "inside", from: at(30, 10, 30), due: at(30, 23, 0), want: at(30, 10, 30)},
		{name: "lunch to afternoon", from: at(30, 12, 30), due: at(30, 23, 0), want: at(30, 14, 0)},
		{name: "evening to next morning", from: at(30, 20, 30), due: time.Date(2026, 12, 3, 0, 0, 0, 0, shanghai), want: time.Date(2026, 12, 1, 9, 0, 0, 0, shanghai)},
		{name: "friday evening waits for monday", from: at(27, 21, 0), due: at(30, 20, 0), want: at(30, 9, 0)},
		{name: "friday evening, due monday morning: saturday", from: at(27, 21, 0), due: at(30, 10, 0), want: at(28, 9, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := w.earliest(tt.from, tt.due); !got.Equal(tt.want) {
				t.Errorf("earliest(%v) = %v, want %v", tt.from, got, tt.want)
			}
		})
	}
}

func TestDialerConcurrencyLimit(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxConcurrent = 3
	h := newHarness(t, cfg, nil)
	var active, peak atomic.Int32
	release := make(chan struct{})
	h.engine.DialFunc = func(ctx context.Context, req telephony.DialRequest) (telephony.Call, error) {
		n := active.Add(1)
		defer active.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		return nil, &telephony.CallError{Op: "dial", Reason: telephony.ReasonUnreachable}
	}
	for i := range 10 {
		h.schedule(t, Request{TicketID: int64(i + 1)})
	}
	n, err := h.dialer.Tick(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("first tick started %d, want 3", n)
	}
	if n, _ := h.dialer.Tick(context.Background()); n != 0 {
		t.Errorf("tick with every line busy started %d, want 0", n)
	}
	close(release)
	h.dialer.Wait()
	for range 5 {
		h.round(t)
	}
	if got := peak.Load(); got > 3 {
		t.Errorf("peak concurrency %d, want at most 3", got)
	}
	if got := len(h.engine.Dialled()); got != 10 {
		t.Errorf("dialled %d, want 10", got)
	}
}

func TestDialerRateLimit(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxPerSecond = 1
	h := newHarness(t, cfg, nil)
	h.engine.DialFunc = failing(telephony.ReasonUnreachable, 404)
	for i := range 3 {
		h.schedule(t, Request{TicketID: int64(i + 1)})
	}
	// With a burst of one, a tick claims one callback: the others stay
	// scheduled (unleased) rather than waiting on the limiter while claimed.
	if n := h.round(t); n != 1 {
		t.Errorf("tick started %d, want 1", n)
	}
}

func TestDialerReturnCallConnectsAgent(t *testing.T) {
	cfg := testConfig(t)
	h := newHarness(t, cfg, nil)
	var mu sync.Mutex
	var got []Callback
	h.dialer.deps.Agents = AgentConnectorFunc(func(ctx context.Context, call telephony.Call, cb Callback) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, cb)
		return nil
	})
	p := &phone{}
	h.engine.DialFunc = p.dial
	cb := h.schedule(t, Request{TicketID: 9, TicketNo: "96596-20261129-0009", Kind: KindReturn})
	h.round(t)
	if len(got) != 1 || got[0].TicketNo != "96596-20261129-0009" {
		t.Fatalf("agent got %+v, want the callback of ticket 96596-20261129-0009", got)
	}
	if s := h.get(t, cb.ID); s.State != StateDone || s.Outcome != OutcomeAnswered {
		t.Errorf("state, outcome = %s, %s; want done, answered", s.State, s.Outcome)
	}
	if c := p.last(); c.End().Reason != telephony.ReasonNormal {
		t.Errorf("call end = %+v, want hung up normally", c.End())
	}
}

func TestDialerRecoversExpiredAttempts(t *testing.T) {
	h := newHarness(t, testConfig(t), nil)
	cb := h.schedule(t, Request{TicketID: 1})
	// Another dialer claimed it and died.
	claimed, err := h.store.Claim(context.Background(), ClaimRequest{Now: monday10, Owner: "dead", Lease: time.Minute, Limit: 10})
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v, %d", err, len(claimed))
	}
	h.clock.Set(monday10.Add(30 * time.Second))
	h.round(t)
	if got := h.get(t, cb.ID); got.State != StateRunning {
		t.Fatalf("state while the lease runs = %s, want running", got.State)
	}
	h.clock.Set(monday10.Add(2 * time.Minute))
	h.round(t)
	got := h.get(t, cb.ID)
	if got.State != StateScheduled || got.Outcome != OutcomeInterrupted {
		t.Fatalf("state, outcome = %s, %s; want scheduled, interrupted", got.State, got.Outcome)
	}
	if want := monday10.Add(2*time.Minute + 30*time.Minute); !got.NotBefore.Equal(want) {
		t.Errorf("retry at %v, want %v", got.NotBefore, want)
	}
	if n := len(h.engine.Dialled()); n != 0 {
		t.Errorf("dialled %d times, want 0", n)
	}
}

func TestDialerShutdownInterruptsCalls(t *testing.T) {
	h := newHarness(t, testConfig(t), nil)
	answered := make(chan struct{})
	p := &phone{onPlay: func(c *telephonytest.Call, prompt string) {
		if prompt == PromptSurveyIntro {
			close(answered)
		}
	}}
	h.engine.DialFunc = p.dial
	h.cfg.Survey.FirstDigit = time.Hour
	cb := h.schedule(t, Request{TicketID: 1})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- h.dialer.Run(ctx) }()
	<-answered
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := h.get(t, cb.ID)
	if got.State != StateScheduled || got.Outcome != OutcomeInterrupted {
		t.Errorf("state, outcome = %s, %s; want scheduled, interrupted", got.State, got.Outcome)
	}
	if c := p.last(); c.End().Reason == "" {
		t.Error("call left up after shutdown")
	}
}

func TestConfigInit(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{name: "defaults", cfg: Config{}},
		{name: "bad window", cfg: Config{Windows: []string{"12:00-09:00"}}, wantErr: "ends before it starts"},
		{name: "bad clock", cfg: Config{Windows: []string{"9-12"}}, wantErr: "bad time"},
		{name: "dial_to without number", cfg: Config{DialTo: "sip:x@y"}, wantErr: "{number}"},
		{name: "unknown outcome", cfg: Config{RetryAfter: map[Outcome]time.Duration{"sleepy": time.Hour}}, wantErr: "unknown outcome"},
		{name: "lease shorter than a ring", cfg: Config{Lease: 10 * time.Second}, wantErr: "too short"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Init()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestDialerRunKeepsClaimingUnderTheRate(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxConcurrent = 50
	cfg.MaxPerSecond = 40 // a burst of 40, then one every 25 ms
	cfg.Poll = time.Hour  // only the dialer's own loop may pick the rest
	h := newHarness(t, cfg, nil)
	h.engine.DialFunc = failing(telephony.ReasonUnreachable, 404)
	const total = 60
	for i := range total {
		h.schedule(t, Request{TicketID: int64(i + 1)})
	}
	var finished atomic.Int32
	all := make(chan struct{})
	h.dialer.deps.Observe = func(Attempt, Result) {
		if finished.Add(1) == total {
			close(all)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- h.dialer.Run(ctx) }()
	select {
	case <-all:
	case <-time.After(30 * time.Second):
		t.Errorf("only %d of %d callbacks placed", finished.Load(), total)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
