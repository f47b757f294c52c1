package aritest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// The transcripts in testdata/transcripts were recorded from a real
// Asterisk 22.10.1 (see their README). TestTranscripts replays each one
// against the fake: the REST requests in order, the phones' actions
// (calls in, keys, hang-ups) where the transcript shows them, with the
// fake's clock following the transcript's. It checks the same status
// codes, and the same events in the same order with the same key fields
// on each WebSocket. Ids Asterisk chose are mapped to the fake's.
//
// Left out as environment noise: timestamps, names with sequence numbers,
// RTP statistics values, BRIDGEPEER variables (they name Asterisk's
// internal Announcer/Recorder channels), and the WebSocket opened with
// subscribeAll=true (the fake models the application's own subscriptions
// only). The load transcripts are compared per channel: their calls
// overlap and Asterisk interleaves them by its thread timing.

type tline struct {
	Kind      string          `json:"kind"`
	TMs       float64         `json:"t_ms"`
	Conn      string          `json:"conn"`
	URL       string          `json:"url"`
	Event     map[string]any  `json:"event"`
	Method    string          `json:"method"`
	Path      string          `json:"path"`
	Query     map[string]any  `json:"query"`
	Body      map[string]any  `json:"req_body"`
	Status    int             `json:"status"`
	RespBody  json.RawMessage `json:"resp_body"`
	ElapsedMs float64         `json:"elapsed_ms"`
	Name      string          `json:"name"`
	Args      string          `json:"args"`
	Response  string          `json:"response"`
	WithAuth  *bool           `json:"with_auth"`
}

func loadTranscript(t *testing.T, path string) []tline {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		r = gz
	}
	var out []tline
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		var l tline
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// labOptions configure the fake like the lab: sound lengths and the far
// ends' timing as the transcripts show them.
func labOptions() Options {
	eps := LabEndpoints()
	eps["sipp"] = Outcome{Result: Answer, After: 1007 * time.Millisecond}
	eps["unit"] = Outcome{Result: Answer, After: 505 * time.Millisecond}
	eps["busy"] = Outcome{Result: Busy, After: 3 * time.Millisecond}
	return Options{
		ManualClock:   true,
		Endpoints:     eps,
		MissingSounds: []string{"does-not-exist"},
		SoundLengths: map[string]time.Duration{
			"sound:hello-world":  1026 * time.Millisecond,
			"sound:hotline-menu": time.Minute,
			"sound:long-tone":    time.Minute,
		},
	}
}

// wsClient records the events one WebSocket receives.
type wsClient struct {
	ws           *websocket.Conn
	subscribeAll bool
	mu           sync.Mutex
	events       []map[string]any
	changed      chan struct{}
	done         chan struct{}
}

