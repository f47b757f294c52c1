package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"hotline/config"
	"hotline/ticket"
)

// TestServeCallbacksAPI: in `hotline serve`, /api/callbacks answers behind
// the console's sessions, roles and CSRF checks, and lists the survey the
// unit's reply scheduled.
func TestServeCallbacksAPI(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	db := filepath.Join(dir, "ledger.db")
	var out bytes.Buffer
	if err := runUsers(ctx, []string{"add", "--db", db, "--name", "sup", "--role", "supervisor"}, bcrypt.MinCost,
		strings.NewReader("supervisor pw1\n"), &out, &out); err != nil {
		t.Fatalf("add supervisor: %v %s", err, out.String())
	}
	seed, err := ticket.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if err := seed.SyncUnits(ctx, config.Default().Units); err != nil {
		t.Fatal(err)
	}
	ref, err := seed.OpenForCall(ctx, ticket.CallInfo{CallID: "seed-1", Caller: "13900000007", Started: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := seed.SetLine(ctx, "seed-1", "passenger"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []ticket.Change{
		{Action: ticket.ActTransfer, Actor: "test", Unit: "passenger"},
		{Action: ticket.ActReply, Actor: "test", Result: "已处理", NoPaymentAttested: true},
	} {
		if _, err := seed.Apply(ctx, ref.TicketID, c); err != nil {
			t.Fatal(err)
		}
	}
	seed.Close()

	// The dialer's calling window is hours away: it leaves the survey be.
	h := (time.Now().UTC().Hour() + 6) % 24
	cfgFile := filepath.Join(dir, "hotline.yaml")
	yaml := fmt.Sprintf("ledger:\n  path: %s\nhttp:\n  listen: 127.0.0.1:0\ncallbacks:\n  time_zone: UTC\n  windows: [\"%02d:00-%02d:30\"]\n", db, h, h)
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServe(ctx, t, io.Discard, "-config", cfgFile, "-sip", "127.0.0.1:0", "-prompts", "../../prompts/wav",
		"-recordings", filepath.Join(dir, "rec"), "-log", "warn")
	base := "http://" + srv.httpAddr

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path, body string, header map[string]string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	if code, _ := do("GET", "/api/callbacks", "", nil); code != http.StatusUnauthorized {
		t.Errorf("GET /api/callbacks without a session: %d, want 401", code)
	}
	_, page := do("GET", "/login", "", nil)
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no CSRF token on the login page")
	}
	form := url.Values{"csrf": {m[1]}, "name": {"sup"}, "password": {"supervisor pw1"}}.Encode()
	if code, body := do("POST", "/login", form, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}); code != http.StatusSeeOther {
		t.Fatalf("login: %d %s", code, body)
	}
	_, page = do("GET", "/tickets/0", "", nil)
	m = regexp.MustCompile(`<meta name="csrf-token" content="([^"]*)">`).FindStringSubmatch(page)
	if m == nil || m[1] == "" {
		t.Fatal("no CSRF token after login")
	}
	csrf := m[1]

	// The ticket's page names its business line and unit as configured.
	_, page = do("GET", fmt.Sprintf("/tickets/%d", ref.TicketID), "", nil)
	for _, want := range []string{"<dd>客运</dd>", `<dd id="ticket-unit">` + config.Default().Units[0].Name + "</dd>"} {
		if !strings.Contains(page, want) {
			t.Errorf("the ticket's page lacks %q", want)
		}
	}

	code, body := do("GET", fmt.Sprintf("/api/callbacks?ticket=%d", ref.TicketID), "", nil)
	if code != http.StatusOK {
		t.Fatalf("GET /api/callbacks: %d %s", code, body)
	}
	var listed []struct {
		TicketID int64  `json:"ticket_id"`
		Kind     string `json:"kind"`
		State    string `json:"state"`
	}
	if err := json.Unmarshal([]byte(body), &listed); err != nil {
		t.Fatalf("list %s: %v", body, err)
	}
	if len(listed) != 1 || listed[0].TicketID != ref.TicketID || listed[0].Kind != "survey" || listed[0].State != "scheduled" {
		t.Errorf("callbacks of the replied ticket: %+v, want its survey scheduled", listed)
	}

	manual := fmt.Sprintf(`{"ticket_id":%d,"kind":"manual","due":%q}`, ref.TicketID, time.Now().Add(48*time.Hour).Format(time.RFC3339))
	if code, _ := do("POST", "/api/callbacks", manual, map[string]string{"Content-Type": "application/json"}); code != http.StatusForbidden {
		t.Errorf("POST without the CSRF token: %d, want 403", code)
	}
	if code, body := do("POST", "/api/callbacks", manual, map[string]string{"Content-Type": "application/json", "X-CSRF-Token": csrf}); code != http.StatusCreated {
		t.Errorf("POST with the CSRF token: %d %s, want 201", code, body)
	}

	srv.stop(t, cancel)
}
