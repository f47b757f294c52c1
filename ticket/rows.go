package ticket

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// The rows that opening a ticket writes. Each is an INSERT and the values
// of one row, built by one function, so that a statement for one row and
// a statement for many (a group commit of openings) write the same thing.
type insert struct {
	head string // INSERT INTO table (columns) VALUES
	cols int
}

var (
	ticketInsert = insert{`INSERT INTO tickets (number, channel, kind, status, caller, caller_name, contact, line, content,
		created_at, updated_at) VALUES `, 11}
	eventInsert = insert{`INSERT INTO ticket_events (ticket_id, at, kind, actor, from_status, to_status, unit_id, note) VALUES `, 8}
	clockInsert = insert{`INSERT INTO deadlines (ticket_id, stage, unit_id, started_at, due_at) VALUES `, 5}
	callInsert  = insert{`INSERT INTO calls (call_id, ticket_id, direction, caller, caller_name, dialled, started_at) VALUES `, 7}
)

// rows is the statement that inserts n rows.
func (in insert) rows(n int) string {
	row := "(?" + strings.Repeat(", ?", in.cols-1) + ")"
	return in.head + row + strings.Repeat(", "+row, n-1)
}

// ticketValues appends the values of a new ticket's row.
func (tx *txn) ticketValues(vals []any, n NewTicket, number string) []any {
	now := ts(tx.now)
	return append(vals, number, n.Channel, n.Kind, StatusRegistered, NormalizeCaller(n.Caller), cleanText(n.CallerName, 100),
		cleanText(n.Contact, 100), n.Line, cleanText(n.Content, 10000), now, now)
}

// eventValues appends the values of an event's row.
func (tx *txn) eventValues(vals []any, e Event) []any {
	var unit any
	if e.UnitID != "" {
		unit = e.UnitID
	}
	return append(vals, e.TicketID, ts(tx.now), e.Kind, e.Actor, e.From, e.To, unit, e.Note)
}

// clockValues appends the values of a deadline's row, started now.
func (tx *txn) clockValues(vals []any, ticketID int64, stage Stage, unit any, due time.Time) []any {
	return append(vals, ticketID, stage, unit, ts(tx.now), ts(due))
}

// callValues appends the values of an inbound call's row.
func (tx *txn) callValues(vals []any, c CallInfo, ticketID int64) []any {
	started := c.Started
	if started.IsZero() {
		started = tx.now
	}
	dir := c.Direction
	if dir == "" {
		dir = "inbound"
	}
	return append(vals, c.CallID, ticketID, dir, NormalizeCaller(c.Caller), cleanText(c.CallerName, 100), cleanText(c.Dialled, 64), ts(started))
}

// ticket is the ticket a call opens.
func (c CallInfo) ticket() NewTicket {
	return NewTicket{Channel: ChannelHotline, Caller: c.Caller, CallerName: c.CallerName, Actor: "ivr"}
}

// openedEvent is the first event of a new ticket.
func openedEvent(ticketID int64, n NewTicket) Event {
	return Event{TicketID: ticketID, Kind: EventOpened, Actor: n.Actor, To: StatusRegistered, Note: string(n.Channel)}
}

// openingStages are the clocks that start with a ticket: a question or a
// suggestion is forwarded, not handled by a unit, so it has no sheet.
func openingStages(k Kind) []Stage {
	if k == KindQuestion || k == KindSuggestion {
		return []Stage{StageTransfer}
	}
	return []Stage{StageTransfer, StageSheet}
}

// callStages are the clocks that start with the ticket of a call.
func callStages() []Stage { return openingStages(CallInfo{}.ticket().Kind) }

// batchStatements insert the rows of n openings, one statement per table.
type batchStatements struct {
	tickets, events, clocks, calls *sqlx.Stmt
}

