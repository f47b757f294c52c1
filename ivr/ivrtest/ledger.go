// Package ivrtest provides an in-memory ledger and calendar that implement
// the interfaces the ivr package needs, for tests of the call flows and of
// the HTTP API without a database.
package ivrtest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"hotline/ivr"
	"hotline/telephony"
)

// CallRecord is a call as the fake ledger holds it.
type CallRecord struct {
	Open   ivr.CallOpen
	Ticket ivr.TicketID
	Line   string
	Closed *ivr.CallClose
}

// Callback is a scheduled callback.
type Callback struct {
	Ticket ivr.TicketID
	Due    time.Time
	Why    string
}

// Transfer is a transfer (or failed transfer) recorded on a ticket.
type Transfer struct {
	Ticket ivr.TicketID
	Unit   string
	Reason telephony.Reason // "" when connected
	At     time.Time
}

// Ledger is an in-memory ivr.Ledger. The zero value is not usable; use
// NewLedger.
type Ledger struct {
	// OpenGate, when set, holds OpenCall until it is closed: a slow disk.
	OpenGate chan struct{}
	// Err, when set, fails every write.
	Err error

	mu         sync.Mutex
	next       ivr.TicketID
	tickets    map[ivr.TicketID]*ivr.Ticket
	calls      map[string]*CallRecord
	recordings map[ivr.TicketID][]ivr.Recording
	assigned   map[ivr.TicketID]string
	transfers  []Transfer
	callbacks  []Callback
	logins     map[string]bool
	changed    chan struct{}
}

var _ ivr.Ledger = (*Ledger)(nil)

// NewLedger returns an empty ledger.
func NewLedger() *Ledger {
	return &Ledger{
		tickets: make(map[ivr.TicketID]*ivr.Ticket), calls: make(map[string]*CallRecord),
		recordings: make(map[ivr.TicketID][]ivr.Recording), assigned: make(map[ivr.TicketID]string),
		logins: make(map[string]bool), changed: make(chan struct{}),
	}
}

// changedLocked wakes those waiting in WaitFor; l.mu must be held.
func (l *Ledger) changedLocked() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// WaitFor blocks until cond (called with the ledger locked) holds or ctx
// ends; it reports whether cond held.
func (l *Ledger) WaitFor(ctx context.Context, cond func(v View) bool) bool {
	for {
		l.mu.Lock()
		ok := cond(View{l})
		ch := l.changed
		l.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}

// View reads the ledger while it is locked (inside WaitFor) or through
// the Ledger's own accessors.
type View struct{ l *Ledger }

// Call returns the call record of a call id.
func (v View) Call(id string) (CallRecord, bool) {
	c, ok := v.l.calls[id]
	if !ok {
		return CallRecord{}, false
	}
	return *c, true
}

// Ticket returns a ticket.
func (v View) Ticket(id ivr.TicketID) (ivr.Ticket, bool) {
	t, ok := v.l.tickets[id]
	if !ok {
		return ivr.Ticket{}, false
	}
	return *t, true
}

// Recordings returns the recordings attached to a ticket.
func (v View) Recordings(id ivr.TicketID) []ivr.Recording {
	return append([]ivr.Recording(nil), v.l.recordings[id]...)
}

// Assigned returns the agent a ticket is assigned to.
func (v View) Assigned(id ivr.TicketID) string { return v.l.assigned[id] }

// Transfers returns the transfers recorded, in order.
func (v View) Transfers() []Transfer { return append([]Transfer(nil), v.l.transfers...) }

// Callbacks returns the callbacks scheduled, in order.
func (v View) Callbacks() []Callback { return append([]Callback(nil), v.l.callbacks...) }

// CallRecords returns every call record, in the order of their tickets
// and call ids.
func (v View) CallRecords() []CallRecord {
	out := make([]CallRecord, 0, len(v.l.calls))
	for _, c := range v.l.calls {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Ticket != out[j].Ticket {
			return out[i].Ticket < out[j].Ticket
		}
		return out[i].Open.CallID < out[j].Open.CallID
	})
	return out
}

