// Package scenario is the end-to-end scenario table of the hotline's call
// flows (issue 4). It is written against the telephony port so that every
// engine runs the same table: a Backend supplies the service's engine and
// a peer engine that plays the callers, the agents' phones and the units'
// phones; the table starts the service in-process, places real calls and
// checks the ledger, the events on /api/events and the recordings.
package scenario

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"hotline/ivr"
	"hotline/telephony"
	"hotline/web"
)

// Backend builds the engines of one run.
type Backend struct {
	Name string
	// Service returns the engine the service answers 96596 on; it reads
	// prompts from promptDir (<name>.wav) and writes recordings to
	// recordingDir. The engine is closed by the backend's own cleanup.
	Service func(t *testing.T, promptDir, recordingDir string) telephony.Engine
	// Peer returns the far end for a service engine.
	Peer func(t *testing.T, promptDir string, service telephony.Engine) Peer
}

// Peer is the far end: its Engine dials the service (the callers) and
// serves the phones of agents and units, which the service dials.
type Peer struct {
	Engine telephony.Engine
	// ServiceTo is the DialRequest.To that reaches the service's 96596.
	ServiceTo string
	// PhoneTo is how the service dials the peer's phone called name; the
	// peer's handler sees name as Info.Dialled.
	PhoneTo func(name string) string
}

// Ledger is a ledger for the service and a way to look into it.
type Ledger struct {
	Ledger    ivr.Ledger
	Calendar  ivr.Calendar
	Inspector Inspector
}

// Inspector reads the ledger for the checks.
type Inspector interface {
	// CallsFrom returns the calls from a (normalised) caller number,
	// oldest first.
	CallsFrom(ctx context.Context, caller string) ([]CallRow, error)
	// Ticket returns a ticket with what hangs on it.
	Ticket(ctx context.Context, id ivr.TicketID) (TicketRow, error)
}

// CallRow is a call record.
type CallRow struct {
	CallID    string
	Ticket    ivr.TicketID
	Closed    bool
	Reason    string
	Cause     int
	Choice    string
	Agent     string
	Recording string
}

// TicketRow is a ticket with its recordings, transfers and callbacks.
type TicketRow struct {
	ID         ivr.TicketID
	Caller     string
	Line       string
	Status     string
	MergedInto ivr.TicketID // 0 unless merged (并单)
	Agent      string
	Recordings []ivr.Recording
	Transfers  []string    // "unit" when connected, "unit:reason" when failed
	Callbacks  []time.Time // due times
}

// Options shape the service of one scenario.
type Options struct {
	Config    ivr.Config
	Clock     func() time.Time // nil: time.Now
	Prompts   string           // prompt dir; "": the short test tones
	NewLedger NewLedger
}

// NewLedger makes the ledger of one scenario; the agents and units are
// those the scenario's service is configured with.
type NewLedger func(t *testing.T, now func() time.Time, agents []ivr.Agent, units []ivr.Unit) Ledger

// Hotline is the service running for one scenario.
type Hotline struct {
	t         *testing.T
	ctx       context.Context
	Service   *ivr.Service
	Peer      Peer
	API       string // base URL of the HTTP API
	Inspector Inspector
	RecDir    string

	phones *phoneBook
	events *eventLog
}

// The phones the peer serves, by name prefix.
const (
	PhoneAgent      = "agent-"      // answers and stays until hung up
	PhoneUnit       = "unit-ok"     // answers
	PhoneUnitBusy   = "unit-busy"   // rejects as busy (SIP 486)
	PhoneUnitSilent = "unit-silent" // rings and never answers
)

