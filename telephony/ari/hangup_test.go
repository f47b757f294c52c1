package ari_test

import (
	"context"
	"testing"
	"time"

	"hotline/telephony"
	"hotline/telephony/ari"
	"hotline/telephony/ari/aritest"
)

// A caller who hangs up during a prompt: Asterisk sends the hang-up
// request, then fails the playback, then StasisEnd. The prompt's error is
// the hang-up, not a missing sound, and a flow that hangs up on that error
// before StasisEnd does not make the end its own (found by the scenario
// table on ARI).
func TestHangupDuringPromptIsHungUp(t *testing.T) {
	type outcome struct {
		playErr error
		end     telephony.End
	}
	got := make(chan outcome, 1)
	flow := telephony.HandlerFunc(func(ctx context.Context, call telephony.Call) {
		_ = call.Answer(ctx)
		pb, err := call.Play(ctx, "welcome")
		if err == nil { // (Play itself may see the hang-up)
			<-pb.Done()
			err = pb.Err()
		}
		// as the ivr does when a prompt fails: end the call itself
		_ = call.Hangup(context.WithoutCancel(ctx), telephony.ReasonNormal)
		<-call.Done()
		got <- outcome{playErr: err, end: call.End()}
	})
	r := startRig(t, aritest.Options{PlaybackLength: time.Minute}, flow, ari.Options{})
	caller, err := r.srv.Call(aritest.Inbound{Caller: "13800000001", Args: []string{"inbound"}})
	if err != nil {
		t.Fatal(err)
	}
	wait(t, func(ctx context.Context) error { _, err := caller.NextType(ctx, "PlaybackStarted"); return err })
	caller.Hangup()
	o := recv(t, got, "the flow's outcome")
	if r := telephony.ReasonOf(o.playErr); r != telephony.ReasonHungUp {
		t.Errorf("prompt error %v (reason %s), want reason hungup", o.playErr, r)
	}
	if o.end.Reason != telephony.ReasonHungUp || o.end.By != "remote" {
		t.Errorf("end %+v, want hungup by remote", o.end)
	}
}