// Tickets returns every ticket, by id.
func (v View) Tickets() []ivr.Ticket {
	out := make([]ivr.Ticket, 0, len(v.l.tickets))
	for _, t := range v.l.tickets {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Read runs f with the ledger locked.
func (l *Ledger) Read(f func(v View)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f(View{l})
}

// OpenCall opens the call and a ticket, idempotently on the call id.
func (l *Ledger) OpenCall(ctx context.Context, c ivr.CallOpen) (ivr.Ticket, error) {
	if l.OpenGate != nil {
		select {
		case <-l.OpenGate:
		case <-ctx.Done():
			return ivr.Ticket{}, ctx.Err()
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Err != nil {
		return ivr.Ticket{}, l.Err
	}
	if rec, ok := l.calls[c.CallID]; ok {
		return *l.tickets[rec.Ticket], nil
	}
	l.next++
	t := &ivr.Ticket{ID: l.next, Number: fmt.Sprintf("96596-%s-%04d", c.Answered.Format("20060102"), l.next),
		Caller: c.Caller, Dialled: c.Dialled, Channel: c.Channel, Status: "registered", Opened: c.Answered}
	l.tickets[t.ID] = t
	l.calls[c.CallID] = &CallRecord{Open: c, Ticket: t.ID}
	l.changedLocked()
	return *t, nil
}

// TagLine sets the line; a ticket of the same known caller and line that
// is still registered absorbs the new one (a simple 并单).
func (l *Ledger) TagLine(ctx context.Context, callID string, id ivr.TicketID, line string) (ivr.Ticket, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Err != nil {
		return ivr.Ticket{}, l.Err
	}
	t, ok := l.tickets[id]
	if !ok {
		return ivr.Ticket{}, fmt.Errorf("ticket %d not found", id)
	}
	c := l.calls[callID]
	c.Line = line
	defer l.changedLocked()
	for _, old := range l.tickets {
		if old.ID < t.ID && old.Caller == t.Caller && t.Caller != ivr.CallerUnknown && old.Line == line && old.Status == "registered" {
			c.Ticket = old.ID
			t.Status = "merged"
			return *old, nil
		}
	}
	t.Line = line
	return *t, nil
}

// CloseCall completes the call record.
func (l *Ledger) CloseCall(ctx context.Context, c ivr.CallClose) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Err != nil {
		return l.Err
	}
	rec, ok := l.calls[c.CallID]
	if !ok {
		return fmt.Errorf("call %s not found", c.CallID)
	}
	rec.Closed = &c
	if c.Recording != "" {
		l.recordings[rec.Ticket] = append(l.recordings[rec.Ticket], ivr.Recording{Kind: ivr.RecordingCall, Path: c.Recording, Duration: c.RecordingDuration})
	}
	l.changedLocked()
	return nil
}

// AttachRecording adds a recording to the ticket.
func (l *Ledger) AttachRecording(ctx context.Context, id ivr.TicketID, callID string, r ivr.Recording) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Err != nil {
		return l.Err
	}
	l.recordings[id] = append(l.recordings[id], r)
	l.changedLocked()
	return nil
}

// History lists the caller's other tickets, newest first.
func (l *Ledger) History(ctx context.Context, caller string, except ivr.TicketID) ([]ivr.TicketSummary, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if caller == ivr.CallerUnknown {
		return nil, nil
	}
	var out []ivr.TicketSummary
	for _, t := range l.tickets {
		if t.Caller == caller && t.ID != except && t.Status != "merged" {
			out = append(out, ivr.TicketSummary{ID: t.ID, Number: t.Number, Line: t.Line, Status: t.Status, Opened: t.Opened})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	return out, nil
}

// AssignAgent records the agent.
func (l *Ledger) AssignAgent(ctx context.Context, callID string, id ivr.TicketID, agentID string, at time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Err != nil {
		return l.Err
	}
	l.assigned[id] = agentID
	l.changedLocked()
	return nil
}

// RecordTransfer records a connected transfer.
func (l *Ledger) RecordTransfer(ctx context.Context, id ivr.TicketID, unitID string, at time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Err != nil {
		return l.Err
	}
	l.transfers = append(l.transfers, Transfer{Ticket: id, Unit: unitID, At: at})
	if t, ok := l.tickets[id]; ok {
		t.Status = "transferred"
	}
	l.changedLocked()
	return nil
}

// RecordTransferFailure records a failed transfer.
func (l *Ledger) RecordTransferFailure(ctx context.Context, id ivr.TicketID, unitID string, reason telephony.Reason, at time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Err != nil {
		return l.Err
	}
	l.transfers = append(l.transfers, Transfer{Ticket: id, Unit: unitID, Reason: reason, At: at})
	l.changedLocked()
	return nil
}

// ScheduleCallback records a callback.
func (l *Ledger) ScheduleCallback(ctx context.Context, id ivr.TicketID, due time.Time, why string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Err != nil {
		return l.Err
	}
	l.callbacks = append(l.callbacks, Callback{Ticket: id, Due: due, Why: why})
	l.changedLocked()
	return nil
}

// SetAgentLogin stores the login state.
func (l *Ledger) SetAgentLogin(ctx context.Context, agentID string, in bool, at time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Err != nil {
		return l.Err
	}
	l.logins[agentID] = in
	l.changedLocked()
	return nil
}

// LoggedInAgents lists the agents stored as logged in, sorted.
func (l *Ledger) LoggedInAgents(ctx context.Context) ([]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ids []string
	for id, in := range l.logins {
		if in {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// Calendar is a fake calendar: open or closed, with a fixed next opening.
type Calendar struct {
	Closed bool
	Next   time.Time // NextOpening when closed
}

// IsOpen reports !Closed.
func (c Calendar) IsOpen(time.Time) bool { return !c.Closed }

// NextOpen returns t when open, else Next.
func (c Calendar) NextOpen(t time.Time) time.Time {
	if !c.Closed {
		return t
	}
	return c.Next
}
