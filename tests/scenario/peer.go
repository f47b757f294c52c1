package scenario

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"hotline/ivr"
	"hotline/telephony"
)

// phoneBook is the peer's handler: the phones of agents and units.
type phoneBook struct {
	mu       sync.Mutex
	answered map[string][]telephony.Call
	changed  chan struct{}
}

func newPhoneBook() *phoneBook {
	return &phoneBook{answered: make(map[string][]telephony.Call), changed: make(chan struct{})}
}

func (p *phoneBook) HandleCall(ctx context.Context, call telephony.Call) {
	name := call.Info().Dialled
	switch {
	case strings.HasPrefix(name, PhoneUnitBusy):
		_ = call.Hangup(ctx, telephony.ReasonBusy)
		return
	case strings.HasPrefix(name, PhoneUnitSilent):
		<-ctx.Done() // rings until the service gives up
		return
	}
	if err := call.Answer(ctx); err != nil {
		return
	}
	p.mu.Lock()
	p.answered[name] = append(p.answered[name], call)
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
	<-ctx.Done()
}

// await returns the next call answered by the named phone not yet taken.
func (p *phoneBook) await(t *testing.T, name string) telephony.Call {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		p.mu.Lock()
		calls, ch := p.answered[name], p.changed
		if len(calls) > 0 {
			p.answered[name] = calls[1:]
			p.mu.Unlock()
			return calls[0]
		}
		p.mu.Unlock()
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("phone %s never answered a call", name)
		}
	}
}

// eventLog keeps every event seen, by source, for waiting on.
type eventLog struct {
	mu      sync.Mutex
	seen    map[string][]ivr.Event
	changed chan struct{}
}

func newEventLog() *eventLog {
	return &eventLog{seen: make(map[string][]ivr.Event), changed: make(chan struct{})}
}

func (l *eventLog) follow(ctx context.Context, ch <-chan ivr.Event, source string) {
	go func() {
		for {
			select {
			case e, ok := <-ch:
				if !ok {
					return
				}
				l.mu.Lock()
				l.seen[source] = append(l.seen[source], e)
				close(l.changed)
				l.changed = make(chan struct{})
				l.mu.Unlock()
			case <-ctx.Done():
				return
			}
		}
	}()
}

// awaitN waits until n events from source match and returns them.
func (l *eventLog) awaitN(ctx context.Context, source string, n int, match func(ivr.Event) bool, timeout time.Duration) ([]ivr.Event, bool) {
	deadline := time.After(timeout)
	for {
		l.mu.Lock()
		ch := l.changed
		var got []ivr.Event
		for _, e := range l.seen[source] {
			if match(e) {
				got = append(got, e)
			}
		}
		l.mu.Unlock()
		if len(got) >= n {
			return got[:n], true
		}
		select {
		case <-ch:
		case <-deadline:
			return nil, false
		case <-ctx.Done():
			return nil, false
		}
	}
}

func (l *eventLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for src, es := range l.seen {
		for _, e := range es {
			b.WriteString(src + ":" + e.Type + " ")
		}
	}
	return b.String()
}
