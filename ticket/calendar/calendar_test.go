package calendar_test

import (
	"testing"
	"time"

	"hotline/ticket/calendar"
)

var shanghai, _ = time.LoadLocation("Asia/Shanghai")

func at(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, shanghai)
}

// fixture: made-up dates, not official ones. 2026-10-01 (Thu), 10-02 (Fri),
// 10-05..07 (Mon..Wed) and 2027-01-01 (Fri) closed; Saturday 2026-10-10 a
// make-up working day.
func fixture(t *testing.T) *calendar.Calendar {
	t.Helper()
	cfg := calendar.DefaultConfig()
	cfg.Holidays = []string{"2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06", "2026-10-07", "2027-01-01"}
	cfg.Workdays = []string{"2026-10-10"}
	c, err := calendar.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const layout = "2006-01-02 15:04 Mon"

func TestIsOpen(t *testing.T) {
	c := fixture(t)
	for _, tc := range []struct {
		name string
		t    time.Time
		want bool
	}{
		{"morning", at(2026, 11, 30, 9, 0), true},
		{"opening instant", at(2026, 11, 30, 8, 30), true},
		{"before opening", at(2026, 11, 30, 8, 29), false},
		{"lunch starts", at(2026, 11, 30, 12, 0), false},
		{"lunch", at(2026, 11, 30, 13, 0), false},
		{"afternoon", at(2026, 11, 30, 13, 30), true},
		{"closing instant", at(2026, 11, 30, 17, 30), false},
		{"night", at(2026, 11, 30, 23, 0), false},
		{"saturday", at(2026, 11, 28, 10, 0), false},
		{"holiday", at(2026, 10, 1, 10, 0), false},
		{"make-up saturday", at(2026, 10, 10, 10, 0), true},
		{"new year", at(2027, 1, 1, 10, 0), false},
		{"UTC instant in office hours", time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.IsOpen(tc.t); got != tc.want {
				t.Errorf("IsOpen(%s) = %v, want %v", tc.t.Format(layout), got, tc.want)
			}
		})
	}
}

func TestNextOpen(t *testing.T) {
	c := fixture(t)
	for _, tc := range []struct {
		name string
		from time.Time
		want time.Time
	}{
		{"open now", at(2026, 11, 30, 9, 0), at(2026, 11, 30, 9, 0)},
		{"lunch", at(2026, 11, 30, 12, 15), at(2026, 11, 30, 13, 30)},
		{"night", at(2026, 11, 30, 19, 0), at(2026, 12, 1, 8, 30)},
		{"friday evening", at(2026, 12, 4, 18, 0), at(2026, 12, 7, 8, 30)},
		{"holiday week", at(2026, 9, 30, 18, 0), at(2026, 10, 8, 8, 30)},
		{"make-up saturday", at(2026, 10, 9, 18, 0), at(2026, 10, 10, 8, 30)},
		{"year end", at(2026, 12, 31, 17, 45), at(2027, 1, 4, 8, 30)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.NextOpen(tc.from); !got.Equal(tc.want) {
				t.Errorf("NextOpen(%s) = %s, want %s", tc.from.Format(layout), got.In(shanghai).Format(layout), tc.want.Format(layout))
			}
		})
	}
}

