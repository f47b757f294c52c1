package ivr_test

import (
	"slices"
	"testing"
	"time"

	"hotline/ivr"
	"hotline/ivr/ivrtest"
	"hotline/telephony"
	"hotline/telephony/telephonytest"
)

func TestInboundMenu(t *testing.T) {
	tests := []struct {
		name       string
		caller     string
		presses    []string // per menu attempt; "" presses nothing
		hangupAt   string   // prompt at which the caller hangs up
		wantLine   string
		wantChoice string
		wantCaller string
		wantPlayed []string
		wantReason telephony.Reason
	}{
		{name: "press 1", caller: "13812345678", presses: []string{"1"}, hangupAt: "connecting-agent",
			wantLine: "客运", wantChoice: "1", wantCaller: "13812345678",
			wantPlayed: []string{"welcome", "menu", "connecting-agent"}, wantReason: telephony.ReasonHungUp},
		{name: "press 9 then 2", caller: "13812345678", presses: []string{"9", "2"}, hangupAt: "connecting-agent",
			wantLine: "货运物流", wantChoice: "2", wantCaller: "13812345678",
			wantPlayed: []string{"welcome", "menu", "sorry-invalid", "menu", "connecting-agent"}, wantReason: telephony.ReasonHungUp},
		{name: "no key three times goes to an agent", caller: "13812345678", presses: []string{"", "", ""}, hangupAt: "connecting-agent",
			wantCaller: "13812345678",
			wantPlayed: []string{"welcome", "menu", "sorry-noinput", "menu", "sorry-noinput", "menu", "connecting-agent"},
			wantReason: telephony.ReasonHungUp},
		{name: "0 asks for an agent", caller: "13812345678", presses: []string{"0"}, hangupAt: "connecting-agent",
			wantChoice: "0", wantCaller: "13812345678",
			wantPlayed: []string{"welcome", "menu", "connecting-agent"}, wantReason: telephony.ReasonHungUp},
		{name: "hang up during the welcome", caller: "13812345678", hangupAt: "welcome",
			wantCaller: "13812345678", wantPlayed: []string{"welcome"}, wantReason: telephony.ReasonHungUp},
		{name: "anonymous caller", caller: "anonymous", presses: []string{"3"}, hangupAt: "connecting-agent",
			wantLine: "房产物业", wantChoice: "3", wantCaller: ivr.CallerUnknown,
			wantPlayed: []string{"welcome", "menu", "connecting-agent"}, wantReason: telephony.ReasonHungUp},
		{name: "malformed caller", caller: "<sip:%00;x>", presses: []string{"5"}, hangupAt: "connecting-agent",
			wantLine: "汽车服务", wantChoice: "5", wantCaller: ivr.CallerUnknown,
			wantPlayed: []string{"welcome", "menu", "connecting-agent"}, wantReason: telephony.ReasonHungUp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, testConfig(), ivrtest.Calendar{}, nil)
			call := h.call("c1", tt.caller)
			attempt := 0
			call.OnPlay = func(c *telephonytest.Call, prompt string) {
				if prompt == tt.hangupAt {
					c.HangupRemote()
					return
				}
				if prompt == "menu" && attempt < len(tt.presses) {
					c.Press(tt.presses[attempt])
					attempt++
				}
			}
			h.wait(h.ring(call))

			if got := call.Played(); !slices.Equal(got, tt.wantPlayed) {
				t.Errorf("played %v, want %v", got, tt.wantPlayed)
			}
			h.ledger.Read(func(v ivrtest.View) {
				rec, ok := v.Call("c1")
				if !ok {
					t.Fatal("no call record")
				}
				if rec.Closed == nil {
					t.Fatal("call record not closed")
				}
				if got := rec.Closed.Reason; got != tt.wantReason {
					t.Errorf("end reason %q, want %q", got, tt.wantReason)
				}
				if got := rec.Closed.Choice; got != tt.wantChoice {
					t.Errorf("choice %q, want %q", got, tt.wantChoice)
				}
				if got := rec.Open.Channel; got != ivr.ChannelHotline {
					t.Errorf("channel %q", got)
				}
				ticket, ok := v.Ticket(rec.Ticket)
				if !ok {
					t.Fatal("no ticket")
				}
				if ticket.Line != tt.wantLine || ticket.Caller != tt.wantCaller || ticket.Status != "registered" {
					t.Errorf("ticket line %q caller %q status %q; want %q, %q, registered", ticket.Line, ticket.Caller, ticket.Status, tt.wantLine, tt.wantCaller)
				}
				recs := v.Recordings(rec.Ticket)
				if len(recs) != 1 || recs[0].Kind != ivr.RecordingCall || recs[0].Path != "fake/call-c1.wav" {
					t.Errorf("recordings %+v, want the call recording", recs)
				}
				if rec.Closed.Recording != "fake/call-c1.wav" {
					t.Errorf("call record's recording %q", rec.Closed.Recording)
				}
			})
		})
	}
}

