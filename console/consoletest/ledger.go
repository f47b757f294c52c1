// Package consoletest has an in-memory ledger for the console's tests and
// demos. Its deadlines are plain clock arithmetic, not the working
// calendar.
package consoletest

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"hotline/console"
	"hotline/ivr"
)

// Ledger is an in-memory console.Ledger.
type Ledger struct {
	mu         sync.Mutex
	now        func() time.Time
	next       int64
	tickets    map[int64]*console.Ticket
	recordings map[int64]recording
	units      []console.Unit
	accesses   []Access
}

type recording struct {
	ticket int64
	data   []byte
}

// Access is a logged listening of a recording.
type Access struct {
	Recording int64
	User      string
	At        time.Time
}

var _ console.Ledger = (*Ledger)(nil)

// New returns an empty ledger with the given units.
func New(now func() time.Time, units ...console.Unit) *Ledger {
	if now == nil {
		now = time.Now
	}
	return &Ledger{now: now, tickets: make(map[int64]*console.Ticket), recordings: make(map[int64]recording), units: units}
}

func (l *Ledger) event(t *console.Ticket, actor, kind, detail string) {
	t.Events = append(t.Events, console.Event{At: l.now(), Actor: actor, Kind: kind, Detail: detail})
}

// Open adds a hotline ticket of a caller on a line, as the IVR does at
// answer, and returns it as the IVR's screen-pop carries it.
func (l *Ledger) Open(caller, line string) ivr.Ticket {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.addLocked(console.Ticket{Channel: console.ChannelHotline, Caller: caller, Line: line})
	return ivr.Ticket{ID: ivr.TicketID(t.ID), Number: t.Number, Caller: caller, Channel: t.Channel, Line: line, Status: t.Status, Opened: t.Opened}
}

func (l *Ledger) addLocked(t console.Ticket) *console.Ticket {
	l.next++
	now := l.now()
	t.ID = l.next
	t.Number = fmt.Sprintf("96596-%s-%04d", now.Format("20060102"), t.ID)
	t.Status = console.StatusRegistered
	t.Opened = now
	t.Deadlines = []console.Deadline{{Stage: "transfer", Due: now.Add(time.Hour)}}
	l.event(&t, "system", "登记", channelWord(t.Channel))
	l.tickets[t.ID] = &t
	return &t
}

func channelWord(c string) string {
	if c == console.ChannelQR {
		return "二维码表单"
	}
	return "热线来电"
}

// TransferTo records that the ticket's caller was put through to a unit,
// as the IVR's transfer does.
func (l *Ledger) TransferTo(id int64, unit string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.tickets[id]
	if !ok {
		return fmt.Errorf("ticket %d: %w", id, console.ErrNotFound)
	}
	now := l.now()
	t.Unit, t.Status = unit, console.StatusTransferred
	l.done(t, "transfer", now)
	t.Deadlines = append(t.Deadlines, console.Deadline{Stage: "feedback", Due: now.Add(48 * time.Hour)})
	l.event(t, "ivr", "转接单位", unit)
	return nil
}

// AddRecording attaches audio to a ticket.
func (l *Ledger) AddRecording(ticket int64, kind string, data []byte) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	id := int64(len(l.recordings) + 1)
	l.recordings[id] = recording{ticket: ticket, data: data}
	t := l.tickets[ticket]
	t.Recordings = append(t.Recordings, console.Recording{ID: id, Kind: kind, Started: l.now(), Duration: time.Duration(len(data)/16) * time.Millisecond})
	return id
}

// Accesses returns the logged listenings.
func (l *Ledger) Accesses() []Access {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.accesses)
}

func (l *Ledger) done(t *console.Ticket, stage string, at time.Time) {
	for i := range t.Deadlines {
		if t.Deadlines[i].Stage == stage && t.Deadlines[i].Done.IsZero() {
			t.Deadlines[i].Done = at
		}
	}
}

