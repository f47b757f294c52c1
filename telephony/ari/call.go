package ari

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"hotline/telephony"
)

// maxQueuedDigits bounds the digits waiting for a flow that does not read
// them; a caller cannot press that many keys in one call.
const maxQueuedDigits = 4096

// call is one channel in the application.
type call struct {
	e    *Engine
	id   string
	info telephony.Info
	log  *slog.Logger

	digits chan rune
	done   chan struct{}

	// set for originated calls until answered or failed
	answered chan struct{}
	dialErr  error

	mu          sync.Mutex
	dq          []rune // digits the flow has not taken yet (in order)
	pumping     bool
	up          bool
	handled     bool // a flow runs on it
	takenOver   bool // shutdown or orphan handling ends it, not the flow
	cancelFlow  context.CancelFunc
	localReason telephony.Reason // set when the service hangs up
	hangupCause int
	farHangup   bool // the far end's hang-up request was seen
	end         telephony.End
	finished    bool
	dialing     bool
	playbacks   map[string]*playback
	recs        map[string]*recording
}

func (e *Engine) newCall(info telephony.Info) *call {
	return &call{
		e: e, id: info.ID, info: info,
		log:    e.log.With("call", info.ID),
		digits: make(chan rune, 16), done: make(chan struct{}),
		playbacks: map[string]*playback{}, recs: map[string]*recording{},
	}
}

var _ telephony.Call = (*call)(nil)

func (c *call) Info() telephony.Info  { return c.info }
func (c *call) Digits() <-chan rune   { return c.digits }
func (c *call) Done() <-chan struct{} { return c.done }

func (c *call) End() telephony.End {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.end
}

func (c *call) ended() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// hangingUp reports whether the far end has asked to hang up (the call
// ends with the StasisEnd that follows).
func (c *call) hangingUp() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.farHangup
}

func (c *call) isUp() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.up && !c.finished
}

func (c *call) pendingDial() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dialing
}

// pushDigit hands a digit to the flow without ever blocking the event
// reader: straight into the channel when it has room and nothing waits
// before it, else into the call's queue, drained by a pump goroutine.
func (c *call) pushDigit(d rune) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.finished {
		return
	}
	if len(c.dq) == 0 {
		select {
		case c.digits <- d:
			return
		default:
		}
	}
	if len(c.dq) >= maxQueuedDigits {
		c.log.Warn("digit queue full: flow is not reading digits", "dropped", string(d))
		return
	}
	c.dq = append(c.dq, d)
	if !c.pumping {
		c.pumping = true
		go c.pump()
	}
}

func (c *call) pump() {
	for {
		c.mu.Lock()
		if len(c.dq) == 0 {
			c.pumping = false
			c.mu.Unlock()
			return
		}
		d := c.dq[0]
		c.mu.Unlock()
		select {
		case c.digits <- d:
			c.mu.Lock()
			c.dq = c.dq[1:]
			c.mu.Unlock()
		case <-c.done:
			c.mu.Lock()
			c.dq, c.pumping = nil, false
			c.mu.Unlock()
			return
		}
	}
}

// opErr turns a REST failure on the channel into the port's error: a
// channel that is gone or left the application means the call hung up.
func (c *call) opErr(op string, err error) error {
	if c.ended() || errors.Is(err, ErrNotFound) || errors.Is(err, ErrNotInStasis) {
		return &telephony.CallError{Op: op, Reason: telephony.ReasonHungUp, Err: err}
	}
	return &telephony.CallError{Op: op, Reason: telephony.ReasonError, Err: err}
}

func (c *call) path(suffix string) string { return "/channels/" + escape(c.id) + suffix }

// Answer answers the channel (a no-op when it is up).
func (c *call) Answer(ctx context.Context) error {
	if c.ended() {
		return &telephony.CallError{Op: "answer", Reason: telephony.ReasonHungUp}
	}
	if c.isUp() {
		return nil
	}
	if err := c.e.rest.do(ctx, "POST", c.path("/answer"), nil, nil, nil); err != nil {
		return c.opErr("answer", err)
	}
	c.mu.Lock()
	c.up = true
	c.mu.Unlock()
	return nil
}

