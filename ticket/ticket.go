package ticket

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unicode"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// Status is where a ticket stands in the workflow (第七条 to 第九条).
type Status string

// The statuses.
const (
	StatusRegistered  Status = "registered"  // 登记: on the ledger, nothing done yet
	StatusAnswered    Status = "answered"    // 当场答复: answered on the spot
	StatusForwarded   Status = "forwarded"   // question or suggestion forwarded to the department
	StatusTransferred Status = "transferred" // 转办: with the responsible unit
	StatusReturned    Status = "returned"    // 退单: the unit sent it back with a reason; the clock keeps running
	StatusReplied     Status = "replied"     // the unit replied
	StatusCalledBack  Status = "called_back" // 回访: the centre called the caller back
	StatusClosed      Status = "closed"      // 办结
	StatusReopened    Status = "reopened"    // 重办: dissatisfied callback or reopened by a supervisor
	StatusMerged      Status = "merged"      // 并单: a repeat contact joined to an earlier ticket
)

// done tells the statuses in which a ticket no longer awaits anything; a
// repeat contact does not join such a ticket.
func (s Status) done() bool {
	switch s {
	case StatusAnswered, StatusCalledBack, StatusClosed, StatusMerged:
		return true
	}
	return false
}

// Kind is the classification of 第六条.
type Kind string

// The kinds; "" until an agent classifies the ticket.
const (
	KindComplaint  Kind = "complaint"  // 投诉
	KindQuestion   Kind = "question"   // 问题
	KindSuggestion Kind = "suggestion" // 建议
)

// Channel is how the contact came in (第二条).
type Channel string

// The channels.
const (
	ChannelHotline Channel = "hotline" // the 96596 line
	ChannelQRCode  Channel = "qrcode"  // the service-quality QR code (web form)
)

// Satisfaction is the caller's rating at the callback (回访).
type Satisfaction string

// The ratings, as the survey's keys 1, 2, 3.
const (
	Satisfied    Satisfaction = "satisfied"    // 1 满意
	Basic        Satisfaction = "basic"        // 2 基本满意
	Dissatisfied Satisfaction = "dissatisfied" // 3 不满意
)

// UnknownCaller is stored as the caller of a call without a usable caller
// ID (withheld, anonymous, malformed).
const UnknownCaller = "unknown"

// Ticket is one entry of the ledger (the registration form of 第十三条;
// the handling process is its events).
type Ticket struct {
	ID         int64   `db:"id" json:"id"`
	Number     string  `db:"number" json:"number"`
	Channel    Channel `db:"channel" json:"channel"`
	Kind       Kind    `db:"kind" json:"kind,omitempty"`
	Status     Status  `db:"status" json:"status"`
	Caller     string  `db:"caller" json:"caller"`
	CallerName string  `db:"caller_name" json:"caller_name,omitempty"`
	// Contact is how to reach the caller when it is not the calling
	// number (第十三条 联系方式); "" means the caller's number.
	Contact           string       `db:"contact" json:"contact,omitempty"`
	Line              string       `db:"line" json:"line,omitempty"`
	Content           string       `db:"content" json:"content,omitempty"`
	UnitID            string       `db:"unit_id" json:"unit,omitempty"`
	AgentID           int64        `db:"agent_id" json:"agent,omitempty"`
	Result            string       `db:"result" json:"result,omitempty"`
	CCTVPreserved     bool         `db:"cctv_preserved" json:"cctv_preserved,omitempty"`
	NoPaymentAttested bool         `db:"no_payment_attested" json:"no_payment_attested,omitempty"`
	Satisfaction      Satisfaction `db:"satisfaction" json:"satisfaction,omitempty"`
	Repeats           int          `db:"repeats" json:"repeats,omitempty"`
	Reopened          int          `db:"reopened" json:"reopened,omitempty"`
	MergedInto        int64        `db:"merged_into" json:"merged_into,omitempty"`
	CreatedAt         time.Time    `db:"created_at" json:"created_at"`
	UpdatedAt         time.Time    `db:"updated_at" json:"updated_at"`
	ClosedAt          *time.Time   `db:"closed_at" json:"closed_at,omitempty"`
	Version           int64        `db:"version" json:"version"`
}