func (l *Ledger) get(id int64) (*console.Ticket, error) {
	t, ok := l.tickets[id]
	if !ok {
		return nil, fmt.Errorf("ticket %d: %w", id, console.ErrNotFound)
	}
	return t, nil
}

func clone(t *console.Ticket) console.Ticket {
	c := *t
	c.Deadlines = slices.Clone(t.Deadlines)
	c.Events = slices.Clone(t.Events)
	c.Calls = slices.Clone(t.Calls)
	c.Recordings = slices.Clone(t.Recordings)
	c.Replies = slices.Clone(t.Replies)
	if t.Sheet != nil {
		s := *t.Sheet
		c.Sheet = &s
	}
	return c
}

func (l *Ledger) summary(t *console.Ticket) console.Summary {
	s := console.Summary{ID: t.ID, Number: t.Number, Channel: t.Channel, Line: t.Line, Kind: t.Kind, Status: t.Status,
		Unit: t.Unit, Opened: t.Opened, Satisfaction: t.Satisfaction, Content: t.Content}
	now := l.now()
	for _, d := range t.Deadlines {
		if d.Missed(now) {
			s.Overdue = true
		}
		if d.Done.IsZero() && (s.NextDue.IsZero() || d.Due.Before(s.NextDue)) {
			s.NextDue, s.NextStage = d.Due, d.Stage
		}
	}
	return s
}

// Ticket implements console.AgentDesk.
func (l *Ledger) Ticket(_ context.Context, id int64) (console.Ticket, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, err := l.get(id)
	if err != nil {
		return console.Ticket{}, err
	}
	return clone(t), nil
}

// History implements console.AgentDesk.
func (l *Ledger) History(_ context.Context, caller string, except int64) ([]console.Summary, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []console.Summary
	for _, t := range l.tickets {
		if t.Caller == caller && t.ID != except && caller != "" {
			out = append(out, l.summary(t))
		}
	}
	slices.SortFunc(out, func(a, b console.Summary) int { return int(b.ID - a.ID) })
	return out, nil
}

// Register implements console.AgentDesk.
func (l *Ledger) Register(_ context.Context, id int64, reg console.Registration, by string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, err := l.get(id)
	if err != nil {
		return err
	}
	if t.Status == console.StatusClosed {
		return fmt.Errorf("ticket %d closed: %w", id, console.ErrWrongState)
	}
	t.CallerName, t.Contact, t.Content = reg.CallerName, reg.Contact, reg.Content
	if t.Kind != reg.Kind {
		t.Kind = reg.Kind
		if reg.Kind == console.KindComplaint {
			t.Deadlines = append(t.Deadlines, console.Deadline{Stage: "sheet", Due: t.Opened.Add(2 * time.Hour)})
		}
	}
	l.event(t, by, "登记分类", reg.Kind)
	return nil
}

// AnswerAndClose implements console.AgentDesk.
func (l *Ledger) AnswerAndClose(_ context.Context, id int64, answer, by string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, err := l.get(id)
	if err != nil {
		return err
	}
	if t.Status != console.StatusRegistered {
		return fmt.Errorf("ticket %d is %s: %w", id, t.Status, console.ErrWrongState)
	}
	t.Result, t.Status = answer, console.StatusAnswered
	t.Deadlines = nil
	l.event(t, by, "当场答复", answer)
	return nil
}

// Forward implements console.AgentDesk.
func (l *Ledger) Forward(_ context.Context, id int64, unit, note, by string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, err := l.get(id)
	if err != nil {
		return err
	}
	if t.Kind == console.KindComplaint {
		return fmt.Errorf("a complaint is transferred, not forwarded: %w", console.ErrWrongState)
	}
	now := l.now()
	t.Unit, t.Status = unit, console.StatusForwarded
	l.done(t, "transfer", now)
	t.Deadlines = append(t.Deadlines, console.Deadline{Stage: "feedback", Due: now.Add(48 * time.Hour)})
	l.event(t, by, "转部门", unit+" "+note)
	return nil
}