// mediaURI turns a prompt name into a media URI.
func (e *Engine) mediaURI(prompt string) (string, error) {
	if scheme, rest, ok := strings.Cut(prompt, ":"); ok {
		switch scheme {
		case "sound", "recording", "tone", "digits", "number", "characters":
			if rest == "" {
				return "", fmt.Errorf("prompt %q: empty media", prompt)
			}
			return prompt, nil
		}
		// Asterisk accepts a bad scheme and never finishes: refuse here.
		return "", fmt.Errorf("prompt %q: unknown media scheme %q", prompt, scheme)
	}
	if prompt == "" || strings.Contains(prompt, "..") {
		return "", fmt.Errorf("prompt %q: invalid name", prompt)
	}
	return e.cfg.PromptPrefix + prompt, nil
}

// Play starts a prompt on the channel.
func (c *call) Play(ctx context.Context, prompt string) (telephony.Playback, error) {
	media, err := c.e.mediaURI(prompt)
	if err != nil {
		return nil, &telephony.CallError{Op: "play", Reason: telephony.ReasonError, Err: err}
	}
	return c.e.play(ctx, c, c.path("/play"), media)
}

// play starts media on a channel or bridge; c (may be nil for a bridge)
// owns the playback.
func (e *Engine) play(ctx context.Context, c *call, target, media string) (*playback, error) {
	pb := &playback{e: e, id: e.newID("pb"), call: c, media: media, done: make(chan struct{})}
	// registered before the request: PlaybackStarted/Finished may arrive
	// before the HTTP answer
	e.mu.Lock()
	e.playbacks[pb.id] = pb
	e.mu.Unlock()
	if c != nil {
		c.mu.Lock()
		if c.finished {
			c.mu.Unlock()
			e.dropPlayback(pb)
			return nil, &telephony.CallError{Op: "play", Reason: telephony.ReasonHungUp}
		}
		c.playbacks[pb.id] = pb
		c.mu.Unlock()
	}
	q := query{"media", media, "playbackId", pb.id, "lang", e.cfg.Language}
	if err := e.rest.do(ctx, "POST", target, q, nil, nil); err != nil {
		e.dropPlayback(pb)
		if c != nil {
			return nil, c.opErr("play", err)
		}
		return nil, fmt.Errorf("play %s: %w", media, err)
	}
	return pb, nil
}

func (e *Engine) dropPlayback(pb *playback) {
	e.mu.Lock()
	delete(e.playbacks, pb.id)
	e.mu.Unlock()
	if pb.call != nil {
		pb.call.mu.Lock()
		delete(pb.call.playbacks, pb.id)
		pb.call.mu.Unlock()
	}
}

func (e *Engine) finishPlayback(pb *playback, err error) {
	e.dropPlayback(pb)
	pb.finish(err)
}

func (c *call) activePlaybacks() []*playback {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*playback, 0, len(c.playbacks))
	for _, pb := range c.playbacks {
		out = append(out, pb)
	}
	return out
}

func (c *call) activeRecordings() []*recording {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*recording, 0, len(c.recs))
	for _, r := range c.recs {
		out = append(out, r)
	}
	return out
}

// playback is a prompt playing.
type playback struct {
	e     *Engine
	id    string
	call  *call
	media string
	done  chan struct{}
	once  sync.Once
	err   error
}

func (p *playback) finish(err error) {
	p.once.Do(func() {
		p.err = err
		close(p.done)
	})
}

func (p *playback) Done() <-chan struct{} { return p.done }

func (p *playback) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

// Stop stops the prompt; Asterisk reports it done.
func (p *playback) Stop(ctx context.Context) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	err := p.e.rest.do(ctx, "DELETE", "/playbacks/"+escape(p.id), nil, nil, nil)
	if errors.Is(err, ErrNotFound) {
		// finished already; its event may have been lost
		p.e.finishPlayback(p, nil)
		return nil
	}
	if err != nil {
		if p.call != nil {
			return p.call.opErr("stop prompt", err)
		}
		return fmt.Errorf("stop prompt: %w", err)
	}
	return nil
}

// SendDigits sends DTMF to the far end.
func (c *call) SendDigits(ctx context.Context, digits string) error {
	if strings.Trim(digits, "0123456789*#ABCDabcd,") != "" || digits == "" {
		return &telephony.CallError{Op: "send digits", Reason: telephony.ReasonError, Err: fmt.Errorf("invalid digits %q", digits)}
	}
	if err := c.e.rest.do(ctx, "POST", c.path("/dtmf"), query{"dtmf", digits}, nil, nil); err != nil {
		return c.opErr("send digits", err)
	}
	return nil
}

