package ivr_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"hotline/ivr"
	"hotline/ivr/ivrtest"
	"hotline/telephony"
	"hotline/telephony/telephonytest"
)

var testLines = []ivr.Line{
	{Key: "1", Name: "客运", Department: "客运营销部"},
	{Key: "2", Name: "货运物流", Department: "物流部"},
	{Key: "3", Name: "房产物业", Department: "房产部"},
	{Key: "4", Name: "多种经营", Department: "安全统筹中心"},
	{Key: "5", Name: "汽车服务", Department: "汽车事业部"},
}

var testUnits = []ivr.Unit{
	{ID: "u1", Name: "客运营销部", Dial: "sip:u1@127.0.0.1", Code: "11"},
	{ID: "u2", Name: "物流部", Dial: "sip:u2@127.0.0.1", Code: "12"},
}

// testConfig is a configuration with short timeouts; the queue never
// offers a message unless a test sets it.
func testConfig() ivr.Config {
	return ivr.Config{
		FirstDigit: 30 * time.Millisecond, InterDigit: 30 * time.Millisecond,
		QueueOfferMessage: -1, AgentRingTimeout: time.Second, UnitRingTimeout: time.Second,
		Agents: []ivr.Agent{
			{ID: "a1", Name: "坐席一", Dial: "sip:a1@127.0.0.1"},
			{ID: "a2", Name: "坐席二", Dial: "sip:a2@127.0.0.1"},
		},
	}
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type harness struct {
	t      *testing.T
	ctx    context.Context
	engine *telephonytest.Engine
	ledger *ivrtest.Ledger
	svc    *ivr.Service
	clock  *clock
}

func newHarness(t *testing.T, cfg ivr.Config, cal ivrtest.Calendar, ledger *ivrtest.Ledger) *harness {
	t.Helper()
	return newHarnessOn(t, cfg, cal, ledger, telephonytest.NewEngine(), nil)
}

func newHarnessWith(t *testing.T, cfg ivr.Config, cal ivrtest.Calendar, engine *telephonytest.Engine, obs ivr.Observer) *harness {
	t.Helper()
	return newHarnessOn(t, cfg, cal, nil, engine, obs)
}

func newHarnessOn(t *testing.T, cfg ivr.Config, cal ivrtest.Calendar, ledger *ivrtest.Ledger, engine *telephonytest.Engine, obs ivr.Observer) *harness {
	t.Helper()
	if ledger == nil {
		ledger = ivrtest.NewLedger()
	}
	h := &harness{t: t, engine: engine, ledger: ledger,
		clock: &clock{t: time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)}}
	svc, err := ivr.New(cfg, ivr.Deps{Engine: h.engine, Ledger: ledger, Calendar: cal, Lines: testLines, Units: testUnits,
		Clock: h.clock.Now, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	h.svc = svc
	ctx, cancel := context.WithCancel(context.Background())
	h.ctx = ctx
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = h.engine.Serve(ctx, svc)
	}()
	t.Cleanup(func() {
		cancel()
		<-served
		svc.Wait()
	})
	return h
}

// ring delivers the call and returns a channel closed when its flow ended.
func (h *harness) ring(call *telephonytest.Call) <-chan struct{} {
	return h.engine.Ring(h.ctx, call)
}

// wait waits for a flow to end.
func (h *harness) wait(finished <-chan struct{}) {
	h.t.Helper()
	select {
	case <-finished:
	case <-time.After(10 * time.Second):
		h.t.Fatal("call flow did not end")
	}
}

func (h *harness) waitFor(what string, cond func(v ivrtest.View) bool) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !h.ledger.WaitFor(ctx, cond) {
		h.t.Fatalf("ledger never showed %s", what)
	}
}

func (h *harness) call(id, caller string) *telephonytest.Call {
	return telephonytest.NewCall(telephony.Info{ID: id, Caller: caller, Dialled: "96596"})
}

// nextEvent waits for an event of the given type.
func nextEvent(t *testing.T, events <-chan ivr.Event, typ string) ivr.Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-events:
			if e.Type == typ {
				return e
			}
		case <-timeout:
			t.Fatalf("no %s event", typ)
		}
	}
}