const ticketCols = `id, number, channel, kind, status, caller, caller_name, contact, line, content,
	COALESCE(unit_id, '') AS unit_id, COALESCE(agent_id, 0) AS agent_id, result, cctv_preserved,
	no_payment_attested, satisfaction, repeats, reopened, COALESCE(merged_into, 0) AS merged_into,
	created_at, updated_at, closed_at, version`

// Event is one step of a ticket's handling process (处置过程). Events are
// never changed or deleted.
type Event struct {
	ID       int64     `db:"id" json:"id"`
	TicketID int64     `db:"ticket_id" json:"ticket_id"`
	At       time.Time `db:"at" json:"at"`
	Kind     string    `db:"kind" json:"kind"`
	Actor    string    `db:"actor" json:"actor,omitempty"`
	From     Status    `db:"from_status" json:"from,omitempty"`
	To       Status    `db:"to_status" json:"to,omitempty"`
	UnitID   string    `db:"unit_id" json:"unit,omitempty"`
	Note     string    `db:"note" json:"note,omitempty"`
}

// The event kinds besides the workflow actions (which are named by their
// Action).
const (
	EventOpened         = "opened"
	EventLine           = "line"
	EventRepeat         = "repeat"
	EventMerged         = "merged"
	EventAssigned       = "assigned"
	EventTransferFailed = "transfer_failed"
	EventCallEnded      = "call_ended"
	EventRecording      = "recording"
)

// Actor names who did something, for events: "ivr", "system", or a user
// as UserActor(id).
func UserActor(id int64) string { return fmt.Sprintf("user:%d", id) }

// addEvent appends an event to the handling process.
func (tx *txn) addEvent(e Event) error {
	_, err := tx.exec(tx.st.insEvent, tx.eventValues(nil, e)...)
	if err != nil {
		return fmt.Errorf("add event %s: %w", e.Kind, err)
	}
	return nil
}

// NormalizeCaller turns a signalled caller ID into the stored contact
// number: digits with an optional leading +, separators removed. Anything
// else (withheld, "anonymous", a malformed value) is UnknownCaller.
func NormalizeCaller(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(strings.TrimPrefix(s, "sip:"), "tel:")
	if at := strings.IndexByte(s, '@'); at >= 0 {
		s = s[:at]
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r == '-' || r == ' ' || r == '(' || r == ')':
		default:
			return UnknownCaller
		}
	}
	n := b.String()
	if digits := strings.TrimPrefix(n, "+"); len(digits) < 3 || len(digits) > 20 {
		return UnknownCaller
	}
	return n
}

// cleanText keeps printable text of at most max runes.
func cleanText(s string, max int) string {
	s = strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && r != '\n' {
			return -1
		}
		return r
	}, s))
	if r := []rune(s); len(r) > max {
		s = string(r[:max])
	}
	return s
}

// nextNumber draws the next public number of the day of t (in the
// calendar's zone): 96596-YYYYMMDD-NNNN. The day's last number is read
// once per transaction (a group commit of many openings reads it once).
func (s *Store) nextNumber(tx *txn) (string, error) {
	day := tx.now.In(s.cal.Location()).Format("20060102")
	n := tx.numbers
	if n.day != day {
		last, err := tx.lastNumber(day)
		if err != nil {
			return "", fmt.Errorf("draw ticket number: %w", err)
		}
		n.day, n.last = day, last
	}
	n.last++
	return fmt.Sprintf("96596-%s-%04d", day, n.last), nil
}