// TestWelcomeDoesNotWaitForLedger holds the ledger's write and checks that
// the welcome plays meanwhile, and that the ticket is complete after the
// caller hung up during the welcome.
func TestWelcomeDoesNotWaitForLedger(t *testing.T) {
	ledger := ivrtest.NewLedger()
	ledger.OpenGate = make(chan struct{})
	h := newHarness(t, testConfig(), ivrtest.Calendar{}, ledger)
	call := h.call("c1", "13812345678")
	welcomedBeforeWrite := false
	call.OnPlay = func(c *telephonytest.Call, prompt string) {
		if prompt == "welcome" {
			ledger.Read(func(v ivrtest.View) {
				_, written := v.Call("c1")
				welcomedBeforeWrite = !written
			})
			c.HangupRemote()
			close(ledger.OpenGate)
		}
	}
	h.wait(h.ring(call))
	if !welcomedBeforeWrite {
		t.Error("welcome waited for the ledger")
	}
	h.ledger.Read(func(v ivrtest.View) {
		rec, ok := v.Call("c1")
		if !ok || rec.Closed == nil || rec.Closed.Reason != telephony.ReasonHungUp || rec.Closed.Cause != 16 {
			t.Fatalf("call record %+v, want closed as hung up (cause 16)", rec)
		}
	})
}

func TestRecordingOff(t *testing.T) {
	cfg := testConfig()
	off := false
	cfg.Record = &off
	h := newHarness(t, cfg, ivrtest.Calendar{}, nil)
	call := h.call("c1", "13812345678")
	call.OnPlay = func(c *telephonytest.Call, prompt string) { c.HangupRemote() }
	h.wait(h.ring(call))
	for _, l := range call.Log() {
		if len(l) > 7 && l[:7] == "record " {
			t.Errorf("recorded with recording off: %s", l)
		}
	}
}

// TestSameCallerTwice: two calls at once from one number give two call
// records; tagging the same line merges the second ticket into the first
// (the ledger's 并单 rule) and the flow follows the merged ticket.
func TestSameCallerTwice(t *testing.T) {
	h := newHarness(t, testConfig(), ivrtest.Calendar{}, nil)
	var finished []<-chan struct{}
	for _, id := range []string{"c1", "c2"} {
		call := h.call(id, "13812345678")
		call.OnPlay = func(c *telephonytest.Call, prompt string) {
			switch prompt {
			case "menu":
				c.Press("1")
			case "connecting-agent":
				c.HangupRemote()
			}
		}
		finished = append(finished, h.ring(call))
		h.waitFor("call "+id+" tagged", func(v ivrtest.View) bool { r, ok := v.Call(id); return ok && r.Line != "" })
	}
	for _, f := range finished {
		h.wait(f)
	}
	h.ledger.Read(func(v ivrtest.View) {
		c1, _ := v.Call("c1")
		c2, _ := v.Call("c2")
		if c1.Closed == nil || c2.Closed == nil {
			t.Fatal("both calls must be closed")
		}
		if c1.Ticket != c2.Ticket {
			t.Errorf("tickets %d and %d, want the second merged into the first", c1.Ticket, c2.Ticket)
		}
		if got := v.Recordings(c1.Ticket); len(got) != 2 {
			t.Errorf("merged ticket has %d recordings, want both calls'", len(got))
		}
	})
}

func TestConfigInit(t *testing.T) {
	tests := []struct {
		name    string
		cfg     ivr.Config
		wantErr bool
	}{
		{name: "defaults", cfg: ivr.Config{}},
		{name: "negative timeout", cfg: ivr.Config{FirstDigit: -time.Second}, wantErr: true},
		{name: "bad transfer code", cfg: ivr.Config{TransferCode: "x9"}, wantErr: true},
		{name: "agent without dial", cfg: ivr.Config{Agents: []ivr.Agent{{ID: "a"}}}, wantErr: true},
		{name: "duplicate agent", cfg: ivr.Config{Agents: []ivr.Agent{{ID: "a", Dial: "x"}, {ID: "a", Dial: "y"}}}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Init()
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && (tt.cfg.FirstDigit != 5*time.Second || tt.cfg.MenuAttempts != 3 || !tt.cfg.RecordCalls() || tt.cfg.TransferCode != "*9") {
				t.Errorf("defaults not filled: %+v", tt.cfg)
			}
		})
	}
}

func TestNormaliseCaller(t *testing.T) {
	for in, want := range map[string]string{"13812345678": "13812345678", "+8613812345678": "+8613812345678",
		"": ivr.CallerUnknown, "anonymous": ivr.CallerUnknown, "12": ivr.CallerUnknown, "138-1234": ivr.CallerUnknown,
		" 110 ": "110", "123456789012345678901": ivr.CallerUnknown} {
		if got := ivr.NormaliseCaller(in); got != want {
			t.Errorf("NormaliseCaller(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHangupAtAnswer: a caller gone by the time the call is answered still
// leaves a ticket and a closed call record.
func TestHangupAtAnswer(t *testing.T) {
	h := newHarness(t, testConfig(), ivrtest.Calendar{}, nil)
	call := h.call("c1", "13812345678")
	call.HangupRemote()
	h.wait(h.ring(call))
	h.ledger.Read(func(v ivrtest.View) {
		rec, ok := v.Call("c1")
		if !ok || rec.Closed == nil || rec.Closed.Reason != telephony.ReasonHungUp {
			t.Fatalf("call record %+v, want closed as hung up", rec)
		}
		if _, ok := v.Ticket(rec.Ticket); !ok {
			t.Error("no ticket")
		}
	})
	if got := call.Played(); len(got) != 0 {
		t.Errorf("played %v to a caller who had gone", got)
	}
}
