package ticket_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"hotline/ticket"
)

var callSeq struct {
	sync.Mutex
	n int
}

func nextCallID() string {
	callSeq.Lock()
	defer callSeq.Unlock()
	callSeq.n++
	return fmt.Sprintf("call-%d", callSeq.n)
}

// must applies a change that has to succeed.
func must(t *testing.T, s *ticket.Store, id int64, c ticket.Change) ticket.Ticket {
	t.Helper()
	tk, err := s.Apply(context.Background(), id, c)
	if err != nil {
		t.Fatalf("%s: %v", c.Action, err)
	}
	return tk
}

var (
	transfer = ticket.Change{Action: ticket.ActTransfer, Unit: "keyun", Actor: "user:1"}
	reply    = ticket.Change{Action: ticket.ActReply, Result: "已退票", NoPaymentAttested: true, CCTVPreserved: true}
)

// ticketIn opens a ticket and drives it into status st.
func ticketIn(t *testing.T, s *ticket.Store, st ticket.Status) int64 {
	t.Helper()
	ctx := context.Background()
	callID := nextCallID()
	ref, err := s.OpenForCall(ctx, ticket.CallInfo{CallID: callID, Caller: "13900000000"})
	if err != nil {
		t.Fatal(err)
	}
	id := ref.TicketID
	steps := map[ticket.Status][]ticket.Change{
		ticket.StatusRegistered:  nil,
		ticket.StatusAnswered:    {{Action: ticket.ActAnswer, Result: "已解释"}},
		ticket.StatusForwarded:   {{Action: ticket.ActForward, Note: "物流部"}},
		ticket.StatusTransferred: {transfer},
		ticket.StatusReturned:    {transfer, {Action: ticket.ActReturn, Note: "不属本单位"}},
		ticket.StatusReplied:     {transfer, reply},
		ticket.StatusCalledBack:  {transfer, reply, {Action: ticket.ActCallback, Satisfaction: ticket.Satisfied}},
		ticket.StatusClosed:      {{Action: ticket.ActAnswer}, {Action: ticket.ActClose}},
		ticket.StatusReopened:    {transfer, reply, {Action: ticket.ActCallback, Satisfaction: ticket.Dissatisfied}},
	}
	if st == ticket.StatusMerged {
		// An earlier open ticket of the same caller and line absorbs this one.
		caller := fmt.Sprintf("139%s", callID[len("call-"):]) + "00000"
		earlier, err := s.OpenForCall(ctx, ticket.CallInfo{CallID: callID + "-earlier", Caller: caller})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetLine(ctx, callID+"-earlier", "passenger"); err != nil {
			t.Fatal(err)
		}
		later, err := s.OpenForCall(ctx, ticket.CallInfo{CallID: callID + "-later", Caller: caller})
		if err != nil {
			t.Fatal(err)
		}
		if r, err := s.SetLine(ctx, callID+"-later", "passenger"); err != nil || r.TicketID != earlier.TicketID {
			t.Fatalf("merge: %+v, %v", r, err)
		}
		return later.TicketID
	}
	for _, c := range steps[st] {
		must(t, s, id, c)
	}
	got, err := s.Ticket(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != st {
		t.Fatalf("drove ticket to %s, want %s", got.Status, st)
	}
	return id
}

var allStatuses = []ticket.Status{ticket.StatusRegistered, ticket.StatusAnswered, ticket.StatusForwarded,
	ticket.StatusTransferred, ticket.StatusReturned, ticket.StatusReplied, ticket.StatusCalledBack,
	ticket.StatusClosed, ticket.StatusReopened, ticket.StatusMerged}

func TestTransitions(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	R, A, F, T, Ret, Rep, CB, C, Re := ticket.StatusRegistered, ticket.StatusAnswered, ticket.StatusForwarded,
		ticket.StatusTransferred, ticket.StatusReturned, ticket.StatusReplied, ticket.StatusCalledBack,
		ticket.StatusClosed, ticket.StatusReopened
	openOnes := []ticket.Status{R, F, T, Ret, Rep, Re}
	// The workflow as the regulation reads, written out independently of
	// the code's table: action → allowed from → leads to ("" stays).
	want := []struct {
		change ticket.Change
		from   []ticket.Status
		to     ticket.Status
	}{
		{ticket.Change{Action: ticket.ActAnswer, Result: "已解释"}, []ticket.Status{R, Ret, Re}, A},
		{ticket.Change{Action: ticket.ActForward, Note: "房产部"}, []ticket.Status{R}, F},
		{transfer, []ticket.Status{R, Ret, Re}, T},
		{ticket.Change{Action: ticket.ActReturn, Note: "不属本单位"}, []ticket.Status{T}, Ret},
		{reply, []ticket.Status{T, F, Re}, Rep},
		{ticket.Change{Action: ticket.ActCallback, Satisfaction: ticket.Basic}, []ticket.Status{Rep}, CB},
		{ticket.Change{Action: ticket.ActCallback, Satisfaction: ticket.Dissatisfied}, []ticket.Status{Rep}, Re},
		{ticket.Change{Action: ticket.ActClose}, []ticket.Status{A, F, CB}, C},
		{ticket.Change{Action: ticket.ActReopen, Note: "领导要求重办"}, []ticket.Status{C, CB, A}, Re},
		{ticket.Change{Action: ticket.ActClassify, Kind: ticket.KindComplaint}, openOnes, ""},
		{ticket.Change{Action: ticket.ActSheet}, openOnes, ""},
		{ticket.Change{Action: ticket.ActNote, Note: "来电催办"}, allStatuses, ""},
	}
	for _, w := range want {
		name := string(w.change.Action)
		if w.change.Satisfaction != "" {
			name += "_" + string(w.change.Satisfaction)
		}
		for _, from := range allStatuses {
			allowed := slices.Contains(w.from, from)
			t.Run(fmt.Sprintf("%s_from_%s", name, from), func(t *testing.T) {
				id := ticketIn(t, s, from)
				before, err := s.Ticket(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				c := w.change
				c.Version = before.Version
				got, err := s.Apply(ctx, id, c)
				after, rerr := s.Ticket(ctx, id)
				if rerr != nil {
					t.Fatal(rerr)
				}
				if !allowed {
					var te *ticket.TransitionError
					if !errors.As(err, &te) {
						t.Fatalf("error = %v, want a refused transition", err)
					}
					if after.Version != before.Version || len(after.Events) != len(before.Events) || after.Status != from {
						t.Errorf("refused change altered the ticket: version %d→%d, events %d→%d, status %s",
							before.Version, after.Version, len(before.Events), len(after.Events), after.Status)
					}
					return
				}
				if err != nil {
					t.Fatalf("error = %v, want allowed", err)
				}
				wantTo := w.to
				if wantTo == "" {
					wantTo = from
				}
				if got.Status != wantTo {
					t.Errorf("status = %s, want %s", got.Status, wantTo)
				}
				if got.Version != before.Version+1 {
					t.Errorf("version = %d, want %d", got.Version, before.Version+1)
				}
				last := after.Events[len(after.Events)-1]
				if len(after.Events) != len(before.Events)+1 || last.Kind != string(c.Action) {
					t.Errorf("events %d→%d, last %+v; want one %s event", len(before.Events), len(after.Events), last, c.Action)
				}
				if w.to != "" && (last.From != from || last.To != wantTo) {
					t.Errorf("event says %s→%s, want %s→%s", last.From, last.To, from, wantTo)
				}
			})
		}
	}
}

func TestRefusedPayloads(t *testing.T) {
	s, _ := newStore(t)
	for _, tc := range []struct {
		name   string
		from   ticket.Status
		change ticket.Change
		want   error
	}{
		{"transfer to an unknown unit", ticket.StatusRegistered, ticket.Change{Action: ticket.ActTransfer, Unit: "nowhere"}, ticket.ErrUnknownUnit},
		{"reply without attestation", ticket.StatusTransferred, ticket.Change{Action: ticket.ActReply, Result: "赔偿200元"}, ticket.ErrNotAttested},
		{"return without reason", ticket.StatusTransferred, ticket.Change{Action: ticket.ActReturn}, ticket.ErrInvalid},
		{"bad satisfaction", ticket.StatusReplied, ticket.Change{Action: ticket.ActCallback, Satisfaction: "meh"}, ticket.ErrInvalid},
		{"bad kind", ticket.StatusRegistered, ticket.Change{Action: ticket.ActClassify, Kind: "rant"}, ticket.ErrInvalid},
		{"stale version", ticket.StatusRegistered, ticket.Change{Action: ticket.ActSheet, Version: 99}, ticket.ErrConflict},
		{"unknown action", ticket.StatusRegistered, ticket.Change{Action: "teleport"}, ticket.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := ticketIn(t, s, tc.from)
			if _, err := s.Apply(context.Background(), id, tc.change); !errors.Is(err, tc.want) {
				t.Errorf("error = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestTwoRepliesRace: two units' staff reply to the same ticket version at
// once; exactly one wins, the other gets ErrConflict, and the ledger holds
// one reply.
func TestTwoRepliesRace(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	for round := range 20 {
		id := ticketIn(t, s, ticket.StatusTransferred)
		d, err := s.Ticket(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		errs := make([]error, 2)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range 2 {
			wg.Go(func() {
				<-start
				c := reply
				c.Version, c.Result = d.Version, fmt.Sprintf("reply %d", i)
				_, errs[i] = s.Apply(ctx, id, c)
			})
		}
		close(start)
		wg.Wait()
		wins, conflicts := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case errors.Is(err, ticket.ErrConflict):
				conflicts++
			default:
				t.Fatalf("round %d: unexpected error %v", round, err)
			}
		}
		if wins != 1 || conflicts != 1 {
			t.Fatalf("round %d: %d wins and %d conflicts, want 1 and 1", round, wins, conflicts)
		}
		after, err := s.Ticket(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		replies := 0
		for _, e := range after.Events {
			if e.Kind == string(ticket.ActReply) {
				replies++
			}
		}
		if replies != 1 || after.Status != ticket.StatusReplied {
			t.Fatalf("round %d: %d reply events, status %s; want 1, replied", round, replies, after.Status)
		}
	}
}

func TestDeadlinesFollowTheWorkflow(t *testing.T) {
	s, clk := newStore(t)
	ctx := context.Background()
	// Registered Monday 2026-11-30 10:00.
	id := ticketIn(t, s, ticket.StatusRegistered)
	clk.Set(local(2026, 11, 30, 11, 20)) // transferred 20 min late
	must(t, s, id, ticket.Change{Action: ticket.ActClassify, Kind: ticket.KindComplaint})
	must(t, s, id, transfer)
	clk.Set(local(2026, 11, 30, 11, 50)) // sheet on time
	must(t, s, id, ticket.Change{Action: ticket.ActSheet})
	clk.Set(local(2026, 12, 2, 9, 0)) // feedback due Wed 11:20: on time
	must(t, s, id, reply)
	clk.Set(local(2026, 12, 8, 9, 0)) // callback due Mon 12-07 09:00: late
	must(t, s, id, ticket.Change{Action: ticket.ActCallback, Satisfaction: ticket.Satisfied})
	d, err := s.Ticket(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	got := map[ticket.Stage]string{}
	for _, dl := range d.Deadlines {
		got[dl.Stage] = fmt.Sprintf("due %s late %v", dl.DueAt.In(shanghai).Format("01-02 15:04"), dl.Late(clk.Now()))
	}
	want := map[ticket.Stage]string{
		ticket.StageTransfer: "due 11-30 11:00 late true",
		ticket.StageSheet:    "due 11-30 12:00 late false",
		ticket.StageFeedback: "due 12-02 11:20 late false",
		ticket.StageCallback: "due 12-07 09:00 late true",
	}
	for st, w := range want {
		if got[st] != w {
			t.Errorf("%s: %s, want %s", st, got[st], w)
		}
	}
}

func TestOpenCountsAndOverdue(t *testing.T) {
	s, clk := newStore(t)
	ctx := context.Background()
	a := ticketIn(t, s, ticket.StatusRegistered)
	ticketIn(t, s, ticket.StatusRegistered)
	ticketIn(t, s, ticket.StatusTransferred) // feedback open at keyun
	must(t, s, a, ticket.Change{Action: ticket.ActClassify, Kind: ticket.KindQuestion})
	clk.Set(local(2026, 11, 30, 11, 30)) // transfer deadlines (11:00) passed
	counts, err := s.OpenCounts(ctx, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(counts)
	want := "[{feedback keyun 1 0} {sheet  2 0} {transfer  2 2}]"
	if got != want {
		t.Errorf("counts = %s, want %s", got, want)
	}
	over, err := s.Overdue(ctx, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(over) != 2 || over[0].Stage != ticket.StageTransfer || over[0].Number == "" {
		t.Errorf("overdue = %+v, want the two transfers", over)
	}
	soon, err := s.OpenDeadlines(ctx, ticket.DeadlineFilter{DueBefore: clk.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(soon) != 4 {
		t.Errorf("due within an hour: %d, want 4 (two transfers, two sheets)", len(soon))
	}
}
