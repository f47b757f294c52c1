package callback

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"hotline/telephony"
	"hotline/telephony/telephonytest"
)

// dialLog counts dials per (callback, attempt), from the dial request's args.
type dialLog struct {
	mu     sync.Mutex
	counts map[string]int
	byCB   map[string]int
}

func newDialLog() *dialLog { return &dialLog{counts: map[string]int{}, byCB: map[string]int{}} }

func (l *dialLog) add(cb, n string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.counts[cb+"/"+n]++
	l.byCB[cb]++
}

func TestStoreConcurrentClaims(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	seed := openLedger(t, path)
	const total = 300
	for i := range total {
		tid := seed.newTicket(t, fmt.Sprintf("1380000%04d", i))
		if _, err := seed.Schedule(ctx, Request{TicketID: tid, Kind: KindSurvey, Due: monday10.Add(time.Duration(i%17) * time.Hour)}, monday10); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	claimedBy := map[int64]string{}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 6 {
		s := openLedger(t, path) // its own connection pool, as another process would have
		owner := fmt.Sprintf("w%d", w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				got, err := s.Claim(ctx, ClaimRequest{Now: monday10, Owner: owner, Lease: time.Minute, Limit: 7})
				if err != nil {
					errs <- err
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, a := range got {
					if prev, dup := claimedBy[a.Callback.ID]; dup {
						errs <- fmt.Errorf("callback %d claimed by %s and %s", a.Callback.ID, prev, owner)
					}
					claimedBy[a.Callback.ID] = owner
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(claimedBy) != total {
		t.Errorf("claimed %d callbacks, want %d", len(claimedBy), total)
	}
}

func TestTwoDialersOneLedger(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	path := filepath.Join(t.TempDir(), "ledger.db")
	seed := openLedger(t, path)
	const total = 120
	var ticketIDs []int64
	for i := range total {
		tid := seed.newTicket(t, fmt.Sprintf("1380000%04d", i))
		ticketIDs = append(ticketIDs, tid)
		if _, err := seed.Schedule(ctx, Request{TicketID: tid, Kind: KindSurvey, Due: monday10.Add(72 * time.Hour)}, monday10); err != nil {
			t.Fatal(err)
		}
	}
	log := newDialLog()
	tickets := newFakeTickets()
	var finished atomic.Int32
	allDone := make(chan struct{})
	perDialer := map[string]*atomic.Int32{"a": {}, "b": {}}
	var wg sync.WaitGroup
	for _, owner := range []string{"a", "b"} {
		cfg := testConfig(t)
		cfg.MaxConcurrent = 8
		cfg.Poll = 10 * time.Millisecond
		engine := telephonytest.NewEngine()
		p := &phone{onPlay: pressOn(PromptSurveyQuestion, "1")}
		engine.DialFunc = func(ctx context.Context, req telephony.DialRequest) (telephony.Call, error) {
			log.add(req.Args[1], req.Args[2])
			return p.dial(ctx, req)
		}
		d, err := New(cfg, Deps{Store: openLedger(t, path), Tickets: tickets, Engine: engine, Now: newClock(monday10).Now, Owner: owner,
			Observe: func(a Attempt, r Result) {
				perDialer[owner].Add(1)
				if finished.Add(1) == total {
					close(allDone)
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.Run(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	select {
	case <-allDone:
	case <-time.After(60 * time.Second):
		t.Fatalf("only %d of %d callbacks finished", finished.Load(), total)
	}
	cancel()
	wg.Wait()

	for k, n := range log.counts {
		if n != 1 {
			t.Errorf("callback/attempt %s dialled %d times", k, n)
		}
	}
	if len(log.byCB) != total {
		t.Errorf("dialled %d callbacks, want %d", len(log.byCB), total)
	}
	for _, id := range ticketIDs {
		if s, _, _ := tickets.snapshot(id); len(s) != 1 {
			t.Errorf("ticket %d has %d surveys, want 1", id, len(s))
		}
	}
	t.Logf("dialer a finished %d, b %d", perDialer["a"].Load(), perDialer["b"].Load())
}

// TestRestartAfterKill runs a dialer in a child process, kills it with
// SIGKILL while its calls ring, and restarts: no attempt is dialled twice,
// and every callback still reaches its end.
func TestRestartAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	store := openLedger(t, path)
	start := time.Now()
	const total = 20
	for i := range total {
		tid := store.newTicket(t, fmt.Sprintf("1390000%04d", i))
		if _, err := store.Schedule(ctx, Request{TicketID: tid, Kind: KindSurvey,
			Due: start.Add(72 * time.Hour), NotBefore: start.Add(-time.Minute)}, start); err != nil {
			t.Fatal(err)
		}
	}

	child := exec.Command(os.Args[0], "-test.run=^TestRestartChild$", "-test.count=1")
	child.Env = append(os.Environ(), "CALLBACK_CHILD_LEDGER="+path)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	// Never leave the child behind, even when it fails to dial.
	watchdog := time.AfterFunc(30*time.Second, func() { _ = child.Process.Kill() })
	defer watchdog.Stop()
	defer func() { _ = child.Process.Kill() }()
	log := newDialLog()
	lines := bufio.NewScanner(out)
	const inFlight = 5 // the child's MaxConcurrent
	for seen := 0; seen < inFlight && lines.Scan(); {
		if f := strings.Fields(lines.Text()); len(f) == 3 && f[0] == "dial" {
			log.add(f[1], f[2])
			seen++
		}
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for lines.Scan() { // whatever it wrote before dying
		if f := strings.Fields(lines.Text()); len(f) == 3 && f[0] == "dial" {
			log.add(f[1], f[2])
		}
	}
	_ = child.Wait()
	if n := len(log.counts); n < inFlight {
		t.Fatalf("child dialled %d before the kill, want %d", n, inFlight)
	}

	running, err := store.List(ctx, Filter{States: []State{StateRunning}})
	if err != nil {
		t.Fatal(err)
	}
	if len(running) == 0 {
		t.Fatal("no attempt was running at the kill")
	}

	// Restart, with the clock past the dead dialer's leases.
	cfg := restartConfig(t)
	clk := newClock(start.Add(5 * time.Minute))
	engine := telephonytest.NewEngine()
	p := &phone{onPlay: pressOn(PromptSurveyQuestion, "1")}
	engine.DialFunc = func(ctx context.Context, req telephony.DialRequest) (telephony.Call, error) {
		log.add(req.Args[1], req.Args[2])
		return p.dial(ctx, req)
	}
	tickets := newFakeTickets()
	d, err := New(cfg, Deps{Store: store, Tickets: tickets, Engine: engine, Now: clk.Now, Owner: "restarted"})
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 20; round++ {
		if _, err := d.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		d.Wait()
		open, err := store.List(ctx, Filter{States: []State{StateScheduled, StateRunning}})
		if err != nil {
			t.Fatal(err)
		}
		if len(open) == 0 {
			break
		}
		clk.Set(clk.Now().Add(10 * time.Minute))
	}

	for k, n := range log.counts {
		if n != 1 {
			t.Errorf("callback/attempt %s dialled %d times", k, n)
		}
	}
	all, err := store.List(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	interrupted := 0
	for _, cb := range all {
		if cb.State != StateDone {
			t.Errorf("callback %d ended %s (%s), want done", cb.ID, cb.State, cb.Note)
		}
		if cb.Attempts == 2 {
			interrupted++
		}
	}
	if len(all) != total {
		t.Errorf("%d callbacks in the ledger, want %d", len(all), total)
	}
	if interrupted != len(running) {
		t.Errorf("%d callbacks needed a second attempt, want the %d interrupted", interrupted, len(running))
	}
	attempts, err := store.l.CallbackAttempts(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range attempts {
		if a.Owner == "child" && a.Outcome != string(OutcomeInterrupted) {
			t.Errorf("child's attempt %d/%d ended %q, want interrupted", a.CallbackID, a.Attempt, a.Outcome)
		}
	}
}

func restartConfig(t testing.TB) *Config {
	cfg := &Config{Windows: []string{"00:00-24:00"}, MaxConcurrent: 5, MaxPerSecond: 1000, Lease: time.Minute,
		RingTimeout: 30 * time.Second, Survey: SurveyConfig{FirstDigit: 20 * time.Millisecond}}
	if err := cfg.Init(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestRestartChild is the process TestRestartAfterKill kills: a dialer
// whose calls ring until it dies, announcing each dial on stdout.
func TestRestartChild(t *testing.T) {
	path := os.Getenv("CALLBACK_CHILD_LEDGER")
	if path == "" {
		t.Skip("run by TestRestartAfterKill")
	}
	engine := telephonytest.NewEngine()
	engine.DialFunc = func(ctx context.Context, req telephony.DialRequest) (telephony.Call, error) {
		fmt.Fprintf(os.Stdout, "dial %s %s\n", req.Args[1], req.Args[2])
		<-ctx.Done()
		return nil, &telephony.CallError{Op: "dial", Reason: telephony.ReasonShutdown}
	}
	d, err := New(restartConfig(t), Deps{Store: openLedger(t, path), Tickets: newFakeTickets(), Engine: engine, Owner: "child"})
	if err != nil {
		t.Fatal(err)
	}
	_ = d.Run(context.Background()) // until killed
}
