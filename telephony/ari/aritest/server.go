// Package aritest is an in-process Asterisk ARI server for tests: the REST
// resources and the events WebSocket of the subset of ARI the hotline uses,
// behaving as the transcripts recorded from Asterisk 22 (testdata/
// transcripts; TestTranscripts replays every one of them against it) say
// Asterisk behaves, with scriptable far ends.
//
// A test:
//
//	srv, _ := aritest.Start(aritest.Options{})     // 127.0.0.1, free port
//	cfg := ari.Config{URL: srv.URL(), Username: "hotline", Password: "hotline-secret"}
//	... start the ARI engine, srv.AwaitConnected(ctx, true) ...
//	caller, _ := srv.Call(aritest.Inbound{Caller: "13800000001", Args: []string{"inbound"}})
//	caller.NextType(ctx, "PlaybackStarted")        // the first prompt started
//	caller.Press("1")                              // ChannelDtmfReceived
//	caller.Hangup()                                // the caller hangs up
//	srv.Recordings(); srv.Bridges(); srv.History() // what happened
//
// Originates go to scripted endpoints (Options.Endpoints, SetEndpoint):
// answer after a ring time (OnAnswer then drives the answered phone), busy
// (cause 17), no answer (19 at the originate's timeout), unreachable (18
// after timer B), declined (21); AwaitOriginate returns the phone of an
// originate. Faults: DropConnection, SetDown (refuse everything), Stall
// (REST never answers), Inject (any frame on the events WebSocket).
// ManualClock with Advance makes timing deterministic.
package aritest

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DateFormat is ARI's timestamp format.
const DateFormat = "2006-01-02T15:04:05.000-0700"

// ErrStasisFailed is returned by Call when no WebSocket is connected for the
// application: Asterisk then fails Stasis() at once (STASISSTATUS=FAILED)
// and the dialplan goes on to its fallback.
var ErrStasisFailed = errors.New("stasis failed: application not connected")

// Options configure a Server. The zero value is usable.
type Options struct {
	App      string // Stasis application; default "hotline"
	Username string // ARI user; default "hotline"
	Password string // default "hotline-secret"

	// PlaybackLength is how long a sound plays unless stopped; default 200ms.
	PlaybackLength time.Duration
	// SoundLengths overrides PlaybackLength per media URI ("sound:welcome").
	SoundLengths map[string]time.Duration
	// MissingSounds are sound names that do not exist: their playback
	// starts and then fails at once, as Asterisk does.
	MissingSounds []string

	// Endpoints says what happens when the application originates to a
	// dial string. Keys are "PJSIP/unit", or just the resource "unit"
	// (also matching "PJSIP/13800000000@unit"). Nil uses LabEndpoints.
	// Unknown endpoints get 500 "Allocation failed".
	Endpoints map[string]Outcome

	// ManualClock stops time in the server: timers (playback ends, ring
	// timeouts, answers, maxDurationSeconds) fire only when the test calls
	// Advance, which makes a replay deterministic.
	ManualClock bool

	// TimeScale scales the times given in requests (originate timeout,
	// maxDurationSeconds) and the lab's fixed times (32 s timer B) so that
	// tests run fast; default 1.
	TimeScale float64

	// NoHistory keeps no record of what happened: Requests and History
	// return nothing, and a phone forgets each event once Next has
	// returned it or passed over it (Events returns the rest). For load
	// tests, where the records would be most of the heap; OnRequest still
	// sees every request, without its Query.
	NoHistory bool
	// OnRequest, when set, is called with every REST request answered.
	OnRequest func(Request)

	// RecordingDir, when set, is Asterisk's recording spool: each finished
	// recording is written there as <name>.wav (see spool.go) before
	// RecordingFinished is sent, as Asterisk closes the file first.
	RecordingDir string
}

// Result is what an originated call does at the far end.
type Result int

// The originate results, as recorded with SIPp in the lab.
const (
	Answer      Result = iota // rings, then answers: StasisStart
	Busy                      // 486: cause 17
	NoAnswer                  // rings until the originate timeout: cause 19 (480)
	Unreachable               // nobody listens: cause 18 (408) after timer B
	Reject                    // 603 Decline: cause 21
)

