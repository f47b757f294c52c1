package scenario

import (
	"slices"
	"testing"
	"time"

	"hotline/ivr"
	"hotline/telephony"
)

// Config is the ivr configuration the table runs with: short timeouts so
// that a scenario takes seconds.
func Config() ivr.Config {
	return ivr.Config{
		FirstDigit: 700 * time.Millisecond, InterDigit: 700 * time.Millisecond,
		AgentRingTimeout: 3 * time.Second, UnitRingTimeout: 1500 * time.Millisecond,
		QueueOfferMessage: -1, MessageMax: 10 * time.Second,
	}
}

// think is the caller's pause before acting: a person listens a moment
// before pressing a key. It is the caller's behaviour, not a wait for the
// service (the scenarios await events and ledger records for that).
func think(d time.Duration) { time.Sleep(d) }

// Scenario is one row of the table.
type Scenario struct {
	Name string
	// Clock, when set, is the service's clock (after hours).
	Clock func() time.Time
	// Config adjusts the configuration.
	Config func(*ivr.Config)
	Run    func(t *testing.T, h *Hotline)
}

// Run runs every scenario of the table on the backend.
func Run(t *testing.T, b Backend, newLedger NewLedger) {
	for _, sc := range Table() {
		t.Run(sc.Name, func(t *testing.T) {
			cfg := Config()
			if sc.Config != nil {
				sc.Config(&cfg)
			}
			clock := sc.Clock
			if clock == nil {
				clock = FixedClock(OfficeTime)
			}
			h := Start(t, b, Options{Config: cfg, Clock: clock, NewLedger: newLedger})
			sc.Run(t, h)
		})
	}
}

