package ivr_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"hotline/ivr"
	"hotline/ivr/ivrtest"
	"hotline/metrics"
	"hotline/telephony"
	"hotline/telephony/telephonytest"
)

// The supervisors' metrics are an observer of the flows.
var _ ivr.Observer = (*metrics.Metrics)(nil)

// recorder is an Observer that notes each call-path report.
type recorder struct {
	mu   sync.Mutex
	seen []string
}

func (r *recorder) note(f string, a ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, fmt.Sprintf(f, a...))
}

func (r *recorder) Seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seen)
}

func (r *recorder) CallStarted(d telephony.Direction) { r.note("started %s", d) }
func (r *recorder) CallEnded(d telephony.Direction, why telephony.Reason) {
	r.note("ended %s %s", d, why)
}
func (r *recorder) IVRChoice(l string)                     { r.note("choice %s", l) }
func (r *recorder) CallOffered(l string)                   { r.note("offered %s", l) }
func (r *recorder) CallAnswered(l string, _ time.Duration) { r.note("answered %s", l) }
func (r *recorder) AbandonedInMenu(l string)               { r.note("abandoned in menu %s", l) }
func (r *recorder) AbandonedInQueue(l string)              { r.note("abandoned in queue %s", l) }
func (r *recorder) Voicemail(l string)                     { r.note("voicemail %s", l) }
func (r *recorder) TalkTime(l string, _ time.Duration)     { r.note("talk %s", l) }
func (r *recorder) AgentsLoggedIn(int)                     {}
func (r *recorder) AgentsAvailable(int)                    {}
func (r *recorder) FlowError(step string)                  { r.note("error %s", step) }

func TestObserver(t *testing.T) {
	tests := []struct {
		name    string
		presses string
		hangup  string
		want    []string
	}{
		{name: "hang up in the menu", hangup: "menu",
			want: []string{"started inbound", "abandoned in menu none", "ended inbound hungup"}},
		{name: "hang up in the queue", presses: "2", hangup: "connecting-agent",
			want: []string{"started inbound", "choice 2", "offered 2", "abandoned in queue 2", "ended inbound hungup"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			engine := telephonytest.NewEngine()
			h := newHarnessWith(t, testConfig(), ivrtest.Calendar{}, engine, rec)
			call := h.call("c1", "13812345678")
			call.OnPlay = func(c *telephonytest.Call, prompt string) {
				if prompt == tt.hangup {
					c.HangupRemote()
				} else if prompt == "menu" {
					c.Press(tt.presses)
				}
			}
			h.wait(h.ring(call))
			if got := rec.Seen(); !slices.Equal(got, tt.want) {
				t.Errorf("observed %v, want %v", got, tt.want)
			}
		})
	}
}
