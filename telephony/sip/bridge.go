package sip

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"hotline/telephony"
)

// maxBridgeMembers bounds a bridge: caller, agent and unit, and one more.
const maxBridgeMembers = 4

// ErrBridgeFull is returned when a call joins a bridge that has
// maxBridgeMembers already.
var ErrBridgeFull = errors.New("bridge is full")

// Bridge connects calls of the engine. Two calls are connected directly:
// each call's reader forwards its audio to the other (transcoding PCMU/PCMA
// when they differ). From three calls on (an agent who stays while a unit
// joins) a mixer gives each member the sum of the others. Digits pressed by
// a member still reach that call's Digits. When a member hangs up and only
// one call would be left, the bridge hangs that one up too, so a
// conversation's legs end together; Remove a call first to keep it (a
// transfer).
type Bridge struct {
	id string
	e  *Engine

	mu      sync.Mutex
	members []*Call
	closed  bool
	mix     *mixer // running while the bridge has three members or more
	rec     atomic.Pointer[recorder]
	// first is the call recorded on the left channel: the first to join.
	first atomic.Pointer[Call]
}

var _ telephony.Bridge = (*Bridge)(nil)

// NewBridge returns an empty bridge.
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
	if len(b.members) >= maxBridgeMembers {
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
	if len(b.members) >= 3 && b.mix == nil {
		b.mix = newMixer(b)
	}
	c.log.Info("call bridged", "bridge", b.id, "members", len(b.members))
	return nil
}

// Remove takes a call out of the bridge without hanging it up.
func (b *Bridge) Remove(ctx context.Context, tc telephony.Call) error {
	c, ok := tc.(*Call)
	if !ok {
		return nil
	}
	b.mu.Lock()
	b.removeLocked(c)
	mix := b.stopMixLocked()
	b.mu.Unlock()
	if mix != nil {
		mix.close()
	}
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

// stopMixLocked detaches the mixer once fewer than three members are left;
// the caller closes it after unlocking (its goroutine takes b.mu).
func (b *Bridge) stopMixLocked() *mixer {
	if b.mix == nil || len(b.members) >= 3 {
		return nil
	}
	m := b.mix
	b.mix = nil
	return m
}

// snapshot returns the members.
func (b *Bridge) snapshot() []*Call {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*Call(nil), b.members...)
}

// route tells a member's reader where its audio goes: the other member of
// a two-party bridge, or the mixer (peer nil) from three members on.
func (b *Bridge) route(c *Call) (peer *Call, mix *mixer) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mix != nil {
		return nil, b.mix
	}
	for _, m := range b.members {
		if m != c {
			return m, nil
		}
	}
	return nil, nil
}

// peerOf returns the other member of a two-party bridge, nil when c is
// alone or the bridge mixes three or more.
func (b *Bridge) peerOf(c *Call) *Call {
	peer, _ := b.route(c)
	return peer
}

// channelOf tells the recording channel of a member: left for the first
// call that joined (the caller), right for the others (agent, unit).
func (b *Bridge) channelOf(c *Call) int {
	if b.first.Load() == c {
		return chanCaller
	}
	return chanService
}

// memberEnded takes a member that hung up out of the bridge; when only one
// call is left, it is hung up too (the conversation is over). Three or more
// go on talking without the one who left.
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
	var others []*Call
	if len(b.members) == 1 {
		others = append(others, b.members...)
		b.removeLocked(b.members[0])
	}
	mix := b.stopMixLocked()
	b.mu.Unlock()
	if mix != nil {
		mix.close()
	}
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
	mix := b.stopMixLocked()
	b.mu.Unlock()
	if mix != nil {
		mix.close()
	}
	if rec := b.rec.Load(); rec != nil {
		if _, err := rec.Stop(ctx); err != nil {
			return err
		}
	}
	return nil
}
