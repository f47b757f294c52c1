package scenario

import (
	"context"
	"fmt"
	"testing"
	"time"

	"hotline/ivr"
	"hotline/ivr/ivrtest"
)

// FakeLedger is the in-memory ledger of ivrtest with an office-hours
// calendar (Monday to Friday, 08:30-17:30 Shanghai), for running the table
// before or without the SQLite ledger.
func FakeLedger(t *testing.T, now func() time.Time, agents []ivr.Agent, units []ivr.Unit) Ledger {
	l := ivrtest.NewLedger()
	return Ledger{Ledger: l, Calendar: officeHours{}, Inspector: fakeInspector{l}}
}

type officeHours struct{}

func (officeHours) IsOpen(t time.Time) bool {
	t = t.In(Shanghai)
	if t.Weekday() == time.Saturday || t.Weekday() == time.Sunday {
		return false
	}
	m := t.Hour()*60 + t.Minute()
	return m >= 8*60+30 && m < 17*60+30
}

func (o officeHours) NextOpen(t time.Time) time.Time {
	if o.IsOpen(t) {
		return t
	}
	t = t.In(Shanghai)
	d := time.Date(t.Year(), t.Month(), t.Day(), 8, 30, 0, 0, Shanghai)
	if !d.After(t) {
		d = d.AddDate(0, 0, 1)
	}
	for !o.IsOpen(d) {
		d = d.AddDate(0, 0, 1)
	}
	return d
}

type fakeInspector struct{ l *ivrtest.Ledger }

func (f fakeInspector) CallsFrom(ctx context.Context, caller string) ([]CallRow, error) {
	var out []CallRow
	f.l.Read(func(v ivrtest.View) {
		for _, c := range v.CallRecords() {
			if c.Open.Caller != caller {
				continue
			}
			row := CallRow{CallID: c.Open.CallID, Ticket: c.Ticket}
			if c.Closed != nil {
				row.Closed, row.Reason, row.Cause = true, string(c.Closed.Reason), c.Closed.Cause
				row.Choice, row.Agent, row.Recording = c.Closed.Choice, c.Closed.Agent, c.Closed.Recording
			}
			out = append(out, row)
		}
	})
	return out, nil
}

func (f fakeInspector) Ticket(ctx context.Context, id ivr.TicketID) (TicketRow, error) {
	var row TicketRow
	var err error
	f.l.Read(func(v ivrtest.View) {
		tk, ok := v.Ticket(id)
		if !ok {
			err = fmt.Errorf("ticket %d not found", id)
			return
		}
		row = TicketRow{ID: tk.ID, Caller: tk.Caller, Line: tk.Line, Status: tk.Status, Agent: v.Assigned(id), Recordings: v.Recordings(id)}
		for _, tr := range v.Transfers() {
			if tr.Ticket != id {
				continue
			}
			s := tr.Unit
			if tr.Reason != "" {
				s += ":" + string(tr.Reason)
			}
			row.Transfers = append(row.Transfers, s)
		}
		for _, cb := range v.Callbacks() {
			if cb.Ticket == id {
				row.Callbacks = append(row.Callbacks, cb.Due)
			}
		}
	})
	return row, err
}
