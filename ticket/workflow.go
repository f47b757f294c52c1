package ticket

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// Action is a step of the workflow that an agent, a unit or a flow takes
// on a ticket.
type Action string

// The actions. Those with a target status move the ticket; the others
// (classify, sheet, note) record something without moving it.
const (
	ActAnswer   Action = "answer"   // answered on the spot (当场答复)
	ActForward  Action = "forward"  // question or suggestion forwarded to the department
	ActTransfer Action = "transfer" // transferred to a responsible unit (转办)
	ActReturn   Action = "return"   // the unit returns the ticket with a reason (退单)
	ActReply    Action = "reply"    // the unit replies with the result
	ActCallback Action = "callback" // the centre called back; dissatisfied reopens (重办)
	ActClose    Action = "close"    // closed (办结)
	ActReopen   Action = "reopen"   // reopened by a supervisor
	ActClassify Action = "classify" // kind, content or caller name set by the agent
	ActSheet    Action = "sheet"    // the handling-flow sheet (处理流程) was issued
	ActNote     Action = "note"     // a remark in the handling process
)

// transition is what an action may start from and where it leads; to is
// "" for actions that do not move the ticket.
type transition struct {
	from []Status
	to   Status
}

var open = []Status{StatusRegistered, StatusForwarded, StatusTransferred, StatusReturned, StatusReplied, StatusReopened}

// transitions is the workflow of 第七条 to 第九条.
var transitions = map[Action]transition{
	ActAnswer:   {[]Status{StatusRegistered, StatusReturned, StatusReopened}, StatusAnswered},
	ActForward:  {[]Status{StatusRegistered}, StatusForwarded},
	ActTransfer: {[]Status{StatusRegistered, StatusReturned, StatusReopened}, StatusTransferred},
	ActReturn:   {[]Status{StatusTransferred}, StatusReturned},
	ActReply:    {[]Status{StatusTransferred, StatusForwarded, StatusReopened}, StatusReplied},
	ActCallback: {[]Status{StatusReplied}, StatusCalledBack},
	ActClose:    {[]Status{StatusAnswered, StatusForwarded, StatusCalledBack}, StatusClosed},
	ActReopen:   {[]Status{StatusClosed, StatusCalledBack, StatusAnswered}, StatusReopened},
	ActClassify: {open, ""},
	ActSheet:    {open, ""},
	ActNote:     {append(slices.Clone(open), StatusAnswered, StatusCalledBack, StatusClosed, StatusMerged), ""},
}

// TransitionError is a refused action: not allowed from the ticket's
// status.
type TransitionError struct {
	Action Action
	From   Status
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("%s is not allowed on a ticket that is %s", e.Action, e.From)
}

// Allowed tells whether action a may be taken on a ticket in status s.
func Allowed(a Action, s Status) bool {
	tr, ok := transitions[a]
	return ok && slices.Contains(tr.from, s)
}

// Change is an action with what it carries.
type Change struct {
	Action Action
	// Version is the ticket version the actor saw; the change is refused
	// with ErrConflict when the ticket changed since. 0 skips the check:
	// only for a call flow acting on the ticket of its own call.
	Version int64
	Actor   string // who: UserActor(id), "ivr", "system"
	// Unit is the unit transferred (or forwarded) to.
	Unit string
	// Note is the reason (return, reopen), the department (forward) or a
	// remark; it goes into the event.
	Note string
	// Result is the answer given (answer, reply).
	Result string
	// CCTVPreserved and NoPaymentAttested come with a unit's reply
	// (第八条); a reply without the attestation is refused.
	CCTVPreserved     bool
	NoPaymentAttested bool
	// Satisfaction is the callback's rating; "" when the caller could not
	// be reached. Dissatisfied reopens the ticket.
	Satisfaction Satisfaction
	// Kind, Content, CallerName and Contact are set by classify when not
	// empty.
	Kind       Kind
	Content    string
	CallerName string
	Contact    string
}

