// Package report builds the group's monthly complaint report
// (集团顾客投诉月报, 第六条) from the ledger's figures, renders it as HTML,
// CSV or XLSX, and freezes it once published: the published report is
// stored with the SHA-256 of its content, so that published numbers
// cannot drift when the ledger changes later.
package report

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"hotline/config/field"
	"hotline/ticket"
)

// Rules are the per-unit assessment rules (考核, 第十五条): every unit
// starts a month from Base points and loses the given points per event.
type Rules struct {
	Base            float64 `yaml:"base"`              // default 100
	PerComplaint    float64 `yaml:"per_complaint"`     // per complaint against the unit; default 1
	PerLateFeedback float64 `yaml:"per_late_feedback"` // per feedback later than its deadline; default 2
	PerDissatisfied float64 `yaml:"per_dissatisfied"`  // per dissatisfied callback; default 3
	PerReturned     float64 `yaml:"per_returned"`      // per ticket the unit returned (退单); default 0.5
	PerReopened     float64 `yaml:"per_reopened"`      // per reopened ticket (重办); default 2
}

// DefaultRules are the default assessment rules.
func DefaultRules() Rules {
	return Rules{Base: 100, PerComplaint: 1, PerLateFeedback: 2, PerDissatisfied: 3, PerReturned: 0.5, PerReopened: 2}
}

// Validate checks the rules; errors name the field at fault.
func (r Rules) Validate() error {
	var errs []*field.Error
	for _, f := range []struct {
		name string
		v    float64
	}{{"base", r.Base}, {"per_complaint", r.PerComplaint}, {"per_late_feedback", r.PerLateFeedback},
		{"per_dissatisfied", r.PerDissatisfied}, {"per_returned", r.PerReturned}, {"per_reopened", r.PerReopened}} {
		if f.v < 0 {
			errs = append(errs, field.Errorf(f.name, "points cannot be negative"))
		}
	}
	return field.Join(errs)
}

// Directory names lines and units in the report.
type Directory struct {
	Lines []ticket.Line
	Units []ticket.Unit
}

// Row is a label and a count.
type Row struct {
	Label string `json:"label"`
	Count int    `json:"count"`
}

// StageRow is the on-time record of one timed stage.
type StageRow struct {
	Stage   string `json:"stage"`
	Rule    string `json:"rule"`
	Due     int    `json:"due"`
	OnTime  int    `json:"on_time"`
	Late    int    `json:"late"`
	Pending int    `json:"pending"`
	Rate    string `json:"rate"` // on time / (on time + late)
}

// UnitScore is one unit's assessment.
type UnitScore struct {
	Unit         string  `json:"unit"`
	Tickets      int     `json:"tickets"`
	Complaints   int     `json:"complaints"`
	LateFeedback int     `json:"late_feedback"`
	Dissatisfied int     `json:"dissatisfied"`
	Returned     int     `json:"returned"`
	Reopened     int     `json:"reopened"`
	Points       float64 `json:"points"`
}

// LateRow is a late or dissatisfied ticket.
type LateRow struct {
	Number       string `json:"number"`
	Registered   string `json:"registered"`
	Kind         string `json:"kind"`
	Line         string `json:"line"`
	Unit         string `json:"unit"`
	Status       string `json:"status"`
	Satisfaction string `json:"satisfaction"`
	LateStages   string `json:"late_stages"`
}

// Report is the monthly report, ready to render. Its JSON form is what is
// frozen and hashed.
type Report struct {
	Month        string      `json:"month"`
	Title        string      `json:"title"`
	AsOf         string      `json:"as_of"`
	DueBy        string      `json:"due_by"`
	Contacts     int         `json:"contacts"`
	Tickets      int         `json:"tickets"`
	Repeats      int         `json:"repeats"`
	Reopened     int         `json:"reopened"`
	Closed       int         `json:"closed"`
	ByChannel    []Row       `json:"by_channel"`
	ByKind       []Row       `json:"by_kind"`
	ByLine       []Row       `json:"by_line"`
	ByUnit       []Row       `json:"by_unit"`
	Stages       []StageRow  `json:"stages"`
	CallbackDue  int         `json:"callback_due"`
	CallbackDone int         `json:"callback_done"`
	CallbackRate string      `json:"callback_rate"`
	Satisfaction []Row       `json:"satisfaction"`
	Assessment   []UnitScore `json:"assessment"`
	Late         []LateRow   `json:"late"`
	LateCount    int         `json:"late_count"`    // missed deadlines due in the month
	Dissatisfied int         `json:"dissatisfied"`  // tickets rated dissatisfied
	LateListed   bool        `json:"late_complete"` // the list holds every such ticket
}