// Start runs the service on the backend for one scenario.
func Start(t *testing.T, b Backend, opts Options) *Hotline {
	t.Helper()
	promptDir := opts.Prompts
	if promptDir == "" {
		promptDir = t.TempDir()
		if err := WriteTestPrompts(promptDir); err != nil {
			t.Fatal(err)
		}
	}
	recDir := t.TempDir()
	now := opts.Clock
	if now == nil {
		now = time.Now
	}
	engine := b.Service(t, promptDir, recDir)
	peer := b.Peer(t, promptDir, engine)

	cfg := opts.Config
	for _, id := range []string{"a1", "a2"} {
		cfg.Agents = append(cfg.Agents, ivr.Agent{ID: id, Name: id, Dial: peer.PhoneTo(PhoneAgent + id)})
	}
	units := []ivr.Unit{
		{ID: "ok", Name: "客运营销部", Dial: peer.PhoneTo(PhoneUnit), Code: "1"},
		{ID: "busy", Name: "物流部", Dial: peer.PhoneTo(PhoneUnitBusy), Code: "2"},
		{ID: "silent", Name: "房产部", Dial: peer.PhoneTo(PhoneUnitSilent), Code: "3"},
	}
	led := opts.NewLedger(t, now, cfg.Agents, units)
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	svc, err := ivr.New(cfg, ivr.Deps{Engine: engine, Ledger: led.Ledger, Calendar: led.Calendar,
		Lines: Lines, Units: units, Clock: now, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(web.New(svc, svc.Bus(), logger))

	ctx, cancel := context.WithCancel(context.Background())
	h := &Hotline{t: t, ctx: ctx, Service: svc, Peer: peer, API: api.URL, Inspector: led.Inspector, RecDir: recDir,
		phones: newPhoneBook(), events: newEventLog()}
	h.events.follow(ctx, svc.Bus().Subscribe(ctx), "bus")
	if err := h.followAPI(ctx); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := engine.Serve(ctx, svc); err != nil {
			t.Errorf("service engine: %v", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := peer.Engine.Serve(ctx, h.phones); err != nil {
			t.Errorf("peer engine: %v", err)
		}
	}()
	t.Cleanup(func() {
		api.CloseClientConnections()
		cancel()
		wg.Wait()
		api.Close()
		svc.Wait()
	})
	return h
}

// Lines are the business lines of DESIGN §2.
var Lines = []ivr.Line{
	{Key: "1", ID: "passenger", Name: "客运", Department: "客运营销部"},
	{Key: "2", ID: "freight", Name: "货运物流", Department: "物流部"},
	{Key: "3", ID: "property", Name: "房产物业", Department: "房产部"},
	{Key: "4", ID: "diversified", Name: "多种经营", Department: "安全统筹中心"},
	{Key: "5", ID: "automotive", Name: "汽车服务", Department: "汽车事业部"},
}

// testWriter sends the service's log to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// followAPI subscribes to /api/events and logs what arrives, with source
// "sse"; it returns once the subscription is in place.
func (h *Hotline) followAPI(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.API+"/api/events", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("subscribe to /api/events: %w", err)
	}
	br := bufio.NewReader(resp.Body)
	if _, err := br.ReadString('\n'); err != nil { // the subscription comment
		resp.Body.Close()
		return fmt.Errorf("read /api/events: %w", err)
	}
	ch := make(chan ivr.Event)
	go func() {
		defer resp.Body.Close()
		defer close(ch)
		for {
			_, data, err := web.ReadEvent(br)
			if err != nil {
				return
			}
			var e ivr.Event
			if err := json.Unmarshal(data, &e); err != nil {
				h.t.Errorf("event from /api/events: %v: %s", err, data)
				return
			}
			select {
			case ch <- e:
			case <-ctx.Done():
				return
			}
		}
	}()
	h.events.follow(ctx, ch, "sse")
	return nil
}

// Call places a call into the service from the given caller number.
func (h *Hotline) Call(caller string) telephony.Call {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	c, err := h.Peer.Engine.Dial(ctx, telephony.DialRequest{To: h.Peer.ServiceTo, CallerID: caller})
	if err != nil {
		h.t.Fatalf("call the service: %v", err)
	}
	h.t.Cleanup(func() { _ = c.Hangup(context.Background(), telephony.ReasonNormal) })
	return c
}

// Press sends keys from a call.
func (h *Hotline) Press(c telephony.Call, keys string) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	if err := c.SendDigits(ctx, keys); err != nil {
		h.t.Fatalf("press %s: %v", keys, err)
	}
}

// Hangup hangs up a call from the far end.
func (h *Hotline) Hangup(c telephony.Call) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	if err := c.Hangup(ctx, telephony.ReasonNormal); err != nil {
		h.t.Fatalf("hang up: %v", err)
	}
}

// Phone waits for the service to reach the peer's phone called name.
func (h *Hotline) Phone(name string) telephony.Call {
	h.t.Helper()
	return h.phones.await(h.t, name)
}

// Event waits for an event from source ("bus" or "sse") that matches.
func (h *Hotline) Event(source string, match func(ivr.Event) bool) ivr.Event {
	h.t.Helper()
	got, ok := h.events.awaitN(h.ctx, source, 1, match, 20*time.Second)
	if !ok {
		h.t.Fatalf("no matching %s event; seen: %s", source, h.events.String())
	}
	return got[0]
}

// EventN waits for n events from source that match and returns them.
func (h *Hotline) EventN(source string, n int, match func(ivr.Event) bool) []ivr.Event {
	h.t.Helper()
	got, ok := h.events.awaitN(h.ctx, source, n, match, 20*time.Second)
	if !ok {
		h.t.Fatalf("fewer than %d matching %s events; seen: %s", n, source, h.events.String())
	}
	return got
}

// Ended waits until the service closed the record of a call from caller
// and returns the record.
func (h *Hotline) Ended(caller string) CallRow {
	h.t.Helper()
	e := h.Event("bus", func(e ivr.Event) bool {
		return e.Type == ivr.EventCallEnded && e.Ticket != nil && e.Ticket.Caller == caller
	})
	calls, err := h.Inspector.CallsFrom(h.ctx, caller)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, c := range calls {
		if c.CallID == e.CallID {
			return c
		}
	}
	h.t.Fatalf("call %s of %s not in the ledger", e.CallID, caller)
	return CallRow{}
}

// Ticket reads a ticket.
func (h *Hotline) Ticket(id ivr.TicketID) TicketRow {
	h.t.Helper()
	tk, err := h.Inspector.Ticket(h.ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	return tk
}

// Transfer asks the API to transfer the caller of a ticket.
func (h *Hotline) Transfer(ticket ivr.TicketID, unit string) ivr.TransferResult {
	h.t.Helper()
	body := fmt.Sprintf(`{"unit":%q}`, unit)
	resp, err := http.Post(fmt.Sprintf("%s/api/tickets/%d/transfer", h.API, ticket), "application/json", strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("transfer: status %s", resp.Status)
	}
	var res ivr.TransferResult
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		h.t.Fatal(err)
	}
	return res
}

// Login logs an agent in through the API.
func (h *Hotline) Login(agent string) {
	h.t.Helper()
	resp, err := http.Post(h.API+"/api/agents/"+agent+"/login", "", nil)
	if err != nil {
		h.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		h.t.Fatalf("login %s: %s", agent, resp.Status)
	}
}

// CheckRecording checks that a recording is a complete WAV file.
func (h *Hotline) CheckRecording(path string) WAVInfo {
	h.t.Helper()
	if path == "" {
		h.t.Fatal("no recording")
	}
	if _, err := os.Stat(path); err != nil {
		h.t.Fatalf("recording: %v", err)
	}
	info, err := CheckWAV(path)
	if err != nil {
		h.t.Fatalf("recording %s: %v", path, err)
	}
	return info
}
