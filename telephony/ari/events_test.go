package ari

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	ariv5 "github.com/CyCoreSystems/ari/v5"
)

// fullEvent is the event decoded whole by encoding/json, as the backend
// did before decodeEvent: the reference decodeEvent is held to.
type fullEvent struct {
	Type       string                   `json:"type"`
	Channel    *channelData             `json:"channel"`
	Args       []string                 `json:"args"`
	Digit      string                   `json:"digit"`
	Cause      int                      `json:"cause"`
	TechCause  int                      `json:"tech_cause"`
	Soft       bool                     `json:"soft"`
	Playback   *ariv5.PlaybackData      `json:"playback"`
	Recording  *ariv5.LiveRecordingData `json:"recording"`
	Dialstatus string                   `json:"dialstatus"`
}

// want is what handle may read of the reference decoding for the type.
func (f *fullEvent) want() event {
	ev := event{Type: f.Type}
	switch f.Type {
	case "StasisStart":
		ev.Channel, ev.Args = f.Channel, f.Args
	case "ChannelDtmfReceived", "ChannelHangupRequest", "StasisEnd", "ChannelDestroyed", "ChannelStateChange":
		if f.Channel != nil {
			ev.Channel = &channelData{ID: f.Channel.ID, State: f.Channel.State}
		}
		ev.Digit, ev.Cause, ev.TechCause, ev.Soft = f.Digit, f.Cause, f.TechCause, f.Soft
	case "PlaybackFinished":
		if f.Playback != nil {
			ev.Playback = &playbackData{ID: f.Playback.ID, State: f.Playback.State}
		}
	case "RecordingFinished", "RecordingFailed":
		ev.Recording = f.Recording
	}
	return ev
}

// eventView is what handle reads of an event, without the buffers.
type eventView struct {
	Type             string
	Channel          *channelData
	Args             []string
	Digit            string
	Cause, TechCause int
	Soft             bool
	Playback         *playbackData
	Recording        *ariv5.LiveRecordingData
}

func (ev *event) view() eventView {
	return eventView{Type: ev.Type, Channel: ev.Channel, Args: ev.Args, Digit: ev.Digit, Cause: ev.Cause,
		TechCause: ev.TechCause, Soft: ev.Soft, Playback: ev.Playback, Recording: ev.Recording}
}

// transcriptEvents returns every event frame Asterisk sent in the
// recorded transcripts.
func transcriptEvents(t testing.TB) [][]byte {
	t.Helper()
	paths, _ := filepath.Glob("aritest/testdata/transcripts/*.jsonl*")
	if len(paths) == 0 {
		t.Fatal("no transcripts")
	}
	var frames [][]byte
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = f
		if strings.HasSuffix(p, ".gz") {
			if r, err = gzip.NewReader(f); err != nil {
				t.Fatal(err)
			}
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<22)
		for sc.Scan() {
			var l struct {
				Kind  string          `json:"kind"`
				Event json.RawMessage `json:"event"`
			}
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if l.Kind == "event" {
				frames = append(frames, l.Event)
			}
		}
		f.Close()
	}
	return frames
}

func TestDecodeEventAsEncodingJSON(t *testing.T) {
	frames := transcriptEvents(t)
	types := map[string]int{}
	for _, f := range frames {
		var ref fullEvent
		if err := json.Unmarshal(f, &ref); err != nil {
			t.Fatalf("reference: %v", err)
		}
		var got event
		if err := decodeEvent(f, &got); err != nil {
			t.Fatalf("decode %s: %v", f, err)
		}
		if want := ref.want(); !reflect.DeepEqual(got.view(), want.view()) {
			t.Errorf("decode %s:\ngot  %+v\nwant %+v", f, got.view(), want.view())
		}
		types[got.Type]++
	}
	// the transcripts cover what the backend acts on
	for _, typ := range []string{"StasisStart", "ChannelDtmfReceived", "ChannelHangupRequest", "StasisEnd",
		"ChannelDestroyed", "ChannelStateChange", "PlaybackFinished", "RecordingFinished"} {
		if types[typ] == 0 {
			t.Errorf("no %s in the transcripts", typ)
		}
	}
}