// Apply takes an action on a ticket: the change and its event are written
// in one transaction, and the deadlines that the action meets or starts are
// updated with it. It returns the ticket as it now is.
func (s *Store) Apply(ctx context.Context, ticketID int64, c Change) (Ticket, error) {
	var out Ticket
	err := s.write(ctx, func(tx *txn) error {
		t, err := tx.ticket(ticketID)
		if err != nil {
			return err
		}
		if c.Version != 0 && c.Version != t.Version {
			return fmt.Errorf("ticket %s is at version %d, not %d: %w", t.Number, t.Version, c.Version, ErrConflict)
		}
		tr, ok := transitions[c.Action]
		if !ok {
			return fmt.Errorf("action %q: %w", c.Action, ErrInvalid)
		}
		if !slices.Contains(tr.from, t.Status) {
			return &TransitionError{Action: c.Action, From: t.Status}
		}
		next, note, err := s.effect(tx, t, c)
		if err != nil {
			return err
		}
		to := tr.to
		if c.Action == ActCallback && c.Satisfaction == Dissatisfied {
			to = StatusReopened
		}
		if to != "" {
			next.Status = to
		}
		var unit any
		if next.UnitID != "" {
			unit = next.UnitID
		}
		var closed any
		if next.Status == StatusClosed {
			closed = ts(tx.now)
		}
		res, err := tx.ExecContext(ctx, `UPDATE tickets SET status = ?, kind = ?, content = ?, caller_name = ?, contact = ?, unit_id = ?,
			result = ?, cctv_preserved = ?, no_payment_attested = ?, satisfaction = ?, reopened = ?,
			closed_at = ?, updated_at = ?, version = version + 1
			WHERE id = ? AND version = ?`,
			next.Status, next.Kind, next.Content, next.CallerName, next.Contact, unit, next.Result, next.CCTVPreserved,
			next.NoPaymentAttested, next.Satisfaction, next.Reopened, closed, ts(tx.now), t.ID, t.Version)
		if err != nil {
			return fmt.Errorf("update ticket %s: %w", t.Number, err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fmt.Errorf("ticket %s: %w", t.Number, ErrConflict)
		}
		// The event names the unit concerned: the one transferred to, or
		// the one holding the ticket (the returning unit for a return).
		ev := Event{TicketID: t.ID, Kind: string(c.Action), Actor: c.Actor, UnitID: firstNonEmpty(c.Unit, t.UnitID), Note: note}
		if to != "" {
			ev.From, ev.To = t.Status, next.Status
		}
		if err := tx.addEvent(ev); err != nil {
			return err
		}
		if to == StatusReopened {
			tx.notify(func(o Observer) { o.TicketReopened(next.UnitID) })
		}
		out, err = tx.ticket(t.ID)
		return err
	})
	if err != nil {
		return Ticket{}, fmt.Errorf("%s ticket %d: %w", c.Action, ticketID, err)
	}
	return out, nil
}

// effect computes the ticket after action c and updates the deadlines;
// it returns the note for the event.
func (s *Store) effect(tx *txn, t Ticket, c Change) (Ticket, string, error) {
	note := c.Note
	switch c.Action {
	case ActAnswer:
		t.Result = cleanText(c.Result, 10000)
		note = firstNonEmpty(c.Note, t.Result)
		return t, note, s.waiveClocks(tx, t.ID, StageTransfer, StageSheet)
	case ActForward:
		if c.Unit != "" {
			if err := tx.unitExists(c.Unit); err != nil {
				return t, "", err
			}
			t.UnitID = c.Unit
		}
		if err := s.meetClock(tx, t.ID, StageTransfer); err != nil {
			return t, "", err
		}
		return t, note, s.waiveClocks(tx, t.ID, StageSheet)
	case ActTransfer:
		if err := tx.unitExists(c.Unit); err != nil {
			return t, "", err
		}
		t.UnitID = c.Unit
		if err := s.meetClock(tx, t.ID, StageTransfer); err != nil {
			return t, "", err
		}
		// After a return (退单) the feedback clock keeps running: it moves
		// to the new unit instead of starting again.
		n, err := tx.ExecContext(tx.ctx, `UPDATE deadlines SET unit_id = ? WHERE ticket_id = ? AND stage = ? AND done_at IS NULL`,
			c.Unit, t.ID, StageFeedback)
		if err != nil {
			return t, "", err
		}
		if k, _ := n.RowsAffected(); k == 0 {
			if err := s.startClocks(tx, t.ID, c.Unit, StageFeedback); err != nil {
				return t, "", err
			}
		}
		return t, note, nil
	case ActReturn:
		if cleanText(c.Note, 2000) == "" {
			return t, "", fmt.Errorf("a return needs a reason: %w", ErrInvalid)
		}
		return t, cleanText(c.Note, 2000), nil
	case ActReply:
		if !c.NoPaymentAttested {
			return t, "", ErrNotAttested
		}
		t.Result = cleanText(c.Result, 10000)
		t.CCTVPreserved, t.NoPaymentAttested = c.CCTVPreserved, true
		note = firstNonEmpty(c.Note, t.Result)
		if err := s.meetClock(tx, t.ID, StageFeedback); err != nil {
			return t, "", err
		}
		if err := s.startClocks(tx, t.ID, t.UnitID, StageCallback); err != nil {
			return t, "", err
		}
		if !s.surveyOnReply {
			return t, note, nil
		}
		return t, note, s.scheduleSurvey(tx, t)
	case ActCallback:
		switch c.Satisfaction {
		case "", Satisfied, Basic, Dissatisfied:
		default:
			return t, "", fmt.Errorf("satisfaction %q: %w", c.Satisfaction, ErrInvalid)
		}
		t.Satisfaction = c.Satisfaction
		note = firstNonEmpty(c.Note, string(c.Satisfaction), "caller not reached")
		if err := s.meetClock(tx, t.ID, StageCallback); err != nil {
			return t, "", err
		}
		if c.Satisfaction == Dissatisfied {
			t.Reopened++
			return t, note, s.startClocks(tx, t.ID, t.UnitID, StageFeedback)
		}
		return t, note, nil
	case ActClose:
		return t, note, s.meetClock(tx, t.ID, "")
	case ActReopen:
		t.Reopened++
		t.Satisfaction = ""
		return t, note, s.startClocks(tx, t.ID, t.UnitID, StageFeedback)
	case ActClassify:
		switch c.Kind {
		case "", KindComplaint, KindQuestion, KindSuggestion:
		default:
			return t, "", fmt.Errorf("kind %q: %w", c.Kind, ErrInvalid)
		}
		if c.Kind != "" {
			t.Kind = c.Kind
			note = firstNonEmpty(c.Note, string(c.Kind))
		}
		if c.Content != "" {
			t.Content = cleanText(c.Content, 10000)
		}
		if c.CallerName != "" {
			t.CallerName = cleanText(c.CallerName, 100)
		}
		if c.Contact != "" {
			t.Contact = cleanText(c.Contact, 100)
		}
		if t.Kind == KindQuestion || t.Kind == KindSuggestion {
			// Only complaints get a handling-flow sheet (第六条).
			return t, note, s.waiveClocks(tx, t.ID, StageSheet)
		}
		return t, note, nil
	case ActSheet:
		return t, note, s.meetClock(tx, t.ID, StageSheet)
	}
	return t, note, nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// scheduleSurvey owes the caller the satisfaction survey once the unit has
// replied (第九条): from now until the callback deadline. A survey still
// pending from an earlier reply serves this one; a caller without a number
// cannot be called back, which the callback clock shows in time.
func (s *Store) scheduleSurvey(tx *txn, t Ticket) error {
	if t.Caller == UnknownCaller {
		return nil
	}
	due := s.deadlines.Rule(StageCallback).Due(s.cal, tx.now)
	_, err := s.scheduleOnce(tx, t, CallbackSurvey, tx.now, due)
	if errors.Is(err, ErrCallbackExists) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("schedule the survey: %w", err)
	}
	return nil
}
