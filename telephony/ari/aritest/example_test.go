package aritest_test

import (
	"context"
	"fmt"
	"time"

	"hotline/telephony"
	"hotline/telephony/ari"
	"hotline/telephony/ari/aritest"
)

// A flow runs on the ARI backend against the fake: the caller 13800000001
// dials 96596, waits for the first prompt, presses 1 and hangs up once the
// recording has started. The test then reads what happened.
func Example() {
	srv, err := aritest.Start(aritest.Options{PlaybackLength: time.Second})
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	eng, err := ari.New(ari.Config{URL: srv.URL(), Username: "hotline", Password: "hotline-secret"}, ari.Options{})
	if err != nil {
		panic(err)
	}
	choice := make(chan string, 1)
	flow := telephony.HandlerFunc(func(ctx context.Context, call telephony.Call) {
		_ = call.Answer(ctx)
		d, _ := telephony.PlayCollect(ctx, call, []string{"welcome", "menu"}, telephony.Collect{BargeIn: true})
		choice <- d
		if rec, err := call.Record(ctx, "complaint-1"); err == nil {
			<-call.Done()
			_, _ = rec.Stop(context.Background())
		}
	})
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- eng.Serve(ctx, flow) }()
	defer func() { stop(); <-served }()

	wait, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.AwaitConnected(wait, true); err != nil {
		panic(err)
	}
	caller, err := srv.Call(aritest.Inbound{Caller: "13800000001", Args: []string{"inbound"}})
	if err != nil {
		panic(err)
	}
	if _, err := caller.NextType(wait, "PlaybackStarted"); err != nil {
		panic(err)
	}
	_ = caller.Press("1")
	fmt.Println("choice:", <-choice)
	if _, err := caller.NextType(wait, "RecordingStarted"); err != nil {
		panic(err)
	}
	caller.Hangup()
	<-caller.Done()

	fmt.Println("heard:", caller.Played())
	// a channel's recording is stored when the channel hangs up
	for _, r := range srv.Recordings() {
		fmt.Println("recording:", r.Name, r.TargetURI == "channel:"+caller.ID())
	}
	// Output:
	// choice: 1
	// heard: [sound:hotline/welcome]
	// recording: complaint-1 true
}
