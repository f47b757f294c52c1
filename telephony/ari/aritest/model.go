package aritest

import (
	"fmt"
	"strings"
	"time"
)

// channel is an Asterisk channel.
type channel struct {
	id, name    string
	state       string // Down, Ring, Ringing, Up
	callerName  string
	callerNum   string
	connName    string
	connNum     string
	context     string
	exten       string
	priority    int
	appName     string
	appData     string
	created     string
	inStasis    bool
	subscribed  bool // events flow after StasisEnd too (originated, or explicit subscription)
	outbound    bool
	args        []string
	vars        map[string]string
	bridge      string
	destroyed   bool
	playQueue   []*playback // queued behind the current one
	playing     *playback
	recordings  map[string]*recording
	phone       *Phone
	dialTimer   interface{ Stop() bool }
	dialstring  string
	originateTO time.Duration
	outcome     Outcome
	everStasis  bool
	snoopOf     string   // for a Snoop channel: the channel spied on
	snoops      []string // Snoop channels on this one
}

func (c *channel) stopTimers() {
	if c.dialTimer != nil {
		c.dialTimer.Stop()
	}
}

// channelJSON is ARI's Channel. A struct (not a map) because nearly
// every event carries one: it encodes several times faster.
type channelJSON struct {
	ID           string       `json:"id"`
	Name         string       `json:"name"`
	State        string       `json:"state"`
	ProtocolID   string       `json:"protocol_id"`
	Caller       callerJSON   `json:"caller"`
	Connected    callerJSON   `json:"connected"`
	Accountcode  string       `json:"accountcode"`
	Dialplan     dialplanJSON `json:"dialplan"`
	Creationtime string       `json:"creationtime"`
	Language     string       `json:"language"`
}

type callerJSON struct {
	Name   string `json:"name"`
	Number string `json:"number"`
}

type dialplanJSON struct {
	Context  string `json:"context"`
	Exten    string `json:"exten"`
	Priority int    `json:"priority"`
	AppName  string `json:"app_name"`
	AppData  string `json:"app_data"`
}

// field lets Event.Field read into the structs.
func (c channelJSON) field(name string) any {
	switch name {
	case "id":
		return c.ID
	case "name":
		return c.Name
	case "state":
		return c.State
	case "caller":
		return c.Caller
	case "connected":
		return c.Connected
	case "dialplan":
		return c.Dialplan
	case "language":
		return c.Language
	}
	return nil
}

func (c callerJSON) field(name string) any {
	switch name {
	case "name":
		return c.Name
	case "number":
		return c.Number
	}
	return nil
}

func (d dialplanJSON) field(name string) any {
	switch name {
	case "context":
		return d.Context
	case "exten":
		return d.Exten
	case "priority":
		return d.Priority
	case "app_name":
		return d.AppName
	case "app_data":
		return d.AppData
	}
	return nil
}

func (c *channel) json() channelJSON {
	return channelJSON{
		ID: c.id, Name: c.name, State: c.state,
		Caller:    callerJSON{Name: c.callerName, Number: c.callerNum},
		Connected: callerJSON{Name: c.connName, Number: c.connNum},
		Dialplan: dialplanJSON{Context: c.context, Exten: c.exten, Priority: c.priority,
			AppName: c.appName, AppData: c.appData},
		Creationtime: c.created, Language: "en",
	}
}

// emitChannel raises a channel event when the app hears about the channel;
// extra holds its other members (nil for none).
func (s *Server) emitChannel(c *channel, typ string, extra map[string]any) {
	s.raise(c, fevent{typ: typ, extra: extra})
}

// raise is emitChannel for an event built as fields.
func (s *Server) raise(c *channel, e fevent) {
	if !c.inStasis && !c.subscribed {
		return
	}
	e.hasCh, e.ch = true, c.json()
	e = s.emitEvent(e)
	if c.phone != nil {
		c.phone.observe(e)
	}
}

func (s *Server) setVar(c *channel, name, value string) {
	if c.vars == nil {
		c.vars = map[string]string{}
	}
	c.vars[name] = value
	s.emitChannel(c, "ChannelVarset", map[string]any{"variable": name, "value": value})
}

// rtpStats raises the five RTP statistics variables Asterisk sets when a
// PJSIP channel hangs up.
func (s *Server) rtpStats(c *channel) {
	if !strings.HasPrefix(c.name, "PJSIP/") || c.state != "Up" {
		return
	}
	for _, v := range []string{"RTPAUDIOQOS", "RTPAUDIOQOSJITTER", "RTPAUDIOQOSLOSS", "RTPAUDIOQOSRTT", "RTPAUDIOQOSMES"} {
		s.setVar(c, v, "")
	}
}

