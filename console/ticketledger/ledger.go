// Package ticketledger adapts the complaint ledger (package ticket) to
// what the console needs: console.Ledger for the pages and auth.Store for
// the accounts, which live in the ledger's users table.
package ticketledger

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"hotline/console"
	"hotline/ticket"
)

// Ledger is the console's view of a ticket.Store.
type Ledger struct {
	store   *ticket.Store
	reports Reports
	now     func() time.Time
}

var _ console.Ledger = (*Ledger)(nil)

// New returns the adapter over store.
func New(store *ticket.Store, reports Reports, now func() time.Time) *Ledger {
	if now == nil {
		now = time.Now
	}
	return &Ledger{store: store, reports: reports, now: now}
}

// mapErr turns the ledger's errors into the console's.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var te *ticket.TransitionError
	switch {
	case errors.Is(err, ticket.ErrNotFound):
		return fmt.Errorf("%w: %w", console.ErrNotFound, err)
	case errors.As(err, &te):
		return fmt.Errorf("%w: %w", console.ErrWrongState, err)
	case errors.Is(err, ticket.ErrInvalid), errors.Is(err, ticket.ErrUnknownUnit), errors.Is(err, ticket.ErrNotAttested):
		return fmt.Errorf("%w: %w", console.ErrInvalid, err)
	case errors.Is(err, ticket.ErrConflict):
		return fmt.Errorf("%w: %w", console.ErrWrongState, err)
	}
	return err
}

// actor is the ledger's name of a console user.
func (l *Ledger) actor(ctx context.Context, login string) (string, error) {
	u, err := l.store.UserByLogin(ctx, login)
	if err != nil {
		return "", fmt.Errorf("user %s: %w", login, err)
	}
	return ticket.UserActor(u.ID), nil
}

// names resolves "user:N" actors and agent ids to logins, for pages.
type names struct {
	l     *Ledger
	ctx   context.Context
	cache map[int64]string
}

func (n *names) user(id int64) string {
	if id == 0 {
		return ""
	}
	if s, ok := n.cache[id]; ok {
		return s
	}
	s := "user:" + strconv.FormatInt(id, 10)
	if u, err := n.l.store.User(n.ctx, id); err == nil {
		s = u.Login
	}
	n.cache[id] = s
	return s
}

func (n *names) actor(a string) string {
	if v, ok := strings.CutPrefix(a, "user:"); ok {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n.user(id)
		}
	}
	return a
}

var eventLabels = map[string]string{
	ticket.EventOpened: "登记", ticket.EventLine: "选择业务线", ticket.EventRepeat: "重复来电", ticket.EventMerged: "并单",
	ticket.EventAssigned: "坐席接听", ticket.EventTransferFailed: "转接未成功", ticket.EventCallEnded: "通话结束",
	ticket.EventRecording:    "录音",
	string(ticket.ActAnswer): "当场答复", string(ticket.ActForward): "转部门", string(ticket.ActTransfer): "转接单位",
	string(ticket.ActReturn): "退单", string(ticket.ActReply): "单位回复", string(ticket.ActCallback): "回访",
	string(ticket.ActClose): "办结", string(ticket.ActReopen): "重办", string(ticket.ActClassify): "登记分类",
	string(ticket.ActSheet): "签发处理流程单", string(ticket.ActNote): "备注",
}

func eventLabel(kind string) string {
	if s, ok := eventLabels[kind]; ok {
		return s
	}
	return kind
}

