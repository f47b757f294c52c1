package ivr_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"hotline/ivr"
	"hotline/ticket"
)

// TestTicketLedgerAssignsReturnCall: a return call the dialer placed has
// no call record; the agent who takes it is assigned its ticket.
func TestTicketLedgerAssignsReturnCall(t *testing.T) {
	ctx := context.Background()
	store, err := ticket.Open(ctx, filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	led, err := ivr.NewTicketLedger(ctx, store, []ivr.Agent{{ID: "a1", Name: "坐席一", Dial: "sip:a1@127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	tk, err := led.OpenCall(ctx, ivr.CallOpen{CallID: "in-1", Caller: "13800000001", Dialled: "96596", Answered: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := led.AssignAgent(ctx, "callback-out-1", tk.ID, "a1", time.Now()); err != nil {
		t.Fatalf("assign the return call: %v", err)
	}
	d, err := store.Ticket(ctx, int64(tk.ID))
	if err != nil {
		t.Fatal(err)
	}
	if d.AgentID == 0 {
		t.Errorf("ticket %d has no agent after the return call was taken", tk.ID)
	}
	if err := led.AssignAgent(ctx, "callback-out-2", 0, "a1", time.Now()); err == nil {
		t.Error("assigning an unknown call without a ticket succeeded")
	}
}
