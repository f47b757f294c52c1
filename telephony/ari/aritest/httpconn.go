package aritest

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// The fake serves HTTP/1.1 itself, one goroutine per connection, requests
// parsed by net/http (http.ReadRequest) and handed to ServeHTTP, each
// answer written in one write. net/http's server, with its background
// read, per-request contexts and chunk writer, cost the fake more CPU
// than the fake's own work at a thousand calls. Asterisk's own HTTP
// server is as plain.

// serve accepts connections until the listener closes.
func (s *Server) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = c.Close()
			return
		}
		s.httpConns[c] = true
		s.mu.Unlock()
		go s.serveConn(c)
	}
}

// serveConn answers the requests on one connection until it closes or is
// taken over by a WebSocket.
func (s *Server) serveConn(c net.Conn) {
	w := &respWriter{c: c, br: bufio.NewReaderSize(c, 4<<10), bw: bufio.NewWriterSize(c, 4<<10), header: http.Header{}}
	defer func() {
		s.mu.Lock()
		delete(s.httpConns, c)
		s.mu.Unlock()
		if !w.hijacked {
			_ = c.Close()
		}
	}()
	for {
		req, err := http.ReadRequest(w.br)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				_, _ = io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			}
			return
		}
		req.RemoteAddr = c.RemoteAddr().String()
		w.reset()
		s.ServeHTTP(w, req)
		if w.hijacked {
			return
		}
		if w.watching != nil {
			// stop watching for the client's close before reading on
			_ = c.SetReadDeadline(longAgo)
			<-w.watchDone
			if w.isGone() {
				return
			}
			_ = c.SetReadDeadline(time.Time{})
		}
		_, _ = io.Copy(io.Discard, req.Body)
		keep := !req.Close && req.ProtoAtLeast(1, 1)
		if err := w.finish(req.Method == "HEAD", keep); err != nil || !keep {
			return
		}
	}
}

// longAgo is a deadline in the past: it interrupts a blocked read.
var longAgo = time.Unix(1, 0)

// respWriter is the http.ResponseWriter of serveConn: the answer is
// buffered whole and written by finish.
type respWriter struct {
	c        net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	header   http.Header
	status   int
	body     []byte
	hijacked bool

	watching  chan struct{} // closed when the client is gone (clientGone)
	watchDone chan struct{}
}

func (w *respWriter) reset() {
	clear(w.header)
	w.status, w.body = 0, w.body[:0]
	w.watching, w.watchDone = nil, nil
}

func (w *respWriter) Header() http.Header { return w.header }

func (w *respWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *respWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.body = append(w.body, p...)
	return len(p), nil
}

// Hijack hands the connection over (to a WebSocket).
func (w *respWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.hijacked = true
	return w.c, bufio.NewReadWriter(w.br, w.bw), nil
}

// clientGone returns a channel closed when the client closes the
// connection while the request waits (Stall).
func (w *respWriter) clientGone() <-chan struct{} {
	if w.watching == nil {
		w.watching, w.watchDone = make(chan struct{}), make(chan struct{})
		go func() {
			defer close(w.watchDone)
			if _, err := w.br.Peek(1); err != nil {
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					close(w.watching)
				}
			}
		}()
	}
	return w.watching
}

func (w *respWriter) isGone() bool {
	select {
	case <-w.watching:
		return true
	default:
		return false
	}
}

// finish writes the answer.
func (w *respWriter) finish(head, keep bool) error {
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	b := w.bw
	b.WriteString("HTTP/1.1 ")
	b.WriteString(strconv.Itoa(status))
	b.WriteByte(' ')
	b.WriteString(http.StatusText(status))
	b.WriteString("\r\nServer: Asterisk/22.10.1\r\n")
	bodyless := status < 200 || status == 204 || status == 304
	if !bodyless {
		if len(w.body) > 0 && w.header.Get("Content-Type") == "" {
			w.header.Set("Content-Type", http.DetectContentType(w.body))
		}
		b.WriteString("Content-Length: ")
		b.WriteString(strconv.Itoa(len(w.body)))
		b.WriteString("\r\n")
	}
	if !keep {
		b.WriteString("Connection: close\r\n")
	}
	_ = w.header.Write(b)
	b.WriteString("\r\n")
	if !bodyless && !head {
		b.Write(w.body)
	}
	return b.Flush()
}

// clientGone is the channel closed when the request's client has gone.
func clientGone(w http.ResponseWriter, r *http.Request) <-chan struct{} {
	if rw, ok := w.(*respWriter); ok {
		return rw.clientGone()
	}
	return r.Context().Done()
}
