package callback_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"hotline/ivr/callback"
	"hotline/telephony"
	"hotline/telephony/sip"
)

// countingEngine counts the outbound calls in progress, from the start of
// Dial to the end of the call, and keeps the peak.
type countingEngine struct {
	telephony.Engine
	active, peak atomic.Int64
	wg           sync.WaitGroup
}

func (e *countingEngine) Dial(ctx context.Context, req telephony.DialRequest) (telephony.Call, error) {
	n := e.active.Add(1)
	for p := e.peak.Load(); n > p && !e.peak.CompareAndSwap(p, n); p = e.peak.Load() {
	}
	call, err := e.Engine.Dial(ctx, req)
	if err != nil {
		e.active.Add(-1)
		return nil, err
	}
	c := &countedCall{Call: call}
	c.release = func() { c.once.Do(func() { e.active.Add(-1) }) }
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		<-call.Done() // ended by the far end
		c.release()
	}()
	return c, nil
}

// countedCall leaves the count once it has been hung up, so that the count
// never lags behind the end of the call.
type countedCall struct {
	telephony.Call
	once    sync.Once
	release func()
}

func (c *countedCall) Hangup(ctx context.Context, r telephony.Reason) error {
	err := c.Call.Hangup(ctx, r)
	c.release()
	return err
}

// TestLoadSIPp is the load run (not part of CI): the dialer places
// HOTLINE_LOAD calls to a SIPp UAS that answers and presses 1 after 1.5 s,
// with max_concurrent 50; it reports the peak of calls in progress and the
// calls per second reached.
//
//	HOTLINE_LOAD=500 go test -run TestLoadSIPp -v ./tests/callback/
//	HOTLINE_LOAD=1000 HOTLINE_LOAD_PRESS=200ms HOTLINE_LOAD_PROMPT=300ms go test -run TestLoadSIPp -v ./tests/callback/
func TestLoadSIPp(t *testing.T) {
	total, _ := strconv.Atoi(os.Getenv("HOTLINE_LOAD"))
	if total <= 0 {
		t.Skip("load run: set HOTLINE_LOAD=<calls>")
	}
	const concurrency = 50
	// HOTLINE_LOAD_PRESS is how long after answering the phone presses 1
	// (default 1.5s), HOTLINE_LOAD_PROMPT how long each prompt lasts
	// (default 2s): together they set how long a call holds a line.
	press, prompt := 1500*time.Millisecond, 2*time.Second
	if d, err := time.ParseDuration(os.Getenv("HOTLINE_LOAD_PRESS")); err == nil {
		press = d
	}
	if d, err := time.ParseDuration(os.Getenv("HOTLINE_LOAD_PROMPT")); err == nil {
		prompt = d
	}
	scenario := strings.Replace(sippPress("/usr/share/sip-tester/dtmf_2833_1.pcap"),
		`<pause milliseconds="300"/>`, fmt.Sprintf(`<pause milliseconds="%d"/>`, press.Milliseconds()), 1)
	scenario = strings.Replace(scenario, `<scenario name="answers and presses">`, `<scenario name="load">`, 1)
	addr, sippDone := startSIPpCalls(t, scenario, total)

	var opts []sip.Option
	for _, name := range callback.Prompts {
		opts = append(opts, sip.WithPrompt(name, tone(440, prompt)))
	}
	service := startEngine(t, telephony.HandlerFunc(func(ctx context.Context, c telephony.Call) {}), []string{"96596"}, opts...)
	engine := &countingEngine{Engine: service}
	cfg := &callback.Config{Windows: []string{"00:00-24:00"}, MaxConcurrent: concurrency, MaxPerSecond: 200,
		DialTo: "sip:{number}@" + addr, RingTimeout: 5 * time.Second, Lease: time.Minute, Poll: time.Second,
		Survey: callback.SurveyConfig{FirstDigit: 5 * time.Second}}
	if err := cfg.Init(); err != nil {
		t.Fatal(err)
	}
	store := openLedger(t)
	tk := &tickets{surveys: map[int64]callback.Survey{}, failed: map[int64]string{}}
	ctx := context.Background()
	now := time.Now()
	for i := range total {
		store.survey(t, fmt.Sprintf("1380%07d", i), now)
	}
	var finished atomic.Int64
	outcomes := map[callback.Outcome]int{}
	var mu sync.Mutex
	all := make(chan struct{})
	d, err := callback.New(cfg, callback.Deps{Store: store, Tickets: tk, Engine: engine, Log: quietLog(), Owner: "load",
		Observe: func(a callback.Attempt, r callback.Result) {
			mu.Lock()
			outcomes[r.Outcome]++
			mu.Unlock()
			if finished.Add(1) == int64(total) {
				close(all)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	select {
	case <-all:
	case <-time.After(10 * time.Minute):
		t.Errorf("only %d of %d callbacks finished", finished.Load(), total)
	}
	elapsed := time.Since(start)
	cancel()
	<-done
	engine.wg.Wait()
	if err := <-sippDone; err != nil {
		t.Logf("SIPp: %v", err)
	}
	t.Logf("%d callbacks in %v: %.1f calls/s; peak %d calls in progress (max_concurrent %d); outcomes %v",
		total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), engine.peak.Load(), concurrency, outcomes)
	if p := engine.peak.Load(); p > concurrency {
		t.Errorf("peak %d calls in progress, above max_concurrent %d", p, concurrency)
	}
	if outcomes[callback.OutcomeAnswered] != total {
		t.Errorf("answered %d of %d", outcomes[callback.OutcomeAnswered], total)
	}
}
