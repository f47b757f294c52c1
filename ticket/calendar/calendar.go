// Package calendar is the working calendar of the customer service centre:
// office hours (possibly split into a morning and an afternoon), weekend
// days, public holidays and make-up working days (调休). Deadlines that the
// regulation gives in working hours or working days are computed here.
//
// All answers are given for instants; days and hours are read in the
// calendar's time zone (Asia/Shanghai by default).
package calendar

import (
	"fmt"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // the service must know Asia/Shanghai on hosts without zoneinfo

	"hotline/config/field"
)

// Config is the calendar section of the configuration file.
type Config struct {
	// TimeZone is an IANA zone name; default Asia/Shanghai.
	TimeZone string `yaml:"time_zone"`
	// OfficeHours are the daily opening spans, "HH:MM-HH:MM", in order and
	// not overlapping; default 08:30-12:00 and 13:30-17:30.
	OfficeHours []string `yaml:"office_hours"`
	// Weekend lists the days closed every week (English names, lower case);
	// default saturday and sunday.
	Weekend []string `yaml:"weekend"`
	// Holidays are dates (YYYY-MM-DD) the centre is closed although they
	// fall on a working weekday.
	Holidays []string `yaml:"holidays"`
	// Workdays are make-up working days (调休, YYYY-MM-DD): open although
	// they fall on a weekend day.
	Workdays []string `yaml:"workdays"`
	// HolidayFile names a YAML file with more holidays and workdays (the
	// dates published each year), relative to the configuration file. Its
	// keys are holidays and workdays, as here. The loader merges it.
	HolidayFile string `yaml:"holiday_file"`
}

// DefaultConfig is the calendar without holidays: weekdays 08:30-12:00 and
// 13:30-17:30, Asia/Shanghai. Holiday dates are published every year and
// are configuration, never code.
func DefaultConfig() Config {
	return Config{
		TimeZone:    "Asia/Shanghai",
		OfficeHours: []string{"08:30-12:00", "13:30-17:30"},
		Weekend:     []string{"saturday", "sunday"},
	}
}

// span is one opening span of a day, in minutes after midnight.
type span struct{ from, to int }

// Calendar answers when the centre is open. It is immutable and safe for
// concurrent use.
type Calendar struct {
	loc      *time.Location
	spans    []span
	weekend  [7]bool
	holidays map[string]bool
	workdays map[string]bool
}

const dateLayout = "2006-01-02"

var weekdays = map[string]time.Weekday{
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday,
	"wednesday": time.Wednesday, "thursday": time.Thursday, "friday": time.Friday,
	"saturday": time.Saturday,
}

// Validate checks the section; errors name the field at fault.
func (c Config) Validate() error {
	_, err := New(c)
	return err
}

// New builds a calendar from its configuration.
func New(c Config) (*Calendar, error) {
	var errs []*field.Error
	cal := &Calendar{holidays: map[string]bool{}, workdays: map[string]bool{}}
	loc, err := time.LoadLocation(c.TimeZone)
	if c.TimeZone == "" || err != nil {
		errs = append(errs, field.Errorf("time_zone", "unknown time zone %q", c.TimeZone))
		loc = time.UTC
	}
	cal.loc = loc
	if len(c.OfficeHours) == 0 {
		errs = append(errs, field.Errorf("office_hours", "at least one opening span is needed"))
	}
	for i, s := range c.OfficeHours {
		sp, err := parseSpan(s)
		if err != nil {
			errs = append(errs, field.Errorf(field.Index("office_hours", i), "%v", err))
			continue
		}
		if n := len(cal.spans); n > 0 && sp.from < cal.spans[n-1].to {
			errs = append(errs, field.Errorf(field.Index("office_hours", i), "%q starts before the previous span ends; list spans in order without overlap", s))
			continue
		}
		cal.spans = append(cal.spans, sp)
	}
	for i, d := range c.Weekend {
		wd, ok := weekdays[strings.ToLower(strings.TrimSpace(d))]
		if !ok {
			errs = append(errs, field.Errorf(field.Index("weekend", i), "%q is not a day of the week (monday ... sunday)", d))
			continue
		}
		cal.weekend[wd] = true
	}
	if !slices.Contains(cal.weekend[:], false) {
		errs = append(errs, field.Errorf("weekend", "every day of the week is a weekend day"))
	}
	for i, d := range c.Holidays {
		day, err := time.ParseInLocation(dateLayout, d, loc)
		if err != nil {
			errs = append(errs, field.Errorf(field.Index("holidays", i), "%q is not a date YYYY-MM-DD", d))
			continue
		}
		cal.holidays[day.Format(dateLayout)] = true
	}
	for i, d := range c.Workdays {
		day, err := time.ParseInLocation(dateLayout, d, loc)
		if err != nil {
			errs = append(errs, field.Errorf(field.Index("workdays", i), "%q is not a date YYYY-MM-DD", d))
			continue
		}
		key := day.Format(dateLayout)
		if cal.holidays[key] {
			errs = append(errs, field.Errorf(field.Index("workdays", i), "%s is listed both as a holiday and as a make-up working day", key))
		}
		cal.workdays[key] = true
	}
	if err := field.Join(errs); err != nil {
		return nil, err
	}
	return cal, nil
}