// validRecordingName refuses names Asterisk would refuse or that escape
// the spool.
func validRecordingName(name string) error {
	if name == "" || strings.Contains(name, "..") || strings.HasPrefix(name, "/") || strings.ContainsAny(name, "\\\x00") {
		return fmt.Errorf("invalid recording name %q", name)
	}
	return nil
}

// Record records the channel.
func (c *call) Record(ctx context.Context, name string) (telephony.Recording, error) {
	if err := validRecordingName(name); err != nil {
		return nil, &telephony.CallError{Op: "record", Reason: telephony.ReasonError, Err: err}
	}
	// Not cut short by the call ending: the recording exists in Asterisk
	// once asked for, and its result must reach the ledger.
	r, err := c.e.record(context.WithoutCancel(ctx), c, c.path("/record"), name)
	if err != nil {
		return nil, c.opErr("record", err)
	}
	return r, nil
}

func (e *Engine) record(ctx context.Context, c *call, target, name string) (*recording, error) {
	r := &recording{e: e, name: name, call: c, started: e.now(), done: make(chan struct{})}
	e.mu.Lock()
	if _, busy := e.recordings[name]; busy {
		e.mu.Unlock()
		return nil, fmt.Errorf("recording %q already in progress", name)
	}
	e.recordings[name] = r
	e.mu.Unlock()
	if c != nil {
		c.mu.Lock()
		c.recs[name] = r
		c.mu.Unlock()
	}
	q := query{"name", name, "format", e.cfg.RecordingFormat, "ifExists", "overwrite", "maxDurationSeconds", "0", "maxSilenceSeconds", "0", "beep", "false", "terminateOn", "none"}
	if err := e.rest.do(ctx, "POST", target, q, nil, nil); err != nil {
		e.dropRecording(r)
		return nil, err
	}
	return r, nil
}

func (e *Engine) dropRecording(r *recording) {
	e.mu.Lock()
	if e.recordings[r.name] == r {
		delete(e.recordings, r.name)
	}
	e.mu.Unlock()
	if r.call != nil {
		r.call.mu.Lock()
		delete(r.call.recs, r.name)
		r.call.mu.Unlock()
	}
}

func (e *Engine) finishRecording(r *recording, length time.Duration, failed string) {
	e.dropRecording(r)
	r.finish(length, failed)
}

// recording is a recording in progress of a channel or a bridge.
type recording struct {
	e       *Engine
	name    string
	call    *call // nil for a bridge
	started time.Time
	done    chan struct{}
	once    sync.Once

	mu     sync.Mutex
	length time.Duration
	err    error
}

func (r *recording) finish(length time.Duration, failed string) {
	r.once.Do(func() {
		r.mu.Lock()
		if length <= 0 {
			length = r.e.now().Sub(r.started).Truncate(time.Second)
		}
		r.length = length
		if failed != "" {
			r.err = fmt.Errorf("recording %s failed: %s", r.name, failed)
		}
		r.mu.Unlock()
		close(r.done)
	})
}

func (r *recording) live(suffix string) string { return "/recordings/live/" + escape(r.name) + suffix }

func (r *recording) Pause(ctx context.Context) error {
	if err := r.e.rest.do(ctx, "POST", r.live("/pause"), nil, nil, nil); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("pause recording %s: %w", r.name, err)
	}
	return nil
}

func (r *recording) Resume(ctx context.Context) error {
	if err := r.e.rest.do(ctx, "DELETE", r.live("/pause"), nil, nil, nil); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("resume recording %s: %w", r.name, err)
	}
	return nil
}

