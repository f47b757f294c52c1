package console_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"hotline/console"
)

func TestUnauthenticatedRefused(t *testing.T) {
	h := newHarness(t, console.Config{})
	tk := h.ledger.Open("13812345678", "客运")
	rec := h.ledger.AddRecording(int64(tk.ID), "call", []byte("RIFF"))
	tests := []struct {
		method, path string
		want         int
	}{
		{"GET", "/agent", http.StatusSeeOther},
		{"GET", "/unit", http.StatusSeeOther},
		{"GET", "/supervisor", http.StatusSeeOther},
		{"GET", fmt.Sprintf("/tickets/%d", tk.ID), http.StatusSeeOther},
		{"GET", fmt.Sprintf("/recordings/%d", rec), http.StatusSeeOther},
		{"GET", "/reports/monthly?month=2026-11&format=csv", http.StatusSeeOther},
		{"GET", "/api/events", http.StatusUnauthorized},
		{"GET", "/api/agents", http.StatusUnauthorized},
		{"POST", "/api/agents/a1/login", http.StatusUnauthorized},
		{"POST", fmt.Sprintf("/api/tickets/%d/transfer", tk.ID), http.StatusUnauthorized},
		{"POST", fmt.Sprintf("/tickets/%d/register", tk.ID), http.StatusUnauthorized},
		{"POST", fmt.Sprintf("/tickets/%d/reply", tk.ID), http.StatusUnauthorized},
	}
	c := h.client(t)
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			c.t = t
			resp := c.do(tt.method, tt.path, `{"unit":"keyun"}`, "application/json", nil)
			if resp.StatusCode != tt.want {
				t.Fatalf("got status %d, want %d", resp.StatusCode, tt.want)
			}
			if tt.want == http.StatusSeeOther && !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
				t.Errorf("got redirect to %q, want the login page", resp.Header.Get("Location"))
			}
		})
	}
	if got := len(h.ledger.Accesses()); got != 0 {
		t.Errorf("got %d recording accesses logged, want 0", got)
	}
}

