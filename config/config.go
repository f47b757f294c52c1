// Package config is the one configuration file of the service (YAML).
// Everything that is not a secret lives in it; secrets come from the
// environment only (see Secret).
//
// Each section is typed by the package that uses it, with that package's
// own defaults and validation. To add a section:
//
//  1. give your package a Config struct with yaml tags, a
//     DefaultConfig() Config, and a Validate() error method that returns
//     *field.Error values (hotline/config/field) naming the field at fault
//     relative to the section;
//  2. add one field to Config below (`yaml:"yoursection"`), set it in
//     Default() from your DefaultConfig(), and add it to sections().
//
// Load reads the file over the defaults, refuses unknown fields, and
// reports every bad value as "file:line: section.field: message".
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"hotline/config/field"
	"hotline/ivr"
	"hotline/ivr/callback"
	"hotline/telephony/ari"
	"hotline/telephony/sip"
	"hotline/ticket"
	"hotline/ticket/calendar"
	"hotline/ticket/report"
)

// EnvFile is the environment variable that names the configuration file
// when no -config flag is given.
const EnvFile = "HOTLINE_CONFIG"

// Config is the whole configuration.
type Config struct {
	Ledger    Ledger           `yaml:"ledger"`
	HTTP      HTTP             `yaml:"http"`
	Calendar  calendar.Config  `yaml:"calendar"`
	Deadlines ticket.Deadlines `yaml:"deadlines"`
	Lines     []ticket.Line    `yaml:"lines"`
	Units     []ticket.Unit    `yaml:"units"`
	Repeat    Repeat           `yaml:"repeat"`
	Report    report.Rules     `yaml:"report"`
	// ARI runs the calls through Asterisk (telephony/ari); with no url
	// the embedded SIP engine runs them.
	ARI ari.Config `yaml:"ari"`
	// SIP is the embedded SIP engine (telephony/sip), used when ari.url is
	// empty; relative directories are relative to this file.
	SIP sip.Config `yaml:"sip"`
	// IVR is the call flows (ivr): menu timeouts, queue, transfers and the
	// agents who may log in.
	IVR ivr.Config `yaml:"ivr"`
	// Callbacks is the callback dialer (ivr/callback): surveys and return
	// calls; zero values take the dialer's defaults.
	Callbacks callback.Config `yaml:"callbacks"`

	// File is where the configuration was read from ("" for the
	// defaults); relative paths in it are relative to its directory.
	File string `yaml:"-"`
	file *ast.File
}

// Ledger is where the complaint ledger lives.
type Ledger struct {
	// Path of the SQLite file; default var/hotline.db.
	Path string `yaml:"path"`
}

// HTTP is the web side (console, metrics).
type HTTP struct {
	// Listen is the address to serve on; default 127.0.0.1:8080.
	Listen string `yaml:"listen"`
}

// Repeat is 并单: a contact from the same number about the same line while
// an earlier ticket of that number is open joins that ticket when the
// earlier one was registered within Window.
type Repeat struct {
	// Window; default 72h. 0 disables merging.
	Window time.Duration `yaml:"window"`
}