var (
	channelNames = map[ticket.Channel]string{ticket.ChannelHotline: "96596热线", ticket.ChannelQRCode: "服务质量监督二维码"}
	kindNames    = map[ticket.Kind]string{ticket.KindComplaint: "投诉", ticket.KindQuestion: "问题", ticket.KindSuggestion: "建议", "": "未分类"}
	stageNames   = map[ticket.Stage]string{ticket.StageTransfer: "转交责任单位", ticket.StageSheet: "下发处理流程",
		ticket.StageFeedback: "责任单位反馈", ticket.StageCallback: "回访"}
	statusNames = map[ticket.Status]string{ticket.StatusRegistered: "已登记", ticket.StatusAnswered: "当场答复",
		ticket.StatusForwarded: "已转相关部门", ticket.StatusTransferred: "已转办", ticket.StatusReturned: "已退单",
		ticket.StatusReplied: "单位已反馈", ticket.StatusCalledBack: "已回访", ticket.StatusClosed: "已办结",
		ticket.StatusReopened: "重办", ticket.StatusMerged: "已并单"}
	satisfactionNames = map[ticket.Satisfaction]string{ticket.Satisfied: "满意", ticket.Basic: "基本满意",
		ticket.Dissatisfied: "不满意", "": "未评价"}
)

func rate(num, den int) string {
	if den == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(num)/float64(den))
}

func ruleText(r ticket.Rule) string {
	count := "工作"
	if r.Count == ticket.Calendar {
		count = "自然"
	}
	if r.Days > 0 {
		return fmt.Sprintf("%d个%s日", r.Days, count)
	}
	h := r.Within.Hours()
	if r.Count == ticket.Calendar {
		return fmt.Sprintf("%g小时", h)
	}
	return fmt.Sprintf("%g个工作小时", h)
}

