package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"hotline/ivr"
	"hotline/web"
)

// fakeHotline records what the API asked for.
type fakeHotline struct {
	mu       sync.Mutex
	loggedIn map[string]bool
	transfer func(ticket ivr.TicketID, unit string, stay bool) (ivr.TransferResult, error)
}

func (f *fakeHotline) set(id string, in bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id != "a1" && id != "a2" {
		return fmt.Errorf("agent %q: %w", id, ivr.ErrUnknownAgent)
	}
	f.loggedIn[id] = in
	return nil
}

func (f *fakeHotline) Login(_ context.Context, id string) error  { return f.set(id, true) }
func (f *fakeHotline) Logout(_ context.Context, id string) error { return f.set(id, false) }

func (f *fakeHotline) Agents() []ivr.AgentStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ivr.AgentStatus
	for _, id := range []string{"a1", "a2"} {
		st := ivr.AgentOffline
		if f.loggedIn[id] {
			st = ivr.AgentAvailable
		}
		out = append(out, ivr.AgentStatus{ID: id, State: st})
	}
	return out
}

func (f *fakeHotline) Transfer(_ context.Context, t ivr.TicketID, unit string, stay bool) (ivr.TransferResult, error) {
	return f.transfer(t, unit, stay)
}

func newServer(t *testing.T, h *fakeHotline, bus *ivr.Bus) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(web.New(h, bus, nil))
	t.Cleanup(srv.Close)
	return srv
}

func TestAgentsLoginLogout(t *testing.T) {
	h := &fakeHotline{loggedIn: map[string]bool{}}
	srv := newServer(t, h, ivr.NewBus())
	tests := []struct {
		name, path string
		want       int
	}{
		{name: "login", path: "/api/agents/a1/login", want: http.StatusNoContent},
		{name: "unknown agent", path: "/api/agents/zz/login", want: http.StatusNotFound},
		{name: "logout", path: "/api/agents/a2/logout", want: http.StatusNoContent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Post(srv.URL+tt.path, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}
	resp, err := http.Get(srv.URL + "/api/agents")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var agents []ivr.AgentStatus
	if err := json.NewDecoder(resp.Body).Decode(&agents); err != nil {
		t.Fatal(err)
	}
	if len(agents) != 2 || agents[0].State != ivr.AgentAvailable || agents[1].State != ivr.AgentOffline {
		t.Errorf("agents %+v, want a1 available and a2 offline", agents)
	}
}

func TestTransfer(t *testing.T) {
	var got struct {
		ticket ivr.TicketID
		unit   string
		stay   bool
	}
	h := &fakeHotline{transfer: func(tk ivr.TicketID, unit string, stay bool) (ivr.TransferResult, error) {
		got.ticket, got.unit, got.stay = tk, unit, stay
		switch unit {
		case "u1":
			return ivr.TransferResult{Ticket: tk, Unit: unit, Outcome: ivr.OutcomeConnected}, nil
		case "busy":
			return ivr.TransferResult{Ticket: tk, Unit: unit, Outcome: "busy"}, nil
		case "again":
			return ivr.TransferResult{}, ivr.ErrTransferInProgress
		case "nocall":
			return ivr.TransferResult{}, fmt.Errorf("ticket: %w", ivr.ErrNoSuchCall)
		}
		return ivr.TransferResult{}, errors.New("boom")
	}}
	srv := newServer(t, h, ivr.NewBus())
	tests := []struct {
		name, ticket, body string
		want               int
		wantOutcome        string
		wantStay           bool
	}{
		{name: "connected", ticket: "7", body: `{"unit":"u1"}`, want: 200, wantOutcome: "connected", wantStay: true},
		{name: "agent drops", ticket: "7", body: `{"unit":"u1","agent_stays":false}`, want: 200, wantOutcome: "connected"},
		{name: "busy", ticket: "7", body: `{"unit":"busy"}`, want: 200, wantOutcome: "busy", wantStay: true},
		{name: "in progress", ticket: "7", body: `{"unit":"again"}`, want: 409},
		{name: "no call", ticket: "7", body: `{"unit":"nocall"}`, want: 404},
		{name: "engine failure", ticket: "7", body: `{"unit":"x"}`, want: 500},
		{name: "bad ticket", ticket: "abc", body: `{"unit":"u1"}`, want: 400},
		{name: "no unit", ticket: "7", body: `{}`, want: 400},
		{name: "unknown field", ticket: "7", body: `{"unit":"u1","x":1}`, want: 400},
		{name: "not json", ticket: "7", body: `unit=u1`, want: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Post(srv.URL+"/api/tickets/"+tt.ticket+"/transfer", "application/json", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.want)
			}
			if tt.want != 200 {
				return
			}
			var res ivr.TransferResult
			if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
				t.Fatal(err)
			}
			if res.Outcome != tt.wantOutcome || got.ticket != 7 || got.stay != tt.wantStay {
				t.Errorf("result %+v, stay %v; want outcome %s for ticket 7, stay %v", res, got.stay, tt.wantOutcome, tt.wantStay)
			}
		})
	}
}

func TestEventsStream(t *testing.T) {
	bus := ivr.NewBus()
	srv := newServer(t, &fakeHotline{}, bus)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/events?agent=a1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("content type %q", ct)
	}
	br := bufio.NewReader(resp.Body)
	// The comment sent on subscription: after it, nothing is missed.
	if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, ":") {
		t.Fatalf("first line %q, %v; want the subscription comment", line, err)
	}
	ticket := &ivr.Ticket{ID: 42, Number: "96596-20261130-0042", Caller: "13812345678", Line: "客运"}
	bus.Publish(ivr.Event{Type: ivr.EventScreenPop, Agent: "a2", Ticket: &ivr.Ticket{ID: 1}})
	bus.Publish(ivr.Event{Type: ivr.EventScreenPop, Agent: "a1", CallID: "c9", Ticket: ticket})
	typ, data, err := web.ReadEvent(br)
	if err != nil {
		t.Fatal(err)
	}
	var e ivr.Event
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatal(err)
	}
	if typ != ivr.EventScreenPop || e.Agent != "a1" || e.Ticket == nil || e.Ticket.ID != 42 || e.Ticket.Line != "客运" {
		t.Errorf("got %s %+v, want a1's screen-pop of ticket 42", typ, e)
	}
}

func TestReadEvent(t *testing.T) {
	src := ": hello\n\nevent: a\ndata: {\"x\":1}\n\nevent: b\ndata: one\ndata: two\n\n"
	br := bufio.NewReader(strings.NewReader(src))
	for _, want := range []struct{ typ, data string }{{"a", `{"x":1}`}, {"b", "one\ntwo"}} {
		typ, data, err := web.ReadEvent(br)
		if err != nil {
			t.Fatal(err)
		}
		if typ != want.typ || string(data) != want.data {
			t.Errorf("got %q %q, want %q %q", typ, data, want.typ, want.data)
		}
	}
	if _, _, err := web.ReadEvent(br); err == nil {
		t.Error("no error at the end of the stream")
	}
}

func FuzzReadEvent(f *testing.F) {
	f.Add("event: a\ndata: b\n\n")
	f.Add(": c\n\ndata\n\n")
	f.Fuzz(func(t *testing.T, src string) {
		br := bufio.NewReader(strings.NewReader(src))
		for range 100 {
			if _, _, err := web.ReadEvent(br); err != nil {
				return
			}
		}
	})
}