// Stop ends the recording and waits for Asterisk to close the file.
func (r *recording) Stop(ctx context.Context) (telephony.RecordingResult, error) {
	select {
	case <-r.done:
	default:
		err := r.e.rest.do(ctx, "POST", r.live("/stop"), nil, nil, nil)
		if errors.Is(err, ErrNotFound) {
			r.e.finishRecording(r, 0, "") // finished already; its event may be lost
		} else if err != nil {
			return telephony.RecordingResult{}, fmt.Errorf("stop recording %s: %w", r.name, err)
		}
		t := time.NewTimer(r.e.cfg.RequestTimeout)
		defer t.Stop()
		select {
		case <-r.done:
		case <-t.C:
			r.e.finishRecording(r, 0, "")
		case <-ctx.Done():
			return telephony.RecordingResult{}, fmt.Errorf("stop recording %s: %w", r.name, ctx.Err())
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	res := telephony.RecordingResult{Name: r.name, Duration: r.length,
		Path: path.Join(r.e.cfg.RecordingDir, r.name+"."+r.e.cfg.RecordingFormat)}
	return res, r.err
}

// reasonToARI names the hang-up reason ARI's DELETE /channels takes.
func reasonToARI(r telephony.Reason) string {
	switch r {
	case telephony.ReasonBusy:
		return "busy"
	case telephony.ReasonRejected:
		return "rejected"
	case telephony.ReasonUnreachable:
		return "unallocated"
	case telephony.ReasonNoAnswer:
		return "no_answer"
	case telephony.ReasonTimeout:
		return "timeout"
	default:
		return "normal"
	}
}

// Hangup hangs up the channel and waits (bounded) for it to leave.
func (c *call) Hangup(ctx context.Context, reason telephony.Reason) error {
	c.mu.Lock()
	if c.finished {
		c.mu.Unlock()
		return nil
	}
	if c.localReason == "" && !c.farHangup {
		// (after the far end's hang-up request the far end ended it)
		c.localReason = reason
	}
	c.mu.Unlock()
	err := c.e.rest.do(ctx, "DELETE", c.path(""), query{"reason", reasonToARI(reason)}, nil, nil)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return c.opErr("hangup", err)
	}
	if errors.Is(err, ErrNotFound) {
		c.e.finishCall(c, 0, "")
		return nil
	}
	t := time.NewTimer(c.e.cfg.RequestTimeout)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		c.e.finishCall(c, 0, "") // the StasisEnd was lost
	case <-ctx.Done():
	}
	return nil
}

// byUnknown marks an end whose cause was not seen (events were down).
const byUnknown = "?"

// finishCall ends the call once: End is set, Done closed, the flow's
// context cancelled, its playbacks end with "hung up" and the engine
// forgets it.
func (e *Engine) finishCall(c *call, cause int, by string) {
	c.mu.Lock()
	if c.finished {
		c.mu.Unlock()
		return
	}
	c.finished = true
	end := telephony.End{At: e.now(), Cause: cause}
	if end.Cause == 0 {
		end.Cause = c.hangupCause
	}
	switch {
	case c.localReason != "":
		end.Reason, end.By = c.localReason, "local"
	default:
		end.Reason, end.By = telephony.ReasonHungUp, "remote"
	}
	if by != "" {
		end.By = by
	}
	if by == byUnknown {
		end.By = ""
	}
	c.end = end
	pbs := make([]*playback, 0, len(c.playbacks))
	for _, pb := range c.playbacks {
		pbs = append(pbs, pb)
	}
	close(c.done)
	cancelFlow := c.cancelFlow
	c.mu.Unlock()
	e.mu.Lock()
	if e.calls[c.id] == c {
		delete(e.calls, c.id)
	}
	e.mu.Unlock()
	for _, pb := range pbs {
		e.finishPlayback(pb, &telephony.CallError{Op: "play", Reason: telephony.ReasonHungUp})
	}
	c.log.Info("call ended", "reason", end.Reason, "by", end.By, "cause", end.Cause)
	if cancelFlow != nil { // last, as a goroutine watching Done did
		cancelFlow()
	}
}

