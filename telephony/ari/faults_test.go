package ari_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"hotline/telephony"
	"hotline/telephony/ari"
	"hotline/telephony/ari/aritest"
)

func TestStartFailsFast(t *testing.T) {
	srv := newServer(t, aritest.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := ln.Addr().String()
	ln.Close() // nothing listens there now

	silent, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()

	tests := []struct {
		name     string
		url      string
		password string
		want     error
	}{
		{name: "nothing listening", url: "http://" + deadAddr + "/ari", want: ari.ErrUnreachable},
		{name: "never answers", url: "http://" + silent.Addr().String() + "/ari", want: ari.ErrUnreachable},
		{name: "credentials refused", url: srv.URL(), password: "wrong", want: ari.ErrUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(srv)
			cfg.URL = tc.url
			cfg.ConnectTimeout = 300 * time.Millisecond
			if tc.password != "" {
				cfg.Password = tc.password
			}
			eng, err := ari.New(cfg, ari.Options{Logger: testLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- eng.Start(context.Background()) }()
			err = recv(t, done, "start to fail")
			if !errors.Is(err, tc.want) {
				t.Errorf("start err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestRESTDeadlineHoldsAgainstSilentServer(t *testing.T) {
	answered := make(chan error, 1)
	h := telephony.HandlerFunc(func(ctx context.Context, call telephony.Call) {
		answered <- call.Answer(ctx)
		<-ctx.Done()
	})
	r := startRig(t, aritest.Options{}, h, ari.Options{}, func(c *ari.Config) { c.RequestTimeout = 200 * time.Millisecond })
	r.srv.Stall()
	// events still flow while REST hangs: the call arrives, its answer times out
	if _, err := r.srv.Call(aritest.Inbound{Caller: "13800000004"}); err != nil {
		t.Fatal(err)
	}
	err := recv(t, answered, "answer to give up")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("answer err = %v, want a deadline", err)
	}
	r.srv.Unstall()
}

func TestBadFramesDoNotCrash(t *testing.T) {
	calls := make(chan telephony.Info, 1)
	h := telephony.HandlerFunc(func(ctx context.Context, call telephony.Call) {
		calls <- call.Info()
		<-ctx.Done()
	})
	r := startRig(t, aritest.Options{}, h, ari.Options{})
	frames := []string{
		`{"type":"ChannelTransferFromTheFuture","channel":{"id":"x"}}`, // unknown type
		`{not json`,
		`{"type":"StasisStart","channel":"not an object"}`,
		`{"type":"StasisStart"}`,
		`{"type":"ChannelStateChange"}`,
		`{"type":"ChannelDtmfReceived","digit":"1"}`,
		`{"type":"PlaybackFinished"}`,
		`{"type":"RecordingFinished","recording":{"name":"nope","duration":"x"}}`,
		`{"no":"type"}`,
		`[]`,
		`null`,
	}
	for _, f := range frames {
		r.srv.Inject([]byte(f))
	}
	if _, err := r.srv.Call(aritest.Inbound{Caller: "13800000005"}); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, calls, "call after bad frames"); got.Caller != "13800000005" {
		t.Errorf("caller = %q", got.Caller)
	}
	_, malformed, unknown := r.eng.EventCounts()
	if malformed < 4 || unknown != 1 {
		t.Errorf("malformed = %d, unknown = %d; want >= 4 and 1", malformed, unknown)
	}
}

func TestDigitBurstLosesNothing(t *testing.T) {
	const n = 1000
	var keys strings.Builder
	for i := range n {
		keys.WriteByte("0123456789*#"[i%12])
	}
	ready := make(chan telephony.Call, 1)
	start := make(chan struct{})
	got := make(chan string, 1)
	h := telephony.HandlerFunc(func(ctx context.Context, call telephony.Call) {
		ready <- call
		if call.Info().Caller != "13800000006" {
			<-ctx.Done()
			return
		}
		<-start // a slow flow: it reads nothing while the burst arrives
		var b strings.Builder
		for b.Len() < n {
			select {
			case d := <-call.Digits():
				b.WriteRune(d)
			case <-ctx.Done():
				got <- b.String()
				return
			}
		}
		got <- b.String()
		<-ctx.Done()
	})
	r := startRig(t, aritest.Options{}, h, ari.Options{})
	slow, err := r.srv.Call(aritest.Inbound{Caller: "13800000006"})
	if err != nil {
		t.Fatal(err)
	}
	slowCall := recv(t, ready, "slow call")
	// another call's hang-up is not held up by the slow one
	other, err := r.srv.Call(aritest.Inbound{Caller: "13800000007"})
	if err != nil {
		t.Fatal(err)
	}
	otherCall := recv(t, ready, "other call")
	if err := slow.Press(keys.String()); err != nil {
		t.Fatal(err)
	}
	other.Hangup()
	closed(t, otherCall.Done(), "other call's hang-up")
	close(start)
	if s := recv(t, got, "digits"); s != keys.String() {
		t.Fatalf("got %d digits, want %d in order", len(s), n)
	}
	// and a hang-up right after a burst is seen although nobody reads
	if err := slow.Press(keys.String()); err != nil {
		t.Fatal(err)
	}
	slow.Hangup()
	closed(t, slowCall.Done(), "slow call's hang-up")
}

func TestReconnectAdoptsLiveCallsAndEndsGoneOnes(t *testing.T) {
	var mu sync.Mutex
	var states []bool
	choices := make(chan string, 4)
	h := telephony.HandlerFunc(func(ctx context.Context, call telephony.Call) {
		if err := call.Answer(ctx); err != nil {
			return
		}
		for {
			d, err := telephony.PlayCollect(ctx, call, []string{"menu"}, telephony.Collect{BargeIn: true, FirstDigit: time.Minute})
			if err != nil {
				return
			}
			choices <- call.Info().Caller + ":" + d
		}
	})
	r := startRig(t, aritest.Options{PlaybackLength: time.Minute}, h, ari.Options{OnConnState: func(up bool) {
		mu.Lock()
		states = append(states, up)
		mu.Unlock()
	}})
	stays, err := r.srv.Call(aritest.Inbound{Caller: "13800000008"})
	if err != nil {
		t.Fatal(err)
	}
	leaves, err := r.srv.Call(aritest.Inbound{Caller: "13800000009"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*aritest.Phone{stays, leaves} {
		wait(t, func(ctx context.Context) error { _, err := p.NextType(ctx, "PlaybackStarted"); return err })
	}
	r.srv.SetDown(true)
	wait(t, func(ctx context.Context) error { return r.srv.AwaitConnected(ctx, false) })
	leaves.Hangup()      // its StasisEnd is lost
	_ = stays.Press("5") // lost too, as in Asterisk
	r.srv.SetDown(false)
	wait(t, func(ctx context.Context) error { return r.srv.AwaitConnected(ctx, true) })

	// the live call goes on with its flow
	_ = stays.Press("7")
	if got := recv(t, choices, "choice after reconnect"); got != "13800000008:7" {
		t.Errorf("choice = %q, want 13800000008:7", got)
	}
	if got := r.srv.ChannelsInStasis(); len(got) != 1 || got[0] != stays.ID() {
		t.Errorf("in stasis = %v, want only %s", got, stays.ID())
	}
	stays.Hangup()
	mu.Lock()
	defer mu.Unlock()
	if len(states) < 3 || !states[0] || states[1] || !states[len(states)-1] {
		t.Errorf("connection states = %v, want up, a drop, then up", states)
	}
}

func TestReconnectEndsCallThatLeftWhileDown(t *testing.T) {
	ends := make(chan telephony.End, 1)
	h := telephony.HandlerFunc(func(ctx context.Context, call telephony.Call) {
		_ = call.Answer(ctx)
		<-call.Done()
		ends <- call.End()
	})
	r := startRig(t, aritest.Options{}, h, ari.Options{})
	p, err := r.srv.Call(aritest.Inbound{Caller: "13800000010"})
	if err != nil {
		t.Fatal(err)
	}
	wait(t, func(ctx context.Context) error {
		_, err := p.Next(ctx, func(e aritest.Event) bool { return e.Field("channel.state") == "Up" })
		return err
	})
	r.srv.SetDown(true)
	wait(t, func(ctx context.Context) error { return r.srv.AwaitConnected(ctx, false) })
	p.Hangup()
	r.srv.SetDown(false)
	end := recv(t, ends, "end after resync")
	if end.Reason != telephony.ReasonHungUp || end.By != "" {
		t.Errorf("end = %+v, want hung up, by whom unknown", end)
	}
}

func TestOrphansFromPreviousRunAreEnded(t *testing.T) {
	srv := newServer(t, aritest.Options{PlaybackLength: 20 * time.Millisecond})
	// a previous controller answered a call, then died
	prev, err := ari.New(testConfig(srv), ari.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	answered := make(chan struct{})
	prevCtx, prevStop := context.WithCancel(context.Background())
	prevDone := make(chan error, 1)
	go func() {
		prevDone <- prev.Serve(prevCtx, telephony.HandlerFunc(func(ctx context.Context, call telephony.Call) {
			_ = call.Answer(ctx)
			close(answered)
			<-ctx.Done()
		}))
	}()
	wait(t, func(ctx context.Context) error { return srv.AwaitConnected(ctx, true) })
	phone, err := srv.Call(aritest.Inbound{Caller: "13800000011"})
	if err != nil {
		t.Fatal(err)
	}
	closed(t, answered, "answer by the previous controller")
	prev.Close() // dies: no more events
	wait(t, func(ctx context.Context) error { return srv.AwaitConnected(ctx, false) })

	orphans := make(chan telephony.End, 1)
	next, err := ari.New(testConfig(srv), ari.Options{Logger: testLogger(t), OnOrphan: func(info telephony.Info, end telephony.End) {
		if info.Caller == "13800000011" {
			orphans <- end
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := next.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	end := recv(t, orphans, "orphan ended")
	closed(t, phone.Done(), "orphan hung up")
	if end.Reason != telephony.ReasonShutdown || end.By != "local" {
		t.Errorf("orphan end = %+v", end)
	}
	if got := phone.Played(); len(got) != 1 || got[0] != "sound:hotline/system-busy" {
		t.Errorf("orphan heard %v", got)
	}
	prevStop()
	<-prevDone
}

func TestGracefulShutdown(t *testing.T) {
	srv := newServer(t, aritest.Options{PlaybackLength: time.Minute, SoundLengths: map[string]time.Duration{"sound:hotline/system-busy": 10 * time.Millisecond}})
	cfg := testConfig(srv)
	cfg.ShutdownGrace = 300 * time.Millisecond
	eng, err := ari.New(cfg, ari.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ends := make(chan telephony.End, 1)
	playing := make(chan struct{})
	h := telephony.HandlerFunc(func(ctx context.Context, call telephony.Call) {
		_ = call.Answer(ctx)
		close(playing)
		_ = telephony.PlayAll(ctx, call, "hold-music") // longer than the grace
		<-call.Done()
		ends <- call.End()
	})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- eng.Serve(ctx, h) }()
	wait(t, func(ctx context.Context) error { return srv.AwaitConnected(ctx, true) })
	busy, err := srv.Call(aritest.Inbound{Caller: "13800000012"})
	if err != nil {
		t.Fatal(err)
	}
	closed(t, playing, "flow playing")
	cancel()
	wait(t, func(ctx context.Context) error {
		for eng.Accepting() {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Millisecond):
			}
		}
		return nil
	})
	late, err := srv.Call(aritest.Inbound{Caller: "13800000013"})
	if err != nil {
		t.Fatal(err)
	}
	end := recv(t, ends, "call ended by shutdown")
	if err := recv(t, served, "serve to return"); err != nil {
		t.Fatal(err)
	}
	if end.Reason != telephony.ReasonShutdown {
		t.Errorf("end = %+v, want shutdown", end)
	}
	played := busy.Played()
	if len(played) == 0 || played[len(played)-1] != "sound:hotline/system-busy" {
		t.Errorf("played = %v, want the shutdown prompt last", played)
	}
	if !late.Continued() {
		t.Errorf("a call arriving during shutdown was not sent back to the dialplan")
	}
}
