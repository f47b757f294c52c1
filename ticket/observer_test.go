package ticket_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"hotline/ticket"
)

// observed records what the ledger told its observer.
type observed struct {
	mu  sync.Mutex
	got []string
}

func (o *observed) add(s string)   { o.mu.Lock(); o.got = append(o.got, s); o.mu.Unlock() }
func (o *observed) TicketOpened()  { o.add("opened") }
func (o *observed) RepeatContact() { o.add("repeat") }
func (o *observed) TicketReopened(unit string) {
	o.add("reopened " + unit)
}
func (o *observed) DeadlineDone(stage ticket.Stage, unit string, late bool) {
	o.add(fmt.Sprintf("%s %s late=%v", stage, unit, late))
}

func (o *observed) WriteDone(time.Duration) {}

func (o *observed) take() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	got := o.got
	o.got = nil
	return got
}

func TestObserverIsToldWhatCommitted(t *testing.T) {
	obs := &observed{}
	s, clk := newStore(t, ticket.WithObserver(obs))
	ctx := context.Background()
	ref, err := s.Register(ctx, ticket.NewTicket{Channel: ticket.ChannelHotline, Caller: "13800000001", Kind: ticket.KindComplaint})
	if err != nil {
		t.Fatal(err)
	}
	if got := obs.take(); !slices.Equal(got, []string{"opened"}) {
		t.Fatalf("after register: %v", got)
	}

	steps := []struct {
		name    string
		advance time.Duration
		change  ticket.Change
		want    []string
	}{
		{"transfer in time", 10 * time.Minute, ticket.Change{Action: ticket.ActTransfer, Unit: "keyun", Actor: "ivr"},
			[]string{"transfer  late=false"}},
		{"sheet late", 5 * time.Hour, ticket.Change{Action: ticket.ActSheet, Actor: "ivr"},
			[]string{"sheet  late=true"}},
		{"refused change tells nothing", 0, ticket.Change{Action: ticket.ActClose, Actor: "ivr"}, nil},
		{"reply in time", time.Hour, ticket.Change{Action: ticket.ActReply, Actor: "unit", Result: "已处理", NoPaymentAttested: true},
			[]string{"feedback keyun late=false"}},
		{"dissatisfied callback reopens", time.Hour, ticket.Change{Action: ticket.ActCallback, Actor: "ivr", Satisfaction: ticket.Dissatisfied},
			[]string{"callback keyun late=false", "reopened keyun"}},
	}
	for _, st := range steps {
		clk.Advance(st.advance)
		_, err := s.Apply(ctx, ref.TicketID, st.change)
		if (err != nil) != (st.want == nil) {
			t.Fatalf("%s: err = %v", st.name, err)
		}
		if got := obs.take(); !slices.Equal(got, st.want) {
			t.Errorf("%s: observer told %q, want %q", st.name, got, st.want)
		}
	}
}
