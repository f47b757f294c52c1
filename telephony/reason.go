package telephony

import (
	"errors"
	"fmt"
)

// Reason is why a call ended or could not be placed. It is a small closed
// set, safe as a metric label and stored in the ledger.
type Reason string

// The reasons, the same whichever engine carries the call.
const (
	ReasonNormal      Reason = "normal"      // hung up after a normal conversation (by the service, or unknown)
	ReasonHungUp      Reason = "hungup"      // the far end hung up
	ReasonBusy        Reason = "busy"        // the far end was busy (SIP 486/600, Q.850 17)
	ReasonNoAnswer    Reason = "noanswer"    // rang without answer until the ring timeout (SIP 480/487, Q.850 19)
	ReasonRejected    Reason = "rejected"    // declined or refused (SIP 403/603, 4xx not listed elsewhere, Q.850 21)
	ReasonUnreachable Reason = "unreachable" // no such number, or the network refused (SIP 404/410/484/5xx, Q.850 1/3/27/38)
	ReasonTimeout     Reason = "timeout"     // nothing answered at all: a dead peer (SIP 408, Q.850 18), or the media went silent
	ReasonShutdown    Reason = "shutdown"    // the service is shutting down
	ReasonError       Reason = "error"       // anything else: a bug, an engine failure
)

// Reasons lists every Reason, for metrics that create their series up front.
var Reasons = []Reason{ReasonNormal, ReasonHungUp, ReasonBusy, ReasonNoAnswer,
	ReasonRejected, ReasonUnreachable, ReasonTimeout, ReasonShutdown, ReasonError}

// The sentinel errors a CallError matches with errors.Is, one per failure
// reason.
var (
	ErrHungUp      = errors.New("call hung up")
	ErrBusy        = errors.New("busy")
	ErrNoAnswer    = errors.New("no answer")
	ErrRejected    = errors.New("rejected")
	ErrUnreachable = errors.New("unreachable")
	ErrTimeout     = errors.New("timed out")
	ErrShutdown    = errors.New("shutting down")
)

var sentinels = map[Reason]error{
	ReasonHungUp:      ErrHungUp,
	ReasonBusy:        ErrBusy,
	ReasonNoAnswer:    ErrNoAnswer,
	ReasonRejected:    ErrRejected,
	ReasonUnreachable: ErrUnreachable,
	ReasonTimeout:     ErrTimeout,
	ReasonShutdown:    ErrShutdown,
}

// CallError is a typed failure of a call operation.
type CallError struct {
	Op     string // what was being done: "dial", "play", "answer", ...
	Reason Reason
	Cause  int   // engine code (SIP status or Q.850), 0 when none
	Err    error // underlying error, may be nil
}

func (e *CallError) Error() string {
	msg := e.Op + ": " + string(e.Reason)
	if e.Cause != 0 {
		msg += fmt.Sprintf(" (cause %d)", e.Cause)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap lets errors.Is match both the reason's sentinel and the cause.
func (e *CallError) Unwrap() []error {
	errs := make([]error, 0, 2)
	if s, ok := sentinels[e.Reason]; ok {
		errs = append(errs, s)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// ReasonOf tells the Reason of err: the CallError's own, ReasonNormal for
// nil, ReasonError for anything untyped.
func ReasonOf(err error) Reason {
	if err == nil {
		return ReasonNormal
	}
	var ce *CallError
	if errors.As(err, &ce) {
		return ce.Reason
	}
	for r, s := range sentinels {
		if errors.Is(err, s) {
			return r
		}
	}
	return ReasonError
}

// ReasonFromSIP maps a final SIP response status of a failed call to a
// Reason.
func ReasonFromSIP(status int) Reason {
	switch {
	case status == 486 || status == 600:
		return ReasonBusy
	case status == 408:
		return ReasonTimeout
	case status == 480 || status == 487:
		return ReasonNoAnswer
	case status == 404 || status == 410 || status == 484 || status == 604:
		return ReasonUnreachable
	case status == 403 || status == 603:
		return ReasonRejected
	case status >= 500 && status < 600:
		return ReasonUnreachable
	case status >= 400 && status < 500:
		return ReasonRejected
	default:
		return ReasonError
	}
}

// ReasonFromQ850 maps a Q.850 cause (as Asterisk reports it in
// ChannelDestroyed) of a call that failed or ended to a Reason.
func ReasonFromQ850(cause int) Reason {
	switch cause {
	case 0, 16:
		return ReasonNormal
	case 17:
		return ReasonBusy
	case 18:
		return ReasonTimeout
	case 19:
		return ReasonNoAnswer
	case 21:
		return ReasonRejected
	case 1, 2, 3, 20, 22, 27, 28, 34, 38, 41, 42:
		return ReasonUnreachable
	default:
		return ReasonError
	}
}