// Outcome scripts an endpoint.
type Outcome struct {
	Result Result
	// After is the ring time before answering, or before the busy or
	// reject. Default 10ms.
	After time.Duration
	// OnAnswer runs on its own goroutine once the answered channel is in
	// Stasis; the phone presses keys or hangs up from there.
	OnAnswer func(*Phone)
}

// LabEndpoints are the PJSIP endpoints of the lab the transcripts were
// recorded in.
func LabEndpoints() map[string]Outcome {
	return map[string]Outcome{
		"sipp":     {Result: Answer},
		"unit":     {Result: Answer},
		"busy":     {Result: Busy},
		"noanswer": {Result: NoAnswer},
		"dead":     {Result: Unreachable},
	}
}

// Server is a fake Asterisk with ARI.
type Server struct {
	opts Options
	ln   net.Listener

	mu         sync.Mutex
	seq        int
	conn       *wsConn // the connection that receives the app's events
	conns      map[*wsConn]bool
	httpConns  map[net.Conn]bool // open HTTP connections (not WebSockets)
	channels   map[string]*channel
	playbacks  map[string]*playback
	live       map[string]*recording
	stored     map[string]storedRecording
	bridges    map[string]*bridge
	requests   []Request
	stall      bool
	stallDone  chan struct{}
	gate       atomic.Pointer[gate] // down and stall, for requests
	phones     []*Phone
	phoneAdded chan struct{}
	connChange chan struct{}
	history    []string
	down       bool
	accepted   int // events WebSockets for the app, ever
	closed     bool
	vnow       time.Duration // manual clock: time since start
	vbase      time.Time
	vtimers    []*vtimer
	basic      string // Username:Password in base64, as Basic auth sends it
	scratch    []byte // an event being encoded
	stampMs    int64  // the millisecond stampText is of
	stampText  string
	stampSec   []byte // stampText's second, formatted
}

// Request is a REST request the server answered.
type Request struct {
	Method, Path string
	Query        map[string]string
	Status       int
	At           time.Time // when it arrived
	Channel      string    // the channel it concerns (directly or through a playback), if any
}

// Start listens on 127.0.0.1 at a free port and serves.
func Start(opts Options) (*Server, error) {
	if opts.App == "" {
		opts.App = "hotline"
	}
	if opts.Username == "" {
		opts.Username = "hotline"
	}
	if opts.Password == "" {
		opts.Password = "hotline-secret"
	}
	if opts.PlaybackLength <= 0 {
		opts.PlaybackLength = 200 * time.Millisecond
	}
	if opts.Endpoints == nil {
		opts.Endpoints = LabEndpoints()
	}
	eps := make(map[string]Outcome, len(opts.Endpoints))
	for k, v := range opts.Endpoints {
		eps[k] = v
	}
	opts.Endpoints = eps
	if opts.TimeScale <= 0 {
		opts.TimeScale = 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("aritest: listen: %w", err)
	}
	s := &Server{
		basic:      base64.StdEncoding.EncodeToString([]byte(opts.Username + ":" + opts.Password)),
		vbase:      time.Now(),
		opts:       opts,
		ln:         ln,
		conns:      map[*wsConn]bool{},
		httpConns:  map[net.Conn]bool{},
		channels:   map[string]*channel{},
		playbacks:  map[string]*playback{},
		live:       map[string]*recording{},
		stored:     map[string]storedRecording{},
		bridges:    map[string]*bridge{},
		phoneAdded: make(chan struct{}),
		connChange: make(chan struct{}),
	}
	go s.serve()
	return s, nil
}

// URL is the ARI base URL, e.g. http://127.0.0.1:40123/ari.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() + "/ari" }

// Addr is the listening address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server, closing every connection.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	if s.stall {
		s.stall = false
		close(s.stallDone)
		s.publishGate()
	}
	conns := make([]*wsConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	for _, ch := range s.channels {
		ch.stopTimers()
	}
	for _, pb := range s.playbacks {
		pb.stopTimer()
	}
	for _, r := range s.live {
		r.stopTimer()
	}
	httpConns := make([]net.Conn, 0, len(s.httpConns))
	for c := range s.httpConns {
		httpConns = append(httpConns, c)
	}
	s.mu.Unlock()
	_ = s.ln.Close()
	for _, c := range conns {
		c.close()
	}
	for _, c := range httpConns {
		_ = c.Close()
	}
}