// Ticket implements console.AgentDesk.
func (l *Ledger) Ticket(ctx context.Context, id int64) (console.Ticket, error) {
	d, err := l.store.Ticket(ctx, id)
	if err != nil {
		return console.Ticket{}, mapErr(err)
	}
	n := &names{l: l, ctx: ctx, cache: map[int64]string{}}
	t := console.Ticket{
		ID: d.ID, Number: d.Number, Channel: string(d.Channel), Caller: d.Caller, CallerName: d.CallerName,
		Line: d.Line, Kind: string(d.Kind), Content: d.Content, Status: string(d.Status), Unit: d.UnitID,
		Agent: n.user(d.AgentID), Opened: d.CreatedAt, Result: d.Result, Satisfaction: string(d.Satisfaction),
	}
	switch {
	case d.Contact != "":
		t.Contact = d.Contact
	case d.Caller != ticket.UnknownCaller:
		t.Contact = d.Caller
	}
	var feedbackLate bool
	for _, dl := range d.Deadlines {
		if dl.Waived {
			continue
		}
		cd := console.Deadline{Stage: string(dl.Stage), Due: dl.DueAt}
		if dl.DoneAt != nil {
			cd.Done = *dl.DoneAt
		}
		t.Deadlines = append(t.Deadlines, cd)
		if dl.Stage == ticket.StageSheet && dl.DoneAt != nil {
			t.Sheet = &console.Sheet{Issued: *dl.DoneAt, Due: dl.DueAt}
		}
		if dl.Stage == ticket.StageFeedback && dl.DoneAt != nil && dl.DoneAt.After(dl.DueAt) {
			feedbackLate = true
		}
	}
	for _, e := range d.Events {
		detail := e.Note
		if e.UnitID != "" && !strings.Contains(detail, e.UnitID) {
			detail = strings.TrimSpace(e.UnitID + " " + detail)
		}
		if e.To != "" && e.From != e.To {
			detail = strings.TrimSpace(detail + " （" + string(e.From) + " → " + string(e.To) + "）")
		}
		t.Events = append(t.Events, console.Event{At: e.At, Actor: n.actor(e.Actor), Kind: eventLabel(e.Kind), Detail: detail})
		switch e.Kind {
		case string(ticket.ActSheet):
			if t.Sheet != nil && t.Sheet.By == "" {
				t.Sheet.By = n.actor(e.Actor)
			}
		case string(ticket.ActReply):
			t.Replies = append(t.Replies, console.Reply{Unit: e.UnitID, By: n.actor(e.Actor), Result: e.Note, At: e.At,
				CCTVPreserved: d.CCTVPreserved, NoCompensation: d.NoPaymentAttested})
		}
	}
	if k := len(t.Replies); k > 0 {
		t.Replies[k-1].Late = feedbackLate
		if t.Replies[k-1].Unit == "" {
			t.Replies[k-1].Unit = d.UnitID
		}
	}
	for _, c := range d.Calls {
		cc := console.Call{ID: c.CallID, Direction: c.Direction, Started: c.StartedAt, Choice: c.IVRChoice, Agent: n.user(c.AgentID), Outcome: c.EndReason}
		if c.EndedAt != nil {
			cc.Ended = *c.EndedAt
		}
		t.Calls = append(t.Calls, cc)
		if c.RecordingPath != "" {
			t.Recordings = append(t.Recordings, console.Recording{ID: c.ID, Kind: "call", Started: c.StartedAt,
				Duration: time.Duration(c.RecordingMS) * time.Millisecond})
		}
	}
	return t, nil
}

func summaryOf(t ticket.Ticket) console.Summary {
	return console.Summary{ID: t.ID, Number: t.Number, Channel: string(t.Channel), Line: t.Line, Kind: string(t.Kind),
		Status: string(t.Status), Unit: t.UnitID, Opened: t.CreatedAt, Satisfaction: string(t.Satisfaction), Content: cut(t.Content, 80)}
}

func listedOf(l ticket.Listed) console.Summary {
	s := summaryOf(l.Ticket)
	s.NextDue, s.NextStage, s.Overdue = l.NextDue, string(l.NextStage), l.Overdue
	return s
}

