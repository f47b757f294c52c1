package ticket_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"hotline/ticket"
)

func TestRepeatMerge(t *testing.T) {
	ctx := context.Background()
	type contact struct {
		caller, line string
		after        time.Duration // after the first contact
	}
	for _, tc := range []struct {
		name       string
		prepare    func(t *testing.T, s *ticket.Store, firstID int64)
		second     contact
		wantMerged bool
	}{
		{"same caller and line within the window", nil, contact{"13800000001", "passenger", time.Hour}, true},
		{"other line", nil, contact{"13800000001", "freight", time.Hour}, false},
		{"other caller", nil, contact{"13800000002", "passenger", time.Hour}, false},
		{"after the window", nil, contact{"13800000001", "passenger", 73 * time.Hour}, false},
		{"earlier ticket answered", func(t *testing.T, s *ticket.Store, id int64) {
			must(t, s, id, ticket.Change{Action: ticket.ActAnswer})
		}, contact{"13800000001", "passenger", time.Hour}, false},
		{"earlier ticket with the unit", func(t *testing.T, s *ticket.Store, id int64) {
			must(t, s, id, transfer)
		}, contact{"13800000001", "passenger", 48 * time.Hour}, true},
		{"unknown callers never merge", nil, contact{"", "passenger", time.Hour}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, clk := newStore(t)
			firstCaller := "13800000001"
			if tc.second.caller == "" {
				firstCaller = "anonymous"
			}
			first, err := s.OpenForCall(ctx, ticket.CallInfo{CallID: "first", Caller: firstCaller})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.SetLine(ctx, "first", "passenger"); err != nil {
				t.Fatal(err)
			}
			if tc.prepare != nil {
				tc.prepare(t, s, first.TicketID)
			}
			clk.Advance(tc.second.after)
			second, err := s.OpenForCall(ctx, ticket.CallInfo{CallID: "second", Caller: tc.second.caller})
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.SetLine(ctx, "second", tc.second.line)
			if err != nil {
				t.Fatal(err)
			}
			if merged := got.TicketID == first.TicketID; merged != tc.wantMerged || got.Repeat != tc.wantMerged {
				t.Fatalf("effective ticket %+v (first %d, second %d), want merged=%v", got, first.TicketID, second.TicketID, tc.wantMerged)
			}
			// Asking again changes nothing.
			again, err := s.SetLine(ctx, "second", tc.second.line)
			if err != nil || again != got {
				t.Errorf("second SetLine = %+v, %v; want %+v", again, err, got)
			}
			if !tc.wantMerged {
				return
			}
			earlier, err := s.Ticket(ctx, first.TicketID)
			if err != nil {
				t.Fatal(err)
			}
			if earlier.Repeats != 1 || len(earlier.Calls) != 2 {
				t.Errorf("earlier ticket: %d repeats, %d calls; want 1 and 2", earlier.Repeats, len(earlier.Calls))
			}
			fresh, err := s.Ticket(ctx, second.TicketID)
			if err != nil {
				t.Fatal(err)
			}
			if fresh.Status != ticket.StatusMerged || fresh.MergedInto != first.TicketID {
				t.Errorf("fresh ticket %s merged into %d, want merged into %d", fresh.Status, fresh.MergedInto, first.TicketID)
			}
			for _, d := range fresh.Deadlines {
				if !d.Waived {
					t.Errorf("merged ticket's %s deadline still counts", d.Stage)
				}
			}
			// The call's ticket is now the earlier one.
			byCall, err := s.TicketForCall(ctx, "second")
			if err != nil || byCall.ID != first.TicketID {
				t.Errorf("ticket for call = %d, %v; want %d", byCall.ID, err, first.TicketID)
			}
		})
	}
}