// Build turns a month's figures into the report.
func Build(f ticket.MonthFigures, d ticket.Deadlines, dir Directory, rules Rules, loc *time.Location) Report {
	lineName := map[string]string{"": "未选择"}
	for _, l := range dir.Lines {
		lineName[l.ID] = l.Name
	}
	unitName := map[string]string{"": "未转办"}
	for _, u := range dir.Units {
		unitName[u.ID] = u.Name
	}
	name := func(m map[string]string, id string) string {
		if n, ok := m[id]; ok {
			return n
		}
		return id
	}
	month, _ := time.ParseInLocation("2006-01", f.Month, loc)
	r := Report{
		Month: f.Month,
		Title: fmt.Sprintf("%d年%d月集团顾客投诉月报", month.Year(), int(month.Month())),
		AsOf:  f.AsOf.In(loc).Format("2006-01-02 15:04"),
		DueBy: time.Date(month.Year(), month.Month()+1, d.ReportDay, 0, 0, 0, 0, loc).Format("2006-01-02"),
	}
	channels, kinds, lines, units := map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	sat := map[ticket.Satisfaction]int{}
	scores := map[string]*UnitScore{}
	score := func(unit string) *UnitScore {
		if s, ok := scores[unit]; ok {
			return s
		}
		s := &UnitScore{Unit: unit}
		scores[unit] = s
		return s
	}
	for _, u := range dir.Units {
		score(u.ID)
	}
	for _, g := range f.Groups {
		r.Contacts += g.Tickets + g.Repeats
		r.Tickets += g.Tickets
		r.Repeats += g.Repeats
		r.Reopened += g.Reopened
		r.Closed += g.Closed
		channels[channelNames[g.Channel]] += g.Tickets
		kinds[kindNames[g.Kind]] += g.Tickets
		lines[name(lineName, g.Line)] += g.Tickets
		units[name(unitName, g.UnitID)] += g.Tickets
		sat[ticket.Satisfied] += g.Satisfied
		sat[ticket.Basic] += g.Basic
		sat[ticket.Dissatisfied] += g.Dissatisfied
		if g.UnitID != "" {
			s := score(g.UnitID)
			s.Tickets += g.Tickets
			if g.Kind == ticket.KindComplaint {
				s.Complaints += g.Tickets
			}
			s.Dissatisfied += g.Dissatisfied
			s.Reopened += g.Reopened
		}
	}
	r.ByChannel = rows(channels, []string{"96596热线", "服务质量监督二维码"})
	r.ByKind = rows(kinds, []string{"投诉", "问题", "建议", "未分类"})
	var lineOrder []string
	for _, l := range dir.Lines {
		lineOrder = append(lineOrder, l.Name)
	}
	r.ByLine = rows(lines, append(lineOrder, "未选择"))
	var unitOrder []string
	for _, u := range dir.Units {
		unitOrder = append(unitOrder, u.Name)
	}
	r.ByUnit = rows(units, append(unitOrder, "未转办"))
	stages := map[ticket.Stage]*StageRow{}
	for _, st := range ticket.Stages {
		stages[st] = &StageRow{Stage: stageNames[st], Rule: ruleText(d.Rule(st))}
	}
	for _, sf := range f.Stages {
		row := stages[sf.Stage]
		if row == nil {
			continue
		}
		row.Due += sf.Due
		row.OnTime += sf.OnTime
		row.Late += sf.Late
		row.Pending += sf.Pending
		if sf.Stage == ticket.StageCallback {
			r.CallbackDue += sf.Due
			r.CallbackDone += sf.Done
		}
		if sf.Stage == ticket.StageFeedback && sf.UnitID != "" {
			score(sf.UnitID).LateFeedback += sf.Late
		}
	}
	for _, st := range ticket.Stages {
		row := stages[st]
		row.Rate = rate(row.OnTime, row.OnTime+row.Late)
		r.Stages = append(r.Stages, *row)
	}
	r.CallbackRate = rate(r.CallbackDone, r.CallbackDue)
	for _, s := range []ticket.Satisfaction{ticket.Satisfied, ticket.Basic, ticket.Dissatisfied} {
		r.Satisfaction = append(r.Satisfaction, Row{Label: satisfactionNames[s], Count: sat[s]})
	}
	for unit, n := range f.Returns {
		if unit != "" {
			score(unit).Returned += n
		}
	}
	// Units in directory order, then any others by id.
	order := map[string]int{}
	for i, u := range dir.Units {
		order[u.ID] = i
	}
	ids := make([]string, 0, len(scores))
	for id := range scores {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int {
		oa, ok := order[a]
		if !ok {
			oa = len(order)
		}
		ob, ok := order[b]
		if !ok {
			ob = len(order)
		}
		return cmp.Or(cmp.Compare(oa, ob), cmp.Compare(a, b))
	})
	for _, id := range ids {
		s := *scores[id]
		s.Points = rules.Base - rules.PerComplaint*float64(s.Complaints) - rules.PerLateFeedback*float64(s.LateFeedback) -
			rules.PerDissatisfied*float64(s.Dissatisfied) - rules.PerReturned*float64(s.Returned) - rules.PerReopened*float64(s.Reopened)
		s.Unit = name(unitName, id)
		r.Assessment = append(r.Assessment, s)
	}
	for _, l := range f.Late {
		r.Late = append(r.Late, LateRow{
			Number:       l.Number,
			Registered:   l.CreatedAt.In(loc).Format("2006-01-02 15:04"),
			Kind:         kindNames[l.Kind],
			Line:         name(lineName, l.Line),
			Unit:         name(unitName, l.UnitID),
			Status:       statusNames[l.Status],
			Satisfaction: satisfactionNames[l.Satisfaction],
			LateStages:   stageList(l.LateStages),
		})
	}
	r.LateCount, r.Dissatisfied = f.LateCount, f.DissatisfiedCount
	r.LateListed = len(f.Late) < ticket.MaxLateListed
	return r
}