// Stall makes every REST request hang until the client gives up (or
// Unstall), as an Asterisk that accepts connections but never answers.
func (s *Server) Stall() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stall && !s.closed {
		s.stall = true
		s.stallDone = make(chan struct{})
		s.publishGate()
	}
}

// Unstall lets REST requests through again.
func (s *Server) Unstall() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stall {
		s.stall = false
		close(s.stallDone)
		s.publishGate()
	}
}

// gate is what a request meets before REST: the server down, or stalled
// until stallDone closes. Published whole (s.gate) so that requests read
// it without the server's lock.
type gate struct {
	down      bool
	stallDone chan struct{} // nil when not stalled
}

// publishGate publishes down and stall (s.mu held).
func (s *Server) publishGate() {
	if !s.down && !s.stall {
		s.gate.Store(nil)
		return
	}
	g := &gate{down: s.down}
	if s.stall {
		g.stallDone = s.stallDone
	}
	s.gate.Store(g)
}

// Connected reports whether an events WebSocket for the app is open.
func (s *Server) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn != nil
}

// AwaitConnected waits until an events WebSocket for the app is open (want
// true) or none is (want false).
func (s *Server) AwaitConnected(ctx context.Context, want bool) error {
	for {
		s.mu.Lock()
		got, ch := s.conn != nil, s.connChange
		s.mu.Unlock()
		if got == want {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("aritest: await connected=%v: %w", want, ctx.Err())
		}
	}
}

// Accepted counts the events WebSockets for the app accepted so far.
func (s *Server) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// AwaitAccepted waits until n events WebSockets for the app have been
// accepted in all (the newest is then the one that gets the events).
func (s *Server) AwaitAccepted(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		got, ch := s.accepted, s.connChange
		s.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("aritest: await %d connections: %w", n, ctx.Err())
		}
	}
}

func (s *Server) noteConnChange() {
	close(s.connChange)
	s.connChange = make(chan struct{})
}

// DropConnection closes the app's events WebSocket from the server side,
// as a network failure or an Asterisk restart of the HTTP server would.
// Events raised while no connection is open are lost, as in Asterisk.
func (s *Server) DropConnection() {
	s.mu.Lock()
	conns := make([]*wsConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
}

// SetDown takes the HTTP side down (every request and WebSocket dial is
// refused with 503) and drops the events WebSocket, or brings it back.
// Calls stay in Stasis meanwhile; their events are lost, as in Asterisk.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.publishGate()
	s.mu.Unlock()
	if down {
		s.DropConnection()
	}
}

// SetEndpoint scripts (or re-scripts) what originates to endpoint do; see
// Options.Endpoints for the keys.
func (s *Server) SetEndpoint(endpoint string, o Outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	eps := make(map[string]Outcome, len(s.opts.Endpoints)+1)
	for k, v := range s.opts.Endpoints {
		eps[k] = v
	}
	eps[endpoint] = o
	s.opts.Endpoints = eps
}

// Inject sends raw bytes as one text frame on the app's events WebSocket
// (an unknown event type, a malformed frame).
func (s *Server) Inject(frame []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		s.conn.send(frame)
	}
}

// Requests returns the REST requests answered so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// History is a readable log of what the far ends saw: "answer ch",
// "play ch sound:welcome", "record ch name", "hangup ch cause 16", ...
func (s *Server) History() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.history...)
}

func (s *Server) logf(format string, args ...any) {
	if s.opts.NoHistory {
		return
	}
	s.history = append(s.history, fmt.Sprintf(format, args...))
}

// RecordingInfo describes a finished (stored) recording.
type RecordingInfo struct {
	Name      string
	Format    string
	TargetURI string // channel:<id> or bridge:<id>
	Duration  time.Duration
}

