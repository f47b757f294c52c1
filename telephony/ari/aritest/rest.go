package aritest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

type params map[string]string

// readParams merges the query string and a JSON body's top-level values,
// as Asterisk accepts either; "variables" stays a JSON object.
func readParams(p params, rawQuery string, body []byte) (params, map[string]string) {
	for rawQuery != "" {
		var kv string
		kv, rawQuery, _ = strings.Cut(rawQuery, "&")
		k, v, _ := strings.Cut(kv, "=")
		k, err1 := url.QueryUnescape(k)
		v, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil || k == "" {
			continue
		}
		if _, seen := p[k]; !seen { // the first, as url.Values.Get
			p[k] = v
		}
	}
	var vars map[string]string
	if len(body) > 0 {
		var m map[string]json.RawMessage
		if json.Unmarshal(body, &m) == nil {
			for k, raw := range m {
				if k == "variables" {
					_ = json.Unmarshal(raw, &vars)
					continue
				}
				var sv string
				if json.Unmarshal(raw, &sv) == nil {
					p[k] = sv
				} else {
					p[k] = strings.Trim(string(raw), `"`)
				}
			}
		}
	}
	return p, vars
}

type reply struct {
	status int
	body   any
}

func msg(status int, text string) reply { return reply{status, map[string]any{"message": text}} }

var (
	notFoundResource = msg(404, "Resource not found")
	channelNotFound  = msg(404, "Channel not found")
	notInStasis      = msg(409, "Channel not in Stasis application")
	noContent        = reply{status: 204}
)

// serveREST answers a REST request that arrived at at: method, path as
// sent (escaped), raw query, body.
func (s *Server) serveREST(w http.ResponseWriter, at time.Time, method, path, rawQuery string, body []byte) {
	var segBuf [8]string
	seg := appendSegments(segBuf[:0], path)
	// Without history the parameters die with the request: the
	// connection's map serves them all.
	var p params
	if rw, ok := w.(*respWriter); ok && s.opts.NoHistory {
		clear(rw.params)
		p = rw.params
	} else {
		p = params{}
	}
	p, vars := readParams(p, rawQuery, body)
	s.mu.Lock()
	concerns := s.concerns(seg)
	rep := s.route(method, seg, p, vars)
	req := Request{Method: method, Path: unescape(path), Query: p, Status: rep.status, At: at, Channel: concerns}
	if s.opts.NoHistory {
		req.Query = nil
	}
	if !s.opts.NoHistory {
		s.requests = append(s.requests, req)
	}
	s.mu.Unlock()
	if s.opts.OnRequest != nil {
		s.opts.OnRequest(req)
	}
	if rep.status == 204 {
		w.WriteHeader(204)
		return
	}
	if raw, ok := rep.body.(rawBody); ok {
		w.Header().Set("Content-Type", raw.contentType)
		w.WriteHeader(rep.status)
		_, _ = w.Write(raw.data)
		return
	}
	writeJSON(w, rep.status, rep.body)
}

// concerns names the channel a request is about.
func (s *Server) concerns(seg []string) string {
	if len(seg) < 2 {
		return ""
	}
	switch seg[0] {
	case "channels":
		return seg[1]
	case "playbacks":
		if pb := s.playbacks[seg[1]]; pb != nil {
			if id, ok := strings.CutPrefix(pb.target, "channel:"); ok {
				return id
			}
		}
	}
	return ""
}