// lastNumber is the highest number given on day. Usually that is the
// newest ticket's, one step to the end of the table; on a new day, or
// with the clock set back past midnight, it is looked up among the day's
// numbers.
func (tx *txn) lastNumber(day string) (int64, error) {
	prefix := "96596-" + day + "-"
	var newest string
	if err := tx.queryRow(tx.st.newestNumber).Scan(&newest); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	if n, ok := strings.CutPrefix(newest, prefix); ok {
		if last, err := strconv.ParseInt(n, 10, 64); err == nil {
			return last, nil
		}
	}
	var last sql.NullInt64
	err := tx.queryRow(tx.st.dayNumber, prefix, "96596-"+day+".", len(prefix)+1).Scan(&last)
	return last.Int64, err
}

// NewTicket is a contact to register that did not come in as a call (a QR
// code form, an agent's manual entry).
type NewTicket struct {
	Channel    Channel
	Caller     string
	CallerName string
	Contact    string // when not the caller's number, e.g. an e-mail from the QR form
	Line       string
	Kind       Kind
	Content    string
	Actor      string
}

// Ref says which ticket a call or contact landed on.
type Ref struct {
	TicketID int64  `json:"ticket_id"`
	Number   string `json:"number"`
	// Created is true when this request opened the ticket, false when it
	// found the one opened earlier for the same call.
	Created bool `json:"created"`
	// Repeat is true when the contact was joined to an earlier open ticket
	// of the same caller and line (并单).
	Repeat bool `json:"repeat"`
}

