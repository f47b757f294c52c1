package aritest

import (
	"bufio"
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
