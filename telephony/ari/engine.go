// Package ari is the Asterisk backend of the telephony port: the dialplan
// sends 96596 into the Stasis application and this controller runs every
// call through ARI (REST + the events WebSocket).
//
// It owns its transport instead of using the ari/v5 native client, whose
// v5.3.1 crashes on unknown event types, hangs when Asterisk is
// unreachable, has no request deadlines and drops events past a 100-event
// buffer: REST over a pool of kept-alive HTTP/1.1 connections
// (transport.go), events over its own WebSocket client (websocket.go),
// each event decoded only as far as its type needs (events.go). One reader
// goroutine handles the events in order, doing only non-blocking work, so
// a slow call flow never delays the events of other calls, and digits go
// to each call through a queue that never drops.
package ari

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"hotline/telephony"
)

// Options are the backend's dependencies.
type Options struct {
	Logger *slog.Logger
	// OnConnState is called (from the event reader) whenever the events
	// WebSocket connects or drops, for a metric.
	OnConnState func(connected bool)
	// OnEvent is called (from the event reader) for every event handled,
	// for a metric; it must not block.
	OnEvent func()
	// OnOrphan is called when a call found in the application that this
	// controller did not know (left by a previous run) has been ended.
	OnOrphan func(info telephony.Info, end telephony.End)
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Engine is the ARI engine. It implements telephony.Engine.
type Engine struct {
	cfg  Config
	log  *slog.Logger
	rest *restClient
	opts Options
	now  func() time.Time

	mu         sync.Mutex
	calls      map[string]*call     // by channel id: inbound, and outbound pending or answered
	playbacks  map[string]*playback // by playback id
	recordings map[string]*recording
	handler    telephony.Handler
	serveCtx   context.Context // values only; the root of call contexts (never cancelled)
	draining   bool
	started    bool
	stop       context.CancelFunc
	readerDone chan struct{}
	conn       *wsConn

	connected atomic.Bool
	handlers  sync.WaitGroup

	idPrefix string        // random, per engine: see newID
	idSeq    atomic.Uint64 // the ids' counter

	// counters for figures and tests
	eventsHandled atomic.Int64
	eventsBad     atomic.Int64
	eventsUnknown atomic.Int64
}

var _ telephony.Engine = (*Engine)(nil)

// New returns an engine for cfg (Init is called on it).
func New(cfg Config, opts Options) (*Engine, error) {
	if err := cfg.Init(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	var prefix [8]byte
	_, _ = rand.Read(prefix[:])
	return &Engine{
		cfg: cfg, log: opts.Logger.With("engine", "ari"), rest: newRESTClient(&cfg), opts: opts, now: opts.Now,
		calls: map[string]*call{}, playbacks: map[string]*playback{}, recordings: map[string]*recording{},
		idPrefix: hex.EncodeToString(prefix[:]) + "-",
	}, nil
}

// Accepting reports whether new inbound calls go to the handler (Serve
// runs and no shutdown has begun), for a readiness check.
func (e *Engine) Accepting() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.handler != nil && !e.draining
}

// Connected reports whether the events WebSocket is up.
func (e *Engine) Connected() bool { return e.connected.Load() }

// EventCounts returns the events handled, malformed and of unknown type.
func (e *Engine) EventCounts() (handled, malformed, unknown int64) {
	return e.eventsHandled.Load(), e.eventsBad.Load(), e.eventsUnknown.Load()
}

func (e *Engine) setConnected(up bool) {
	if e.connected.Swap(up) != up && e.opts.OnConnState != nil {
		e.opts.OnConnState(up)
	}
}

// Start connects to ARI and starts handling events. It fails fast: a
// refused login (ErrUnauthorized) or an Asterisk that does not answer
// within ConnectTimeout (ErrUnreachable). Calls found in the application
// (left by a previous run) are ended with OrphanPrompt. Serve calls Start
// when it has not been called.
func (e *Engine) Start(ctx context.Context) error {
	e.mu.Lock()
	if e.started {
		e.mu.Unlock()
		return nil
	}
	e.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, e.cfg.ConnectTimeout)
	defer cancel()
	var info struct {
		System struct {
			Version  string `json:"version"`
			EntityID string `json:"entity_id"`
		} `json:"system"`
	}
	if err := e.rest.do(cctx, "GET", "/asterisk/info", nil, nil, &info); err != nil {
		return fmt.Errorf("connect to ari at %s: %w", e.cfg.URL, err)
	}
	orphans, err := e.appChannels(cctx)
	if err != nil {
		return fmt.Errorf("connect to ari at %s: %w", e.cfg.URL, err)
	}
	conn, err := dialEvents(cctx, &e.cfg)
	if err != nil {
		return fmt.Errorf("connect to ari at %s: %w", e.cfg.URL, err)
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	e.mu.Lock()
	e.started = true
	e.stop = stop
	e.conn = conn
	e.readerDone = make(chan struct{})
	e.mu.Unlock()
	e.log.Info("connected to asterisk", "version", info.System.Version, "app", e.cfg.Application)
	e.setConnected(true)
	go e.run(runCtx, conn)
	e.adoptOrphans(runCtx, orphans)
	return nil
}

// Close stops handling events and closes the connection. Calls still in
// the application stay there (another controller may take them).
func (e *Engine) Close() {
	e.mu.Lock()
	stop, done, conn := e.stop, e.readerDone, e.conn
	e.mu.Unlock()
	if stop == nil {
		return
	}
	stop()
	if conn != nil {
		_ = conn.Close()
	}
	<-done
}

// Serve delivers inbound calls to h until ctx ends, then shuts down
// gracefully: new calls go back to the dialplan's fallback, calls in
// progress may finish within ShutdownGrace, the rest hear ShutdownPrompt
// and are hung up.
func (e *Engine) Serve(ctx context.Context, h telephony.Handler) error {
	e.mu.Lock()
	e.handler = h
	e.serveCtx = context.WithoutCancel(ctx)
	e.mu.Unlock()
	if err := e.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	e.shutdown()
	e.Close()
	return nil
}

func (e *Engine) shutdown() {
	e.mu.Lock()
	e.draining = true
	e.mu.Unlock()
	e.log.Info("shutting down: no new calls", "grace", e.cfg.ShutdownGrace)
	finished := make(chan struct{})
	go func() { e.handlers.Wait(); close(finished) }()
	t := time.NewTimer(e.cfg.ShutdownGrace)
	defer t.Stop()
	select {
	case <-finished:
		return
	case <-t.C:
	}
	e.mu.Lock()
	var live []*call
	for _, c := range e.calls {
		if c.handled {
			live = append(live, c)
		}
	}
	e.mu.Unlock()
	e.log.Warn("shutdown grace over: ending calls", "calls", len(live))
	var wg sync.WaitGroup
	for _, c := range live {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.endWithPrompt(c, e.cfg.ShutdownPrompt, telephony.ReasonShutdown)
		}()
	}
	wg.Wait()
	t2 := time.NewTimer(e.cfg.RequestTimeout)
	defer t2.Stop()
	select {
	case <-finished:
	case <-t2.C:
		e.log.Error("call handlers did not return after shutdown")
	}
}