func dialWS(t *testing.T, srv *Server, rawURL string) *wsClient {
	t.Helper()
	cfg, err := websocket.NewConfig("ws://"+srv.Addr()+rawURL, "http://localhost/")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Header = http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("hotline:hotline-secret"))}}
	ws, err := cfg.DialContext(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	c := &wsClient{ws: ws, subscribeAll: strings.Contains(rawURL, "subscribeAll=true"), changed: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			var msg []byte
			if err := websocket.Message.Receive(ws, &msg); err != nil {
				return
			}
			var ev map[string]any
			if err := json.Unmarshal(msg, &ev); err != nil {
				t.Errorf("fake sent a bad frame: %v", err)
				return
			}
			c.mu.Lock()
			c.events = append(c.events, ev)
			close(c.changed)
			c.changed = make(chan struct{})
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *wsClient) close() { _ = c.ws.Close(); <-c.done }

// await waits until the events that are not noise number as many as in
// want (or a while passed), and returns them all.
func (c *wsClient) await(want []map[string]any) []map[string]any {
	n := countSignal(want)
	deadline := time.After(3 * time.Second)
	for {
		c.mu.Lock()
		evs, changed := append([]map[string]any(nil), c.events...), c.changed
		c.mu.Unlock()
		if countSignal(evs) >= n || c.subscribeAll {
			return evs
		}
		select {
		case <-changed:
		case <-c.done:
			c.mu.Lock()
			defer c.mu.Unlock()
			return append([]map[string]any(nil), c.events...)
		case <-deadline:
			return evs
		}
	}
}

// replayer drives the fake through a transcript.
type replayer struct {
	t     *testing.T
	srv   *Server
	ids   map[string]string // transcript id -> fake id
	rev   map[string]string // fake id -> transcript id
	conns map[string]*wsClient
	order []string
	want  map[string][]map[string]any
	http  *http.Client
}

func (r *replayer) mapID(transcriptID, fakeID string) {
	if transcriptID == "" || fakeID == "" {
		return
	}
	r.ids[transcriptID] = fakeID
	r.rev[fakeID] = transcriptID
}

// idToken is what an id looks like; ids are mapped as whole tokens, so
// that a client-chosen id embedding a channel id (pb-hello-<channel>)
// stays as the client chose it.
var idToken = regexp.MustCompile(`[A-Za-z0-9._-]+`)

// toFake rewrites transcript ids in s to the fake's.
func (r *replayer) toFake(s string) string {
	return idToken.ReplaceAllStringFunc(s, func(tok string) string {
		if v, ok := r.ids[tok]; ok {
			return v
		}
		return tok
	})
}

func (r *replayer) toTranscript(id string) string {
	if v, ok := r.rev[id]; ok {
		return v
	}
	return id
}

func str(m map[string]any, path string) string { return Event(m).Field(path) }

// phone finds the phone of a transcript channel id (inbound calls are
// mapped; originated channels keep the id the application chose).
func (r *replayer) phone(transcriptID string) *Phone {
	id := transcriptID
	if f, ok := r.ids[id]; ok {
		id = f
	}
	for _, p := range r.srv.Phones() {
		if p.ID() == id {
			return p
		}
	}
	return nil
}

// toTranscriptText rewrites the fake's ids in s back to the transcript's.
func (r *replayer) toTranscriptText(s string) string {
	return idToken.ReplaceAllStringFunc(s, r.toTranscript)
}

func (r *replayer) onEvent(l tline) {
	ev := l.Event
	r.want[l.Conn] = append(r.want[l.Conn], ev)
	chID := str(ev, "channel.id")
	switch ev["type"] {
	case "StasisStart":
		if str(ev, "channel.state") != "Ring" || r.ids[chID] != "" {
			return
		}
		var args []string
		if a, ok := ev["args"].([]any); ok {
			for _, x := range a {
				args = append(args, fmt.Sprint(x))
			}
		}
		p, err := r.srv.Call(Inbound{Caller: str(ev, "channel.caller.number"), CallerName: str(ev, "channel.caller.name"),
			Exten: str(ev, "channel.dialplan.exten"), Args: args})
		if err != nil {
			r.t.Fatalf("inbound call: %v", err)
		}
		r.mapID(chID, p.ID())
	case "ChannelDtmfReceived":
		if p := r.phone(chID); p != nil {
			if err := p.Press(str(ev, "digit")); err != nil {
				r.t.Errorf("press: %v", err)
			}
		}
	case "ChannelHangupRequest":
		_, hasCause := ev["cause"]
		if hasCause || ev["soft"] == true {
			return // caused by the application or by the network: not a phone action
		}
		if p := r.phone(chID); p != nil {
			p.Hangup()
		}
	}
}

// sippPorts are the lab's far-end SIPp instances by port.
var sippPorts = map[string]string{"5070": "sipp", "5080": "unit", "5090": "busy", "5091": "noanswer"}

// onSippExit hangs up what a SIPp instance still held when it exited.
func (r *replayer) onSippExit(args string) {
	uac := strings.Contains(args, "-sf uac")
	endpoint := ""
	if f := strings.Fields(args); !uac {
		for i := range f {
			if f[i] == "-p" && i+1 < len(f) {
				endpoint = sippPorts[f[i+1]]
			}
		}
	}
	for _, p := range r.srv.Phones() {
		select {
		case <-p.Done():
			continue
		default:
		}
		if (uac && p.Inbound()) || (!uac && !p.Inbound() && p.Endpoint() == endpoint) {
			p.Hangup()
		}
	}
}

func (r *replayer) onREST(l tline) {
	q := make([]string, 0, len(l.Query))
	for k, v := range l.Query {
		q = append(q, urlEncode(k)+"="+urlEncode(r.toFake(fmt.Sprint(v))))
	}
	sort.Strings(q)
	u := "http://" + r.srv.Addr() + r.toFake(l.Path)
	if len(q) > 0 {
		u += "?" + strings.Join(q, "&")
	}
	var body io.Reader
	if l.Body != nil {
		b, _ := json.Marshal(l.Body)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(r.t.Context(), l.Method, u, body)
	if err != nil {
		r.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if l.Status != http.StatusUnauthorized {
		req.SetBasicAuth("hotline", "hotline-secret")
	}
	resp, err := r.http.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", l.Method, l.Path, err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != l.Status {
		r.t.Errorf("%s %s %v: status %d (%s), want %d (%s)", l.Method, l.Path, l.Query, resp.StatusCode,
			bytes.TrimSpace(got), l.Status, l.RespBody)
		return
	}
	var wantObj, gotObj map[string]any
	if json.Unmarshal(l.RespBody, &wantObj) != nil || json.Unmarshal(got, &gotObj) != nil {
		return
	}
	// ids chosen by Asterisk (channels, playbacks) map to the fake's
	if id, ok := wantObj["id"].(string); ok {
		if gid, ok := gotObj["id"].(string); ok && r.ids[id] == "" {
			r.mapID(id, gid)
		}
	}
	for _, k := range []string{"state", "media_uri", "message", "error", "name", "format", "bridge_type", "value", "ping"} {
		w, ok := wantObj[k]
		if !ok {
			continue
		}
		if _, isChannel := wantObj["protocol_id"]; isChannel && k == "name" {
			continue // PJSIP/sipp-0000000b: Asterisk's sequence number
		}
		if _, isPlayback := wantObj["media_uri"]; isPlayback && k == "state" {
			continue // queued or already playing: Asterisk's thread timing
		}
		if _, isBridge := wantObj["bridge_type"]; isBridge && k == "name" {
			w = r.toFake(fmt.Sprint(w))
		}
		if g := gotObj[k]; fmt.Sprint(g) != fmt.Sprint(w) {
			r.t.Errorf("%s %s: %s = %v, want %v", l.Method, l.Path, k, g, w)
		}
	}
}

func urlEncode(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// onRawHandshake repeats a raw WebSocket handshake and compares the status.
func (r *replayer) onRawHandshake(l tline) {
	want := strings.Fields(strings.SplitN(l.Response, "\r\n", 2)[0])
	if len(want) < 2 {
		return
	}
	// The recorder's "with_auth" handshakes got 400 without app and 401
	// with it: they carried credentials Asterisk refused. Send bad ones.
	auth := ""
	if l.WithAuth != nil && *l.WithAuth {
		auth = "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("hotline:wrong")) + "\r\n"
	}
	conn, err := net.Dial("tcp", r.srv.Addr())
	if err != nil {
		r.t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://localhost/\r\n%s\r\n", l.Path, r.srv.Addr(), auth)
	_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		r.t.Fatalf("raw handshake %s: %v", l.Path, err)
	}
	if got := strings.Fields(status); len(got) < 2 || got[1] != want[1] {
		r.t.Errorf("raw handshake %s: %q, want status %s", l.Path, strings.TrimSpace(status), want[1])
	}
	if want[1] == "101" && len(r.conns) == 0 {
		// the recorder closed it at once: wait until the fake saw it go
		conn.Close()
		ctx, cancel := context.WithTimeout(r.t.Context(), 3*time.Second)
		defer cancel()
		if err := r.srv.AwaitConnected(ctx, false); err != nil {
			r.t.Fatal(err)
		}
	}
}

// key is what is compared of an event.
func (r *replayer) key(ev map[string]any) string {
	typ, _ := ev["type"].(string)
	parts := []string{typ}
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	if _, ok := ev["channel"]; ok {
		add("channel", r.toTranscript(str(ev, "channel.id")))
		add("state", str(ev, "channel.state"))
		add("caller", str(ev, "channel.caller.number"))
	}
	switch typ {
	case "StasisStart":
		args, _ := json.Marshal(ev["args"])
		add("args", r.toTranscriptText(string(args)))
	case "ChannelDtmfReceived":
		add("digit", str(ev, "digit"))
	case "ChannelHangupRequest":
		add("cause", str(ev, "cause"))
		add("soft", str(ev, "soft"))
		add("tech_cause", str(ev, "tech_cause"))
	case "ChannelDestroyed":
		add("cause", str(ev, "cause"))
		add("tech_cause", str(ev, "tech_cause"))
	case "ChannelVarset":
		add("variable", str(ev, "variable"))
		if str(ev, "variable") == "STASISSTATUS" {
			add("value", str(ev, "value"))
		}
	case "Dial":
		add("dialstatus", str(ev, "dialstatus"))
		add("peer", r.toTranscript(str(ev, "peer.id")))
	case "PlaybackStarted", "PlaybackFinished":
		add("playback", r.toTranscript(str(ev, "playback.id")))
		add("pstate", str(ev, "playback.state"))
		add("media", str(ev, "playback.media_uri"))
		add("target", r.toTranscriptText(str(ev, "playback.target_uri")))
	case "RecordingStarted", "RecordingFinished", "RecordingFailed":
		add("recording", str(ev, "recording.name"))
		add("rstate", str(ev, "recording.state"))
		target := str(ev, "recording.target_uri")
		if kind, id, ok := strings.Cut(target, ":"); ok {
			target = kind + ":" + r.toTranscript(id)
		}
		add("target", target)
	case "ChannelEnteredBridge", "ChannelLeftBridge", "BridgeDestroyed":
		add("bridge", str(ev, "bridge.id"))
	}
	return strings.Join(parts, " ")
}

func countSignal(evs []map[string]any) int {
	n := 0
	for _, ev := range evs {
		if !noise(ev) {
			n++
		}
	}
	return n
}

func noise(ev map[string]any) bool {
	return ev["type"] == "ChannelVarset" && str(ev, "variable") == "BRIDGEPEER"
}

func (r *replayer) keys(evs []map[string]any) []string {
	var out []string
	for _, ev := range evs {
		if !noise(ev) {
			out = append(out, r.key(ev))
		}
	}
	return out
}

// byChannel groups event keys by the channel (or playback's channel) they
// concern, for the load transcripts.
func (r *replayer) byChannel(evs []map[string]any) map[string][]string {
	out := map[string][]string{}
	for _, ev := range evs {
		if noise(ev) {
			continue
		}
		ch := str(ev, "channel.id")
		if ch == "" {
			if _, id, ok := strings.Cut(str(ev, "playback.target_uri")+str(ev, "recording.target_uri"), ":"); ok {
				ch = id
			}
		}
		ch = r.toTranscript(ch)
		out[ch] = append(out[ch], r.key(ev))
	}
	return out
}

func TestTranscripts(t *testing.T) {
	files, err := filepath.Glob("testdata/transcripts/*.jsonl*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(file), ".gz"), ".jsonl")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			replayTranscript(t, file, strings.HasPrefix(name, "load_"))
		})
	}
}

func replayTranscript(t *testing.T, file string, perChannel bool) {
	lines := loadTranscript(t, file)
	srv, err := Start(labOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	r := &replayer{t: t, srv: srv, ids: map[string]string{}, rev: map[string]string{}, conns: map[string]*wsClient{},
		want: map[string][]map[string]any{}, http: &http.Client{Timeout: 5 * time.Second}}
	for _, l := range lines {
		srv.Advance(time.Duration(l.TMs * float64(time.Millisecond)))
		switch l.Kind {
		case "ws_open":
			n := srv.Accepted()
			r.conns[l.Conn] = dialWS(t, srv, l.URL)
			r.order = append(r.order, l.Conn)
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
			if err := srv.AwaitAccepted(ctx, n+1); err != nil {
				t.Fatal(err)
			}
			cancel()
		case "ws_client_close":
			c := r.conns[l.Conn]
			c.await(r.want[l.Conn]) // what was sent before the close
			c.close()
			open := false
			for _, o := range r.conns {
				select {
				case <-o.done:
				default:
					open = true
				}
			}
			if !open {
				ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
				if err := srv.AwaitConnected(ctx, false); err != nil {
					t.Fatal(err)
				}
				cancel()
			}
		case "event":
			r.onEvent(l)
		case "rest":
			r.onREST(l)
		case "ws_raw_handshake":
			r.onRawHandshake(l)
		case "sipp_exit":
			r.onSippExit(argsOf(lines, l.Name))
		}
	}
	for _, name := range r.order {
		c := r.conns[name]
		want := r.want[name]
		got := c.await(want)
		if c.subscribeAll {
			continue
		}
		if perChannel {
			g, w := r.byChannel(got), r.byChannel(want)
			if len(g) != len(w) {
				t.Errorf("%s: events for %d channels, want %d", name, len(g), len(w))
			}
			for ch, wk := range w {
				if d := diff(g[ch], wk); d != "" {
					t.Errorf("%s channel %s: %s", name, ch, d)
				}
			}
			continue
		}
		if d := diff(r.keys(got), r.keys(want)); d != "" {
			t.Errorf("%s: %s", name, d)
		}
	}
}

// argsOf finds the SIPp arguments of the instance name.
func argsOf(lines []tline, name string) string {
	args := ""
	for _, l := range lines {
		if l.Kind == "sipp_start" && l.Name == name {
			args = l.Args
		}
	}
	return args
}

func diff(got, want []string) string {
	for i := 0; i < max(len(got), len(want)); i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			from := max(0, i-3)
			return "event " + strconv.Itoa(i) + ":\n  got  " + g + "\n  want " + w +
				"\n  got  (from " + strconv.Itoa(from) + "): " + strings.Join(got[from:min(len(got), i+3)], " | ") +
				"\n  want (from " + strconv.Itoa(from) + "): " + strings.Join(want[from:min(len(want), i+3)], " | ")
		}
	}
	return ""
}
