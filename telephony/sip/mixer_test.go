package sip

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"hotline/telephony"
	"hotline/telephony/sip/wav"
)

// TestBridgeThreeParties: an agent who stays while a unit joins. The
// caller (1000 Hz), the agent (600 Hz) and the unit (1400 Hz) are mixed:
// each hears the two others and not itself. When the agent hangs up, the
// caller and the unit go on talking.
func TestBridgeThreeParties(t *testing.T) {
	checkGoroutines(t)
	const agentTalks = 2 * time.Second // then the agent hangs up
	agentHeard := make(chan string, 1)
	phone := func(prompt string) telephony.Handler {
		return telephony.HandlerFunc(func(ctx context.Context, c telephony.Call) {
			if err := c.Answer(ctx); err != nil {
				return
			}
			rec, _ := c.Record(ctx, prompt+"-heard")
			_, _ = c.Play(ctx, prompt)
			if prompt == "agent" {
				select {
				case <-time.After(agentTalks): // the agent's part of the conversation
				case <-ctx.Done():
				}
				_ = c.Hangup(ctx, telephony.ReasonNormal)
				res, _ := rec.Stop(ctx)
				agentHeard <- res.Path
			}
			<-ctx.Done()
		})
	}
	agent := startEngine(t, phone("agent"), map[string][]int16{"agent": tone(600, 5*time.Second)},
		func(c *Config) { c.Numbers = []string{"agent"} })
	unit := startEngine(t, phone("unit"), map[string][]int16{"unit": tone(1400, 6*time.Second)},
		func(c *Config) { c.Numbers = []string{"unit"} })

	type result struct {
		rec     telephony.RecordingResult
		unitEnd telephony.End
		err     error
	}
	out := make(chan result, 1)
	svc := startEngine(t, telephony.HandlerFunc(func(ctx context.Context, c telephony.Call) {
		var r result
		defer func() { out <- r }()
		if r.err = c.Answer(ctx); r.err != nil {
			return
		}
		e := c.(*Call).e
		a, err := e.Dial(ctx, telephony.DialRequest{To: agent.uri("agent")})
		if r.err = err; err != nil {
			return
		}
		u, err := e.Dial(ctx, telephony.DialRequest{To: unit.uri("unit")})
		if r.err = err; err != nil {
			return
		}
		b, _ := e.NewBridge(ctx)
		rec, _ := b.Record(ctx, "three")
		if r.err = errors.Join(b.Add(ctx, c), b.Add(ctx, a), b.Add(ctx, u)); r.err != nil {
			return
		}
		<-c.Done()
		select {
		case <-u.Done():
		case <-time.After(5 * time.Second):
			r.err = fmt.Errorf("unit leg still up after the caller hung up")
		}
		r.unitEnd = u.End()
		r.rec, _ = rec.Stop(ctx)
		_ = b.Close(ctx)
	}), nil, nil)
	caller := startEngine(t, nil, map[string][]int16{"caller": tone(1000, 5*time.Second)}, nil)

	ctx := within(t, 20*time.Second)
	call, err := caller.Dial(ctx, telephony.DialRequest{To: svc.uri("96596"), CallerID: "13812345678"})
	if err != nil {
		t.Fatal(err)
	}
	heard, _ := call.Record(ctx, "caller-heard")
	_, _ = call.Play(ctx, "caller")
	time.Sleep(agentTalks + 1500*time.Millisecond) // the conversation, with and then without the agent
	if err := call.Hangup(ctx, telephony.ReasonNormal); err != nil {
		t.Fatal(err)
	}
	if end := call.End(); end.By != "local" {
		t.Errorf("the caller's call ended %+v; want the caller to hang up, still talking to the unit", end)
	}
	got, _ := heard.Stop(ctx)
	r := recv(t, out, 10*time.Second, "service result")
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.unitEnd.Reason != telephony.ReasonNormal {
		t.Errorf("unit leg ended %+v, want normal after the caller left", r.unitEnd)
	}

	span := func(s []int16, from, to time.Duration) []int16 {
		i, j := int(from.Seconds()*wav.SampleRate), int(to.Seconds()*wav.SampleRate)
		return s[min(i, len(s)):min(j, len(s))]
	}
	heardByCaller := channel(t, got.Path, chanCaller)
	threeWay := span(heardByCaller, 500*time.Millisecond, 1500*time.Millisecond)
	twoWay := span(heardByCaller, agentTalks+600*time.Millisecond, agentTalks+1300*time.Millisecond)
	present := func(s []int16, f float64) bool { return level(s, f) > 10*level(s, 2600) }
	tests := []struct {
		name string
		ok   bool
	}{
		{"caller hears the agent in the three-way", present(threeWay, 600)},
		{"caller hears the unit in the three-way", present(threeWay, 1400)},
		{"caller does not hear itself", level(threeWay, 1000) < level(threeWay, 1400)/10},
		{"caller hears the unit once the agent left", present(twoWay, 1400)},
		{"caller no longer hears the agent", level(twoWay, 600) < level(twoWay, 1400)/10},
	}
	heardByAgent := channel(t, recv(t, agentHeard, 5*time.Second, "agent's recording"), chanCaller)
	agentThreeWay := span(heardByAgent, 500*time.Millisecond, 1500*time.Millisecond)
	tests = append(tests,
		struct {
			name string
			ok   bool
		}{"agent hears the caller", present(agentThreeWay, 1000)},
		struct {
			name string
			ok   bool
		}{"agent hears the unit", present(agentThreeWay, 1400)},
	)
	bridgeLeft, bridgeRight := channel(t, r.rec.Path, chanCaller), channel(t, r.rec.Path, chanService)
	tests = append(tests,
		struct {
			name string
			ok   bool
		}{"bridge recording: caller on the left", dominant(span(bridgeLeft, 500*time.Millisecond, 1500*time.Millisecond), 600, 1000, 1400) == 1000},
		struct {
			name string
			ok   bool
		}{"bridge recording: agent and unit on the right", present(span(bridgeRight, 500*time.Millisecond, 1500*time.Millisecond), 600) &&
			present(span(bridgeRight, 500*time.Millisecond, 1500*time.Millisecond), 1400)},
	)
	for _, tt := range tests {
		if !tt.ok {
			t.Error(tt.name + ": no")
		}
	}
}