// endWithPrompt stops the call's flow, plays a prompt (bounded) and hangs
// up with reason.
func (e *Engine) endWithPrompt(c *call, prompt string, reason telephony.Reason) {
	c.mu.Lock()
	c.takenOver = true
	cancel := c.cancelFlow
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	ctx, stop := context.WithTimeout(context.Background(), 15*time.Second)
	defer stop()
	// the flow's prompts would play first: Asterisk queues playbacks
	for _, pb := range c.activePlaybacks() {
		_ = pb.Stop(ctx)
	}
	if prompt != "" && c.isUp() {
		if err := telephony.PlayAll(ctx, c, prompt); err != nil && telephony.ReasonOf(err) != telephony.ReasonHungUp {
			c.log.Warn("prompt before hang-up failed", "prompt", prompt, "err", err)
		}
	}
	if err := c.Hangup(ctx, reason); err != nil {
		c.log.Warn("hang-up failed", "err", err)
		e.finishCall(c, 0, byUnknown) // do not wait for an end that may never be reported
	}
}

// run reads events until stopped, reconnecting with back-off.
func (e *Engine) run(ctx context.Context, conn *wsConn) {
	defer close(e.readerDone)
	backoff := e.cfg.ReconnectMin
	for {
		err := e.read(ctx, conn)
		_ = conn.Close()
		e.setConnected(false)
		if ctx.Err() != nil {
			return
		}
		e.log.Warn("events connection lost; reconnecting", "err", err)
		for {
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(backoff*2, e.cfg.ReconnectMax)
			next, err := e.reconnect(ctx)
			if err == nil {
				conn = next
				backoff = e.cfg.ReconnectMin
				break
			}
			e.log.Warn("reconnect failed", "err", err, "retry_in", backoff)
		}
	}
}

