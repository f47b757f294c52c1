package ticketledger

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"html/template"
	"slices"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"hotline/console"
	"hotline/ticket"
)

// The monthly report here is the console's own listing of the month's
// tickets, until the ledger publishes its 月报 (the monthly_reports
// table); the assessment is likewise a provisional count per unit.

var reportHeader = []string{"工单号", "受理时间", "渠道", "业务线", "分类", "状态", "责任单位", "满意度", "超时", "内容"}

var (
	channelNames = map[string]string{"hotline": "热线", "qrcode": "二维码"}
	kindNames    = map[string]string{"complaint": "投诉", "question": "问题", "suggestion": "建议", "": "未分类"}
	satNames     = map[string]string{"satisfied": "满意", "basic": "基本满意", "dissatisfied": "不满意"}
)

var shanghai = time.FixedZone("CST", 8*3600)

func (l *Ledger) monthRows(ctx context.Context, month time.Time) ([]ticket.Listed, error) {
	rows, err := l.store.Search(ctx, ticket.SearchFilter{Since: month, Until: month.AddDate(0, 1, 0), Limit: 1 << 20})
	if err != nil {
		return nil, fmt.Errorf("tickets of %s: %w", month.Format("2006-01"), err)
	}
	slices.Reverse(rows) // oldest first
	return rows, nil
}

func reportRecord(t ticket.Listed) []string {
	late := ""
	if t.Overdue {
		late = "是"
	}
	return []string{t.Number, t.CreatedAt.In(shanghai).Format("2006-01-02 15:04"), channelNames[string(t.Channel)], t.Line,
		kindNames[string(t.Kind)], string(t.Status), t.UnitID, satNames[string(t.Satisfaction)], late, t.Content}
}

var reportHTML = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>96596 月报 {{.Month}}</title>
<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #999;padding:.2em .4em}</style></head>
<body><h1>96596 客服中心月报 {{.Month}}</h1><p>工单 {{len .Rows}} 件</p>
<table><thead><tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr></thead><tbody>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>{{end}}
</tbody></table></body></html>`))

// MonthlyReport implements console.Supervision.
func (l *Ledger) MonthlyReport(ctx context.Context, month time.Time, format string) (console.Report, error) {
	rows, err := l.monthRows(ctx, month)
	if err != nil {
		return console.Report{}, err
	}
	records := make([][]string, 0, len(rows))
	for _, r := range rows {
		records = append(records, reportRecord(r))
	}
	name := "96596-monthly-" + month.Format("2006-01")
	var buf bytes.Buffer
	switch format {
	case "csv":
		buf.WriteString("\uFEFF") // so that Excel reads the CSV as UTF-8
		w := csv.NewWriter(&buf)
		_ = w.Write(reportHeader)
		_ = w.WriteAll(records)
		if err := w.Error(); err != nil {
			return console.Report{}, fmt.Errorf("write csv: %w", err)
		}
		return console.Report{Name: name + ".csv", ContentType: "text/csv; charset=utf-8", Body: buf.Bytes()}, nil
	case "xlsx":
		f := excelize.NewFile()
		defer f.Close()
		sheet := "月报"
		if err := f.SetSheetName("Sheet1", sheet); err != nil {
			return console.Report{}, fmt.Errorf("xlsx: %w", err)
		}
		for i, rec := range append([][]string{reportHeader}, records...) {
			row := make([]any, len(rec))
			for j, v := range rec {
				row[j] = v
			}
			cell, _ := excelize.CoordinatesToCellName(1, i+1)
			if err := f.SetSheetRow(sheet, cell, &row); err != nil {
				return console.Report{}, fmt.Errorf("xlsx row %d: %w", i+1, err)
			}
		}
		if err := f.Write(&buf); err != nil {
			return console.Report{}, fmt.Errorf("write xlsx: %w", err)
		}
		return console.Report{Name: name + ".xlsx", ContentType: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", Body: buf.Bytes()}, nil
	case "html":
		err := reportHTML.Execute(&buf, struct {
			Month  string
			Header []string
			Rows   [][]string
		}{month.Format("2006-01"), reportHeader, records})
		if err != nil {
			return console.Report{}, fmt.Errorf("render report: %w", err)
		}
		return console.Report{Name: name + ".html", ContentType: "text/html; charset=utf-8", Body: buf.Bytes()}, nil
	}
	return console.Report{}, fmt.Errorf("report format %q: %w", format, console.ErrInvalid)
}

// Assessment implements console.Supervision: per unit, the month's
// tickets, those with a missed deadline, those still open, and the
// satisfaction; the score starts at 100 and loses 5 per late ticket and
// 10 per dissatisfied caller (a provisional rule until the 考核 rules of
// 第十五条 are configured).
func (l *Ledger) Assessment(ctx context.Context, month time.Time) ([]console.UnitScore, error) {
	rows, err := l.monthRows(ctx, month)
	if err != nil {
		return nil, err
	}
	by := map[string]*console.UnitScore{}
	for _, t := range rows {
		if t.UnitID == "" {
			continue
		}
		s := by[t.UnitID]
		if s == nil {
			s = &console.UnitScore{Unit: t.UnitID}
			by[t.UnitID] = s
		}
		s.Tickets++
		if t.Overdue {
			s.RepliedLate++
		}
		switch t.Status {
		case ticket.StatusTransferred, ticket.StatusForwarded, ticket.StatusReturned, ticket.StatusReopened:
			s.Open++
		}
		switch t.Satisfaction {
		case ticket.Satisfied, ticket.Basic:
			s.Satisfied++
		case ticket.Dissatisfied:
			s.Dissatisfied++
		}
	}
	out := make([]console.UnitScore, 0, len(by))
	for _, s := range by {
		s.Score = max(0, 100-5*float64(s.RepliedLate)-10*float64(s.Dissatisfied))
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b console.UnitScore) int { return strings.Compare(a.Unit, b.Unit) })
	return out, nil
}