// batchStatements prepares (once per size) the statements of a batch of
// n openings. Only the opening loop calls it.
func (s *Store) batchStatements(ctx context.Context, n int) (*batchStatements, error) {
	if st, ok := s.batches[n]; ok {
		return st, nil
	}
	st := &batchStatements{}
	for _, p := range []struct {
		dst **sqlx.Stmt
		q   string
	}{
		{&st.tickets, ticketInsert.rows(n) + ` RETURNING id, number`},
		{&st.events, eventInsert.rows(n)},
		{&st.clocks, clockInsert.rows(len(callStages()) * n)},
		{&st.calls, callInsert.rows(n)},
	} {
		stmt, err := s.w.PreparexContext(ctx, p.q)
		if err != nil {
			return nil, fmt.Errorf("prepare a batch of %d openings: %w", n, err)
		}
		*p.dst = stmt
	}
	s.batches[n] = st
	return st, nil
}

// openTogether is the fast path of a group commit: the batch's tickets,
// events, clocks and calls are written with one statement per table
// instead of one per row. It writes nothing and reports false when the
// batch needs the careful path, which takes the requests one by one: a
// single request, a request given up, a call twice in the batch or
// opened before (the calls' unique index refuses the batch), or any other
// error.
func (s *Store) openTogether(batch []openReq) bool {
	if len(batch) < 2 {
		return false
	}
	seen := make(map[string]bool, len(batch))
	for _, r := range batch {
		if r.ctx.Err() != nil || seen[r.info.CallID] {
			return false
		}
		seen[r.info.CallID] = true
	}
	st, err := s.batchStatements(context.Background(), len(batch))
	if err != nil {
		s.log.Warn("open tickets together", "err", err)
		return false
	}
	refs := make([]Ref, len(batch))
	err = s.writeOpenings(func(tx *txn) error { return s.openMany(tx, st, batch, refs) })
	if err != nil {
		return false
	}
	for i, r := range batch {
		r.done <- openRes{ref: refs[i]}
	}
	return true
}

// openMany writes the openings of a batch into refs.
func (s *Store) openMany(tx *txn, st *batchStatements, batch []openReq, refs []Ref) error {
	vals := make([]any, 0, len(batch)*2*clockInsert.cols)
	for i, r := range batch {
		number, err := s.nextNumber(tx)
		if err != nil {
			return err
		}
		refs[i] = Ref{Number: number, Created: true}
		vals = tx.ticketValues(vals, r.info.ticket(), number)
	}
	rows, err := tx.Stmtx(st.tickets).QueryxContext(tx.ctx, vals...)
	if err != nil {
		return fmt.Errorf("insert tickets: %w", err)
	}
	ids := make(map[string]int64, len(batch))
	for rows.Next() {
		var id int64
		var number string
		if err := rows.Scan(&id, &number); err != nil {
			rows.Close()
			return fmt.Errorf("insert tickets: %w", err)
		}
		ids[number] = id
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("insert tickets: %w", err)
	}
	for i := range refs {
		if refs[i].TicketID = ids[refs[i].Number]; refs[i].TicketID == 0 {
			return fmt.Errorf("insert tickets: no id returned for %s", refs[i].Number)
		}
	}

	vals = vals[:0]
	for i, r := range batch {
		vals = tx.eventValues(vals, openedEvent(refs[i].TicketID, r.info.ticket()))
	}
	if _, err := tx.exec(st.events, vals...); err != nil {
		return fmt.Errorf("add opening events: %w", err)
	}

	// Every ticket of the batch starts the same clocks at the same instant.
	stages := callStages()
	dues := make([]time.Time, len(stages))
	for i, stage := range stages {
		dues[i] = s.deadlines.Rule(stage).Due(s.cal, tx.now)
	}
	vals = vals[:0]
	for _, ref := range refs {
		for i, stage := range stages {
			vals = tx.clockValues(vals, ref.TicketID, stage, nil, dues[i])
		}
	}
	if _, err := tx.exec(st.clocks, vals...); err != nil {
		return fmt.Errorf("start clocks: %w", err)
	}

	vals = vals[:0]
	for i, r := range batch {
		vals = tx.callValues(vals, r.info, refs[i].TicketID)
	}
	if _, err := tx.exec(st.calls, vals...); err != nil {
		return fmt.Errorf("insert calls: %w", err)
	}
	for range batch {
		tx.notify(Observer.TicketOpened)
	}
	return nil
}
