// Package aripeer runs the scenario table on the ARI backend: the service
// is telephony/ari connected to the fake Asterisk of telephony/ari/aritest
// on loopback, and the peer (callers, agents' and units' phones) is an
// adapter over the fake's scripted phones.
//
// What the table does and what happens in the fake:
//
//   - a caller dials 96596: Server.Call (Stasis(hotline,inbound)), and the
//     call counts as answered when the service answers the channel;
//   - a caller presses keys or hangs up: Phone.Press, Phone.Hangup;
//   - the service dials PhoneTo(name) = "PJSIP/<name>": the endpoint is
//     scripted by the name's prefix: unit-busy is busy (486, cause 17),
//     unit-silent rings until the originate times out (cause 19), every
//     other phone answers and is handed to the peer's handler;
//   - prompts are the table's test prompts: the fake plays each
//     sound:hotline/<name> for as long as promptDir/<name>.wav lasts;
//   - recordings land in the table's recording dir, written by the fake
//     as Asterisk's spool would hold them (aritest Options.RecordingDir):
//     complete 8 kHz mono WAV files as long as the recording ran, whose
//     audio is a stand-in tone because the fake carries no media.
package aripeer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"hotline/telephony"
	"hotline/telephony/ari"
	"hotline/telephony/ari/aritest"
	"hotline/tests/scenario"
)

// The fake's ARI credentials (aritest's defaults).
const (
	username = "hotline"
	password = "hotline-secret"
)

// Backend is the scenario backend on ARI.
func Backend() scenario.Backend {
	return scenario.Backend{Name: "ari", Service: newService, Peer: newPeer}
}

// Service is the service's engine with the fake Asterisk it is connected
// to, so that the peer can reach the same fake.
type Service struct {
	*ari.Engine
	Asterisk *aritest.Server
}

