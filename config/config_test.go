package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hotline/config"
)

func TestDefaultIsValid(t *testing.T) {
	c := config.Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if got, want := c.Ledger.Path, "var/hotline.db"; got != want {
		t.Errorf("ledger path = %q, want %q", got, want)
	}
}

func TestExampleLoads(t *testing.T) {
	c, err := config.Load("hotline.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(c.Units), 6; got != want {
		t.Errorf("units = %d, want %d", got, want)
	}
	if got, want := c.Deadlines.Transfer.Within, time.Hour; got != want {
		t.Errorf("transfer within = %s, want %s", got, want)
	}
	// The holiday file's dates are merged after the inline ones.
	if got, want := strings.Join(c.Calendar.Holidays, ","), "2026-12-31,2026-10-01,2026-10-02,2026-10-05"; got != want {
		t.Errorf("holidays = %s, want %s", got, want)
	}
	if l, ok := c.LineByKey("2"); !ok || l.ID != "freight" {
		t.Errorf("line of key 2 = %+v, %v", l, ok)
	}
}

func TestEmptyFileIsDefaults(t *testing.T) {
	c, err := config.Parse("empty.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.HTTP.Listen, "127.0.0.1:8080"; got != want {
		t.Errorf("listen = %q, want %q", got, want)
	}
}

func TestBadConfiguration(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"syntax", "ledger:\n  path: [unclosed\n", "hotline.yaml:2: "},
		{"unknown field", "ledger:\n  path: x.db\n  paht: y.db\n", "hotline.yaml:3: "},
		{"unknown section", "http:\n  listen: 127.0.0.1:1\nsipp: {}\n", "hotline.yaml:3: "},
		{"type", "repeat:\n  window: soon\n", "hotline.yaml:2: "},
		{"unit phone", `units:
  - {id: a, name: A, phone: "8001"}
  - {id: b, name: B, phone: "8002"}
  - {id: c, name: C, phone: "8003"}
  - id: d
    name: D
    phone: "not a number"
`, "hotline.yaml:7: units[3].phone: \"not a number\" is not a phone number, SIP URI or Asterisk endpoint"},
		{"unit line", "units:\n  - {id: a, name: A, line: trains, phone: \"8001\"}\n", "hotline.yaml:2: units[0].line: no line \"trains\" in lines"},
		{"duplicate unit", "units:\n  - {id: a, name: A, phone: \"8001\"}\n  - {id: a, name: B, phone: \"8002\"}\n", "hotline.yaml:3: units[1].id: unit a is listed twice"},
		{"office hours", "calendar:\n  office_hours:\n    - 08:30-12:00\n    - 11:00-17:30\n", "hotline.yaml:4: calendar.office_hours[1]: "},
		{"time zone", "calendar:\n  time_zone: Mars/Olympus\n", "hotline.yaml:2: calendar.time_zone: unknown time zone"},
		{"holiday", "calendar:\n  holidays: [2026-13-01]\n", "hotline.yaml:2: calendar.holidays[0]: \"2026-13-01\" is not a date"},
		{"deadline both", "deadlines:\n  feedback: {within: 2h, days: 2, count: working}\n", "hotline.yaml:2: deadlines.feedback: give either within or days"},
		{"deadline count", "deadlines:\n  callback:\n    days: 3\n    count: weekly\n", "hotline.yaml:4: deadlines.callback.count: \"weekly\" is neither"},
		{"line key", "lines:\n  - {key: \"12\", id: x, name: X}\n", "hotline.yaml:2: lines[0].key: \"12\" is not one keypad key"},
		{"listen", "http:\n  listen: nowhere\n", "hotline.yaml:2: http.listen: "},
		{"negative points", "report:\n  per_dissatisfied: -3\n", "hotline.yaml:2: report.per_dissatisfied: points cannot be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse("hotline.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("accepted, want refused with %q", tc.want)
			}
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T %v, want *config.Error", err, err)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error = %q, want it to start with %q", err, tc.want)
			}
		})
	}
}

func TestBadHolidayFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("days.yaml", "holidays:\n  - 2026-10-01\n  - 2026-10-32\n")
	cfg := write("hotline.yaml", "calendar:\n  holiday_file: days.yaml\n")
	_, err := config.Load(cfg)
	if want := filepath.Join(dir, "days.yaml") + ":3: holidays[1]: "; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error = %v, want it to start with %q", err, want)
	}
}

// FuzzParse: any file is either accepted or refused with a *config.Error;
// the loader never panics.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile("hotline.example.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(example))
	f.Add("units:\n  - {id: a, name: A, phone: \"8001\"}\n")
	f.Add("calendar: {office_hours: [\"08:30-12:00\"]}\n")
	f.Add("deadlines:\n  transfer: {within: 1h, count: working}\n")
	f.Fuzz(func(t *testing.T, text string) {
		if strings.Contains(text, "holiday_file") {
			return // reads another file
		}
		_, err := config.Parse("fuzz.yaml", []byte(text))
		var ce *config.Error
		if err != nil && !errors.As(err, &ce) {
			t.Errorf("error %T %v, want *config.Error", err, err)
		}
	})
}
