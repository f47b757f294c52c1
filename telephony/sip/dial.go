package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emiago/diago"
	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"

	"hotline/telephony"
)

const hangupTimeout = 5 * time.Second

// Causes of an abandoned INVITE, told apart after the fact.
var (
	errRingTimeout  = errors.New("ring timeout")
	errNoResponse   = errors.New("no response from peer")
	errCallerGaveUp = errors.New("dial context ended")
)

// Dial places an outbound call and returns it answered. The ring timeout
// is req.RingTimeout or the configured default. A peer that sends nothing
// at all is given up after NoResponseTimeout (reason timeout) without
// waiting for SIP timer B; a peer that rang is sent a CANCEL at the ring
// timeout (reason no answer). Final responses map through
// telephony.ReasonFromSIP.
func (e *Engine) Dial(ctx context.Context, req telephony.DialRequest) (telephony.Call, error) {
	fail := func(r telephony.Reason, cause int, err error) error {
		return &telephony.CallError{Op: "dial", Reason: r, Cause: cause, Err: err}
	}
	select {
	case <-e.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if e.draining.Load() {
		return nil, fail(telephony.ReasonShutdown, 0, nil)
	}
	var uri sipmsg.Uri
	to := req.To
	if !strings.HasPrefix(to, "sip:") && !strings.HasPrefix(to, "sips:") {
		to = "sip:" + to
	}
	if err := sipmsg.ParseUri(to, &uri); err != nil || uri.Host == "" {
		return nil, fail(telephony.ReasonUnreachable, 0, fmt.Errorf("bad SIP URI %q", req.To))
	}
	if !e.reserve() {
		return nil, fail(telephony.ReasonUnreachable, sipmsg.StatusServiceUnavailable, errors.New("call limit reached"))
	}
	call, err := e.dial(ctx, uri, req)
	if err != nil {
		e.release()
		return nil, err
	}
	return call, nil
}

func (e *Engine) dial(ctx context.Context, uri sipmsg.Uri, req telephony.DialRequest) (*Call, error) {
	fail := func(r telephony.Reason, cause int, err error) error {
		return &telephony.CallError{Op: "dial", Reason: r, Cause: cause, Err: err}
	}
	transport := "udp"
	if t, ok := uri.UriParams.Get("transport"); ok && t != "" {
		transport = strings.ToLower(t)
	} else if e.udp == nil {
		transport = "tcp"
	}
	d, err := e.dg.NewDialog(uri, diago.NewDialogOptions{Transport: transport})
	if err != nil {
		return nil, fail(telephony.ReasonError, 0, err)
	}
	ring := req.RingTimeout
	if ring <= 0 {
		ring = e.cfg.RingTimeout
	}
	log := e.log.With("dir", "outbound", telephony.MaskedNumber("to", uri.User))

	var responded atomic.Bool
	var gaveUp atomic.Value // errNoResponse or errRingTimeout
	// The INVITE's context is detached from ctx so that every way of giving
	// up goes through giveUp, which knows whether a CANCEL can be sent.
	inviteCtx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancel(nil)
	// A peer that never responded gets no CANCEL (there is no transaction
	// to cancel) and must not hold the call for timer B: sipgo gives up at
	// once on its force cause (compared with ==, so it goes alone).
	giveUp := func(why error) {
		gaveUp.CompareAndSwap(nil, why)
		if responded.Load() {
			cancel(why) // CANCEL is sent
		} else {
			cancel(sipgo.WaitAnswerForceCancelErr)
		}
	}
	noResp := time.AfterFunc(e.cfg.NoResponseTimeout, func() {
		if !responded.Load() {
			giveUp(errNoResponse)
		}
	})
	defer noResp.Stop()
	ringT := time.AfterFunc(ring, func() {
		if responded.Load() {
			giveUp(errRingTimeout)
		} else {
			giveUp(errNoResponse)
		}
	})
	defer ringT.Stop()
	stopParent := context.AfterFunc(ctx, func() { giveUp(errCallerGaveUp) })
	defer stopParent()

	opts := diago.InviteClientOptions{
		OnResponse: func(res *sipmsg.Response) error {
			responded.Store(true)
			return nil
		},
	}
	host := e.cfg.PublicHost
	if host == "" {
		host = e.bindHost()
	}
	if req.CallerID != "" {
		opts.WithCaller(req.CallerName, req.CallerID, host)
		opts.Headers = append(opts.Headers, sipmsg.NewHeader("P-Asserted-Identity",
			fmt.Sprintf("<sip:%s@%s>", req.CallerID, host)))
	}
	med, err := d.Invite(inviteCtx, opts)
	if err != nil {
		_ = d.Close()
		cause, _ := gaveUp.Load().(error)
		var resErr *sipgo.ErrDialogResponse
		switch {
		case errors.As(err, &resErr):
			code := int(resErr.Res.StatusCode)
			log.Info("dial failed", "status", code)
			return nil, fail(telephony.ReasonFromSIP(code), code, err)
		case errors.Is(cause, errNoResponse):
			log.Info("dial failed: no response")
			return nil, fail(telephony.ReasonTimeout, 408, err)
		case errors.Is(cause, errRingTimeout):
			log.Info("dial failed: not answered", "ring", ring)
			return nil, fail(telephony.ReasonNoAnswer, 487, err)
		case errors.Is(cause, errCallerGaveUp) || ctx.Err() != nil:
			return nil, ctx.Err()
		}
		// Transport errors: connection refused, no route, DNS.
		log.Info("dial failed", "err", err)
		return nil, fail(telephony.ReasonUnreachable, 0, err)
	}
	if err := d.Ack(ctx); err != nil {
		_ = d.Hangup(context.Background())
		_ = d.Close()
		return nil, fail(telephony.ReasonError, 0, fmt.Errorf("ack: %w", err))
	}
	info := telephony.Info{
		Direction:  telephony.Outbound,
		Caller:     req.CallerID,
		CallerName: req.CallerName,
		Dialled:    uri.User,
		Args:       req.Args,
		Started:    e.now(),
	}
	c := e.newCall(info, &clientLeg{d: d, med: med})
	e.track(c)
	if err := c.startMedia(med); err != nil {
		_ = c.leg.bye(context.Background())
		e.untrack(c)
		return nil, fail(telephony.ReasonError, 0, err)
	}
	// The call ends when its dialog does (BYE from the far end) or when
	// the service hangs up; then it leaves the engine's books.
	context.AfterFunc(d.Context(), func() { c.remoteEnded(0) })
	context.AfterFunc(c.ctx, func() {
		c.wait()
		e.untrack(c)
		e.release()
	})
	return c, nil
}

func (e *Engine) bindHost() string {
	addr := e.Addr("udp")
	if addr == "" {
		addr = e.Addr("tcp")
	}
	host, _, _ := net.SplitHostPort(addr)
	return host
}
