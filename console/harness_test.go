package console_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"hotline/console"
	"hotline/console/auth"
	"hotline/console/consoletest"
	"hotline/console/ticketledger"
	"hotline/ivr"
	"hotline/ticket"
	"hotline/web"
)

// password is every test user's password.
const password = "correct horse battery"

// The units of the tests.
var testUnits = []console.Unit{{ID: "keyun", Name: "客运营销部"}, {ID: "wuliu", Name: "物流部"}}

// harness is a console over an in-memory ledger, a real event bus, a real
// web API over a fake hotline, and real accounts in a SQLite file, served
// on 127.0.0.1.
type harness struct {
	srv     *httptest.Server
	bus     *ivr.Bus
	ledger  *consoletest.Ledger // the fake, nil over the real ledger
	store   *ticket.Store       // the accounts, and the real ledger
	hotline *fakeHotline
	console *console.Console
	// open opens a ticket for a call as the IVR does; transfer records a
	// transfer as the IVR does.
	open     func(caller, line string) ivr.Ticket
	transfer func(id int64, unit string) error
}

// fakeHotline stands in for the IVR behind the web API: a transfer
// always connects and is recorded in the ledger.
type fakeHotline struct {
	transfer func(id int64, unit string) error

	mu       sync.Mutex
	loggedIn map[string]bool
}

func (f *fakeHotline) set(id string, in bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loggedIn[id] = in
	return nil
}

func (f *fakeHotline) Login(_ context.Context, id string) error  { return f.set(id, true) }
func (f *fakeHotline) Logout(_ context.Context, id string) error { return f.set(id, false) }

func (f *fakeHotline) Agents() []ivr.AgentStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ivr.AgentStatus
	for id, in := range f.loggedIn {
		st := ivr.AgentOffline
		if in {
			st = ivr.AgentAvailable
		}
		out = append(out, ivr.AgentStatus{ID: id, State: st})
	}
	return out
}

func (f *fakeHotline) Transfer(_ context.Context, t ivr.TicketID, unit string, _ bool) (ivr.TransferResult, error) {
	if err := f.transfer(int64(t), unit); err != nil {
		return ivr.TransferResult{}, fmt.Errorf("transfer: %w", ivr.ErrNoSuchCall)
	}
	return ivr.TransferResult{Ticket: t, Unit: unit, Outcome: "connected", At: time.Now()}, nil
}

type testUser struct {
	name string
	role auth.Role
	unit string
}

var testUsers = []testUser{
	{"a1", auth.RoleAgent, ""},
	{"a2", auth.RoleAgent, ""},
	{"u1", auth.RoleUnit, "keyun"},
	{"u2", auth.RoleUnit, "wuliu"},
	{"s1", auth.RoleSupervisor, ""},
}

// hashOnce keeps one bcrypt hash of the lowest cost for all test users:
// bcrypt is slow on purpose, under -race more so.
var hashOnce = sync.OnceValues(func() ([]byte, error) { return bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost) })

// newHarness is a console over the in-memory ledger.
func newHarness(t testing.TB, cfg console.Config) *harness {
	return build(t, cfg, false)
}

// newLedgerHarness is a console over the real ledger in a SQLite file.
func newLedgerHarness(t testing.TB, cfg console.Config) *harness {
	return build(t, cfg, true)
}

