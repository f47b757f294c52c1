package callback

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"hotline/telephony"
	"hotline/telephony/telephonytest"
	"hotline/ticket"
)

// repliedTicket registers a ticket of caller, transfers it to a unit and
// records the unit's reply: a survey is now due.
func (f *ledgerFixture) repliedTicket(t testing.TB, caller string) int64 {
	t.Helper()
	ctx := context.Background()
	if err := f.l.SyncUnits(ctx, []ticket.Unit{{ID: "keyun", Name: "客运公司", Department: "客运营销部", Phone: "8001"}}); err != nil {
		t.Fatal(err)
	}
	id := f.newTicket(t, caller)
	for _, c := range []ticket.Change{
		{Action: ticket.ActTransfer, Actor: "test", Unit: "keyun"},
		{Action: ticket.ActReply, Actor: "test", Result: "已处理", NoPaymentAttested: true},
	} {
		if _, err := f.l.Apply(ctx, id, c); err != nil {
			t.Fatal(err)
		}
	}
	return id
}

// TestDialerOnTheLedger runs the dialer with the ledger's store, workflow
// and calendar: the score lands on the ticket, a 3 reopens it, a ticket
// with no reply is not called, a failure is noted for an agent.
func TestDialerOnTheLedger(t *testing.T) {
	ctx := context.Background()
	f := openLedger(t, "")
	satisfied := f.repliedTicket(t, "13800000001")
	dissatisfied := f.repliedTicket(t, "13800000003")
	unreplied := f.newTicket(t, "13800000009")
	unreachable := f.repliedTicket(t, "13800000404")
	noCallback := f.repliedTicket(t, "13800000005")
	if _, err := f.l.Apply(ctx, noCallback, ticket.Change{Action: ticket.ActNote, Actor: "agent", Note: "来电人表示" + NoCallbackNote}); err != nil {
		t.Fatal(err)
	}

	engine := telephonytest.NewEngine()
	answer := &phone{onPlay: func(c *telephonytest.Call, prompt string) {
		if prompt == PromptSurveyQuestion {
			c.Press(c.Info().Dialled[len("sip:1380000000") : len("sip:1380000000")+1])
		}
	}}
	engine.DialFunc = func(ctx context.Context, req telephony.DialRequest) (telephony.Call, error) {
		if strings.Contains(req.To, "13800000404") {
			return nil, &telephony.CallError{Op: "dial", Reason: telephony.ReasonUnreachable, Cause: 404}
		}
		return answer.dial(ctx, req)
	}
	clk := newClock(monday10)
	d, err := New(testConfig(t), Deps{Store: f, Tickets: NewLedgerTickets(f.l), Engine: engine,
		Calendar: LedgerCalendar(f.l.Calendar()), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[int64]int64{}
	for _, tid := range []int64{satisfied, dissatisfied, unreplied, unreachable, noCallback} {
		cb, err := f.Schedule(ctx, Request{TicketID: tid, Kind: KindSurvey, Due: monday10.Add(72 * time.Hour)}, monday10)
		if err != nil {
			t.Fatal(err)
		}
		ids[tid] = cb.ID
	}
	if _, err := f.Schedule(ctx, Request{TicketID: satisfied, Kind: KindSurvey, Due: monday10.Add(72 * time.Hour)}, monday10); !errors.Is(err, ErrDuplicate) {
		t.Errorf("second survey: %v, want ErrDuplicate", err)
	}
	if _, err := f.Schedule(ctx, Request{TicketID: satisfied, Kind: KindReturn, Number: "13900000000", Due: monday10.Add(time.Hour)}, monday10); !errors.Is(err, ErrInvalid) {
		t.Errorf("a number other than the caller's: %v, want ErrInvalid", err)
	}
	if _, err := d.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	d.Wait()

	tests := []struct {
		name       string
		ticket     int64
		wantState  State
		wantStatus ticket.Status
		wantSat    ticket.Satisfaction
		wantEvent  string
	}{
		{name: "presses 1", ticket: satisfied, wantState: StateDone, wantStatus: ticket.StatusCalledBack, wantSat: ticket.Satisfied, wantEvent: "录音 fake/callback-"},
		{name: "presses 3, reopened", ticket: dissatisfied, wantState: StateDone, wantStatus: ticket.StatusReopened, wantSat: ticket.Dissatisfied, wantEvent: "3 不满意"},
		{name: "no reply yet, not called", ticket: unreplied, wantState: StateSkipped, wantStatus: ticket.StatusRegistered},
		{name: "不需回访, not called", ticket: noCallback, wantState: StateSkipped, wantStatus: ticket.StatusReplied},
		{name: "unreachable, marked for an agent", ticket: unreachable, wantState: StateFailed, wantStatus: ticket.StatusReplied, wantEvent: "请坐席人工跟进"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cb, err := f.Get(ctx, ids[tt.ticket])
			if err != nil {
				t.Fatal(err)
			}
			if cb.State != tt.wantState {
				t.Errorf("callback state %s (%s, %q), want %s", cb.State, cb.Outcome, cb.Note, tt.wantState)
			}
			d, err := f.l.Ticket(ctx, tt.ticket)
			if err != nil {
				t.Fatal(err)
			}
			if d.Status != tt.wantStatus || d.Satisfaction != tt.wantSat {
				t.Errorf("ticket %s, %q; want %s, %q", d.Status, d.Satisfaction, tt.wantStatus, tt.wantSat)
			}
			if tt.wantEvent != "" {
				found := false
				for _, e := range d.Events {
					found = found || strings.Contains(e.Note, tt.wantEvent)
				}
				if !found {
					t.Errorf("no event noting %q in %+v", tt.wantEvent, d.Events)
				}
			}
		})
	}
	if n := len(engine.Dialled()); n != 3 {
		t.Errorf("dialled %d, want 3 (not the unreplied ticket)", n)
	}
	// The skipped one shows as skipped, the list by state agrees.
	skipped, err := f.List(ctx, Filter{States: []State{StateSkipped}})
	if err != nil || len(skipped) != 2 || skipped[0].Note == "" {
		t.Errorf("skipped = %+v, %v", skipped, err)
	}
	if cancelled, err := f.List(ctx, Filter{States: []State{StateCancelled}}); err != nil || len(cancelled) != 0 {
		t.Errorf("cancelled = %+v, %v; want none", cancelled, err)
	}
}

func TestNewOnLedger(t *testing.T) {
	f := openLedger(t, "")
	cfg := testConfig(t)
	d, h, err := NewOnLedger(cfg, f.l, telephonytest.NewEngine(), nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	tid := f.repliedTicket(t, "13812345678")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/", strings.NewReader(
		fmt.Sprintf(`{"ticket_id":%d,"kind":"survey","due":"2026-12-03T10:00:00+08:00"}`, tid))))
	if rec.Code != 201 {
		t.Fatalf("schedule: %d %s", rec.Code, rec.Body)
	}
	select {
	case <-d.wake:
	default:
		t.Error("scheduling did not wake the dialer")
	}
	if d.deps.Owner == "" || !strings.Contains(d.deps.Owner, ":") {
		t.Errorf("owner %q, want host:pid", d.deps.Owner)
	}
}
