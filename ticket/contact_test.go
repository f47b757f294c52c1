package ticket_test

import (
	"context"
	"testing"

	"hotline/ticket"
)

// TestRegistrationContact keeps 第十三条's contact beside the calling
// number: given at registration (QR form) or by the agent's classify.
func TestRegistrationContact(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	tests := []struct {
		name     string
		new      ticket.NewTicket
		classify string
		want     string
	}{
		{"none given", ticket.NewTicket{Channel: ticket.ChannelHotline, Caller: "13800000001"}, "", ""},
		{"e-mail from the QR form", ticket.NewTicket{Channel: ticket.ChannelQRCode, Caller: "li@example.com", Contact: "li@example.com"}, "", "li@example.com"},
		{"agent records another number", ticket.NewTicket{Channel: ticket.ChannelHotline, Caller: "13800000002"}, "0635-8888888", "0635-8888888"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref, err := s.Register(ctx, tt.new)
			if err != nil {
				t.Fatal(err)
			}
			if tt.classify != "" {
				if _, err := s.Apply(ctx, ref.TicketID, ticket.Change{Action: ticket.ActClassify, Contact: tt.classify, Actor: "agent"}); err != nil {
					t.Fatal(err)
				}
			}
			got, err := s.Ticket(ctx, ref.TicketID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Contact != tt.want {
				t.Errorf("contact %q, want %q", got.Contact, tt.want)
			}
		})
	}
}