func TestCallLifecycle(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	agent, err := s.PutUser(ctx, ticket.User{Login: "agent7", Name: "王坐席", Role: ticket.RoleAgent, Endpoint: "sip:agent7@127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := s.OpenForCall(ctx, ticket.CallInfo{CallID: "c1", Caller: "13812345678", Dialled: "96596", Started: clk.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetLine(ctx, "c1", "passenger"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	if err := s.AssignAgent(ctx, "c1", agent); err != nil {
		t.Fatal(err)
	}
	if err := s.TransferFailed(ctx, ref.TicketID, "keyun", "busy", ticket.UserActor(agent)); err != nil {
		t.Fatal(err)
	}
	must(t, s, ref.TicketID, ticket.Change{Action: ticket.ActTransfer, Unit: "keyun", Actor: ticket.UserActor(agent)})
	clk.Advance(3 * time.Minute)
	end := ticket.CallEnd{Reason: "hungup", By: "remote", Cause: 16, IVRChoice: "1", RecordingPath: "/var/rec/c1.wav", RecordingDuration: 185 * time.Second}
	if err := s.EndCall(ctx, "c1", end); err != nil {
		t.Fatal(err)
	}
	if err := s.EndCall(ctx, "c1", end); err != nil { // delivered twice: no second event
		t.Fatal(err)
	}
	d, err := s.Ticket(ctx, ref.TicketID)
	if err != nil {
		t.Fatal(err)
	}
	c := d.Calls[0]
	if c.EndReason != "hungup" || c.EndBy != "remote" || c.Cause != 16 || c.IVRChoice != "1" || c.Line != "passenger" ||
		c.RecordingPath != "/var/rec/c1.wav" || c.RecordingMS != 185000 || c.AgentID != agent || c.AnsweredAt == nil || c.EndedAt == nil {
		t.Errorf("call record = %+v", c)
	}
	if d.AgentID != agent || d.UnitID != "keyun" || d.Status != ticket.StatusTransferred {
		t.Errorf("ticket = agent %d unit %s status %s", d.AgentID, d.UnitID, d.Status)
	}
	var kinds []string
	for _, e := range d.Events {
		kinds = append(kinds, e.Kind)
	}
	want := []string{"opened", "line", "assigned", "transfer_failed", "transfer", "call_ended", "recording"}
	if len(kinds) != len(want) {
		t.Fatalf("events = %v, want %v", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("events = %v, want %v", kinds, want)
		}
	}
	if err := s.EndCall(ctx, "nosuch", end); !errors.Is(err, ticket.ErrNotFound) {
		t.Errorf("end of unknown call: %v, want ErrNotFound", err)
	}
	if err := s.AssignAgent(ctx, "c1", 999); !errors.Is(err, ticket.ErrUnknownUser) {
		t.Errorf("assign to unknown agent: %v, want ErrUnknownUser", err)
	}
	hist, err := s.CallerHistory(ctx, "13812345678", 0, 10)
	if err != nil || len(hist) != 1 {
		t.Errorf("caller history = %d tickets, %v; want 1", len(hist), err)
	}
}

func TestAgentLoginSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	s, err := ticket.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SyncUnits(ctx, testUnits); err != nil {
		t.Fatal(err)
	}
	id, err := s.PutUser(ctx, ticket.User{Login: "a1", Role: ticket.RoleAgent, Endpoint: "sip:a1@127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutUser(ctx, ticket.User{Login: "u1", Role: ticket.RoleUnit, UnitID: "keyun"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutUser(ctx, ticket.User{Login: "u2", Role: ticket.RoleUnit, UnitID: "nowhere"}); !errors.Is(err, ticket.ErrUnknownUnit) {
		t.Errorf("unit user of an unknown unit: %v, want ErrUnknownUnit", err)
	}
	if err := s.SetLoggedIn(ctx, id, true); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = ticket.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	in, err := s.Users(ctx, ticket.RoleAgent, true)
	if err != nil || len(in) != 1 || in[0].Login != "a1" || in[0].Endpoint != "sip:a1@127.0.0.1" {
		t.Errorf("logged-in agents after restart = %+v, %v", in, err)
	}
}

func TestCallbackClaims(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t, ticket.WithSurveyOnReply(false)) // the survey is placed by hand
	id := ticketIn(t, s, ticket.StatusReplied)
	now := clk.Now()
	cbID, err := s.ScheduleCallback(ctx, id, ticket.CallbackSurvey, now.Add(time.Hour), now.Add(72*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimCallback(ctx, "dialer-a", time.Minute); !errors.Is(err, ticket.ErrNotFound) {
		t.Fatalf("claim before the window: %v, want ErrNotFound", err)
	}
	clk.Advance(time.Hour)
	// Many dialers race for one attempt: exactly one gets it.
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for i := range 8 {
		wg.Go(func() {
			cb, err := s.ClaimCallback(ctx, "dialer-"+string(rune('a'+i)), time.Minute)
			if err == nil {
				mu.Lock()
				won++
				mu.Unlock()
				if cb.ID != cbID || cb.Attempts != 1 {
					t.Errorf("claimed %+v", cb)
				}
			} else if !errors.Is(err, ticket.ErrNotFound) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d dialers claimed the attempt, want 1", won)
	}
	cbs, err := s.Callbacks(ctx, ticket.CallbackClaimed)
	if err != nil || len(cbs) != 1 {
		t.Fatalf("claimed callbacks = %v, %v", cbs, err)
	}
	owner := cbs[0].LeaseOwner
	if err := s.FinishCallback(ctx, cbID, "someone-else", "noanswer", "", clk.Now().Add(time.Hour)); !errors.Is(err, ticket.ErrLeaseLost) {
		t.Errorf("finish by a non-owner: %v, want ErrLeaseLost", err)
	}
	if err := s.FinishCallback(ctx, cbID, owner, "noanswer", "", clk.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// The lease of a dialer that died runs out and the attempt is claimable.
	clk.Advance(time.Hour)
	cb, err := s.ClaimCallback(ctx, "dialer-x", time.Minute)
	if err != nil || cb.Attempts != 2 {
		t.Fatalf("second attempt = %+v, %v", cb, err)
	}
	clk.Advance(2 * time.Minute)
	cb, err = s.ClaimCallback(ctx, "dialer-y", time.Minute)
	if err != nil || cb.Attempts != 3 || cb.LeaseOwner != "dialer-y" {
		t.Fatalf("claim after an expired lease = %+v, %v", cb, err)
	}
	if err := s.FinishCallback(ctx, cbID, "dialer-x", "answered", ticket.CallbackDone, time.Time{}); !errors.Is(err, ticket.ErrLeaseLost) {
		t.Errorf("finish after losing the lease: %v, want ErrLeaseLost", err)
	}
	if err := s.FinishCallback(ctx, cbID, "dialer-y", "answered", ticket.CallbackDone, time.Time{}); err != nil {
		t.Fatal(err)
	}
	done, err := s.Callbacks(ctx, ticket.CallbackDone)
	if err != nil || len(done) != 1 || done[0].Outcome != "answered" {
		t.Errorf("done callbacks = %+v, %v", done, err)
	}
}

func TestMigrateEmptyFileAndEventsAppendOnly(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "empty.db")
	applied, err := ticket.Migrate(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) == 0 || applied[0] != 1 {
		t.Fatalf("applied %v, want from version 1", applied)
	}
	again, err := ticket.Migrate(ctx, path)
	if err != nil || len(again) != 0 {
		t.Fatalf("second migrate applied %v, %v; want nothing", again, err)
	}
	s, err := ticket.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.OpenForCall(ctx, ticket.CallInfo{CallID: "x", Caller: "13800000000"}); err != nil {
		t.Fatal(err)
	}
	if err := ticket.TamperForTest(ctx, s, `UPDATE ticket_events SET note = 'x'`); err == nil {
		t.Error("an event was updated, want refused")
	}
	if err := ticket.TamperForTest(ctx, s, `DELETE FROM ticket_events`); err == nil {
		t.Error("an event was deleted, want refused")
	}
}

func TestBackup(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	for range 50 {
		if _, err := s.OpenForCall(ctx, ticket.CallInfo{CallID: nextCallID(), Caller: "13800000000"}); err != nil {
			t.Fatal(err)
		}
	}
	dst := filepath.Join(t.TempDir(), "copy.db")
	if err := s.Backup(ctx, dst); err != nil {
		t.Fatal(err)
	}
	if err := s.Backup(ctx, dst); err == nil {
		t.Error("backup over an existing file succeeded, want refused")
	}
	c, err := ticket.Open(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, err := c.List(ctx, ticket.Filter{Limit: 1000})
	if err != nil || len(got) != 50 {
		t.Errorf("backup holds %d tickets, %v; want 50", len(got), err)
	}
}

func TestAttachMessageAndAssignTicket(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	agent, err := s.PutUser(ctx, ticket.User{Login: "a9", Role: ticket.RoleAgent})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := s.OpenForCall(ctx, ticket.CallInfo{CallID: "night", Caller: "13812345678"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AttachRecording(ctx, ref.TicketID, "night", "message", "/var/rec/msg.wav", 42*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := s.AssignTicket(ctx, ref.TicketID, agent); err != nil {
		t.Fatal(err)
	}
	d, err := s.Ticket(ctx, ref.TicketID)
	if err != nil {
		t.Fatal(err)
	}
	if d.AgentID != agent {
		t.Errorf("agent = %d, want %d", d.AgentID, agent)
	}
	if last := d.Events[len(d.Events)-2]; last.Kind != ticket.EventRecording || last.Note != "message /var/rec/msg.wav (42s)" {
		t.Errorf("recording event = %+v", last)
	}
	if err := s.AttachRecording(ctx, 999, "", "message", "x", 0); !errors.Is(err, ticket.ErrNotFound) {
		t.Errorf("attach to an unknown ticket: %v, want ErrNotFound", err)
	}
}