// route answers one request with s.mu held. Events it raises are queued on
// the WebSocket before the HTTP answer is written, as Asterisk does.
func (s *Server) route(method string, seg []string, p params, vars map[string]string) reply {
	if len(seg) == 0 {
		return notFoundResource
	}
	n := len(seg)
	switch seg[0] {
	case "asterisk":
		switch {
		case method == "GET" && n == 2 && seg[1] == "info":
			return reply{200, map[string]any{
				"build":  map[string]any{"os": "Linux", "machine": "x86_64"},
				"system": map[string]any{"version": "22.10.1", "entity_id": "00:00:00:00:00:00"},
				"config": map[string]any{"name": "", "default_language": "en"},
				"status": map[string]any{"startup_time": now(), "last_reload_time": now()},
			}}
		case method == "GET" && n == 2 && seg[1] == "ping":
			return reply{200, map[string]any{"ping": "pong", "timestamp": now(), "asterisk_id": "00:00:00:00:00:00"}}
		case method == "GET" && n == 2 && seg[1] == "variable":
			return reply{200, map[string]any{"value": ""}}
		case method == "GET" && n == 2 && seg[1] == "modules":
			return reply{200, []any{map[string]any{"name": "res_stasis_recording.so", "description": "Stasis application recording support",
				"use_count": 0, "status": "Running", "support_level": "core"}}}
		case method == "GET" && n == 3 && seg[1] == "modules":
			return reply{200, map[string]any{"name": seg[2], "description": "", "use_count": 0, "status": "Running", "support_level": "core"}}
		case method == "GET" && n >= 3 && seg[1] == "config":
			return reply{200, []any{}}
		}
	case "applications":
		return s.routeApplications(method, seg, p)
	case "channels":
		return s.routeChannels(method, seg, p, vars)
	case "playbacks":
		if n == 2 {
			pb := s.playbacks[seg[1]]
			if pb == nil {
				return msg(404, "Playback not found")
			}
			switch method {
			case "GET":
				return reply{200, pb.json()}
			case "DELETE":
				if pb.state == "queued" {
					if ch := s.playbackChannel(pb); ch != nil {
						for i, q := range ch.playQueue {
							if q == pb {
								ch.playQueue = append(ch.playQueue[:i], ch.playQueue[i+1:]...)
								break
							}
						}
					}
					delete(s.playbacks, pb.id)
					return noContent
				}
				s.finishPlayback(pb, "done") // stopped shows as done
				return noContent
			}
		}
	case "recordings":
		return s.routeRecordings(method, seg, p)
	case "bridges":
		return s.routeBridges(method, seg, p)
	case "endpoints":
		return s.routeEndpoints(method, seg)
	case "sounds":
		if method == "GET" && n == 1 {
			return reply{200, []any{map[string]any{"id": "hello-world", "formats": []any{map[string]any{"language": "en", "format": "slin"}}}}}
		}
		if method == "GET" && n == 2 {
			for _, m := range s.opts.MissingSounds {
				if m == seg[1] {
					return msg(404, "Sound not found")
				}
			}
			if seg[1] == "does-not-exist-123" {
				return msg(404, "Sound not found")
			}
			return reply{200, map[string]any{"id": seg[1], "formats": []any{map[string]any{"language": "en", "format": "slin"}}}}
		}
	}
	return notFoundResource
}

func (s *Server) appJSON() map[string]any {
	return map[string]any{"name": s.opts.App, "channel_ids": s.stasisIDs(), "bridge_ids": s.bridgeIDs(),
		"endpoint_ids": []string{}, "device_names": []string{}, "events_allowed": []any{}, "events_disallowed": []any{}}
}

