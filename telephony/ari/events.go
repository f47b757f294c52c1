package ari

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	ariv5 "github.com/CyCoreSystems/ari/v5"
	"golang.org/x/net/websocket"
)

// event is every ARI event the backend acts on, decoded once into the
// library's data types. Unknown types decode too (Type tells them apart);
// they are ignored, never a crash.
type event struct {
	Type        string                   `json:"type"`
	Application string                   `json:"application"`
	Channel     *channelData             `json:"channel"`
	Peer        *channelData             `json:"peer"`
	Args        []string                 `json:"args"`
	Digit       string                   `json:"digit"`
	Cause       int                      `json:"cause"`
	TechCause   int                      `json:"tech_cause"`
	Soft        bool                     `json:"soft"`
	Dialstatus  string                   `json:"dialstatus"`
	Playback    *ariv5.PlaybackData      `json:"playback"`
	Recording   *ariv5.LiveRecordingData `json:"recording"`
	Bridge      *ariv5.BridgeData        `json:"bridge"`
}

// channelData is the part of ARI's Channel the backend reads. (The
// library's ari.ChannelData decodes each channel twice, through a
// protobuf timestamp; with a channel in nearly every event that doubled
// the cost of decoding.)
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

// decodeEvent parses one WebSocket frame.
func decodeEvent(frame []byte) (*event, error) {
	var ev event
	if err := json.Unmarshal(frame, &ev); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	if ev.Type == "" {
		return nil, fmt.Errorf("decode event: no type")
	}
	return &ev, nil
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
func dialEvents(ctx context.Context, cfg *Config) (*websocket.Conn, error) {
	wsCfg, err := websocket.NewConfig(cfg.eventsURL(), "http://localhost/")
	if err != nil {
		return nil, fmt.Errorf("events websocket: %w", err)
	}
	wsCfg.Header = http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.Username+":"+cfg.Password))}}
	// ARI sends nothing while no call is active: TCP keep-alive is what
	// finds an Asterisk that vanished without closing (power loss, a cut
	// link) within about 25 s, so that the reconnect loop starts.
	wsCfg.Dialer = &net.Dialer{KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 10 * time.Second, Interval: 5 * time.Second, Count: 3}}
	ctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	conn, err := wsCfg.DialContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("events websocket %s: %w: %w", redact(cfg.eventsURL()), ErrUnreachable, err)
	}
	conn.MaxPayloadBytes = maxFrame
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
