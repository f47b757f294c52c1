package ari

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestHTTPPool(t *testing.T) {
	held := make(chan struct{}, 1) // a request reached /hold
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
		case "/ari/hold":
			held <- struct{}{}
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
		if err := c.do(ctx, "GET", "/echo", query{"v", "again"}, nil, &v); err != nil || v.Value != "again" {
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
		if err := c.do(ctx, "GET", "/echo", query{"v", "after"}, nil, &v); err != nil || v.Value != "after" {
			t.Fatalf("got %q, %v", v.Value, err)
		}
	})
	t.Run("cancelled while waiting", func(t *testing.T) {
		// past quickAnswer: the wait watches the context
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- c.do(cctx, "GET", "/hold", nil, nil, nil) }()
		<-held
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want cancelled", err)
			}
		case <-time.After(time.Second): // RequestTimeout is 2s
			t.Fatal("the request did not end with its context")
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

func TestReadResponse(t *testing.T) {
	for _, tc := range []struct {
		name, in   string
		status     int
		body       string
		keep, fail bool
	}{
		{name: "asterisk 200", in: "HTTP/1.1 200 OK\r\nServer: Asterisk/22.10.1\r\nDate: Sun, 29 Nov 2026 20:13:22 GMT\r\nConnection: Keep-Alive\r\nCache-Control: no-cache, no-store\r\nContent-Length: 14\r\nContent-type: application/json\r\n\r\n{\"value\":\"x\"}\n",
			status: 200, body: "{\"value\":\"x\"}\n", keep: true},
		{name: "asterisk 204", in: "HTTP/1.1 204 No Content\r\nServer: Asterisk/22.10.1\r\nContent-Length: 0\r\n\r\n", status: 204, keep: true},
		{name: "204 without length", in: "HTTP/1.1 204 No Content\r\n\r\n", status: 204, keep: true},
		{name: "no reason phrase, bare LF", in: "HTTP/1.1 404\nContent-Length: 2\n\n{}", status: 404, body: "{}", keep: true},
		{name: "connection close", in: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}", status: 200, body: "{}"},
		{name: "http/1.0 keep-alive", in: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n{}", status: 200, body: "{}", keep: true},
		{name: "http/1.0", in: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}", status: 200, body: "{}"},
		{name: "chunked with trailer", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n", status: 200, body: "abcde", keep: true},
		{name: "until close", in: "HTTP/1.1 200 OK\r\n\r\nall of it", status: 200, body: "all of it"},
		{name: "interim answer first", in: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx", status: 201, body: "x", keep: true},
		{name: "not http", in: "SSH-2.0-OpenSSH\r\n\r\n", fail: true},
		{name: "bad status", in: "HTTP/1.1 2x0 OK\r\n\r\n", fail: true},
		{name: "bad length", in: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", fail: true},
		{name: "two lengths", in: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx", fail: true},
		{name: "short body", in: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nxx", fail: true},
		{name: "cut in the headers", in: "HTTP/1.1 200 OK\r\nContent-Le", fail: true},
		{name: "header without colon", in: "HTTP/1.1 200 OK\r\nbroken\r\n\r\n", fail: true},
		{name: "too large", in: "HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", fail: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body, keep, err := readResponse(bufio.NewReader(strings.NewReader(tc.in)), nil)
			if tc.fail {
				if err == nil {
					t.Fatalf("got %d %q, want an error", status, body)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if status != tc.status || string(body) != tc.body || keep != tc.keep {
				t.Errorf("got %d %q keep=%v, want %d %q keep=%v", status, body, keep, tc.status, tc.body, tc.keep)
			}
		})
	}
}

// FuzzReadResponse: never a panic, and where net/http reads the same
// bytes as an answer, the same status and body.
func FuzzReadResponse(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"))
	f.Add([]byte("HTTP/1.0 404 Not Found\r\nConnection: keep-alive, x\r\n\r\nbody"))
	f.Fuzz(func(t *testing.T, in []byte) {
		status, body, _, err := readResponse(bufio.NewReader(bytes.NewReader(in)), nil)
		resp, herr := http.ReadResponse(bufio.NewReader(bytes.NewReader(in)), nil)
		if err != nil || herr != nil {
			return
		}
		hbody, herr := io.ReadAll(resp.Body)
		if herr != nil {
			return
		}
		if status != resp.StatusCode || !bytes.Equal(body, hbody) {
			t.Errorf("got %d %q, net/http %d %q", status, body, resp.StatusCode, hbody)
		}
	})
}

func TestAppendQuery(t *testing.T) {
	q := query{"media", "sound:hotline/menu", "lang", "zh", "x y", "a&b=c+d/é~"}
	want := url.Values{}
	for i := 0; i < len(q); i += 2 {
		want.Set(q[i], q[i+1])
	}
	got, err := url.ParseQuery(string(appendQuery(nil, q)))
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %v (%v), want %v", got, err, want)
	}
	if s := string(appendQuery(nil, q[:2])); s != "media=sound%3Ahotline%2Fmenu" {
		t.Errorf("got %s, want it as url.QueryEscape", s)
	}
}