// insertTicket registers a ticket and starts its clocks.
func (s *Store) insertTicket(tx *txn, n NewTicket) (Ref, error) {
	if n.Channel != ChannelHotline && n.Channel != ChannelQRCode {
		return Ref{}, fmt.Errorf("channel %q: %w", n.Channel, ErrInvalid)
	}
	if n.Kind != "" && n.Kind != KindComplaint && n.Kind != KindQuestion && n.Kind != KindSuggestion {
		return Ref{}, fmt.Errorf("kind %q: %w", n.Kind, ErrInvalid)
	}
	number, err := s.nextNumber(tx)
	if err != nil {
		return Ref{}, err
	}
	res, err := tx.exec(tx.st.insTicket, tx.ticketValues(nil, n, number)...)
	if err != nil {
		return Ref{}, fmt.Errorf("insert ticket: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return Ref{}, fmt.Errorf("insert ticket: %w", err)
	}
	if err := tx.addEvent(openedEvent(id, n)); err != nil {
		return Ref{}, err
	}
	if err := s.startClocks(tx, id, "", openingStages(n.Kind)...); err != nil {
		return Ref{}, err
	}
	tx.notify(Observer.TicketOpened)
	return Ref{TicketID: id, Number: number, Created: true}, nil
}

// Register records a contact that did not come in as a call.
func (s *Store) Register(ctx context.Context, n NewTicket) (Ref, error) {
	var ref Ref
	err := s.write(ctx, func(tx *txn) error {
		var err error
		ref, err = s.insertTicket(tx, n)
		return err
	})
	if err != nil {
		return Ref{}, fmt.Errorf("register ticket: %w", err)
	}
	return ref, nil
}

// CallInfo describes an inbound call as the telephony engine reports it.
type CallInfo struct {
	CallID     string    // the engine's id; opening is idempotent on it
	Direction  string    // "inbound" (default) or "outbound"
	Caller     string    // as signalled; "", "anonymous" or malformed is stored as UnknownCaller
	CallerName string    //
	Dialled    string    // the number dialled, 96596
	Started    time.Time // when the call reached the service; zero means now
}

// OpenForCall registers an inbound call and opens its ticket (channel
// hotline), in one transaction. It is idempotent on CallID: a call
// delivered again (retry, reconnect) gets the ticket it already has.
//
// Openings from concurrent calls are committed together (group commit):
// each returns only once its transaction is durable.
func (s *Store) OpenForCall(ctx context.Context, c CallInfo) (Ref, error) {
	if c.CallID == "" {
		return Ref{}, fmt.Errorf("open ticket for call: empty call id: %w", ErrInvalid)
	}
	req := openReq{ctx: ctx, info: c, done: make(chan openRes, 1)}
	select {
	case s.opens <- req:
	case <-ctx.Done():
		return Ref{}, fmt.Errorf("open ticket for call: %w", ctx.Err())
	case <-s.quit:
		return Ref{}, fmt.Errorf("open ticket for call: %w", ErrClosed)
	}
	// The loop always answers a request it took.
	res := <-req.done
	if res.err != nil {
		return Ref{}, fmt.Errorf("open ticket for call: %w", res.err)
	}
	return res.ref, nil
}

type openReq struct {
	ctx  context.Context
	info CallInfo
	done chan openRes
}

type openRes struct {
	ref Ref
	err error
}

// maxBatch bounds a group commit.
const maxBatch = 64

// openLoop writes the openings, taking every request that is waiting into
// the same transaction.
func (s *Store) openLoop() {
	defer s.closed.Done()
	batch := make([]openReq, 0, maxBatch)
	for {
		select {
		case <-s.quit:
			return
		case r := <-s.opens:
			batch = gather(append(batch[:0], r), s.opens)
		}
		s.openBatch(batch)
	}
}

// gather adds to batch, up to its capacity, the requests waiting on ch.
func gather[T any](batch []T, ch <-chan T) []T {
	// Let the callers woken by the last batch queue up again, so that
	// they join this one.
	runtime.Gosched()
	for len(batch) < cap(batch) {
		select {
		case r := <-ch:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// openBatch writes a batch in one transaction. One request that fails
// spoils the transaction of all; it is left out and the rest tried again.
func (s *Store) openBatch(batch []openReq) {
	if s.openTogether(batch) {
		return
	}
	results := make([]openRes, len(batch))
	failed := make([]error, len(batch)) // requests left out of the next try
	lookup := make([]bool, len(batch))  // calls found opened: read, do not insert
	var err error
	// One request that fails spoils the transaction of all; it is left out
	// (or, for a call opened before, looked up) and the rest tried again.
	for range len(batch) + 1 {
		bad, badErr := -1, error(nil)
		err = s.writeOpenings(func(tx *txn) error {
			for i, r := range batch {
				results[i] = openRes{}
				if failed[i] == nil {
					failed[i] = r.ctx.Err()
				}
				if failed[i] != nil {
					results[i].err = failed[i]
					continue
				}
				if lookup[i] {
					err := tx.queryRow(tx.st.findCall, r.info.CallID).Scan(&results[i].ref.TicketID, &results[i].ref.Number)
					if err != nil {
						bad, badErr = i, err
						return errRetry
					}
					continue
				}
				ref, err := s.openOne(tx, r.info)
				if err != nil {
					bad, badErr = i, err
					return errRetry
				}
				results[i].ref = ref
			}
			return nil
		})
		if !errors.Is(err, errRetry) {
			break
		}
		if errors.Is(badErr, errCallTaken) && !lookup[bad] {
			lookup[bad] = true
		} else {
			failed[bad] = badErr
		}
	}
	for i, r := range batch {
		if err != nil && results[i].err == nil {
			results[i] = openRes{err: err}
		}
		r.done <- results[i]
	}
}

// errRetry rolls back a group commit that one request spoiled.
var errRetry = errors.New("retry the batch")

// errCallTaken: the call was opened before.
var errCallTaken = errors.New("call opened before")

// openOne opens the ticket of one call inside a transaction. It inserts without looking first: the call id's unique index
// says whether the call was opened before (errCallTaken), the rare case.
func (s *Store) openOne(tx *txn, c CallInfo) (Ref, error) {
	ref, err := s.insertTicket(tx, c.ticket())
	if err != nil {
		return Ref{}, err
	}
	_, err = tx.exec(tx.st.insCall, tx.callValues(nil, c, ref.TicketID)...)
	if err != nil {
		var se sqlite3.Error
		if errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintUnique {
			return Ref{}, errCallTaken
		}
		return Ref{}, fmt.Errorf("insert call: %w", err)
	}
	return ref, nil
}

// callRow is what the flows' helpers need of a call.
type callRow struct {
	ID       int64  `db:"id"`
	TicketID int64  `db:"ticket_id"`
	Caller   string `db:"caller"`
	Line     string `db:"line"`
	Ended    bool   `db:"ended"`
	RecPath  string `db:"recording_path"`
	Repeat   bool   `db:"repeat"`
}

func (tx *txn) call(callID string) (callRow, error) {
	var c callRow
	err := tx.GetContext(tx.ctx, &c, `SELECT id, COALESCE(ticket_id, 0) AS ticket_id, caller, line,
		ended_at IS NOT NULL AS ended, recording_path, repeat FROM calls WHERE call_id = ?`, callID)
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("call %s: %w", callID, ErrNotFound)
	}
	return c, err
}

func (tx *txn) ticket(id int64) (Ticket, error) {
	var t Ticket
	err := tx.GetContext(tx.ctx, &t, `SELECT `+ticketCols+` FROM tickets WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("ticket %d: %w", id, ErrNotFound)
	}
	return t, err
}

// SetLine tags a call and its ticket with the business line chosen in the
// IVR, and applies 并单: when the same caller has an earlier ticket about
// the same line that is still open and was registered within the repeat
// window, the call's fresh ticket is merged into it (status merged) and the
// earlier ticket counts one more repeat. It returns the effective ticket.
// Calling it again with the same line changes nothing.
func (s *Store) SetLine(ctx context.Context, callID, line string) (Ref, error) {
	var ref Ref
	err := s.write(ctx, func(tx *txn) error {
		c, err := tx.call(callID)
		if err != nil {
			return err
		}
		t, err := tx.ticket(c.TicketID)
		if err != nil {
			return err
		}
		ref = Ref{TicketID: t.ID, Number: t.Number, Repeat: c.Repeat}
		if c.Line == line && t.Line == line {
			return nil // already done
		}
		if _, err := tx.ExecContext(ctx, `UPDATE calls SET line = ? WHERE id = ?`, line, c.ID); err != nil {
			return err
		}
		// Only the call's own fresh ticket takes the line or merges; a
		// ticket shared by several calls keeps what it has.
		var calls int
		if err := tx.GetContext(ctx, &calls, `SELECT count(*) FROM calls WHERE ticket_id = ?`, t.ID); err != nil {
			return err
		}
		if calls != 1 || t.Status != StatusRegistered || (t.Line != "" && t.Line != line) {
			return nil
		}
		if s.window > 0 && t.Caller != UnknownCaller {
			var earlier Ticket
			err := tx.GetContext(ctx, &earlier, `SELECT `+ticketCols+` FROM tickets
				WHERE caller = ? AND line = ? AND id <> ? AND created_at >= ?
				AND status NOT IN ('answered', 'called_back', 'closed', 'merged')
				ORDER BY created_at DESC, id DESC LIMIT 1`,
				t.Caller, line, t.ID, ts(tx.now.Add(-s.window)))
			switch {
			case err == nil:
				if err := s.merge(tx, t, earlier, c); err != nil {
					return err
				}
				tx.notify(Observer.RepeatContact)
				ref = Ref{TicketID: earlier.ID, Number: earlier.Number, Repeat: true}
				return nil
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE tickets SET line = ?, updated_at = ?, version = version + 1 WHERE id = ?`,
			line, ts(tx.now), t.ID); err != nil {
			return err
		}
		return tx.addEvent(Event{TicketID: t.ID, Kind: EventLine, Actor: "ivr", Note: line})
	})
	if err != nil {
		return Ref{}, fmt.Errorf("set line of call %s: %w", callID, err)
	}
	return ref, nil
}

// merge joins the fresh ticket t of call c to the earlier ticket.
func (s *Store) merge(tx *txn, t, earlier Ticket, c callRow) error {
	now := ts(tx.now)
	if _, err := tx.ExecContext(tx.ctx, `UPDATE tickets SET status = ?, merged_into = ?, line = ?, updated_at = ?, version = version + 1 WHERE id = ?`,
		StatusMerged, earlier.ID, earlier.Line, now, t.ID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(tx.ctx, `UPDATE deadlines SET done_at = ?, waived = 1 WHERE ticket_id = ? AND done_at IS NULL`, now, t.ID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(tx.ctx, `UPDATE calls SET ticket_id = ?, repeat = 1 WHERE ticket_id = ?`, earlier.ID, t.ID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(tx.ctx, `UPDATE tickets SET repeats = repeats + 1, updated_at = ?, version = version + 1 WHERE id = ?`, now, earlier.ID); err != nil {
		return err
	}
	if err := tx.addEvent(Event{TicketID: t.ID, Kind: EventMerged, Actor: "ivr", From: t.Status, To: StatusMerged, Note: earlier.Number}); err != nil {
		return err
	}
	return tx.addEvent(Event{TicketID: earlier.ID, Kind: EventRepeat, Actor: "ivr", Note: t.Number})
}

// CallEnd is how a call ended, for its record.
type CallEnd struct {
	At        time.Time // zero means now
	Reason    string    // a telephony.Reason
	By        string    // "remote", "local" or ""
	Cause     int       // engine code (Q.850 or SIP status), for the record
	IVRChoice string    // the keys or menu path the caller chose
	// RecordingPath and RecordingDuration attach the call's recording to
	// its ticket.
	RecordingPath     string
	RecordingDuration time.Duration
}

// EndCall closes the call record and attaches its recording to the ticket.
// Calling it again only adds a recording that was not known before.
func (s *Store) EndCall(ctx context.Context, callID string, e CallEnd) error {
	err := s.write(ctx, func(tx *txn) error {
		c, err := tx.call(callID)
		if err != nil {
			return err
		}
		at := e.At
		if at.IsZero() {
			at = tx.now
		}
		if !c.Ended {
			_, err := tx.ExecContext(ctx, `UPDATE calls SET ended_at = ?, end_reason = ?, end_by = ?, cause = ?,
				ivr_choice = CASE WHEN ? <> '' THEN ? ELSE ivr_choice END WHERE id = ?`,
				ts(at), e.Reason, e.By, e.Cause, e.IVRChoice, e.IVRChoice, c.ID)
			if err != nil {
				return err
			}
			if c.TicketID != 0 {
				if err := tx.addEvent(Event{TicketID: c.TicketID, Kind: EventCallEnded, Actor: "ivr", Note: e.Reason}); err != nil {
					return err
				}
			}
		}
		if e.RecordingPath != "" && e.RecordingPath != c.RecPath {
			_, err := tx.ExecContext(ctx, `UPDATE calls SET recording_path = ?, recording_ms = ? WHERE id = ?`,
				e.RecordingPath, e.RecordingDuration.Milliseconds(), c.ID)
			if err != nil {
				return err
			}
			if c.TicketID != 0 {
				note := fmt.Sprintf("%s (%s)", e.RecordingPath, e.RecordingDuration.Round(time.Second))
				if err := tx.addEvent(Event{TicketID: c.TicketID, Kind: EventRecording, Actor: "ivr", Note: note}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("end call %s: %w", callID, err)
	}
	return nil
}

// AssignAgent records that agent answered the call: the call and its
// ticket are the agent's from now on.
func (s *Store) AssignAgent(ctx context.Context, callID string, agentID int64) error {
	err := s.write(ctx, func(tx *txn) error {
		c, err := tx.call(callID)
		if err != nil {
			return err
		}
		if err := tx.userExists(agentID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE calls SET agent_id = ?, answered_at = COALESCE(answered_at, ?) WHERE id = ?`,
			agentID, ts(tx.now), c.ID); err != nil {
			return err
		}
		if c.TicketID == 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE tickets SET agent_id = ?, updated_at = ?, version = version + 1 WHERE id = ?`,
			agentID, ts(tx.now), c.TicketID); err != nil {
			return err
		}
		return tx.addEvent(Event{TicketID: c.TicketID, Kind: EventAssigned, Actor: UserActor(agentID)})
	})
	if err != nil {
		return fmt.Errorf("assign call %s to agent %d: %w", callID, agentID, err)
	}
	return nil
}

// AssignTicket makes a ticket the agent's without a call (a callback, a
// web form taken by an agent).
func (s *Store) AssignTicket(ctx context.Context, ticketID, agentID int64) error {
	err := s.write(ctx, func(tx *txn) error {
		if _, err := tx.ticket(ticketID); err != nil {
			return err
		}
		if err := tx.userExists(agentID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE tickets SET agent_id = ?, updated_at = ?, version = version + 1 WHERE id = ?`,
			agentID, ts(tx.now), ticketID); err != nil {
			return err
		}
		return tx.addEvent(Event{TicketID: ticketID, Kind: EventAssigned, Actor: UserActor(agentID)})
	})
	if err != nil {
		return fmt.Errorf("assign ticket %d to agent %d: %w", ticketID, agentID, err)
	}
	return nil
}

// AttachRecording attaches a recording to a ticket: a message the caller
// left after hours, or a recording that is not the call's own (a call's
// own recording comes with EndCall). kind says which ("message", "call").
func (s *Store) AttachRecording(ctx context.Context, ticketID int64, callID, kind, path string, d time.Duration) error {
	err := s.write(ctx, func(tx *txn) error {
		if _, err := tx.ticket(ticketID); err != nil {
			return err
		}
		if callID != "" && kind == "call" {
			if _, err := tx.ExecContext(ctx, `UPDATE calls SET recording_path = ?, recording_ms = ? WHERE call_id = ?`,
				path, d.Milliseconds(), callID); err != nil {
				return err
			}
		}
		note := fmt.Sprintf("%s %s (%s)", kind, path, d.Round(time.Second))
		return tx.addEvent(Event{TicketID: ticketID, Kind: EventRecording, Actor: "ivr", Note: note})
	})
	if err != nil {
		return fmt.Errorf("attach recording to ticket %d: %w", ticketID, err)
	}
	return nil
}

// TransferFailed records on the ticket a transfer to unit that did not go
// through (the unit was busy, did not answer ...); the transfer deadline
// keeps running.
func (s *Store) TransferFailed(ctx context.Context, ticketID int64, unitID, reason, actor string) error {
	err := s.write(ctx, func(tx *txn) error {
		if _, err := tx.ticket(ticketID); err != nil {
			return err
		}
		if err := tx.unitExists(unitID); err != nil {
			return err
		}
		return tx.addEvent(Event{TicketID: ticketID, Kind: EventTransferFailed, Actor: actor, UnitID: unitID, Note: reason})
	})
	if err != nil {
		return fmt.Errorf("record failed transfer of ticket %d: %w", ticketID, err)
	}
	return nil
}

func (tx *txn) unitExists(id string) error {
	var n int
	if err := tx.GetContext(tx.ctx, &n, `SELECT count(*) FROM units WHERE id = ?`, id); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("unit %q: %w", id, ErrUnknownUnit)
	}
	return nil
}

func (tx *txn) userExists(id int64) error {
	var n int
	if err := tx.GetContext(tx.ctx, &n, `SELECT count(*) FROM users WHERE id = ?`, id); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("user %d: %w", id, ErrUnknownUser)
	}
	return nil
}
