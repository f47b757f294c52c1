// Package ivr holds the hotline's call flows: the welcome and business-line
// menu, the agent queue, the screen-pop, transfers to responsible units and
// the after-hours message. Flows are written against the telephony port
// only; the ledger and the calendar come in through small interfaces.
package ivr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"hotline/telephony"
)

// Deps are what a Service stands on.
type Deps struct {
	Engine   telephony.Engine
	Ledger   Ledger
	Calendar Calendar
	Lines    []Line
	Units    []Unit
	Bus      *Bus             // nil: a new one
	Clock    func() time.Time // nil: time.Now
	Logger   *slog.Logger     // nil: discard
	Observer Observer         // nil: none
}

// Service runs the hotline's inbound calls. It is a telephony.Handler.
type Service struct {
	cfg    Config
	engine telephony.Engine
	ledger Ledger
	cal    Calendar
	bus    *Bus
	now    func() time.Time
	log    *slog.Logger
	obs    Observer
	lines  map[string]Line
	units  map[string]Unit
	agents map[string]Agent
	queue  *queue

	mu       sync.Mutex
	sessions map[TicketID]*session // callers talking to an agent, for transfers

	// background writes (ticket opening) that must finish before shutdown
	writes sync.WaitGroup
}

var _ telephony.Handler = (*Service)(nil)

// New checks the configuration and returns a Service.
func New(cfg Config, d Deps) (*Service, error) {
	if d.Engine == nil || d.Ledger == nil || d.Calendar == nil {
		return nil, errors.New("ivr: engine, ledger and calendar are required")
	}
	if err := cfg.Init(); err != nil {
		return nil, err
	}
	if err := checkLines(d.Lines); err != nil {
		return nil, err
	}
	s := &Service{
		cfg: cfg, engine: d.Engine, ledger: d.Ledger, cal: d.Calendar, bus: d.Bus, now: d.Clock, log: d.Logger, obs: d.Observer,
		lines: make(map[string]Line), units: make(map[string]Unit), agents: make(map[string]Agent),
		sessions: make(map[TicketID]*session),
	}
	if s.bus == nil {
		s.bus = NewBus()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.obs == nil {
		s.obs = nopObserver{}
	}
	for _, l := range d.Lines {
		s.lines[l.Key] = l
	}
	for _, u := range d.Units {
		if u.ID == "" || u.Dial == "" {
			return nil, fmt.Errorf("unit %q: id and dial are required", u.ID)
		}
		if u.Code == "" {
			u.Code = u.ID
		}
		s.units[u.ID] = u
	}
	for _, a := range cfg.Agents {
		s.agents[a.ID] = a
	}
	s.queue = newQueue(cfg.Agents, s.now, func(loggedIn, available int) {
		s.obs.AgentsLoggedIn(loggedIn)
		s.obs.AgentsAvailable(available)
	})
	return s, nil
}

// Bus returns the bus the service publishes its events on.
func (s *Service) Bus() *Bus { return s.bus }

// Wait blocks until background ledger writes of ended calls are done.
func (s *Service) Wait() { s.writes.Wait() }

// The prompt names, as in prompts/manifest.txt.
const (
	promptWelcome            = "welcome"
	promptMenu               = "menu"
	promptSorryInvalid       = "sorry-invalid"
	promptSorryNoInput       = "sorry-noinput"
	promptConnectingAgent    = "connecting-agent"
	promptQueueHold          = "queue-hold"
	promptQueueOfferMessage  = "queue-offer-message"
	promptLeaveMessage       = "leave-message"
	promptBeep               = "beep"
	promptMessageThanks      = "message-thanks"
	promptAfterHours         = "after-hours"
	promptTransferConnecting = "transfer-connecting"
	promptTransferFailed     = "transfer-failed"
	promptGoodbye            = "goodbye"
)

// positionPrompt names the prompt announcing a queue position.
func positionPrompt(pos int) string {
	if pos >= 1 && pos <= 9 {
		return fmt.Sprintf("queue-position-%d", pos)
	}
	return "queue-position-many"
}

// cleanupTimeout bounds the ledger writes and recording stops done after a
// call has ended.
const cleanupTimeout = 30 * time.Second

// HandleCall runs one inbound call from answer to hang-up.
func (s *Service) HandleCall(ctx context.Context, call telephony.Call) {
	info := call.Info()
	f := &flow{
		s: s, call: call, info: info,
		log:         s.log.With("call", info.ID, telephony.MaskedNumber("caller", info.Caller)),
		ticketReady: make(chan struct{}),
	}
	s.obs.CallStarted(info.Direction)
	answerErr := call.Answer(ctx)
	answered := s.now()
	// A call that reached the hotline is recorded with its ticket, also
	// when the caller hung up as it was being answered (the engine may
	// report that as a failed answer).
	f.openTicket(ctx, answered)
	if answerErr != nil {
		f.log.Info("call not answered", "err", answerErr)
		f.finish(ctx, answerErr)
		return
	}
	if s.cfg.RecordCalls() {
		f.startRecording(ctx)
	}
	err := f.run(ctx, answered)
	f.finish(ctx, err)
}

// flow is the state of one inbound call.
type flow struct {
	s    *Service
	call telephony.Call
	info telephony.Info
	log  *slog.Logger

	ticketReady chan struct{} // closed once the ticket is opened (or failed)
	lineTagged  chan struct{} // closed once the line is tagged; nil before the choice
	mu          sync.Mutex
	ticket      Ticket
	ticketErr   error
	choice      string
	agent       string
	stage       string    // where the caller is: stageMenu, stageQueue, ...
	queuedAt    time.Time // when the caller entered the queue

	talks   int                 // conversations with agents so far
	rec     telephony.Recording // call recording in progress, nil when none
	recDone []telephony.RecordingResult
}

// The stages of a call, for telling where a caller hung up.
const (
	stageMenu    = "menu"
	stageQueue   = "queue"
	stageTalk    = "talk"
	stageMessage = "message"
)

func (f *flow) setStage(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stage = s
}

// lineLabel is the caller's line for metrics: the menu key or NoLine.
func (f *flow) lineLabel() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.choice == "" {
		return NoLine
	}
	return f.choice
}

