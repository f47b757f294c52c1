package report

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"html/template"
	"io"
	"strconv"

	"github.com/xuri/excelize/v2"
)

// Formats lists the formats Render knows.
var Formats = []string{"html", "csv", "xlsx"}

// Render writes the report in format html, csv or xlsx.
func Render(w io.Writer, r Report, format string) error {
	switch format {
	case "html":
		return renderHTML(w, r)
	case "csv":
		return renderCSV(w, r)
	case "xlsx":
		return renderXLSX(w, r)
	}
	return fmt.Errorf("report format %q: want html, csv or xlsx", format)
}

const pageText = `<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #999; padding: 0.3em 0.8em; text-align: left; }
td.n { text-align: right; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p>统计截至 {{.AsOf}}；报送期限 {{.DueBy}}。</p>

<h2>一、受理概况</h2>
<table>
<tr><th>来电来访（含并单）</th><td class="n">{{.Contacts}}</td></tr>
<tr><th>登记工单</th><td class="n">{{.Tickets}}</td></tr>
<tr><th>重复来电并单</th><td class="n">{{.Repeats}}</td></tr>
<tr><th>重办工单</th><td class="n">{{.Reopened}}</td></tr>
<tr><th>已办结</th><td class="n">{{.Closed}}</td></tr>
</table>

<h2>二、分类统计</h2>
{{template "rows" (rowsOf "按渠道" .ByChannel)}}
{{template "rows" (rowsOf "按类别" .ByKind)}}
{{template "rows" (rowsOf "按业务板块" .ByLine)}}
{{template "rows" (rowsOf "按责任单位" .ByUnit)}}

<h2>三、各环节按时率</h2>
<table>
<tr><th>环节</th><th>时限</th><th>到期</th><th>按时</th><th>超时</th><th>未到期</th><th>按时率</th></tr>
{{range .Stages}}<tr><td>{{.Stage}}</td><td>{{.Rule}}</td><td class="n">{{.Due}}</td><td class="n">{{.OnTime}}</td><td class="n">{{.Late}}</td><td class="n">{{.Pending}}</td><td class="n">{{.Rate}}</td></tr>
{{end}}</table>

<h2>四、回访及满意度</h2>
<table>
<tr><th>应回访</th><td class="n">{{.CallbackDue}}</td></tr>
<tr><th>已回访</th><td class="n">{{.CallbackDone}}</td></tr>
<tr><th>回访完成率</th><td class="n">{{.CallbackRate}}</td></tr>
{{range .Satisfaction}}<tr><th>{{.Label}}</th><td class="n">{{.Count}}</td></tr>
{{end}}</table>

<h2>五、责任单位考核</h2>
<table>
<tr><th>单位</th><th>工单</th><th>投诉</th><th>反馈超时</th><th>不满意</th><th>退单</th><th>重办</th><th>得分</th></tr>
{{range .Assessment}}<tr><td>{{.Unit}}</td><td class="n">{{.Tickets}}</td><td class="n">{{.Complaints}}</td><td class="n">{{.LateFeedback}}</td><td class="n">{{.Dissatisfied}}</td><td class="n">{{.Returned}}</td><td class="n">{{.Reopened}}</td><td class="n">{{printf "%.1f" .Points}}</td></tr>
{{end}}</table>

<h2>六、超时及不满意工单（超时环节 {{.LateCount}} 个，不满意 {{.Dissatisfied}} 件{{if not .LateListed}}，列出前 {{len .Late}} 件{{end}}）</h2>
<table>
<tr><th>工单号</th><th>登记时间</th><th>类别</th><th>业务板块</th><th>责任单位</th><th>状态</th><th>满意度</th><th>超时环节</th></tr>
{{range .Late}}<tr><td>{{.Number}}</td><td>{{.Registered}}</td><td>{{.Kind}}</td><td>{{.Line}}</td><td>{{.Unit}}</td><td>{{.Status}}</td><td>{{.Satisfaction}}</td><td>{{.LateStages}}</td></tr>
{{end}}</table>
</body>
</html>
{{define "rows"}}<h3>{{.Title}}</h3>
<table>
{{range .Rows}}<tr><th>{{.Label}}</th><td class="n">{{.Count}}</td></tr>
{{end}}</table>
{{end}}`

type titledRows struct {
	Title string
	Rows  []Row
}

func renderHTML(w io.Writer, r Report) error {
	if err := page.Execute(w, r); err != nil {
		return fmt.Errorf("render html: %w", err)
	}
	return nil
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"rowsOf": func(title string, rows []Row) titledRows { return titledRows{title, rows} },
}).Parse(pageText))

