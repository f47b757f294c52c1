package ari

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// wsConn is the client end of the events WebSocket (RFC 6455), as much of
// it as ARI needs: it reads whole messages into one buffer it reuses,
// answers pings and closes. (golang.org/x/net/websocket allocated each
// message anew and a frame reader per frame; at thousands of events a
// second that was most of the garbage of the event path.)
type wsConn struct {
	c   net.Conn
	br  *bufio.Reader
	msg []byte   // the message being read; reused
	hdr [14]byte // a frame's header

	wmu    sync.Mutex // writes: pong, close
	closed bool
}

// errMessageTooLarge: a message past maxFrame was skipped; the
// connection goes on.
var errMessageTooLarge = errors.New("websocket message too large: skipped")

// errProtocol: the server broke RFC 6455; the connection ends.
var errProtocol = errors.New("websocket protocol error")

// wsGUID is RFC 6455's key suffix.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// dialWS opens a WebSocket to rawURL (ws:// or wss://) within ctx.
func dialWS(ctx context.Context, dialer *net.Dialer, rawURL string, header http.Header) (*wsConn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	host := u.Host
	if u.Port() == "" {
		if u.Scheme == "wss" {
			host += ":443"
		} else {
			host += ":80"
		}
	}
	c, err := dialer.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			_ = c.Close()
		}
	}()
	if d, has := ctx.Deadline(); has {
		_ = c.SetDeadline(d)
	}
	raw := c
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(longAgo) })
	defer stop()
	if u.Scheme == "wss" {
		tc := tls.Client(c, &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12})
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, err
		}
		c = tc
	}
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	var b strings.Builder
	b.WriteString("GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
		"\r\nSec-WebSocket-Version: 13\r\nOrigin: http://localhost/\r\n")
	for k, vs := range header {
		for _, v := range vs {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(c, b.String()); err != nil {
		return nil, ctxErr(ctx, err)
	}
	br := bufio.NewReaderSize(c, 64<<10)
	resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	if err != nil {
		return nil, ctxErr(ctx, err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("websocket handshake: %s", resp.Status)
	}
	sum := sha1.Sum([]byte(key + wsGUID))
	if !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") ||
		resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]) {
		return nil, errors.New("websocket handshake: not a websocket answer")
	}
	if !stop() {
		return nil, ctx.Err()
	}
	_ = c.SetDeadline(time.Time{})
	ok = true
	return &wsConn{c: c, br: br}, nil
}

// ctxErr prefers ctx's error to the I/O error it caused.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// next reads the next text or binary message. The slice is valid until
// the next call. A message longer than max is skipped and reported as
// errMessageTooLarge; any other error ends the connection.
func (w *wsConn) next(max int) ([]byte, error) {
	w.msg = w.msg[:0]
	inMessage, skipping := false, false
	for {
		h := w.hdr[:]
		if _, err := io.ReadFull(w.br, h[:2]); err != nil {
			return nil, err
		}
		fin, op := h[0]&0x80 != 0, h[0]&0x0f
		if h[0]&0x70 != 0 {
			return nil, w.fail(1002, "reserved bits set")
		}
		masked := h[1]&0x80 != 0
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			if _, err := io.ReadFull(w.br, h[2:4]); err != nil {
				return nil, err
			}
			n = uint64(binary.BigEndian.Uint16(h[2:4]))
		case 127:
			if _, err := io.ReadFull(w.br, h[2:10]); err != nil {
				return nil, err
			}
			n = binary.BigEndian.Uint64(h[2:10])
			if n > 1<<62 {
				return nil, w.fail(1002, "bad length")
			}
		}
		var mask []byte
		if masked { // servers do not mask; tolerate it
			if _, err := io.ReadFull(w.br, h[10:14]); err != nil {
				return nil, err
			}
			mask = h[10:14]
		}
		if op >= 8 { // control frames: at most 125 bytes, not fragmented
			if n > 125 || !fin {
				return nil, w.fail(1002, "bad control frame")
			}
			var p [125]byte
			if _, err := io.ReadFull(w.br, p[:n]); err != nil {
				return nil, err
			}
			unmask(p[:n], mask)
			switch op {
			case 8:
				code := []byte(nil)
				if n >= 2 {
					code = p[:2]
				}
				_ = w.write(8, code)
				return nil, io.EOF
			case 9:
				if err := w.write(10, p[:n]); err != nil {
					return nil, err
				}
			case 10:
			default:
				return nil, w.fail(1002, "unknown control frame")
			}
			continue
		}
		switch {
		case op == 0 && !inMessage:
			return nil, w.fail(1002, "continuation without a message")
		case (op == 1 || op == 2) && inMessage:
			return nil, w.fail(1002, "message inside a message")
		case op > 2:
			return nil, w.fail(1002, "unknown opcode")
		}
		inMessage = true
		if skipping || uint64(len(w.msg))+n > uint64(max) {
			skipping = true
			if _, err := w.br.Discard(int(n)); err != nil {
				return nil, err
			}
		} else {
			start := len(w.msg)
			w.msg = growTo(w.msg, start+int(n))
			if _, err := io.ReadFull(w.br, w.msg[start:]); err != nil {
				return nil, err
			}
			unmask(w.msg[start:], mask)
		}
		if fin {
			if skipping {
				return nil, errMessageTooLarge
			}
			return w.msg, nil
		}
	}
}

func growTo(b []byte, n int) []byte {
	if n <= cap(b) {
		return b[:n]
	}
	nb := make([]byte, n, max(n, 2*cap(b), 4<<10))
	copy(nb, b)
	return nb
}

func unmask(p, mask []byte) {
	if mask == nil {
		return
	}
	for i := range p {
		p[i] ^= mask[i&3]
	}
}

// fail sends a close frame with code and returns the protocol error.
func (w *wsConn) fail(code uint16, why string) error {
	_ = w.write(8, binary.BigEndian.AppendUint16(nil, code))
	return fmt.Errorf("%w: %s", errProtocol, why)
}

// write sends one masked frame (clients mask), bounded in time.
func (w *wsConn) write(op byte, p []byte) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if w.closed {
		return net.ErrClosed
	}
	if op == 8 {
		w.closed = true
	}
	f := make([]byte, 0, 6+len(p))
	f = append(f, 0x80|op, 0x80|byte(len(p)))
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	f = append(f, mask[:]...)
	start := len(f)
	f = append(f, p...)
	unmask(f[start:], mask[:])
	_ = w.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := w.c.Write(f)
	return err
}

// Close sends a close frame (normal closure) and closes the connection.
func (w *wsConn) Close() error {
	_ = w.write(8, []byte{0x03, 0xe8})
	return w.c.Close()
}