func (f *flow) run(ctx context.Context, answered time.Time) error {
	if !f.s.cal.IsOpen(answered) {
		return f.afterHours(ctx)
	}
	f.setStage(stageMenu)
	choice, err := f.menu(ctx)
	switch {
	case errors.Is(err, telephony.ErrNoValidChoice):
		f.log.Info("no valid choice, to an agent")
	case err != nil:
		return err
	default:
		f.setChoice(choice)
		f.s.obs.IVRChoice(choice)
		if line, ok := f.s.lines[choice]; ok {
			f.tagLine(ctx, line)
		}
	}
	return f.queue(ctx)
}

// openTicket writes the call record and the ticket in the background: the
// welcome prompt does not wait for the disk, and the write completes even
// when the caller hangs up at once.
func (f *flow) openTicket(ctx context.Context, answered time.Time) {
	f.s.writes.Add(1)
	go func() {
		defer f.s.writes.Done()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		t, err := f.s.ledger.OpenCall(ctx, CallOpen{
			CallID: f.info.ID, Direction: f.info.Direction, Caller: NormaliseCaller(f.info.Caller),
			CallerName: f.info.CallerName, Dialled: f.info.Dialled, Channel: ChannelHotline, Answered: answered,
		})
		f.mu.Lock()
		f.ticket, f.ticketErr = t, err
		f.mu.Unlock()
		if err != nil {
			f.log.Error("open ticket", "err", err)
			f.s.obs.FlowError(stepTicket)
		}
		close(f.ticketReady)
	}()
}

