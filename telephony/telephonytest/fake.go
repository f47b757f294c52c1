// Package telephonytest provides an in-memory call and engine that
// implement the telephony port, for testing call flows without a network.
// They are hand-written fakes: a test drives the far end (press keys, hang
// up) and reads back what the flow did.
package telephonytest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"hotline/telephony"
)

// Call is a fake call. The zero value is not usable; use NewCall.
type Call struct {
	info   telephony.Info
	digits chan rune
	done   chan struct{}

	// PromptLength is how long a prompt plays unless stopped. Zero means
	// prompts finish at once.
	PromptLength time.Duration
	// OnPlay, when set, is called (on the flow's goroutine) as each prompt
	// starts; a test presses keys or hangs up from it.
	OnPlay func(c *Call, prompt string)

	mu       sync.Mutex
	answered bool
	end      telephony.End
	log      []string
}

// NewCall returns a fake inbound call with the given info.
func NewCall(info telephony.Info) *Call {
	if info.Direction == "" {
		info.Direction = telephony.Inbound
	}
	if info.Started.IsZero() {
		info.Started = time.Now()
	}
	return &Call{info: info, digits: make(chan rune, 32), done: make(chan struct{})}
}

var _ telephony.Call = (*Call)(nil)

// Info returns the call's info.
func (c *Call) Info() telephony.Info { return c.info }

func (c *Call) record(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = append(c.log, fmt.Sprintf(format, args...))
}

// Log returns what the flow did, in order: "answer", "play welcome",
// "stop welcome", "record name", "send 12", "hangup normal", ...
func (c *Call) Log() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.log...)
}

// Played returns the prompts played, in order.
func (c *Call) Played() []string {
	var out []string
	for _, l := range c.Log() {
		if len(l) > 5 && l[:5] == "play " {
			out = append(out, l[5:])
		}
	}
	return out
}

func (c *Call) ended() error {
	select {
	case <-c.done:
		return &telephony.CallError{Op: "fake", Reason: telephony.ReasonHungUp}
	default:
		return nil
	}
}

// Answer answers the call.
func (c *Call) Answer(ctx context.Context) error {
	if err := c.ended(); err != nil {
		return err
	}
	c.mu.Lock()
	already := c.answered
	c.answered = true
	c.mu.Unlock()
	if !already {
		c.record("answer")
	}
	return nil
}

// Answered reports whether the flow answered the call.
func (c *Call) Answered() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.answered
}

// Play starts a fake prompt lasting PromptLength.
func (c *Call) Play(ctx context.Context, prompt string) (telephony.Playback, error) {
	if err := c.ended(); err != nil {
		return nil, err
	}
	c.record("play %s", prompt)
	pb := &playback{call: c, prompt: prompt, done: make(chan struct{})}
	if c.PromptLength <= 0 {
		pb.finish(nil)
	} else {
		go pb.run(c.PromptLength)
	}
	if c.OnPlay != nil {
		c.OnPlay(c, prompt)
	}
	return pb, nil
}

// Digits delivers the keys pressed with Press.
func (c *Call) Digits() <-chan rune { return c.digits }

// Press queues digits as if the far end pressed them.
func (c *Call) Press(digits string) {
	for _, d := range digits {
		c.digits <- d
	}
}

// SendDigits records the digits sent.
func (c *Call) SendDigits(ctx context.Context, digits string) error {
	if err := c.ended(); err != nil {
		return err
	}
	c.record("send %s", digits)
	return nil
}

// Record starts a fake recording.
func (c *Call) Record(ctx context.Context, name string) (telephony.Recording, error) {
	if err := c.ended(); err != nil {
		return nil, err
	}
	c.record("record %s", name)
	return &Recording{name: name, started: time.Now(), log: c.record}, nil
}

// Hangup ends the call from the service's side.
func (c *Call) Hangup(ctx context.Context, reason telephony.Reason) error {
	c.finish(telephony.End{Reason: reason, By: "local"}, "hangup "+string(reason))
	return nil
}

// HangupRemote ends the call as if the far end hung up.
func (c *Call) HangupRemote() {
	c.finish(telephony.End{Reason: telephony.ReasonHungUp, By: "remote", Cause: 16}, "remote hangup")
}

func (c *Call) finish(end telephony.End, entry string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.done:
		return
	default:
	}
	end.At = time.Now()
	c.end = end
	c.log = append(c.log, entry)
	close(c.done)
}

// Done is closed when the call has ended.
func (c *Call) Done() <-chan struct{} { return c.done }

// End tells how the call ended.
func (c *Call) End() telephony.End {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.end
}

type playback struct {
	call   *Call
	prompt string
	done   chan struct{}
	once   sync.Once
	mu     sync.Mutex
	err    error
}

func (p *playback) run(length time.Duration) {
	t := time.NewTimer(length)
	defer t.Stop()
	select {
	case <-t.C:
		p.finish(nil)
	case <-p.call.done:
		p.finish(&telephony.CallError{Op: "play", Reason: telephony.ReasonHungUp})
	case <-p.done:
	}
}

func (p *playback) finish(err error) {
	p.once.Do(func() {
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(p.done)
	})
}

func (p *playback) Stop(ctx context.Context) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	p.call.record("stop %s", p.prompt)
	p.finish(nil)
	return nil
}

func (p *playback) Done() <-chan struct{} { return p.done }

func (p *playback) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Recording is a fake recording.
type Recording struct {
	name    string
	started time.Time
	log     func(string, ...any)
	mu      sync.Mutex
	stopped bool
}

// Pause records a pause.
func (r *Recording) Pause(ctx context.Context) error { r.log("pause %s", r.name); return nil }

// Resume records a resume.
func (r *Recording) Resume(ctx context.Context) error { r.log("resume %s", r.name); return nil }

// Stop ends the fake recording; the path is "fake/<name>.wav".
func (r *Recording) Stop(ctx context.Context) (telephony.RecordingResult, error) {
	r.mu.Lock()
	first := !r.stopped
	r.stopped = true
	r.mu.Unlock()
	if first {
		r.log("stop recording %s", r.name)
	}
	return telephony.RecordingResult{Name: r.name, Path: "fake/" + r.name + ".wav", Duration: time.Since(r.started)}, nil
}