// reconnect re-opens the events WebSocket and re-synchronises: channels
// that entered the application while we were away are orphans (ended with
// a prompt); known calls that left it meanwhile are ended.
func (e *Engine) reconnect(ctx context.Context) (*wsConn, error) {
	rctx, cancel := context.WithTimeout(ctx, e.cfg.ConnectTimeout)
	defer cancel()
	before, err := e.appChannels(rctx)
	if err != nil {
		return nil, err
	}
	conn, err := dialEvents(rctx, &e.cfg)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.conn = conn
	var orphans []string
	for _, id := range before {
		if _, known := e.calls[id]; !known {
			orphans = append(orphans, id)
		}
	}
	e.mu.Unlock()
	e.setConnected(true)
	e.log.Info("events connection back; resynchronising")
	after, err := e.appChannels(rctx)
	if err != nil {
		// keep the connection; the next drop or event will tell more
		e.log.Warn("resync: list application channels", "err", err)
		after = before
	}
	// The calls known now (before any event of the new connection is
	// read): a call that arrives later is not in the lists and is not gone.
	e.mu.Lock()
	known := make([]*call, 0, len(e.calls))
	for _, c := range e.calls {
		known = append(known, c)
	}
	e.mu.Unlock()
	e.adoptOrphans(ctx, orphans)
	go e.resyncKnown(ctx, after, known)
	return conn, nil
}

// appChannels lists the channels in the application (none when the
// application does not exist: no channel and no connection).
func (e *Engine) appChannels(ctx context.Context) ([]string, error) {
	var app struct {
		ChannelIDs []string `json:"channel_ids"`
	}
	err := e.rest.do(ctx, "GET", "/applications/"+escape(e.cfg.Application), nil, nil, &app)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list application channels: %w", err)
	}
	return app.ChannelIDs, nil
}

// resyncKnown ends known calls that are no longer in the application and
// settles playbacks, recordings and dials whose events were lost.
func (e *Engine) resyncKnown(ctx context.Context, present []string, known []*call) {
	in := make(map[string]bool, len(present))
	for _, id := range present {
		in[id] = true
	}
	var gone, pending, live []*call
	for _, c := range known {
		switch {
		case c.pendingDial():
			pending = append(pending, c)
		case !in[c.id]:
			gone = append(gone, c)
		default:
			live = append(live, c)
		}
	}
	for _, c := range gone {
		c.log.Warn("call ended while events were down")
		e.finishCall(c, 0, byUnknown)
	}
	for _, c := range pending {
		var ch struct {
			State string `json:"state"`
		}
		err := e.rest.do(ctx, "GET", "/channels/"+escape(c.id), nil, nil, &ch)
		switch {
		case errors.Is(err, ErrNotFound):
			e.failDial(c, 0, 0, errors.New("outcome lost while events were down"))
		case err == nil && in[c.id]:
			e.answerDial(c, nil)
		}
	}
	for _, c := range live {
		for _, pb := range c.activePlaybacks() {
			if err := e.rest.do(ctx, "GET", "/playbacks/"+escape(pb.id), nil, nil, nil); errors.Is(err, ErrNotFound) {
				e.finishPlayback(pb, nil)
			}
		}
		for _, r := range c.activeRecordings() {
			if err := e.rest.do(ctx, "GET", "/recordings/live/"+escape(r.name), nil, nil, nil); errors.Is(err, ErrNotFound) {
				e.finishRecording(r, 0, "")
			}
		}
	}
}

// adoptOrphans takes over channels in the application that no flow owns
// and ends them cleanly: a prompt, then hang-up.
func (e *Engine) adoptOrphans(ctx context.Context, ids []string) {
	for _, id := range ids {
		var ch struct {
			ID     string `json:"id"`
			State  string `json:"state"`
			Caller struct {
				Name   string `json:"name"`
				Number string `json:"number"`
			} `json:"caller"`
			Dialplan struct {
				Exten   string `json:"exten"`
				AppData string `json:"app_data"`
			} `json:"dialplan"`
		}
		if err := e.rest.do(ctx, "GET", "/channels/"+escape(id), nil, nil, &ch); err != nil {
			continue // gone meanwhile
		}
		info := telephony.Info{ID: id, Direction: telephony.Inbound, Caller: ch.Caller.Number,
			CallerName: ch.Caller.Name, Dialled: ch.Dialplan.Exten, Args: stasisArgs(ch.Dialplan.AppData), Started: e.now()}
		c := e.newCall(info)
		c.up = ch.State == "Up"
		e.mu.Lock()
		if _, known := e.calls[id]; known {
			e.mu.Unlock()
			continue
		}
		e.calls[id] = c
		e.mu.Unlock()
		c.log.Warn("orphan call in the application: ending it")
		go func() {
			e.endWithPrompt(c, e.cfg.OrphanPrompt, telephony.ReasonShutdown)
			<-c.Done()
			if e.opts.OnOrphan != nil {
				e.opts.OnOrphan(c.Info(), c.End())
			}
		}()
	}
}

