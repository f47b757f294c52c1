package ari

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// httpPool sends ARI's REST requests over a bounded pool of kept-alive
// HTTP/1.1 connections, one request at a time per connection, on the
// caller's goroutine. ARI needs nothing more of HTTP, and net/http's
// client, with two goroutines per connection and a hand-off per request,
// cost more CPU than all the rest of the backend under load.
type httpPool struct {
	host      string // host:port
	useTLS    bool
	tlsConfig *tls.Config
	dialer    net.Dialer
	maxIdle   time.Duration // an idle connection older than this is not reused

	slots chan struct{} // one per open connection: bounds them
	mu    sync.Mutex
	idle  []*httpConn
}

type httpConn struct {
	c    net.Conn
	br   *bufio.Reader
	used time.Time
	out  []byte // the request being sent, reused
	body []byte // the answer's body, reused
}

// request is one REST request. (Its deadline travels beside it: a
// time.Time handed to the connection would make the escape analysis move
// every request, and its query, to the heap.)
type request struct {
	method, prefix, path string
	query                query
	auth                 string
	payload              []byte
}

// maxConns bounds the connections to Asterisk: past it requests wait for
// a free one, which costs less than opening (and closing) more.
const maxConns = 64

func newHTTPPool(u *url.URL) *httpPool {
	host := u.Host
	if u.Port() == "" {
		if u.Scheme == "https" {
			host += ":443"
		} else {
			host += ":80"
		}
	}
	return &httpPool{
		host:      host,
		useTLS:    u.Scheme == "https",
		tlsConfig: &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12},
		dialer:    net.Dialer{KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 10 * time.Second, Interval: 5 * time.Second, Count: 3}},
		maxIdle:   10 * time.Second, // Asterisk closes idle sessions after 15 s by default
		slots:     make(chan struct{}, maxConns),
	}
}

