package ari_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"hotline/telephony"
	"hotline/telephony/ari"
	"hotline/telephony/ari/aritest"
)

// rig is a fake Asterisk and an engine connected to it.
type rig struct {
	srv *aritest.Server
	eng *ari.Engine
	cfg ari.Config
}

func testConfig(srv *aritest.Server) ari.Config { return testConfigURL(srv.URL()) }

func testConfigURL(url string) ari.Config {
	return ari.Config{
		URL: url, Username: "hotline", Password: "hotline-secret",
		RequestTimeout: 2 * time.Second, ConnectTimeout: 2 * time.Second,
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 100 * time.Millisecond,
		ShutdownGrace: 200 * time.Millisecond, RingTimeout: 5 * time.Second,
	}
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("ARI_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func newServer(t testing.TB, opts aritest.Options) *aritest.Server {
	t.Helper()
	srv, err := aritest.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// startRig starts a server and an engine serving h (nil: Start only).
func startRig(t testing.TB, opts aritest.Options, h telephony.Handler, eopts ari.Options, tweak ...func(*ari.Config)) *rig {
	t.Helper()
	srv := newServer(t, opts)
	cfg := testConfig(srv)
	for _, f := range tweak {
		f(&cfg)
	}
	if eopts.Logger == nil {
		eopts.Logger = testLogger(t)
	}
	eng, err := ari.New(cfg, eopts)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{srv: srv, eng: eng, cfg: cfg}
	if h == nil {
		if err := eng.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(eng.Close)
		return r
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- eng.Serve(ctx, h) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	wait(t, func(ctx context.Context) error { return srv.AwaitConnected(ctx, true) })
	return r
}

// wait runs f with a bounded context and fails the test on error.
func wait(t testing.TB, f func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f(ctx); err != nil {
		t.Fatal(err)
	}
}

func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func closed(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func TestInboundCallMenuDigitsRecording(t *testing.T) {
	type outcome struct {
		info   telephony.Info
		choice string
		err    error
		rec    telephony.RecordingResult
		recErr error
		end    telephony.End
	}
	got := make(chan outcome, 1)
	h := telephony.HandlerFunc(func(ctx context.Context, call telephony.Call) {
		var o outcome
		o.info = call.Info()
		defer func() { got <- o }()
		if o.err = call.Answer(ctx); o.err != nil {
			return
		}
		o.choice, o.err = telephony.PlayCollect(ctx, call, []string{"welcome", "menu"},
			telephony.Collect{BargeIn: true, FirstDigit: 3 * time.Second})
		if o.err != nil {
			return
		}
		rec, err := call.Record(ctx, "complaint/ticket-1")
		if err != nil {
			o.err = err
			return
		}
		<-call.Done()
		o.rec, o.recErr = rec.Stop(context.Background())
		o.end = call.End()
	})
	r := startRig(t, aritest.Options{PlaybackLength: 2 * time.Second}, h, ari.Options{})
	phone, err := r.srv.Call(aritest.Inbound{Caller: "13800000001", CallerName: "Zhang San", Args: []string{"inbound"}})
	if err != nil {
		t.Fatal(err)
	}
	wait(t, func(ctx context.Context) error {
		_, err := phone.NextType(ctx, "PlaybackStarted")
		return err
	})
	if err := phone.Press("1"); err != nil {
		t.Fatal(err)
	}
	wait(t, func(ctx context.Context) error {
		_, err := phone.NextType(ctx, "RecordingStarted")
		return err
	})
	phone.Hangup()
	o := recv(t, got, "flow outcome")

	if o.err != nil {
		t.Fatalf("flow error: %v", o.err)
	}
	want := telephony.Info{ID: phone.ID(), Direction: telephony.Inbound, Caller: "13800000001",
		CallerName: "Zhang San", Dialled: "96596", Args: []string{"inbound"}}
	o.info.Started = time.Time{}
	if fmt.Sprint(o.info) != fmt.Sprint(want) {
		t.Errorf("info = %+v, want %+v", o.info, want)
	}
	if o.choice != "1" {
		t.Errorf("choice = %q, want 1", o.choice)
	}
	// barge-in: the first prompt was stopped, the second never started
	if got, want := phone.Played(), []string{"sound:hotline/welcome"}; !slices.Equal(got, want) {
		t.Errorf("played = %v, want %v", got, want)
	}
	if o.recErr != nil || o.rec.Name != "complaint/ticket-1" || o.rec.Path != "/var/spool/asterisk/recording/complaint/ticket-1.wav" {
		t.Errorf("recording = %+v, %v", o.rec, o.recErr)
	}
	if o.end.Reason != telephony.ReasonHungUp || o.end.By != "remote" {
		t.Errorf("end = %+v, want hung up by remote", o.end)
	}
	recs := r.srv.Recordings()
	if len(recs) != 1 || recs[0].Name != "complaint/ticket-1" || recs[0].TargetURI != "channel:"+phone.ID() {
		t.Errorf("stored recordings = %+v", recs)
	}
}

func TestDialOutcomes(t *testing.T) {
	tests := []struct {
		name      string
		to        string
		wantErr   error
		wantCause int
		farCause  int // cause the far end's channel ended with (0: answered)
	}{
		{name: "answered", to: "PJSIP/sipp"},
		{name: "carrier number answered", to: "PJSIP/13800000002@carrier"},
		{name: "busy", to: "PJSIP/busy", wantErr: telephony.ErrBusy, wantCause: 17},
		{name: "no answer", to: "PJSIP/noanswer", wantErr: telephony.ErrNoAnswer, wantCause: 19},
		{name: "unreachable peer", to: "PJSIP/dead", wantErr: telephony.ErrTimeout, wantCause: 18},
		{name: "declined", to: "PJSIP/decline", wantErr: telephony.ErrRejected, wantCause: 21},
		{name: "unknown endpoint", to: "PJSIP/nobody", wantErr: telephony.ErrUnreachable},
	}
	eps := aritest.LabEndpoints()
	eps["carrier"] = aritest.Outcome{Result: aritest.Answer}
	eps["decline"] = aritest.Outcome{Result: aritest.Reject}
	eps["ringing"] = aritest.Outcome{Result: aritest.NoAnswer}
	r := startRig(t, aritest.Options{Endpoints: eps, TimeScale: 0.01}, nil, ari.Options{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			call, err := r.eng.Dial(ctx, telephony.DialRequest{To: tc.to, CallerID: "96596", CallerName: "Hotline 96596",
				RingTimeout: 2 * time.Second, Args: []string{"callback", "TCK-1"}})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("dial err = %v, want %v", err, tc.wantErr)
				}
				var ce *telephony.CallError
				if errors.As(err, &ce) && ce.Cause != tc.wantCause {
					t.Errorf("cause = %d, want %d", ce.Cause, tc.wantCause)
				}
				return
			}
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			if got := call.Info(); got.Direction != telephony.Outbound || !slices.Equal(got.Args, []string{"callback", "TCK-1"}) || got.Dialled != tc.to {
				t.Errorf("info = %+v", got)
			}
			if err := call.Hangup(ctx, telephony.ReasonNormal); err != nil {
				t.Fatal(err)
			}
			closed(t, call.Done(), "call end")
			if end := call.End(); end.Reason != telephony.ReasonNormal || end.By != "local" {
				t.Errorf("end = %+v", end)
			}
		})
	}
	t.Run("cancelled while ringing", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := r.eng.Dial(ctx, telephony.DialRequest{To: "PJSIP/ringing", RingTimeout: 10 * time.Minute})
			errc <- err
		}()
		var phone *aritest.Phone
		wait(t, func(wctx context.Context) error {
			var err error
			phone, err = r.srv.AwaitOriginate(wctx, "ringing", 1)
			return err
		})
		wait(t, func(wctx context.Context) error {
			_, err := phone.Next(wctx, func(e aritest.Event) bool { return e.Field("channel.state") == "Ringing" })
			return err
		})
		cancel()
		if err := recv(t, errc, "dial result"); !errors.Is(err, context.Canceled) {
			t.Errorf("dial err = %v, want context.Canceled", err)
		}
		closed(t, phone.Done(), "far end gone")
		if got := phone.Cause(); got != 16 {
			t.Errorf("far end cause = %d, want 16", got)
		}
	})
}