func build(t testing.TB, cfg console.Config, real bool) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	store, err := ticket.Open(ctx, filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	var units []ticket.Unit
	for _, u := range testUnits {
		units = append(units, ticket.Unit{ID: u.ID, Name: u.Name, Phone: "sip:" + u.ID + "@127.0.0.1"})
	}
	if err := store.SyncUnits(ctx, units); err != nil {
		t.Fatal(err)
	}
	users := ticketledger.NewUsers(store)
	hash, err := hashOnce()
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range testUsers {
		if err := users.AddUser(ctx, auth.User{Name: u.name, Role: u.role, Unit: u.unit, Hash: hash}); err != nil {
			t.Fatal(err)
		}
	}
	h := &harness{bus: ivr.NewBus(), store: store}
	var ledger console.Ledger
	if real {
		ledger = ticketledger.New(store, ticketledger.Reports{}, nil)
		var calls atomic.Int64
		h.open = func(caller, line string) ivr.Ticket {
			callID := fmt.Sprintf("call-%d", calls.Add(1))
			ref, err := store.OpenForCall(ctx, ticket.CallInfo{CallID: callID, Caller: caller, Dialled: "96596"})
			if err != nil {
				t.Fatal(err)
			}
			if ref, err = store.SetLine(ctx, callID, line); err != nil {
				t.Fatal(err)
			}
			d, err := store.Ticket(ctx, ref.TicketID)
			if err != nil {
				t.Fatal(err)
			}
			return ivr.Ticket{ID: ivr.TicketID(d.ID), Number: d.Number, Caller: d.Caller, Dialled: "96596", Channel: string(d.Channel),
				Line: d.Line, Status: string(d.Status), Opened: d.CreatedAt}
		}
		h.transfer = func(id int64, unit string) error {
			_, err := store.Apply(ctx, id, ticket.Change{Action: ticket.ActTransfer, Unit: unit, Actor: "ivr"})
			return err
		}
	} else {
		h.ledger = consoletest.New(nil, testUnits...)
		ledger = h.ledger
		h.open = h.ledger.Open
		h.transfer = h.ledger.TransferTo
	}
	h.hotline = &fakeHotline{transfer: h.transfer, loggedIn: map[string]bool{}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h.console, err = console.New(cfg, console.Deps{
		Ledger: ledger, Users: users, Events: h.bus, API: web.New(h.hotline, h.bus, log), Log: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	done := h.console.Start(ctx)
	h.srv = httptest.NewServer(h.console)
	t.Cleanup(func() {
		h.srv.CloseClientConnections()
		h.srv.Close()
		cancel()
		<-done
		store.Close()
	})
	return h
}

// pop publishes a screen-pop of a new ticket for agent, as the IVR does
// when the agent answers, and returns the ticket.
func (h *harness) pop(agent, caller, line string) ivr.Ticket {
	tk := h.open(caller, line)
	h.bus.Publish(ivr.Event{Type: ivr.EventScreenPop, At: time.Now(), Agent: agent, CallID: fmt.Sprintf("call-%d", tk.ID), Ticket: &tk})
	return tk
}

// client is a browser-like HTTP client with its own cookies.
type client struct {
	t    *testing.T
	base string
	http *http.Client
	csrf string
}

func (h *harness) client(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: h.srv.URL, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var (
	csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	csrfMeta  = regexp.MustCompile(`<meta name="csrf-token" content="([^"]*)">`)
)

// login logs in as name and keeps the session's CSRF token.
func (c *client) login(name string) {
	c.t.Helper()
	if code := c.tryLogin(name, password); code != http.StatusSeeOther {
		c.t.Fatalf("login %s: got status %d, want 303", name, code)
	}
	_, body := c.get("/tickets/0") // any page with the layout
	m := csrfMeta.FindStringSubmatch(body)
	if m == nil || m[1] == "" {
		c.t.Fatalf("no CSRF token after login of %s", name)
	}
	c.csrf = m[1]
}

func (c *client) tryLogin(name, pw string) int {
	c.t.Helper()
	_, body := c.get("/login")
	m := csrfInput.FindStringSubmatch(body)
	if m == nil {
		c.t.Fatal("no CSRF token on the login page")
	}
	resp := c.do("POST", "/login", url.Values{"csrf": {m[1]}, "name": {name}, "password": {pw}}.Encode(), "application/x-www-form-urlencoded", nil)
	return resp.StatusCode
}

func (c *client) do(method, path, body, contentType string, header http.Header) *http.Response {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (c *client) get(path string) (*http.Response, string) {
	c.t.Helper()
	resp := c.do("GET", path, "", "", nil)
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp, string(b)
}

// postForm posts a form with the session's CSRF token.
func (c *client) postForm(path string, v url.Values) (*http.Response, string) {
	c.t.Helper()
	v.Set("csrf", c.csrf)
	resp := c.do("POST", path, v.Encode(), "application/x-www-form-urlencoded", nil)
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}
