package callback

import "time"

// Calendar tells days off (weekends, public holidays, with the make-up
// working days 调休 counted as working days). The ledger's calendar
// implements it.
type Calendar interface {
	DayOff(day time.Time) bool
}

// CalendarFunc adapts a function to Calendar.
type CalendarFunc func(day time.Time) bool

// DayOff calls f.
func (f CalendarFunc) DayOff(day time.Time) bool { return f(day) }

// window answers when calls may be placed: inside the daily calling hours,
// and on days off only for callbacks whose deadline cannot wait.
type window struct {
	cfg *Config
	cal Calendar
}

// maxSearchDays bounds the search for the next opening (a long holiday
// plus weekends fits easily).
const maxSearchDays = 60

// inHours reports whether t is inside the daily calling hours.
func (w window) inHours(t time.Time) bool {
	t = t.In(w.cfg.loc)
	m := t.Hour()*60 + t.Minute()
	for _, s := range w.cfg.spans {
		if m >= s.from && m < s.to {
			return true
		}
	}
	return false
}

func (w window) dayOff(t time.Time) bool {
	return w.cal != nil && w.cal.DayOff(t.In(w.cfg.loc))
}

// nextInHours is the first moment at or after t inside the calling hours.
func (w window) nextInHours(t time.Time) time.Time {
	t = t.In(w.cfg.loc)
	for d := 0; d <= maxSearchDays; d++ {
		y, mo, day := t.Date()
		midnight := time.Date(y, mo, day+d, 0, 0, 0, 0, w.cfg.loc)
		for _, s := range w.cfg.spans {
			from := midnight.Add(time.Duration(s.from) * time.Minute)
			to := midnight.Add(time.Duration(s.to) * time.Minute)
			if !t.Before(to) {
				continue
			}
			if t.Before(from) {
				return from
			}
			return t
		}
	}
	return t.AddDate(0, 0, maxSearchDays) // no window at all; Init refuses that
}

// nextRegular is the first moment at or after t inside the calling hours
// of a working day.
func (w window) nextRegular(t time.Time) time.Time {
	t = w.nextInHours(t)
	for i := 0; i < maxSearchDays && w.dayOff(t); i++ {
		t = w.nextInHours(startOfNextDay(t.In(w.cfg.loc)))
	}
	return t
}

func startOfNextDay(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, t.Location())
}

// claimable tells whether the dialer may call at now, and if only some
// callbacks, which: on a day off only those due before the next regular
// opening (dueBefore is then set).
func (w window) claimable(now time.Time) (ok bool, dueBefore time.Time) {
	if !w.inHours(now) {
		return false, time.Time{}
	}
	if w.dayOff(now) {
		return true, w.nextRegular(now).Add(w.cfg.AgentMargin)
	}
	return true, time.Time{}
}

// earliest is when a callback due at due may next be called, not before t:
// the next regular opening, or an opening on a day off when waiting for a
// working day would leave less than the agent margin before the deadline.
func (w window) earliest(t, due time.Time) time.Time {
	regular := w.nextRegular(t)
	if regular.Add(w.cfg.AgentMargin).Before(due) {
		return regular
	}
	return w.nextInHours(t)
}
