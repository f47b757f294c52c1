package ivr

import (
	"context"
	"time"

	"hotline/telephony"
)

// dialResult is the outcome of a Dial run in the background.
type dialResult struct {
	call telephony.Call
	err  error
}

// dialAsync dials in the background so that the caller keeps hearing
// prompts and hang-ups are noticed meanwhile. The channel delivers exactly
// one result.
func (s *Service) dialAsync(ctx context.Context, req telephony.DialRequest) <-chan dialResult {
	ch := make(chan dialResult, 1)
	go func() {
		c, err := s.engine.Dial(ctx, req)
		ch <- dialResult{call: c, err: err}
	}()
	return ch
}

// abandonDial waits for a background dial whose result nobody wants and
// hangs up the call if it was answered after all.
func abandonDial(ctx context.Context, ch <-chan dialResult) {
	if ch == nil {
		return
	}
	r := <-ch
	if r.err == nil && r.call != nil {
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		_ = r.call.Hangup(hctx, telephony.ReasonNormal)
	}
}

// queue waits for an agent: the caller hears the hold prompt and their
// position while the longest-idle available agent is rung; after the
// configured wait the caller is offered to leave a message instead.
func (f *flow) queue(ctx context.Context) error {
	front := false
	next := []string{promptConnectingAgent}
	f.setStage(stageQueue)
	f.queuedAt = f.s.now()
	f.s.obs.CallOffered(f.lineLabel())
	for {
		requeue, err := f.waitAgent(ctx, front, next)
		if err != nil || !requeue {
			return err
		}
		// Back from an agent who left during a failed transfer: the caller
		// goes first.
		front, next = true, nil
		f.setStage(stageQueue)
		f.log.Info("back to the queue")
	}
}

// waitAgent runs one stay in the queue; requeue reports that the caller
// came back from an agent and must queue again.
func (f *flow) waitAgent(ctx context.Context, front bool, next []string) (requeue bool, err error) {
	s := f.s
	w := s.queue.join(f.info.ID, front)
	defer s.queue.leave(w)

	var (
		pb       telephony.Playback
		lastPos  int
		dialling <-chan dialResult
		ringing  Agent
		offer    <-chan time.Time
		offerDue bool
	)
	dialCtx, cancelDial := context.WithCancel(ctx)
	defer func() {
		cancelDial()
		if dialling != nil {
			abandonDial(ctx, dialling)
			s.queue.unclaimed(w, ringing.ID)
		}
		if pb != nil {
			stopPrompt(ctx, pb)
		}
	}()
	if d := s.cfg.QueueOfferMessage; d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		offer = t.C
	}

	for {
		changed := s.queue.changes()
		if dialling == nil {
			if a, ok := s.queue.claim(w); ok {
				ringing = a
				f.log.Info("ringing agent", "agent", a.ID)
				dialling = s.dialAsync(dialCtx, telephony.DialRequest{
					To: a.Dial, CallerID: s.cfg.CallerID, RingTimeout: s.cfg.AgentRingTimeout, Args: []string{"agent", a.ID},
				})
			}
		}
		if offerDue && dialling == nil {
			offerDue = false
			if pb != nil {
				stopPrompt(ctx, pb)
				pb = nil
			}
			key, err := telephony.PlayCollect(ctx, f.call, []string{promptQueueOfferMessage},
				telephony.Collect{FirstDigit: s.cfg.FirstDigit, BargeIn: true})
			if err != nil {
				return false, err
			}
			if key == "1" {
				s.queue.leave(w)
				return false, f.takeMessage(ctx, "queue")
			}
			f.log.Info("caller keeps waiting", "key", key)
			continue
		}
		if pb == nil {
			prompt := promptQueueHold
			if len(next) > 0 {
				prompt, next = next[0], next[1:]
			} else if pos := s.queue.position(w); pos != lastPos {
				prompt, lastPos = positionPrompt(pos), pos
			}
			if pb, err = f.call.Play(ctx, prompt); err != nil {
				return false, err
			}
		}
		select {
		case <-pb.Done():
			if err := pb.Err(); err != nil {
				return false, err
			}
			pb = nil
		case <-changed:
		case <-offer:
			offer = nil
			offerDue = true
		case r := <-dialling:
			dialling = nil
			if r.err != nil {
				f.log.Info("agent did not answer", "agent", ringing.ID, "reason", telephony.ReasonOf(r.err))
				s.queue.unclaimed(w, ringing.ID)
				continue
			}
			stopPrompt(ctx, pb)
			pb = nil
			s.queue.leave(w)
			return f.talk(ctx, ringing, r.call)
		case <-f.call.Done():
			return false, &telephony.CallError{Op: "queue", Reason: telephony.ReasonHungUp}
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

// stopPrompt stops a prompt and waits until it has stopped.
func stopPrompt(ctx context.Context, pb telephony.Playback) {
	if pb == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	_ = pb.Stop(ctx)
	select {
	case <-pb.Done():
	case <-ctx.Done():
	}
}