// Table returns the scenarios of issue 4.
func Table() []Scenario {
	return []Scenario{
		{Name: "press 1", Run: func(t *testing.T, h *Hotline) {
			h.Login("a1")
			c := h.Call("13800000001")
			think(300 * time.Millisecond)
			h.Press(c, "1")
			pop := h.Event("bus", isScreenPop("a1"))
			h.Phone(PhoneAgent + "a1")
			h.Hangup(c)
			rec := h.Ended("13800000001")
			checkCall(t, rec, "1", telephony.ReasonHungUp)
			tk := h.Ticket(rec.Ticket)
			if tk.Line != "passenger" || pop.Ticket.Line != "passenger" {
				t.Errorf("ticket line %q, screen-pop line %q; want passenger (客运)", tk.Line, pop.Ticket.Line)
			}
			h.checkCallRecording(t, rec, tk)
		}},
		{Name: "press 9 then 2", Run: func(t *testing.T, h *Hotline) {
			h.Login("a1")
			c := h.Call("13800000002")
			think(300 * time.Millisecond)
			h.Press(c, "9")
			think(1200 * time.Millisecond) // during the "sorry" and the menu
			h.Press(c, "2")
			h.Event("bus", isScreenPop("a1"))
			h.Hangup(c)
			rec := h.Ended("13800000002")
			checkCall(t, rec, "2", telephony.ReasonHungUp)
			if tk := h.Ticket(rec.Ticket); tk.Line != "freight" {
				t.Errorf("ticket line %q, want freight (货运物流)", tk.Line)
			}
		}},
		{Name: "no key three times goes to an agent", Run: func(t *testing.T, h *Hotline) {
			h.Login("a1")
			c := h.Call("13800000003")
			h.Event("bus", isScreenPop("a1"))
			h.Hangup(c)
			rec := h.Ended("13800000003")
			checkCall(t, rec, "", telephony.ReasonHungUp)
			if rec.Agent != "a1" {
				t.Errorf("call's agent %q, want a1", rec.Agent)
			}
		}},
		{Name: "hang up during the welcome", Run: func(t *testing.T, h *Hotline) {
			c := h.Call("13800000004")
			think(300 * time.Millisecond)
			h.Hangup(c)
			rec := h.Ended("13800000004")
			checkCall(t, rec, "", telephony.ReasonHungUp)
			tk := h.Ticket(rec.Ticket)
			if tk.Caller != "13800000004" || tk.Status != "registered" {
				t.Errorf("ticket caller %q status %q, want 13800000004, registered", tk.Caller, tk.Status)
			}
			h.checkCallRecording(t, rec, tk)
		}},
		{Name: "0 to an agent with a screen-pop on /api/events", Run: func(t *testing.T, h *Hotline) {
			h.Login("a1")
			c := h.Call("13800000005")
			think(300 * time.Millisecond)
			h.Press(c, "0")
			pop := h.Event("sse", isScreenPop("a1"))
			h.Phone(PhoneAgent + "a1")
			h.Hangup(c)
			rec := h.Ended("13800000005")
			checkCall(t, rec, "0", telephony.ReasonHungUp)
			if pop.Ticket == nil || pop.Ticket.ID != rec.Ticket || pop.Ticket.Caller != "13800000005" {
				t.Errorf("screen-pop ticket %+v, want ticket %d of 13800000005", pop.Ticket, rec.Ticket)
			}
			if tk := h.Ticket(rec.Ticket); tk.Agent != "a1" {
				t.Errorf("ticket agent %q, want a1", tk.Agent)
			}
		}},
		{Name: "transfer to a unit that answers", Run: func(t *testing.T, h *Hotline) {
			c, pop := h.toAgent("13800000006")
			agent := h.Phone(PhoneAgent + "a1")
			res := h.Transfer(pop.Ticket.ID, "ok")
			if res.Outcome != ivr.OutcomeConnected {
				t.Fatalf("outcome %q, want connected", res.Outcome)
			}
			h.Phone(PhoneUnit)
			// The agent stays by default: caller, agent and unit talk together.
			select {
			case <-agent.Done():
				t.Errorf("the agent was dropped when the unit joined; the agent stays by default")
			default:
			}
			h.Hangup(c)
			rec := h.Ended("13800000006")
			if tk := h.Ticket(rec.Ticket); !slices.Equal(tk.Transfers, []string{"ok"}) {
				t.Errorf("transfers %v, want [ok]", tk.Transfers)
			}
		}},
		{Name: "transfer to a busy unit", Run: func(t *testing.T, h *Hotline) {
			h.transferFails(t, "13800000007", "busy", "busy")
		}},
		{Name: "transfer to a unit that never answers", Run: func(t *testing.T, h *Hotline) {
			// A unit that rings until the ring timeout is "noanswer"; an engine
			// that saw no ringing at all may call it "timeout".
			h.transferFails(t, "13800000008", "silent", "noanswer", "timeout")
		}},
		{Name: "after hours at 22:00", Clock: FixedClock(time.Date(2026, 11, 30, 22, 0, 0, 0, Shanghai)),
			Run: func(t *testing.T, h *Hotline) {
				c := h.Call("13800000009")
				// The caller speaks after the beep and ends with '#'; keys
				// pressed during the prompts are ignored, so press until
				// the message is taken.
				done := make(chan struct{})
				go func() {
					for {
						select {
						case <-done:
							return
						case <-time.After(500 * time.Millisecond):
							_ = c.SendDigits(h.ctx, "#")
						}
					}
				}()
				h.Event("bus", func(e ivr.Event) bool { return e.Type == ivr.EventMessageLeft })
				close(done)
				rec := h.Ended("13800000009")
				tk := h.Ticket(rec.Ticket)
				var msg *ivr.Recording
				for i, r := range tk.Recordings {
					if r.Kind == ivr.RecordingMessage {
						msg = &tk.Recordings[i]
					}
				}
				if msg == nil {
					t.Fatalf("no message on the ticket: %+v", tk.Recordings)
				}
				h.CheckRecording(msg.Path)
				want := time.Date(2026, 12, 1, 8, 30, 0, 0, Shanghai)
				if len(tk.Callbacks) != 1 || !tk.Callbacks[0].Equal(want) {
					t.Errorf("callbacks %v, want one at %v", tk.Callbacks, want)
				}
			}},
		{Name: "two callers at once with the same number", Run: func(t *testing.T, h *Hotline) {
			h.Login("a1")
			h.Login("a2")
			c1 := h.Call("13800000010")
			c2 := h.Call("13800000010")
			think(300 * time.Millisecond)
			h.Press(c1, "1")
			h.Press(c2, "1")
			h.Event("bus", isScreenPop("a1"))
			h.Event("bus", isScreenPop("a2"))
			h.Hangup(c1)
			h.Hangup(c2)
			h.EventN("bus", 2, func(e ivr.Event) bool { return e.Type == ivr.EventCallEnded && e.Ticket.Caller == "13800000010" })
			calls, err := h.Inspector.CallsFrom(h.ctx, "13800000010")
			if err != nil {
				t.Fatal(err)
			}
			if len(calls) != 2 || !calls[0].Closed || !calls[1].Closed {
				t.Fatalf("calls %+v, want two closed", calls)
			}
			if calls[0].CallID == calls[1].CallID {
				t.Error("two calls share a call id")
			}
			t0, t1 := h.Ticket(calls[0].Ticket), h.Ticket(calls[1].Ticket)
			if root(t0) != root(t1) {
				t.Errorf("tickets %d and %d not merged (并单): %+v %+v", t0.ID, t1.ID, t0, t1)
			}
		}},
		{Name: "anonymous caller", Run: func(t *testing.T, h *Hotline) {
			h.unknownCaller(t, "anonymous")
		}},
		{Name: "malformed caller", Run: func(t *testing.T, h *Hotline) {
			h.unknownCaller(t, "12x3")
		}},
	}
}