// Default is the configuration the service runs on without a file: the
// business lines of DESIGN §2, one unit per line (example numbers), no
// holidays.
func Default() *Config {
	return &Config{
		Ledger:    Ledger{Path: "var/hotline.db"},
		HTTP:      HTTP{Listen: "127.0.0.1:8080"},
		Calendar:  calendar.DefaultConfig(),
		Deadlines: ticket.DefaultDeadlines(),
		Lines: []ticket.Line{
			{Key: "1", ID: "passenger", Name: "客运", Department: "客运营销部"},
			{Key: "2", ID: "freight", Name: "货运物流", Department: "物流部"},
			{Key: "3", ID: "property", Name: "房产物业", Department: "房产部"},
			{Key: "4", ID: "diversified", Name: "多种经营", Department: "安全统筹中心"},
			{Key: "5", ID: "automotive", Name: "汽车服务", Department: "汽车事业部"},
			{Key: "0", ID: "agent", Name: "人工服务", Department: "客服中心"},
		},
		Units: []ticket.Unit{
			{ID: "passenger", Name: "客运营销部", Department: "客运营销部", Line: "passenger", Phone: "sip:passenger@127.0.0.1:5070"},
			{ID: "freight", Name: "物流部", Department: "物流部", Line: "freight", Phone: "sip:freight@127.0.0.1:5070"},
			{ID: "property", Name: "房产部", Department: "房产部", Line: "property", Phone: "sip:property@127.0.0.1:5070"},
			{ID: "diversified", Name: "安全统筹中心", Department: "安全统筹中心", Line: "diversified", Phone: "sip:diversified@127.0.0.1:5070"},
			{ID: "automotive", Name: "汽车事业部", Department: "汽车事业部", Line: "automotive", Phone: "sip:automotive@127.0.0.1:5070"},
		},
		Repeat: Repeat{Window: ticket.DefaultRepeatWindow},
		Report: report.DefaultRules(),
		// What serve ran on before the sip: section existed.
		SIP: sip.Config{UDP: "127.0.0.1:5060", TCP: "127.0.0.1:5060", PromptDir: "prompts/wav", RecordingDir: "var/recordings"},
	}
}

// validator is a section that checks itself.
type validator interface{ Validate() error }

// initSection validates a section whose package checks it with Init
// (which also fills the defaults): Init runs on a copy.
type initSection func() error

func (s initSection) Validate() error { return s() }

// sections names every section that validates itself.
func (c *Config) sections() []struct {
	name string
	v    validator
} {
	return []struct {
		name string
		v    validator
	}{
		{"calendar", c.Calendar},
		{"deadlines", c.Deadlines},
		{"report", c.Report},
		{"sip", initSection(func() error { s := c.SIP; return s.Validate() })},
		{"ivr", initSection(func() error { i := c.IVR; return i.Init() })},
		{"callbacks", initSection(func() error { cb := c.Callbacks; return cb.Init() })},
	}
}

// Path resolves a path written in the configuration: relative paths are
// relative to the configuration file's directory (to the working directory
// for the defaults).
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) || c.File == "" {
		return p
	}
	return filepath.Join(filepath.Dir(c.File), p)
}

// Error is a refused configuration: every problem, each with its place.
type Error struct {
	File     string
	Problems []Problem
}

// Problem is one bad value.
type Problem struct {
	Line  int    // 0 when the field is not written in the file
	Field string // "units[3].phone"; "" for a syntax error
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": ")
		if p.Field != "" {
			b.WriteString(p.Field + ": ")
		}
		b.WriteString(p.Msg)
	}
	return b.String()
}

// Load reads the configuration file at path over the defaults. A bad file
// is refused with an *Error naming file, line and field.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	return Parse(path, data)
}

