package aritest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Event is an ARI event as the application received it.
type Event map[string]any

// Type is the event type, e.g. "PlaybackStarted".
func (e Event) Type() string { s, _ := e["type"].(string); return s }

// Field reads a dotted path such as "playback.media_uri" as a string.
func (e Event) Field(path string) string {
	var cur any = map[string]any(e)
	for _, p := range strings.Split(path, ".") {
		switch v := cur.(type) {
		case map[string]any:
			cur = v[p]
		case interface{ field(string) any }:
			cur = v.field(p)
		default:
			return ""
		}
	}
	switch v := cur.(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// Phone is the far end of one channel: the caller of an inbound call, or
// the called party of an originate. Its methods are safe for concurrent
// use.
type Phone struct {
	s  *Server
	ch *channel // guarded by s.mu

	mu        sync.Mutex
	events    []fevent
	changed   chan struct{} // closed at the next event a Next waits for; made by a Next that waits
	waiting   []string      // the event types Nexts wait for ("": any)
	cursor    int
	heardDTMF string
	pressedAt []time.Time
	done      chan struct{}
	cause     int
	cont      bool
}

func newPhone(s *Server, ch *channel) *Phone {
	return &Phone{s: s, ch: ch, done: make(chan struct{})}
}

// Inbound describes a call into the dialplan's Stasis(app,args...).
type Inbound struct {
	Caller     string   // calling number (SIP From user)
	CallerName string   // display name
	Exten      string   // dialled number; default 96596
	Args       []string // Stasis arguments, e.g. {"inbound"}
}

// Call places an inbound call: the channel enters Stasis in state Ring and
// the application gets StasisStart. With no application connected it
// returns ErrStasisFailed, as Stasis() fails in Asterisk.
func (s *Server) Call(in Inbound) (*Phone, error) {
	if in.Exten == "" {
		in.Exten = "96596"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("aritest: server closed")
	}
	if s.conn == nil {
		s.logf("stasis failed %s", in.Exten)
		return nil, ErrStasisFailed
	}
	n := s.nextID()
	appData := s.opts.App
	if len(in.Args) > 0 {
		appData += "," + strings.Join(in.Args, ",")
	}
	ch := &channel{
		id: fmt.Sprintf("1795983%03d.%d", n%1000, n), name: fmt.Sprintf("PJSIP/sipp-%08x", n), state: "Ring",
		callerName: in.CallerName, callerNum: in.Caller, context: "from-sipp", exten: in.Exten, priority: 2,
		appName: "Stasis", appData: appData, created: now(), args: append([]string{}, in.Args...),
		recordings: map[string]*recording{},
	}
	s.channels[ch.id] = ch
	ch.phone = newPhone(s, ch)
	s.phones = append(s.phones, ch.phone)
	close(s.phoneAdded)
	s.phoneAdded = make(chan struct{})
	s.logf("call %s %s", ch.id, in.Exten)
	s.enterStasis(ch)
	return ch.phone, nil
}

// AwaitOriginate returns the phone of the n-th (from 1) originate to a
// dial string containing endpoint, waiting for it.
func (s *Server) AwaitOriginate(ctx context.Context, endpoint string, n int) (*Phone, error) {
	for {
		s.mu.Lock()
		seen := 0
		var found *Phone
		for _, p := range s.phones {
			if p.ch.outbound && strings.Contains(p.ch.name, "/"+endpoint+"-") {
				seen++
				if seen == n {
					found = p
					break
				}
			}
		}
		wait := s.phoneAdded
		s.mu.Unlock()
		if found != nil {
			return found, nil
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, fmt.Errorf("aritest: await originate to %s: %w", endpoint, ctx.Err())
		}
	}
}

// Phones returns every phone, inbound and originated, in creation order.
func (s *Server) Phones() []*Phone {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Phone(nil), s.phones...)
}

// Inbound reports whether the phone called in (else it was originated).
func (p *Phone) Inbound() bool { return !p.ch.outbound }

// Endpoint is the endpoint an originated phone was dialled on ("unit").
func (p *Phone) Endpoint() string {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	return p.ch.dialstring
}

// ID is the channel id.
func (p *Phone) ID() string { return p.ch.id } // set once at creation

// observe records an event concerning this phone's channel.
func (p *Phone) observe(e fevent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, e)
	p.wake(e.typ)
}

func (p *Phone) end(cause int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.done:
	default:
		p.cause = cause
		close(p.done)
		p.wake("")
	}
}

func (p *Phone) continued() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cont = true
}

func (p *Phone) heard(dtmf string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.heardDTMF += dtmf
}

// Done is closed when the channel is gone.
func (p *Phone) Done() <-chan struct{} { return p.done }

// Cause is the Q.850 cause the channel ended with.
func (p *Phone) Cause() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cause
}

// Continued reports whether the application sent the channel back to the
// dialplan (/continue).
func (p *Phone) Continued() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cont
}