// IssueSheet implements console.AgentDesk.
func (l *Ledger) IssueSheet(_ context.Context, id int64, by string) (console.Sheet, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, err := l.get(id)
	if err != nil {
		return console.Sheet{}, err
	}
	if t.Kind != console.KindComplaint {
		return console.Sheet{}, fmt.Errorf("only a complaint gets a sheet: %w", console.ErrWrongState)
	}
	if t.Sheet == nil {
		now := l.now()
		t.Sheet = &console.Sheet{Issued: now, Due: t.Opened.Add(2 * time.Hour), By: by}
		l.done(t, "sheet", now)
		l.event(t, by, "签发处理流程单", "")
	}
	return *t.Sheet, nil
}

// UnitTickets implements console.UnitDesk.
func (l *Ledger) UnitTickets(_ context.Context, unit string) ([]console.Summary, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []console.Summary
	for _, t := range l.tickets {
		if t.Unit == unit && (t.Status == console.StatusTransferred || t.Status == console.StatusForwarded || t.Status == console.StatusReopened) {
			out = append(out, l.summary(t))
		}
	}
	slices.SortFunc(out, func(a, b console.Summary) int { return a.NextDue.Compare(b.NextDue) })
	return out, nil
}

// Reply implements console.UnitDesk.
func (l *Ledger) Reply(_ context.Context, id int64, unit string, r console.Reply) (console.Reply, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, err := l.get(id)
	if err != nil || t.Unit != unit {
		return console.Reply{}, fmt.Errorf("ticket %d of unit %s: %w", id, unit, console.ErrNotFound)
	}
	if t.Status == console.StatusReplied {
		return console.Reply{}, fmt.Errorf("ticket %d: %w", id, console.ErrAlreadyReplied)
	}
	if t.Status != console.StatusTransferred && t.Status != console.StatusForwarded && t.Status != console.StatusReopened {
		return console.Reply{}, fmt.Errorf("ticket %d is %s: %w", id, t.Status, console.ErrWrongState)
	}
	for _, d := range t.Deadlines {
		if d.Stage == "feedback" && d.Done.IsZero() && r.At.After(d.Due) {
			r.Late = true
		}
	}
	l.done(t, "feedback", r.At)
	t.Replies = append(t.Replies, r)
	t.Result, t.Status = r.Result, console.StatusReplied
	t.Deadlines = append(t.Deadlines, console.Deadline{Stage: "callback", Due: r.At.Add(72 * time.Hour)})
	l.event(t, r.By, "单位回复", r.Result)
	return r, nil
}

// Return implements console.UnitDesk.
func (l *Ledger) Return(_ context.Context, id int64, unit, reason, by string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, err := l.get(id)
	if err != nil || t.Unit != unit {
		return fmt.Errorf("ticket %d of unit %s: %w", id, unit, console.ErrNotFound)
	}
	if t.Status != console.StatusTransferred && t.Status != console.StatusForwarded {
		return fmt.Errorf("ticket %d is %s: %w", id, t.Status, console.ErrWrongState)
	}
	t.Status, t.Unit = console.StatusReturned, ""
	l.event(t, by, "退单", reason)
	return nil
}

