package ivr

import (
	"context"
	"errors"
	"time"

	"hotline/telephony"
)

// Ledger is what the call flows need from the complaint ledger. The
// ticket package implements it (through an adapter in cmd); ivrtest has an
// in-memory fake.
type Ledger interface {
	// OpenCall writes the call record and the ticket it belongs to. It is
	// idempotent on the call id: a second call returns the same ticket.
	OpenCall(ctx context.Context, c CallOpen) (Ticket, error)
	// TagLine records the caller's menu choice on the call and its ticket.
	// The ledger may merge the ticket into an open one of the same caller
	// and line (并单); the ticket returned is the one the call now belongs to.
	TagLine(ctx context.Context, callID string, ticket TicketID, line string) (Ticket, error)
	// CloseCall completes the call record.
	CloseCall(ctx context.Context, c CallClose) error
	// AttachRecording adds a recording to the ticket: a message the caller
	// left, or the conversation with agent and unit. (The call's own
	// recording comes with CloseCall.)
	AttachRecording(ctx context.Context, ticket TicketID, callID string, rec Recording) error
	// AssignAgent records that an agent took the call (and its ticket).
	AssignAgent(ctx context.Context, callID string, ticket TicketID, agentID string, at time.Time) error
	// History lists the caller's earlier tickets, newest first, for the
	// screen-pop; none for CallerUnknown.
	History(ctx context.Context, caller string, except TicketID) ([]TicketSummary, error)
	// RecordTransfer records that the caller was put through to a unit.
	RecordTransfer(ctx context.Context, ticket TicketID, unitID string, at time.Time) error
	// RecordTransferFailure records a transfer that did not connect.
	RecordTransferFailure(ctx context.Context, ticket TicketID, unitID string, reason telephony.Reason, at time.Time) error
	// ScheduleCallback asks for the caller to be called back at due.
	ScheduleCallback(ctx context.Context, ticket TicketID, due time.Time, why string) error
	// SetAgentLogin persists an agent's login state (it survives restarts).
	SetAgentLogin(ctx context.Context, agentID string, loggedIn bool, at time.Time) error
	// LoggedInAgents lists the agents logged in, as persisted.
	LoggedInAgents(ctx context.Context) ([]string, error)
}

// Calendar is the working calendar: office hours, weekends, holidays and
// make-up working days.
// *calendar.Calendar of package ticket implements it.
type Calendar interface {
	// IsOpen reports whether t is inside office hours.
	IsOpen(t time.Time) bool
	// NextOpen returns t when open, else the start of the next opening.
	NextOpen(t time.Time) time.Time
}

// TicketID identifies a ticket in the ledger.
type TicketID int64

// Ticket is what the flows and the screen-pop know of a ticket.
type Ticket struct {
	ID      TicketID  `json:"id"`
	Number  string    `json:"number"` // public number, e.g. 96596-20261129-0001
	Caller  string    `json:"caller"` // "unknown" when withheld or malformed
	Dialled string    `json:"dialled"`
	Channel string    `json:"channel"`
	Line    string    `json:"line,omitempty"`
	Status  string    `json:"status"`
	Opened  time.Time `json:"opened"`
	// Earlier lists the caller's earlier tickets, newest first, filled for
	// the agent's screen-pop.
	Earlier []TicketSummary `json:"earlier,omitempty"`
}

// TicketSummary is one line of a caller's history.
type TicketSummary struct {
	ID     TicketID  `json:"id"`
	Number string    `json:"number"`
	Line   string    `json:"line,omitempty"`
	Status string    `json:"status"`
	Opened time.Time `json:"opened"`
}

// CallerUnknown is the caller number written for a withheld, anonymous or
// malformed caller ID.
const CallerUnknown = "unknown"

// ChannelHotline is the ticket channel of calls (第二条).
const ChannelHotline = "hotline"

// CallOpen is the call record written at answer.
type CallOpen struct {
	CallID     string
	Direction  telephony.Direction
	Caller     string // normalised: digits (and a leading +) or CallerUnknown
	CallerName string
	Dialled    string
	Channel    string
	Answered   time.Time
}

// CallClose completes the call record.
type CallClose struct {
	CallID    string
	Ticket    TicketID
	Ended     time.Time
	Reason    telephony.Reason
	Cause     int    // engine code, for the record
	By        string // "remote", "local" or ""
	Choice    string // IVR key pressed, "" for none
	Agent     string // agent who answered, "" for none
	Recording string // path of the call recording, "" for none
	// RecordingDuration is the length of the call recording.
	RecordingDuration time.Duration
}

// Recording is a recording attached to a ticket.
type Recording struct {
	Kind     string // RecordingCall or RecordingMessage
	Path     string
	Duration time.Duration
}

// The kinds of recordings.
const (
	RecordingCall         = "call"         // the caller's leg from answer
	RecordingConversation = "conversation" // the bridge with agent (and unit)
	RecordingMessage      = "message"      // a message the caller left
)

// ErrNoSuchCall is returned for a transfer request on a ticket that has no
// caller talking to an agent right now.
var ErrNoSuchCall = errors.New("no call in progress for the ticket")

// ErrUnknownUnit and ErrUnknownAgent are returned for ids that are not
// configured.
var (
	ErrUnknownUnit  = errors.New("unknown unit")
	ErrUnknownAgent = errors.New("unknown agent")
)
