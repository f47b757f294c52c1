package callback

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"hotline/telephony"
	"hotline/ticket"
	"hotline/ticket/calendar"
)

// ErrInvalid is returned for a request the ledger refuses (no such ticket,
// a ticket without a caller number, a number that is not the ticket's).
var ErrInvalid = errors.New("invalid callback request")

// LedgerStore is the Store over the complaint ledger. The number dialled
// is always the ticket's caller.
type LedgerStore struct {
	l     *ticket.Store
	actor string
}

var _ Store = (*LedgerStore)(nil)

// NewLedgerStore returns a Store over l; actor names who cancels through
// it in the tickets' handling process (e.g. "api").
func NewLedgerStore(l *ticket.Store, actor string) *LedgerStore {
	if actor == "" {
		actor = "callback"
	}
	return &LedgerStore{l: l, actor: actor}
}

// skippedOutcome marks a callback the ledger keeps as cancelled because
// the dialer skipped it (do-not-call, 不需回访, surveyed).
const skippedOutcome = string(OutcomeSkipped)

func toLedgerState(s State) ticket.CallbackState {
	switch s {
	case StateScheduled:
		return ticket.CallbackPending
	case StateRunning:
		return ticket.CallbackClaimed
	case StateDone:
		return ticket.CallbackDone
	case StateFailed:
		return ticket.CallbackFailed
	default: // skipped, cancelled
		return ticket.CallbackCancelled
	}
}

func fromLedger(v ticket.CallbackView) Callback {
	cb := Callback{ID: v.ID, TicketID: v.TicketID, TicketNo: v.TicketNumber, Kind: Kind(v.Kind), Number: v.Number,
		NotBefore: v.NotBefore, Due: v.DueAt, Attempts: v.Attempts, Outcome: Outcome(v.Outcome), Note: v.Note,
		Created: v.CreatedAt, Updated: v.UpdatedAt}
	switch v.State {
	case ticket.CallbackPending:
		cb.State = StateScheduled
	case ticket.CallbackClaimed:
		cb.State = StateRunning
	case ticket.CallbackDone:
		cb.State = StateDone
	case ticket.CallbackFailed:
		cb.State = StateFailed
	default:
		cb.State = StateCancelled
		if v.Outcome == skippedOutcome {
			cb.State = StateSkipped
		}
	}
	cb.Score = v.Score
	return cb
}

func attemptOf(v ticket.CallbackView, claimed time.Time) Attempt {
	a := Attempt{ID: v.ID, N: v.Attempts, Callback: fromLedger(v), Owner: v.LeaseOwner, Claimed: claimed}
	if v.LeaseUntil != nil {
		a.LeaseUntil = *v.LeaseUntil
	}
	return a
}

// Schedule adds a callback to the ticket's caller.
func (s *LedgerStore) Schedule(ctx context.Context, r Request, now time.Time) (Callback, error) {
	if err := r.Validate(); err != nil {
		return Callback{}, err
	}
	if r.Number != "" {
		d, err := s.l.Ticket(ctx, r.TicketID)
		if err != nil {
			return Callback{}, ledgerErr(err)
		}
		if d.Caller != r.Number {
			return Callback{}, fmt.Errorf("number is not the caller of ticket %s (leave it out): %w", d.Number, ErrInvalid)
		}
	}
	nb := r.NotBefore
	if nb.IsZero() {
		nb = now
	}
	id, err := s.l.ScheduleCallbackOnce(ctx, r.TicketID, ticket.CallbackKind(r.Kind), nb, r.Due)
	if err != nil {
		return Callback{}, ledgerErr(err)
	}
	return s.Get(ctx, id)
}

