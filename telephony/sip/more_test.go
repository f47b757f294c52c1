package sip

import (
	"context"
	"errors"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"hotline/telephony"
)

// TestHangupMidPrompt: the caller hangs up while a prompt plays; the
// playback reports the hang-up, and the recording, never stopped by the
// flow, is complete and playable.
func TestHangupMidPrompt(t *testing.T) {
	checkGoroutines(t)
	type out struct {
		playErr error
		path    string
	}
	got := make(chan out, 1)
	started := make(chan struct{})
	svc := startEngine(t, telephony.HandlerFunc(func(ctx context.Context, c telephony.Call) {
		var o out
		defer func() { got <- o }()
		if c.Answer(ctx) != nil {
			return
		}
		rec, err := c.Record(ctx, "midprompt")
		if err != nil {
			return
		}
		pb, err := c.Play(ctx, "long")
		if err != nil {
			return
		}
		close(started)
		<-pb.Done()
		o.playErr = pb.Err()
		<-c.Done()
		res, _ := rec.Stop(ctx) // after the call ended: already complete
		o.path = res.Path
	}), map[string][]int16{"long": tone(440, 10*time.Second)}, nil)
	caller := startEngine(t, nil, map[string][]int16{"talk": tone(1000, 5*time.Second)}, nil)
	ctx := within(t, 10*time.Second)
	call, err := caller.Dial(ctx, telephony.DialRequest{To: svc.uri("96596")})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = call.Play(ctx, "talk")
	<-started
	time.Sleep(700 * time.Millisecond) // mid-prompt
	if err := call.Hangup(ctx, telephony.ReasonNormal); err != nil {
		t.Fatal(err)
	}
	o := recv(t, got, 5*time.Second, "handler result")
	if !errors.Is(o.playErr, telephony.ErrHungUp) {
		t.Errorf("playback error %v, want hung up", o.playErr)
	}
	left := channel(t, o.path, chanCaller)
	if len(left) < 4000 || dominant(left, 440, 1000) != 1000 {
		t.Errorf("recording after hang-up: %d samples, caller channel not the caller's tone", len(left))
	}
}

// TestBargeIn: a key pressed during a long prompt stops it at once.
func TestBargeIn(t *testing.T) {
	checkGoroutines(t)
	type out struct {
		digits string
		took   time.Duration
		err    error
	}
	got := make(chan out, 1)
	svc := startEngine(t, telephony.HandlerFunc(func(ctx context.Context, c telephony.Call) {
		var o out
		defer func() { got <- o }()
		if o.err = c.Answer(ctx); o.err != nil {
			return
		}
		start := time.Now()
		o.digits, o.err = telephony.PlayCollect(ctx, c, []string{"long", "long"}, telephony.Collect{BargeIn: true, FirstDigit: time.Second})
		o.took = time.Since(start)
	}), map[string][]int16{"long": tone(440, 10*time.Second)}, nil)
	caller := startEngine(t, nil, nil, nil)
	ctx := within(t, 10*time.Second)
	call, err := caller.Dial(ctx, telephony.DialRequest{To: svc.uri("96596")})
	if err != nil {
		t.Fatal(err)
	}
	defer call.Hangup(context.Background(), telephony.ReasonNormal)
	// The service may hang up before the last end-of-event packet is sent.
	_ = call.SendDigits(ctx, "3")
	o := recv(t, got, 5*time.Second, "handler result")
	if o.err != nil || o.digits != "3" {
		t.Fatalf("digits %q err %v", o.digits, o.err)
	}
	if o.took > 3*time.Second {
		t.Errorf("barge-in took %s; the 10 s prompt was not stopped", o.took)
	}
}

// TestTCP: a call over TCP is answered and ends like one over UDP.
func TestTCP(t *testing.T) {
	checkGoroutines(t)
	answered := make(chan telephony.Info, 1)
	svc := startEngine(t, telephony.HandlerFunc(func(ctx context.Context, c telephony.Call) {
		if c.Answer(ctx) == nil {
			answered <- c.Info()
		}
		<-ctx.Done()
	}), nil, func(c *Config) { c.UDP, c.TCP = "", "127.0.0.1:0" })
	caller := startEngine(t, nil, nil, func(c *Config) { c.UDP, c.TCP = "", "127.0.0.1:0" })
	ctx := within(t, 10*time.Second)
	call, err := caller.Dial(ctx, telephony.DialRequest{To: "sip:96596@" + svc.Addr("tcp") + ";transport=tcp", CallerID: "021888"})
	if err != nil {
		t.Fatal(err)
	}
	if info := recv(t, answered, 5*time.Second, "answer"); info.Caller != "021888" {
		t.Errorf("caller %q", info.Caller)
	}
	if err := call.Hangup(ctx, telephony.ReasonNormal); err != nil {
		t.Fatal(err)
	}
}

func TestInboundCallerID(t *testing.T) {
	tests := []struct {
		name               string
		from, pai, privacy string
		wantNum, wantName  string
	}{
		{name: "from", from: `"Wang" <sip:13812345678@10.0.0.1>`, wantNum: "13812345678", wantName: "Wang"},
		{name: "asserted identity wins", from: `<sip:100@10.0.0.1>`, pai: `"Trunk" <sip:+8613812345678@carrier>`,
			wantNum: "+8613812345678", wantName: "Trunk"},
		{name: "anonymous", from: `"Anonymous" <sip:anonymous@anonymous.invalid>`, wantNum: "", wantName: ""},
		{name: "anonymous with asserted identity", from: `"Anonymous" <sip:anonymous@anonymous.invalid>`,
			pai: `<sip:13900001111@carrier>`, wantNum: "13900001111", wantName: "Anonymous"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ruri sipmsg.Uri
			_ = sipmsg.ParseUri("sip:96596@127.0.0.1", &ruri)
			req := sipmsg.NewRequest(sipmsg.INVITE, ruri)
			var from sipmsg.Uri
			params := sipmsg.NewParams()
			dn, err := sipmsg.ParseAddressValue(tt.from, &from, &params)
			if err != nil {
				t.Fatal(err)
			}
			req.AppendHeader(&sipmsg.FromHeader{DisplayName: dn, Address: from, Params: params})
			if tt.pai != "" {
				req.AppendHeader(sipmsg.NewHeader("P-Asserted-Identity", tt.pai))
			}
			info := inboundInfo(req, time.Now())
			if info.Caller != tt.wantNum || info.CallerName != tt.wantName || info.Dialled != "96596" {
				t.Errorf("got %q %q dialled %q, want %q %q", info.Caller, info.CallerName, info.Dialled, tt.wantNum, tt.wantName)
			}
		})
	}
}