func cut(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// History implements console.AgentDesk.
func (l *Ledger) History(ctx context.Context, caller string, except int64) ([]console.Summary, error) {
	ts, err := l.store.CallerHistory(ctx, caller, except, 20)
	if err != nil {
		return nil, err
	}
	out := make([]console.Summary, 0, len(ts))
	for _, t := range ts {
		out = append(out, summaryOf(t))
	}
	return out, nil
}

func (l *Ledger) apply(ctx context.Context, id int64, by string, c ticket.Change) (ticket.Ticket, error) {
	actor, err := l.actor(ctx, by)
	if err != nil {
		return ticket.Ticket{}, err
	}
	c.Actor = actor
	t, err := l.store.Apply(ctx, id, c)
	return t, mapErr(err)
}

// Register implements console.AgentDesk: the registration of 第十三条
// (name, contact, content) with the classification, in one change. A
// contact that is the calling number itself is not stored twice.
func (l *Ledger) Register(ctx context.Context, id int64, reg console.Registration, by string) error {
	contact := reg.Contact
	if contact != "" {
		t, err := l.store.Ticket(ctx, id)
		if err != nil {
			return mapErr(err)
		}
		if ticket.NormalizeCaller(contact) == t.Caller {
			contact = ""
		}
	}
	_, err := l.apply(ctx, id, by, ticket.Change{Action: ticket.ActClassify, Kind: ticket.Kind(reg.Kind), Content: reg.Content,
		CallerName: reg.CallerName, Contact: contact})
	return err
}

// AnswerAndClose implements console.AgentDesk.
func (l *Ledger) AnswerAndClose(ctx context.Context, id int64, answer, by string) error {
	if _, err := l.apply(ctx, id, by, ticket.Change{Action: ticket.ActAnswer, Result: answer}); err != nil {
		return err
	}
	_, err := l.apply(ctx, id, by, ticket.Change{Action: ticket.ActClose})
	return err
}

// Forward implements console.AgentDesk.
func (l *Ledger) Forward(ctx context.Context, id int64, unit, note, by string) error {
	_, err := l.apply(ctx, id, by, ticket.Change{Action: ticket.ActForward, Unit: unit, Note: note})
	return err
}

// IssueSheet implements console.AgentDesk; issuing twice returns the first.
func (l *Ledger) IssueSheet(ctx context.Context, id int64, by string) (console.Sheet, error) {
	t, err := l.Ticket(ctx, id)
	if err != nil {
		return console.Sheet{}, err
	}
	if t.Sheet != nil {
		return *t.Sheet, nil
	}
	if t.Kind != console.KindComplaint {
		return console.Sheet{}, fmt.Errorf("ticket %s is not a complaint: %w", t.Number, console.ErrWrongState)
	}
	if _, err := l.apply(ctx, id, by, ticket.Change{Action: ticket.ActSheet}); err != nil {
		return console.Sheet{}, err
	}
	if t, err = l.Ticket(ctx, id); err != nil {
		return console.Sheet{}, err
	}
	if t.Sheet == nil {
		return console.Sheet{}, fmt.Errorf("ticket %s: the sheet has no deadline to meet: %w", t.Number, console.ErrWrongState)
	}
	return *t.Sheet, nil
}

// UnitTickets implements console.UnitDesk.
func (l *Ledger) UnitTickets(ctx context.Context, unit string) ([]console.Summary, error) {
	ls, err := l.store.UnitQueue(ctx, unit)
	if err != nil {
		return nil, err
	}
	out := make([]console.Summary, 0, len(ls))
	for _, x := range ls {
		out = append(out, listedOf(x))
	}
	return out, nil
}

// unitTicket reads a ticket of the unit; another unit's is not found.
func (l *Ledger) unitTicket(ctx context.Context, id int64, unit string) (ticket.Detail, error) {
	d, err := l.store.Ticket(ctx, id)
	if err != nil {
		return d, mapErr(err)
	}
	if d.UnitID != unit {
		return d, fmt.Errorf("ticket %d of unit %s: %w", id, unit, console.ErrNotFound)
	}
	return d, nil
}

// Reply implements console.UnitDesk. A reply after the unit has replied
// (also one racing with it) is ErrAlreadyReplied.
func (l *Ledger) Reply(ctx context.Context, id int64, unit string, r console.Reply) (console.Reply, error) {
	if _, err := l.unitTicket(ctx, id, unit); err != nil {
		return console.Reply{}, err
	}
	_, err := l.apply(ctx, id, r.By, ticket.Change{Action: ticket.ActReply, Unit: unit, Result: r.Result,
		CCTVPreserved: r.CCTVPreserved, NoPaymentAttested: r.NoCompensation})
	var te *ticket.TransitionError
	if errors.As(err, &te) && (te.From == ticket.StatusReplied || te.From == ticket.StatusCalledBack || te.From == ticket.StatusClosed) {
		return console.Reply{}, fmt.Errorf("ticket %d: %w", id, console.ErrAlreadyReplied)
	}
	if err != nil {
		return console.Reply{}, err
	}
	t, err := l.Ticket(ctx, id)
	if err != nil {
		return console.Reply{}, err
	}
	if k := len(t.Replies); k > 0 {
		return t.Replies[k-1], nil
	}
	return r, nil
}

// Return implements console.UnitDesk.
func (l *Ledger) Return(ctx context.Context, id int64, unit, reason, by string) error {
	if _, err := l.unitTicket(ctx, id, unit); err != nil {
		return err
	}
	_, err := l.apply(ctx, id, by, ticket.Change{Action: ticket.ActReturn, Unit: unit, Note: reason})
	return err
}

// Search implements console.Supervision.
func (l *Ledger) Search(ctx context.Context, f console.Filter) ([]console.Summary, error) {
	ls, err := l.store.Search(ctx, ticket.SearchFilter{Since: f.From, Until: f.To, Line: f.Line, Unit: f.Unit,
		Kind: ticket.Kind(f.Kind), Status: ticket.Status(f.Status), Channel: ticket.Channel(f.Channel),
		Satisfaction: ticket.Satisfaction(f.Satisfaction), Overdue: f.Overdue, Text: f.Text, Limit: f.Limit})
	if err != nil {
		return nil, err
	}
	out := make([]console.Summary, 0, len(ls))
	for _, x := range ls {
		out = append(out, listedOf(x))
	}
	return out, nil
}

// Recording implements console.Supervision: the recording of a call, by
// the call's record id.
func (l *Ledger) Recording(ctx context.Context, id int64) (console.RecordingFile, error) {
	c, err := l.store.CallRecord(ctx, id)
	if err != nil {
		return console.RecordingFile{}, mapErr(err)
	}
	if c.RecordingPath == "" || c.TicketID == 0 {
		return console.RecordingFile{}, fmt.Errorf("call %d has no recording: %w", id, console.ErrNotFound)
	}
	d, err := l.store.Ticket(ctx, c.TicketID)
	if err != nil {
		return console.RecordingFile{}, mapErr(err)
	}
	f, err := os.Open(c.RecordingPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return console.RecordingFile{}, fmt.Errorf("recording of call %d: %w", id, console.ErrNotFound)
		}
		return console.RecordingFile{}, fmt.Errorf("open recording of call %d: %w", id, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return console.RecordingFile{}, fmt.Errorf("stat recording of call %d: %w", id, err)
	}
	return console.RecordingFile{Ticket: d.ID, Unit: d.UnitID, Name: filepath.Base(c.RecordingPath), Modified: st.ModTime(), Content: f}, nil
}

// LogRecordingAccess implements console.Supervision with a note in the
// ticket's handling process.
func (l *Ledger) LogRecordingAccess(ctx context.Context, id int64, user string, at time.Time) error {
	c, err := l.store.CallRecord(ctx, id)
	if err != nil {
		return mapErr(err)
	}
	_, err = l.apply(ctx, c.TicketID, user, ticket.Change{Action: ticket.ActNote,
		Note: fmt.Sprintf("收听通话录音（通话 %s）", c.CallID)})
	return err
}

// CreateQR implements console.Intake. A phone number is the ticket's
// caller (so 并单 and the callback reach it); any other contact (an e-mail
// address) is the ticket's contact.
func (l *Ledger) CreateQR(ctx context.Context, s console.QRSubmission) (console.Summary, error) {
	var contact string
	if ticket.NormalizeCaller(s.Contact) == ticket.UnknownCaller {
		contact = s.Contact
	}
	ref, err := l.store.Register(ctx, ticket.NewTicket{Channel: ticket.ChannelQRCode, Caller: s.Contact, CallerName: s.CallerName,
		Contact: contact, Kind: ticket.Kind(s.Kind), Content: s.Content, Actor: "qrcode"})
	if err != nil {
		return console.Summary{}, mapErr(err)
	}
	d, err := l.store.Ticket(ctx, ref.TicketID)
	if err != nil {
		return console.Summary{}, mapErr(err)
	}
	return summaryOf(d.Ticket), nil
}

// Units implements console.Ledger: the active units.
func (l *Ledger) Units(ctx context.Context) ([]console.Unit, error) {
	us, err := l.store.Units(ctx)
	if err != nil {
		return nil, err
	}
	var out []console.Unit
	for _, u := range us {
		if u.Active {
			out = append(out, console.Unit{ID: u.ID, Name: u.Name})
		}
	}
	return out, nil
}
