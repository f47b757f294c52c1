package callback

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"hotline/telephony"
)

// Deps are what a Dialer works with.
type Deps struct {
	Store   Store
	Tickets Tickets
	Engine  telephony.Engine
	// Agents connects answered return and manual calls to an agent; nil
	// fails such callbacks for an agent to follow up by hand.
	Agents AgentConnector
	// Calendar tells days off; nil treats every day as a working day.
	Calendar Calendar
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	Log *slog.Logger
	// Owner names this dialer in the ledger's leases; it must differ
	// between dialers sharing a ledger. Default "dialer".
	Owner string
	// Observe, when set, is told every finished attempt (metrics).
	Observe func(a Attempt, r Result)
}

// Dialer places due callbacks. Create it with New and run it with Run.
type Dialer struct {
	cfg     *Config
	deps    Deps
	win     window
	now     func() time.Time
	log     *slog.Logger
	limiter *rate.Limiter
	slots   chan struct{} // one token per call in progress
	wake    chan struct{}
	wg      sync.WaitGroup
}

// New returns a dialer. cfg must have been through Init.
func New(cfg *Config, deps Deps) (*Dialer, error) {
	if cfg.loc == nil {
		return nil, errors.New("callback config not initialised")
	}
	if deps.Store == nil || deps.Tickets == nil || deps.Engine == nil {
		return nil, errors.New("callback dialer needs a store, tickets and an engine")
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	if deps.Owner == "" {
		deps.Owner = "dialer"
	}
	burst := max(1, int(math.Ceil(cfg.MaxPerSecond)))
	return &Dialer{
		cfg:     cfg,
		deps:    deps,
		win:     window{cfg: cfg, cal: deps.Calendar},
		now:     deps.Now,
		log:     deps.Log.With("component", "callback", "dialer", deps.Owner),
		limiter: rate.NewLimiter(rate.Limit(cfg.MaxPerSecond), burst),
		slots:   make(chan struct{}, cfg.MaxConcurrent),
		wake:    make(chan struct{}, 1),
	}, nil
}

// Kick wakes the dialer to look for due callbacks now (after a schedule).
func (d *Dialer) Kick() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Active is the number of calls in progress.
func (d *Dialer) Active() int { return len(d.slots) }

// Run dials due callbacks until ctx is cancelled, then waits for the calls
// in progress to end (they are ended with ctx and rescheduled as
// interrupted).
func (d *Dialer) Run(ctx context.Context) error {
	defer d.wg.Wait()
	poll := time.NewTimer(0)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.wake:
		case <-poll.C:
		}
		// Keep claiming while there is work and a free line; the limiter
		// inside Tick paces the calls.
		for {
			n, err := d.Tick(ctx)
			if err != nil && ctx.Err() == nil {
				d.log.Warn("callback dialer: tick failed", "err", err)
			}
			if n == 0 || ctx.Err() != nil {
				break
			}
		}
		poll.Reset(d.cfg.Poll)
	}
}

// Wait waits for the attempts started by Tick to finish.
func (d *Dialer) Wait() { d.wg.Wait() }

// Tick does one round: it finishes attempts whose lease ran out as
// interrupted, then, inside the calling window, claims as many due
// callbacks as there are free lines and starts them. It returns the number
// of attempts started.
func (d *Dialer) Tick(ctx context.Context) (int, error) {
	now := d.now()
	if err := d.recoverExpired(ctx, now); err != nil {
		return 0, err
	}
	ok, dueBefore := d.win.claimable(now)
	if !ok {
		return 0, nil
	}
	free := cap(d.slots) - len(d.slots)
	// Claim no more than the rate allows soon, so that claimed attempts do
	// not wait long on the limiter while their leases run.
	free = min(free, d.limiter.Burst())
	if free <= 0 {
		return 0, nil
	}
	attempts, err := d.deps.Store.Claim(ctx, ClaimRequest{
		Now: now, Owner: d.deps.Owner, Lease: d.cfg.Lease, Limit: free, DueBefore: dueBefore,
	})
	if err != nil {
		return 0, fmt.Errorf("claim due callbacks: %w", err)
	}
	for i, a := range attempts {
		if err := d.limiter.Wait(ctx); err != nil {
			// Never dialled: hand them back at once, recorded as interrupted.
			for _, a := range attempts[i:] {
				d.finish(context.WithoutCancel(ctx), a, Result{Outcome: OutcomeInterrupted, Ended: d.now(),
					Next: StateScheduled, NotBefore: a.Callback.NotBefore, Note: "not dialled: dialer stopped"})
			}
			return i, nil
		}
		d.slots <- struct{}{}
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			defer func() {
				<-d.slots
				d.Kick()
			}()
			d.run(ctx, a)
		}()
	}
	return len(attempts), nil
}

