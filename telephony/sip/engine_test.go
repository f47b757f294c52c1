package sip

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"hotline/telephony"
)

// result is what a service handler saw of a call.
type result struct {
	info   telephony.Info
	digits string
	err    error
	rec    telephony.RecordingResult
}

// TestAnswerPlayDigitsRecord: the service answers, records, plays a
// prompt and collects every key pressed by the caller over RFC 4733; the
// caller hears the prompt and its own tone lands in the recording.
func TestAnswerPlayDigitsRecord(t *testing.T) {
	checkGoroutines(t)
	results := make(chan result, 1)
	svc := startEngine(t, telephony.HandlerFunc(func(ctx context.Context, c telephony.Call) {
		r := result{info: c.Info()}
		defer func() { results <- r }()
		if r.err = c.Answer(ctx); r.err != nil {
			return
		}
		rec, err := c.Record(ctx, "call-"+"1")
		if r.err = err; err != nil {
			return
		}
		r.digits, r.err = telephony.PlayCollect(ctx, c, []string{"welcome"},
			telephony.Collect{MaxDigits: 12, FirstDigit: 5 * time.Second, InterDigit: 3 * time.Second})
		// Keep listening to the caller's tone for a moment.
		select {
		case <-c.Done():
		case <-time.After(600 * time.Millisecond):
		}
		r.rec, _ = rec.Stop(ctx)
	}), map[string][]int16{"welcome": tone(440, 800*time.Millisecond)}, nil)

	caller := startEngine(t, nil, map[string][]int16{"tone": tone(1000, 3*time.Second)}, nil)
	ctx := within(t, 20*time.Second)
	call, err := caller.Dial(ctx, telephony.DialRequest{To: svc.uri("96596"), CallerID: "13812345678", CallerName: "Li"})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	heard, err := call.Record(ctx, "heard")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := call.Play(ctx, "tone"); err != nil {
		t.Fatal(err)
	}
	if err := call.SendDigits(ctx, "0123456789*#"); err != nil {
		t.Fatalf("send digits: %v", err)
	}
	r := recv(t, results, 15*time.Second, "handler result")
	if r.err != nil {
		t.Fatalf("handler: %v", r.err)
	}
	if r.digits != "0123456789*#" {
		t.Errorf("digits %q, want %q", r.digits, "0123456789*#")
	}
	if r.info.Caller != "13812345678" || r.info.CallerName != "Li" || r.info.Dialled != "96596" || r.info.Direction != telephony.Inbound {
		t.Errorf("info %+v", r.info)
	}
	select {
	case <-call.Done():
	case <-ctx.Done():
		t.Fatal("the service did not hang up")
	}
	if end := call.End(); end.Reason != telephony.ReasonHungUp || end.By != "remote" {
		t.Errorf("caller end %+v, want hung up by remote", end)
	}
	got, err := heard.Stop(ctx)
	if err != nil {
		t.Fatal(err)
	}

	if r.rec.Path != filepath.Join(svc.recDir, "call-1.wav") {
		t.Errorf("recording path %q", r.rec.Path)
	}
	left := channel(t, r.rec.Path, chanCaller)
	right := channel(t, r.rec.Path, chanService)
	if f := dominant(left, 440, 1000); f != 1000 {
		t.Errorf("service recording, caller channel: strongest %v Hz, want the caller's 1000 Hz", f)
	}
	if f := dominant(right, 440, 1000); f != 440 {
		t.Errorf("service recording, service channel: strongest %v Hz, want the prompt's 440 Hz", f)
	}
	if r.rec.Duration < time.Second {
		t.Errorf("recording lasts %s", r.rec.Duration)
	}
	if f := dominant(channel(t, got.Path, chanCaller), 440, 1000); f != 440 {
		t.Errorf("caller heard mostly %v Hz, want the prompt's 440 Hz", f)
	}
}

// TestRejections: numbers, networks, codecs and capacity are checked before
// a call is accepted.
func TestRejections(t *testing.T) {
	checkGoroutines(t)
	tests := []struct {
		name       string
		mod        func(*Config)
		number     string
		wantReason telephony.Reason
		wantCause  int
	}{
		{name: "unknown number", number: "12345", wantReason: telephony.ReasonUnreachable, wantCause: 404},
		{name: "network not allowed", mod: func(c *Config) { c.AllowedNetworks = []string{"10.0.0.0/8"} },
			number: "96596", wantReason: telephony.ReasonRejected, wantCause: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkGoroutines(t)
			svc := startEngine(t, nil, nil, tt.mod)
			caller := startEngine(t, nil, nil, nil)
			_, err := caller.Dial(within(t, 10*time.Second), telephony.DialRequest{To: svc.uri(tt.number)})
			var ce *telephony.CallError
			if !errors.As(err, &ce) {
				t.Fatalf("dial: %v, want a CallError", err)
			}
			if ce.Reason != tt.wantReason || ce.Cause != tt.wantCause {
				t.Errorf("dial failed with %s/%d, want %s/%d", ce.Reason, ce.Cause, tt.wantReason, tt.wantCause)
			}
		})
	}
}
