package ivr_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"hotline/ivr"
	"hotline/ivr/ivrtest"
	"hotline/telephony"
	"hotline/telephony/telephonytest"
)

// phones are the fake agents' and units' phones behind the fake engine.
type phones struct {
	mu       sync.Mutex
	fail     map[string]error         // dial target → failure; absent answers
	hold     map[string]chan struct{} // dial target → held until closed
	dialling chan string              // each target as its dial starts
	answered chan *telephonytest.Call // each answered outbound call
}

func newPhones() *phones {
	return &phones{fail: make(map[string]error), hold: make(map[string]chan struct{}),
		dialling: make(chan string, 16), answered: make(chan *telephonytest.Call, 16)}
}

func (p *phones) set(to string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fail[to] = err
}

func (p *phones) dial(ctx context.Context, req telephony.DialRequest) (telephony.Call, error) {
	p.dialling <- req.To
	p.mu.Lock()
	err, hold := p.fail[req.To], p.hold[req.To]
	p.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return nil, &telephony.CallError{Op: "dial", Reason: telephony.ReasonNoAnswer, Err: ctx.Err()}
		}
	}
	if err != nil {
		return nil, err
	}
	c := telephonytest.NewCall(telephony.Info{ID: "out-" + req.To, Direction: telephony.Outbound, Dialled: req.To, Args: req.Args})
	_ = c.Answer(ctx)
	p.answered <- c
	return c, nil
}

func (p *phones) nextAnswered(t *testing.T) *telephonytest.Call {
	t.Helper()
	select {
	case c := <-p.answered:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no outbound call answered")
		return nil
	}
}

func busy(op string) error {
	return &telephony.CallError{Op: op, Reason: telephony.ReasonBusy, Cause: 486}
}

// queueCaller presses 0 and then waits in the queue until hung up.
func queueCaller(h *harness, id string) *telephonytest.Call {
	call := h.call(id, "13812345678")
	call.PromptLength = 2 * time.Millisecond
	call.OnPlay = func(c *telephonytest.Call, prompt string) {
		if prompt == "menu" {
			c.Press("0")
		}
	}
	return call
}

// answered is caller c1 queued for agent a1 once a1 has answered: the
// caller's leg, the flow's end, the agent's leg and the screen-pop.
type answered struct {
	call     *telephonytest.Call
	finished <-chan struct{}
	agent    *telephonytest.Call
	pop      ivr.Event
	events   <-chan ivr.Event // the bus, for the events that follow the pop
}