func TestAddWorkingTime(t *testing.T) {
	c := fixture(t)
	for _, tc := range []struct {
		name string
		from time.Time
		d    time.Duration
		want time.Time
	}{
		{"within the morning", at(2026, 11, 30, 9, 0), time.Hour, at(2026, 11, 30, 10, 0)},
		{"across lunch", at(2026, 11, 30, 11, 30), time.Hour, at(2026, 11, 30, 14, 0)},
		{"registered at lunch", at(2026, 11, 30, 12, 30), time.Hour, at(2026, 11, 30, 14, 30)},
		{"ends at closing", at(2026, 11, 30, 16, 30), time.Hour, at(2026, 11, 30, 17, 30)},
		{"across the night", at(2026, 11, 30, 17, 0), time.Hour, at(2026, 12, 1, 9, 0)},
		{"registered at night", at(2026, 11, 30, 22, 0), time.Hour, at(2026, 12, 1, 9, 30)},
		{"across the weekend", at(2026, 12, 4, 17, 0), 2 * time.Hour, at(2026, 12, 7, 10, 0)},
		{"registered on sunday", at(2026, 12, 6, 10, 0), time.Hour, at(2026, 12, 7, 9, 30)},
		{"across the holiday", at(2026, 9, 30, 17, 0), time.Hour, at(2026, 10, 8, 9, 0)},
		{"onto the make-up saturday", at(2026, 10, 9, 17, 15), time.Hour, at(2026, 10, 10, 9, 15)},
		{"across year end", at(2026, 12, 31, 17, 0), time.Hour, at(2027, 1, 4, 9, 0)},
		{"a whole working day", at(2026, 11, 30, 8, 30), 7*time.Hour + 30*time.Minute, at(2026, 11, 30, 17, 30)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.AddWorkingTime(tc.from, tc.d); !got.Equal(tc.want) {
				t.Errorf("AddWorkingTime(%s, %s) = %s, want %s", tc.from.Format(layout), tc.d, got.In(shanghai).Format(layout), tc.want.Format(layout))
			}
		})
	}
}

func TestAddWorkingDays(t *testing.T) {
	c := fixture(t)
	for _, tc := range []struct {
		name string
		from time.Time
		n    int
		want time.Time
	}{
		{"midweek", at(2026, 12, 1, 10, 0), 2, at(2026, 12, 3, 10, 0)},
		{"over the weekend", at(2026, 12, 4, 10, 0), 2, at(2026, 12, 8, 10, 0)},
		{"after hours starts next morning", at(2026, 12, 4, 19, 0), 2, at(2026, 12, 9, 8, 30)},
		{"at lunch starts in the afternoon", at(2026, 12, 1, 12, 10), 1, at(2026, 12, 2, 13, 30)},
		{"over the holiday and the make-up saturday", at(2026, 9, 30, 10, 0), 3, at(2026, 10, 10, 10, 0)},
		{"over year end", at(2026, 12, 30, 15, 0), 3, at(2027, 1, 5, 15, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.AddWorkingDays(tc.from, tc.n); !got.Equal(tc.want) {
				t.Errorf("AddWorkingDays(%s, %d) = %s, want %s", tc.from.Format(layout), tc.n, got.In(shanghai).Format(layout), tc.want.Format(layout))
			}
		})
	}
}

func TestBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*calendar.Config)
		want string
	}{
		{"no hours", func(c *calendar.Config) { c.OfficeHours = nil }, "office_hours: at least one opening span is needed"},
		{"reversed span", func(c *calendar.Config) { c.OfficeHours = []string{"12:00-08:30"} }, `office_hours[0]: "12:00-08:30" ends before it starts`},
		{"overlap", func(c *calendar.Config) { c.OfficeHours = []string{"08:00-12:00", "11:00-13:00"} }, `office_hours[1]: "11:00-13:00" starts before the previous span ends; list spans in order without overlap`},
		{"bad day", func(c *calendar.Config) { c.Weekend = []string{"caturday"} }, `weekend[0]: "caturday" is not a day of the week (monday ... sunday)`},
		{"all weekend", func(c *calendar.Config) {
			c.Weekend = []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
		}, "weekend: every day of the week is a weekend day"},
		{"both", func(c *calendar.Config) { c.Holidays, c.Workdays = []string{"2026-10-10"}, []string{"2026-10-10"} },
			"workdays[0]: 2026-10-10 is listed both as a holiday and as a make-up working day"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := calendar.DefaultConfig()
			tc.mod(&cfg)
			_, err := calendar.New(cfg)
			if err == nil || err.Error() != tc.want {
				t.Errorf("error = %v, want %s", err, tc.want)
			}
		})
	}
}