// Parse is Load of data read from name.
func Parse(name string, data []byte) (*Config, error) {
	c := Default()
	c.File = name
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, yamlError(name, err)
	}
	c.file = file
	if len(bytes.TrimSpace(data)) > 0 {
		dec := yaml.NewDecoder(bytes.NewReader(data), yaml.DisallowUnknownField(), yaml.Strict())
		if err := dec.Decode(c); err != nil {
			return nil, decodeError(name, file, err)
		}
	}
	if errs := c.validate(); len(errs) > 0 {
		return nil, place(name, file, errs)
	}
	if c.Calendar.HolidayFile != "" {
		if err := c.mergeHolidays(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Dates is the content of a holiday file.
type Dates struct {
	Holidays []string `yaml:"holidays"`
	Workdays []string `yaml:"workdays"`
}

// mergeHolidays adds the dates of the holiday file to the calendar.
func (c *Config) mergeHolidays() error {
	name := c.Path(c.Calendar.HolidayFile)
	data, err := os.ReadFile(name)
	if err != nil {
		return &Error{File: c.File, Problems: []Problem{{Line: lineOf(c.file, "calendar.holiday_file"),
			Field: "calendar.holiday_file", Msg: err.Error()}}}
	}
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return yamlError(name, err)
	}
	var d Dates
	if err := yaml.UnmarshalWithOptions(data, &d, yaml.DisallowUnknownField(), yaml.Strict()); err != nil {
		return yamlError(name, err)
	}
	check := c.Calendar
	check.Holidays, check.Workdays = d.Holidays, d.Workdays
	if err := check.Validate(); err != nil {
		return place(name, file, field.Prefix("", err))
	}
	c.Calendar.Holidays = append(slices.Clone(c.Calendar.Holidays), d.Holidays...)
	c.Calendar.Workdays = append(slices.Clone(c.Calendar.Workdays), d.Workdays...)
	if err := c.Calendar.Validate(); err != nil {
		return place(c.File, c.file, field.Prefix("calendar", err))
	}
	return nil
}

// Validate checks a configuration built in code (tests, the defaults).
func (c *Config) Validate() error {
	if errs := c.validate(); len(errs) > 0 {
		return place(c.File, nil, errs)
	}
	return nil
}

func yamlError(name string, err error) error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		p := Problem{Msg: ye.GetMessage()}
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			p.Line = tk.Position.Line
		}
		return &Error{File: name, Problems: []Problem{p}}
	}
	return &Error{File: name, Problems: []Problem{{Msg: err.Error()}}}
}

// decodeError places a decoding error. Some errors of the YAML library
// (a bad duration) carry no position; they quote the bad value, so the
// line is that of the first scalar with that value.
func decodeError(name string, file *ast.File, err error) error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		return yamlError(name, err)
	}
	p := Problem{Msg: err.Error()}
	if m := quotedRe.FindStringSubmatch(err.Error()); m != nil {
		v := &scalarFinder{value: m[1]}
		for _, doc := range file.Docs {
			ast.Walk(v, doc)
		}
		p.Line = v.line
	}
	return &Error{File: name, Problems: []Problem{p}}
}

var quotedRe = regexp.MustCompile(`"([^"]*)"`)

// scalarFinder finds the line of the first scalar with a given value.
type scalarFinder struct {
	value string
	line  int
}

func (f *scalarFinder) Visit(n ast.Node) ast.Visitor {
	if f.line != 0 {
		return nil
	}
	if _, ok := n.(ast.ScalarNode); ok {
		if tk := n.GetToken(); tk != nil && tk.Value == f.value && tk.Position != nil {
			f.line = tk.Position.Line
			return nil
		}
	}
	return f
}

// place finds the line of each field error in the file.
func place(name string, file *ast.File, errs []*field.Error) error {
	e := &Error{File: name}
	if name == "" {
		e.File = "(defaults)"
	}
	for _, fe := range errs {
		e.Problems = append(e.Problems, Problem{Line: lineOf(file, fe.Path), Field: fe.Path, Msg: fe.Msg})
	}
	return e
}

// lineOf is the line where path (or, when it is not written, its nearest
// written parent) is, 0 when none is.
func lineOf(file *ast.File, path string) int {
	if file == nil {
		return 0
	}
	for p := path; p != ""; p = parent(p) {
		yp, err := yaml.PathString("$." + p)
		if err != nil {
			continue
		}
		node, err := yp.FilterFile(file)
		if err != nil || node == nil {
			continue
		}
		if tk := node.GetToken(); tk != nil && tk.Position != nil {
			return tk.Position.Line
		}
	}
	return 0
}

func parent(p string) string {
	i := max(strings.LastIndexByte(p, '.'), strings.LastIndexByte(p, '['))
	if i <= 0 {
		return ""
	}
	return p[:i]
}

