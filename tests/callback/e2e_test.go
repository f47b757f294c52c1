// Package callback_test runs the callback dialer end to end: real SIP and
// RTP on loopback between the embedded engine placing the callbacks and a
// second embedded engine acting as the callers' phones, over a real SQLite
// ledger.
package callback_test

import (
	"context"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"hotline/ivr/callback"
	"hotline/telephony"
	"hotline/telephony/sip"
	"hotline/ticket"
)

// The callers' numbers tell the phone how to behave.
const (
	numPress1      = "13800000001"
	numPress3      = "13800000003"
	numSilent      = "13800000000"
	numBusy        = "13800000486"
	numNoAnswer    = "13800000480"
	numUnreachable = "13800000404"
	numWrongThen2  = "13800000092"
)

// tone is d of a sine at freq Hz, 8 kHz samples.
func tone(freq float64, d time.Duration) []int16 {
	out := make([]int16, int(d.Seconds()*8000))
	for i := range out {
		out[i] = int16(6000 * math.Sin(2*math.Pi*freq*float64(i)/8000))
	}
	return out
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startEngine starts an embedded engine on a free loopback port.
func startEngine(t *testing.T, h telephony.Handler, numbers []string, opts ...sip.Option) *sip.Engine {
	t.Helper()
	dir := t.TempDir()
	cfg := sip.Config{UDP: "127.0.0.1:0", Numbers: numbers, PromptDir: filepath.Join(dir, "none"),
		RecordingDir: filepath.Join(dir, "rec"), ShutdownGrace: 2 * time.Second, NoResponseTimeout: 2 * time.Second}
	e, err := sip.New(cfg, quietLog(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Serve(ctx, h) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return e
}

// phone answers callbacks like the callers would, by the number dialled.
type phone struct {
	mu      sync.Mutex
	callers map[string][]string // number dialled -> caller IDs seen
}

func (p *phone) HandleCall(ctx context.Context, call telephony.Call) {
	info := call.Info()
	p.mu.Lock()
	p.callers[info.Dialled] = append(p.callers[info.Dialled], info.Caller)
	p.mu.Unlock()
	press := func(keys string) {
		if err := call.Answer(ctx); err != nil {
			return
		}
		for _, k := range keys {
			// A person listens a moment before pressing (and, after a wrong
			// key, to the service's answer before the next one).
			select {
			case <-time.After(700 * time.Millisecond):
			case <-ctx.Done():
				return
			}
			_ = call.SendDigits(ctx, string(k))
		}
		<-ctx.Done()
	}
	switch info.Dialled {
	case numPress1:
		press("1")
	case numPress3:
		press("3")
	case numWrongThen2:
		press("92")
	case numSilent:
		press("")
	case numBusy:
		_ = call.Hangup(ctx, telephony.ReasonBusy)
	case numUnreachable:
		_ = call.Hangup(ctx, telephony.ReasonUnreachable)
	case numNoAnswer:
		<-ctx.Done() // rings until the dialer gives up
	}
}

// tickets records what the dialer did to the tickets.
type tickets struct {
	mu      sync.Mutex
	surveys map[int64]callback.Survey
	failed  map[int64]string
}

func (t *tickets) SkipReason(ctx context.Context, id int64, kind callback.Kind) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, done := t.surveys[id]; done {
		return "surveyed", nil
	}
	return "", nil
}

func (t *tickets) RecordSurvey(ctx context.Context, id int64, s callback.Survey) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, done := t.surveys[id]; done {
		return callback.ErrAlreadySurveyed
	}
	t.surveys[id] = s
	return nil
}

func (t *tickets) CallbackFailed(ctx context.Context, id int64, note string, at time.Time) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failed[id] = note
	return nil
}

// ledger is a real ledger file with the callback store over it.
type ledger struct {
	*callback.LedgerStore
	l *ticket.Store
}