func TestDecodeEvent(t *testing.T) {
	for _, tc := range []struct {
		name, frame string
		want        event
		bad         bool
	}{
		{name: "digit", frame: `{"type":"ChannelDtmfReceived","digit":"5","channel":{"id":"c1","state":"Up","caller":{"number":"1"}}}`,
			want: event{Type: "ChannelDtmfReceived", Digit: "5", Channel: &channelData{ID: "c1", State: "Up"}}},
		{name: "space and escapes", frame: " {\n\"type\" : \"Channel\\u0044tmfReceived\", \"digit\":\"#\",\"channel\":{\"id\":\"a\\/b\"}}\t",
			want: event{Type: "ChannelDtmfReceived", Digit: "#", Channel: &channelData{ID: "a/b"}}},
		{name: "type last", frame: `{"channel":{"id":"c1"},"cause":16,"soft":true,"type":"ChannelHangupRequest"}`,
			want: event{Type: "ChannelHangupRequest", Cause: 16, Soft: true, Channel: &channelData{ID: "c1"}}},
		{name: "the last of a repeated member", frame: `{"type":"X","type":"StasisEnd","channel":{"id":"a","id":"b"}}`,
			want: event{Type: "StasisEnd", Channel: &channelData{ID: "b"}}},
		{name: "nulls", frame: `{"type":"ChannelDestroyed","channel":null,"cause":null,"tech_cause":null}`,
			want: event{Type: "ChannelDestroyed"}},
		{name: "playback", frame: `{"type":"PlaybackFinished","playback":{"id":"p","state":"failed","media_uri":"sound:x"}}`,
			want: event{Type: "PlaybackFinished", Playback: &playbackData{ID: "p", State: "failed"}}},
		{name: "unknown type", frame: `{"type":"FromTheFuture","channel":[1,{"x":[]}]}`, want: event{Type: "FromTheFuture"}},
		{name: "not json", frame: `{not json`, bad: true},
		{name: "truncated", frame: `{"type":"StasisEnd","channel":{"id":"c1"}`, bad: true},
		{name: "trailing garbage", frame: `{"type":"StasisEnd"} x`, bad: true},
		{name: "no type", frame: `{"no":"type"}`, bad: true},
		{name: "array", frame: `[]`, bad: true},
		{name: "null", frame: `null`, bad: true},
		{name: "channel not an object", frame: `{"type":"StasisStart","channel":"x"}`, bad: true},
		{name: "digit channel not an object", frame: `{"type":"ChannelDtmfReceived","channel":"x"}`, bad: true},
		{name: "cause not a number", frame: `{"type":"ChannelDestroyed","cause":"16"}`, bad: true},
		{name: "cause not an integer", frame: `{"type":"ChannelDestroyed","cause":1.5}`, bad: true},
		{name: "recording duration not a number", frame: `{"type":"RecordingFinished","recording":{"name":"n","duration":"x"}}`, bad: true},
		{name: "bad escape", frame: `{"type":"St\asisEnd"}`, bad: true},
		{name: "control character", frame: "{\"type\":\"Stasis\x01End\"}", bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got event
			err := decodeEvent([]byte(tc.frame), &got)
			if tc.bad {
				if err == nil {
					t.Fatalf("got %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.view(), tc.want.view()) {
				t.Errorf("got %+v, want %+v", got.view(), tc.want.view())
			}
		})
	}
}

// FuzzScanValue holds the scanner to encoding/json's idea of valid JSON.
func FuzzScanValue(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `""`, `"\u00e9\n"`, `-0.5e+10`, `01`, `1.`, `{"a":[1,true,null,{"b":"c"}]}`,
		`{"a" 1}`, `[1,]`, `"\x"`, `tru`, " \t{ } ", `{"type":"StasisStart","channel":{"id":"1"}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		i := skipSpace(b, 0)
		got := false
		if i < len(b) {
			if j := skipValue(b, i, 0); j >= 0 {
				got = skipSpace(b, j) == len(b)
			}
		}
		if want := json.Valid(b); got != want {
			t.Errorf("valid %q = %v, json.Valid says %v", b, got, want)
		}
	})
}

// FuzzDecodeEvent: any frame decodes or fails, never panics, and a frame
// that encoding/json decodes whole decodes to the same.
func FuzzDecodeEvent(f *testing.F) {
	for _, fr := range transcriptEvents(f) {
		f.Add([]byte(fr))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var got event
		err := decodeEvent(b, &got)
		var ref fullEvent
		if json.Unmarshal(b, &ref) != nil || ref.Type == "" || !plainKeys(b) {
			return
		}
		if err != nil {
			t.Fatalf("decode %q: %v; encoding/json decodes it", b, err)
		}
		if want := ref.want(); !reflect.DeepEqual(got.view(), want.view()) {
			t.Errorf("decode %q:\ngot  %+v\nwant %+v", b, got.view(), want.view())
		}
	})
}

// plainKeys reports whether every object key in b is what Asterisk
// sends: lower case, no escapes, no repeats (encoding/json also matches
// keys case-insensitively and after unescaping, and merges a repeated
// object into the first; decodeEvent does not need to).
func plainKeys(b []byte) bool {
	ok := true
	var walk func(v []byte)
	walk = func(v []byte) {
		v = v[skipSpace(v, 0):]
		if len(v) == 0 {
			return
		}
		switch v[0] {
		case '{':
			seen := map[string]bool{}
			eachMember(v, func(key, value []byte) {
				if seen[string(key)] {
					ok = false
				}
				seen[string(key)] = true
				for _, c := range key {
					if c == '\\' || (c >= 'A' && c <= 'Z') || c >= 0x80 {
						ok = false
					}
				}
				walk(value)
			})
		case '[':
			var items []json.RawMessage
			if json.Unmarshal(v, &items) == nil {
				for _, it := range items {
					walk(it)
				}
			}
		}
	}
	walk(b)
	return ok
}