// The forms a unit's transfer target may take.
var (
	phoneRe    = regexp.MustCompile(`^\+?[0-9][0-9-]{1,30}$`)
	sipURIRe   = regexp.MustCompile(`^sips?:([^@\s]+@)?[A-Za-z0-9.\-\[\]:]+(;[^\s]*)?$`)
	endpointRe = regexp.MustCompile(`^(PJSIP|SIP|IAX2|Local|DAHDI)/[^\s]+$`)
	idRe       = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
)

// IsTransferTarget tells whether s is a phone number, a SIP URI or an
// Asterisk endpoint.
func IsTransferTarget(s string) bool {
	return phoneRe.MatchString(s) || sipURIRe.MatchString(s) || endpointRe.MatchString(s)
}

// validate checks defaults and contradictions in one place.
func (c *Config) validate() []*field.Error {
	var errs []*field.Error
	for _, s := range c.sections() {
		errs = append(errs, field.Prefix(s.name, s.v.Validate())...)
	}
	if c.Ledger.Path == "" {
		errs = append(errs, field.Errorf("ledger.path", "the ledger needs a file"))
	}
	if c.HTTP.Listen == "" || !strings.Contains(c.HTTP.Listen, ":") {
		errs = append(errs, field.Errorf("http.listen", "%q is not an address host:port", c.HTTP.Listen))
	}
	if c.Repeat.Window < 0 {
		errs = append(errs, field.Errorf("repeat.window", "cannot be negative"))
	}
	keys, lines := map[string]bool{}, map[string]bool{}
	for i, l := range c.Lines {
		p := field.Index("lines", i)
		if len(l.Key) != 1 || !strings.Contains("0123456789*#", l.Key) {
			errs = append(errs, field.Errorf(field.Key(p, "key"), "%q is not one keypad key", l.Key))
		} else if keys[l.Key] {
			errs = append(errs, field.Errorf(field.Key(p, "key"), "key %s is used by two lines", l.Key))
		}
		keys[l.Key] = true
		if !idRe.MatchString(l.ID) {
			errs = append(errs, field.Errorf(field.Key(p, "id"), "%q is not an id (lower case letters, digits, - and _)", l.ID))
		} else if lines[l.ID] {
			errs = append(errs, field.Errorf(field.Key(p, "id"), "line %s is listed twice", l.ID))
		}
		lines[l.ID] = true
		if l.Name == "" {
			errs = append(errs, field.Errorf(field.Key(p, "name"), "a line needs a name"))
		}
	}
	if len(c.Lines) == 0 {
		errs = append(errs, field.Errorf("lines", "the IVR menu needs at least one line"))
	}
	units := map[string]bool{}
	for i, u := range c.Units {
		p := field.Index("units", i)
		if !idRe.MatchString(u.ID) {
			errs = append(errs, field.Errorf(field.Key(p, "id"), "%q is not an id (lower case letters, digits, - and _)", u.ID))
		} else if units[u.ID] {
			errs = append(errs, field.Errorf(field.Key(p, "id"), "unit %s is listed twice", u.ID))
		}
		units[u.ID] = true
		if u.Name == "" {
			errs = append(errs, field.Errorf(field.Key(p, "name"), "a unit needs a name"))
		}
		if u.Line != "" && !lines[u.Line] {
			errs = append(errs, field.Errorf(field.Key(p, "line"), "no line %q in lines", u.Line))
		}
		if !IsTransferTarget(u.Phone) {
			errs = append(errs, field.Errorf(field.Key(p, "phone"), "%q is not a phone number, SIP URI or Asterisk endpoint", u.Phone))
		}
	}
	return errs
}

// LineByKey finds the line of a keypad key.
func (c *Config) LineByKey(key string) (ticket.Line, bool) {
	i := slices.IndexFunc(c.Lines, func(l ticket.Line) bool { return l.Key == key })
	if i < 0 {
		return ticket.Line{}, false
	}
	return c.Lines[i], true
}

// Secret reads a secret (a password, a token) from the environment: they
// never live in the configuration file. It returns "" when unset.
func Secret(name string) string { return os.Getenv(name) }
