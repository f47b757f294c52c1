// Package callback is the callback dialer (回访): it picks due callbacks from
// the ledger in deadline order, dials them inside the calling window within
// concurrency and rate limits, runs the satisfaction survey (or hands a
// return call to an agent), and records each attempt exactly once.
//
// The flows are written against the telephony port only; the ledger and the
// agent queue are reached through the small interfaces declared here.
package callback

import (
	"context"
	"errors"
	"time"

	"hotline/telephony"
)

// Kind says what a callback is for.
type Kind string

// The kinds of callback.
const (
	// KindSurvey asks the caller to rate the outcome after a unit replied (第九条).
	KindSurvey Kind = "survey"
	// KindReturn returns a missed or after-hours call: the caller is dialled
	// and connected to an agent, who gets the ticket on screen.
	KindReturn Kind = "return"
	// KindManual is scheduled by an agent by hand; it is placed like a return call.
	KindManual Kind = "manual"
)

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k == KindSurvey || k == KindReturn || k == KindManual }

// State is where a callback stands.
type State string

// The states of a callback.
const (
	StateScheduled State = "scheduled" // waiting for its not-before time and a free line
	StateRunning   State = "running"   // an attempt is claimed and in progress
	StateDone      State = "done"      // reached the caller (survey answered, or agent connected)
	StateFailed    State = "failed"    // given up; the ticket is marked for an agent to follow up
	StateSkipped   State = "skipped"   // not placed: do-not-call list, 不需回访, already surveyed
	StateCancelled State = "cancelled" // cancelled by an agent or the API
)

// Outcome is how one attempt ended. It is a small closed set, safe as a
// metric label.
type Outcome string

// The outcomes of an attempt.
const (
	OutcomeAnswered    Outcome = "answered"    // reached the caller: survey scored, or agent connected
	OutcomeNoInput     Outcome = "noinput"     // answered, but no valid key after the repeat
	OutcomeHungUp      Outcome = "hungup"      // answered, then hung up before scoring
	OutcomeBusy        Outcome = "busy"        //
	OutcomeNoAnswer    Outcome = "noanswer"    //
	OutcomeRejected    Outcome = "rejected"    //
	OutcomeUnreachable Outcome = "unreachable" // 空号, or the network refused
	OutcomeTimeout     Outcome = "timeout"     // the network did not answer at all
	OutcomeError       Outcome = "error"       // an engine or ledger failure
	OutcomeInterrupted Outcome = "interrupted" // the dialer stopped or crashed during the attempt
	OutcomeSkipped     Outcome = "skipped"     // not dialled (do-not-call, 不需回访, surveyed)
)

// Outcomes lists every Outcome, for metrics that create series up front.
var Outcomes = []Outcome{OutcomeAnswered, OutcomeNoInput, OutcomeHungUp, OutcomeBusy, OutcomeNoAnswer,
	OutcomeRejected, OutcomeUnreachable, OutcomeTimeout, OutcomeError, OutcomeInterrupted, OutcomeSkipped}

// outcomeOfReason classifies a failed dial or a call's end.
func outcomeOfReason(r telephony.Reason) Outcome {
	switch r {
	case telephony.ReasonBusy:
		return OutcomeBusy
	case telephony.ReasonNoAnswer:
		return OutcomeNoAnswer
	case telephony.ReasonRejected:
		return OutcomeRejected
	case telephony.ReasonUnreachable:
		return OutcomeUnreachable
	case telephony.ReasonTimeout:
		return OutcomeTimeout
	case telephony.ReasonHungUp:
		return OutcomeHungUp
	case telephony.ReasonShutdown:
		return OutcomeInterrupted
	default:
		return OutcomeError
	}
}