// Search implements console.Supervision.
func (l *Ledger) Search(_ context.Context, f console.Filter) ([]console.Summary, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []console.Summary
	for _, t := range l.tickets {
		s := l.summary(t)
		switch {
		case !f.From.IsZero() && t.Opened.Before(f.From), !f.To.IsZero() && !t.Opened.Before(f.To),
			f.Line != "" && t.Line != f.Line, f.Unit != "" && t.Unit != f.Unit, f.Kind != "" && t.Kind != f.Kind,
			f.Status != "" && t.Status != f.Status, f.Channel != "" && t.Channel != f.Channel,
			f.Satisfaction != "" && t.Satisfaction != f.Satisfaction, f.Overdue && !s.Overdue,
			f.Text != "" && !strings.Contains(t.Number+" "+t.Caller+" "+t.Content, f.Text):
			continue
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b console.Summary) int { return int(b.ID - a.ID) })
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// Recording implements console.Supervision.
func (l *Ledger) Recording(_ context.Context, id int64) (console.RecordingFile, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.recordings[id]
	if !ok {
		return console.RecordingFile{}, fmt.Errorf("recording %d: %w", id, console.ErrNotFound)
	}
	t := l.tickets[r.ticket]
	return console.RecordingFile{Ticket: t.ID, Unit: t.Unit, Name: fmt.Sprintf("%d.wav", id), Modified: t.Opened,
		Content: console.NopCloser(bytes.NewReader(r.data))}, nil
}

// LogRecordingAccess implements console.Supervision.
func (l *Ledger) LogRecordingAccess(_ context.Context, id int64, user string, at time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.accesses = append(l.accesses, Access{Recording: id, User: user, At: at})
	if r, ok := l.recordings[id]; ok {
		l.event(l.tickets[r.ticket], user, "收听录音", fmt.Sprint(id))
	}
	return nil
}

// MonthlyReport implements console.Supervision with a CSV of the month's
// tickets; "html" and "xlsx" get the same rows in a table and as CSV bytes.
func (l *Ledger) MonthlyReport(_ context.Context, month time.Time, format string) (console.Report, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	end := month.AddDate(0, 1, 0)
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"工单号", "渠道", "分类", "状态", "单位", "满意度"})
	var ids []int64
	for id, t := range l.tickets {
		if !t.Opened.Before(month) && t.Opened.Before(end) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		t := l.tickets[id]
		_ = w.Write([]string{t.Number, t.Channel, t.Kind, t.Status, t.Unit, t.Satisfaction})
	}
	w.Flush()
	name := "96596-月报-" + month.Format("2006-01")
	switch format {
	case "csv":
		return console.Report{Name: name + ".csv", ContentType: "text/csv; charset=utf-8", Body: buf.Bytes()}, nil
	case "xlsx":
		return console.Report{Name: name + ".xlsx", ContentType: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", Body: buf.Bytes()}, nil
	}
	return console.Report{Name: name + ".html", ContentType: "text/html; charset=utf-8",
		Body: []byte("<!DOCTYPE html><meta charset=utf-8><title>月报</title><h1>月报 " + month.Format("2006-01") + "</h1><pre>" + strings.ReplaceAll(buf.String(), "<", "&lt;") + "</pre>")}, nil
}

// Assessment implements console.Supervision: tickets, complaints and late
// replies per unit; 100 points less 2 per late reply.
func (l *Ledger) Assessment(_ context.Context, month time.Time) ([]console.UnitScore, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	by := map[string]*console.UnitScore{}
	for _, t := range l.tickets {
		if t.Unit == "" {
			continue
		}
		s := by[t.Unit]
		if s == nil {
			s = &console.UnitScore{Unit: t.Unit}
			by[t.Unit] = s
		}
		s.Tickets++
		if t.Kind == console.KindComplaint {
			s.Complaints++
		}
		for _, r := range t.Replies {
			if r.Late {
				s.LateFeedback++
			}
		}
	}
	var out []console.UnitScore
	for _, s := range by {
		s.Points = 100 - 2*float64(s.LateFeedback)
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b console.UnitScore) int { return strings.Compare(a.Unit, b.Unit) })
	return out, nil
}

// CreateQR implements console.Intake.
func (l *Ledger) CreateQR(_ context.Context, s console.QRSubmission) (console.Summary, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.addLocked(console.Ticket{Channel: console.ChannelQR, CallerName: s.CallerName, Contact: s.Contact, Kind: s.Kind, Content: s.Content})
	return l.summary(t), nil
}

// Units implements console.Ledger.
func (l *Ledger) Units(context.Context) ([]console.Unit, error) {
	return slices.Clone(l.units), nil
}