// stasisArgs reads the Stasis arguments from a channel's app_data
// ("hotline,inbound").
func stasisArgs(appData string) []string {
	parts := strings.Split(appData, ",")
	if len(parts) <= 1 {
		return nil
	}
	return parts[1:]
}

// read handles frames until the connection fails or ctx ends.
func (e *Engine) read(ctx context.Context, conn *wsConn) error {
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	var ev event
	for {
		frame, err := conn.next(maxFrame)
		if errors.Is(err, errMessageTooLarge) {
			e.eventsBad.Add(1)
			e.log.Warn("oversized event ignored", "limit", maxFrame)
			continue
		}
		if err != nil {
			return err
		}
		if err := decodeEvent(frame, &ev); err != nil {
			e.eventsBad.Add(1)
			e.log.Warn("malformed event ignored", "err", err, "bytes", len(frame))
			continue
		}
		if ev.Type == "ApplicationReplaced" {
			e.log.Error("another controller took over the application; reconnecting")
			return errors.New("application replaced")
		}
		e.handle(&ev)
		e.eventsHandled.Add(1)
		if e.opts.OnEvent != nil {
			e.opts.OnEvent()
		}
	}
}

// handle applies one event. It never blocks on a call flow.
func (e *Engine) handle(ev *event) {
	switch ev.Type {
	case "StasisStart":
		e.onStasisStart(ev)
	case "ChannelDtmfReceived":
		if c := e.call(ev.channelID()); c != nil && ev.Digit != "" {
			c.pushDigit([]rune(ev.Digit)[0])
		}
	case "ChannelHangupRequest":
		if c := e.call(ev.channelID()); c != nil && !ev.Soft {
			// The far end hung up: Asterisk fails the channel's playback
			// before StasisEnd, and that failure is the hang-up.
			c.mu.Lock()
			c.farHangup = true
			if ev.Cause != 0 {
				c.hangupCause = ev.Cause
			}
			c.mu.Unlock()
		}
	case "StasisEnd":
		if c := e.call(ev.channelID()); c != nil {
			e.finishCall(c, 0, "")
		}
	case "ChannelDestroyed":
		if c := e.call(ev.channelID()); c != nil {
			if c.pendingDial() {
				e.failDial(c, ev.Cause, ev.TechCause, nil)
			} else {
				e.finishCall(c, ev.Cause, "")
			}
		}
	case "ChannelStateChange":
		if c := e.call(ev.channelID()); c != nil && ev.Channel.State == "Up" {
			c.mu.Lock()
			c.up = true
			c.mu.Unlock()
		}
	case "PlaybackFinished":
		if ev.Playback == nil {
			return
		}
		e.mu.Lock()
		pb := e.playbacks[ev.Playback.ID]
		e.mu.Unlock()
		if pb != nil {
			var err error
			if ev.Playback.State == "failed" {
				if pb.call.ended() || pb.call.hangingUp() {
					err = &telephony.CallError{Op: "play", Reason: telephony.ReasonHungUp}
				} else {
					err = &telephony.CallError{Op: "play", Reason: telephony.ReasonError,
						Err: fmt.Errorf("prompt %s failed (missing sound?)", pb.media)}
				}
			}
			e.finishPlayback(pb, err)
		}
	case "RecordingFinished", "RecordingFailed":
		if ev.Recording == nil {
			return
		}
		e.mu.Lock()
		r := e.recordings[ev.Recording.Name]
		e.mu.Unlock()
		if r != nil {
			failed := ""
			if ev.Type == "RecordingFailed" {
				failed = ev.Recording.Cause
				if failed == "" {
					failed = "recording failed"
				}
			}
			e.finishRecording(r, time.Duration(ev.Recording.Duration), failed)
		}
	case "PlaybackStarted", "RecordingStarted", "ChannelVarset", "Dial", "ChannelEnteredBridge",
		"ChannelLeftBridge", "BridgeDestroyed", "BridgeCreated", "ChannelDialplan", "ChannelCreated",
		"ChannelCallerId", "ChannelConnectedLine", "DeviceStateChanged", "ChannelHold", "ChannelUnhold",
		"ChannelTalkingStarted", "ChannelTalkingFinished", "ChannelToneDetected", "PlaybackContinuing":
		// nothing to do
	default:
		e.eventsUnknown.Add(1)
		e.log.Debug("event of unknown type ignored", "type", ev.Type)
	}
}

