package ticket_test

import (
	"context"
	"testing"

	"hotline/ticket"
)

// surveys lists a ticket's survey callbacks in the given states.
func surveys(t *testing.T, s *ticket.Store, id int64, states ...ticket.CallbackState) []ticket.CallbackView {
	t.Helper()
	cbs, err := s.ListCallbacks(context.Background(), ticket.CallbackFilter{TicketID: id, States: states})
	if err != nil {
		t.Fatal(err)
	}
	var out []ticket.CallbackView
	for _, cb := range cbs {
		if cb.Kind == ticket.CallbackSurvey {
			out = append(out, cb)
		}
	}
	return out
}

func callbackDeadline(t *testing.T, s *ticket.Store, id int64) ticket.Deadline {
	t.Helper()
	d, err := s.Ticket(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var last ticket.Deadline
	for _, dl := range d.Deadlines {
		if dl.Stage == ticket.StageCallback {
			last = dl
		}
	}
	if last.Stage == "" {
		t.Fatalf("ticket %d has no callback deadline: %+v", id, d.Deadlines)
	}
	return last
}

// TestReplySchedulesSurvey: the unit's reply owes the caller the survey
// (第九条), from now until the callback deadline, in the same write.
func TestReplySchedulesSurvey(t *testing.T) {
	s, clk := newStore(t)
	id := ticketIn(t, s, ticket.StatusReplied)
	got := surveys(t, s, id)
	if len(got) != 1 {
		t.Fatalf("%d surveys after the reply, want 1: %+v", len(got), got)
	}
	cb, dl := got[0], callbackDeadline(t, s, id)
	if cb.State != ticket.CallbackPending || cb.Number != "13900000000" {
		t.Errorf("survey %s to %s, want pending to the caller", cb.State, cb.Number)
	}
	if !cb.NotBefore.Equal(clk.Now()) {
		t.Errorf("not before %v, want now %v", cb.NotBefore, clk.Now())
	}
	if !cb.DueAt.Equal(dl.DueAt) {
		t.Errorf("due %v, want the callback deadline %v", cb.DueAt, dl.DueAt)
	}
}

// TestReplySurveyOncePerReply: a second reply (after 重办) while the first
// survey is still pending schedules no other; once that survey is over, the
// next reply schedules a new one.
func TestReplySurveyOncePerReply(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	id := ticketIn(t, s, ticket.StatusReplied)
	must(t, s, id, ticket.Change{Action: ticket.ActCallback, Satisfaction: ticket.Dissatisfied})
	must(t, s, id, reply)
	pending := surveys(t, s, id, ticket.CallbackPending)
	if len(pending) != 1 {
		t.Fatalf("%d surveys pending after two replies with the first survey pending, want 1", len(pending))
	}
	if err := s.CancelCallback(ctx, pending[0].ID, "test"); err != nil {
		t.Fatal(err)
	}
	must(t, s, id, ticket.Change{Action: ticket.ActCallback, Satisfaction: ticket.Dissatisfied})
	must(t, s, id, reply)
	if got := surveys(t, s, id, ticket.CallbackPending); len(got) != 1 || got[0].ID == pending[0].ID {
		t.Fatalf("surveys pending after the third reply: %+v, want one new", got)
	}
	if got := len(surveys(t, s, id)); got != 2 {
		t.Errorf("%d surveys in all, want 2 (one cancelled, one pending)", got)
	}
}

// TestReplySurveyNeeds: no survey for a caller without a number (the reply
// is recorded all the same), nor when the ledger is opened without them.
func TestReplySurveyNeeds(t *testing.T) {
	t.Run("unknown caller", func(t *testing.T) {
		s, _ := newStore(t)
		ref, err := s.OpenForCall(context.Background(), ticket.CallInfo{CallID: nextCallID(), Caller: "anonymous"})
		if err != nil {
			t.Fatal(err)
		}
		must(t, s, ref.TicketID, transfer)
		if got := must(t, s, ref.TicketID, reply); got.Status != ticket.StatusReplied {
			t.Fatalf("status %s, want replied", got.Status)
		}
		if got := surveys(t, s, ref.TicketID); len(got) != 0 {
			t.Errorf("surveys %+v, want none", got)
		}
	})
	t.Run("WithSurveyOnReply(false)", func(t *testing.T) {
		s, _ := newStore(t, ticket.WithSurveyOnReply(false))
		id := ticketIn(t, s, ticket.StatusReplied)
		if got := surveys(t, s, id); len(got) != 0 {
			t.Errorf("surveys %+v, want none", got)
		}
	})
}