// ledgerErr maps the ledger's sentinels to the Store's.
func ledgerErr(err error) error {
	switch {
	case errors.Is(err, ticket.ErrCallbackExists):
		return fmt.Errorf("%w: %w", ErrDuplicate, err)
	case errors.Is(err, ticket.ErrCallbackBusy):
		return fmt.Errorf("%w: %w", ErrFinished, err)
	case errors.Is(err, ticket.ErrLeaseLost):
		return fmt.Errorf("%w: %w", ErrLeaseLost, err)
	case errors.Is(err, ticket.ErrInvalid), errors.Is(err, ticket.ErrNotFound):
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return err
}

// Cancel cancels a scheduled callback.
func (s *LedgerStore) Cancel(ctx context.Context, id int64, now time.Time) error {
	err := s.l.CancelCallback(ctx, id, s.actor)
	if errors.Is(err, ticket.ErrNotFound) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return ledgerErr(err)
}

// Get returns one callback.
func (s *LedgerStore) Get(ctx context.Context, id int64) (Callback, error) {
	v, err := s.l.CallbackByID(ctx, id)
	if errors.Is(err, ticket.ErrNotFound) {
		return Callback{}, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	if err != nil {
		return Callback{}, err
	}
	return fromLedger(v), nil
}

// List returns callbacks by deadline.
func (s *LedgerStore) List(ctx context.Context, f Filter) ([]Callback, error) {
	lf := ticket.CallbackFilter{TicketID: f.Ticket, Limit: f.Limit}
	for _, st := range f.States {
		if ls := toLedgerState(st); !slices.Contains(lf.States, ls) {
			lf.States = append(lf.States, ls)
		}
	}
	vs, err := s.l.ListCallbacks(ctx, lf)
	if err != nil {
		return nil, err
	}
	out := make([]Callback, 0, len(vs))
	for _, v := range vs {
		cb := fromLedger(v)
		// skipped and cancelled share the ledger's state.
		if len(f.States) > 0 && !slices.Contains(f.States, cb.State) {
			continue
		}
		out = append(out, cb)
	}
	return out, nil
}

// Claim takes due callbacks in deadline order.
func (s *LedgerStore) Claim(ctx context.Context, r ClaimRequest) ([]Attempt, error) {
	vs, err := s.l.ClaimDueCallbacks(ctx, ticket.ClaimDue{Owner: r.Owner, Now: r.Now, Lease: r.Lease, Limit: r.Limit, DueBefore: r.DueBefore})
	if err != nil {
		return nil, err
	}
	out := make([]Attempt, len(vs))
	for i, v := range vs {
		out[i] = attemptOf(v, r.Now)
	}
	return out, nil
}

// Renew extends the attempt's lease.
func (s *LedgerStore) Renew(ctx context.Context, a Attempt, until time.Time) error {
	return ledgerErr(s.l.RenewCallbackLease(ctx, a.Callback.ID, a.Owner, a.N, until))
}

// Finish records the attempt's result once.
func (s *LedgerStore) Finish(ctx context.Context, a Attempt, r Result) error {
	res := ticket.AttemptResult{ID: a.Callback.ID, Owner: a.Owner, Attempt: a.N, Outcome: string(r.Outcome), Cause: r.Cause,
		Score: r.Score, Recording: r.Recording, Note: r.Note, Ended: r.Ended, State: toLedgerState(r.Next)}
	if r.Next == StateScheduled {
		res.RetryAt = r.NotBefore
	}
	if r.Next == StateSkipped {
		res.Outcome = skippedOutcome
	}
	return ledgerErr(s.l.FinishCallbackAttempt(ctx, res))
}

// Expired returns claimed callbacks whose lease ran out.
func (s *LedgerStore) Expired(ctx context.Context, now time.Time, limit int) ([]Attempt, error) {
	vs, err := s.l.ExpiredCallbacks(ctx, now, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Attempt, len(vs))
	for i, v := range vs {
		out[i] = attemptOf(v, time.Time{})
	}
	return out, nil
}

// LedgerTickets is Tickets over the ledger's workflow.
type LedgerTickets struct{ l *ticket.Store }

var _ Tickets = LedgerTickets{}

// NewLedgerTickets returns Tickets over l.
func NewLedgerTickets(l *ticket.Store) LedgerTickets { return LedgerTickets{l: l} }

// NoCallbackNote is what an agent writes as a note in a ticket's handling
// process when the caller asked not to be called back (不需回访); the
// dialer then skips the ticket's callbacks.
const NoCallbackNote = "不需回访"

// SkipReason: a ticket whose handling process carries the note 不需回访 is
// never called; a survey is due only on a ticket the unit replied to (after
// it, the ticket is called back: one survey per reply); a merged ticket is
// never called back.
func (t LedgerTickets) SkipReason(ctx context.Context, ticketID int64, kind Kind) (string, error) {
	d, err := t.l.Ticket(ctx, ticketID)
	if err != nil {
		return "", fmt.Errorf("read ticket %d: %w", ticketID, err)
	}
	for _, e := range d.Events {
		if e.Kind == string(ticket.ActNote) && strings.Contains(e.Note, NoCallbackNote) {
			return NoCallbackNote, nil
		}
	}
	switch {
	case d.Status == ticket.StatusMerged:
		return "ticket merged into another", nil
	case kind == KindSurvey && d.Status == ticket.StatusCalledBack:
		return "surveyed", nil
	case kind == KindSurvey && d.Status != ticket.StatusReplied:
		return fmt.Sprintf("ticket is %s, no survey due", d.Status), nil
	}
	return "", nil
}

var satisfactions = [...]ticket.Satisfaction{1: ticket.Satisfied, 2: ticket.Basic, 3: ticket.Dissatisfied}

var scoreNames = [...]string{1: "1 满意", 2: "2 基本满意", 3: "3 不满意"}

// RecordSurvey records the score on the ticket (a 3 reopens it, 重办) with
// the recording in the handling process.
func (t LedgerTickets) RecordSurvey(ctx context.Context, ticketID int64, s Survey) error {
	if s.Score < 1 || s.Score > 3 {
		return fmt.Errorf("survey score %d: %w", s.Score, ErrInvalid)
	}
	note := fmt.Sprintf("回访评价 %s, 回访 %d", scoreNames[s.Score], s.CallbackID)
	if s.Recording != "" {
		note += ", 录音 " + s.Recording
	}
	_, err := t.l.Apply(ctx, ticketID, ticket.Change{Action: ticket.ActCallback, Actor: "callback",
		Satisfaction: satisfactions[s.Score], Note: note})
	var te *ticket.TransitionError
	if errors.As(err, &te) {
		return fmt.Errorf("%w: %w", ErrAlreadySurveyed, err)
	}
	return err
}

// CallbackFailed notes on the ticket that an agent must call back by hand.
func (t LedgerTickets) CallbackFailed(ctx context.Context, ticketID int64, note string, at time.Time) error {
	_, err := t.l.Apply(ctx, ticketID, ticket.Change{Action: ticket.ActNote, Actor: "callback",
		Note: "回访未成功, 请坐席人工跟进: " + note})
	return err
}

// LedgerCalendar tells days off from the ledger's working calendar.
func LedgerCalendar(c *calendar.Calendar) Calendar {
	return CalendarFunc(func(day time.Time) bool { return !c.IsWorkday(day) })
}

// NewOnLedger builds the dialer over the complaint ledger (its callbacks,
// workflow and working calendar) and the HTTP API over the same store, the
// API waking the dialer when it schedules. cfg must have been through
// Init; agents and observe may be nil. The dialer's lease owner is
// host:pid, unique per process.
func NewOnLedger(cfg *Config, l *ticket.Store, engine telephony.Engine, agents AgentConnector,
	log *slog.Logger, observe func(Attempt, Result)) (*Dialer, *Handler, error) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "dialer"
	}
	store := NewLedgerStore(l, "api")
	d, err := New(cfg, Deps{Store: store, Tickets: NewLedgerTickets(l), Engine: engine, Agents: agents,
		Calendar: LedgerCalendar(l.Calendar()), Log: log, Owner: fmt.Sprintf("%s:%d", host, os.Getpid()), Observe: observe})
	if err != nil {
		return nil, nil, err
	}
	return d, NewHandler(store, d.now, d.Kick, log), nil
}
