package ivr

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"hotline/telephony"
	"hotline/ticket"
)

// TicketLedger is the Ledger on the SQLite complaint ledger (package
// ticket). Agents are users of the ledger (role agent, login = agent id,
// endpoint = dial), synced from the configuration when it is built.
type TicketLedger struct {
	store *ticket.Store

	mu     sync.Mutex
	agents map[string]int64 // agent id → user id
	logins map[int64]string // user id → agent id
}

var _ Ledger = (*TicketLedger)(nil)

// CallbackWindow is how long after the next opening a return call for a
// message is due.
const CallbackWindow = 24 * time.Hour

// NewTicketLedger syncs the configured agents into the ledger's users and
// returns the adapter.
func NewTicketLedger(ctx context.Context, store *ticket.Store, agents []Agent) (*TicketLedger, error) {
	l := &TicketLedger{store: store, agents: make(map[string]int64), logins: make(map[int64]string)}
	for _, a := range agents {
		id, err := store.PutUser(ctx, ticket.User{Login: a.ID, Name: a.Name, Role: ticket.RoleAgent, Endpoint: a.Dial})
		if err != nil {
			return nil, fmt.Errorf("sync agent %s: %w", a.ID, err)
		}
		l.agents[a.ID] = id
		l.logins[id] = a.ID
	}
	return l, nil
}

func (l *TicketLedger) userID(agentID string) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	id, ok := l.agents[agentID]
	if !ok {
		return 0, fmt.Errorf("agent %q: %w", agentID, ErrUnknownAgent)
	}
	return id, nil
}

// OpenCall opens the call and its ticket.
func (l *TicketLedger) OpenCall(ctx context.Context, c CallOpen) (Ticket, error) {
	ref, err := l.store.OpenForCall(ctx, ticket.CallInfo{CallID: c.CallID, Direction: string(c.Direction), Caller: c.Caller,
		CallerName: c.CallerName, Dialled: c.Dialled, Started: c.Answered})
	if err != nil {
		return Ticket{}, err
	}
	return Ticket{ID: TicketID(ref.TicketID), Number: ref.Number, Caller: ticket.NormalizeCaller(c.Caller), Dialled: c.Dialled,
		Channel: string(ticket.ChannelHotline), Status: string(ticket.StatusRegistered), Opened: c.Answered}, nil
}

// TagLine sets the line; the ledger applies 并单.
func (l *TicketLedger) TagLine(ctx context.Context, callID string, _ TicketID, line string) (Ticket, error) {
	ref, err := l.store.SetLine(ctx, callID, line)
	if err != nil {
		return Ticket{}, err
	}
	return Ticket{ID: TicketID(ref.TicketID), Number: ref.Number, Line: line}, nil
}

// CloseCall ends the call record and attaches the call's recording.
func (l *TicketLedger) CloseCall(ctx context.Context, c CallClose) error {
	return l.store.EndCall(ctx, c.CallID, ticket.CallEnd{At: c.Ended, Reason: string(c.Reason), By: c.By, Cause: c.Cause,
		IVRChoice: c.Choice, RecordingPath: c.Recording, RecordingDuration: c.RecordingDuration})
}

// AttachRecording puts the recording in the ticket's handling process
// (an event "recording" noting "<kind> <path> (<duration>)").
func (l *TicketLedger) AttachRecording(ctx context.Context, t TicketID, callID string, r Recording) error {
	if err := l.store.AttachRecording(ctx, int64(t), callID, r.Kind, r.Path, r.Duration); err != nil {
		return fmt.Errorf("attach %s recording to ticket %d: %w", r.Kind, t, err)
	}
	return nil
}

// AssignAgent assigns the call and its ticket to the agent. A callback
// placed by the dialer has no call record: its ticket alone is assigned.
func (l *TicketLedger) AssignAgent(ctx context.Context, callID string, t TicketID, agentID string, _ time.Time) error {
	uid, err := l.userID(agentID)
	if err != nil {
		return err
	}
	err = l.store.AssignAgent(ctx, callID, uid)
	if errors.Is(err, ticket.ErrNotFound) && t != 0 {
		return l.store.AssignTicket(ctx, int64(t), uid)
	}
	return err
}

// History lists the caller's other tickets.
func (l *TicketLedger) History(ctx context.Context, caller string, except TicketID) ([]TicketSummary, error) {
	ts, err := l.store.CallerHistory(ctx, caller, int64(except), 10)
	if err != nil {
		return nil, err
	}
	out := make([]TicketSummary, len(ts))
	for i, t := range ts {
		out[i] = TicketSummary{ID: TicketID(t.ID), Number: t.Number, Line: t.Line, Status: string(t.Status), Opened: t.CreatedAt}
	}
	return out, nil
}

// RecordTransfer moves the ticket to transferred, to the unit; this meets
// the 1-working-hour transfer deadline. A ticket already transferred (a
// second unit) keeps its state and gets a note.
func (l *TicketLedger) RecordTransfer(ctx context.Context, t TicketID, unitID string, _ time.Time) error {
	_, err := l.store.Apply(ctx, int64(t), ticket.Change{Action: ticket.ActTransfer, Actor: "ivr", Unit: unitID})
	var te *ticket.TransitionError
	if errors.As(err, &te) {
		_, err = l.store.Apply(ctx, int64(t), ticket.Change{Action: ticket.ActNote, Actor: "ivr", Note: "transferred by phone to " + unitID})
	}
	if err != nil {
		return fmt.Errorf("record transfer of ticket %d to %s: %w", t, unitID, err)
	}
	return nil
}

// RecordTransferFailure records the failed transfer; the deadline runs on.
func (l *TicketLedger) RecordTransferFailure(ctx context.Context, t TicketID, unitID string, reason telephony.Reason, _ time.Time) error {
	return l.store.TransferFailed(ctx, int64(t), unitID, string(reason), "ivr")
}

// ScheduleCallback schedules a return call from due, due within
// CallbackWindow.
func (l *TicketLedger) ScheduleCallback(ctx context.Context, t TicketID, due time.Time, why string) error {
	if _, err := l.store.ScheduleCallback(ctx, int64(t), ticket.CallbackReturn, due, due.Add(CallbackWindow)); err != nil {
		return fmt.Errorf("schedule callback (%s): %w", why, err)
	}
	return nil
}

// SetAgentLogin persists the login state.
func (l *TicketLedger) SetAgentLogin(ctx context.Context, agentID string, in bool, _ time.Time) error {
	uid, err := l.userID(agentID)
	if err != nil {
		return err
	}
	return l.store.SetLoggedIn(ctx, uid, in)
}

// LoggedInAgents lists the configured agents the ledger has logged in.
func (l *TicketLedger) LoggedInAgents(ctx context.Context) ([]string, error) {
	us, err := l.store.Users(ctx, ticket.RoleAgent, true)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var ids []string
	for _, u := range us {
		if id, ok := l.logins[u.ID]; ok {
			ids = append(ids, id)
		}
	}
	return ids, nil
}
