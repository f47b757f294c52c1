package ari

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
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
	bw   *bufio.Writer
	used time.Time
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
func (p *httpPool) get(ctx context.Context) (hc *httpConn, reused bool, err error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, false, ctx.Err()
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
	c, err := p.dialer.DialContext(ctx, "tcp", p.host)
	if err != nil {
		<-p.slots
		return nil, false, err
	}
	if p.useTLS {
		tc := tls.Client(c, p.tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = c.Close()
			<-p.slots
			return nil, false, err
		}
		c = tc
	}
	return &httpConn{c: c, br: bufio.NewReaderSize(c, 16<<10), bw: bufio.NewWriterSize(c, 4<<10)}, false, nil
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

// roundTrip sends one request and reads the answer, within ctx.
func (p *httpPool) roundTrip(ctx context.Context, method, target, auth string, payload []byte) (status int, body []byte, err error) {
	for attempt := 0; ; attempt++ {
		hc, reused, err := p.get(ctx)
		if err != nil {
			return 0, nil, err
		}
		status, body, keep, err := p.exchange(ctx, hc, method, target, auth, payload)
		if err != nil {
			p.discard(hc)
			// An idle connection the server closed meanwhile fails before
			// any answer: the request never reached it, send it again.
			if reused && attempt == 0 && ctx.Err() == nil && stale(err) {
				continue
			}
			if ctx.Err() != nil {
				return 0, nil, ctx.Err()
			}
			return 0, nil, err
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

// longAgo is a deadline in the past: it interrupts a blocked read or write.
var longAgo = time.Unix(1, 0)

func (p *httpPool) exchange(ctx context.Context, hc *httpConn, method, target, auth string, payload []byte) (int, []byte, bool, error) {
	if d, ok := ctx.Deadline(); ok {
		// a backstop: ctx's end interrupts first (below), so that the
		// error says the deadline passed
		_ = hc.c.SetDeadline(d.Add(time.Second))
	} else {
		_ = hc.c.SetDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { _ = hc.c.SetDeadline(longAgo) })
	defer stop()

	w := hc.bw
	w.WriteString(method)
	w.WriteByte(' ')
	w.WriteString(target)
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(p.host)
	w.WriteString("\r\nAuthorization: ")
	w.WriteString(auth)
	w.WriteString("\r\nAccept: application/json\r\n")
	if payload != nil {
		w.WriteString("Content-Type: application/json\r\n")
	}
	if payload != nil || method == "POST" || method == "PUT" {
		w.WriteString("Content-Length: ")
		w.WriteString(strconv.Itoa(len(payload)))
		w.WriteString("\r\n")
	}
	w.WriteString("\r\n")
	w.Write(payload)
	if err := w.Flush(); err != nil {
		return 0, nil, false, fmt.Errorf("send: %w", err)
	}
	resp, err := http.ReadResponse(hc.br, nil)
	if err != nil {
		return 0, nil, false, fmt.Errorf("read answer: %w", err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	_ = resp.Body.Close()
	if err != nil {
		return 0, nil, false, fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, body, !resp.Close, nil
}