func renderCSV(w io.Writer, r Report) error {
	var buf bytes.Buffer
	buf.WriteString("\ufeff") // so that spreadsheet programs read UTF-8
	c := csv.NewWriter(&buf)
	rec := func(fields ...string) { c.Write(fields) }
	itoa := strconv.Itoa
	rec(r.Title)
	rec("统计截至", r.AsOf, "报送期限", r.DueBy)
	rec()
	rec("受理概况")
	rec("来电来访（含并单）", itoa(r.Contacts))
	rec("登记工单", itoa(r.Tickets))
	rec("重复来电并单", itoa(r.Repeats))
	rec("重办工单", itoa(r.Reopened))
	rec("已办结", itoa(r.Closed))
	for _, sec := range []titledRows{{"按渠道", r.ByChannel}, {"按类别", r.ByKind}, {"按业务板块", r.ByLine}, {"按责任单位", r.ByUnit}} {
		rec()
		rec(sec.Title)
		for _, row := range sec.Rows {
			rec(row.Label, itoa(row.Count))
		}
	}
	rec()
	rec("各环节按时率")
	rec("环节", "时限", "到期", "按时", "超时", "未到期", "按时率")
	for _, s := range r.Stages {
		rec(s.Stage, s.Rule, itoa(s.Due), itoa(s.OnTime), itoa(s.Late), itoa(s.Pending), s.Rate)
	}
	rec()
	rec("回访及满意度")
	rec("应回访", itoa(r.CallbackDue))
	rec("已回访", itoa(r.CallbackDone))
	rec("回访完成率", r.CallbackRate)
	for _, row := range r.Satisfaction {
		rec(row.Label, itoa(row.Count))
	}
	rec()
	rec("责任单位考核")
	rec("单位", "工单", "投诉", "反馈超时", "不满意", "退单", "重办", "得分")
	for _, s := range r.Assessment {
		rec(s.Unit, itoa(s.Tickets), itoa(s.Complaints), itoa(s.LateFeedback), itoa(s.Dissatisfied), itoa(s.Returned),
			itoa(s.Reopened), strconv.FormatFloat(s.Points, 'f', 1, 64))
	}
	rec()
	rec("超时及不满意工单", "超时环节", itoa(r.LateCount), "不满意", itoa(r.Dissatisfied))
	rec("工单号", "登记时间", "类别", "业务板块", "责任单位", "状态", "满意度", "超时环节")
	for _, l := range r.Late {
		rec(l.Number, l.Registered, l.Kind, l.Line, l.Unit, l.Status, l.Satisfaction, l.LateStages)
	}
	c.Flush()
	if err := c.Error(); err != nil {
		return fmt.Errorf("render csv: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func renderXLSX(w io.Writer, r Report) error {
	f := excelize.NewFile()
	defer f.Close()
	sheet := func(name string, rows [][]any) error {
		if _, err := f.NewSheet(name); err != nil {
			return err
		}
		for i, row := range rows {
			cell, err := excelize.CoordinatesToCellName(1, i+1)
			if err != nil {
				return err
			}
			if err := f.SetSheetRow(name, cell, &row); err != nil {
				return err
			}
		}
		return nil
	}
	summary := [][]any{{r.Title}, {"统计截至", r.AsOf, "报送期限", r.DueBy}, {},
		{"来电来访（含并单）", r.Contacts}, {"登记工单", r.Tickets}, {"重复来电并单", r.Repeats},
		{"重办工单", r.Reopened}, {"已办结", r.Closed}}
	for _, sec := range []titledRows{{"按渠道", r.ByChannel}, {"按类别", r.ByKind}, {"按业务板块", r.ByLine}, {"按责任单位", r.ByUnit}} {
		summary = append(summary, []any{}, []any{sec.Title})
		for _, row := range sec.Rows {
			summary = append(summary, []any{row.Label, row.Count})
		}
	}
	summary = append(summary, []any{}, []any{"环节", "时限", "到期", "按时", "超时", "未到期", "按时率"})
	for _, s := range r.Stages {
		summary = append(summary, []any{s.Stage, s.Rule, s.Due, s.OnTime, s.Late, s.Pending, s.Rate})
	}
	summary = append(summary, []any{}, []any{"应回访", r.CallbackDue}, []any{"已回访", r.CallbackDone}, []any{"回访完成率", r.CallbackRate})
	for _, row := range r.Satisfaction {
		summary = append(summary, []any{row.Label, row.Count})
	}
	assess := [][]any{{"单位", "工单", "投诉", "反馈超时", "不满意", "退单", "重办", "得分"}}
	for _, s := range r.Assessment {
		assess = append(assess, []any{s.Unit, s.Tickets, s.Complaints, s.LateFeedback, s.Dissatisfied, s.Returned, s.Reopened, s.Points})
	}
	late := [][]any{{"超时环节", r.LateCount, "不满意", r.Dissatisfied}, {"工单号", "登记时间", "类别", "业务板块", "责任单位", "状态", "满意度", "超时环节"}}
	for _, l := range r.Late {
		late = append(late, []any{l.Number, l.Registered, l.Kind, l.Line, l.Unit, l.Status, l.Satisfaction, l.LateStages})
	}
	for _, s := range []struct {
		name string
		rows [][]any
	}{{"概况", summary}, {"责任单位考核", assess}, {"超时及不满意工单", late}} {
		if err := sheet(s.name, s.rows); err != nil {
			return fmt.Errorf("render xlsx: %w", err)
		}
	}
	if err := f.DeleteSheet("Sheet1"); err != nil {
		return fmt.Errorf("render xlsx: %w", err)
	}
	f.SetActiveSheet(0)
	if _, err := f.WriteTo(w); err != nil {
		return fmt.Errorf("render xlsx: %w", err)
	}
	return nil
}
