package console

import (
	"context"
	"errors"
	"io"
	"time"
)

// Ledger is what the console's pages need from the complaint ledger. It is
// the consumer side of the ticket package: an adapter in cmd (or in
// ticket) implements it; consoletest has an in-memory fake.
type Ledger interface {
	AgentDesk
	UnitDesk
	Supervision
	Intake
	// Units lists the responsible units and departments, for the pickers.
	Units(ctx context.Context) ([]Unit, error)
}

// AgentDesk is the agent's work on a ticket.
type AgentDesk interface {
	// Ticket returns a ticket with its timeline, calls and recordings.
	Ticket(ctx context.Context, id int64) (Ticket, error)
	// History lists a caller's tickets other than except, newest first.
	History(ctx context.Context, caller string, except int64) ([]Summary, error)
	// Register records the 第十三条 registration and the classification.
	Register(ctx context.Context, id int64, reg Registration, by string) error
	// AnswerAndClose records the answer given on the spot and closes the ticket.
	AnswerAndClose(ctx context.Context, id int64, answer, by string) error
	// Forward sends a question or suggestion to a department (第六条).
	Forward(ctx context.Context, id int64, unit, note, by string) error
	// IssueSheet issues the handling-flow sheet of a complaint; a second
	// call returns the sheet already issued.
	IssueSheet(ctx context.Context, id int64, by string) (Sheet, error)
}

// UnitDesk is a responsible unit's work.
type UnitDesk interface {
	// UnitTickets lists the unit's open tickets, soonest deadline first.
	UnitTickets(ctx context.Context, unit string) ([]Summary, error)
	// Reply records the unit's reply; ErrAlreadyReplied for a second one.
	Reply(ctx context.Context, id int64, unit string, r Reply) (Reply, error)
	// Return hands a ticket back to the centre with a reason (退单).
	Return(ctx context.Context, id int64, unit, reason, by string) error
}

// Supervision is what supervisors read.
type Supervision interface {
	Search(ctx context.Context, f Filter) ([]Summary, error)
	// Recording opens a recording's audio.
	Recording(ctx context.Context, id int64) (RecordingFile, error)
	// LogRecordingAccess writes who listened to a recording into the ticket's timeline.
	LogRecordingAccess(ctx context.Context, id int64, user string, at time.Time) error
	// MonthlyReport renders the report of the month that starts at month
	// in format "html", "csv" or "xlsx".
	MonthlyReport(ctx context.Context, month time.Time, format string) (Report, error)
	// Assessment is the per-unit assessment of a month (第十五条).
	Assessment(ctx context.Context, month time.Time) ([]UnitScore, error)
}

// Intake takes tickets from the public QR form (第二条).
type Intake interface {
	CreateQR(ctx context.Context, s QRSubmission) (Summary, error)
}

// RecordingControl pauses and resumes the recording of a ticket's call in
// progress. It is optional: without it the console hides the buttons.
type RecordingControl interface {
	PauseRecording(ctx context.Context, ticket int64, pause bool) error
}

// Errors the ledger returns for outcomes the console tells apart.
var (
	ErrNotFound       = errors.New("not found")
	ErrAlreadyReplied = errors.New("the unit has already replied at this stage")
	ErrWrongState     = errors.New("not possible in the ticket's state")
	ErrInvalid        = errors.New("invalid input")
)

// The ticket kinds of 第六条.
const (
	KindComplaint  = "complaint"
	KindQuestion   = "question"
	KindSuggestion = "suggestion"
)

// The channels of 第二条.
const (
	ChannelHotline = "hotline"
	ChannelQR      = "qrcode"
)

// The ticket states.
const (
	StatusRegistered  = "registered"
	StatusAnswered    = "answered"
	StatusForwarded   = "forwarded"
	StatusTransferred = "transferred"
	StatusReplied     = "replied"
	StatusReturned    = "returned"
	StatusCalledBack  = "called_back"
	StatusClosed      = "closed"
	StatusReopened    = "reopened"
	StatusMerged      = "merged"
)