// Recordings returns the stored recordings, sorted by name.
func (s *Server) Recordings() []RecordingInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]RecordingInfo, 0, len(s.stored))
	for _, r := range s.stored {
		out = append(out, RecordingInfo{Name: r.Name, Format: r.Format, TargetURI: r.TargetURI, Duration: r.Duration})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// BridgeInfo describes a bridge.
type BridgeInfo struct {
	ID       string
	Channels []string
	// Joined lists every channel that was ever in the bridge, in order.
	Joined    []string
	Destroyed bool
}

// Bridges returns the bridges the application created, in creation order.
func (s *Server) Bridges() []BridgeInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]BridgeInfo, 0, len(s.bridges))
	for _, b := range s.bridges {
		out = append(out, BridgeInfo{ID: b.id, Channels: append([]string(nil), b.channels...),
			Joined: append([]string(nil), b.joined...), Destroyed: b.destroyed})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// ChannelsInStasis returns the ids of the channels in the application.
func (s *Server) ChannelsInStasis() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stasisIDs()
}

func (s *Server) stasisIDs() []string {
	ids := []string{}
	for id, ch := range s.channels {
		if ch.inStasis {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// clock is the server's time (virtual with ManualClock).
func (s *Server) clock() time.Time {
	if s.opts.ManualClock {
		return s.vbase.Add(s.vnow)
	}
	return time.Now()
}

// vtimer is a timer of the manual clock.
type vtimer struct {
	due     time.Duration
	seq     int
	f       func()
	stopped bool
}

func (t *vtimer) Stop() bool { was := !t.stopped; t.stopped = true; return was }

// Advance moves the manual clock forward to t (since the server started),
// firing the timers due in order. Earlier times are ignored.
func (s *Server) Advance(t time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		var next *vtimer
		for _, vt := range s.vtimers {
			if !vt.stopped && vt.due <= t && (next == nil || vt.due < next.due || (vt.due == next.due && vt.seq < next.seq)) {
				next = vt
			}
		}
		if next == nil {
			break
		}
		next.stopped = true
		if next.due > s.vnow {
			s.vnow = next.due
		}
		next.f()
	}
	if t > s.vnow {
		s.vnow = t
	}
	live := s.vtimers[:0]
	for _, vt := range s.vtimers {
		if !vt.stopped {
			live = append(live, vt)
		}
	}
	s.vtimers = live
}

// now returns the time for timestamps.
func now() string { return time.Now().Format(DateFormat) }

// scale shortens a duration by the TimeScale.
func (s *Server) scale(d time.Duration) time.Duration {
	return time.Duration(float64(d) * s.opts.TimeScale)
}

// emit sends an event, built as a map, to the application's connection
// (if any). It must be called with s.mu held: events leave in the order
// they were raised.
func (s *Server) emit(ev map[string]any) {
	ev["timestamp"] = s.stamp()
	ev["asterisk_id"] = asteriskID
	ev["application"] = s.opts.App
	if s.conn == nil {
		return // Asterisk drops events while the app is not connected
	}
	s.scratch = appendMap(s.scratch[:0], ev, eventFirst, eventLast)
	s.conn.send(s.scratch)
}

// emitEvent sends a channel or playback event (s.mu held), and returns it
// stamped.
func (s *Server) emitEvent(e fevent) fevent {
	e.stamp, e.app = s.stamp(), s.opts.App
	if s.conn != nil {
		s.scratch = e.appendJSON(s.scratch[:0])
		s.conn.send(s.scratch)
	}
	return e
}

// The members Asterisk puts first and last in an event.
var (
	eventFirst = []string{"type", "timestamp"}
	eventLast  = []string{"asterisk_id", "application"}
)

// stamp is now() for events (s.mu held): the date, time and zone are
// formatted once a second, the milliseconds filled in.
func (s *Server) stamp() string {
	t := time.Now()
	ms := t.UnixMilli()
	if ms == s.stampMs && s.stampText != "" {
		return s.stampText
	}
	if ms/1000 != s.stampMs/1000 || s.stampText == "" {
		s.stampSec = t.AppendFormat(s.stampSec[:0], DateFormat) // 2006-01-02T15:04:05.000-0700
	}
	b := s.stampSec
	i := len("2006-01-02T15:04:05.")
	m := ms % 1000
	b[i], b[i+1], b[i+2] = byte('0'+m/100), byte('0'+m/10%10), byte('0'+m%10)
	s.stampMs, s.stampText = ms, string(b)
	return s.stampText
}

// after runs f with s.mu held after d, unless the server closed. The timer
// is returned so that the caller may stop it.
func (s *Server) after(d time.Duration, f func()) interface{ Stop() bool } {
	if s.opts.ManualClock {
		s.seq++
		vt := &vtimer{due: s.vnow + d, seq: s.seq, f: f}
		s.vtimers = append(s.vtimers, vt)
		return vt
	}
	return time.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed {
			return
		}
		f()
	})
}