func TestRolesAuthorised(t *testing.T) {
	h := newHarness(t, console.Config{})
	tk := h.ledger.Open("13812345678", "客运")
	transfer := fmt.Sprintf("/api/tickets/%d/transfer", tk.ID)
	tests := []struct {
		user, method, path string
		want               int
	}{
		{"a1", "GET", "/agent", http.StatusOK},
		{"a1", "GET", "/supervisor", http.StatusForbidden},
		{"a1", "GET", "/unit", http.StatusForbidden},
		{"a1", "GET", "/reports/monthly?month=2026-11", http.StatusForbidden},
		{"a1", "POST", "/api/agents/a1/login", http.StatusNoContent},
		{"a1", "POST", "/api/agents/a2/login", http.StatusForbidden},
		{"a1", "POST", "/api/agents/a2/logout", http.StatusForbidden},
		{"u1", "GET", "/agent", http.StatusForbidden},
		{"u1", "GET", "/supervisor", http.StatusForbidden},
		{"u1", "GET", "/api/events", http.StatusForbidden},
		{"u1", "GET", "/api/agents", http.StatusForbidden},
		{"u1", "POST", transfer, http.StatusForbidden},
		{"u1", "POST", fmt.Sprintf("/tickets/%d/register", tk.ID), http.StatusForbidden},
		{"s1", "GET", "/supervisor", http.StatusOK},
		{"s1", "GET", "/reports/monthly?month=2026-11&format=csv", http.StatusOK},
		{"s1", "POST", "/api/agents/a2/logout", http.StatusNoContent},
		{"s1", "POST", fmt.Sprintf("/tickets/%d/reply", tk.ID), http.StatusForbidden},
	}
	clients := map[string]*client{}
	for _, tt := range tests {
		t.Run(tt.user+" "+tt.method+" "+tt.path, func(t *testing.T) {
			c, ok := clients[tt.user]
			if !ok {
				c = h.client(t)
				c.login(tt.user)
				clients[tt.user] = c
			}
			c.t = t
			resp := c.do(tt.method, tt.path, `{"unit":"keyun"}`, "application/json", http.Header{"X-Csrf-Token": {c.csrf}})
			if resp.StatusCode != tt.want {
				t.Fatalf("got status %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}
}

func TestUnitSeesOnlyItsOwnTickets(t *testing.T) {
	h := newHarness(t, console.Config{})
	tk := h.ledger.Open("13812345678", "客运")
	id := int64(tk.ID)
	if err := h.ledger.TransferTo(id, "keyun"); err != nil {
		t.Fatal(err)
	}
	rec := h.ledger.AddRecording(id, "call", []byte("RIFF....WAVEfmt "))

	other := h.client(t)
	other.login("u2") // of wuliu
	for _, path := range []string{fmt.Sprintf("/tickets/%d", id), fmt.Sprintf("/tickets/%d/sheet", id), fmt.Sprintf("/recordings/%d", rec)} {
		t.Run("other unit GET "+path, func(t *testing.T) {
			other.t = t
			resp, body := other.get(path)
			if resp.StatusCode != http.StatusNotFound {
				t.Fatalf("got status %d, want 404", resp.StatusCode)
			}
			if strings.Contains(body, tk.Number) {
				t.Errorf("the page names the ticket %s", tk.Number)
			}
		})
	}
	t.Run("other unit replies", func(t *testing.T) {
		other.t = t
		resp, _ := other.postForm(fmt.Sprintf("/tickets/%d/reply", id), url.Values{"result": {"已处理"}, "attest": {"1"}})
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("got status %d, want 404", resp.StatusCode)
		}
	})
	if got := len(h.ledger.Accesses()); got != 0 {
		t.Fatalf("got %d recording accesses logged for a refused unit, want 0", got)
	}

	own := h.client(t)
	own.login("u1")
	t.Run("own unit", func(t *testing.T) {
		own.t = t
		resp, body := own.get(fmt.Sprintf("/tickets/%d", id))
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, tk.Number) {
			t.Fatalf("got status %d, want 200 with the ticket", resp.StatusCode)
		}
		resp, body = own.get(fmt.Sprintf("/recordings/%d", rec))
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(body, "RIFF") {
			t.Fatalf("got status %d body %q, want the recording", resp.StatusCode, body)
		}
		acc := h.ledger.Accesses()
		if len(acc) != 1 || acc[0].User != "u1" || acc[0].Recording != rec {
			t.Fatalf("got accesses %+v, want one by u1", acc)
		}
		_, list := own.get("/unit")
		if !strings.Contains(list, tk.Number) {
			t.Errorf("the unit's list lacks its ticket %s", tk.Number)
		}
	})
}

func TestCSRFRequired(t *testing.T) {
	h := newHarness(t, console.Config{})
	tk := h.ledger.Open("13812345678", "客运")
	c := h.client(t)
	c.login("a1")
	register := fmt.Sprintf("/tickets/%d/register", tk.ID)
	form := url.Values{"content": {"车辆晚点"}, "kind": {"complaint"}}
	tests := []struct {
		name        string
		path, body  string
		contentType string
		header      http.Header
	}{
		{"form without token", register, form.Encode(), "application/x-www-form-urlencoded", nil},
		{"form with a wrong token", register, form.Encode() + "&csrf=forged", "application/x-www-form-urlencoded", nil},
		{"api without header", fmt.Sprintf("/api/tickets/%d/transfer", tk.ID), `{"unit":"keyun"}`, "application/json", nil},
		{"api from another origin", fmt.Sprintf("/api/tickets/%d/transfer", tk.ID), `{"unit":"keyun"}`, "application/json",
			http.Header{"X-Csrf-Token": {c.csrf}, "Origin": {"http://evil.example"}}},
		{"logout without token", "/logout", "", "application/x-www-form-urlencoded", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			resp := c.do("POST", tt.path, tt.body, tt.contentType, tt.header)
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("got status %d, want 403", resp.StatusCode)
			}
		})
	}
	got, err := h.ledger.Ticket(t.Context(), int64(tk.ID))
	if err != nil {
		t.Fatal(err)
	}
	if got.Content != "" || got.Unit != "" {
		t.Fatalf("got content %q unit %q after refused posts, want nothing changed", got.Content, got.Unit)
	}
	c.t = t
	resp, _ := c.postForm(register, form)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("with the token: got status %d, want 303", resp.StatusCode)
	}
}