// currentTicket waits for the ticket to be opened.
func (f *flow) currentTicket(ctx context.Context) (Ticket, error) {
	select {
	case <-f.ticketReady:
	case <-ctx.Done():
		return Ticket{}, ctx.Err()
	}
	f.mu.Lock()
	tagged := f.lineTagged
	f.mu.Unlock()
	if tagged != nil {
		select {
		case <-tagged:
		case <-ctx.Done():
			return Ticket{}, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ticketErr != nil {
		return Ticket{}, fmt.Errorf("open ticket: %w", f.ticketErr)
	}
	return f.ticket, nil
}

func (f *flow) setChoice(c string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.choice = c
}

// tagLine records the caller's line on the call and the ticket in the
// background, like the opening: the caller goes on to the queue at once,
// and the write completes even if the caller hangs up. Steps that need the
// ticket (which 并单 may change) wait for it in currentTicket.
func (f *flow) tagLine(ctx context.Context, line Line) {
	done := make(chan struct{})
	f.mu.Lock()
	f.lineTagged = done
	f.mu.Unlock()
	f.s.writes.Add(1)
	go func() {
		defer f.s.writes.Done()
		defer close(done)
		wctx, cancel := writeContext(ctx)
		defer cancel()
		select {
		case <-f.ticketReady:
		case <-wctx.Done():
			return
		}
		f.mu.Lock()
		t, openErr := f.ticket, f.ticketErr
		f.mu.Unlock()
		if openErr != nil {
			return // logged by openTicket
		}
		merged, err := f.s.ledger.TagLine(wctx, f.info.ID, t.ID, line.code())
		if err != nil {
			f.log.Error("tag line", "line", line.code(), "err", err)
			f.s.obs.FlowError(stepTicket)
			return
		}
		f.mu.Lock()
		f.ticket.ID, f.ticket.Number, f.ticket.Line = merged.ID, merged.Number, line.code()
		f.mu.Unlock()
		if merged.ID != t.ID {
			f.log.Info("ticket merged into an earlier one (并单)", "ticket", merged.ID)
		}
	}()
}

// writeContext is the context of a ledger write that records what
// happened on a call: it completes even when the call (and its context)
// has ended meanwhile.
func writeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}

// recordingName makes a recording name out of a call id, which may hold
// characters (@, :) that do not belong in a file name.
func recordingName(kind, callID string) string {
	var b strings.Builder
	b.WriteString(kind)
	b.WriteByte('-')
	for _, r := range callID {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

func (f *flow) startRecording(ctx context.Context) {
	rec, err := f.call.Record(ctx, recordingName("call", f.info.ID))
	if err != nil {
		f.log.Error("start call recording", "err", err)
		f.s.obs.FlowError(stepRecord)
		return
	}
	f.rec = rec
}

// stopRecording ends the call recording, if one runs; the result is
// attached to the ticket at the end of the call.
func (f *flow) stopRecording(ctx context.Context) {
	if f.rec == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	res, err := f.rec.Stop(ctx)
	f.rec = nil
	if err != nil {
		f.log.Error("stop call recording", "err", err)
		return
	}
	f.recDone = append(f.recDone, res)
}

// finish hangs up (when the flow ended the call), completes the recording
// and writes the end of the call to the ledger.
func (f *flow) finish(ctx context.Context, flowErr error) {
	reason := telephony.ReasonNormal
	if ctx.Err() != nil {
		reason = telephony.ReasonShutdown
	}
	select {
	case <-f.call.Done():
	default:
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		if err := f.call.Hangup(hctx, reason); err != nil {
			f.log.Warn("hang up", "err", err)
		}
		cancel()
	}
	if flowErr != nil && !errors.Is(flowErr, telephony.ErrHungUp) && !errors.Is(flowErr, context.Canceled) {
		f.log.Error("call flow", "err", flowErr)
	}
	// The caller hung up: the flow may see that as the hang-up itself or
	// as its context ending with the call, whichever comes first.
	if errors.Is(flowErr, telephony.ErrHungUp) || (flowErr != nil && f.call.End().By == "remote") {
		f.mu.Lock()
		stage := f.stage
		f.mu.Unlock()
		switch stage {
		case stageMenu:
			f.s.obs.AbandonedInMenu(f.lineLabel())
		case stageQueue:
			f.s.obs.AbandonedInQueue(f.lineLabel())
		}
	}
	f.stopRecording(ctx)

	end := f.call.End()
	if end.At.IsZero() {
		end.At = f.s.now()
	}
	if end.Reason == "" {
		end.Reason = reason
	}
	f.s.obs.CallEnded(f.info.Direction, end.Reason)

	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	t, err := f.currentTicket(ctx)
	if err != nil {
		return
	}
	f.mu.Lock()
	closing := CallClose{CallID: f.info.ID, Ticket: t.ID, Ended: end.At, Reason: end.Reason, Cause: end.Cause, By: end.By,
		Choice: f.choice, Agent: f.agent}
	f.mu.Unlock()
	// A call has one recording, up to a message the caller may have left
	// (which is attached on its own).
	if len(f.recDone) > 0 {
		closing.Recording, closing.RecordingDuration = f.recDone[0].Path, f.recDone[0].Duration
	}
	if err := f.s.ledger.CloseCall(ctx, closing); err != nil {
		f.log.Error("close call record", "err", err)
	}
	f.mu.Lock()
	t = f.ticket
	f.mu.Unlock()
	f.s.bus.Publish(Event{Type: EventCallEnded, At: f.s.now(), CallID: f.info.ID, Agent: closing.Agent, Ticket: &t, Outcome: string(end.Reason)})
	f.log.Info("call ended", "reason", end.Reason, "by", end.By, "choice", closing.Choice, "agent", closing.Agent)
}

// NormaliseCaller returns the caller number to store: digits with an
// optional leading +, or CallerUnknown for a withheld, anonymous or
// malformed caller ID.
func NormaliseCaller(s string) string {
	s = strings.TrimSpace(s)
	digits := strings.TrimPrefix(s, "+")
	if len(digits) < 3 || len(digits) > 20 {
		return CallerUnknown
	}
	for _, r := range digits {
		if r < '0' || r > '9' {
			return CallerUnknown
		}
	}
	return s
}
