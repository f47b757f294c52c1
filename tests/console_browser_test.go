package tests

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"

	"hotline/console"
	"hotline/console/auth"
	"hotline/console/consoletest"
	"hotline/console/ticketledger"
	"hotline/ivr"
	"hotline/telephony"
	"hotline/tests/scenario"
	"hotline/ticket"
	"hotline/ticket/calendar"
	"hotline/web"
)

// browser is the headless Chromium of this package's browser tests.
var browser consoletest.Browser

func TestMain(m *testing.M) {
	code := m.Run()
	browser.Close()
	os.Exit(code)
}

const consolePassword = "correct horse battery"

// consoleHotline is the whole service on the embedded SIP engine and the
// real ledger, with the console in front of its API, served on loopback.
type consoleHotline struct {
	*scenario.Hotline
	store *ticket.Store
	url   string
}

func startConsoleHotline(t *testing.T) *consoleHotline {
	t.Helper()
	var store *ticket.Store
	// The service's clock runs from a Monday 10:00 in office hours, at
	// the real pace, so that calls reach agents whatever the hour.
	start := time.Now()
	clock := func() time.Time { return scenario.OfficeTime.Add(time.Since(start)) }
	newLedger := func(t *testing.T, now func() time.Time, agents []ivr.Agent, units []ivr.Unit) scenario.Ledger {
		ctx := context.Background()
		cal, err := calendar.New(calendar.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ticket.Open(ctx, filepath.Join(t.TempDir(), "ledger.db"), ticket.WithClock(now), ticket.WithCalendar(cal))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		var dir []ticket.Unit
		for _, u := range units {
			dir = append(dir, ticket.Unit{ID: u.ID, Name: u.Name, Department: u.Name, Phone: u.Dial})
		}
		if err := s.SyncUnits(ctx, dir); err != nil {
			t.Fatal(err)
		}
		led, err := ivr.NewTicketLedger(ctx, s, agents)
		if err != nil {
			t.Fatal(err)
		}
		store = s
		return scenario.Ledger{Ledger: led, Calendar: cal}
	}
	h := scenario.Start(t, sipBackend, scenario.Options{Config: scenario.Config(), Clock: clock, NewLedger: newLedger})

	ctx, cancel := context.WithCancel(context.Background())
	users := ticketledger.NewUsers(store)
	hash, err := bcrypt.GenerateFromPassword([]byte(consolePassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := users.SetPassword(ctx, "a1", hash); err != nil { // a1 is synced from the IVR's agents
		t.Fatal(err)
	}
	for _, u := range []auth.User{{Name: "u-ok", Role: auth.RoleUnit, Unit: "ok"}, {Name: "s1", Role: auth.RoleSupervisor}} {
		u.Hash = hash
		if err := users.AddUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	con, err := console.New(console.Config{MaskCaller: true}, console.Deps{
		Ledger: ticketledger.New(store, ticketledger.Reports{}, clock), Users: users,
		Events: h.Service.Bus(), API: web.New(h.Service, h.Service.Bus(), log), Log: log, Now: clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	done := con.Start(ctx)
	srv := httptest.NewServer(con)
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		cancel()
		<-done
	})
	return &consoleHotline{Hotline: h, store: store, url: srv.URL}
}

// agentPage logs a1 in, opens the agent page and signs a1 into the queue.
func (h *consoleHotline) agentPage(t testing.TB) context.Context {
	t.Helper()
	tab := browser.Tab(t)
	consoletest.Login(t, tab, h.url, "a1", consolePassword)
	consoletest.Do(t, tab, chromedp.WaitVisible(`#stream-state[data-state="open"]`), chromedp.Click("#queue-login"))
	if got := consoletest.Run(t, tab, chromedp.Poll[string](`document.getElementById("queue-state").textContent || null`)); got != "已签入" {
		t.Fatalf("queue login: got %q, want 已签入", got)
	}
	return tab
}

// popOnce places a call that reaches a1 and returns the call, its ticket
// id and the time from a1's phone answering to the pop on screen.
func (h *consoleHotline) popOnce(t *testing.T, tab context.Context, caller string) (telephony.Call, string, time.Duration) {
	t.Helper()
	answered := make(chan time.Time, 1)
	go func() {
		h.Phone("agent-a1")
		answered <- time.Now()
	}()
	c := h.Call(caller)
	h.Press(c, "0") // a caller who keeps silent reaches an agent too, after the menu's retries
	at := <-answered
	pop := h.Event("bus", func(e ivr.Event) bool {
		return e.Type == ivr.EventScreenPop && e.Ticket != nil && e.Ticket.Caller == caller
	})
	id := strconv.FormatInt(int64(pop.Ticket.ID), 10)
	consoletest.Do(t, tab, chromedp.WaitVisible(`#pop[data-ticket="`+id+`"]`, chromedp.RetryInterval(time.Millisecond)))
	shown, err := strconv.ParseInt(consoletest.Run(t, tab, chromedp.AttributeValue(`#pop`, "data-shown")).Value, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return c, id, time.UnixMilli(shown).Sub(at)
}

// TestConsoleRealCall places a real SIP call through the embedded engine
// that reaches agent a1, whose page shows the pop; a1 classifies and
// transfers the call to the unit, whose user replies in the portal.
func TestConsoleRealCall(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end calls")
	}
	h := startConsoleHotline(t)
	tab := h.agentPage(t)
	c, id, latency := h.popOnce(t, tab, "13812345678")
	t.Logf("pop latency, agent's phone answered to pop on screen: %v", latency)
	if got := consoletest.Run(t, tab, chromedp.Text("#pop-caller")); got != "138****5678" {
		t.Errorf("pop caller: got %q, want the masked number", got)
	}
	consoletest.Do(t, tab,
		chromedp.WaitVisible(`#work[data-ticket="`+id+`"]`),
		chromedp.SetValue("#reg-name", "李先生"),
		chromedp.SetValue("#reg-content", "候车室空调不制冷"),
		chromedp.Click("#kind-complaint"),
		consoletest.MarkStale,
		chromedp.Click("#register"),
		chromedp.WaitVisible(consoletest.Fresh(`#pop[data-ticket="`+id+`"]`)), // replayed: the call goes on
		chromedp.WaitVisible(`#transfer`),
		chromedp.SetValue("#transfer-unit", "ok"),
		chromedp.Click("#transfer"),
		chromedp.WaitVisible(`#transfer-result[data-state="connected"]`),
	)
	h.Phone(scenario.PhoneUnit) // the unit's phone took the call
	h.Hangup(c)

	unit := browser.Tab(t)
	consoletest.Login(t, unit, h.url, "u-ok", consolePassword)
	consoletest.Do(t, unit,
		chromedp.WaitVisible(`#unit-tickets tr[data-ticket="`+id+`"]`),
		chromedp.Navigate(h.url+"/tickets/"+id),
		chromedp.WaitVisible("#reply-form"),
		chromedp.SetValue("#reply-result", "已维修空调并向乘客致歉"),
		chromedp.Click("#reply-attest"),
		consoletest.MarkStale,
		chromedp.Click("#reply"),
		chromedp.WaitVisible(consoletest.Fresh("#replies")),
	)
	n, _ := strconv.ParseInt(id, 10, 64)
	d, err := h.store.Ticket(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != ticket.StatusReplied || d.Kind != ticket.KindComplaint || d.UnitID != "ok" || d.CallerName != "李先生" {
		t.Fatalf("got ticket %s status %s kind %s unit %s name %q, want replied complaint of unit ok by 李先生", d.Number, d.Status, d.Kind, d.UnitID, d.CallerName)
	}
}

// TestConsolePopLatencyRealCalls places HOTLINE_POP_CALLS calls (default:
// none, it is a measurement) and logs p50 and p99 of the pop latency.
func TestConsolePopLatencyRealCalls(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("HOTLINE_POP_CALLS"))
	if n <= 0 {
		t.Skip("a measurement: HOTLINE_POP_CALLS=50 go test -run ConsolePopLatency ./tests/")
	}
	h := startConsoleHotline(t)
	tab := h.agentPage(t)
	var lat []time.Duration
	for i := range n {
		c, _, d := h.popOnce(t, tab, "1390000"+strconv.Itoa(1000+i))
		lat = append(lat, d)
		h.Hangup(c)
	}
	slices.Sort(lat)
	t.Logf("pop latency over %d real calls, agent's phone answered to pop on screen: p50 %v, p99 %v, max %v",
		n, lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1])
}
