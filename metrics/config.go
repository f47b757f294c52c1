package metrics

import (
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode"
	"unicode/utf8"
)

// The label values the package adds to every configured set.
const (
	// NoLine labels a call that ended before the caller picked a business
	// line (in the welcome or the menu), and after-hours calls that skip the
	// menu.
	NoLine = "none"
	// NoUnit labels a ticket not yet given to a responsible unit (waiting
	// for its transfer).
	NoUnit = "none"
	// Other collects every value outside the configured set, so that a
	// wrong or hostile argument never creates a new series.
	Other = "other"
)

// DefaultStages are the ticket stages the regulation times (第七条, 第九条):
// transfer to the unit within 1 working hour, the handling-flow sheet within
// 2 hours, the unit's feedback within 2 days, the callback within 3 days.
var DefaultStages = []string{"transfer", "sheet", "feedback", "callback"}

// DefaultSteps are the steps of the call flows that can fail, for
// FlowError.
var DefaultSteps = []string{"answer", "ticket", "record", "menu", "queue", "bridge",
	"transfer", "voicemail", "callback", "survey"}

// DefaultServiceLevel is the answer time that counts for the service level:
// answered by an agent within 15 seconds, the 12345 hotline KPI.
const DefaultServiceLevel = 15 * time.Second

// Config gives the closed label sets, so that every series exists (at zero)
// from the start and nothing outside them becomes a label.
type Config struct {
	// Lines are the business lines as the IVR names them, e.g. the menu keys
	// "1".."5" and "0" (agent). Required.
	Lines []string
	// Units are the responsible units of the directory (责任单位), the
	// customer service centre included. Required.
	Units []string
	// LineNames and UnitNames give display names (e.g. "1": 客运,
	// "fangchan": 房产部), exported as hotline_line_info and
	// hotline_unit_info so that alerts and dashboards can show a name
	// while the series keep the short, stable id. Optional; every key
	// must be in Lines or Units.
	LineNames map[string]string
	UnitNames map[string]string
	// Stages are the timed ticket stages; DefaultStages when empty.
	Stages []string
	// Steps are the flow steps for FlowError; DefaultSteps when empty.
	Steps []string
	// Backends are the connections this process keeps and reports with
	// BackendUp, e.g. "sip" or "ari", and "ledger". Only these get a
	// hotline_backend_up series: a backend not run is not reported down.
	Backends []string
	// ServiceLevel is the answer time that counts as answered in time;
	// DefaultServiceLevel when zero.
	ServiceLevel time.Duration
}

// ErrBadLabel is returned by New for a label value that cannot be used.
var ErrBadLabel = errors.New("bad label value")

// withDefaults fills the defaults and checks every set.
func (c Config) withDefaults() (Config, error) {
	if len(c.Stages) == 0 {
		c.Stages = DefaultStages
	}
	if len(c.Steps) == 0 {
		c.Steps = DefaultSteps
	}
	if c.ServiceLevel == 0 {
		c.ServiceLevel = DefaultServiceLevel
	}
	if c.ServiceLevel < 0 {
		return c, fmt.Errorf("service level %v: must be positive", c.ServiceLevel)
	}
	sets := []struct {
		name     string
		values   []string
		required bool
	}{
		{"line", c.Lines, true},
		{"unit", c.Units, true},
		{"stage", c.Stages, true},
		{"step", c.Steps, true},
		{"backend", c.Backends, false},
	}
	for _, s := range sets {
		if s.required && len(s.values) == 0 {
			return c, fmt.Errorf("%s set: %w: empty", s.name, ErrBadLabel)
		}
		for i, v := range s.values {
			if err := checkLabelValue(v); err != nil {
				return c, fmt.Errorf("%s %q: %w", s.name, v, err)
			}
			if slices.Contains(s.values[:i], v) {
				return c, fmt.Errorf("%s %q: %w: listed twice", s.name, v, ErrBadLabel)
			}
		}
	}
	for _, n := range []struct {
		name  string
		names map[string]string
		set   []string
	}{{"line", c.LineNames, c.Lines}, {"unit", c.UnitNames, c.Units}} {
		for id, name := range n.names {
			if !slices.Contains(n.set, id) {
				return c, fmt.Errorf("name of %s %q: %w: no such %s", n.name, id, ErrBadLabel, n.name)
			}
			if err := checkLabelValue(name); err != nil {
				return c, fmt.Errorf("name of %s %q: %w", n.name, id, err)
			}
		}
	}
	return c, nil
}

// maxLabelLen bounds a label value: names of lines and units, not text.
const maxLabelLen = 64

// checkLabelValue refuses a value that is empty, reserved, too long, not
// UTF-8, or that could be a phone or ticket number (a run of 5 digits or
// more: 96596, 13800138000, 96596-20261129-0001).
func checkLabelValue(v string) error {
	switch {
	case v == "":
		return fmt.Errorf("%w: empty", ErrBadLabel)
	case v == NoLine || v == NoUnit || v == Other:
		return fmt.Errorf("%w: reserved", ErrBadLabel)
	case len(v) > maxLabelLen:
		return fmt.Errorf("%w: longer than %d bytes", ErrBadLabel, maxLabelLen)
	case !utf8.ValidString(v):
		return fmt.Errorf("%w: not UTF-8", ErrBadLabel)
	case hasDigitRun(v, 5):
		return fmt.Errorf("%w: looks like a phone or ticket number", ErrBadLabel)
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: control character", ErrBadLabel)
		}
	}
	return nil
}

// hasDigitRun tells whether s holds n or more ASCII digits in a row.
func hasDigitRun(s string, n int) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			run++
			if run >= n {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}
