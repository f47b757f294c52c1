package ari

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	ariv5 "github.com/CyCoreSystems/ari/v5"
)

// event is what the backend reads of an ARI event. decodeEvent fills in
// only what handle reads for the event's type; unknown types decode too
// (Type tells them apart) and are ignored, never a crash.
type event struct {
	Type      string
	Channel   *channelData
	Args      []string
	Digit     string
	Cause     int
	TechCause int
	Soft      bool
	Playback  *playbackData
	Recording *ariv5.LiveRecordingData

	// what Channel and Playback point to when decoded as references: the
	// reader reuses one event, so that a digit or a finished playback
	// costs it no allocation but the id
	chBuf channelData
	pbBuf playbackData
}

// channelData is the part of ARI's Channel the backend reads. (The
// library's ari.ChannelData decodes each channel twice, through a
// protobuf timestamp.)
type channelData struct {
	ID     string          `json:"id"`
	Name   string          `json:"name"`
	State  string          `json:"state"`
	Caller *ariv5.CallerID `json:"caller"`
	// Dialplan carries app_data ("hotline,inbound") besides the location.
	Dialplan *struct {
		Context string `json:"context"`
		Exten   string `json:"exten"`
		AppName string `json:"app_name"`
		AppData string `json:"app_data"`
	} `json:"dialplan"`
}

// playbackData is the part of ARI's Playback the backend reads.
type playbackData struct {
	ID    string
	State string
}

// rawEvent holds the raw top-level members of an event that matter.
type rawEvent struct {
	typ, channel, args, digit, cause, techCause, soft, playback, recording []byte
}

var errNoType = errors.New("no type")

// decodeEvent parses one WebSocket frame into ev. The frame is checked
// as a whole (as strictly as encoding/json), but only the members the
// event's type needs are decoded: most events (PlaybackStarted,
// ChannelVarset, ...) need nothing past their type, and a digit or a
// finished playback only the ids.
func decodeEvent(frame []byte, ev *event) error {
	*ev = event{}
	var r rawEvent
	ok := eachMember(frame, func(key, value []byte) {
		switch string(key) {
		case "type":
			r.typ = value
		case "channel":
			r.channel = value
		case "args":
			r.args = value
		case "digit":
			r.digit = value
		case "cause":
			r.cause = value
		case "tech_cause":
			r.techCause = value
		case "soft":
			r.soft = value
		case "playback":
			r.playback = value
		case "recording":
			r.recording = value
		}
	})
	if !ok {
		return fmt.Errorf("decode event: %w", errMalformed)
	}
	if err := ev.decode(&r); err != nil {
		return fmt.Errorf("decode event %s: %w", ev.Type, err)
	}
	return nil
}

var errMalformed = errors.New("not a JSON object")

func (ev *event) decode(r *rawEvent) error {
	var err error
	if r.typ != nil {
		if ev.Type, err = jsonWord(r.typ); err != nil {
			return err
		}
	}
	if ev.Type == "" {
		return errNoType
	}
	switch ev.Type {
	case "StasisStart":
		if r.channel != nil {
			if err := json.Unmarshal(r.channel, &ev.Channel); err != nil {
				return err
			}
		}
		if r.args != nil {
			if err := json.Unmarshal(r.args, &ev.Args); err != nil {
				return err
			}
		}
		return nil
	case "ChannelDtmfReceived", "ChannelHangupRequest", "StasisEnd", "ChannelDestroyed", "ChannelStateChange":
		if err := ev.decodeChannelRef(r.channel); err != nil {
			return err
		}
		if ev.Digit, err = jsonString(orNull(r.digit)); err != nil {
			return err
		}
		if ev.Cause, err = jsonInt(r.cause); err != nil {
			return err
		}
		if ev.TechCause, err = jsonInt(r.techCause); err != nil {
			return err
		}
		ev.Soft, err = jsonBool(r.soft)
		return err
	case "PlaybackFinished":
		return ev.decodePlayback(r.playback)
	case "RecordingFinished", "RecordingFailed":
		if r.recording != nil {
			return json.Unmarshal(r.recording, &ev.Recording)
		}
	}
	return nil
}

