package aritest

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestAppendJSON: what appendJSON writes decodes to what encoding/json's
// encoding of the same value decodes to.
func TestAppendJSON(t *testing.T) {
	ch := &channel{id: "1795983202.0", name: "PJSIP/sipp-00000000", state: "Up", callerName: `Test "Caller"`,
		callerNum: "13800000001", context: "from-sipp", exten: "96596", priority: 2, appName: "Stasis", appData: "hotline,inbound"}
	pb := &playback{id: "pb-1", media: "sound:hotline/menu", target: "channel:1795983202.0", lang: "zh", state: "playing"}
	for _, tc := range []struct {
		name string
		v    any
	}{
		{"channel event", map[string]any{"type": "ChannelDtmfReceived", "channel": ch.json(), "digit": "1", "duration_ms": 280}},
		{"playback event", map[string]any{"type": "PlaybackStarted", "playback": pb.json()}},
		{"args", map[string]any{"type": "StasisStart", "args": []string{"inbound", "x"}, "empty": []string{}}},
		{"nested", []any{map[string]any{"a": []any{1, true, nil, "s"}}, map[string]string{"b": "c", "a": "d"}}},
		{"hang-up", map[string]any{"cause": 32, "soft": true, "tech_cause": int64(486)}},
		{"struct slice (encoding/json)", []channelJSON{ch.json()}},
		{"strings", []string{"", "plain", "quote\" back\\ slash", "ctl\x00\x1f\n\r\t", "<html>&", "中文", "bad\xff\xfeutf8", "\u2028"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := appendJSON(nil, tc.v)
			want, err := json.Marshal(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatalf("%s: %v", got, err)
			}
			_ = json.Unmarshal(want, &w)
			if !reflect.DeepEqual(g, w) {
				t.Errorf("got %s\nwant %s", got, want)
			}
		})
	}
}

func TestEventMemberOrder(t *testing.T) {
	ev := map[string]any{"type": "ChannelDtmfReceived", "timestamp": "t", "digit": "1", "duration_ms": 280,
		"asterisk_id": "00:00:00:00:00:00", "application": "hotline", "channel": "c"}
	got := string(appendMap(nil, ev, eventFirst, eventLast))
	want := `{"type":"ChannelDtmfReceived","timestamp":"t","channel":"c","digit":"1","duration_ms":280,"asterisk_id":"00:00:00:00:00:00","application":"hotline"}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\x00", "\xff", "中", strings.Repeat("\\", 3)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got, want string
		if err := json.Unmarshal(appendString(nil, s), &got); err != nil {
			t.Fatalf("%q: %v", appendString(nil, s), err)
		}
		b, _ := json.Marshal(s)
		_ = json.Unmarshal(b, &want)
		if got != want {
			t.Errorf("%q: got %q, want %q", s, got, want)
		}
	})
}

func TestStamp(t *testing.T) {
	s := &Server{}
	for range 3000 {
		before := time.Now().Truncate(time.Millisecond)
		got := s.stamp()
		after := time.Now()
		at, err := time.Parse(DateFormat, got)
		if err != nil {
			t.Fatal(err)
		}
		if at.Before(before) || at.After(after) {
			t.Fatalf("stamp %s, want between %s and %s", got, before.Format(DateFormat), after.Format(DateFormat))
		}
	}
}

// TestFevent: an event raised from fields encodes as its map would, in
// Asterisk's member order, and its map holds what tests read.
func TestFevent(t *testing.T) {
	ch := (&channel{id: "c1", name: "PJSIP/sipp-1", state: "Up", callerNum: "13800000001"}).json()
	pb := (&playback{id: "pb-1", media: "sound:menu", target: "channel:c1", lang: "zh", state: "done"}).json()
	for _, tc := range []struct {
		name  string
		e     fevent
		order string // the members' order
		field string // a field tests read
		want  string
	}{
		{"digit", fevent{typ: "ChannelDtmfReceived", hasCh: true, ch: ch, extra: map[string]any{"digit": "1", "duration_ms": 280}},
			"type timestamp channel digit duration_ms asterisk_id application", "channel.state", "Up"},
		{"playback", fevent{typ: "PlaybackFinished", hasPb: true, pb: pb},
			"type timestamp playback asterisk_id application", "playback.media_uri", "sound:menu"},
		{"no extra", fevent{typ: "StasisEnd", hasCh: true, ch: ch},
			"type timestamp channel asterisk_id application", "channel.id", "c1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.e.stamp, tc.e.app = "2026-11-29T20:13:22.831+0000", "hotline"
			got := tc.e.appendJSON(nil)
			want, _ := json.Marshal(tc.e.event())
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatalf("%s: %v", got, err)
			}
			_ = json.Unmarshal(want, &w)
			if !reflect.DeepEqual(g, w) {
				t.Errorf("got %s\nwant %s", got, want)
			}
			if order := strings.Join(topKeys(t, got), " "); order != tc.order {
				t.Errorf("order %q, want %q", order, tc.order)
			}
			if v := Event(tc.e.event()).Field(tc.field); v != tc.want {
				t.Errorf("%s = %q, want %q", tc.field, v, tc.want)
			}
		})
	}
}

// topKeys returns the members' names of the JSON object b, in order.
func topKeys(t *testing.T, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("%s: not an object", b)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// TestAwaitAndNoHistory: Await finds events by type as NextType does;
// without history a phone forgets what Next is past, and OnRequest still
// sees every request.
func TestAwaitAndNoHistory(t *testing.T) {
	var seen []string
	var mu sync.Mutex
	srv, err := Start(Options{NoHistory: true, OnRequest: func(r Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.Path)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ws := dialWS(t, srv, "/ari/events?app=hotline")
	defer ws.ws.Close()
	if err := srv.AwaitConnected(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	p, err := srv.Call(Inbound{Caller: "13800000001"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Await(ctx, "StasisStart"); err != nil {
		t.Fatal(err)
	}
	for _, d := range "12" {
		if err := p.Press(string(d)); err != nil {
			t.Fatal(err)
		}
	}
	ev, err := p.NextType(ctx, "ChannelDtmfReceived")
	if err != nil || ev.Field("digit") != "1" || ev.Field("duration_ms") != "280" || ev.Field("channel.id") != p.ID() {
		t.Fatalf("first digit event %v, %v", ev, err)
	}
	if err := p.Await(ctx, "ChannelDtmfReceived"); err != nil {
		t.Fatal(err)
	}
	if evs := p.Events(); len(evs) != 0 {
		t.Errorf("events kept: %v, want none", evs)
	}
	resp, err := http.Get(srv.URL() + "/asterisk/ping?api_key=hotline:hotline-secret")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || seen[0] != "GET /ari/asterisk/ping" || len(srv.Requests()) != 0 || len(srv.History()) != 0 {
		t.Errorf("OnRequest saw %q; kept %d requests, %d history lines; want the ping seen, nothing kept", seen, len(srv.Requests()), len(srv.History()))
	}
}
