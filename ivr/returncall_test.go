package ivr_test

import (
	"testing"
	"time"

	"hotline/ivr"
	"hotline/ivr/callback"
	"hotline/ivr/ivrtest"
	"hotline/telephony"
	"hotline/telephony/telephonytest"
)

// TestConnectAgentReturnCall: an answered return call waits in the queue
// like an inbound caller; the agent who answers gets the callback's ticket
// on the screen-pop, and the call is handed back once the agent hangs up.
func TestConnectAgentReturnCall(t *testing.T) {
	h := newHarness(t, testConfig(), ivrtest.Calendar{}, nil)
	p := newPhones()
	h.engine.DialFunc = p.dial
	if err := h.svc.Login(h.ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	events := h.svc.Bus().Subscribe(h.ctx)
	call := telephonytest.NewCall(telephony.Info{ID: "cb-1", Direction: telephony.Outbound, Dialled: "13812345678"})
	call.PromptLength = 2 * time.Millisecond
	cb := callback.Callback{ID: 7, TicketID: 42, TicketNo: "96596-20261130-0042", Kind: callback.KindReturn, Number: "13812345678"}
	done := make(chan error, 1)
	go func() { done <- h.svc.ConnectAgent(h.ctx, call, cb) }()

	agent := p.nextAnswered(t)
	pop := nextEvent(t, events, ivr.EventScreenPop)
	if pop.Agent != "a1" || pop.CallID != "cb-1" || pop.Ticket == nil || pop.Ticket.ID != 42 ||
		pop.Ticket.Number != cb.TicketNo || pop.Ticket.Caller != cb.Number {
		t.Fatalf("screen-pop %+v (ticket %+v), want agent a1 with ticket 42 of the callback", pop, pop.Ticket)
	}
	h.waitFor("ticket assigned", func(v ivrtest.View) bool { return v.Assigned(42) == "a1" })
	if got := len(h.engine.Bridges()); got != 1 {
		t.Errorf("%d bridges, want the caller and agent in one", got)
	}
	agent.HangupRemote()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ConnectAgent: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ConnectAgent did not return after the agent hung up")
	}
	if got := agentState(h.svc, "a1"); got != ivr.AgentAvailable {
		t.Errorf("a1 is %s after the call, want available", got)
	}
	if got := call.Played(); len(got) == 0 || got[len(got)-1] != "goodbye" {
		t.Errorf("caller heard %v, want goodbye last", got)
	}
}

// TestConnectAgentCallerHangsUp: a caller who hangs up in the queue ends
// the attempt with a hung-up reason the dialer can classify.
func TestConnectAgentCallerHangsUp(t *testing.T) {
	h := newHarness(t, testConfig(), ivrtest.Calendar{}, nil) // no agent logged in
	call := telephonytest.NewCall(telephony.Info{ID: "cb-2", Direction: telephony.Outbound, Dialled: "13812345678"})
	call.PromptLength = 2 * time.Millisecond
	call.OnPlay = func(c *telephonytest.Call, prompt string) {
		if prompt == "queue-hold" {
			c.HangupRemote()
		}
	}
	err := h.svc.ConnectAgent(h.ctx, call, callback.Callback{ID: 8, TicketID: 43, Kind: callback.KindReturn, Number: "13812345678"})
	if got := telephony.ReasonOf(err); got != telephony.ReasonHungUp {
		t.Fatalf("ConnectAgent: %v (reason %q), want the caller hung up", err, got)
	}
}
