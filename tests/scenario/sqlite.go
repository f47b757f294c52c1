package scenario

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/mattn/go-sqlite3" // the ledger's driver, for reading the file

	"hotline/ivr"
	"hotline/ticket"
	"hotline/ticket/calendar"
)

// SQLiteLedger is the real ledger, an SQLite file in the test's temporary
// directory, with the default working calendar (weekdays 08:30-12:00 and
// 13:30-17:30, Asia/Shanghai). The inspector reads the file itself, on a
// connection of its own.
func SQLiteLedger(t *testing.T, now func() time.Time, agents []ivr.Agent, units []ivr.Unit) Ledger {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	cal, err := calendar.New(calendar.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	store, err := ticket.Open(ctx, path, ticket.WithClock(now), ticket.WithCalendar(cal))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	var dir []ticket.Unit
	for _, u := range units {
		dir = append(dir, ticket.Unit{ID: u.ID, Name: u.Name, Department: u.Name, Phone: u.Dial})
	}
	if err := store.SyncUnits(ctx, dir); err != nil {
		t.Fatal(err)
	}
	led, err := ivr.NewTicketLedger(ctx, store, agents)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlx.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return Ledger{Ledger: led, Calendar: cal, Inspector: sqliteInspector{db}}
}

type sqliteInspector struct{ db *sqlx.DB }

func (s sqliteInspector) CallsFrom(ctx context.Context, caller string) ([]CallRow, error) {
	var rows []struct {
		CallID    string `db:"call_id"`
		Ticket    int64  `db:"ticket_id"`
		Closed    bool   `db:"closed"`
		Reason    string `db:"end_reason"`
		Cause     int    `db:"cause"`
		Choice    string `db:"ivr_choice"`
		Agent     string `db:"agent"`
		Recording string `db:"recording_path"`
	}
	err := s.db.SelectContext(ctx, &rows, `SELECT c.call_id, COALESCE(c.ticket_id, 0) AS ticket_id,
		c.ended_at IS NOT NULL AS closed, c.end_reason, c.cause, c.ivr_choice, COALESCE(u.login, '') AS agent,
		c.recording_path FROM calls c LEFT JOIN users u ON u.id = c.agent_id WHERE c.caller = ? ORDER BY c.id`, caller)
	if err != nil {
		return nil, fmt.Errorf("read calls: %w", err)
	}
	out := make([]CallRow, len(rows))
	for i, r := range rows {
		out[i] = CallRow{CallID: r.CallID, Ticket: ivr.TicketID(r.Ticket), Closed: r.Closed, Reason: r.Reason, Cause: r.Cause,
			Choice: r.Choice, Agent: r.Agent, Recording: r.Recording}
	}
	return out, nil
}

func (s sqliteInspector) Ticket(ctx context.Context, id ivr.TicketID) (TicketRow, error) {
	var tk struct {
		ID         int64  `db:"id"`
		Caller     string `db:"caller"`
		Line       string `db:"line"`
		Status     string `db:"status"`
		MergedInto int64  `db:"merged_into"`
		Agent      string `db:"agent"`
	}
	err := s.db.GetContext(ctx, &tk, `SELECT t.id, t.caller, t.line, t.status, COALESCE(t.merged_into, 0) AS merged_into,
		COALESCE(u.login, '') AS agent FROM tickets t LEFT JOIN users u ON u.id = t.agent_id WHERE t.id = ?`, id)
	if err != nil {
		return TicketRow{}, fmt.Errorf("read ticket %d: %w", id, err)
	}
	row := TicketRow{ID: ivr.TicketID(tk.ID), Caller: tk.Caller, Line: tk.Line, Status: tk.Status,
		MergedInto: ivr.TicketID(tk.MergedInto), Agent: tk.Agent}
	var recs []struct {
		Path string `db:"recording_path"`
		MS   int64  `db:"recording_ms"`
	}
	if err := s.db.SelectContext(ctx, &recs, `SELECT recording_path, recording_ms FROM calls
		WHERE ticket_id = ? AND recording_path <> '' ORDER BY id`, id); err != nil {
		return TicketRow{}, err
	}
	for _, r := range recs {
		row.Recordings = append(row.Recordings, ivr.Recording{Kind: ivr.RecordingCall, Path: r.Path, Duration: time.Duration(r.MS) * time.Millisecond})
	}
	var events []struct {
		Kind string `db:"kind"`
		Unit string `db:"unit_id"`
		Note string `db:"note"`
	}
	if err := s.db.SelectContext(ctx, &events, `SELECT kind, COALESCE(unit_id, '') AS unit_id, note FROM ticket_events
		WHERE ticket_id = ? ORDER BY id`, id); err != nil {
		return TicketRow{}, err
	}
	for _, e := range events {
		switch {
		case e.Kind == string(ticket.ActTransfer):
			row.Transfers = append(row.Transfers, e.Unit)
		case e.Kind == ticket.EventTransferFailed:
			row.Transfers = append(row.Transfers, e.Unit+":"+e.Note)
		case e.Kind == ticket.EventRecording:
			for _, kind := range []string{ivr.RecordingMessage, ivr.RecordingConversation} {
				if rest, ok := strings.CutPrefix(e.Note, kind+" "); ok {
					path, _, _ := strings.Cut(rest, " (")
					row.Recordings = append(row.Recordings, ivr.Recording{Kind: kind, Path: path})
				}
			}
		}
	}
	if err := s.db.SelectContext(ctx, &row.Callbacks, `SELECT not_before FROM callbacks WHERE ticket_id = ? ORDER BY id`, id); err != nil {
		return TicketRow{}, err
	}
	return row, nil
}
