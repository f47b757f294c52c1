package ticket

import (
	"fmt"
	"time"

	"hotline/config/field"
	"hotline/ticket/calendar"
)

// Stage is a step of the workflow that the regulation times.
type Stage string

// The timed stages.
const (
	// StageTransfer: transfer to the responsible unit within 1 working hour
	// of registration (第七条).
	StageTransfer Stage = "transfer"
	// StageSheet: the handling-flow sheet (处理流程) is issued within 2 hours
	// of registration, for complaints (第七条).
	StageSheet Stage = "sheet"
	// StageFeedback: the unit feeds back within 2 days of the transfer
	// (第七条, 第八条).
	StageFeedback Stage = "feedback"
	// StageCallback: the centre calls the caller back within 3 days of the
	// unit's reply (第九条).
	StageCallback Stage = "callback"
)

// Stages lists the timed stages in workflow order.
var Stages = []Stage{StageTransfer, StageSheet, StageFeedback, StageCallback}

// Count says how a rule counts time.
type Count string

// How a rule counts.
const (
	Working  Count = "working"  // only office time (hours) or working days count
	Calendar Count = "calendar" // every hour and every day counts
)

// Rule is the deadline of one stage: either Within (a duration) or Days,
// counted in working or calendar time.
type Rule struct {
	// Within is a duration such as 1h or 2h.
	Within time.Duration `yaml:"within,omitempty"`
	// Days is a number of days (the regulation's 2日, 3日).
	Days int `yaml:"days,omitempty"`
	// Count is "working" or "calendar".
	Count Count `yaml:"count"`
}

// Due is the deadline of a stage that started at t.
func (r Rule) Due(cal *calendar.Calendar, t time.Time) time.Time {
	switch {
	case r.Days > 0 && r.Count == Working:
		return cal.AddWorkingDays(t, r.Days)
	case r.Days > 0:
		l := t.In(cal.Location())
		return l.AddDate(0, 0, r.Days)
	case r.Count == Working:
		return cal.AddWorkingTime(t, r.Within)
	default:
		return t.Add(r.Within)
	}
}

func (r Rule) String() string {
	if r.Days > 0 {
		return fmt.Sprintf("%d %s days", r.Days, r.Count)
	}
	return fmt.Sprintf("%s of %s time", r.Within, r.Count)
}

func (r Rule) validate(path string) []*field.Error {
	var errs []*field.Error
	switch {
	case r.Within < 0 || r.Days < 0:
		errs = append(errs, field.Errorf(path, "a deadline cannot be negative"))
	case r.Within > 0 && r.Days > 0:
		errs = append(errs, field.Errorf(path, "give either within or days, not both"))
	case r.Within == 0 && r.Days == 0:
		errs = append(errs, field.Errorf(path, "give within (e.g. 1h) or days (e.g. 2)"))
	}
	if r.Count != Working && r.Count != Calendar {
		errs = append(errs, field.Errorf(field.Key(path, "count"), "%q is neither working nor calendar", r.Count))
	}
	return errs
}

// Deadlines is the deadlines section of the configuration: one rule per
// timed stage, and the day of the month by which the monthly report is
// due.
type Deadlines struct {
	Transfer  Rule `yaml:"transfer"`
	Sheet     Rule `yaml:"sheet"`
	Feedback  Rule `yaml:"feedback"`
	Callback  Rule `yaml:"callback"`
	ReportDay int  `yaml:"report_day"`
}

// DefaultDeadlines are the regulation's: transfer within 1 working hour
// and the handling sheet within 2 working hours of registration (第七条,
// "工作时间1小时内", read as office time for both); unit feedback within 2
// working days of the transfer and the callback within 3 working days of
// the unit's reply (第七条, 第九条; the regulation says 日, counted here as
// working days — set count: calendar to count every day); the monthly
// report by the 5th of the next month (第六条).
func DefaultDeadlines() Deadlines {
	return Deadlines{
		Transfer:  Rule{Within: time.Hour, Count: Working},
		Sheet:     Rule{Within: 2 * time.Hour, Count: Working},
		Feedback:  Rule{Days: 2, Count: Working},
		Callback:  Rule{Days: 3, Count: Working},
		ReportDay: 5,
	}
}

// Rule is the rule of stage s.
func (d Deadlines) Rule(s Stage) Rule {
	switch s {
	case StageTransfer:
		return d.Transfer
	case StageSheet:
		return d.Sheet
	case StageFeedback:
		return d.Feedback
	default:
		return d.Callback
	}
}

// Validate checks the section; errors name the field at fault.
func (d Deadlines) Validate() error {
	var errs []*field.Error
	errs = append(errs, d.Transfer.validate("transfer")...)
	errs = append(errs, d.Sheet.validate("sheet")...)
	errs = append(errs, d.Feedback.validate("feedback")...)
	errs = append(errs, d.Callback.validate("callback")...)
	if d.ReportDay < 1 || d.ReportDay > 28 {
		errs = append(errs, field.Errorf("report_day", "%d is not a day 1..28 of the month", d.ReportDay))
	}
	return field.Join(errs)
}