// hangup ends a channel. cause is the Q.850 cause for ChannelDestroyed;
// byApp marks a hang-up requested through ARI (DELETE), whose
// HangupRequest carries cause 32 soft:true.
func (s *Server) hangup(c *channel, cause int, byApp bool) {
	if c.destroyed {
		return
	}
	c.stopTimers()
	if !c.everStasis && c.dialstring != "" {
		// an originate cancelled while ringing
		s.failOriginate(c, cause, 0, "NOANSWER", true)
		return
	}
	s.rtpStats(c)
	if byApp {
		s.emitChannel(c, "ChannelHangupRequest", map[string]any{"cause": 32, "soft": true})
	} else {
		s.emitChannel(c, "ChannelHangupRequest", map[string]any{})
	}
	s.logf("hangup %s cause %d", c.id, cause)
	var emptied *bridge
	if b := s.bridges[c.bridge]; b != nil {
		s.leaveBridge(c)
		if len(b.channels) == 0 {
			emptied = b
		}
	}
	for _, r := range c.recordings {
		s.finishRecording(r, "done")
	}
	if c.playing != nil {
		s.finishPlayback(c.playing, "failed")
	}
	for _, pb := range c.playQueue {
		delete(s.playbacks, pb.id)
	}
	c.playQueue = nil
	if c.inStasis {
		s.emitChannel(c, "StasisEnd", nil)
		c.inStasis = false
		s.setVar(c, "STASISSTATUS", "SUCCESS") // heard only when subscribed
		if !c.outbound && !byApp {
			// the dialplan's Hangup() after Stasis returns
			s.emitChannel(c, "ChannelHangupRequest", map[string]any{"cause": 16, "soft": true})
		}
	}
	for _, id := range c.snoops {
		if sn := s.channels[id]; sn != nil {
			for _, r := range sn.recordings {
				s.finishRecording(r, "done")
			}
			if sn.inStasis {
				s.emitChannel(sn, "StasisEnd", nil)
				sn.inStasis = false
			}
			sn.destroyed = true
			delete(s.channels, sn.id)
		}
	}
	if emptied != nil {
		// a bridge recording ends when the bridge empties
		for _, r := range emptied.recordings {
			s.finishRecording(r, "done")
		}
	}
	s.destroy(c, cause)
}

// failOriginate ends an originated channel that never answered.
func (s *Server) failOriginate(c *channel, cause, tech int, dialstatus string, byApp bool) {
	c.stopTimers()
	switch {
	case byApp:
		s.emitChannel(c, "ChannelHangupRequest", map[string]any{"cause": 32, "soft": true})
	case tech != 0 && cause != 19:
		s.emitChannel(c, "ChannelHangupRequest", map[string]any{"cause": cause, "tech_cause": tech})
	}
	if dialstatus != "" && (byApp || cause != 19) {
		s.emit(map[string]any{"type": "Dial", "dialstatus": dialstatus, "dialstring": c.dialstring,
			"forward": "", "peer": c.json()})
	}
	s.logf("originate %s failed cause %d", c.id, cause)
	s.destroy(c, cause, tech)
}

func (s *Server) destroy(c *channel, cause int, tech ...int) {
	c.destroyed = true
	extra := map[string]any{"cause": cause, "cause_txt": causeText(cause)}
	if len(tech) > 0 && tech[0] != 0 {
		extra["tech_cause"] = tech[0]
	}
	s.emitChannel(c, "ChannelDestroyed", extra)
	delete(s.channels, c.id)
	if c.phone != nil {
		c.phone.end(cause)
	}
}

func causeText(cause int) string {
	switch cause {
	case 0:
		return "Unknown"
	case 16:
		return "Normal Clearing"
	case 17:
		return "User busy"
	case 18:
		return "No user responding"
	case 19:
		return "User alerting, no answer"
	case 21:
		return "Call Rejected"
	default:
		return fmt.Sprintf("Cause %d", cause)
	}
}

// playback is a sound playing on a channel or a bridge.
type playback struct {
	id, media, target string // target is channel:<id> or bridge:<id>
	lang              string
	state             string
	timer             interface{ Stop() bool }
}

func (p *playback) stopTimer() {
	if p.timer != nil {
		p.timer.Stop()
	}
}

// playbackJSON is ARI's Playback; a struct for the reason channelJSON is.
type playbackJSON struct {
	ID        string `json:"id"`
	MediaURI  string `json:"media_uri"`
	TargetURI string `json:"target_uri"`
	Language  string `json:"language"`
	State     string `json:"state"`
}

func (p playbackJSON) field(name string) any {
	switch name {
	case "id":
		return p.ID
	case "media_uri":
		return p.MediaURI
	case "target_uri":
		return p.TargetURI
	case "language":
		return p.Language
	case "state":
		return p.State
	}
	return nil
}

func (p *playback) json() playbackJSON {
	return playbackJSON{ID: p.id, MediaURI: p.media, TargetURI: p.target, Language: p.lang, State: p.state}
}

func (s *Server) emitPlayback(p *playback, typ string) {
	e := s.emitEvent(fevent{typ: typ, hasPb: true, pb: p.json()})
	if ch := s.playbackChannel(p); ch != nil && ch.phone != nil {
		ch.phone.observe(e)
	}
}

func (s *Server) playbackChannel(p *playback) *channel {
	if id, ok := strings.CutPrefix(p.target, "channel:"); ok {
		return s.channels[id]
	}
	return nil
}