// toAgent points the engine's dialling at p, logs agent a1 in, queues
// caller c1 and returns once a1 answered and the screen-pop was published.
func toAgent(t *testing.T, h *harness, p *phones) answered {
	t.Helper()
	h.engine.DialFunc = p.dial
	if err := h.svc.Login(h.ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	events := h.svc.Bus().Subscribe(h.ctx)
	call := queueCaller(h, "c1")
	finished := h.ring(call)
	agent := p.nextAnswered(t)
	return answered{call: call, finished: finished, agent: agent, pop: nextEvent(t, events, ivr.EventScreenPop), events: events}
}

func TestAgentAnswersScreenPop(t *testing.T) {
	h := newHarness(t, testConfig(), ivrtest.Calendar{}, nil)
	p := newPhones()
	a := toAgent(t, h, p)
	call, finished, agent, pop := a.call, a.finished, a.agent, a.pop
	if pop.Agent != "a1" || pop.CallID != "c1" || pop.Ticket == nil || pop.Ticket.Caller != "13812345678" {
		t.Fatalf("screen-pop %+v, want agent a1, call c1 and the caller's ticket", pop)
	}
	h.waitFor("ticket assigned", func(v ivrtest.View) bool { return v.Assigned(pop.Ticket.ID) == "a1" })
	if got := agentState(h.svc, "a1"); got != ivr.AgentTalking {
		t.Errorf("a1 is %s while talking", got)
	}
	agent.HangupRemote()
	h.wait(finished)

	if got := call.Played(); got[len(got)-1] != "goodbye" {
		t.Errorf("caller heard %v, want goodbye last", got)
	}
	if got := agentState(h.svc, "a1"); got != ivr.AgentAvailable {
		t.Errorf("a1 is %s after the call, want available", got)
	}
	h.ledger.Read(func(v ivrtest.View) {
		rec, _ := v.Call("c1")
		if rec.Closed == nil || rec.Closed.Agent != "a1" || rec.Closed.Reason != telephony.ReasonNormal {
			t.Errorf("call record %+v, want closed normally with agent a1", rec.Closed)
		}
		var kinds []string
		for _, r := range v.Recordings(rec.Ticket) {
			kinds = append(kinds, r.Kind)
		}
		slices.Sort(kinds)
		if want := []string{ivr.RecordingCall, ivr.RecordingConversation}; !slices.Equal(kinds, want) {
			t.Errorf("recordings %v, want %v", kinds, want)
		}
	})
}

func agentState(s *ivr.Service, id string) string {
	for _, a := range s.Agents() {
		if a.ID == id {
			return a.State
		}
	}
	return ""
}

// TestLongestIdleAgentFirst: the agent idle longest is rung first; when it
// does not answer, the next one is.
func TestLongestIdleAgentFirst(t *testing.T) {
	h := newHarness(t, testConfig(), ivrtest.Calendar{}, nil)
	p := newPhones()
	h.engine.DialFunc = p.dial
	p.set("sip:a2@127.0.0.1", &telephony.CallError{Op: "dial", Reason: telephony.ReasonNoAnswer, Cause: 487})
	for _, id := range []string{"a2", "a1"} {
		if err := h.svc.Login(h.ctx, id); err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(time.Minute)
	}
	call := queueCaller(h, "c1")
	finished := h.ring(call)
	p.nextAnswered(t)
	call.HangupRemote()
	h.wait(finished)

	var got []string
	for _, d := range h.engine.Dialled() {
		got = append(got, d.To)
	}
	if want := []string{"sip:a2@127.0.0.1", "sip:a1@127.0.0.1"}; !slices.Equal(got, want) {
		t.Errorf("dialled %v, want %v", got, want)
	}
	if d := h.engine.Dialled()[0]; d.RingTimeout != time.Second || d.CallerID != "96596" {
		t.Errorf("agent dial %+v, want the configured ring timeout and caller id", d)
	}
}

func TestTransferToUnit(t *testing.T) {
	tests := []struct {
		name        string
		unitErr     error
		stay        bool
		wantOutcome string
		wantAgentUp bool
	}{
		{name: "unit answers, agent stays", stay: true, wantOutcome: ivr.OutcomeConnected, wantAgentUp: true},
		{name: "unit answers, agent drops", stay: false, wantOutcome: ivr.OutcomeConnected, wantAgentUp: false},
		{name: "unit busy", unitErr: busy("dial"), stay: true, wantOutcome: "busy", wantAgentUp: true},
		{name: "unit does not answer", unitErr: &telephony.CallError{Op: "dial", Reason: telephony.ReasonNoAnswer, Cause: 487},
			stay: true, wantOutcome: "noanswer", wantAgentUp: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, testConfig(), ivrtest.Calendar{}, nil)
			p := newPhones()
			p.set(testUnits[0].Dial, tt.unitErr)
			a := toAgent(t, h, p)
			call, finished, agent, pop := a.call, a.finished, a.agent, a.pop

			res, err := h.svc.Transfer(h.ctx, pop.Ticket.ID, "u1", tt.stay)
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != tt.wantOutcome || res.Unit != "u1" || res.Ticket != pop.Ticket.ID {
				t.Errorf("result %+v, want outcome %s for u1", res, tt.wantOutcome)
			}
			var unit *telephonytest.Call
			if tt.unitErr == nil {
				unit = p.nextAnswered(t)
				if got := h.engine.Bridges()[0].Members(); !slices.Contains(got, unit.Info().ID) || !slices.Contains(got, "c1") {
					t.Errorf("bridge holds %v, want caller and unit", got)
				}
			}
			agentUp := true
			select {
			case <-agent.Done():
				agentUp = false
			default:
			}
			if agentUp != tt.wantAgentUp {
				t.Errorf("agent up = %v, want %v", agentUp, tt.wantAgentUp)
			}
			if tt.unitErr != nil {
				// The caller is back with the agent, who ends the call.
				agent.HangupRemote()
				h.wait(finished)
				if got := call.Played(); !slices.Contains(got, "transfer-failed") || got[len(got)-1] != "goodbye" {
					t.Errorf("caller heard %v, want transfer-failed and, at the end, goodbye", got)
				}
				if got, want := h.engine.Bridges()[0].Log(), []string{"add c1", "add out-sip:a1@127.0.0.1", "record talk-c1",
					"remove c1", "add c1", "remove c1", "stop recording talk-c1", "close"}; !slices.Equal(got, want) {
					t.Errorf("bridge log %v, want %v", got, want)
				}
			} else {
				call.HangupRemote()
				h.wait(finished)
			}
			if unit != nil && unit.End().By != "local" {
				t.Errorf("unit call end %+v, want hung up by the service", unit.End())
			}
			h.ledger.Read(func(v ivrtest.View) {
				tr := v.Transfers()
				if len(tr) != 1 || tr[0].Unit != "u1" || string(tr[0].Reason) != map[bool]string{true: "", false: tt.wantOutcome}[tt.unitErr == nil] {
					t.Errorf("transfers %+v, want one to u1 with outcome %s", tr, tt.wantOutcome)
				}
			})
		})
	}
}

