package callback

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"hotline/config/field"
)

// Config is the `callbacks:` section of the configuration file.
type Config struct {
	// Windows are the daily calling hours in TimeZone, "HH:MM-HH:MM" each;
	// default 09:00-12:00 and 14:00-20:00.
	Windows []string `yaml:"windows"`
	// TimeZone of the windows; default Asia/Shanghai.
	TimeZone string `yaml:"time_zone"`
	// MaxConcurrent is the most outbound callback calls at once; default 10.
	MaxConcurrent int `yaml:"max_concurrent"`
	// MaxPerSecond is the most new calls started per second; default 2.
	MaxPerSecond float64 `yaml:"max_per_second"`
	// CallerID presented to the called party; default 96596.
	CallerID string `yaml:"caller_id"`
	// DialTo turns a number into the engine's address: "{number}" is
	// replaced, e.g. "sip:{number}@trunk.example:5060" or "PJSIP/{number}@trunk".
	// Default "sip:{number}@127.0.0.1:5070": the lab phone where the
	// default units ring too (hotline dial --answer --listen 127.0.0.1:5070),
	// never the service's own 96596 address. A site points it at its trunk.
	DialTo string `yaml:"dial_to"`
	// RingTimeout gives up a call not answered within it; default 40s.
	RingTimeout time.Duration `yaml:"ring_timeout"`
	// RetryAfter is, per outcome, how long to wait before the next attempt.
	// An outcome absent from the map is not retried (default: busy 30m,
	// noanswer 2h, timeout 1h, error 30m, interrupted 30m, rejected 4h;
	// unreachable, noinput and hungup never). Given, it replaces the default.
	RetryAfter map[Outcome]time.Duration `yaml:"retry_after"`
	// MaxAttempts bounds the attempts per callback; default 3.
	MaxAttempts int `yaml:"max_attempts"`
	// AgentMargin: a callback that cannot succeed this long before its
	// deadline is given up and marked for an agent, so that the agent still
	// has time; default 4h.
	AgentMargin time.Duration `yaml:"agent_margin"`
	// Lease is how long a claimed attempt stays ours without renewal; it is
	// renewed every third of it while the call runs. Default 2m.
	Lease time.Duration `yaml:"lease"`
	// Poll is how often the ledger is asked for due callbacks when nothing
	// else wakes the dialer; default 5s.
	Poll time.Duration `yaml:"poll"`
	// Survey timeouts.
	Survey SurveyConfig `yaml:"survey"`
	// DoNotCall lists numbers never to call.
	DoNotCall []string `yaml:"do_not_call"`

	loc   *time.Location
	spans []span
	dnc   map[string]bool
}

// SurveyConfig bounds the survey's keypad input.
type SurveyConfig struct {
	// FirstDigit is how long to wait for a key after the question; default 8s.
	FirstDigit time.Duration `yaml:"first_digit"`
	// Attempts is how often the question is asked: default 2 (one repeat).
	Attempts int `yaml:"attempts"`
}

// span is a calling window within a day, in minutes since midnight.
type span struct{ from, to int }

// DefaultRetryAfter is used when the configuration gives no retry rules.
func DefaultRetryAfter() map[Outcome]time.Duration {
	return map[Outcome]time.Duration{
		OutcomeBusy:        30 * time.Minute,
		OutcomeNoAnswer:    2 * time.Hour,
		OutcomeTimeout:     time.Hour,
		OutcomeRejected:    4 * time.Hour,
		OutcomeError:       30 * time.Minute,
		OutcomeInterrupted: 30 * time.Minute,
	}
}

