package ticketledger

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"hotline/console"
	"hotline/ticket"
	"hotline/ticket/report"
)

// Reports is how the monthly report (月报) and the assessment (考核) are
// built: the names of lines and units and the assessment rules of the
// configuration.
type Reports struct {
	Directory report.Directory
	Rules     report.Rules // zero: report.DefaultRules()
}

func (l *Ledger) report(ctx context.Context, month time.Time) (report.Report, error) {
	rules := l.reports.Rules
	if rules == (report.Rules{}) {
		rules = report.DefaultRules()
	}
	loc := l.store.Calendar().Location()
	name := month.In(loc).Format("2006-01")
	if _, _, err := l.store.MonthBounds(name); err != nil {
		return report.Report{}, fmt.Errorf("month %s: %w: %w", name, console.ErrInvalid, err)
	}
	build := func(f ticket.MonthFigures) report.Report {
		return report.Build(f, l.store.Deadlines(), l.reports.Directory, rules, loc)
	}
	// The published (frozen) report when there is one, else today's figures.
	r, _, err := report.Get(ctx, l.store, name, false, build)
	if err != nil {
		return report.Report{}, fmt.Errorf("report of %s: %w", name, err)
	}
	return r, nil
}

var contentTypes = map[string]string{
	"html": "text/html; charset=utf-8",
	"csv":  "text/csv; charset=utf-8",
	"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

// MonthlyReport implements console.Supervision with the ledger's report.
func (l *Ledger) MonthlyReport(ctx context.Context, month time.Time, format string) (console.Report, error) {
	ct, ok := contentTypes[format]
	if !ok {
		return console.Report{}, fmt.Errorf("report format %q: %w", format, console.ErrInvalid)
	}
	r, err := l.report(ctx, month)
	if err != nil {
		return console.Report{}, err
	}
	var buf bytes.Buffer
	if err := report.Render(&buf, r, format); err != nil {
		return console.Report{}, err
	}
	return console.Report{Name: "96596-report-" + r.Month + "." + format, ContentType: ct, Body: buf.Bytes()}, nil
}

// Assessment implements console.Supervision with the report's per-unit
// assessment.
func (l *Ledger) Assessment(ctx context.Context, month time.Time) ([]console.UnitScore, error) {
	r, err := l.report(ctx, month)
	if err != nil {
		return nil, err
	}
	out := make([]console.UnitScore, 0, len(r.Assessment))
	for _, s := range r.Assessment {
		out = append(out, console.UnitScore{Unit: s.Unit, Tickets: s.Tickets, Complaints: s.Complaints, LateFeedback: s.LateFeedback,
			Dissatisfied: s.Dissatisfied, Returned: s.Returned, Reopened: s.Reopened, Points: s.Points})
	}
	return out, nil
}