// Ticket is a ticket as the console shows it.
type Ticket struct {
	ID           int64
	Number       string // public number, 96596-20261129-0001
	Channel      string
	Caller       string // number
	CallerName   string
	Contact      string
	Line         string
	Kind         string
	Content      string
	Status       string
	Unit         string // responsible unit, "" before transfer/forward
	Agent        string
	Opened       time.Time
	Result       string
	Satisfaction string // "", "satisfied", "basic", "dissatisfied"
	Sheet        *Sheet
	Replies      []Reply
	Deadlines    []Deadline
	Events       []Event
	Calls        []Call
	Recordings   []Recording
}

// Summary is a ticket in a list.
type Summary struct {
	ID           int64
	Number       string
	Channel      string
	Line         string
	Kind         string
	Status       string
	Unit         string
	Opened       time.Time
	Satisfaction string
	Content      string // may be cut short
	NextDue      time.Time
	NextStage    string
	Overdue      bool
}

// Open reports whether the ticket still needs work.
func (s Summary) Open() bool {
	switch s.Status {
	case StatusClosed, StatusAnswered, StatusCalledBack, StatusMerged:
		return false
	}
	return true
}

// Registration is the form of 第十三条 with the classification.
type Registration struct {
	CallerName string
	Contact    string
	Content    string
	Kind       string
}

// Deadline is one timed stage of a ticket (第七、八、九条).
type Deadline struct {
	Stage string // "transfer", "sheet", "feedback", "callback"
	Due   time.Time
	Done  time.Time // zero while pending
}

// Met reports whether the stage was done in time.
func (d Deadline) Met() bool { return !d.Done.IsZero() && !d.Done.After(d.Due) }

// Missed reports whether the stage is late, done or not, at now.
func (d Deadline) Missed(now time.Time) bool {
	if d.Done.IsZero() {
		return now.After(d.Due)
	}
	return d.Done.After(d.Due)
}

// Sheet is the handling-flow sheet (顾客投诉处理流程) of a complaint.
type Sheet struct {
	Issued time.Time
	Due    time.Time // the 2-hour deadline
	By     string
}

// Late reports whether the sheet was issued after its deadline.
func (s Sheet) Late() bool { return s.Issued.After(s.Due) }

// Reply is a unit's reply (第八条).
type Reply struct {
	Unit           string
	By             string
	Result         string
	CCTVPreserved  bool
	NoCompensation bool // the unit attests it did not buy satisfaction with money
	At             time.Time
	Late           bool
}

// Event is a line of a ticket's timeline (处置过程).
type Event struct {
	At     time.Time
	Actor  string
	Kind   string
	Detail string
}

// Call is a call of a ticket.
type Call struct {
	ID        string
	Direction string
	Started   time.Time
	Ended     time.Time
	Choice    string
	Agent     string
	Outcome   string
}

// Recording is a recording of a ticket.
type Recording struct {
	ID       int64
	Kind     string // "call" or "message"
	Started  time.Time
	Duration time.Duration
}

// RecordingFile is a recording's audio and the ticket it belongs to.
type RecordingFile struct {
	Ticket   int64
	Unit     string
	Name     string
	Modified time.Time
	Content  io.ReadSeekCloser
}

// Filter narrows a search of the ledger.
type Filter struct {
	From, To     time.Time // opened in [From, To); zero for no bound
	Line         string
	Unit         string
	Kind         string
	Status       string
	Channel      string
	Satisfaction string
	Overdue      bool
	Text         string // number, caller or words of the content
	Limit        int
}

// Report is a rendered report.
type Report struct {
	Name        string // file name
	ContentType string
	Body        []byte
}

// UnitScore is a unit's line of the monthly assessment (第十五条).
type UnitScore struct {
	Unit         string
	Tickets      int
	Complaints   int
	LateFeedback int
	Dissatisfied int
	Returned     int
	Reopened     int
	Points       float64
}

// QRSubmission is what the public QR form sends.
type QRSubmission struct {
	CallerName string
	Contact    string
	Kind       string
	Content    string
	At         time.Time
}

// Unit is a responsible unit or department.
type Unit struct {
	ID   string
	Name string
}