// PressedAt returns when each key was sent to the application.
func (p *Phone) PressedAt() []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Time(nil), p.pressedAt...)
}

// HeardDTMF is what the application sent with /dtmf.
func (p *Phone) HeardDTMF() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.heardDTMF
}

// Events returns the events the application got about this channel, its
// playbacks and recordings, in order. (Events raised while the
// application was disconnected are included: the phone saw them happen.)
func (p *Phone) Events() []Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Event, len(p.events))
	for i := range p.events {
		out[i] = p.events[i].event()
	}
	return out
}

// Played returns the media URIs started on this channel, in order.
func (p *Phone) Played() []string {
	var out []string
	for _, e := range p.Events() {
		if e.Type() == "PlaybackStarted" {
			out = append(out, e.Field("playback.media_uri"))
		}
	}
	return out
}

// Next waits for the next event (after the one the previous Next
// returned) that matches. It fails when ctx ends or the channel is gone
// without a match.
func (p *Phone) Next(ctx context.Context, match func(Event) bool) (Event, error) {
	return p.next(ctx, "", match)
}

// next is Next; typ, if not "", is the only event type match accepts, so
// that other events need not wake it.
func (p *Phone) next(ctx context.Context, typ string, match func(Event) bool) (Event, error) {
	for {
		p.mu.Lock()
		for ; p.cursor < len(p.events); p.cursor++ {
			e := &p.events[p.cursor]
			if typ != "" && e.typ != typ {
				continue
			}
			if match == nil { // Await: the type is the match
				p.cursor++
				p.forget()
				p.mu.Unlock()
				return nil, nil
			}
			if ev := e.event(); match(ev) {
				p.cursor++
				p.forget()
				p.mu.Unlock()
				return ev, nil
			}
		}
		p.forget()
		if p.changed == nil {
			p.changed = make(chan struct{})
		}
		changed := p.changed
		gone := false
		select {
		case <-p.done:
			gone = true
		default:
		}
		if !gone {
			p.waiting = append(p.waiting, typ)
		}
		p.mu.Unlock()
		if gone {
			return nil, errors.New("aritest: channel gone")
		}
		var err error
		select {
		case <-changed:
		case <-ctx.Done():
			err = fmt.Errorf("aritest: await event: %w", ctx.Err())
		}
		p.mu.Lock()
		if i := slices.Index(p.waiting, typ); i >= 0 {
			p.waiting = slices.Delete(p.waiting, i, i+1)
		}
		p.mu.Unlock()
		if err != nil {
			return nil, err
		}
	}
}

// wake wakes the Nexts that wait, if any, for an event of type typ ("":
// any) (p.mu held).
func (p *Phone) wake(typ string) {
	if p.changed == nil {
		return
	}
	if typ != "" && !slices.Contains(p.waiting, "") && !slices.Contains(p.waiting, typ) {
		return
	}
	close(p.changed)
	p.changed = nil
}

// forget drops the events Next is past, with Options.NoHistory.
func (p *Phone) forget() {
	if !p.s.opts.NoHistory || p.cursor == 0 {
		return
	}
	n := copy(p.events, p.events[p.cursor:])
	clear(p.events[n:])
	p.events, p.cursor = p.events[:n], 0
}

// Await is NextType without the event: for load tests, where making
// each event's map would cost more than the rest of the fake.
func (p *Phone) Await(ctx context.Context, typ string) error {
	_, err := p.next(ctx, typ, nil)
	return err
}

// NextType waits for the next event of the type.
func (p *Phone) NextType(ctx context.Context, typ string) (Event, error) {
	return p.next(ctx, typ, func(e Event) bool { return e.Type() == typ })
}

// Press sends DTMF digits, each as one ChannelDtmfReceived at the end of
// the key press (280 ms, as SIPp's captures). A digit in a recording's
// terminateOn stops it.
func (p *Phone) Press(digits string) error {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := p.ch
	if ch.destroyed {
		return errors.New("aritest: press on a channel that is gone")
	}
	for _, d := range digits {
		p.mu.Lock()
		p.pressedAt = append(p.pressedAt, time.Now())
		p.mu.Unlock()
		s.raise(ch, fevent{typ: "ChannelDtmfReceived", digit: string(d)})
		for _, r := range ch.recordings {
			if strings.ContainsRune(r.terminateOn, d) || (r.terminateOn == "any" && d != 0) {
				s.finishRecording(r, "done")
			}
		}
	}
	return nil
}

// Hangup hangs up from the far end (a BYE): ChannelHangupRequest without a
// cause, StasisEnd, and ChannelDestroyed with cause 16 for subscribed
// (originated) channels.
func (p *Phone) Hangup() {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if !p.ch.destroyed {
		cause := 16
		if !p.ch.outbound {
			cause = 0 // a plain BYE from the caller shows cause 0
		}
		s.hangup(p.ch, cause, false)
	}
}
