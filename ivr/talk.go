package ivr

import (
	"context"
	"errors"
	"fmt"
	"time"

	"hotline/telephony"
)

// TransferResult says how a transfer to a unit went.
type TransferResult struct {
	Ticket TicketID `json:"ticket"`
	Unit   string   `json:"unit"`
	// Outcome is "connected", or the telephony.Reason the unit could not be
	// reached for (busy, noanswer, rejected, unreachable, timeout, error).
	Outcome string    `json:"outcome"`
	At      time.Time `json:"at"`
}

// OutcomeConnected is the outcome of a transfer that reached the unit.
const OutcomeConnected = "connected"

// ErrTransferInProgress is returned when a transfer is asked for while
// another one for the same call is being dialled or is connected.
var ErrTransferInProgress = errors.New("a transfer is already in progress")

// session is a caller talking to an agent; transfer requests reach the
// call's flow through it.
type session struct {
	requests chan transferRequest
	pauses   chan pauseRequest
	done     chan struct{}
}

// pauseRequest pauses or resumes the recordings of a conversation (while
// the caller gives card numbers, say).
type pauseRequest struct {
	pause bool
	reply chan error
}

// PauseRecording pauses (or, with pause false, resumes) the recording of
// the ticket's call while the caller talks to an agent; the paused span is
// left out of the files. It returns ErrNoSuchCall when no caller of the
// ticket is talking to an agent.
func (s *Service) PauseRecording(ctx context.Context, ticket int64, pause bool) error {
	s.mu.Lock()
	sess := s.sessions[TicketID(ticket)]
	s.mu.Unlock()
	if sess == nil {
		return fmt.Errorf("ticket %d: %w", ticket, ErrNoSuchCall)
	}
	req := pauseRequest{pause: pause, reply: make(chan error, 1)}
	select {
	case sess.pauses <- req:
	case <-sess.done:
		return fmt.Errorf("ticket %d: %w", ticket, ErrNoSuchCall)
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

type transferRequest struct {
	unit  Unit
	stay  bool               // the agent stays in the call with the unit
	reply chan transferReply // nil for a transfer keyed by the agent
}

type transferReply struct {
	res TransferResult
	err error
}

// Transfer puts the caller of the ticket through to the unit. The service
// dials the unit and, when it answers, bridges it with the caller; the agent
// stays when agentStays, else drops. It blocks until the unit answered or
// failed. A failure is reported in the result's Outcome (and on the ticket);
// the error is for requests that could not be tried: ErrUnknownUnit,
// ErrNoSuchCall, ErrTransferInProgress.
func (s *Service) Transfer(ctx context.Context, ticket TicketID, unitID string, agentStays bool) (TransferResult, error) {
	u, ok := s.units[unitID]
	if !ok {
		return TransferResult{}, fmt.Errorf("unit %q: %w", unitID, ErrUnknownUnit)
	}
	s.mu.Lock()
	sess := s.sessions[ticket]
	s.mu.Unlock()
	if sess == nil {
		return TransferResult{}, fmt.Errorf("ticket %d: %w", ticket, ErrNoSuchCall)
	}
	req := transferRequest{unit: u, stay: agentStays, reply: make(chan transferReply, 1)}
	select {
	case sess.requests <- req:
	case <-sess.done:
		return TransferResult{}, fmt.Errorf("ticket %d: %w", ticket, ErrNoSuchCall)
	case <-ctx.Done():
		return TransferResult{}, ctx.Err()
	}
	select {
	case r := <-req.reply:
		return r.res, r.err
	case <-sess.done:
		// The call ended before the unit answered or failed.
		return TransferResult{}, fmt.Errorf("ticket %d: %w", ticket, ErrNoSuchCall)
	case <-ctx.Done():
		return TransferResult{}, ctx.Err()
	}
}

func (s *Service) register(t TicketID, sess *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions[t] = sess
}

func (s *Service) unregister(t TicketID, sess *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions[t] == sess {
		delete(s.sessions, t)
	}
	close(sess.done)
}

func (s *Service) unitByCode(code string) (Unit, bool) {
	for _, u := range s.units {
		if u.Code == code {
			return u, true
		}
	}
	return Unit{}, false
}

// keypad recognises the agent's transfer code: code, unit code, '#'.
type keypad struct {
	code string
	buf  []rune
}

// add takes one key; it returns the unit code once one is complete.
func (k *keypad) add(d rune) (string, bool) {
	k.buf = append(k.buf, d)
	s := string(k.buf)
	switch {
	case len(s) <= len(k.code):
		if k.code[:len(s)] != s {
			k.buf = k.buf[:0]
			if d == rune(k.code[0]) {
				k.buf = append(k.buf, d)
			}
		}
	case d == '#':
		k.buf = k.buf[:0]
		return s[len(k.code) : len(s)-1], true
	case len(k.buf) > 24:
		k.buf = k.buf[:0]
	}
	return "", false
}

// talk connects the caller with the agent who answered, pops the ticket on
// the agent's screen and carries out transfers until the conversation
// ends. requeue reports that the agent left while a transfer failed, so the
// caller must wait for another agent.
func (f *flow) talk(ctx context.Context, agent Agent, agentCall telephony.Call) (requeue bool, err error) {
	s := f.s
	s.queue.talking(agent.ID)
	f.setStage(stageTalk)
	answered := s.now()
	s.obs.CallAnswered(f.lineLabel(), answered.Sub(f.queuedAt))
	agentUp := true
	dropAgent := func() {
		if !agentUp {
			return
		}
		agentUp = false
		s.obs.TalkTime(f.lineLabel(), s.now().Sub(answered))
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		_ = agentCall.Hangup(hctx, telephony.ReasonNormal)
		cancel()
		s.queue.release(agent.ID)
	}
	defer dropAgent()

	bridge, err := s.engine.NewBridge(ctx)
	if err != nil {
		s.obs.FlowError(stepBridge)
		return false, fmt.Errorf("bridge caller and agent: %w", err)
	}
	var talkRec telephony.Recording
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if talkRec != nil {
			f.attachConversation(cctx, talkRec)
		}
		_ = bridge.Close(cctx)
	}()
	if err := bridge.Add(ctx, f.call); err != nil {
		s.obs.FlowError(stepBridge)
		return false, fmt.Errorf("bridge caller: %w", err)
	}
	if err := bridge.Add(ctx, agentCall); err != nil {
		s.obs.FlowError(stepBridge)
		return false, fmt.Errorf("bridge agent: %w", err)
	}
	f.mu.Lock()
	f.agent = agent.ID
	f.mu.Unlock()
	if s.cfg.RecordCalls() {
		// The conversation is recorded on the bridge: it goes on through a
		// transfer, whoever joins or leaves.
		// A caller back from the queue talks again: each conversation is a
		// file of its own.
		f.talks++
		name := recordingName("talk", f.info.ID)
		if f.talks > 1 {
			name += fmt.Sprintf("-%d", f.talks)
		}
		if talkRec, err = bridge.Record(ctx, name); err != nil {
			f.log.Error("record conversation", "err", err)
			s.obs.FlowError(stepRecord)
		}
	}

	t, err := f.currentTicket(ctx)
	if err != nil {
		return false, err
	}
	wctx, cancelWrite := writeContext(ctx)
	err = s.ledger.AssignAgent(wctx, f.info.ID, t.ID, agent.ID, s.now())
	cancelWrite()
	if err != nil {
		f.log.Error("assign agent", "agent", agent.ID, "err", err)
	}
	if t.Earlier, err = s.ledger.History(ctx, t.Caller, t.ID); err != nil {
		f.log.Error("caller history", "err", err)
	}
	// Transfers are accepted from the moment the agent sees the ticket.
	sess := &session{requests: make(chan transferRequest), pauses: make(chan pauseRequest), done: make(chan struct{})}
	s.register(t.ID, sess)
	defer s.unregister(t.ID, sess)
	f.log.Info("agent answered", "agent", agent.ID, "ticket", t.ID)
	s.bus.Publish(Event{Type: EventScreenPop, At: s.now(), Agent: agent.ID, CallID: f.info.ID, Ticket: &t})

	var (
		agentDone   = agentCall.Done()
		agentDigits = agentCall.Digits()
		unitCall    telephony.Call
		unitDone    <-chan struct{}
		dialling    <-chan dialResult
		pending     transferRequest
		hold        telephony.Playback // the caller's prompt while the unit is dialled
		keys        = keypad{code: s.cfg.TransferCode}
	)
	dialCtx, cancelDial := context.WithCancel(ctx)
	defer func() {
		cancelDial()
		abandonDial(ctx, dialling)
		stopPrompt(ctx, hold)
		if unitCall != nil {
			hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
			_ = unitCall.Hangup(hctx, telephony.ReasonNormal)
			cancel()
		}
	}()
	// start takes the caller aside (on hold, with a prompt) and dials the
	// unit; the agent waits in the bridge.
	start := func(req transferRequest) error {
		pending = req
		f.log.Info("transfer", "unit", req.unit.ID, "agent_stays", req.stay)
		if err := bridge.Remove(ctx, f.call); err != nil {
			return fmt.Errorf("take caller out of the bridge: %w", err)
		}
		var err error
		if hold, err = f.call.Play(ctx, promptTransferConnecting); err != nil {
			return err
		}
		dialling = s.dialAsync(dialCtx, telephony.DialRequest{
			To: req.unit.Dial, CallerID: s.cfg.CallerID, RingTimeout: s.cfg.UnitRingTimeout, Args: []string{"unit", req.unit.ID},
		})
		return nil
	}
	reply := func(r transferReply) {
		if pending.reply != nil {
			pending.reply <- r
		}
	}
	agentGone := func() {
		agentDone, agentDigits = nil, nil
		dropAgent()
	}

	for {
		select {
		case <-f.call.Done():
			return false, &telephony.CallError{Op: "talk", Reason: telephony.ReasonHungUp}
		case <-ctx.Done():
			return false, ctx.Err()
		case <-agentDone:
			agentGone()
			if unitCall == nil && dialling == nil {
				return false, f.goodbye(ctx, bridge)
			}
		case <-unitDone:
			unitCall, unitDone = nil, nil
			if agentDone == nil {
				return false, f.goodbye(ctx, bridge)
			}
		case d := <-agentDigits:
			code, ok := keys.add(d)
			if !ok {
				continue
			}
			u, found := s.unitByCode(code)
			switch {
			case !found:
				f.log.Warn("agent keyed an unknown unit code", "code", code)
			case dialling != nil || unitCall != nil:
				f.log.Warn("agent keyed a transfer while one is in progress")
			default:
				if err := start(transferRequest{unit: u, stay: true}); err != nil {
					s.obs.FlowError(stepTransfer)
					return false, err
				}
			}
		case req := <-sess.pauses:
			req.reply <- f.pauseRecordings(ctx, req.pause, talkRec)
		case req := <-sess.requests:
			if dialling != nil || unitCall != nil {
				req.reply <- transferReply{err: ErrTransferInProgress}
				continue
			}
			if err := start(req); err != nil {
				req.reply <- transferReply{err: err}
				s.obs.FlowError(stepTransfer)
				return false, err
			}
		case r := <-dialling:
			dialling = nil
			stopPrompt(ctx, hold)
			hold = nil
			now := s.now()
			res := TransferResult{Ticket: t.ID, Unit: pending.unit.ID, At: now, Outcome: OutcomeConnected}
			if r.err != nil {
				reason := telephony.ReasonOf(r.err)
				res.Outcome = string(reason)
				f.log.Info("transfer failed", "unit", pending.unit.ID, "reason", reason)
				wctx, cancelWrite := writeContext(ctx)
				if err := s.ledger.RecordTransferFailure(wctx, t.ID, pending.unit.ID, reason, now); err != nil {
					f.log.Error("record transfer failure", "err", err)
				}
				cancelWrite()
				s.bus.Publish(Event{Type: EventTransferFailed, At: now, Agent: agent.ID, CallID: f.info.ID, Ticket: &t,
					Unit: pending.unit.ID, Outcome: res.Outcome})
				reply(transferReply{res: res})
				if err := telephony.PlayAll(ctx, f.call, promptTransferFailed); err != nil {
					return false, err
				}
				if agentDone == nil {
					// The agent has left: the caller waits for another one.
					return true, nil
				}
				if err := bridge.Add(ctx, f.call); err != nil {
					return false, fmt.Errorf("bring caller back to the agent: %w", err)
				}
				continue
			}
			unitCall, unitDone = r.call, r.call.Done()
			stays := pending.stay && agentDone != nil
			if !stays && agentDone != nil {
				if err := bridge.Remove(ctx, agentCall); err != nil {
					f.log.Warn("take agent out of the bridge", "err", err)
				}
				agentGone()
			}
			kept, err := f.joinUnit(ctx, bridge, unitCall, agentCall, stays)
			if err != nil {
				s.obs.FlowError(stepTransfer)
				return false, err
			}
			if stays && !kept {
				agentGone()
			}
			wctx, cancelWrite := writeContext(ctx)
			if err := s.ledger.RecordTransfer(wctx, t.ID, pending.unit.ID, now); err != nil {
				f.log.Error("record transfer", "err", err)
			}
			cancelWrite()
			s.bus.Publish(Event{Type: EventTransferred, At: now, Agent: agent.ID, CallID: f.info.ID, Ticket: &t, Unit: pending.unit.ID})
			reply(transferReply{res: res})
		}
	}
}

// pauseRecordings pauses or resumes the call's and the conversation's
// recordings.
func (f *flow) pauseRecordings(ctx context.Context, pause bool, talk telephony.Recording) error {
	var errs []error
	for _, r := range []telephony.Recording{f.rec, talk} {
		if r == nil {
			continue
		}
		op := r.Resume
		if pause {
			op = r.Pause
		}
		if err := op(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("pause recording: %w", err)
	}
	f.log.Info("recording paused", "paused", pause)
	return nil
}

// attachConversation stops the conversation's recording and puts it on
// the ticket.
func (f *flow) attachConversation(ctx context.Context, rec telephony.Recording) {
	res, err := rec.Stop(ctx)
	if err != nil {
		f.log.Error("stop conversation recording", "err", err)
		return
	}
	t, err := f.currentTicket(ctx)
	if err != nil {
		return
	}
	r := Recording{Kind: RecordingConversation, Path: res.Path, Duration: res.Duration}
	if err := f.s.ledger.AttachRecording(ctx, t.ID, f.info.ID, r); err != nil {
		f.log.Error("attach conversation recording", "err", err)
	}
}

// joinUnit brings the caller back into the bridge, now with the unit. An
// engine whose bridges hold two parties refuses a third: the agent then
// leaves for the unit. kept reports whether the agent is still in.
func (f *flow) joinUnit(ctx context.Context, bridge telephony.Bridge, unit, agent telephony.Call, agentIn bool) (kept bool, err error) {
	if err := bridge.Add(ctx, f.call); err != nil {
		return false, fmt.Errorf("bring caller back into the bridge: %w", err)
	}
	err = bridge.Add(ctx, unit)
	if err == nil {
		return agentIn, nil
	}
	if !agentIn {
		return false, fmt.Errorf("bridge unit: %w", err)
	}
	f.log.Info("the bridge takes no third party: the agent leaves for the unit", "err", err)
	if err := bridge.Remove(ctx, agent); err != nil {
		return false, fmt.Errorf("take agent out of the bridge: %w", err)
	}
	if err := bridge.Add(ctx, unit); err != nil {
		return false, fmt.Errorf("bridge unit: %w", err)
	}
	return false, nil
}

// goodbye ends the conversation once the other side has left.
func (f *flow) goodbye(ctx context.Context, bridge telephony.Bridge) error {
	select {
	case <-f.call.Done():
		// Some engines end the other members when one leaves a bridge.
		return &telephony.CallError{Op: "goodbye", Reason: telephony.ReasonHungUp}
	default:
	}
	if err := bridge.Remove(ctx, f.call); err != nil {
		return fmt.Errorf("take caller out of the bridge: %w", err)
	}
	return telephony.PlayAll(ctx, f.call, promptGoodbye)
}