func TestTransferErrors(t *testing.T) {
	h := newHarness(t, testConfig(), ivrtest.Calendar{}, nil)
	if _, err := h.svc.Transfer(h.ctx, 1, "nope", true); !errors.Is(err, ivr.ErrUnknownUnit) {
		t.Errorf("unknown unit: err = %v", err)
	}
	if _, err := h.svc.Transfer(h.ctx, 99, "u1", true); !errors.Is(err, ivr.ErrNoSuchCall) {
		t.Errorf("no call: err = %v", err)
	}
}

func TestTransferFromKeypad(t *testing.T) {
	h := newHarness(t, testConfig(), ivrtest.Calendar{}, nil)
	p := newPhones()
	h.engine.DialFunc = p.dial
	if err := h.svc.Login(h.ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	call := queueCaller(h, "c1")
	finished := h.ring(call)
	agent := p.nextAnswered(t)
	agent.Press("1*9" + "12" + "#") // a stray key first, then the code and unit u2's code
	h.waitFor("transfer to u2", func(v ivrtest.View) bool {
		tr := v.Transfers()
		return len(tr) == 1 && tr[0].Unit == "u2" && tr[0].Reason == ""
	})
	call.HangupRemote()
	h.wait(finished)
}

// TestAgentLeavesThenTransferFails: the agent hangs up while the unit is
// being dialled and the unit is busy, so the caller goes back to the queue
// and the next available agent gets the call.
func TestAgentLeavesThenTransferFails(t *testing.T) {
	h := newHarness(t, testConfig(), ivrtest.Calendar{}, nil)
	p := newPhones()
	release := make(chan struct{})
	p.hold[testUnits[0].Dial] = release
	p.set(testUnits[0].Dial, busy("dial"))
	a := toAgent(t, h, p)
	call, finished, agent, pop := a.call, a.finished, a.agent, a.pop
	<-p.dialling // the agent

	result := make(chan ivr.TransferResult, 1)
	go func() {
		res, _ := h.svc.Transfer(h.ctx, pop.Ticket.ID, "u1", true)
		result <- res
	}()
	if to := <-p.dialling; to != testUnits[0].Dial {
		t.Fatalf("dialled %s, want the unit", to)
	}
	agent.HangupRemote()
	close(release)
	if res := <-result; res.Outcome != "busy" {
		t.Errorf("outcome %q, want busy", res.Outcome)
	}
	again := nextEvent(t, a.events, ivr.EventScreenPop)
	if again.Agent != "a1" || again.Ticket.ID != pop.Ticket.ID {
		t.Errorf("second screen-pop %+v, want a1 with the same ticket", again)
	}
	call.HangupRemote()
	h.wait(finished)
	if got := call.Played(); !slices.Contains(got, "transfer-failed") {
		t.Errorf("caller heard %v, want transfer-failed", got)
	}
	// Each conversation has its own file.
	h.ledger.Read(func(v ivrtest.View) {
		var talks []string
		for _, r := range v.Recordings(pop.Ticket.ID) {
			if r.Kind == ivr.RecordingConversation {
				talks = append(talks, r.Path)
			}
		}
		if want := []string{"fake/talk-c1.wav", "fake/talk-c1-2.wav"}; !slices.Equal(talks, want) {
			t.Errorf("conversation recordings %v, want %v", talks, want)
		}
	})
}

func TestQueueOffersMessage(t *testing.T) {
	cfg := testConfig()
	cfg.QueueOfferMessage = 20 * time.Millisecond
	cfg.MessageMax = 20 * time.Millisecond
	h := newHarness(t, cfg, ivrtest.Calendar{}, nil)
	call := h.call("c1", "13812345678")
	call.PromptLength = 2 * time.Millisecond
	call.OnPlay = func(c *telephonytest.Call, prompt string) {
		switch prompt {
		case "menu":
			c.Press("0")
		case "queue-offer-message":
			c.Press("1")
		}
	}
	h.wait(h.ring(call))
	played := call.Played()
	if want := []string{"queue-offer-message", "leave-message", "beep", "message-thanks"}; !slices.Equal(played[len(played)-4:], want) {
		t.Errorf("played %v, want it to end with %v", played, want)
	}
	checkMessage(t, h, "queue", h.clock.Now())
}

func checkMessage(t *testing.T, h *harness, why string, due time.Time) {
	t.Helper()
	h.ledger.Read(func(v ivrtest.View) {
		rec, _ := v.Call("c1")
		recs := v.Recordings(rec.Ticket)
		var kinds []string
		for _, r := range recs {
			kinds = append(kinds, r.Kind)
		}
		slices.Sort(kinds)
		if want := []string{ivr.RecordingCall, ivr.RecordingMessage}; !slices.Equal(kinds, want) {
			t.Errorf("recordings %v, want %v", kinds, want)
		}
		cb := v.Callbacks()
		if len(cb) != 1 || cb[0].Ticket != rec.Ticket || cb[0].Why != why || !cb[0].Due.Equal(due) {
			t.Errorf("callbacks %+v, want one for ticket %d (%s) due %v", cb, rec.Ticket, why, due)
		}
		if rec.Closed == nil {
			t.Error("call record not closed")
		}
	})
}

func TestAfterHours(t *testing.T) {
	next := time.Date(2026, 12, 1, 0, 30, 0, 0, time.UTC)
	cfg := testConfig()
	cfg.MessageMax = 20 * time.Millisecond // the message ends on '#' or at this bound
	h := newHarness(t, cfg, ivrtest.Calendar{Closed: true, Next: next}, nil)
	events := h.svc.Bus().Subscribe(h.ctx)
	call := h.call("c1", "13812345678")
	call.OnPlay = func(c *telephonytest.Call, prompt string) {
		if prompt == "beep" {
			c.Press("#") // too early: pressed during the beep, it is dropped
		}
	}
	h.wait(h.ring(call))
	if got, want := call.Played(), []string{"after-hours", "leave-message", "beep", "message-thanks"}; !slices.Equal(got, want) {
		t.Errorf("played %v, want %v", got, want)
	}
	checkMessage(t, h, "after-hours", next)
	if e := nextEvent(t, events, ivr.EventMessageLeft); e.CallID != "c1" {
		t.Errorf("message-left event %+v", e)
	}
}

// TestAfterHoursHangUpDuringMessage: hanging up ends the message, which is
// still attached.
func TestAfterHoursHangUpDuringMessage(t *testing.T) {
	next := time.Date(2026, 12, 1, 0, 30, 0, 0, time.UTC)
	h := newHarness(t, testConfig(), ivrtest.Calendar{Closed: true, Next: next}, nil)
	call := h.call("c1", "")
	call.OnPlay = func(c *telephonytest.Call, prompt string) {
		if prompt == "beep" {
			c.HangupRemote()
		}
	}
	h.wait(h.ring(call))
	// The beep was cut by the hang-up: no message was recorded.
	h.ledger.Read(func(v ivrtest.View) {
		rec, _ := v.Call("c1")
		if rec.Closed == nil || rec.Closed.Reason != telephony.ReasonHungUp {
			t.Errorf("call record %+v, want closed as hung up", rec.Closed)
		}
		if tk, _ := v.Ticket(rec.Ticket); tk.Caller != ivr.CallerUnknown {
			t.Errorf("caller %q, want unknown", tk.Caller)
		}
	})
}

func TestQueuePosition(t *testing.T) {
	h := newHarness(t, testConfig(), ivrtest.Calendar{}, nil)
	first := queueCaller(h, "c1")
	heardFirst := make(chan struct{})
	var once sync.Once
	first.OnPlay = func(c *telephonytest.Call, prompt string) {
		switch prompt {
		case "menu":
			c.Press("0")
		case "queue-position-1":
			once.Do(func() { close(heardFirst) })
		}
	}
	f1 := h.ring(first)
	<-heardFirst
	second := queueCaller(h, "c2")
	second.OnPlay = func(c *telephonytest.Call, prompt string) {
		switch prompt {
		case "menu":
			c.Press("0")
		case "queue-position-2":
			c.HangupRemote()
		}
	}
	h.wait(h.ring(second))
	first.HangupRemote()
	h.wait(f1)
}

func TestAgentLogin(t *testing.T) {
	ledger := ivrtest.NewLedger()
	h := newHarness(t, testConfig(), ivrtest.Calendar{}, ledger)
	events := h.svc.Bus().Subscribe(h.ctx)
	if err := h.svc.Login(h.ctx, "a2"); err != nil {
		t.Fatal(err)
	}
	if e := nextEvent(t, events, ivr.EventAgentState); e.Agent != "a2" || e.Outcome != "in" {
		t.Errorf("event %+v", e)
	}
	if err := h.svc.Login(h.ctx, "zz"); !errors.Is(err, ivr.ErrUnknownAgent) {
		t.Errorf("unknown agent: err = %v", err)
	}
	// A restarted service finds a2 logged in.
	h2 := newHarness(t, testConfig(), ivrtest.Calendar{}, ledger)
	if err := h2.svc.RestoreAgents(h2.ctx); err != nil {
		t.Fatal(err)
	}
	if got := agentState(h2.svc, "a2"); got != ivr.AgentAvailable {
		t.Errorf("a2 after restart: %s, want available", got)
	}
	if got := agentState(h2.svc, "a1"); got != ivr.AgentOffline {
		t.Errorf("a1 after restart: %s, want offline", got)
	}
	if err := h2.svc.Logout(h2.ctx, "a2"); err != nil {
		t.Fatal(err)
	}
	if got := agentState(h2.svc, "a2"); got != ivr.AgentOffline {
		t.Errorf("a2 after logout: %s", got)
	}
}

func TestPauseRecording(t *testing.T) {
	h := newHarness(t, testConfig(), ivrtest.Calendar{}, nil)
	p := newPhones()
	h.engine.DialFunc = p.dial
	if err := h.svc.Login(h.ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	if err := h.svc.PauseRecording(h.ctx, 42, true); !errors.Is(err, ivr.ErrNoSuchCall) {
		t.Errorf("no call: err = %v", err)
	}
	events := h.svc.Bus().Subscribe(h.ctx)
	call := queueCaller(h, "c1")
	finished := h.ring(call)
	p.nextAnswered(t)
	pop := nextEvent(t, events, ivr.EventScreenPop)
	for _, pause := range []bool{true, false} {
		if err := h.svc.PauseRecording(h.ctx, int64(pop.Ticket.ID), pause); err != nil {
			t.Fatal(err)
		}
	}
	call.HangupRemote()
	h.wait(finished)
	want := []string{"pause call-c1", "resume call-c1"}
	var got []string
	for _, l := range call.Log() {
		if strings.HasPrefix(l, "pause ") || strings.HasPrefix(l, "resume ") {
			got = append(got, l)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("call recording %v, want %v", got, want)
	}
	if log := h.engine.Bridges()[0].Log(); !slices.Contains(log, "pause talk-c1") || !slices.Contains(log, "resume talk-c1") {
		t.Errorf("bridge log %v, want the conversation paused and resumed", log)
	}
}
