// Package telephony is the call-control port: what a call can do and how it
// ends, independent of the engine (Asterisk ARI or the embedded SIP engine)
// that carries it. Call flows are written against these interfaces only.
package telephony

import (
	"context"
	"time"
)

// Engine delivers inbound calls to a Handler and originates outbound calls.
type Engine interface {
	// Serve delivers every inbound call to h, each on its own goroutine,
	// until ctx is cancelled. The call's context passed to h is cancelled
	// when the call ends. Serve returns after calls in progress have
	// finished or been ended (graceful shutdown).
	Serve(ctx context.Context, h Handler) error

	// Dial places an outbound call and blocks until it is answered or has
	// failed. A failure is a *CallError whose Reason tells busy, no answer,
	// rejected, unreachable or timed out apart. The returned call is
	// answered; the caller must Hangup it.
	Dial(ctx context.Context, req DialRequest) (Call, error)

	// NewBridge creates an empty mixing bridge for connecting calls.
	NewBridge(ctx context.Context) (Bridge, error)
}

// Handler runs the flow of one inbound call. ctx is cancelled when the call
// ends or the engine shuts down. When HandleCall returns, the engine hangs
// up the call if it is still up.
type Handler interface {
	HandleCall(ctx context.Context, call Call)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, call Call)

// HandleCall calls f(ctx, call).
func (f HandlerFunc) HandleCall(ctx context.Context, call Call) { f(ctx, call) }

// Direction says who placed the call.
type Direction string

// The call directions.
const (
	Inbound  Direction = "inbound"
	Outbound Direction = "outbound"
)

// Info describes a call. It does not change after the call is delivered.
type Info struct {
	ID         string    // engine-unique id, stable across reconnects of the engine
	Direction  Direction //
	Caller     string    // calling number as signalled; "" when withheld
	CallerName string    // display name, may be empty
	Dialled    string    // the number that was dialled (96596 for inbound)
	Args       []string  // engine-specific arguments (Stasis args, dial args)
	Started    time.Time // when the call reached the service
}

// Call is one leg under the service's control.
type Call interface {
	Info() Info

	// Answer answers an inbound call; it is a no-op on an answered call.
	Answer(ctx context.Context) error

	// Play starts playing a prompt (by name, e.g. "welcome") and returns
	// without waiting for it to finish. Digits pressed meanwhile are
	// delivered on Digits; stopping the playback on a digit (barge-in) is
	// the caller's choice, see PlayCollect.
	Play(ctx context.Context, prompt string) (Playback, error)

	// Digits delivers the DTMF digits the far end pressed, in order: '0'-'9',
	// '*', '#', 'A'-'D'. The channel is buffered; it is never closed, watch
	// Done for the end of the call.
	Digits() <-chan rune

	// SendDigits sends DTMF to the far end (RFC 4733 where possible).
	SendDigits(ctx context.Context, digits string) error

	// Record starts recording the call under name (no extension; the engine
	// chooses where it lands and says so in the result).
	Record(ctx context.Context, name string) (Recording, error)

	// Hangup ends the call. On an unanswered inbound call the reason picks
	// the rejection (busy, rejected, unavailable).
	Hangup(ctx context.Context, reason Reason) error

	// Done is closed when the call has ended, whoever ended it.
	Done() <-chan struct{}

	// End tells why the call ended. Valid once Done is closed.
	End() End
}

// Playback is a prompt being played.
type Playback interface {
	// Stop stops the prompt; it is a no-op when it has already finished.
	Stop(ctx context.Context) error
	// Done is closed when the prompt finished, was stopped or failed.
	Done() <-chan struct{}
	// Err is nil when the prompt played to its end or was stopped; a
	// *CallError with ReasonHungUp when the call ended meanwhile.
	Err() error
}

// Recording is a recording in progress, of a call or of a bridge.
type Recording interface {
	// Pause stops capturing audio until Resume (e.g. while the caller gives
	// card numbers); the paused span is left out of the file.
	Pause(ctx context.Context) error
	Resume(ctx context.Context) error
	// Stop ends the recording and returns where it landed. It is safe to
	// call after the call has ended; the file is then complete as well.
	Stop(ctx context.Context) (RecordingResult, error)
}

// RecordingResult says where a finished recording is.
type RecordingResult struct {
	Name     string        // the name given to Record
	Path     string        // where the engine stored it (file path or engine URI)
	Duration time.Duration // audio length
}

// Bridge connects calls so that they hear each other.
type Bridge interface {
	ID() string
	Add(ctx context.Context, call Call) error
	Remove(ctx context.Context, call Call) error
	// Record records the mixed audio of the bridge; it survives members
	// leaving and joining (a transfer).
	Record(ctx context.Context, name string) (Recording, error)
	// Close removes every member (without hanging them up) and frees it.
	Close(ctx context.Context) error
}

// DialRequest is an outbound call to place.
type DialRequest struct {
	To          string        // SIP URI (embedded engine) or endpoint such as PJSIP/unit (ARI)
	CallerID    string        // number presented to the called party, e.g. 96596
	CallerName  string        //
	RingTimeout time.Duration // give up when not answered within this; 0 means the engine default
	Args        []string      // passed back in Info.Args of the answered call
}

// End says how a call ended.
type End struct {
	Reason Reason
	// By is who ended it: "remote" (the far end), "local" (the service) or
	// "" when unknown.
	By string
	// Cause is the engine's own code for the record (a Q.850 cause or a SIP
	// status), 0 when none; never for decisions, use Reason.
	Cause int
	At    time.Time
}