func TestScriptInContentShownAsText(t *testing.T) {
	h := newHarness(t, console.Config{})
	tk := h.ledger.Open("13812345678", "客运")
	c := h.client(t)
	c.login("a1")
	evil := `<script>alert("x")</script><img src=x onerror=alert(1)>`
	resp, _ := c.postForm(fmt.Sprintf("/tickets/%d/register", tk.ID), url.Values{"content": {evil}, "name": {"<b>x</b>"}, "kind": {"complaint"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("got status %d, want 303", resp.StatusCode)
	}
	for _, path := range []string{fmt.Sprintf("/tickets/%d", tk.ID), fmt.Sprintf("/agent/panel/%d", tk.ID)} {
		t.Run(path, func(t *testing.T) {
			c.t = t
			_, body := c.get(path)
			if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") {
				t.Fatalf("the page carries the markup unescaped")
			}
			if !strings.Contains(body, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
				t.Errorf("the page lacks the escaped text")
			}
		})
	}
}

func TestCookiesAndHeaders(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprintf("secure=%v", secure), func(t *testing.T) {
			h := newHarness(t, console.Config{SecureCookies: secure})
			c := h.client(t)
			c.login("a1")
			u, _ := url.Parse(h.srv.URL)
			_ = u
			resp := c.do("GET", "/login", "", "", nil)
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
				t.Errorf("got CSP %q, want scripts from self only", csp)
			}
			// Log in again to see the Set-Cookie of the session.
			_, body := c.get("/login")
			m := csrfInput.FindStringSubmatch(body)
			resp = c.do("POST", "/login", url.Values{"csrf": {m[1]}, "name": {"a1"}, "password": {password}}.Encode(), "application/x-www-form-urlencoded", nil)
			var found bool
			for _, ck := range resp.Cookies() {
				if ck.Name != "hotline_session" {
					continue
				}
				found = true
				if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Secure != secure {
					t.Errorf("got cookie HttpOnly=%v SameSite=%v Secure=%v, want true, Strict, %v", ck.HttpOnly, ck.SameSite, ck.Secure, secure)
				}
			}
			if !found {
				t.Fatal("no session cookie set")
			}
		})
	}
}

func TestLoginRateLimited(t *testing.T) {
	h := newHarness(t, console.Config{LoginAttempts: 3})
	c := h.client(t)
	for i := range 3 {
		if got := c.tryLogin("a1", "wrong password!"); got != http.StatusUnauthorized {
			t.Fatalf("attempt %d: got status %d, want 401", i+1, got)
		}
	}
	if got := c.tryLogin("a1", password); got != http.StatusTooManyRequests {
		t.Fatalf("after 3 failures, the right password: got status %d, want 429", got)
	}
	if got := h.client(t).tryLogin("nobody", password); got != http.StatusTooManyRequests {
		t.Fatalf("another name from the same address: got status %d, want 429", got)
	}
}

func TestSecondReplyRefused(t *testing.T) {
	h := newHarness(t, console.Config{})
	tk := h.ledger.Open("13812345678", "客运")
	id := int64(tk.ID)
	if err := h.ledger.TransferTo(id, "keyun"); err != nil {
		t.Fatal(err)
	}
	c := h.client(t)
	c.login("u1")
	path := fmt.Sprintf("/tickets/%d/reply", id)
	t.Run("without attestation", func(t *testing.T) {
		c.t = t
		resp, body := c.postForm(path, url.Values{"result": {"已向乘客致歉"}, "cctv": {"1"}})
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "未以金钱") {
			t.Fatalf("got status %d, want 400 asking for the attestation", resp.StatusCode)
		}
	})
	t.Run("first", func(t *testing.T) {
		c.t = t
		resp, _ := c.postForm(path, url.Values{"result": {"已向乘客致歉"}, "cctv": {"1"}, "attest": {"1"}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("got status %d, want 303", resp.StatusCode)
		}
	})
	t.Run("second", func(t *testing.T) {
		c.t = t
		resp, body := c.postForm(path, url.Values{"result": {"再次回复"}, "attest": {"1"}})
		if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "不能重复回复") {
			t.Fatalf("got status %d, want 409 saying it was already replied", resp.StatusCode)
		}
	})
	got, _ := h.ledger.Ticket(t.Context(), id)
	if len(got.Replies) != 1 || !got.Replies[0].CCTVPreserved || got.Replies[0].Result != "已向乘客致歉" {
		t.Fatalf("got replies %+v, want the first one only", got.Replies)
	}
}

// TestUnitsAndLinesNamed: pages name units and business lines as people
// know them, not by the ids the ledger stores.
func TestUnitsAndLinesNamed(t *testing.T) {
	h := newHarness(t, console.Config{LineNames: map[string]string{"passenger": "客运"}})
	tk := h.ledger.Open("13812345678", "passenger")
	id := int64(tk.ID)
	if err := h.ledger.TransferTo(id, "keyun"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		user, path string
		want       []string
	}{
		{"s1", fmt.Sprintf("/tickets/%d", id), []string{`<dd id="ticket-unit">客运营销部</dd>`, "客运"}},
		{"s1", "/supervisor", []string{"<td>客运营销部</td>", "<td>客运</td>"}},
		{"u1", "/unit", []string{"责任单位工作台 · 客运营销部"}},
	} {
		t.Run(tc.user+" "+tc.path, func(t *testing.T) {
			c := h.client(t)
			c.login(tc.user)
			resp, body := c.get(tc.path)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
		})
	}
}
