package ivr

import (
	"time"

	"hotline/telephony"
)

// Observer is told what happens on the call path, for the supervisors'
// metrics; *metrics.Metrics implements it. Lines are labelled by menu key
// ("1".."5", AgentKey) or NoLine. Methods must be cheap and never block.
type Observer interface {
	CallStarted(dir telephony.Direction)
	CallEnded(dir telephony.Direction, reason telephony.Reason)
	IVRChoice(line string)
	CallOffered(line string)
	CallAnswered(line string, wait time.Duration)
	AbandonedInMenu(line string)
	AbandonedInQueue(line string)
	Voicemail(line string)
	TalkTime(line string, d time.Duration)
	AgentsLoggedIn(n int)
	AgentsAvailable(n int)
	FlowError(step string)
}

// NoLine labels a call that has no business line (yet): ended in the
// welcome or menu, no valid choice, or after hours.
const NoLine = "none"

// The flow steps reported with Observer.FlowError.
const (
	stepTicket    = "ticket"
	stepRecord    = "record"
	stepQueue     = "queue"
	stepBridge    = "bridge"
	stepTransfer  = "transfer"
	stepVoicemail = "voicemail"
)

type nopObserver struct{}

func (nopObserver) CallStarted(telephony.Direction)                 {}
func (nopObserver) CallEnded(telephony.Direction, telephony.Reason) {}
func (nopObserver) IVRChoice(string)                                {}
func (nopObserver) CallOffered(string)                              {}
func (nopObserver) CallAnswered(string, time.Duration)              {}
func (nopObserver) AbandonedInMenu(string)                          {}
func (nopObserver) AbandonedInQueue(string)                         {}
func (nopObserver) Voicemail(string)                                {}
func (nopObserver) TalkTime(string, time.Duration)                  {}
func (nopObserver) AgentsLoggedIn(int)                              {}
func (nopObserver) AgentsAvailable(int)                             {}
func (nopObserver) FlowError(string)                                {}
