package ari

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestHTTPPool(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "Basic dTpw" {
			http.Error(w, `{"message":"Authentication required"}`, http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/ari/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/ari/chunked":
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"value":"`))
			w.(http.Flusher).Flush() // no Content-Length: chunked
			w.Write([]byte(strings.Repeat("x", 5000) + `"}`))
		case "/ari/echo":
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"value":"` + r.URL.Query().Get("v") + `"}`))
		case "/ari/slow":
			<-r.Context().Done()
		}
	}))
	defer srv.Close()
	cfg := Config{URL: srv.URL + "/ari", Username: "u", Password: "p", RequestTimeout: 2 * time.Second}
	if err := cfg.Init(); err != nil {
		t.Fatal(err)
	}
	c := newRESTClient(&cfg)
	ctx := context.Background()
	var v struct{ Value string }

	t.Run("no body", func(t *testing.T) {
		if err := c.do(ctx, "POST", "/empty", nil, nil, nil); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("chunked answer", func(t *testing.T) {
		if err := c.do(ctx, "GET", "/chunked", nil, nil, &v); err != nil || len(v.Value) != 5000 {
			t.Fatalf("got %d bytes, %v", len(v.Value), err)
		}
	})
	t.Run("server closed the idle connection", func(t *testing.T) {
		srv.CloseClientConnections()
		if err := c.do(ctx, "GET", "/echo", url.Values{"v": {"again"}}, nil, &v); err != nil || v.Value != "again" {
			t.Fatalf("got %q, %v", v.Value, err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		err := c.do(short, "GET", "/slow", nil, nil, nil)
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrUnreachable) {
			t.Fatalf("err = %v, want a deadline", err)
		}
		// the pool still works
		if err := c.do(ctx, "GET", "/echo", url.Values{"v": {"after"}}, nil, &v); err != nil || v.Value != "after" {
			t.Fatalf("got %q, %v", v.Value, err)
		}
	})
	t.Run("refused credentials", func(t *testing.T) {
		bad := cfg
		bad.Password = "wrong"
		err := newRESTClient(&bad).do(ctx, "GET", "/echo", nil, nil, nil)
		var he *HTTPError
		if !errors.Is(err, ErrUnauthorized) || !errors.As(err, &he) || he.Message != "Authentication required" {
			t.Fatalf("err = %v, want 401 with its message", err)
		}
	})
}