func parseSpan(s string) (span, error) {
	from, to, ok := strings.Cut(strings.ReplaceAll(s, " ", ""), "-")
	if !ok {
		return span{}, fmt.Errorf("%q is not a span HH:MM-HH:MM", s)
	}
	f, err1 := parseClock(from)
	t, err2 := parseClock(to)
	if err1 != nil || err2 != nil {
		return span{}, fmt.Errorf("%q is not a span HH:MM-HH:MM", s)
	}
	if t <= f {
		return span{}, fmt.Errorf("%q ends before it starts", s)
	}
	return span{f, t}, nil
}

func parseClock(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		if s == "24:00" {
			return 24 * 60, nil
		}
		return 0, err
	}
	return t.Hour()*60 + t.Minute(), nil
}

// Location is the calendar's time zone.
func (c *Calendar) Location() *time.Location { return c.loc }

// IsWorkday tells whether the local day containing t is a working day: a
// make-up working day, or a day that is neither a weekend day nor a holiday.
func (c *Calendar) IsWorkday(t time.Time) bool {
	key := t.In(c.loc).Format(dateLayout)
	if c.workdays[key] {
		return true
	}
	if c.holidays[key] {
		return false
	}
	return !c.weekend[t.In(c.loc).Weekday()]
}

// IsOpen tells whether the centre is open at t. Spans include their start
// and exclude their end: open at 08:30, closed at 12:00.
func (c *Calendar) IsOpen(t time.Time) bool {
	_, ok := c.spanAt(t)
	return ok
}

// spanAt returns the end of the opening span containing t.
func (c *Calendar) spanAt(t time.Time) (time.Time, bool) {
	if !c.IsWorkday(t) {
		return time.Time{}, false
	}
	for _, s := range c.spans {
		from, to := c.at(t, s.from), c.at(t, s.to)
		if !t.Before(from) && t.Before(to) {
			return to, true
		}
	}
	return time.Time{}, false
}

// at is the instant minutes after local midnight of the day containing t.
func (c *Calendar) at(t time.Time, minutes int) time.Time {
	l := t.In(c.loc)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, minutes, 0, 0, c.loc)
}

// maxScanDays bounds every search for an opening: a calendar whose next
// opening is more than a year away is a configuration mistake, and a loop
// must not spin on it.
const maxScanDays = 400

// NextOpen is t when the centre is open at t, otherwise the start of the
// next opening span.
func (c *Calendar) NextOpen(t time.Time) time.Time {
	if c.IsOpen(t) {
		return t
	}
	day := t
	for range maxScanDays {
		if c.IsWorkday(day) {
			for _, s := range c.spans {
				if from := c.at(day, s.from); !from.Before(t) {
					return from
				}
			}
		}
		l := day.In(c.loc)
		day = time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, c.loc)
	}
	return t // unreachable with a validated calendar
}

// AddWorkingTime is the instant at which d of office time has passed after
// t. Time outside office hours does not count: one working hour after
// 11:30 is 14:00 with a lunch break from 12:00 to 13:30, and one working
// hour after 17:00 on a Friday is 09:00 on Monday. A deadline that falls on
// the end of a span stays there (17:30, not the next morning).
func (c *Calendar) AddWorkingTime(t time.Time, d time.Duration) time.Time {
	t = c.NextOpen(t)
	for range maxScanDays * 4 {
		end, ok := c.spanAt(t)
		if !ok {
			t = c.NextOpen(t)
			continue
		}
		if left := end.Sub(t); d <= left {
			return t.Add(d)
		} else {
			d -= left
		}
		t = c.NextOpen(end)
	}
	return t
}

// AddWorkingDays is the same local time of day n working days after t, the
// count starting from the next opening when t is outside office hours: two
// working days after Friday 10:00 is Tuesday 10:00; after Friday 19:00 it
// is Wednesday 08:30.
func (c *Calendar) AddWorkingDays(t time.Time, n int) time.Time {
	t = c.NextOpen(t).In(c.loc)
	day := t
	for n > 0 {
		day = time.Date(day.Year(), day.Month(), day.Day()+1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), c.loc)
		if c.IsWorkday(day) {
			n--
		}
	}
	return day
}