func TestOriginatedCallPressesKeys(t *testing.T) {
	eps := aritest.LabEndpoints()
	eps["sipp"] = aritest.Outcome{Result: aritest.Answer, OnAnswer: func(p *aritest.Phone) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := p.NextType(ctx, "PlaybackStarted"); err == nil {
			_ = p.Press("2")
		}
	}}
	r := startRig(t, aritest.Options{Endpoints: eps}, nil, ari.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	call, err := r.eng.Dial(ctx, telephony.DialRequest{To: "PJSIP/sipp", Args: []string{"callback"}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := telephony.PlayCollect(ctx, call, []string{"survey"}, telephony.Collect{BargeIn: true})
	if err != nil || got != "2" {
		t.Fatalf("survey = %q, %v; want 2", got, err)
	}
	if err := call.Hangup(ctx, telephony.ReasonNormal); err != nil {
		t.Fatal(err)
	}
	phone, err := r.srv.AwaitOriginate(ctx, "sipp", 1)
	if err != nil {
		t.Fatal(err)
	}
	closed(t, phone.Done(), "far end gone")
	if phone.Cause() != 16 {
		t.Errorf("cause = %d, want 16", phone.Cause())
	}
}

func TestBridgeRecordingSurvivesTransfer(t *testing.T) {
	type result struct {
		rec telephony.RecordingResult
		err error
	}
	got := make(chan result, 1)
	transferred := make(chan struct{})  // the flow is past both legs
	var engP atomic.Pointer[ari.Engine] // set before the first call arrives
	h := telephony.HandlerFunc(func(ctx context.Context, caller telephony.Call) {
		var res result
		defer func() { got <- res }()
		fail := func(err error) { res.err = err }
		if err := caller.Answer(ctx); err != nil {
			fail(err)
			return
		}
		br, err := engP.Load().NewBridge(ctx)
		if err != nil {
			fail(err)
			return
		}
		defer br.Close(context.Background())
		if err := br.Add(ctx, caller); err != nil {
			fail(err)
			return
		}
		rec, err := br.Record(ctx, "call-1")
		if err != nil {
			fail(err)
			return
		}
		for _, to := range []string{"PJSIP/agent", "PJSIP/unit"} {
			leg, err := engP.Load().Dial(ctx, telephony.DialRequest{To: to})
			if err != nil {
				fail(err)
				return
			}
			if err := br.Add(ctx, leg); err != nil {
				fail(err)
				return
			}
			select {
			case <-leg.Done(): // the agent transfers by hanging up; the unit ends the talk
			case <-ctx.Done():
				fail(ctx.Err())
				return
			}
		}
		close(transferred)
		<-caller.Done()
		res.rec, res.err = rec.Stop(context.Background())
	})
	eps := aritest.LabEndpoints()
	hangupSoon := func(p *aritest.Phone) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := p.NextType(ctx, "ChannelEnteredBridge"); err == nil {
			p.Hangup()
		}
	}
	eps["agent"] = aritest.Outcome{Result: aritest.Answer, OnAnswer: hangupSoon}
	eps["unit"] = aritest.Outcome{Result: aritest.Answer, OnAnswer: hangupSoon}
	r := startRig(t, aritest.Options{Endpoints: eps}, h, ari.Options{})
	engP.Store(r.eng)
	caller, err := r.srv.Call(aritest.Inbound{Caller: "13800000003"})
	if err != nil {
		t.Fatal(err)
	}
	unit, err := func() (*aritest.Phone, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return r.srv.AwaitOriginate(ctx, "unit", 1)
	}()
	if err != nil {
		t.Fatal(err)
	}
	closed(t, unit.Done(), "unit hang-up")
	// The caller hangs up after the flow has the unit in the bridge (else
	// the hang-up may cancel the flow's last request, and it fails).
	select {
	case <-transferred:
	case res := <-got:
		t.Fatalf("flow: %v", res.err)
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for the flow to be past the transfers")
	}
	caller.Hangup()
	res := recv(t, got, "flow result")
	if res.err != nil {
		t.Fatalf("flow: %v", res.err)
	}
	if res.rec.Name != "call-1" {
		t.Errorf("recording = %+v", res.rec)
	}
	recs := r.srv.Recordings()
	if len(recs) != 1 || !strings.HasPrefix(recs[0].TargetURI, "bridge:") {
		t.Fatalf("stored recordings = %+v, want one of the bridge", recs)
	}
	bridges := r.srv.Bridges()
	if len(bridges) != 1 || len(bridges[0].Joined) != 3 || bridges[0].Joined[0] != caller.ID() {
		t.Errorf("bridges = %+v, want caller, agent and unit joined in turn", bridges)
	}
}

func TestRecordingPauseResumeAndSendDigits(t *testing.T) {
	type result struct {
		rec telephony.RecordingResult
		err error
	}
	got := make(chan result, 1)
	paused := make(chan struct{})
	h := telephony.HandlerFunc(func(ctx context.Context, call telephony.Call) {
		var res result
		defer func() { got <- res }()
		if res.err = call.Answer(ctx); res.err != nil {
			return
		}
		if res.err = call.SendDigits(ctx, "12#"); res.err != nil {
			return
		}
		rec, err := call.Record(ctx, "card-number")
		if err != nil {
			res.err = err
			return
		}
		if res.err = rec.Pause(ctx); res.err != nil {
			return
		}
		if res.err = rec.Resume(ctx); res.err != nil {
			return
		}
		close(paused)
		res.rec, res.err = rec.Stop(ctx)
	})
	r := startRig(t, aritest.Options{}, h, ari.Options{})
	phone, err := r.srv.Call(aritest.Inbound{Caller: "13800000014"})
	if err != nil {
		t.Fatal(err)
	}
	closed(t, paused, "pause and resume")
	res := recv(t, got, "flow result")
	if res.err != nil {
		t.Fatal(res.err)
	}
	if res.rec.Name != "card-number" {
		t.Errorf("recording = %+v", res.rec)
	}
	if got := phone.HeardDTMF(); got != "12#" {
		t.Errorf("far end heard %q, want 12#", got)
	}
	var steps []string
	for _, h := range r.srv.History() {
		if strings.HasPrefix(h, "pause ") || strings.HasPrefix(h, "resume ") || strings.HasPrefix(h, "recorded ") {
			steps = append(steps, strings.Fields(h)[0])
		}
	}
	if want := []string{"pause", "resume", "recorded"}; !slices.Equal(steps, want) {
		t.Errorf("recording steps = %v, want %v", steps, want)
	}
}

func TestMenuRetriesOverARI(t *testing.T) {
	type result struct {
		choice   string
		failures int
		err      error
	}
	got := make(chan result, 1)
	h := telephony.HandlerFunc(func(ctx context.Context, call telephony.Call) {
		if err := call.Answer(ctx); err != nil {
			got <- result{err: err}
			return
		}
		m := telephony.Menu{Prompts: []string{"menu"}, Invalid: []string{"sorry-invalid"}, NoInput: []string{"sorry-noinput"},
			Valid: func(d string) bool { return strings.Contains("123450", d) }, Collect: telephony.Collect{BargeIn: true, FirstDigit: 2 * time.Second}}
		var res result
		res.choice, res.failures, res.err = m.Run(ctx, call)
		got <- res
	})
	r := startRig(t, aritest.Options{PlaybackLength: time.Minute,
		SoundLengths: map[string]time.Duration{"sound:hotline/sorry-invalid": 10 * time.Millisecond}}, h, ari.Options{})
	phone, err := r.srv.Call(aritest.Inbound{Caller: "13800000015"})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"9", "2"} { // a wrong key, then line 2
		wait(t, func(ctx context.Context) error {
			_, err := phone.Next(ctx, func(e aritest.Event) bool {
				return e.Type() == "PlaybackStarted" && e.Field("playback.media_uri") == "sound:hotline/menu"
			})
			return err
		})
		if err := phone.Press(key); err != nil {
			t.Fatal(err)
		}
	}
	res := recv(t, got, "menu result")
	if res.err != nil || res.choice != "2" || res.failures != 1 {
		t.Errorf("menu = %q, %d failures, %v; want 2 after 1 failure", res.choice, res.failures, res.err)
	}
	want := []string{"sound:hotline/menu", "sound:hotline/sorry-invalid", "sound:hotline/menu"}
	if got := phone.Played(); !slices.Equal(got, want) {
		t.Errorf("played %v, want %v", got, want)
	}
}