// words are the event types and states ARI repeats in every event; a
// word decodes to one of these strings instead of a new one.
var words = []string{
	"StasisStart", "StasisEnd", "ChannelDtmfReceived", "ChannelHangupRequest", "ChannelDestroyed",
	"ChannelStateChange", "ChannelVarset", "PlaybackStarted", "PlaybackContinuing", "PlaybackFinished",
	"RecordingStarted", "RecordingFinished", "RecordingFailed", "Dial", "ChannelEnteredBridge",
	"ChannelLeftBridge", "BridgeCreated", "BridgeDestroyed", "ChannelDialplan", "ChannelCreated",
	"ChannelCallerId", "ChannelConnectedLine", "DeviceStateChanged", "ChannelHold", "ChannelUnhold",
	"ChannelTalkingStarted", "ChannelTalkingFinished", "ChannelToneDetected", "ApplicationReplaced",
	"Up", "Down", "Ring", "Ringing", "queued", "playing", "done", "failed",
}

// jsonWord is jsonString for the words ARI repeats.
func jsonWord(raw []byte) (string, error) {
	if len(raw) >= 2 && raw[0] == '"' {
		for _, w := range words {
			if string(raw[1:len(raw)-1]) == w {
				return w, nil
			}
		}
	}
	return jsonString(raw)
}

func orNull(raw []byte) []byte {
	if raw == nil {
		return []byte("null")
	}
	return raw
}

// decodeChannelRef reads a channel's id and state.
func (ev *event) decodeChannelRef(raw []byte) error {
	ok, err := decodeIDState(raw, "channel", &ev.chBuf.ID, &ev.chBuf.State)
	if ok {
		ev.Channel = &ev.chBuf
	}
	return err
}

// decodePlayback reads a playback's id and state.
func (ev *event) decodePlayback(raw []byte) error {
	ok, err := decodeIDState(raw, "playback", &ev.pbBuf.ID, &ev.pbBuf.State)
	if ok {
		ev.Playback = &ev.pbBuf
	}
	return err
}

// decodeIDState reads the id and state members of an object (a channel, a
// playback); it reports false, with no error, for an absent or null one.
func decodeIDState(raw []byte, what string, id, state *string) (bool, error) {
	if raw == nil || string(raw) == "null" {
		return false, nil
	}
	if raw[0] != '{' {
		return false, fmt.Errorf("%s is not an object", what)
	}
	var rawID, rawState []byte
	eachMember(raw, func(key, value []byte) {
		switch string(key) {
		case "id":
			rawID = value
		case "state":
			rawState = value
		}
	})
	var err error
	if *id, err = jsonString(orNull(rawID)); err != nil {
		return false, fmt.Errorf("%s id: %w", what, err)
	}
	if *state, err = jsonWord(orNull(rawState)); err != nil {
		return false, fmt.Errorf("%s state: %w", what, err)
	}
	return true, nil
}

// channelID is the id of the channel the event is about, "" if none.
func (ev *event) channelID() string {
	if ev.Channel != nil {
		return ev.Channel.ID
	}
	return ""
}

// maxFrame bounds one event frame; ARI events are a few kB.
const maxFrame = 1 << 20

// dialEvents opens the application's events WebSocket.
func dialEvents(ctx context.Context, cfg *Config) (*wsConn, error) {
	header := http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.Username+":"+cfg.Password))}}
	// ARI sends nothing while no call is active: TCP keep-alive is what
	// finds an Asterisk that vanished without closing (power loss, a cut
	// link) within about 25 s, so that the reconnect loop starts.
	dialer := &net.Dialer{KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 10 * time.Second, Interval: 5 * time.Second, Count: 3}}
	ctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	conn, err := dialWS(ctx, dialer, cfg.eventsURL(), header)
	if err != nil {
		return nil, fmt.Errorf("events websocket %s: %w: %w", redact(cfg.eventsURL()), ErrUnreachable, err)
	}
	return conn, nil
}

func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "?"
	}
	p.User = nil
	return p.String()
}
