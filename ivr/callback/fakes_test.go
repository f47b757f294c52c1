package callback

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"hotline/telephony"
	"hotline/telephony/telephonytest"
)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

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

// fakeTickets records what the dialer did to tickets.
type fakeTickets struct {
	mu       sync.Mutex
	skip     map[int64]string
	surveys  map[int64][]Survey
	reopened map[int64]bool
	failed   map[int64][]string
	err      error // returned by RecordSurvey when set
}

func newFakeTickets() *fakeTickets {
	return &fakeTickets{skip: map[int64]string{}, surveys: map[int64][]Survey{}, reopened: map[int64]bool{}, failed: map[int64][]string{}}
}

func (f *fakeTickets) SkipReason(ctx context.Context, id int64, kind Kind) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r := f.skip[id]; r != "" {
		return r, nil
	}
	if kind == KindSurvey && len(f.surveys[id]) > 0 {
		return "surveyed", nil
	}
	return "", nil
}

func (f *fakeTickets) RecordSurvey(ctx context.Context, id int64, s Survey) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	if len(f.surveys[id]) > 0 {
		return ErrAlreadySurveyed
	}
	f.surveys[id] = append(f.surveys[id], s)
	if s.Score == 3 {
		f.reopened[id] = true
	}
	return nil
}

func (f *fakeTickets) CallbackFailed(ctx context.Context, id int64, note string, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failed[id] = append(f.failed[id], note)
	return nil
}

func (f *fakeTickets) snapshot(id int64) (surveys []Survey, reopened bool, failed []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Survey(nil), f.surveys[id]...), f.reopened[id], append([]string(nil), f.failed[id]...)
}

// shanghai is the centre's zone; tests pick times there.
var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return loc
}()

// monday10 is Monday 30 November 2026, 10:00 in Shanghai: inside the window.
var monday10 = time.Date(2026, 11, 30, 10, 0, 0, 0, shanghai)

func testConfig(t testing.TB) *Config {
	t.Helper()
	cfg := &Config{
		MaxConcurrent: 5,
		MaxPerSecond:  1000,
		Survey:        SurveyConfig{FirstDigit: 20 * time.Millisecond},
		DoNotCall:     []string{"+86 139-0000-0000"},
		DialTo:        "sip:{number}@127.0.0.1:5070",
	}
	if err := cfg.Init(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// phone is the far end of outbound calls: it answers and acts on each
// prompt, and keeps the calls for inspection.
type phone struct {
	onPlay func(c *telephonytest.Call, prompt string)
	mu     sync.Mutex
	calls  []*telephonytest.Call
}

func (p *phone) dial(ctx context.Context, req telephony.DialRequest) (telephony.Call, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := telephonytest.NewCall(telephony.Info{ID: fmt.Sprintf("out-%d", len(p.calls)+1), Direction: telephony.Outbound,
		Caller: req.CallerID, Dialled: req.To})
	c.OnPlay = p.onPlay
	p.calls = append(p.calls, c)
	return c, nil
}

func (p *phone) last() *telephonytest.Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.calls) == 0 {
		return nil
	}
	return p.calls[len(p.calls)-1]
}

// pressOn presses keys when prompt starts, one entry per time it plays
// on each call.
func pressOn(prompt string, keys ...string) func(c *telephonytest.Call, p string) {
	var mu sync.Mutex
	plays := map[*telephonytest.Call]int{}
	return func(c *telephonytest.Call, p string) {
		if p != prompt {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if i := plays[c]; i < len(keys) {
			c.Press(keys[i])
		}
		plays[c]++
	}
}

func failing(reason telephony.Reason, cause int) func(context.Context, telephony.DialRequest) (telephony.Call, error) {
	return func(ctx context.Context, req telephony.DialRequest) (telephony.Call, error) {
		return nil, &telephony.CallError{Op: "dial", Reason: reason, Cause: cause}
	}
}
