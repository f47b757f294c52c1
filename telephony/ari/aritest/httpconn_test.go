package aritest

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestHTTPConn sends requests one after the other on one connection and
// checks the answers, as a client of Asterisk sees them.
func TestHTTPConn(t *testing.T) {
	srv, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	const auth = "Authorization: Basic aG90bGluZTpob3RsaW5lLXNlY3JldA==\r\n"
	for _, tc := range []struct {
		name, req string
		status    int
		header    string // name: value the answer carries
		body      string // a part of the body
		closes    bool
	}{
		{name: "info", req: "GET /ari/asterisk/info HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n", status: 200,
			header: "Content-Type: application/json", body: `"entity_id":"00:00:00:00:00:00"`},
		{name: "no credentials", req: "GET /ari/asterisk/info HTTP/1.1\r\nHost: x\r\n\r\n", status: 401,
			header: `Www-Authenticate: Basic realm="Asterisk REST Interface"`, body: "Authentication required"},
		{name: "json body", req: "POST /ari/channels/nope/variable HTTP/1.1\r\nHost: x\r\n" + auth +
			"Content-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"variable\":\"\"}", status: 404, body: "Channel not found"},
		{name: "chunked body", req: "POST /ari/channels/nope/answer HTTP/1.1\r\nHost: x\r\n" + auth +
			"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", status: 404},
		{name: "no content", req: "DELETE /ari/recordings/stored/none HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n", status: 404},
		{name: "events without app", req: "GET /ari/events HTTP/1.1\r\nHost: x\r\n\r\n", status: 400, header: "Content-Type: text/html"},
		{name: "close asked", req: "GET /ari/asterisk/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + auth + "\r\n", status: 200,
			body: "pong", closes: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := io.WriteString(c, tc.req); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if name, value, ok := strings.Cut(tc.header, ": "); ok && resp.Header.Get(name) != value {
				t.Errorf("%s: %q, want %q", name, resp.Header.Get(name), value)
			}
			if !strings.Contains(string(body), tc.body) {
				t.Errorf("body %s, want it to hold %s", body, tc.body)
			}
			if resp.Close != tc.closes {
				t.Errorf("close %v, want %v", resp.Close, tc.closes)
			}
		})
	}
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Errorf("after Connection: close: %v, want EOF", err)
	}
}

// FuzzReadRequest: any bytes read as a request or fail, never a panic,
// and a REST request net/http reads the same way reads the same.
func FuzzReadRequest(f *testing.F) {
	f.Add([]byte("POST /ari/channels/1.2/play?media=sound%3Ax&lang=zh HTTP/1.1\r\nHost: h\r\nAuthorization: Basic eDp5\r\nContent-Length: 0\r\n\r\n"))
	f.Add([]byte("POST /ari/channels HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"))
	f.Add([]byte("GET /ari/events?app=hotline HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"))
	f.Add([]byte("DELETE /ari/playbacks/p1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		w := &respWriter{br: bufio.NewReader(bytes.NewReader(in))}
		var rq request
		req, err := w.read(&rq)
		want, herr := http.ReadRequest(bufio.NewReader(bytes.NewReader(in)))
		if err != nil || herr != nil || req != nil {
			return
		}
		body, herr := io.ReadAll(want.Body)
		if herr != nil || want.Header.Get("Content-Length") == "" && want.Header.Get("Transfer-Encoding") == "" && len(body) > 0 {
			return
		}
		if rq.method != want.Method || rq.path != want.URL.EscapedPath() && rq.path != want.URL.RawPath ||
			rq.query != want.URL.RawQuery || rq.auth != want.Header.Get("Authorization") || !bytes.Equal(rq.body, body) {
			t.Errorf("read %q:\ngot  %s %s ? %s auth %q body %q\nwant %s %s ? %s auth %q body %q", in,
				rq.method, rq.path, rq.query, rq.auth, rq.body,
				want.Method, want.URL.EscapedPath(), want.URL.RawQuery, want.Header.Get("Authorization"), body)
		}
	})
}