// Init fills defaults and refuses contradictions. It must be called once
// before the Config is used.
func (c *Config) Init() error {
	if len(c.Windows) == 0 {
		c.Windows = []string{"09:00-12:00", "14:00-20:00"}
	}
	if c.TimeZone == "" {
		c.TimeZone = "Asia/Shanghai"
	}
	if c.MaxConcurrent == 0 {
		c.MaxConcurrent = 10
	}
	if c.MaxPerSecond == 0 {
		c.MaxPerSecond = 2
	}
	if c.CallerID == "" {
		c.CallerID = "96596"
	}
	if c.DialTo == "" {
		c.DialTo = "sip:{number}@127.0.0.1:5070"
	}
	if c.RingTimeout == 0 {
		c.RingTimeout = 40 * time.Second
	}
	if c.RetryAfter == nil {
		c.RetryAfter = DefaultRetryAfter()
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 3
	}
	if c.AgentMargin == 0 {
		c.AgentMargin = 4 * time.Hour
	}
	if c.Lease == 0 {
		c.Lease = 2 * time.Minute
	}
	if c.Poll == 0 {
		c.Poll = 5 * time.Second
	}
	if c.Survey.FirstDigit == 0 {
		c.Survey.FirstDigit = 8 * time.Second
	}
	if c.Survey.Attempts == 0 {
		c.Survey.Attempts = 2
	}

	var errs []error // *field.Error each, for the configuration loader
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		errs = append(errs, field.Errorf("time_zone", "%v", err))
	}
	c.loc = loc
	c.spans = c.spans[:0]
	for i, w := range c.Windows {
		s, err := parseSpan(w)
		if err != nil {
			errs = append(errs, field.Errorf(field.Index("windows", i), "%v", err))
			continue
		}
		c.spans = append(c.spans, s)
	}
	if c.MaxConcurrent < 0 {
		errs = append(errs, field.Errorf("max_concurrent", "must be positive"))
	}
	if c.MaxPerSecond < 0 {
		errs = append(errs, field.Errorf("max_per_second", "must be positive"))
	}
	if !strings.Contains(c.DialTo, "{number}") {
		errs = append(errs, field.Errorf("dial_to", "must contain {number}"))
	}
	if c.MaxAttempts < 1 {
		errs = append(errs, field.Errorf("max_attempts", "must be at least 1"))
	}
	if c.Lease < time.Second {
		errs = append(errs, field.Errorf("lease", "must be at least 1s"))
	}
	if c.Lease <= c.RingTimeout/2 {
		// The first renewal comes after a third of the lease; a lease much
		// shorter than a ring would only churn the ledger.
		errs = append(errs, field.Errorf("lease", "%v is too short for ring_timeout %v", c.Lease, c.RingTimeout))
	}
	if c.Survey.Attempts < 1 {
		errs = append(errs, field.Errorf("survey.attempts", "must be at least 1"))
	}
	if c.Survey.FirstDigit < 0 {
		errs = append(errs, field.Errorf("survey.first_digit", "must be positive"))
	}
	for o, d := range c.RetryAfter {
		if !o.valid() {
			errs = append(errs, field.Errorf(field.Key("retry_after", string(o)), "unknown outcome %q", o))
		}
		if d <= 0 {
			errs = append(errs, field.Errorf(field.Key("retry_after", string(o)), "must be positive (leave it out for never)"))
		}
	}
	c.dnc = make(map[string]bool, len(c.DoNotCall))
	for _, n := range c.DoNotCall {
		c.dnc[normalNumber(n)] = true
	}
	return errors.Join(errs...)
}

func (o Outcome) valid() bool {
	for _, k := range Outcomes {
		if o == k {
			return true
		}
	}
	return false
}

// parseSpan reads "HH:MM-HH:MM".
func parseSpan(s string) (span, error) {
	from, to, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return span{}, fmt.Errorf("%q: want HH:MM-HH:MM", s)
	}
	f, err1 := parseClock(from)
	t, err2 := parseClock(to)
	if err := errors.Join(err1, err2); err != nil {
		return span{}, fmt.Errorf("%q: %w", s, err)
	}
	if f >= t {
		return span{}, fmt.Errorf("%q: ends before it starts", s)
	}
	return span{f, t}, nil
}

func parseClock(s string) (int, error) {
	var h, m int
	if n, err := fmt.Sscanf(strings.TrimSpace(s), "%d:%d", &h, &m); err != nil || n != 2 {
		return 0, fmt.Errorf("bad time %q", s)
	}
	if h < 0 || h > 24 || m < 0 || m > 59 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("bad time %q", s)
	}
	return h*60 + m, nil
}

// normalNumber strips what people write around a number, so that the
// do-not-call list matches "+86 138-1234-5678" and "13812345678" alike.
func normalNumber(n string) string {
	var b strings.Builder
	for _, r := range n {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	s := b.String()
	if len(s) == 13 && strings.HasPrefix(s, "86") {
		s = s[2:]
	}
	return s
}

// DoNotCall reports whether number is on the do-not-call list.
func (c *Config) doNotCall(number string) bool { return c.dnc[normalNumber(number)] }

// dialAddress is the engine address for number.
func (c *Config) dialAddress(number string) string {
	return strings.ReplaceAll(c.DialTo, "{number}", number)
}