// Dial originates a call and waits until it is answered (StasisStart) or
// has failed (ChannelDestroyed with the Q.850 cause).
func (e *Engine) Dial(ctx context.Context, req telephony.DialRequest) (telephony.Call, error) {
	if req.To == "" {
		return nil, &telephony.CallError{Op: "dial", Reason: telephony.ReasonError, Err: errors.New("no destination")}
	}
	if !e.Connected() {
		return nil, &telephony.CallError{Op: "dial", Reason: telephony.ReasonError, Err: errors.New("ari events not connected")}
	}
	ring := req.RingTimeout
	if ring <= 0 {
		ring = e.cfg.RingTimeout
	}
	callerID, callerName := req.CallerID, req.CallerName
	if callerID == "" {
		callerID, callerName = e.cfg.CallerID, e.cfg.CallerName
	}
	info := telephony.Info{ID: e.newID("ob"), Direction: telephony.Outbound, Caller: callerID,
		CallerName: callerName, Dialled: req.To, Args: req.Args, Started: e.now()}
	c := e.newCall(info)
	c.dialing = true
	c.answered = make(chan struct{})
	e.mu.Lock()
	e.calls[c.id] = c
	e.mu.Unlock()
	cid := callerID
	if callerName != "" {
		cid = strconv.Quote(callerName) + " <" + callerID + ">"
	}
	q := query{"endpoint", req.To, "app", e.cfg.Application, "appArgs", strings.Join(req.Args, ","), "callerId", cid, "timeout", strconv.Itoa(int((ring + time.Second - 1) / time.Second)), "channelId", c.id}
	c.log.Info("dialling", "to", maskDialString(req.To))
	// The originate itself is not cut short by ctx: a request cut
	// mid-way could leave a ringing channel nobody cancels.
	if err := e.rest.do(context.WithoutCancel(ctx), "POST", "/channels", q, nil, nil); err != nil {
		e.mu.Lock()
		delete(e.calls, c.id)
		e.mu.Unlock()
		var he *HTTPError
		switch {
		case !errors.As(err, &he):
			go e.hangupStray(c.id) // it may exist if only the answer was lost
			return nil, &telephony.CallError{Op: "dial", Reason: telephony.ReasonError, Err: err}
		case he.Status == 500:
			// "Allocation failed": unknown endpoint or technology
			return nil, &telephony.CallError{Op: "dial", Reason: telephony.ReasonUnreachable, Err: err}
		default:
			return nil, &telephony.CallError{Op: "dial", Reason: telephony.ReasonError, Err: err}
		}
	}
	watchdog := time.NewTimer(ring + e.cfg.RequestTimeout)
	defer watchdog.Stop()
	select {
	case <-c.answered:
		if c.dialErr != nil {
			return nil, c.dialErr
		}
		return c, nil
	case <-watchdog.C:
		e.cancelDial(c)
		return nil, &telephony.CallError{Op: "dial", Reason: telephony.ReasonNoAnswer, Err: errors.New("no outcome from asterisk in time")}
	case <-ctx.Done():
		e.cancelDial(c)
		return nil, fmt.Errorf("dial: %w", ctx.Err())
	}
}

// cancelDial hangs up an originate that is still ringing (cause 16).
func (e *Engine) cancelDial(c *call) {
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.RequestTimeout)
	defer cancel()
	c.mu.Lock()
	c.localReason = telephony.ReasonNormal
	c.mu.Unlock()
	_ = e.rest.do(ctx, "DELETE", c.path(""), query{"reason_code", "16"}, nil, nil)
	// if it was answered at the last moment, the DELETE hung it up and
	// its StasisEnd ends it
	e.failDial(c, 16, 0, errors.New("cancelled"))
}

// answerDial completes a pending Dial with the answered call.
func (e *Engine) answerDial(c *call, args []string) {
	c.mu.Lock()
	if !c.dialing {
		c.mu.Unlock()
		return
	}
	c.dialing = false
	c.up = true
	close(c.answered)
	c.mu.Unlock()
}

// failDial completes a pending Dial with its failure.
func (e *Engine) failDial(c *call, cause, tech int, why error) {
	c.mu.Lock()
	if !c.dialing {
		c.mu.Unlock()
		return
	}
	c.dialing = false
	reason := telephony.ReasonFromQ850(cause)
	if (reason == telephony.ReasonNormal || reason == telephony.ReasonError) && tech != 0 {
		reason = telephony.ReasonFromSIP(tech)
	}
	if reason == telephony.ReasonNormal {
		// never answered, yet "normal clearing": the far end refused
		reason = telephony.ReasonRejected
	}
	if why != nil && cause == 0 {
		reason = telephony.ReasonError
	}
	c.dialErr = &telephony.CallError{Op: "dial", Reason: reason, Cause: cause, Err: why}
	c.localReason = ""
	close(c.answered)
	c.mu.Unlock()
	e.finishCall(c, cause, "remote")
}

// maskDialString masks the number in "PJSIP/13800000000@carrier".
func maskDialString(s string) string {
	tech, rest, ok := strings.Cut(s, "/")
	if !ok {
		return telephony.Mask(s)
	}
	num, host, hasHost := strings.Cut(rest, "@")
	if !hasHost {
		return s // an endpoint name, not a number
	}
	return tech + "/" + telephony.Mask(num) + "@" + host
}