// ServeHTTP routes /ari/events to the WebSocket and the rest to REST.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	if r.URL.Path == "/ari/events" {
		s.mu.Lock()
		down := s.down
		s.mu.Unlock()
		switch {
		case down:
			http.Error(w, "down", http.StatusServiceUnavailable)
		case r.URL.Query().Get("app") == "":
			s.serveEvents(w, r) // 400 before any credential check, as Asterisk
		case !s.authorized(r.Header.Get("Authorization"), r.URL.Query().Get("api_key")):
			unauthorized(w)
		default:
			s.serveEvents(w, r)
		}
		return
	}
	var body []byte
	if r.Body != nil && r.Body != http.NoBody {
		body, _ = io.ReadAll(io.LimitReader(r.Body, maxBody))
	}
	gone := func() <-chan struct{} { return clientGone(w, r) }
	s.serveRequest(w, at, r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("Authorization"), body, gone)
}

// serveRequest answers a request other than the events WebSocket's, that
// arrived at at: 503 while down, 401 without credentials, held while
// stalled (until the client gives up: gone), then REST.
func (s *Server) serveRequest(w http.ResponseWriter, at time.Time, method, path, rawQuery, auth string, body []byte, gone func() <-chan struct{}) {
	g := s.gate.Load()
	if g != nil && g.down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	if !s.authorized(auth, queryValue(rawQuery, "api_key")) {
		unauthorized(w)
		return
	}
	if g != nil && g.stallDone != nil {
		left := gone()
		select {
		case <-g.stallDone:
		case <-left:
			return
		}
		select {
		case <-left: // both: the client gave up first
			return
		default:
		}
	}
	s.serveREST(w, at, method, path, rawQuery, body)
}

func unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="Asterisk REST Interface"`)
	writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Authentication required"})
}

// authorized checks an Authorization header (Basic) or an api_key.
func (s *Server) authorized(auth, apiKey string) bool {
	if scheme, cred, ok := strings.Cut(auth, " "); ok && strings.EqualFold(scheme, "Basic") {
		if cred == s.basic {
			return true
		}
		if b, err := base64.StdEncoding.DecodeString(cred); err == nil {
			if u, p, ok := strings.Cut(string(b), ":"); ok {
				return u == s.opts.Username && p == s.opts.Password
			}
		}
	}
	if apiKey != "" {
		return apiKey == s.opts.Username+":"+s.opts.Password
	}
	return false
}

// queryValue is url.Values.Get on a raw query, without parsing all of it.
func queryValue(rawQuery, name string) string {
	if !strings.Contains(rawQuery, name) {
		return ""
	}
	v, _ := url.ParseQuery(rawQuery)
	return v.Get(name)
}

func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	app := r.URL.Query().Get("app")
	if app == "" {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte("<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\r\n<html><head>\r\n<title>400 Bad Request</title>\r\n</head><body>\r\n<h1>Bad Request</h1>\r\n<p>Invalid application provided in SubscribeAll.</p>\r\n<hr />\r\n<address>Asterisk Server</address>\r\n</body></html>\r\n"))
		return
	}
	c, err := upgrade(w, r)
	if err != nil {
		return // upgrade wrote the answer
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.close()
		return
	}
	s.conns[c] = true
	if app == s.opts.App {
		if old := s.conn; old != nil {
			// A second WebSocket replaces the first, which is told and
			// then hears nothing more (it is not closed).
			s.emit(map[string]any{"type": "ApplicationReplaced"})
		}
		s.conn = c
		s.accepted++
		s.noteConnChange()
	}
	s.mu.Unlock()
	c.run() // until closed by either side
	s.mu.Lock()
	delete(s.conns, c)
	if s.conn == c {
		s.conn = nil
		s.noteConnChange()
	}
	s.mu.Unlock()
}

// wsConn is one events WebSocket (server side, RFC 6455) with an unbounded
// send queue, so that the server never blocks on a slow reader while
// holding its lock. send frames an event into the queue at once; the
// writer takes the whole queue in one write and gives the buffer back.
type wsConn struct {
	conn   net.Conn
	rd     *bufio.Reader
	mu     sync.Mutex
	queue  []byte // framed, waiting to be written
	spare  []byte // the buffer last written, for the next queue
	wake   chan struct{}
	done   chan struct{}
	closed bool
}

// upgrade answers a WebSocket handshake and takes over the connection.
func upgrade(w http.ResponseWriter, r *http.Request) (*wsConn, error) {
	key := r.Header.Get("Sec-WebSocket-Key")
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || key == "" {
		http.Error(w, "not a websocket handshake", http.StatusBadRequest)
		return nil, errors.New("not a websocket handshake")
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "cannot hijack", http.StatusInternalServerError)
		return nil, errors.New("cannot hijack")
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return nil, err
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	c := &wsConn{conn: conn, rd: brw.Reader, wake: make(chan struct{}, 1), done: make(chan struct{}),
		queue: make([]byte, 0, 64<<10), spare: make([]byte, 0, 64<<10)}
	// The 101 goes out as the first write of run, after the connection is
	// registered: a client that saw it can rely on getting events.
	c.queue = append(c.queue, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "+
		base64.StdEncoding.EncodeToString(sum[:])+"\r\n\r\n"...)
	return c, nil
}

// send queues p as one unmasked text frame.
func (c *wsConn) send(p []byte) {
	c.mu.Lock()
	if !c.closed {
		c.queue = appendFrame(c.queue, p)
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *wsConn) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	close(c.done)
	c.mu.Unlock()
	_ = c.conn.Close()
}

// appendFrame appends p as one unmasked text frame.
func appendFrame(b, p []byte) []byte {
	b = append(b, 0x81) // FIN, text
	switch l := len(p); {
	case l < 126:
		b = append(b, byte(l))
	case l < 1<<16:
		b = append(b, 126, byte(l>>8), byte(l))
	default:
		b = append(b, 127)
		for i := range 8 {
			b = append(b, byte(uint64(l)>>(56-8*i)))
		}
	}
	return append(b, p...)
}

// run writes queued frames and reads (and discards) what the client sends,
// until either side closes.
func (c *wsConn) run() {
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		_, _ = io.Copy(io.Discard, c.rd) // until the client closes
		c.close()
	}()
	for {
		c.mu.Lock()
		out := c.queue
		c.queue = c.spare[:0]
		c.mu.Unlock()
		if len(out) > 0 {
			if _, err := c.conn.Write(out); err != nil {
				c.close()
				<-readDone
				return
			}
		}
		c.mu.Lock()
		c.spare = out[:0]
		c.mu.Unlock()
		select {
		case <-c.wake:
		case <-c.done:
			<-readDone
			return
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if body == nil {
		return
	}
	if rw, ok := w.(*respWriter); ok { // straight into its buffer
		rw.body = append(appendJSON(rw.body, body), '\n')
		return
	}
	_, _ = w.Write(append(appendJSON(nil, body), '\n'))
}

// splitPath returns the unescaped segments of an /ari/... path.
func splitPath(path string) []string {
	return appendSegments(nil, path)
}

// appendSegments is splitPath into seg.
func appendSegments(seg []string, path string) []string {
	p := strings.Trim(strings.TrimPrefix(path, "/ari/"), "/")
	for {
		s, rest, more := strings.Cut(p, "/")
		seg = append(seg, unescape(s))
		if !more {
			return seg
		}
		p = rest
	}
}

func unescape(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}