// Callback is one scheduled outbound call and where it stands.
type Callback struct {
	ID        int64     `json:"id"`
	TicketID  int64     `json:"ticket_id"`
	TicketNo  string    `json:"ticket_no,omitempty"` // public number, e.g. 96596-20261129-0001
	Kind      Kind      `json:"kind"`
	Number    string    `json:"number"`     // the caller's number to dial
	NotBefore time.Time `json:"not_before"` // not dialled before this
	Due       time.Time `json:"due"`        // the deadline (第九条: 3 days after the unit's reply)
	State     State     `json:"state"`
	Attempts  int       `json:"attempts"`               // attempts claimed so far
	Outcome   Outcome   `json:"last_outcome,omitempty"` // of the last finished attempt
	Score     int       `json:"score,omitempty"`        // 1 满意, 2 基本满意, 3 不满意; 0 none
	Note      string    `json:"note,omitempty"`         // why it failed or was skipped
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
}

// Request schedules a callback.
type Request struct {
	TicketID  int64     `json:"ticket_id"`
	TicketNo  string    `json:"ticket_no,omitempty"`
	Kind      Kind      `json:"kind"`
	Number    string    `json:"number,omitempty"` // the ledger dials the ticket's caller; leave it out
	NotBefore time.Time `json:"not_before"`
	Due       time.Time `json:"due"`
}

// Validate tells what is wrong with r, if anything.
func (r Request) Validate() error {
	switch {
	case r.TicketID <= 0:
		return errors.New("ticket_id is required")
	case !r.Kind.Valid():
		return errors.New("kind must be survey, return or manual")
	case r.Number != "" && !validNumber(r.Number):
		return errors.New("number must be digits, optionally with a leading +")
	case r.Due.IsZero():
		return errors.New("due is required")
	case !r.NotBefore.IsZero() && r.NotBefore.After(r.Due):
		return errors.New("not_before is after due")
	}
	return nil
}