func openLedger(t *testing.T) *ledger {
	t.Helper()
	l, err := ticket.Open(context.Background(), filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return &ledger{LedgerStore: callback.NewLedgerStore(l, "test"), l: l}
}

// survey registers a ticket of caller and schedules its survey.
func (l *ledger) survey(t *testing.T, caller string, now time.Time) callback.Callback {
	t.Helper()
	ctx := context.Background()
	ref, err := l.l.Register(ctx, ticket.NewTicket{Channel: ticket.ChannelHotline, Caller: caller, Content: "test", Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	cb, err := l.Schedule(ctx, callback.Request{TicketID: ref.TicketID, Kind: callback.KindSurvey, Due: now.Add(72 * time.Hour)}, now)
	if err != nil {
		t.Fatal(err)
	}
	return cb
}

func TestCallbacksOverSIP(t *testing.T) {
	ctx := context.Background()
	ph := &phone{callers: map[string][]string{}}
	phones := startEngine(t, ph, []string{"*"})

	var opts []sip.Option
	for _, name := range callback.Prompts {
		opts = append(opts, sip.WithPrompt(name, tone(440, 400*time.Millisecond)))
	}
	service := startEngine(t, telephony.HandlerFunc(func(ctx context.Context, c telephony.Call) {}), []string{"96596"}, opts...)

	// Monday 30 November 2026, 10:00 in Shanghai: inside the window.
	loc, _ := time.LoadLocation("Asia/Shanghai")
	now := time.Date(2026, 11, 30, 10, 0, 0, 0, loc)
	cfg := &callback.Config{
		MaxConcurrent: 10, MaxPerSecond: 100,
		DialTo:      "sip:{number}@" + phones.Addr("udp"),
		RingTimeout: 1500 * time.Millisecond,
		Lease:       time.Minute,
		Survey:      callback.SurveyConfig{FirstDigit: 1500 * time.Millisecond},
	}
	if err := cfg.Init(); err != nil {
		t.Fatal(err)
	}
	store := openLedger(t)
	tk := &tickets{surveys: map[int64]callback.Survey{}, failed: map[int64]string{}}
	d, err := callback.New(cfg, callback.Deps{Store: store, Tickets: tk, Engine: service, Now: func() time.Time { return now },
		Log: quietLog(), Owner: "e2e"})
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		number      string
		wantState   callback.State
		wantOutcome callback.Outcome
		wantScore   int
		wantRetryIn time.Duration
	}{
		{number: numPress1, wantState: callback.StateDone, wantOutcome: callback.OutcomeAnswered, wantScore: 1},
		{number: numPress3, wantState: callback.StateDone, wantOutcome: callback.OutcomeAnswered, wantScore: 3},
		{number: numWrongThen2, wantState: callback.StateDone, wantOutcome: callback.OutcomeAnswered, wantScore: 2},
		{number: numSilent, wantState: callback.StateFailed, wantOutcome: callback.OutcomeNoInput},
		{number: numBusy, wantState: callback.StateScheduled, wantOutcome: callback.OutcomeBusy, wantRetryIn: 30 * time.Minute},
		// Rings past ring_timeout; the retry at 12:00 falls in the lunch break: 14:00.
		{number: numNoAnswer, wantState: callback.StateScheduled, wantOutcome: callback.OutcomeNoAnswer, wantRetryIn: 4 * time.Hour},
		{number: numUnreachable, wantState: callback.StateFailed, wantOutcome: callback.OutcomeUnreachable},
	}
	scheduled := map[string]callback.Callback{}
	for _, c := range cases {
		scheduled[c.number] = store.survey(t, c.number, now)
	}

	// One round places every callback at once, each on its own SIP dialog.
	n, err := d.Tick(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(cases) {
		t.Fatalf("started %d calls, want %d", n, len(cases))
	}
	d.Wait()

	for _, c := range cases {
		t.Run(c.number, func(t *testing.T) {
			got, err := store.Get(ctx, scheduled[c.number].ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != c.wantState || got.Outcome != c.wantOutcome || got.Score != c.wantScore {
				t.Errorf("state, outcome, score = %s, %s, %d; want %s, %s, %d (note %q)",
					got.State, got.Outcome, got.Score, c.wantState, c.wantOutcome, c.wantScore, got.Note)
			}
			if c.wantState == callback.StateScheduled {
				if in := got.NotBefore.Sub(now); in != c.wantRetryIn {
					t.Errorf("retry in %v, want %v", in, c.wantRetryIn)
				}
			}
			tid := scheduled[c.number].TicketID
			tk.mu.Lock()
			s, surveyed := tk.surveys[tid]
			_, flagged := tk.failed[tid]
			tk.mu.Unlock()
			if c.wantScore != 0 {
				if !surveyed || s.Score != c.wantScore {
					t.Errorf("ticket survey = %+v, want score %d", s, c.wantScore)
				} else if fi, err := os.Stat(s.Recording); err != nil || fi.Size() <= 44 {
					t.Errorf("recording %q: %v (size %v)", s.Recording, err, fi)
				}
			}
			if flagged != (c.wantState == callback.StateFailed) {
				t.Errorf("marked for an agent = %v, want %v", flagged, c.wantState == callback.StateFailed)
			}
			ph.mu.Lock()
			callers := ph.callers[c.number]
			ph.mu.Unlock()
			if len(callers) != 1 || callers[0] != "96596" {
				t.Errorf("the phone saw calls from %v, want one from 96596", callers)
			}
		})
	}
}
