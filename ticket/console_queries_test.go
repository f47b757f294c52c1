package ticket_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"hotline/ticket"
)

func TestConsoleSearchAndUnitQueue(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	reg := func(ch ticket.Channel, caller string, kind ticket.Kind, content string) int64 {
		t.Helper()
		ref, err := s.Register(ctx, ticket.NewTicket{Channel: ch, Caller: caller, Kind: kind, Content: content, Line: "passenger", Actor: "test"})
		if err != nil {
			t.Fatal(err)
		}
		return ref.TicketID
	}
	late := reg(ticket.ChannelHotline, "13812345678", ticket.KindComplaint, "空调不制冷")
	moved := reg(ticket.ChannelHotline, "13900000000", ticket.KindComplaint, "司机态度 100%_差")
	qr := reg(ticket.ChannelQRCode, "13700000000", ticket.KindSuggestion, "增加班次")
	if _, err := s.Apply(ctx, moved, ticket.Change{Action: ticket.ActTransfer, Unit: "keyun", Actor: "user:1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(ctx, qr, ticket.Change{Action: ticket.ActForward, Unit: "keyun", Actor: "user:1"}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(3 * time.Hour) // Monday 13:00: the 1-working-hour transfer of "late" is missed

	tests := []struct {
		name string
		f    ticket.SearchFilter
		want []int64
	}{
		{"all, newest first", ticket.SearchFilter{}, []int64{qr, moved, late}},
		{"kind", ticket.SearchFilter{Kind: ticket.KindComplaint}, []int64{moved, late}},
		{"channel", ticket.SearchFilter{Channel: ticket.ChannelQRCode}, []int64{qr}},
		{"unit", ticket.SearchFilter{Unit: "keyun"}, []int64{qr, moved}},
		{"status", ticket.SearchFilter{Status: ticket.StatusTransferred}, []int64{moved}},
		{"text in content", ticket.SearchFilter{Text: "空调"}, []int64{late}},
		{"text with LIKE wildcards", ticket.SearchFilter{Text: "100%_"}, []int64{moved}},
		{"text in caller", ticket.SearchFilter{Text: "1370000"}, []int64{qr}},
		{"overdue: complaints without a sheet after 2 hours", ticket.SearchFilter{Overdue: true}, []int64{moved, late}},
		{"until", ticket.SearchFilter{Until: clk.Now().Add(-4 * time.Hour)}, nil},
		{"satisfaction", ticket.SearchFilter{Satisfaction: ticket.Satisfied}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Search(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, l := range got {
				ids = append(ids, l.ID)
			}
			if len(ids) != len(tt.want) {
				t.Fatalf("got %v, want %v", ids, tt.want)
			}
			for i := range ids {
				if ids[i] != tt.want[i] {
					t.Fatalf("got %v, want %v", ids, tt.want)
				}
			}
		})
	}

	queue, err := s.UnitQueue(ctx, "keyun")
	if err != nil {
		t.Fatal(err)
	}
	if len(queue) != 2 {
		t.Fatalf("got %d tickets in keyun's queue, want 2", len(queue))
	}
	// The soonest deadline first: the missed sheet of "moved"; "qr" was
	// forwarded, which starts no clock.
	if l := queue[0]; l.ID != moved || l.NextStage != ticket.StageSheet || !l.Overdue || l.NextDue.After(clk.Now()) {
		t.Errorf("first: got ticket %d next %s due %v overdue %v, want %d with its missed sheet", l.ID, l.NextStage, l.NextDue, l.Overdue, moved)
	}
	if l := queue[1]; l.ID != qr || !l.NextDue.IsZero() || l.Overdue {
		t.Errorf("second: got ticket %d next %s due %v overdue %v, want %d without deadline", l.ID, l.NextStage, l.NextDue, l.Overdue, qr)
	}
	if _, err := s.CallRecord(ctx, 999); !errors.Is(err, ticket.ErrNotFound) {
		t.Fatalf("unknown call: got %v, want ErrNotFound", err)
	}
}