// startPlayback starts p now: PlaybackStarted, then Finished after its
// length (or failed at once for a missing sound; nothing more for a bad
// scheme, as Asterisk).
func (s *Server) startPlayback(p *playback, ch *channel) {
	p.state = "playing"
	s.emitPlayback(p, "PlaybackStarted")
	scheme, name, _ := strings.Cut(p.media, ":")
	switch scheme {
	case "sound", "recording", "tone", "digits", "number", "characters":
	default:
		return // Asterisk never finishes these, not even at hang-up
	}
	if ch != nil {
		ch.playing = p
	}
	if scheme == "sound" {
		for _, m := range s.opts.MissingSounds {
			if m == name {
				s.finishPlayback(p, "failed")
				return
			}
		}
	}
	length := s.opts.PlaybackLength
	if l, ok := s.opts.SoundLengths[p.media]; ok {
		length = l
	}
	p.timer = s.after(length, func() {
		if _, ok := s.playbacks[p.id]; ok && p.state == "playing" {
			s.finishPlayback(p, "done")
		}
	})
}

func (s *Server) finishPlayback(p *playback, state string) {
	if p.state == "done" || p.state == "failed" {
		return
	}
	p.stopTimer()
	p.state = state
	delete(s.playbacks, p.id)
	s.emitPlayback(p, "PlaybackFinished")
	ch := s.playbackChannel(p)
	if ch == nil || ch.playing != p {
		return
	}
	ch.playing = nil
	if state == "done" && len(ch.playQueue) > 0 {
		next := ch.playQueue[0]
		ch.playQueue = ch.playQueue[1:]
		s.startPlayback(next, ch)
	}
}

// recording is a live recording of a channel or a bridge.
type recording struct {
	name, format, target string
	state                string
	started              time.Time
	paused               time.Duration
	pausedAt             time.Time
	terminateOn          string
	final                time.Duration
	timer                interface{ Stop() bool }
}

func (r *recording) stopTimer() {
	if r.timer != nil {
		r.timer.Stop()
	}
}

type storedRecording struct {
	Name, Format, TargetURI string
	Duration                time.Duration
}

func (r *recording) json() map[string]any {
	m := map[string]any{"name": r.name, "format": r.format, "state": r.state, "target_uri": r.target}
	if r.state == "done" {
		m["duration"] = int(r.final / time.Second)
	}
	return m
}

func (r *recording) length(now time.Time) time.Duration {
	d := now.Sub(r.started) - r.paused
	if !r.pausedAt.IsZero() {
		d -= now.Sub(r.pausedAt)
	}
	return max(d, 0)
}

func (s *Server) emitRecording(r *recording, typ string) {
	ev := map[string]any{"type": typ, "recording": r.json()}
	s.emit(ev)
	if id, ok := strings.CutPrefix(r.target, "channel:"); ok {
		if ch := s.channels[id]; ch != nil && ch.phone != nil {
			ch.phone.observe(fevent{typ: typ, extra: ev, m: ev})
		}
	}
}

func (s *Server) finishRecording(r *recording, state string) {
	if r.state != "recording" && r.state != "paused" && r.state != "queued" {
		return
	}
	r.stopTimer()
	now := s.clock()
	r.final = r.length(now)
	if !r.pausedAt.IsZero() {
		r.pausedAt = time.Time{}
	}
	r.state = state
	delete(s.live, r.name)
	if id, ok := strings.CutPrefix(r.target, "channel:"); ok {
		if ch := s.channels[id]; ch != nil {
			delete(ch.recordings, r.name)
		}
	}
	if id, ok := strings.CutPrefix(r.target, "bridge:"); ok {
		if b := s.bridges[id]; b != nil {
			delete(b.recordings, r.name)
		}
	}
	s.stored[r.name] = storedRecording{Name: r.name, Format: r.format, TargetURI: r.target, Duration: r.final}
	s.logf("recorded %s %s", r.name, r.target)
	s.spool(r)
	s.emitRecording(r, "RecordingFinished")
}

// bridge is a mixing bridge.
type bridge struct {
	id, name, typ string
	channels      []string
	joined        []string
	recordings    map[string]*recording
	destroyed     bool
}

func (b *bridge) json() map[string]any {
	tech := "simple_bridge"
	if len(b.channels) > 2 {
		tech = "softmix"
	}
	return map[string]any{"id": b.id, "technology": tech, "bridge_type": b.typ, "bridge_class": "stasis",
		"creator": "Stasis", "name": b.name, "channels": append([]string{}, b.channels...),
		"creationtime": now(), "video_mode": "talker"}
}

func (s *Server) leaveBridge(c *channel) {
	if c.bridge == "" {
		return
	}
	b := s.bridges[c.bridge]
	c.bridge = ""
	if b == nil {
		return
	}
	for i, id := range b.channels {
		if id == c.id {
			b.channels = append(b.channels[:i], b.channels[i+1:]...)
			break
		}
	}
	s.setVar(c, "BRIDGEPEER", "")
	s.emitChannel(c, "ChannelLeftBridge", map[string]any{"bridge": b.json()})
}