// recoverExpired finishes attempts left running by a crashed or stuck
// dialer as interrupted and reschedules their callbacks by the rules: the
// number is never dialled again for that attempt.
func (d *Dialer) recoverExpired(ctx context.Context, now time.Time) error {
	expired, err := d.deps.Store.Expired(ctx, now, 100)
	if err != nil {
		return fmt.Errorf("find interrupted attempts: %w", err)
	}
	for _, a := range expired {
		d.log.Warn("callback attempt interrupted", "callback", a.Callback.ID, "attempt", a.N,
			"owner", a.Owner, telephony.MaskedNumber("number", a.Callback.Number))
		d.conclude(ctx, a, Result{Outcome: OutcomeInterrupted, Ended: now, Note: "lease expired: dialer " + a.Owner + " stopped"})
	}
	return nil
}

// run places one claimed attempt and records what became of it.
func (d *Dialer) run(ctx context.Context, a Attempt) {
	callCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		d.renew(callCtx, a)
	}()
	res := d.place(callCtx, a)
	cancel()
	<-renewed
	d.conclude(context.WithoutCancel(ctx), a, res)
}

// renew keeps the attempt's lease alive while the call runs.
func (d *Dialer) renew(ctx context.Context, a Attempt) {
	t := time.NewTicker(d.cfg.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := d.deps.Store.Renew(ctx, a, d.now().Add(d.cfg.Lease)); err != nil && ctx.Err() == nil {
				d.log.Warn("callback lease not renewed", "callback", a.Callback.ID, "attempt", a.N, "err", err)
			}
		}
	}
}

// place dials the callback and runs its flow. It never returns a
// StateScheduled/Failed decision; conclude applies the rules.
func (d *Dialer) place(ctx context.Context, a Attempt) Result {
	cb := a.Callback
	log := d.log.With("callback", cb.ID, "ticket", cb.TicketID, "kind", cb.Kind, "attempt", a.N,
		telephony.MaskedNumber("number", cb.Number))
	if d.cfg.doNotCall(cb.Number) {
		return Result{Outcome: OutcomeSkipped, Ended: d.now(), Note: "do-not-call list"}
	}
	why, err := d.deps.Tickets.SkipReason(ctx, cb.TicketID, cb.Kind)
	if err != nil {
		return Result{Outcome: OutcomeError, Ended: d.now(), Note: fmt.Sprintf("check ticket: %v", err)}
	}
	if why != "" {
		return Result{Outcome: OutcomeSkipped, Ended: d.now(), Note: why}
	}

	call, err := d.deps.Engine.Dial(ctx, telephony.DialRequest{
		To:          d.cfg.dialAddress(cb.Number),
		CallerID:    d.cfg.CallerID,
		RingTimeout: d.cfg.RingTimeout,
		Args:        []string{"callback", fmt.Sprint(cb.ID), fmt.Sprint(a.N)},
	})
	if err != nil {
		res := Result{Outcome: outcomeOfReason(telephony.ReasonOf(err)), Ended: d.now()}
		var ce *telephony.CallError
		if errors.As(err, &ce) {
			res.Cause = ce.Cause
		}
		if ctx.Err() != nil {
			res.Outcome = OutcomeInterrupted
		}
		log.Info("callback not answered", "outcome", res.Outcome, "err", err)
		return res
	}
	defer func() {
		hangCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = call.Hangup(hangCtx, telephony.ReasonNormal)
	}()
	log.Info("callback answered")

	if cb.Kind != KindSurvey {
		return d.connectAgent(ctx, call, cb)
	}
	name := fmt.Sprintf("callback-%d-%d", cb.ID, a.N)
	sr, err := RunSurvey(ctx, call, d.cfg.Survey, name, d.now)
	res := Result{Ended: d.now(), Recording: sr.Recording, Score: sr.Score}
	switch {
	case err == nil:
		res.Outcome = OutcomeAnswered
		err := d.deps.Tickets.RecordSurvey(ctx, cb.TicketID, Survey{CallbackID: cb.ID, Score: sr.Score, At: sr.At, Recording: sr.Recording})
		if err != nil && !errors.Is(err, ErrAlreadySurveyed) {
			// The score stays on the callback; an agent copies it by hand.
			res.Note = fmt.Sprintf("score not recorded on ticket: %v", err)
			log.Error("callback survey not recorded on ticket", "score", sr.Score, "err", err)
		}
	case errors.Is(err, errNoScore):
		res.Outcome = OutcomeNoInput
	case ctx.Err() != nil:
		res.Outcome = OutcomeInterrupted
	default:
		res.Outcome = outcomeOfReason(telephony.ReasonOf(err))
	}
	log.Info("callback survey ended", "outcome", res.Outcome, "score", res.Score)
	return res
}