// OfficeTime is when the scenarios call, unless they say otherwise: a
// Monday morning.
var OfficeTime = time.Date(2026, 11, 30, 10, 0, 0, 0, Shanghai)

// Shanghai is the time zone of the hotline.
var Shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return time.FixedZone("CST", 8*3600)
	}
	return loc
}()

// FixedClock is a clock that starts at t and runs.
func FixedClock(t time.Time) func() time.Time {
	start := time.Now()
	return func() time.Time { return t.Add(time.Since(start)) }
}

func root(tk TicketRow) ivr.TicketID {
	if tk.MergedInto != 0 {
		return tk.MergedInto
	}
	return tk.ID
}

func isScreenPop(agent string) func(ivr.Event) bool {
	return func(e ivr.Event) bool { return e.Type == ivr.EventScreenPop && e.Agent == agent && e.Ticket != nil }
}

func checkCall(t *testing.T, rec CallRow, choice string, reason telephony.Reason) {
	t.Helper()
	if !rec.Closed {
		t.Fatal("call record not closed")
	}
	if rec.Choice != choice || rec.Reason != string(reason) {
		t.Errorf("call choice %q reason %q; want %q, %q", rec.Choice, rec.Reason, choice, reason)
	}
}

// checkCallRecording checks the call's recording: on the ticket, complete
// and holding sound.
func (h *Hotline) checkCallRecording(t *testing.T, rec CallRow, tk TicketRow) {
	t.Helper()
	if rec.Recording == "" {
		t.Fatal("call record has no recording")
	}
	onTicket := false
	for _, r := range tk.Recordings {
		onTicket = onTicket || r.Path == rec.Recording
	}
	if !onTicket {
		t.Errorf("recording %s not on the ticket (%+v)", rec.Recording, tk.Recordings)
	}
	info := h.CheckRecording(rec.Recording)
	if info.Seconds < 0.2 || info.Peak == 0 {
		t.Errorf("recording %+v: want some sound", info)
	}
}

// toAgent calls in, presses 0 and waits for agent a1's screen-pop.
func (h *Hotline) toAgent(caller string) (telephony.Call, ivr.Event) {
	h.t.Helper()
	h.Login("a1")
	c := h.Call(caller)
	think(300 * time.Millisecond)
	h.Press(c, "0")
	pop := h.Event("bus", isScreenPop("a1"))
	return c, pop
}

// transferFails transfers to a unit that cannot take the call and checks
// that the caller is back with the agent and the failure is on the ticket.
func (h *Hotline) transferFails(t *testing.T, caller, unit string, outcomes ...string) {
	c, pop := h.toAgent(caller)
	agent := h.Phone(PhoneAgent + "a1")
	res := h.Transfer(pop.Ticket.ID, unit)
	if !slices.Contains(outcomes, res.Outcome) {
		t.Errorf("outcome %q, want one of %q", res.Outcome, outcomes)
	}
	select {
	case <-agent.Done():
		t.Fatal("the agent's call ended")
	case <-c.Done():
		t.Fatal("the caller's call ended")
	default:
	}
	// The agent ends the conversation: the caller hears goodbye and the
	// service hangs up.
	h.Hangup(agent)
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the service did not end the caller's call after the agent left")
	}
	rec := h.Ended(caller)
	if want := []string{unit + ":" + res.Outcome}; !slices.Equal(h.Ticket(rec.Ticket).Transfers, want) {
		t.Errorf("transfers %v, want %v", h.Ticket(rec.Ticket).Transfers, want)
	}
}

func (h *Hotline) unknownCaller(t *testing.T, callerID string) {
	c := h.Call(callerID)
	think(300 * time.Millisecond)
	h.Hangup(c)
	rec := h.Ended(ivr.CallerUnknown)
	if tk := h.Ticket(rec.Ticket); tk.Caller != ivr.CallerUnknown {
		t.Errorf("ticket caller %q, want %q", tk.Caller, ivr.CallerUnknown)
	}
	checkCall(t, rec, "", telephony.ReasonHungUp)
}
