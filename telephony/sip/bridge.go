package sip

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"hotline/telephony"
)

// ErrBridgeFull is returned when a third call joins a bridge: the embedded
// engine connects two parties, without mixing.
var ErrBridgeFull = errors.New("bridge already has two calls")

// Bridge connects two calls of the engine: each call's reader forwards its
// audio to the other (transcoding PCMU/PCMA when they differ). Digits
// pressed by either party still reach that call's Digits and are not passed
// on. When one member hangs up, the bridge hangs up the other, so both legs
// end together; Remove a call first to keep it (a transfer).
type Bridge struct {
	id string
	e  *Engine

	mu      sync.Mutex
	members []*Call
	closed  bool
	rec     atomic.Pointer[recorder]
	// first is the call recorded on the left channel: the first to join.
	first atomic.Pointer[Call]
}

var _ telephony.Bridge = (*Bridge)(nil)

// NewBridge returns an empty two-party bridge.
func (e *Engine) NewBridge(ctx context.Context) (telephony.Bridge, error) {
	return &Bridge{id: fmt.Sprintf("bridge-%d", e.nextID.Add(1)), e: e}, nil
}

// ID returns the bridge id.
func (b *Bridge) ID() string { return b.id }

// Add puts an answered call of this engine into the bridge.
func (b *Bridge) Add(ctx context.Context, tc telephony.Call) error {
	c, ok := tc.(*Call)
	if !ok || c.e != b.e {
		return fmt.Errorf("bridge %s: call %s belongs to another engine", b.id, tc.Info().ID)
	}
	if err := c.mediaReady("bridge"); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return fmt.Errorf("bridge %s is closed", b.id)
	}
	for _, m := range b.members {
		if m == c {
			return nil
		}
	}
	if len(b.members) >= 2 {
		return fmt.Errorf("bridge %s: %w", b.id, ErrBridgeFull)
	}
	if !c.bridge.CompareAndSwap(nil, b) {
		return fmt.Errorf("bridge %s: call %s is in another bridge", b.id, c.callID)
	}
	// A prompt still playing to the call would interleave with the bridged
	// audio.
	if pb := c.playing.Load(); pb != nil {
		pb.finish(nil)
	}
	b.members = append(b.members, c)
	b.first.CompareAndSwap(nil, c)
	c.log.Info("call bridged", "bridge", b.id)
	return nil
}

// Remove takes a call out of the bridge without hanging it up.
func (b *Bridge) Remove(ctx context.Context, tc telephony.Call) error {
	c, ok := tc.(*Call)
	if !ok {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.removeLocked(c)
	return nil
}

func (b *Bridge) removeLocked(c *Call) {
	for i, m := range b.members {
		if m == c {
			b.members = append(b.members[:i], b.members[i+1:]...)
			c.bridge.CompareAndSwap(b, nil)
			return
		}
	}
}

// peerOf returns the other member, nil when c is alone.
func (b *Bridge) peerOf(c *Call) *Call {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.members {
		if m != c {
			return m
		}
	}
	return nil
}

// channelOf tells the recording channel of a member: left for the first
// call that joined (the caller), right for the others (agent, unit).
func (b *Bridge) channelOf(c *Call) int {
	if b.first.Load() == c {
		return chanCaller
	}
	return chanService
}

// memberEnded hangs up the other member when one leaves by hanging up.
func (b *Bridge) memberEnded(c *Call) {
	b.mu.Lock()
	in := false
	for _, m := range b.members {
		in = in || m == c
	}
	if !in {
		b.mu.Unlock()
		return
	}
	b.removeLocked(c)
	others := append([]*Call(nil), b.members...)
	for _, m := range others {
		b.removeLocked(m)
	}
	b.mu.Unlock()
	for _, m := range others {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), hangupTimeout)
			defer cancel()
			_ = m.Hangup(ctx, telephony.ReasonNormal)
		}()
	}
}

// Record records the bridge in stereo: left the first call that joined
// (the caller), right the other party, whoever it is at the time; it goes
// on across a transfer.
func (b *Bridge) Record(ctx context.Context, name string) (telephony.Recording, error) {
	path, err := b.e.recordingPath(name)
	if err != nil {
		return nil, err
	}
	rec, err := newRecorder(path, name, 2, b.e.now)
	if err != nil {
		return nil, fmt.Errorf("record bridge %s: %w", b.id, err)
	}
	if old := b.rec.Swap(rec); old != nil {
		_, _ = old.Stop(ctx)
	}
	return rec, nil
}

// Close removes every member without hanging them up and stops the
// bridge's recording.
func (b *Bridge) Close(ctx context.Context) error {
	b.mu.Lock()
	b.closed = true
	for len(b.members) > 0 {
		b.removeLocked(b.members[0])
	}
	b.mu.Unlock()
	if rec := b.rec.Load(); rec != nil {
		if _, err := rec.Stop(ctx); err != nil {
			return err
		}
	}
	return nil
}