func newService(t *testing.T, promptDir, recordingDir string) telephony.Engine {
	t.Helper()
	lengths, err := promptLengths(promptDir, "sound:hotline/")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := aritest.Start(aritest.Options{
		Username: username, Password: password,
		SoundLengths: lengths, RecordingDir: recordingDir,
		Endpoints: map[string]aritest.Outcome{}, // the peer scripts them in PhoneTo
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	logger := slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	eng, err := ari.New(ari.Config{
		URL: srv.URL(), Username: username, Password: password,
		RecordingDir: recordingDir,
		// a scenario that ends with a call up must not wait 30 s
		ShutdownGrace: time.Second,
	}, ari.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(eng.Close)
	return &Service{Engine: eng, Asterisk: srv}
}

// promptLengths reads how long each prompt of dir lasts, keyed by the
// media URI the ARI engine plays it as.
func promptLengths(dir, prefix string) (map[string]time.Duration, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.wav"))
	if err != nil {
		return nil, err
	}
	out := make(map[string]time.Duration, len(files))
	for _, f := range files {
		info, err := scenario.CheckWAV(f)
		if err != nil {
			return nil, fmt.Errorf("prompt %s: %w", f, err)
		}
		name := strings.TrimSuffix(filepath.Base(f), ".wav")
		out[prefix+name] = time.Duration(info.Seconds * float64(time.Second))
	}
	return out, nil
}

func newPeer(t *testing.T, promptDir string, service telephony.Engine) scenario.Peer {
	t.Helper()
	svc, ok := service.(*Service)
	if !ok {
		t.Fatalf("aripeer: service engine is %T, want *aripeer.Service", service)
	}
	p := &peer{svc: svc, answered: make(chan *phoneCall), stopped: make(chan struct{})}
	return scenario.Peer{Engine: p, ServiceTo: "96596", PhoneTo: p.phoneTo}
}

// peer is the far end as a telephony.Engine: its Dial calls the service
// through the fake, its Serve hands the answered phones to the handler.
type peer struct {
	svc      *Service
	answered chan *phoneCall // phones that answered an originate
	stopped  chan struct{}   // closed when Serve has returned
	stopOnce sync.Once
}

var errScripted = errors.New("aripeer: a scripted phone has no media")

// phoneTo scripts the endpoint of the phone called name and returns its
// dial string.
func (p *peer) phoneTo(name string) string {
	var o aritest.Outcome
	switch {
	case strings.HasPrefix(name, scenario.PhoneUnitBusy):
		o = aritest.Outcome{Result: aritest.Busy}
	case strings.HasPrefix(name, scenario.PhoneUnitSilent):
		o = aritest.Outcome{Result: aritest.NoAnswer}
	default:
		o = aritest.Outcome{Result: aritest.Answer, OnAnswer: func(ph *aritest.Phone) { p.answer(name, ph) }}
	}
	p.svc.Asterisk.SetEndpoint(name, o)
	return "PJSIP/" + name
}

// answer hands a phone that answered to Serve.
func (p *peer) answer(name string, ph *aritest.Phone) {
	info := telephony.Info{ID: ph.ID(), Direction: telephony.Inbound, Dialled: name, Started: time.Now()}
	for _, e := range ph.Events() {
		if e.Type() == "StasisStart" {
			info.Caller, info.CallerName = e.Field("channel.caller.number"), e.Field("channel.caller.name")
			break
		}
	}
	c := newPhoneCall(ph, info)
	select {
	case p.answered <- c:
	case <-ph.Done():
	case <-p.stopped:
	}
}

// Serve runs h for every phone that answers the service, until ctx ends.
func (p *peer) Serve(ctx context.Context, h telephony.Handler) error {
	var wg sync.WaitGroup
	defer func() {
		p.stopOnce.Do(func() { close(p.stopped) })
		wg.Wait()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case c := <-p.answered:
			wg.Add(1)
			go func() {
				defer wg.Done()
				cctx, cancel := context.WithCancel(ctx)
				defer cancel()
				go func() {
					select {
					case <-c.Done():
						cancel()
					case <-cctx.Done():
					}
				}()
				h.HandleCall(cctx, c)
			}()
		}
	}
}

// Dial calls the service: the fake's caller dials req.To with the caller
// ID, and Dial returns once the service has answered.
func (p *peer) Dial(ctx context.Context, req telephony.DialRequest) (telephony.Call, error) {
	if err := p.awaitAccepting(ctx); err != nil {
		return nil, err
	}
	ph, err := p.svc.Asterisk.Call(aritest.Inbound{Caller: req.CallerID, CallerName: req.CallerName,
		Exten: req.To, Args: []string{"inbound"}})
	if err != nil {
		return nil, &telephony.CallError{Op: "dial", Reason: telephony.ReasonUnreachable, Err: err}
	}
	_, err = ph.Next(ctx, func(e aritest.Event) bool {
		return e.Type() == "ChannelStateChange" && e.Field("channel.state") == "Up"
	})
	if err != nil {
		ph.Hangup()
		return nil, &telephony.CallError{Op: "dial", Reason: telephony.ReasonNoAnswer, Err: err}
	}
	return newPhoneCall(ph, telephony.Info{ID: ph.ID(), Direction: telephony.Outbound,
		Caller: req.CallerID, CallerName: req.CallerName, Dialled: req.To, Started: time.Now()}), nil
}

// awaitAccepting waits until the service engine hands new calls to its
// flow: a call placed before would go back to the dialplan's fallback.
// The engine tells this only as a check (for a readiness probe), so it is
// checked as a load balancer would, every few milliseconds.
func (p *peer) awaitAccepting(ctx context.Context) error {
	if p.svc.Accepting() {
		return nil
	}
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !p.svc.Accepting() {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("aripeer: service not taking calls: %w", ctx.Err())
		}
	}
	return nil
}

// NewBridge is not something a phone does.
func (p *peer) NewBridge(ctx context.Context) (telephony.Bridge, error) {
	return nil, errScripted
}

// phoneCall is a scripted phone as a telephony.Call.
type phoneCall struct {
	ph     *aritest.Phone
	info   telephony.Info
	digits chan rune
	local  atomic.Bool // this side hung up
}

func newPhoneCall(ph *aritest.Phone, info telephony.Info) *phoneCall {
	return &phoneCall{ph: ph, info: info, digits: make(chan rune)}
}

func (c *phoneCall) Info() telephony.Info             { return c.info }
func (c *phoneCall) Answer(ctx context.Context) error { return nil } // answered already
func (c *phoneCall) Done() <-chan struct{}            { return c.ph.Done() }

// Digits never delivers: what the service sends with /dtmf is in the
// phone's HeardDTMF.
func (c *phoneCall) Digits() <-chan rune { return c.digits }

func (c *phoneCall) Play(ctx context.Context, prompt string) (telephony.Playback, error) {
	return nil, &telephony.CallError{Op: "play", Reason: telephony.ReasonError, Err: errScripted}
}

func (c *phoneCall) Record(ctx context.Context, name string) (telephony.Recording, error) {
	return nil, &telephony.CallError{Op: "record", Reason: telephony.ReasonError, Err: errScripted}
}

func (c *phoneCall) SendDigits(ctx context.Context, digits string) error {
	if err := c.ph.Press(digits); err != nil {
		return &telephony.CallError{Op: "send digits", Reason: telephony.ReasonHungUp, Err: err}
	}
	return nil
}

func (c *phoneCall) Hangup(ctx context.Context, reason telephony.Reason) error {
	select {
	case <-c.ph.Done():
		return nil
	default:
	}
	c.local.Store(true)
	c.ph.Hangup()
	return nil
}

// End tells how the phone's channel ended: by this side, or by the service
// (the far end, from the phone's point of view).
func (c *phoneCall) End() telephony.End {
	cause := c.ph.Cause()
	if c.local.Load() {
		return telephony.End{Reason: telephony.ReasonNormal, By: "local", Cause: cause}
	}
	return telephony.End{Reason: telephony.ReasonHungUp, By: "remote", Cause: cause}
}

type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
