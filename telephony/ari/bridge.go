package ari

import (
	"context"
	"errors"
	"fmt"

	"hotline/telephony"
)

// bridge is a mixing bridge in Asterisk.
type bridge struct {
	e  *Engine
	id string
}

var _ telephony.Bridge = (*bridge)(nil)

// NewBridge creates an empty mixing bridge.
func (e *Engine) NewBridge(ctx context.Context) (telephony.Bridge, error) {
	id := e.newID("br")
	q := query{"type", "mixing", "bridgeId", id, "name", "hotline-" + id}
	if err := e.rest.do(ctx, "POST", "/bridges", q, nil, nil); err != nil {
		return nil, fmt.Errorf("create bridge: %w", err)
	}
	return &bridge{e: e, id: id}, nil
}

func (b *bridge) ID() string   { return b.id }
func (b *bridge) path() string { return "/bridges/" + escape(b.id) }

func (b *bridge) member(op string, c telephony.Call) (*call, error) {
	ac, ok := c.(*call)
	if !ok || ac.e != b.e {
		return nil, &telephony.CallError{Op: op, Reason: telephony.ReasonError, Err: errors.New("call is not of this ari engine")}
	}
	return ac, nil
}

// Add puts the call into the bridge.
func (b *bridge) Add(ctx context.Context, c telephony.Call) error {
	ac, err := b.member("bridge add", c)
	if err != nil {
		return err
	}
	if err := b.e.rest.do(ctx, "POST", b.path()+"/addChannel", query{"channel", ac.id}, nil, nil); err != nil {
		var he *HTTPError
		if ac.ended() || (errors.As(err, &he) && (he.Status == 400 || he.Status == 422)) {
			return &telephony.CallError{Op: "bridge add", Reason: telephony.ReasonHungUp, Err: err}
		}
		return fmt.Errorf("bridge %s add: %w", b.id, err)
	}
	return nil
}

// Remove takes the call out of the bridge; it stays in the application.
func (b *bridge) Remove(ctx context.Context, c telephony.Call) error {
	ac, err := b.member("bridge remove", c)
	if err != nil {
		return err
	}
	if err := b.e.rest.do(ctx, "POST", b.path()+"/removeChannel", query{"channel", ac.id}, nil, nil); err != nil {
		var he *HTTPError
		if ac.ended() || (errors.As(err, &he) && (he.Status == 400 || he.Status == 422)) {
			return nil // not there any more
		}
		return fmt.Errorf("bridge %s remove: %w", b.id, err)
	}
	return nil
}

// Record records the bridge's mix; members may come and go (a transfer).
func (b *bridge) Record(ctx context.Context, name string) (telephony.Recording, error) {
	if err := validRecordingName(name); err != nil {
		return nil, &telephony.CallError{Op: "record", Reason: telephony.ReasonError, Err: err}
	}
	r, err := b.e.record(ctx, nil, b.path()+"/record", name)
	if err != nil {
		return nil, fmt.Errorf("bridge %s record: %w", b.id, err)
	}
	return r, nil
}

// Close destroys the bridge; its members stay in the application.
func (b *bridge) Close(ctx context.Context) error {
	err := b.e.rest.do(ctx, "DELETE", b.path(), nil, nil, nil)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("bridge %s close: %w", b.id, err)
	}
	return nil
}