// validNumber accepts what may go into a dial address: digits, an
// optional leading +, at most 20 characters.
func validNumber(n string) bool {
	if n != "" && n[0] == '+' {
		n = n[1:]
	}
	if n == "" || len(n) > 20 {
		return false
	}
	for _, r := range n {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// Attempt is one claimed try of a callback. Holding it (a live lease in the
// ledger) is the right to dial its number once.
type Attempt struct {
	ID         int64     // attempt id, unique in the ledger
	N          int       // 1 for the first attempt of the callback
	Callback   Callback  // the callback as it was claimed
	Owner      string    // the dialer that claimed it
	Claimed    time.Time //
	LeaseUntil time.Time // the attempt counts as interrupted once this passes
}

// Result is what became of an attempt, and so of its callback.
type Result struct {
	Outcome   Outcome
	Ended     time.Time
	Cause     int    // engine code for the record, 0 when none
	Score     int    // survey score, 0 when none
	Recording string // where the call's recording landed, "" when none
	// Next is the callback's new state: StateScheduled (retry at NotBefore),
	// StateDone, StateFailed or StateSkipped.
	Next      State
	NotBefore time.Time
	Note      string
}

// ClaimRequest asks the store for the next due callbacks.
type ClaimRequest struct {
	Now   time.Time
	Owner string
	Lease time.Duration
	Limit int
	// DueBefore, when set, restricts the claim to callbacks due before it
	// (on a holiday only those whose deadline cannot wait are called).
	DueBefore time.Time
}

// Filter selects callbacks to list.
type Filter struct {
	States []State // empty for all
	Ticket int64   // 0 for all
	Limit  int     // 0 for the store's default
}

// Errors the store returns that callers tell apart.
var (
	ErrNotFound  = errors.New("callback not found")
	ErrLeaseLost = errors.New("attempt no longer held") // finished or recovered by another dialer
	ErrDuplicate = errors.New("a survey callback already exists for this ticket")
	ErrFinished  = errors.New("callback already finished")
)

// Store is what the dialer needs of the ledger's callbacks table.
type Store interface {
	// Schedule adds a callback. A second survey for one ticket is ErrDuplicate.
	Schedule(ctx context.Context, r Request, now time.Time) (Callback, error)
	// Cancel cancels a callback that is not running or finished.
	Cancel(ctx context.Context, id int64, now time.Time) error
	// Get returns one callback; ErrNotFound when there is none.
	Get(ctx context.Context, id int64) (Callback, error)
	// List returns callbacks, by deadline.
	List(ctx context.Context, f Filter) ([]Callback, error)
	// Claim atomically takes up to Limit scheduled callbacks whose
	// not-before has passed, in deadline order, marks them running under
	// a lease and records one new attempt for each. Two dialers never get
	// the same callback.
	Claim(ctx context.Context, r ClaimRequest) ([]Attempt, error)
	// Renew extends a running attempt's lease; ErrLeaseLost when the
	// attempt is no longer running.
	Renew(ctx context.Context, a Attempt, until time.Time) error
	// Finish records the attempt's result and moves the callback on, once:
	// ErrLeaseLost when the attempt has already been finished.
	Finish(ctx context.Context, a Attempt, r Result) error
	// Expired returns running attempts whose lease ran out before now
	// (their dialer crashed or hung). The caller finishes them as
	// interrupted.
	Expired(ctx context.Context, now time.Time, limit int) ([]Attempt, error)
}

// Survey is the satisfaction given in a survey callback.
type Survey struct {
	CallbackID int64
	Score      int // 1 满意, 2 基本满意, 3 不满意
	At         time.Time
	Recording  string
}

// ErrAlreadySurveyed is returned by Tickets.RecordSurvey when the ticket
// already has its survey: one survey per ticket.
var ErrAlreadySurveyed = errors.New("ticket already surveyed")

// Tickets is what the dialer needs of the ticket workflow.
type Tickets interface {
	// SkipReason says why a ticket must not be called back for kind: ""
	// when it may, otherwise e.g. "不需回访" or "surveyed".
	SkipReason(ctx context.Context, ticketID int64, kind Kind) (string, error)
	// RecordSurvey stores the score, time and recording on the ticket and
	// marks it called back; a 3 reopens it (重办).
	RecordSurvey(ctx context.Context, ticketID int64, s Survey) error
	// CallbackFailed marks the ticket for an agent to follow up by hand.
	CallbackFailed(ctx context.Context, ticketID int64, note string, at time.Time) error
}

// AgentConnector connects an answered return call to the agent queue, with
// a screen-pop of the ticket. The IVR implements it. It returns when the
// caller has been served (or gave up); a nil error means an agent talked to
// the caller.
type AgentConnector interface {
	ConnectAgent(ctx context.Context, call telephony.Call, cb Callback) error
}

// AgentConnectorFunc adapts a function to AgentConnector.
type AgentConnectorFunc func(ctx context.Context, call telephony.Call, cb Callback) error

// ConnectAgent calls f.
func (f AgentConnectorFunc) ConnectAgent(ctx context.Context, call telephony.Call, cb Callback) error {
	return f(ctx, call, cb)
}

// Reason maps an outcome to the port's reason, for metrics counted by
// telephony.Reason (ReasonNormal: the caller was reached). ok is false for
// OutcomeSkipped: no call was placed.
func (o Outcome) Reason() (r telephony.Reason, ok bool) {
	switch o {
	case OutcomeAnswered, OutcomeNoInput:
		return telephony.ReasonNormal, true
	case OutcomeHungUp:
		return telephony.ReasonHungUp, true
	case OutcomeBusy:
		return telephony.ReasonBusy, true
	case OutcomeNoAnswer:
		return telephony.ReasonNoAnswer, true
	case OutcomeRejected:
		return telephony.ReasonRejected, true
	case OutcomeUnreachable:
		return telephony.ReasonUnreachable, true
	case OutcomeTimeout:
		return telephony.ReasonTimeout, true
	case OutcomeInterrupted:
		return telephony.ReasonShutdown, true
	case OutcomeSkipped:
		return "", false
	default:
		return telephony.ReasonError, true
	}
}
