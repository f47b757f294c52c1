package telephony

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Collect says how digits are gathered after (or during) prompts.
type Collect struct {
	MaxDigits  int           // stop after this many digits; default 1
	Terminator rune          // a key that ends input early (not returned), e.g. '#'; 0 for none
	FirstDigit time.Duration // wait for the first digit once the prompts have ended; default 5s
	InterDigit time.Duration // wait for each further digit; default 3s
	Overall    time.Duration // bound on the whole collection including prompts; 0 for none
	BargeIn    bool          // a digit stops the prompt and skips the rest
}

func (o Collect) withDefaults() Collect {
	if o.MaxDigits <= 0 {
		o.MaxDigits = 1
	}
	if o.FirstDigit <= 0 {
		o.FirstDigit = 5 * time.Second
	}
	if o.InterDigit <= 0 {
		o.InterDigit = 3 * time.Second
	}
	return o
}

// stopWait bounds how long a stopped prompt may take to report it stopped.
const stopWait = 2 * time.Second

// PlayCollect plays prompts in order and gathers digits. Digits pressed
// while a prompt plays count (type-ahead); with BargeIn the first of them
// stops the prompt. It returns the digits gathered, "" when the caller
// pressed nothing in time. The error is a *CallError (ReasonHungUp) when
// the call ended, or ctx's error.
func PlayCollect(ctx context.Context, call Call, prompts []string, opts Collect) (string, error) {
	opts = opts.withDefaults()
	if opts.Overall > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Overall)
		defer cancel()
	}
	var got strings.Builder
	complete := false
	// add takes one digit; it reports whether input is complete.
	add := func(d rune) bool {
		if opts.Terminator != 0 && d == opts.Terminator {
			complete = true
			return true
		}
		got.WriteRune(d)
		complete = got.Len() >= opts.MaxDigits
		return complete
	}

	for _, prompt := range prompts {
		if complete || (opts.BargeIn && got.Len() > 0) {
			break
		}
		stopped, err := playUntilDigit(ctx, call, prompt, opts.BargeIn, add)
		if err != nil {
			return got.String(), err
		}
		if stopped {
			break
		}
	}

	if complete {
		return got.String(), nil
	}
	wait := opts.FirstDigit
	if got.Len() > 0 {
		wait = opts.InterDigit
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for !complete {
		select {
		case d := <-call.Digits():
			if add(d) {
				break
			}
			timer.Reset(opts.InterDigit)
		case <-timer.C:
			return got.String(), nil
		case <-call.Done():
			return got.String(), hungUp("collect")
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) && opts.Overall > 0 {
				return got.String(), nil
			}
			return got.String(), ctx.Err()
		}
	}
	return got.String(), nil
}

// playUntilDigit plays one prompt, feeding digits that arrive to add. With
// bargeIn it stops the prompt at the first digit and reports stopped. It also
// stops, without bargeIn, once add reports the input complete.
func playUntilDigit(ctx context.Context, call Call, prompt string, bargeIn bool, add func(rune) bool) (stopped bool, err error) {
	pb, err := call.Play(ctx, prompt)
	if err != nil {
		return false, fmt.Errorf("play %q: %w", prompt, err)
	}
	for {
		select {
		case <-pb.Done():
			return false, pb.Err()
		case d := <-call.Digits():
			if complete := add(d); bargeIn || complete {
				return true, stopPlayback(ctx, pb)
			}
		case <-call.Done():
			return false, hungUp("play")
		case <-ctx.Done():
			// The call goes on (another flow step may follow); do not
			// leave the prompt running under it.
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopWait)
			defer cancel()
			_ = stopPlayback(stopCtx, pb)
			return false, ctx.Err()
		}
	}
}

// stopPlayback stops pb and waits until the engine confirms, so that the
// next prompt never overlaps it (Asterisk queues playbacks on a channel).
func stopPlayback(ctx context.Context, pb Playback) error {
	if err := pb.Stop(ctx); err != nil && ReasonOf(err) != ReasonHungUp {
		return fmt.Errorf("stop prompt: %w", err)
	}
	stopped := func() error {
		if err := pb.Err(); err != nil && ReasonOf(err) == ReasonHungUp {
			return err
		}
		return nil
	}
	select {
	case <-pb.Done(): // mostly confirmed by now: no timer
		return stopped()
	default:
	}
	t := time.NewTimer(stopWait)
	defer t.Stop()
	select {
	case <-pb.Done():
		return stopped()
	case <-t.C:
		return &CallError{Op: "stop prompt", Reason: ReasonTimeout}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// PlayAll plays prompts one after the other without listening for digits.
func PlayAll(ctx context.Context, call Call, prompts ...string) error {
	for _, p := range prompts {
		pb, err := call.Play(ctx, p)
		if err != nil {
			return fmt.Errorf("play %q: %w", p, err)
		}
		select {
		case <-pb.Done():
			if err := pb.Err(); err != nil {
				return err
			}
		case <-call.Done():
			return hungUp("play")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func hungUp(op string) error { return &CallError{Op: op, Reason: ReasonHungUp} }

// ErrNoValidChoice is returned by Menu.Run when the caller made no valid
// choice within the allowed attempts.
var ErrNoValidChoice = errors.New("no valid choice")

// Menu is a prompt-and-choose step with retries on bad or missing input.
type Menu struct {
	Prompts  []string          // played on every attempt, e.g. {"menu"}
	Invalid  []string          // played before a retry after a wrong key, e.g. {"sorry-invalid"}
	NoInput  []string          // played before a retry after silence, e.g. {"sorry-noinput"}
	Valid    func(string) bool // whether an input is a choice
	Attempts int               // attempts in all; default 3
	Collect  Collect
}

// Run plays the menu until the caller makes a valid choice and returns it.
// After the last failed attempt it returns ErrNoValidChoice together with
// the number of failures; other errors are the call's (hang-up) or ctx's.
func (m Menu) Run(ctx context.Context, call Call) (choice string, failures int, err error) {
	attempts := m.Attempts
	if attempts <= 0 {
		attempts = 3
	}
	var before []string
	for failures < attempts {
		prompts := append(append([]string(nil), before...), m.Prompts...)
		digits, err := PlayCollect(ctx, call, prompts, m.Collect)
		if err != nil {
			return "", failures, err
		}
		if digits != "" && (m.Valid == nil || m.Valid(digits)) {
			return digits, failures, nil
		}
		failures++
		before = m.Invalid
		if digits == "" {
			before = m.NoInput
		}
		drain(call.Digits())
	}
	return "", failures, ErrNoValidChoice
}

// drain discards digits already queued, so that a wrong key pressed twice
// does not spill into the next attempt.
func drain(ch <-chan rune) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}