// get takes a connection: an idle one, or a new one.
func (p *httpPool) get(ctx context.Context, deadline time.Time) (hc *httpConn, reused bool, err error) {
	select {
	case p.slots <- struct{}{}:
	default: // all busy: wait, bounded
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		select {
		case p.slots <- struct{}{}:
		case <-t.C:
			return nil, false, context.DeadlineExceeded
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
	now := time.Now()
	p.mu.Lock()
	for len(p.idle) > 0 {
		hc = p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if now.Sub(hc.used) < p.maxIdle {
			p.mu.Unlock()
			return hc, true, nil
		}
		_ = hc.c.Close()
	}
	p.mu.Unlock()
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	c, err := p.dialer.DialContext(dctx, "tcp", p.host)
	if err != nil {
		<-p.slots
		return nil, false, err
	}
	if p.useTLS {
		tc := tls.Client(c, p.tlsConfig)
		if err := tc.HandshakeContext(dctx); err != nil {
			_ = c.Close()
			<-p.slots
			return nil, false, err
		}
		c = tc
	}
	return &httpConn{c: c, br: bufio.NewReaderSize(c, 16<<10)}, false, nil
}

// put returns a connection that can carry another request.
func (p *httpPool) put(hc *httpConn) {
	hc.used = time.Now()
	p.mu.Lock()
	p.idle = append(p.idle, hc)
	p.mu.Unlock()
	<-p.slots
}

// discard closes a connection that cannot be reused.
func (p *httpPool) discard(hc *httpConn) {
	_ = hc.c.Close()
	<-p.slots
}

// roundTrip sends one request and reads the answer, within ctx and
// deadline. The body is returned for an error status, or when
// wantBody.
func (p *httpPool) roundTrip(ctx context.Context, r *request, deadline time.Time, wantBody bool) (status int, body []byte, err error) {
	for attempt := 0; ; attempt++ {
		hc, reused, err := p.get(ctx, deadline)
		if err != nil {
			return 0, nil, err
		}
		status, data, keep, err := p.exchange(ctx, hc, r, deadline)
		if err != nil {
			p.discard(hc)
			if ctx.Err() != nil {
				return 0, nil, ctx.Err()
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return 0, nil, context.DeadlineExceeded
			}
			// An idle connection the server closed meanwhile fails before
			// any answer: the request never reached it, send it again.
			if reused && attempt == 0 && stale(err) {
				continue
			}
			return 0, nil, err
		}
		if status >= 300 || wantBody {
			body = bytes.Clone(data)
		}
		if keep {
			p.put(hc)
		} else {
			p.discard(hc)
		}
		return status, body, nil
	}
}

func stale(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// quickAnswer is how long a request waits for the start of its answer
// before it watches its context for cancellation.
const quickAnswer = 5 * time.Millisecond

// longAgo is a deadline in the past: it interrupts a blocked read or write.
var longAgo = time.Unix(1, 0)

// exchange writes the request and reads the answer on hc. The body is in
// hc's buffer: valid until hc's next request.
func (p *httpPool) exchange(ctx context.Context, hc *httpConn, r *request, deadline time.Time) (int, []byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return 0, nil, false, err
	}
	_ = hc.c.SetDeadline(deadline)

	// the whole request, built in the connection's buffer, in one write
	b := append(hc.out[:0], r.method...)
	b = append(b, ' ')
	b = append(b, r.prefix...)
	b = append(b, r.path...)
	if len(r.query) > 0 {
		b = append(b, '?')
		b = appendQuery(b, r.query)
	}
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, p.host...)
	b = append(b, "\r\nAuthorization: "...)
	b = append(b, r.auth...)
	b = append(b, "\r\nAccept: application/json\r\n"...)
	if r.payload != nil {
		b = append(b, "Content-Type: application/json\r\n"...)
	}
	if r.payload != nil || r.method == "POST" || r.method == "PUT" {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(r.payload)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = append(b, r.payload...)
	hc.out = b
	if _, err := hc.c.Write(b); err != nil {
		return 0, nil, false, fmt.Errorf("send: %w", err)
	}
	if ctx.Done() != nil {
		// ctx's end interrupts the wait for the answer. Most answers come
		// within a few milliseconds, so only a request still waiting after
		// quickAnswer registers for it (that costs allocations).
		if quick := time.Now().Add(quickAnswer); quick.Before(deadline) {
			_ = hc.c.SetReadDeadline(quick)
			_, err := hc.br.Peek(1)
			switch {
			case err == nil:
			case errors.Is(err, os.ErrDeadlineExceeded):
				if ctx.Err() != nil {
					return 0, nil, false, ctx.Err()
				}
			default:
				return 0, nil, false, fmt.Errorf("read answer: %w", err)
			}
			_ = hc.c.SetReadDeadline(deadline)
		}
		if hc.br.Buffered() == 0 {
			stop := context.AfterFunc(ctx, func() { _ = hc.c.SetDeadline(longAgo) })
			defer stop()
		}
	}
	status, body, keep, err := readResponse(hc.br, hc.body[:0])
	hc.body = body[:0]
	if err != nil {
		return 0, nil, false, fmt.Errorf("read answer: %w", err)
	}
	return status, body, keep, nil
}

// maxBody bounds an answer's body; ARI's are a few kB.
const maxBody = 8 << 20

var errBadAnswer = errors.New("malformed HTTP answer")

// readLine reads one header line without its CRLF; it is valid until the
// next read from br.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("%w: header line too long", errBadAnswer)
	}
	if err != nil {
		if errors.Is(err, io.EOF) && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// readResponse reads one HTTP/1.x answer from br, appending its body to
// buf. keep reports whether the connection can carry another request.
// It reads what Asterisk's HTTP server sends (and chunked answers, and
// answers ended by closing) and no more of HTTP: net/http's parser
// allocated a header map and readers for every answer.
func readResponse(br *bufio.Reader, buf []byte) (status int, body []byte, keep bool, err error) {
	body = buf
	for {
		line, err := readLine(br)
		if err != nil {
			return 0, body, false, err
		}
		// HTTP/1.1 200 OK
		if len(line) < 12 || string(line[:7]) != "HTTP/1." || (line[7] != '0' && line[7] != '1') ||
			line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
			return 0, body, false, fmt.Errorf("%w: status line %.40q", errBadAnswer, line)
		}
		http10 := line[7] == '0'
		keep = !http10
		status = 0
		for _, c := range line[9:12] {
			if !isDigit(c) {
				return 0, body, false, fmt.Errorf("%w: status line %.40q", errBadAnswer, line)
			}
			status = status*10 + int(c-'0')
		}
		if status < 100 {
			return 0, body, false, fmt.Errorf("%w: status %d", errBadAnswer, status)
		}
		length, chunked := int64(-1), false
		for {
			line, err := readLine(br)
			if err != nil {
				return 0, body, false, err
			}
			if len(line) == 0 {
				break
			}
			name, value, ok := bytes.Cut(line, []byte{':'})
			if !ok {
				return 0, body, false, fmt.Errorf("%w: header %.40q", errBadAnswer, line)
			}
			value = bytes.TrimSpace(value)
			switch {
			case bytes.EqualFold(name, []byte("Content-Length")):
				n, err := strconv.ParseInt(string(value), 10, 64)
				if err != nil || n < 0 || (length >= 0 && n != length) {
					return 0, body, false, fmt.Errorf("%w: Content-Length %.40q", errBadAnswer, value)
				}
				length = n
			case bytes.EqualFold(name, []byte("Transfer-Encoding")):
				chunked = bytes.EqualFold(value, []byte("chunked"))
				if !chunked && !bytes.EqualFold(value, []byte("identity")) {
					return 0, body, false, fmt.Errorf("%w: Transfer-Encoding %.40q", errBadAnswer, value)
				}
			case bytes.EqualFold(name, []byte("Connection")):
				for _, tok := range bytes.Split(value, []byte{','}) {
					switch tok = bytes.TrimSpace(tok); {
					case bytes.EqualFold(tok, []byte("close")):
						keep = false
					case bytes.EqualFold(tok, []byte("keep-alive")) && http10:
						keep = true
					}
				}
			}
		}
		if status < 200 {
			continue // an interim answer; the real one follows
		}
		switch {
		case status == 204 || status == 304:
		case chunked:
			body, err = readAll(httputil.NewChunkedReader(br), body)
			if err != nil {
				return 0, body, false, err
			}
			for { // trailers, up to the empty line
				line, err := readLine(br)
				if err != nil {
					return 0, body, false, err
				}
				if len(line) == 0 {
					break
				}
			}
		case length >= 0:
			if length > maxBody {
				return 0, body, false, fmt.Errorf("%w: body of %d bytes", errBadAnswer, length)
			}
			n := len(body)
			body = growTo(body, n+int(length))
			if _, err := io.ReadFull(br, body[n:]); err != nil {
				if errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				return 0, body, false, err
			}
		default: // the body ends with the connection
			keep = false
			if body, err = readAll(br, body); err != nil {
				return 0, body, false, err
			}
		}
		return status, body, keep, nil
	}
}

// readAll appends r's data to b, up to maxBody.
func readAll(r io.Reader, b []byte) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if len(b) > maxBody {
			return b, fmt.Errorf("%w: body over %d bytes", errBadAnswer, maxBody)
		}
		if errors.Is(err, io.EOF) {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}