func stageList(s string) string {
	if s == "" {
		return ""
	}
	var out []string
	for _, st := range ticket.Stages {
		if slices.Contains(splitComma(s), string(st)) {
			out = append(out, stageNames[st])
		}
	}
	var b bytes.Buffer
	for i, x := range out {
		if i > 0 {
			b.WriteString("、")
		}
		b.WriteString(x)
	}
	return b.String()
}

func splitComma(s string) []string {
	var out []string
	for len(s) > 0 {
		i := bytes.IndexByte([]byte(s), ',')
		if i < 0 {
			return append(out, s)
		}
		out = append(out, s[:i])
		s = s[i+1:]
	}
	return out
}

// rows lists counts in the given label order, then any other label.
func rows(m map[string]int, order []string) []Row {
	var out []Row
	seen := map[string]bool{}
	for _, l := range order {
		if seen[l] {
			continue
		}
		seen[l] = true
		out = append(out, Row{Label: l, Count: m[l]})
	}
	var rest []string
	for l := range m {
		if !seen[l] {
			rest = append(rest, l)
		}
	}
	slices.Sort(rest)
	for _, l := range rest {
		out = append(out, Row{Label: l, Count: m[l]})
	}
	return out
}

// Encode is the frozen form of a report and its SHA-256 (hex).
func Encode(r Report) ([]byte, string, error) {
	data, err := json.Marshal(r)
	if err != nil {
		return nil, "", fmt.Errorf("encode report: %w", err)
	}
	sum := sha256.Sum256(data)
	return data, hex.EncodeToString(sum[:]), nil
}

// ErrTampered: a frozen report's content does not match its hash.
var ErrTampered = errors.New("frozen report does not match its hash")

// Source is what the report reads from the ledger.
type Source interface {
	MonthFigures(ctx context.Context, month string) (ticket.MonthFigures, error)
	PublishedReport(ctx context.Context, month string) (ticket.Published, error)
	PublishReport(ctx context.Context, month string, data []byte, sha256 string, replace bool) error
}

// Frozen tells whether a report came from the frozen copy.
type Frozen struct {
	PublishedAt time.Time
	SHA256      string
}

// Get returns the month's report: the frozen one when the month is
// published and fresh is false, otherwise built from the ledger now.
func Get(ctx context.Context, src Source, month string, fresh bool, build func(ticket.MonthFigures) Report) (Report, *Frozen, error) {
	if !fresh {
		p, err := src.PublishedReport(ctx, month)
		switch {
		case err == nil:
			sum := sha256.Sum256(p.Data)
			if hex.EncodeToString(sum[:]) != p.SHA256 {
				return Report{}, nil, fmt.Errorf("report %s: %w", month, ErrTampered)
			}
			var r Report
			if err := json.Unmarshal(p.Data, &r); err != nil {
				return Report{}, nil, fmt.Errorf("report %s: %w", month, err)
			}
			return r, &Frozen{PublishedAt: p.PublishedAt, SHA256: p.SHA256}, nil
		case !errors.Is(err, ticket.ErrNotFound):
			return Report{}, nil, err
		}
	}
	f, err := src.MonthFigures(ctx, month)
	if err != nil {
		return Report{}, nil, err
	}
	return build(f), nil, nil
}

// Publish freezes the report of a month; a published month is refused
// (ticket.ErrPublished) unless replace is set. It returns the hash.
func Publish(ctx context.Context, src Source, r Report, replace bool) (string, error) {
	data, sum, err := Encode(r)
	if err != nil {
		return "", err
	}
	if err := src.PublishReport(ctx, r.Month, data, sum, replace); err != nil {
		return "", err
	}
	return sum, nil
}