func (e *Engine) call(id string) *call {
	if id == "" {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls[id]
}

func (e *Engine) onStasisStart(ev *event) {
	if ev.Channel == nil {
		return
	}
	id := ev.Channel.ID
	e.mu.Lock()
	if c, ok := e.calls[id]; ok {
		e.mu.Unlock()
		if c.pendingDial() {
			e.answerDial(c, ev.Args)
		}
		return
	}
	info := telephony.Info{ID: id, Direction: telephony.Inbound, Args: ev.Args, Started: e.now()}
	if ev.Channel.Caller != nil {
		info.Caller, info.CallerName = ev.Channel.Caller.Number, ev.Channel.Caller.Name
	}
	if ev.Channel.Dialplan != nil {
		info.Dialled = ev.Channel.Dialplan.Exten
	}
	if strings.HasPrefix(id, "hl-ob-") {
		// one of our originates, given up before it answered
		e.mu.Unlock()
		go e.hangupStray(id)
		return
	}
	c := e.newCall(info)
	c.up = ev.Channel.State == "Up"
	e.calls[id] = c
	h, draining := e.handler, e.draining
	if h == nil || draining {
		e.mu.Unlock()
		go e.fallback(c)
		return
	}
	c.handled = true
	root := e.serveCtx
	e.handlers.Add(1)
	e.mu.Unlock()
	c.log.Info("inbound call", telephony.MaskedNumber("caller", info.Caller), "dialled", info.Dialled)
	go e.runHandler(root, c, h)
}

func (e *Engine) hangupStray(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.RequestTimeout)
	defer cancel()
	_ = e.rest.do(ctx, "DELETE", "/channels/"+escape(id), nil, nil, nil)
}

// fallback sends a call the service cannot take back to the dialplan,
// marked so that the dialplan routes it to its fallback.
func (e *Engine) fallback(c *call) {
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.RequestTimeout)
	defer cancel()
	c.log.Warn("not taking calls: sending the call back to the dialplan fallback")
	q := query{"variable", e.cfg.FallbackVariable, "value", "unavailable"}
	if err := e.rest.do(ctx, "POST", "/channels/"+escape(c.id)+"/variable", q, nil, nil); err != nil {
		c.log.Warn("mark fallback", "err", err)
	}
	if err := e.rest.do(ctx, "POST", "/channels/"+escape(c.id)+"/continue", nil, nil, nil); err != nil {
		c.log.Warn("continue to dialplan failed; hanging up", "err", err)
		_ = c.Hangup(ctx, telephony.ReasonShutdown)
	}
}

func (e *Engine) runHandler(root context.Context, c *call, h telephony.Handler) {
	defer e.handlers.Done()
	ctx, cancel := context.WithCancel(root)
	defer cancel()
	// the call's end cancels the flow (finishCall calls cancelFlow)
	c.mu.Lock()
	c.cancelFlow = cancel
	ended := c.finished
	c.mu.Unlock()
	if ended {
		cancel()
	}
	func() {
		defer func() {
			if r := recover(); r != nil {
				c.log.Error("call flow panicked", "panic", r)
			}
		}()
		h.HandleCall(ctx, c)
	}()
	c.mu.Lock()
	takenOver := c.takenOver
	c.mu.Unlock()
	if !takenOver && !c.ended() {
		hctx, hcancel := context.WithTimeout(context.Background(), e.cfg.RequestTimeout)
		defer hcancel()
		if err := c.Hangup(hctx, telephony.ReasonNormal); err != nil {
			c.log.Warn("hang-up after flow", "err", err)
		}
	}
}

// newID returns a fresh id for channels, playbacks, bridges:
// hl-<kind>-<this engine's random prefix><a counter>, unique across
// engines and restarts without a random read per id.
func (e *Engine) newID(kind string) string {
	var b [48]byte
	id := append(b[:0], "hl-"...)
	id = append(id, kind...)
	id = append(id, '-')
	id = append(id, e.idPrefix...)
	id = strconv.AppendUint(id, e.idSeq.Add(1), 36)
	return string(id)
}