func (d *Dialer) connectAgent(ctx context.Context, call telephony.Call, cb Callback) Result {
	if d.deps.Agents == nil {
		return Result{Outcome: OutcomeError, Ended: d.now(), Note: "no agent queue to connect the call to"}
	}
	// The caller hears who is calling before the queue's hold music.
	err := telephony.PlayAll(ctx, call, PromptReturnIntro)
	if err == nil {
		err = d.deps.Agents.ConnectAgent(ctx, call, cb)
	}
	res := Result{Ended: d.now()}
	switch {
	case err == nil:
		res.Outcome = OutcomeAnswered
	case ctx.Err() != nil:
		res.Outcome = OutcomeInterrupted
	default:
		res.Outcome = outcomeOfReason(telephony.ReasonOf(err))
		res.Note = err.Error()
	}
	return res
}

// conclude applies the retry rules to an attempt's result, records it once
// in the ledger and, when the callback is given up, marks the ticket for
// an agent.
func (d *Dialer) conclude(ctx context.Context, a Attempt, res Result) {
	res = d.plan(a, res)
	if !d.finish(ctx, a, res) {
		return
	}
	if res.Next == StateFailed {
		if err := d.deps.Tickets.CallbackFailed(ctx, a.Callback.TicketID, res.Note, res.Ended); err != nil {
			d.log.Error("callback failure not marked on ticket", "callback", a.Callback.ID, "ticket", a.Callback.TicketID, "err", err)
		}
	}
}

func (d *Dialer) finish(ctx context.Context, a Attempt, res Result) bool {
	err := d.deps.Store.Finish(ctx, a, res)
	if errors.Is(err, ErrLeaseLost) {
		d.log.Warn("callback attempt already finished elsewhere", "callback", a.Callback.ID, "attempt", a.N, "outcome", res.Outcome)
		return false
	}
	if err != nil {
		// The lease will run out and the attempt be recovered as interrupted.
		d.log.Error("callback attempt not recorded", "callback", a.Callback.ID, "attempt", a.N, "outcome", res.Outcome, "err", err)
		return false
	}
	if d.deps.Observe != nil {
		d.deps.Observe(a, res)
	}
	return true
}

// plan decides the callback's next state from the attempt's outcome.
func (d *Dialer) plan(a Attempt, res Result) Result {
	if res.Ended.IsZero() {
		res.Ended = d.now()
	}
	if res.Next != "" {
		return res // decided already (a claim handed back undialled)
	}
	switch res.Outcome {
	case OutcomeAnswered:
		res.Next = StateDone
		if res.Note != "" {
			res.Next = StateFailed // answered, but the ticket needs a hand
		}
		return res
	case OutcomeSkipped:
		res.Next = StateSkipped
		return res
	}
	due := a.Callback.Due
	after, retry := d.cfg.RetryAfter[res.Outcome]
	switch {
	case !retry:
		res.Next = StateFailed
		res.Note = joinNote(res.Note, fmt.Sprintf("%s: not retried", res.Outcome))
	case a.N >= d.cfg.MaxAttempts:
		res.Next = StateFailed
		res.Note = joinNote(res.Note, fmt.Sprintf("%s: %d attempts made", res.Outcome, a.N))
	default:
		next := d.win.earliest(res.Ended.Add(after), due)
		if !next.Before(due.Add(-d.cfg.AgentMargin)) {
			res.Next = StateFailed
			res.Note = joinNote(res.Note, fmt.Sprintf("%s: no time left to retry before the deadline", res.Outcome))
			break
		}
		res.Next = StateScheduled
		res.NotBefore = next
	}
	return res
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
