package ivr

import (
	"context"
	"fmt"

	"hotline/ivr/callback"
	"hotline/telephony"
)

var _ callback.AgentConnector = (*Service)(nil)

// ConnectAgent puts an answered return or manual callback through to an
// agent: the caller waits in the same queue as inbound callers, the agent
// who answers gets the ticket's screen-pop and may transfer the caller to
// a unit, as on an inbound call. It returns once the conversation ended;
// hanging up the call is left to the dialer, which placed it.
func (s *Service) ConnectAgent(ctx context.Context, call telephony.Call, cb callback.Callback) error {
	info := call.Info()
	f := &flow{
		s: s, call: call, info: info,
		log: s.log.With("call", info.ID, "callback", cb.ID, "ticket", cb.TicketID,
			telephony.MaskedNumber("caller", cb.Number)),
		ticketReady: make(chan struct{}),
		// The call belongs to the ticket the callback is for.
		ticket: Ticket{ID: TicketID(cb.TicketID), Number: cb.TicketNo, Caller: cb.Number, Dialled: info.Dialled},
	}
	close(f.ticketReady)
	f.log.Info("return call to the queue", "kind", cb.Kind)
	if err := f.queue(ctx); err != nil {
		return fmt.Errorf("connect callback %d to an agent: %w", cb.ID, err)
	}
	return nil
}
