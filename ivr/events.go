package ivr

import (
	"context"
	"sync"
	"time"
)

// The event types published on the Bus.
const (
	EventScreenPop      = "screen-pop"      // an agent answered: show the ticket
	EventTransferred    = "transferred"     // the caller is talking to the unit
	EventTransferFailed = "transfer-failed" // the unit was busy, did not answer or failed
	EventAgentState     = "agent-state"     // an agent logged in or out
	EventMessageLeft    = "message-left"    // a caller left a message; a callback is scheduled
	EventCallEnded      = "call-ended"      // a call is over and its record complete in the ledger
)

// Event is something an agent console wants to know, as it is sent on
// /api/events.
type Event struct {
	Type    string    `json:"type"`
	At      time.Time `json:"at"`
	Agent   string    `json:"agent,omitempty"`
	CallID  string    `json:"call_id,omitempty"`
	Ticket  *Ticket   `json:"ticket,omitempty"`
	Unit    string    `json:"unit,omitempty"`
	Outcome string    `json:"outcome,omitempty"` // reason of a failed transfer or ended call; "in"/"out" for agent state
}

// Bus is an in-process publish/subscribe of events. A slow subscriber
// loses events rather than holding up a call.
type Bus struct {
	mu   sync.Mutex
	subs map[chan Event]struct{}
}

// NewBus returns an empty bus.
func NewBus() *Bus { return &Bus{subs: make(map[chan Event]struct{})} }

// subscriberBuffer is how many events a subscriber may lag behind.
const subscriberBuffer = 64

// Subscribe returns a channel of the events published from now on; it is
// closed once ctx is done.
func (b *Bus) Subscribe(ctx context.Context) <-chan Event {
	ch := make(chan Event, subscriberBuffer)
	b.mu.Lock()
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	go func() {
		<-ctx.Done()
		b.mu.Lock()
		delete(b.subs, ch)
		close(ch)
		b.mu.Unlock()
	}()
	return ch
}

// Publish sends e to every subscriber that has room for it.
func (b *Bus) Publish(e Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		select {
		case ch <- e:
		default:
		}
	}
}