func (s *Server) bridgeIDs() []string {
	ids := []string{}
	for id, b := range s.bridges {
		if !b.destroyed {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// appExists: Asterisk keeps an application while a WebSocket is connected
// or a channel is still in it.
func (s *Server) appExists() bool { return s.conn != nil || len(s.stasisIDs()) > 0 }

func (s *Server) routeApplications(method string, seg []string, p params) reply {
	n := len(seg)
	switch {
	case method == "GET" && n == 1:
		if !s.appExists() {
			return reply{200, []any{}}
		}
		return reply{200, []any{s.appJSON()}}
	case method == "GET" && n == 2:
		if seg[1] != s.opts.App || !s.appExists() {
			return msg(404, "Application not found")
		}
		return reply{200, s.appJSON()}
	case method == "POST" && n == 3 && seg[2] == "subscription":
		if seg[1] != s.opts.App || !s.appExists() {
			return msg(404, "Application not found")
		}
		for _, src := range strings.Split(p["eventSource"], ",") {
			if id, ok := strings.CutPrefix(src, "channel:"); ok {
				ch := s.channels[id]
				if ch == nil {
					return msg(422, "Event source was not found")
				}
				ch.subscribed = true
			}
		}
		return reply{200, s.appJSON()}
	}
	return notFoundResource
}

func (s *Server) routeEndpoints(method string, seg []string) reply {
	if method != "GET" {
		return notFoundResource
	}
	names := make([]string, 0, len(s.opts.Endpoints))
	for k := range s.opts.Endpoints {
		if !strings.Contains(k, "/") {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	ep := func(name string) map[string]any {
		return map[string]any{"technology": "PJSIP", "resource": name, "state": "online", "channel_ids": []string{}}
	}
	switch len(seg) {
	case 1:
		out := []any{}
		for _, n := range names {
			out = append(out, ep(n))
		}
		return reply{200, out}
	case 3:
		if _, ok := s.opts.Endpoints[seg[2]]; ok && seg[1] == "PJSIP" {
			return reply{200, ep(seg[2])}
		}
		return msg(404, "Endpoint not found")
	}
	return notFoundResource
}

func (s *Server) routeChannels(method string, seg []string, p params, vars map[string]string) reply {
	n := len(seg)
	if n == 1 {
		switch method {
		case "GET":
			ids := make([]string, 0, len(s.channels))
			for id := range s.channels {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			out := []channelJSON{}
			for _, id := range ids {
				out = append(out, s.channels[id].json())
			}
			return reply{200, out}
		case "POST":
			return s.originate(p, vars, true)
		}
		return notFoundResource
	}
	if n == 2 && seg[1] == "create" && method == "POST" {
		return s.originate(p, vars, false)
	}
	ch := s.channels[seg[1]]
	if n == 2 && method == "POST" {
		// originate with the id in the path
		p["channelId"] = seg[1]
		return s.originate(p, vars, true)
	}
	if ch == nil {
		return channelNotFound
	}
	if n == 2 {
		switch method {
		case "GET":
			return reply{200, ch.json()}
		case "DELETE":
			cause := 16
			if rc, err := strconv.Atoi(p["reason_code"]); err == nil {
				cause = rc
			} else if c, ok := hangupReasons[p["reason"]]; ok {
				cause = c
			}
			s.hangup(ch, cause, true)
			return noContent
		}
		return notFoundResource
	}
	op := seg[2]
	if op == "variable" {
		switch method {
		case "GET":
			v, ok := ch.vars[p["variable"]]
			switch p["variable"] {
			case "CALLERID(num)":
				v, ok = ch.callerNum, true
			case "CALLERID(name)":
				v, ok = ch.callerName, true
			case "CHANNEL(pjsip,remote_addr)":
				v, ok = "127.0.0.1:5061", true // the lab caller's SIP address
			}
			if !ok && strings.Contains(p["variable"], "(") {
				v, ok = "", true // a dialplan function
			}
			if !ok {
				return msg(404, "Provided variable was not found")
			}
			return reply{200, map[string]any{"value": v}}
		case "POST":
			if p["variable"] == "" {
				return msg(400, "Variable name is required")
			}
			s.setVar(ch, p["variable"], p["value"])
			return noContent
		}
	}
	if !ch.inStasis {
		return notInStasis
	}
	switch {
	case op == "answer" && method == "POST":
		if ch.state != "Up" {
			ch.state = "Up"
			s.logf("answer %s", ch.id)
			s.emitChannel(ch, "ChannelStateChange", nil)
		}
		return noContent
	case op == "ring" && (method == "POST" || method == "DELETE"):
		return noContent
	case op == "moh" && (method == "POST" || method == "DELETE"):
		return noContent
	case op == "play" && method == "POST":
		return s.play(p, "channel:"+ch.id, ch)
	case op == "record" && method == "POST":
		return s.record(p, "channel:"+ch.id, ch, nil)
	case op == "dtmf" && method == "POST":
		if p["dtmf"] == "" {
			return msg(400, "DTMF is required")
		}
		s.logf("senddtmf %s %s", ch.id, p["dtmf"])
		if ch.phone != nil {
			ch.phone.heard(p["dtmf"])
		}
		return noContent
	case op == "continue" && method == "POST":
		s.logf("continue %s %s", ch.id, p["context"])
		s.leaveBridge(ch)
		s.emitChannel(ch, "StasisEnd", nil)
		ch.inStasis = false
		if ch.phone != nil {
			ch.phone.continued()
		}
		return noContent
	case op == "snoop" && method == "POST":
		return s.snoop(ch, p)
	case op == "dial" && method == "POST":
		s.dial(ch, p)
		return noContent
	}
	return notFoundResource
}

var hangupReasons = map[string]int{"normal": 16, "busy": 17, "congestion": 34, "no_answer": 19,
	"timeout": 18, "rejected": 21, "unallocated": 1, "normal_unspecified": 31, "number_incomplete": 28,
	"codec_mismatch": 58, "interworking": 127, "failure": 38, "answered_elsewhere": 26}

func (s *Server) nextID() int { s.seq++; return s.seq }

// outcomeFor finds the script of a dial string such as "PJSIP/unit" or
// "PJSIP/13800000000@carrier".
func (s *Server) outcomeFor(endpoint string) (Outcome, string, bool) {
	if o, ok := s.opts.Endpoints[endpoint]; ok {
		_, res, _ := strings.Cut(endpoint, "/")
		return o, res, true
	}
	tech, res, _ := strings.Cut(endpoint, "/")
	if tech != "PJSIP" && tech != "SIP" {
		return Outcome{}, "", false
	}
	name := res
	if _, after, ok := strings.Cut(res, "@"); ok {
		name = after
	}
	o, ok := s.opts.Endpoints[name]
	return o, name, ok
}

// originate places a call (POST /channels) or creates a channel to dial
// later (POST /channels/create).
func (s *Server) originate(p params, vars map[string]string, dialNow bool) reply {
	endpoint := p["endpoint"]
	if endpoint == "" {
		return msg(400, "Endpoint must be specified")
	}
	if p["app"] == "" && p["extension"] == "" {
		return msg(400, "Application or extension must be specified")
	}
	if !strings.Contains(endpoint, "/") {
		return msg(400, "Invalid endpoint specified")
	}
	outcome, resource, ok := s.outcomeFor(endpoint)
	if !ok {
		return reply{500, map[string]any{"error": "Allocation failed"}}
	}
	id := p["channelId"]
	if id == "" {
		id = fmt.Sprintf("%d.%d", 1795983000+s.seq, s.nextID())
	}
	if _, dup := s.channels[id]; dup {
		return msg(409, "Channel with given unique ID already exists")
	}
	num, name := parseCallerID(p["callerId"])
	ch := &channel{
		id: id, name: fmt.Sprintf("PJSIP/%s-%08x", resource, s.nextID()), state: "Down",
		callerName: name, callerNum: num, connName: name, connNum: num,
		context: "from-sipp", exten: "s", priority: 1, appName: "AppDial2", appData: "(Outgoing Line)",
		created: now(), outbound: true, subscribed: p["app"] == s.opts.App,
		args: splitArgs(p["appArgs"]), vars: vars, recordings: map[string]*recording{},
		dialstring: resource, outcome: outcome,
	}
	if tos, err := strconv.Atoi(p["timeout"]); err == nil && tos > 0 {
		ch.originateTO = time.Duration(tos) * time.Second
	} else {
		ch.originateTO = 30 * time.Second
	}
	s.channels[id] = ch
	ch.phone = newPhone(s, ch)
	s.phones = append(s.phones, ch.phone)
	close(s.phoneAdded)
	s.phoneAdded = make(chan struct{})
	s.logf("originate %s %s", id, endpoint)
	if !dialNow {
		ch.appName, ch.appData = "Stasis", s.opts.App
		ch.dialstring = ""
		s.emitChannel(ch, "ChannelDialplan", map[string]any{"dialplan_app": "Stasis", "dialplan_app_data": s.opts.App})
		s.setVar(ch, "STASISSTATUS", "")
		s.enterStasis(ch)
		return reply{200, ch.json()}
	}
	resp := ch.json() // Asterisk answers before dialling starts
	s.startDial(ch, resource)
	return reply{200, resp}
}

// startDial runs the far end's script for a dialled channel.
func (s *Server) startDial(ch *channel, dialstring string) {
	ch.dialstring = dialstring
	s.emitDial(ch, "")
	o := ch.outcome
	after := o.After
	if after <= 0 {
		after = 10 * time.Millisecond
	}
	ringing := func() {
		ch.state = "Ringing"
		s.emitChannel(ch, "ChannelStateChange", nil)
		s.emitDial(ch, "RINGING")
	}
	switch o.Result {
	case Answer:
		ringing()
		ch.dialTimer = s.after(after, func() {
			if ch.destroyed {
				return
			}
			ch.state = "Up"
			s.emitChannel(ch, "ChannelStateChange", nil)
			s.emitDial(ch, "ANSWER")
			if !ch.subscribed {
				// answered, but Stasis(app) fails: nobody is connected for it
				s.destroy(ch, 16)
				return
			}
			if !ch.inStasis {
				s.setVar(ch, "STASISSTATUS", "")
				s.enterStasis(ch)
			}
			if o.OnAnswer != nil {
				ph := ch.phone
				go o.OnAnswer(ph)
			}
		})
	case Busy:
		ch.dialTimer = s.after(after, func() {
			if !ch.destroyed {
				s.failOriginate(ch, 17, 486, "BUSY", false)
			}
		})
	case Reject:
		ringing()
		ch.dialTimer = s.after(after, func() {
			if !ch.destroyed {
				s.failOriginate(ch, 21, 603, "CONGESTION", false)
			}
		})
	case NoAnswer:
		ringing()
		ch.dialTimer = s.after(s.scale(ch.originateTO), func() {
			if !ch.destroyed {
				s.failOriginate(ch, 19, 480, "NOANSWER", false)
			}
		})
	case Unreachable:
		timerB := s.scale(32 * time.Second)
		ch.dialTimer = s.after(min(timerB, s.scale(ch.originateTO)), func() {
			if !ch.destroyed {
				s.failOriginate(ch, 18, 408, "NOANSWER", false)
			}
		})
	}
}

func (s *Server) emitDial(ch *channel, status string) {
	if !ch.subscribed && !ch.inStasis {
		return
	}
	s.emit(map[string]any{"type": "Dial", "dialstatus": status, "dialstring": ch.dialstring, "forward": "", "peer": ch.json()})
}

// snoop creates a Snoop channel on ch, in Stasis with the given args.
func (s *Server) snoop(ch *channel, p params) reply {
	id := p["snoopId"]
	if id == "" {
		id = fmt.Sprintf("snoop-%d", s.nextID())
	}
	if p["app"] == "" {
		return msg(400, "Missing parameter app")
	}
	sn := &channel{id: id, name: fmt.Sprintf("Snoop/%s-%08x", ch.id, 0), state: "Up", context: "default", exten: "s",
		priority: 1, created: now(), args: splitArgs(p["appArgs"]), recordings: map[string]*recording{}, snoopOf: ch.id}
	s.channels[id] = sn
	ch.snoops = append(ch.snoops, id)
	s.logf("snoop %s on %s", id, ch.id)
	s.enterStasis(sn)
	return reply{200, sn.json()}
}

// dial dials a channel created with /channels/create (it is already in
// Stasis).
func (s *Server) dial(ch *channel, p params) {
	if tos, err := strconv.Atoi(p["timeout"]); err == nil && tos > 0 {
		ch.originateTO = time.Duration(tos) * time.Second
	}
	_, res, _ := strings.Cut(ch.name, "/")
	res, _, _ = strings.Cut(res, "-")
	s.startDial(ch, res)
}

func (s *Server) enterStasis(ch *channel) {
	ch.inStasis = true
	ch.everStasis = true
	args := ch.args
	if args == nil {
		args = []string{}
	}
	s.emitChannel(ch, "StasisStart", map[string]any{"args": args})
}

func splitArgs(a string) []string {
	if a == "" {
		return []string{}
	}
	return strings.Split(a, ",")
}

// parseCallerID reads `"Name" <number>` or a bare number.
func parseCallerID(s string) (number, name string) {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "<"); i >= 0 {
		name = strings.Trim(strings.TrimSpace(s[:i]), `"`)
		number = strings.TrimSuffix(s[i+1:], ">")
		return number, name
	}
	return s, ""
}

func (s *Server) play(p params, target string, ch *channel) reply {
	media := p["media"]
	if media == "" {
		return msg(500, "Failed to queue media for playback") // as Asterisk 22 answers
	}
	id := p["playbackId"]
	if id == "" {
		id = fmt.Sprintf("%08x-0000-4000-8000-%012x", s.nextID(), s.seq)
	}
	if _, dup := s.playbacks[id]; dup {
		return msg(500, "Failed to queue media for playback")
	}
	lang := p["lang"]
	if lang == "" {
		lang = "en"
	}
	pb := &playback{id: id, media: media, target: target, lang: lang, state: "queued"}
	s.playbacks[id] = pb
	if !s.opts.NoHistory {
		s.logf("play %s %s", strings.SplitN(target, ":", 2)[1], media)
	}
	resp := pb.json()
	if ch != nil && ch.playing != nil {
		ch.playQueue = append(ch.playQueue, pb) // Asterisk queues playbacks on a channel
	} else {
		s.startPlayback(pb, ch)
	}
	return reply{201, resp}
}

var knownFormats = map[string]bool{"wav": true, "gsm": true, "ulaw": true, "alaw": true, "sln": true, "g722": true, "wav49": true}

func (s *Server) record(p params, target string, ch *channel, b *bridge) reply {
	name, format := p["name"], p["format"]
	if name == "" || format == "" || strings.Contains(name, "..") {
		return msg(500, "Error parsing request")
	}
	if !knownFormats[format] {
		return msg(422, "specified format is unknown on this system")
	}
	if _, busy := s.live[name]; busy {
		return msg(409, fmt.Sprintf("Recording '%s' already exists and can not be overwritten", name))
	}
	if _, exists := s.stored[name]; exists && p["ifExists"] == "fail" {
		return msg(409, fmt.Sprintf("Recording '%s' already exists and can not be overwritten", name))
	}
	r := &recording{name: name, format: format, target: target, state: "queued", started: s.clock(), terminateOn: p["terminateOn"]}
	resp := r.json()
	s.live[name] = r
	if ch != nil {
		ch.recordings[name] = r
	}
	if b != nil {
		b.recordings[name] = r
	}
	s.logf("record %s %s", strings.SplitN(target, ":", 2)[1], name)
	if ch != nil && ch.snoopOf != "" {
		resp["state"] = "recording" // a snoop channel starts at once
	}
	r.state = "recording"
	s.emitRecording(r, "RecordingStarted")
	if secs, err := strconv.Atoi(p["maxDurationSeconds"]); err == nil && secs > 0 {
		// Asterisk ends such a recording about 440 ms after the limit
		r.timer = s.after(s.scale(time.Duration(secs)*time.Second+440*time.Millisecond), func() {
			if s.live[name] == r {
				s.finishRecording(r, "done")
			}
		})
	}
	return reply{201, resp}
}

func (s *Server) routeRecordings(method string, seg []string, p params) reply {
	n := len(seg)
	if n < 2 {
		return notFoundResource
	}
	notFound := msg(404, "Recording not found")
	switch seg[1] {
	case "stored":
		if n == 2 && method == "GET" {
			names := make([]string, 0, len(s.stored))
			for k := range s.stored {
				names = append(names, k)
			}
			sort.Strings(names)
			out := []any{}
			for _, k := range names {
				out = append(out, map[string]any{"name": k, "format": s.stored[k].Format})
			}
			return reply{200, out}
		}
		if n < 3 {
			return notFoundResource
		}
		rec, ok := s.stored[seg[2]]
		if !ok {
			return notFound
		}
		switch {
		case n == 3 && method == "GET":
			return reply{200, map[string]any{"name": rec.Name, "format": rec.Format}}
		case n == 3 && method == "DELETE":
			delete(s.stored, seg[2])
			return noContent
		case n == 4 && seg[3] == "file" && method == "GET":
			return reply{200, wavSilence(rec.Duration)}
		case n == 4 && seg[3] == "copy" && method == "POST":
			dst := p["destinationRecordingName"]
			if dst == "" || strings.Contains(dst, "..") {
				return msg(400, "Invalid destination")
			}
			if _, exists := s.stored[dst]; exists {
				return msg(409, "A recording with the same name already exists on the system")
			}
			c := rec
			c.Name = dst
			s.stored[dst] = c
			return reply{200, map[string]any{"name": dst, "format": rec.Format}}
		}
	case "live":
		if n < 3 {
			return notFoundResource
		}
		r := s.live[seg[2]]
		if r == nil {
			return notFound
		}
		switch {
		case n == 3 && method == "GET":
			return reply{200, r.json()}
		case n == 3 && method == "DELETE": // cancel: discard
			r.stopTimer()
			delete(s.live, r.name)
			r.state = "canceled"
			return noContent
		case n == 4 && seg[3] == "stop" && method == "POST":
			s.finishRecording(r, "done")
			return noContent
		case n == 4 && seg[3] == "pause":
			if method == "POST" && r.pausedAt.IsZero() {
				r.pausedAt = s.clock()
				r.state = "paused"
			} else if method == "DELETE" && !r.pausedAt.IsZero() {
				r.paused += s.clock().Sub(r.pausedAt)
				r.pausedAt = time.Time{}
				r.state = "recording"
			}
			s.logf("%s %s", map[string]string{"POST": "pause", "DELETE": "resume"}[method], r.name)
			return noContent
		}
	}
	return notFoundResource
}

func (s *Server) routeBridges(method string, seg []string, p params) reply {
	n := len(seg)
	if n == 1 {
		switch method {
		case "GET":
			out := []any{}
			for _, id := range s.bridgeIDs() {
				out = append(out, s.bridges[id].json())
			}
			return reply{200, out}
		case "POST":
			typ := p["type"]
			if typ == "" {
				typ = "mixing"
			}
			if typ != "mixing" && typ != "holding" && typ != "dtmf_events" && typ != "proxy_media" {
				return msg(500, "Unable to create bridge. Possible duplicate bridge id '(null)'")
			}
			id := p["bridgeId"]
			if id == "" {
				id = fmt.Sprintf("bridge-%08x", s.nextID())
			}
			if b, dup := s.bridges[id]; dup && !b.destroyed {
				return msg(500, fmt.Sprintf("Unable to create bridge. Possible duplicate bridge id '%s'", id))
			}
			b := &bridge{id: id, name: p["name"], typ: typ, recordings: map[string]*recording{}}
			s.bridges[id] = b
			s.logf("bridge %s", id)
			return reply{200, b.json()}
		}
		return notFoundResource
	}
	b := s.bridges[seg[1]]
	if b == nil || b.destroyed {
		return msg(404, "Bridge not found")
	}
	if n == 2 {
		switch method {
		case "GET":
			return reply{200, b.json()}
		case "DELETE":
			for _, id := range append([]string(nil), b.channels...) {
				if ch := s.channels[id]; ch != nil {
					s.leaveBridge(ch)
				}
			}
			for _, r := range b.recordings {
				s.finishRecording(r, "done")
			}
			b.destroyed = true
			s.logf("destroy bridge %s", b.id)
			s.emit(map[string]any{"type": "BridgeDestroyed", "bridge": b.json()})
			return noContent
		}
		return notFoundResource
	}
	switch op := seg[2]; {
	case op == "addChannel" && method == "POST":
		for _, id := range strings.Split(p["channel"], ",") {
			ch := s.channels[id]
			if ch == nil {
				return msg(400, "Channel not found")
			}
			if !ch.inStasis {
				return msg(422, "Channel not in Stasis application")
			}
			if ch.bridge == b.id {
				continue
			}
			if ch.bridge != "" {
				s.leaveBridge(ch)
			}
			ch.bridge = b.id
			b.channels = append(b.channels, id)
			b.joined = append(b.joined, id)
			s.logf("join %s %s", b.id, id)
			s.emitChannel(ch, "ChannelEnteredBridge", map[string]any{"bridge": b.json()})
		}
		return noContent
	case op == "removeChannel" && method == "POST":
		ch := s.channels[p["channel"]]
		if ch == nil {
			return msg(400, "Channel not found")
		}
		if ch.bridge != b.id {
			return msg(422, "Channel not in this bridge")
		}
		s.leaveBridge(ch)
		s.logf("leave %s %s", b.id, ch.id)
		if len(b.channels) == 0 {
			for _, r := range b.recordings {
				s.finishRecording(r, "done")
			}
		}
		return noContent
	case op == "play" && method == "POST":
		return s.play(p, "bridge:"+b.id, nil)
	case op == "record" && method == "POST":
		return s.record(p, "bridge:"+b.id, nil, b)
	}
	return notFoundResource
}

// wavSilence is a WAV file (8 kHz, 16-bit, mono) of silence, as Asterisk
// stores recordings.
func wavSilence(d time.Duration) rawBody {
	n := int(d/time.Second)*16000 + 0
	b := make([]byte, 44+n)
	copy(b, "RIFF")
	le32(b[4:], uint32(36+n))
	copy(b[8:], "WAVEfmt ")
	le32(b[16:], 16)
	b[20], b[22] = 1, 1
	le32(b[24:], 8000)
	le32(b[28:], 16000)
	b[32], b[34] = 2, 16
	copy(b[36:], "data")
	le32(b[40:], uint32(n))
	return rawBody{contentType: "audio/wav", data: b}
}

func le32(b []byte, v uint32) { b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24) }

// rawBody is a non-JSON answer.
type rawBody struct {
	contentType string
	data        []byte
}
