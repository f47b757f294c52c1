package aritest

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"slices"
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
	w := &respWriter{c: c, br: bufio.NewReaderSize(c, 16<<10), bw: bufio.NewWriterSize(c, 4<<10), header: http.Header{}, params: params{}}
	defer func() {
		s.mu.Lock()
		delete(s.httpConns, c)
		s.mu.Unlock()
		if !w.hijacked {
			_ = c.Close()
		}
	}()
	var rq request
	gone := w.clientGone
	for {
		req, err := w.read(&rq)
		at := time.Now()
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				_, _ = io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			}
			return
		}
		w.reset()
		keep := !rq.close
		if req != nil {
			req.RemoteAddr = c.RemoteAddr().String()
			s.ServeHTTP(w, req)
			if w.hijacked {
				return
			}
			_, _ = io.Copy(io.Discard, req.Body)
			keep = !req.Close && req.ProtoAtLeast(1, 1)
		} else {
			s.serveRequest(w, at, rq.method, rq.path, rq.query, rq.auth, rq.body, gone)
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
		if err := w.finish(rq.method == "HEAD", keep); err != nil || !keep {
			return
		}
	}
}

// maxBody bounds a request's body.
const maxBody = 1 << 20

// request is a REST request as serveConn reads it.
type request struct {
	method, path, query string // path as sent (escaped)
	auth                string // the Authorization header
	body                []byte
	close               bool // the client asked to close after it
}

var errBadRequest = errors.New("bad request")

// read reads the next request into rq, or, for the events WebSocket and
// what REST does not expect, returns it as net/http parses it. REST
// requests, nearly all of them, need none of net/http's maps.
func (w *respWriter) read(rq *request) (*http.Request, error) {
	line, err := w.br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, errBadRequest
		}
		return nil, err
	}
	method, rest, ok1 := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte{' '})
	target, proto, ok2 := bytes.Cut(rest, []byte{' '})
	if !ok1 || !ok2 || (string(proto) != "HTTP/1.1" && string(proto) != "HTTP/1.0") || len(target) == 0 || target[0] != '/' {
		return nil, errBadRequest
	}
	path, query, _ := bytes.Cut(target, []byte{'?'})
	if string(path) == "/ari/events" {
		// net/http reads it from the start; the connection goes on
		// through that reader (a WebSocket takes it over)
		w.br = bufio.NewReader(io.MultiReader(bytes.NewReader(bytes.Clone(line)), w.br))
		rq.method = ""
		return http.ReadRequest(w.br)
	}
	*rq = request{method: internMethod(method), path: string(path), query: string(query), body: rq.body[:0]}
	http10 := string(proto) == "HTTP/1.0"
	rq.close = http10
	length, chunked := int64(0), false
	for {
		line, err := w.br.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) || errors.Is(err, io.EOF) {
				return nil, errBadRequest
			}
			return nil, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok || len(name) == 0 || name[0] == ' ' || name[0] == '\t' {
			return nil, errBadRequest
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Authorization")):
			if string(value) != w.auth { // the same on every request
				w.auth = string(value)
			}
			rq.auth = w.auth
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 || n > maxBody {
				return nil, errBadRequest
			}
			length = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			if !bytes.EqualFold(value, []byte("chunked")) {
				return nil, errBadRequest
			}
			chunked = true
		case bytes.EqualFold(name, []byte("Connection")):
			for _, tok := range bytes.Split(value, []byte{','}) {
				switch tok = bytes.TrimSpace(tok); {
				case bytes.EqualFold(tok, []byte("close")):
					rq.close = true
				case bytes.EqualFold(tok, []byte("keep-alive")) && http10:
					rq.close = false
				}
			}
		}
	}
	switch {
	case chunked:
		b, err := io.ReadAll(io.LimitReader(httputil.NewChunkedReader(w.br), maxBody))
		if err != nil {
			return nil, errBadRequest
		}
		for { // trailers
			line, err := w.br.ReadSlice('\n')
			if err != nil {
				return nil, errBadRequest
			}
			if len(bytes.TrimRight(line, "\r\n")) == 0 {
				break
			}
		}
		rq.body = append(rq.body, b...)
	case length > 0:
		rq.body = slices.Grow(rq.body, int(length))[:length]
		if _, err := io.ReadFull(w.br, rq.body); err != nil {
			return nil, errBadRequest
		}
	}
	return nil, nil
}

// internMethod returns the usual methods without allocating.
func internMethod(m []byte) string {
	for _, known := range []string{"GET", "POST", "DELETE", "PUT"} {
		if string(m) == known {
			return known
		}
	}
	return string(m)
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
	params   params // the request's parameters, with NoHistory
	auth     string // the last Authorization header

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
