package callback

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHandler(t *testing.T) {
	store := NewMemStore()
	kicks := 0
	h := NewHandler(store, func() time.Time { return monday10 }, func() { kicks++ }, nil)
	mux := http.NewServeMux()
	mux.Handle("/api/callbacks/", http.StripPrefix("/api/callbacks", h))
	mux.Handle("/api/callbacks", http.StripPrefix("/api/callbacks", h))

	do := func(method, path, body string) *httptest.ResponseRecorder {
		t.Helper()
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
		return rec
	}
	valid := `{"ticket_id":5,"kind":"survey","number":"13812345678","due":"2026-12-03T10:00:00+08:00"}`

	steps := []struct {
		name       string
		method     string
		path       string
		body       string
		wantStatus int
		wantBody   string
	}{
		{name: "schedule", method: "POST", path: "/api/callbacks", body: valid, wantStatus: 201, wantBody: `"state":"scheduled"`},
		{name: "second survey refused", method: "POST", path: "/api/callbacks/", body: valid, wantStatus: 409},
		{name: "bad kind", method: "POST", path: "/api/callbacks", body: `{"ticket_id":5,"kind":"x","number":"1","due":"2026-12-03T10:00:00Z"}`, wantStatus: 400, wantBody: "kind"},
		{name: "bad number", method: "POST", path: "/api/callbacks", body: `{"ticket_id":6,"kind":"return","number":"1@evil","due":"2026-12-03T10:00:00Z"}`, wantStatus: 400, wantBody: "number"},
		{name: "unknown field", method: "POST", path: "/api/callbacks", body: `{"ticket":5}`, wantStatus: 400},
		{name: "not json", method: "POST", path: "/api/callbacks", body: `{`, wantStatus: 400},
		{name: "list", method: "GET", path: "/api/callbacks?state=scheduled", wantStatus: 200, wantBody: `"ticket_id":5`},
		{name: "list bad state", method: "GET", path: "/api/callbacks?state=sleeping", wantStatus: 400},
		{name: "get", method: "GET", path: "/api/callbacks/1", wantStatus: 200, wantBody: `"number":"13812345678"`},
		{name: "get missing", method: "GET", path: "/api/callbacks/99", wantStatus: 404},
		{name: "cancel", method: "DELETE", path: "/api/callbacks/1", wantStatus: 204},
		{name: "cancel twice", method: "DELETE", path: "/api/callbacks/1", wantStatus: 409},
		{name: "cancel missing", method: "DELETE", path: "/api/callbacks/42", wantStatus: 404},
		{name: "bad id", method: "DELETE", path: "/api/callbacks/abc", wantStatus: 404},
		{name: "wrong method", method: "PUT", path: "/api/callbacks", wantStatus: 405},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			rec := do(s.method, s.path, s.body)
			if rec.Code != s.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", rec.Code, s.wantStatus, rec.Body)
			}
			if !strings.Contains(rec.Body.String(), s.wantBody) {
				t.Errorf("body = %s, want it to contain %s", rec.Body, s.wantBody)
			}
		})
	}
	if kicks != 1 {
		t.Errorf("dialer kicked %d times, want 1", kicks)
	}
	var list []Callback
	if err := json.Unmarshal(do("GET", "/api/callbacks?state=cancelled", "").Body.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].State != StateCancelled {
		t.Errorf("cancelled list = %+v, want the one cancelled callback", list)
	}
}
