package telephonytest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"hotline/telephony"
)

// Engine is a fake engine. Inbound calls are delivered with Ring; Dial asks
// DialFunc, which by default answers with a new fake call.
type Engine struct {
	// DialFunc decides the outcome of each Dial. Nil answers every call.
	DialFunc func(ctx context.Context, req telephony.DialRequest) (telephony.Call, error)

	mu      sync.Mutex
	handler telephony.Handler
	served  chan struct{}
	dialled []telephony.DialRequest
	bridges []*Bridge
	wg      sync.WaitGroup
	nextID  atomic.Int64
}

var _ telephony.Engine = (*Engine)(nil)

// NewEngine returns a fake engine.
func NewEngine() *Engine { return &Engine{served: make(chan struct{})} }

// Serve records h and blocks until ctx ends and every rung call has returned.
func (e *Engine) Serve(ctx context.Context, h telephony.Handler) error {
	e.mu.Lock()
	e.handler = h
	e.mu.Unlock()
	close(e.served)
	<-ctx.Done()
	e.wg.Wait()
	return nil
}

// Ring delivers call to the handler (once Serve has started) and returns a
// channel closed when the handler has returned.
func (e *Engine) Ring(ctx context.Context, call *Call) <-chan struct{} {
	<-e.served
	e.mu.Lock()
	h := e.handler
	e.mu.Unlock()
	finished := make(chan struct{})
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer close(finished)
		callCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			select {
			case <-call.Done():
				cancel()
			case <-callCtx.Done():
			}
		}()
		h.HandleCall(callCtx, call)
		_ = call.Hangup(context.Background(), telephony.ReasonNormal)
	}()
	return finished
}

// Dial records req and asks DialFunc.
func (e *Engine) Dial(ctx context.Context, req telephony.DialRequest) (telephony.Call, error) {
	e.mu.Lock()
	e.dialled = append(e.dialled, req)
	f := e.DialFunc
	e.mu.Unlock()
	if f != nil {
		return f(ctx, req)
	}
	c := NewCall(telephony.Info{
		ID:        fmt.Sprintf("out-%d", e.nextID.Add(1)),
		Direction: telephony.Outbound,
		Caller:    req.CallerID,
		Dialled:   req.To,
		Args:      req.Args,
	})
	_ = c.Answer(ctx)
	return c, nil
}

// Dialled returns the dial requests seen, in order.
func (e *Engine) Dialled() []telephony.DialRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]telephony.DialRequest(nil), e.dialled...)
}

// NewBridge returns a fake bridge.
func (e *Engine) NewBridge(ctx context.Context) (telephony.Bridge, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	b := &Bridge{id: fmt.Sprintf("bridge-%d", len(e.bridges)+1)}
	e.bridges = append(e.bridges, b)
	return b, nil
}

// Bridges returns the bridges created, in order.
func (e *Engine) Bridges() []*Bridge {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*Bridge(nil), e.bridges...)
}

// Bridge is a fake bridge that tracks its members.
type Bridge struct {
	id      string
	mu      sync.Mutex
	members []telephony.Call
	closed  bool
	log     []string
}

// ID returns the bridge id.
func (b *Bridge) ID() string { return b.id }

// Add adds a call.
func (b *Bridge) Add(ctx context.Context, call telephony.Call) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.members = append(b.members, call)
	b.log = append(b.log, "add "+call.Info().ID)
	return nil
}

// Remove removes a call.
func (b *Bridge) Remove(ctx context.Context, call telephony.Call) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, m := range b.members {
		if m == call {
			b.members = append(b.members[:i], b.members[i+1:]...)
			break
		}
	}
	b.log = append(b.log, "remove "+call.Info().ID)
	return nil
}

// Record starts a fake recording of the bridge.
func (b *Bridge) Record(ctx context.Context, name string) (telephony.Recording, error) {
	rec := &Recording{name: name, started: time.Now(), log: func(f string, a ...any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.log = append(b.log, fmt.Sprintf(f, a...))
	}}
	rec.log("record %s", name)
	return rec, nil
}

// Close empties the bridge.
func (b *Bridge) Close(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.members = nil
	b.closed = true
	b.log = append(b.log, "close")
	return nil
}

// Members returns the ids of the calls in the bridge.
func (b *Bridge) Members() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	ids := make([]string, len(b.members))
	for i, m := range b.members {
		ids[i] = m.Info().ID
	}
	return ids
}

// Log returns what happened to the bridge, in order.
func (b *Bridge) Log() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.log...)
}
