package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"hotline/telephony"
)

// TestDialOutcomes: an outbound call to a peer that answers, is busy, rings
// without answer, never responds at all, or refuses the number, ends with
// the matching typed failure, and a dead peer does not hold it for 32 s.
func TestDialOutcomes(t *testing.T) {
	dead, err := net.ListenPacket("udp", "127.0.0.1:0") // reads nothing, answers nothing
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	tests := []struct {
		name    string
		peer    func(ctx context.Context, c telephony.Call)
		to      func(peer *testEngine) string
		ring    time.Duration
		want    telephony.Reason
		maxTime time.Duration
	}{
		{name: "answers", peer: func(ctx context.Context, c telephony.Call) {
			_ = c.Answer(ctx)
			<-ctx.Done()
		}, want: telephony.ReasonNormal, maxTime: 5 * time.Second},
		{name: "busy", peer: func(ctx context.Context, c telephony.Call) {
			_ = c.Hangup(ctx, telephony.ReasonBusy)
		}, want: telephony.ReasonBusy, maxTime: 5 * time.Second},
		{name: "rings without answer", peer: func(ctx context.Context, c telephony.Call) { <-ctx.Done() },
			ring: 700 * time.Millisecond, want: telephony.ReasonNoAnswer, maxTime: 5 * time.Second},
		{name: "no such number", to: func(p *testEngine) string { return p.uri("110") },
			want: telephony.ReasonUnreachable, maxTime: 5 * time.Second},
		{name: "dead peer", to: func(*testEngine) string { return "sip:unit@" + dead.LocalAddr().String() },
			ring: 30 * time.Second, want: telephony.ReasonTimeout, maxTime: 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkGoroutines(t)
			var peer *testEngine
			peer = startEngine(t, telephony.HandlerFunc(func(ctx context.Context, c telephony.Call) {
				if tt.peer != nil {
					tt.peer(ctx, c)
				}
			}), nil, func(c *Config) { c.Numbers = []string{"unit"} })
			svc := startEngine(t, nil, nil, func(c *Config) { c.NoResponseTimeout = time.Second })
			to := peer.uri("unit")
			if tt.to != nil {
				to = tt.to(peer)
			}
			start := time.Now()
			call, err := svc.Dial(within(t, 10*time.Second), telephony.DialRequest{To: to, CallerID: "96596", RingTimeout: tt.ring})
			if took := time.Since(start); took > tt.maxTime {
				t.Errorf("dial took %s", took)
			}
			if got := telephony.ReasonOf(err); got != tt.want {
				t.Fatalf("dial: %v (reason %s), want %s", err, got, tt.want)
			}
			if call != nil {
				if call.Info().Direction != telephony.Outbound {
					t.Errorf("direction %s", call.Info().Direction)
				}
				_ = call.Hangup(context.Background(), telephony.ReasonNormal)
				<-call.Done()
			}
			if n := svc.Stats().CallsInProgress; n != 0 && call == nil {
				t.Errorf("%d calls in progress after a failed dial", n)
			}
		})
	}
}

// TestBridge: a caller and an agent bridged by the service hear each
// other, the bridge recording holds both, digits pressed by the agent
// still reach the agent's leg (and, with bridge_dtmf, the caller), and when the caller hangs up the agent leg
// ends too.
func TestBridge(t *testing.T) {
	checkGoroutines(t)
	type legs struct {
		agentDigits string
		rec         telephony.RecordingResult
		err         error
	}
	out := make(chan legs, 1)
	agent := startEngine(t, telephony.HandlerFunc(func(ctx context.Context, c telephony.Call) {
		if err := c.Answer(ctx); err != nil {
			return
		}
		if _, err := c.Play(ctx, "agent"); err != nil {
			return
		}
		time.Sleep(1500 * time.Millisecond) // talk for a while, then press the transfer key
		_ = c.SendDigits(ctx, "9")
		<-ctx.Done()
	}), map[string][]int16{"agent": tone(600, 4*time.Second)}, func(c *Config) { c.Numbers = []string{"agent"} })
	svc := startEngine(t, telephony.HandlerFunc(func(ctx context.Context, c telephony.Call) {
		var r legs
		defer func() { out <- r }()
		if r.err = c.Answer(ctx); r.err != nil {
			return
		}
		svcEng := c.(*Call).e // the engine serving this call
		a, err := svcEng.Dial(ctx, telephony.DialRequest{To: agent.uri("agent"), CallerID: c.Info().Caller})
		if r.err = err; err != nil {
			return
		}
		b, _ := svcEng.NewBridge(ctx)
		rec, _ := b.Record(ctx, "bridge")
		if r.err = errors.Join(b.Add(ctx, c), b.Add(ctx, a)); r.err != nil {
			return
		}
		select {
		case d := <-a.Digits():
			r.agentDigits = string(d)
		case <-time.After(5 * time.Second):
		}
		<-c.Done()
		select {
		case <-a.Done():
		case <-time.After(5 * time.Second):
			r.err = fmt.Errorf("agent leg still up after the caller hung up")
		}
		r.rec, _ = rec.Stop(ctx)
		_ = b.Close(ctx)
	}), nil, func(c *Config) { c.BridgeDTMF = true })
	caller := startEngine(t, nil, map[string][]int16{"caller": tone(1000, 4*time.Second)}, nil)

	ctx := within(t, 20*time.Second)
	call, err := caller.Dial(ctx, telephony.DialRequest{To: svc.uri("96596"), CallerID: "13812345678"})
	if err != nil {
		t.Fatal(err)
	}
	heard, _ := call.Record(ctx, "caller-heard")
	_, _ = call.Play(ctx, "caller")
	time.Sleep(2500 * time.Millisecond) // the conversation
	callerDigits := ""
	select {
	case d := <-call.Digits():
		callerDigits = string(d)
	default:
	}
	_ = call.Hangup(ctx, telephony.ReasonNormal)
	got, _ := heard.Stop(ctx)
	r := recv(t, out, 10*time.Second, "service result")
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.agentDigits != "9" {
		t.Errorf("agent's digits %q, want 9", r.agentDigits)
	}
	if callerDigits != "9" {
		t.Errorf("caller got %q passed through the bridge, want 9 (bridge_dtmf on)", callerDigits)
	}
	if f := dominant(channel(t, got.Path, chanCaller), 600, 1000); f != 600 {
		t.Errorf("caller heard mostly %v Hz, want the agent's 600", f)
	}
	left, right := channel(t, r.rec.Path, chanCaller), channel(t, r.rec.Path, chanService)
	if f := dominant(left, 600, 1000); f != 1000 {
		t.Errorf("bridge recording, caller channel: %v Hz, want 1000", f)
	}
	if f := dominant(right, 600, 1000); f != 600 {
		t.Errorf("bridge recording, agent channel: %v Hz, want 600", f)
	}
}

// TestShutdown: with calls in progress, Serve refuses new calls, lets the
// grace pass, hangs up the rest with reason shutdown, and returns.
func TestShutdown(t *testing.T) {
	checkGoroutines(t)
	ended := make(chan telephony.Reason, 2)
	svc := startEngine(t, telephony.HandlerFunc(func(ctx context.Context, c telephony.Call) {
		_ = c.Answer(ctx)
		<-ctx.Done()
		<-c.Done()
		ended <- c.End().Reason
	}), nil, func(c *Config) { c.ShutdownGrace = 300 * time.Millisecond })
	caller := startEngine(t, nil, nil, nil)
	ctx := within(t, 10*time.Second)
	var calls []telephony.Call
	for range 2 {
		c, err := caller.Dial(ctx, telephony.DialRequest{To: svc.uri("96596")})
		if err != nil {
			t.Fatal(err)
		}
		calls = append(calls, c)
	}
	if n := svc.Stats().CallsInProgress; n != 2 {
		t.Errorf("calls in progress %d, want 2", n)
	}
	svc.stop()
	for range 2 {
		if r := recv(t, ended, 5*time.Second, "end"); r != telephony.ReasonShutdown {
			t.Errorf("service side ended with %s, want shutdown", r)
		}
	}
	for _, c := range calls {
		select {
		case <-c.Done():
		case <-ctx.Done():
			t.Fatal("caller leg not hung up")
		}
	}
	if s := svc.Stats(); s.Listening || s.CallsInProgress != 0 {
		t.Errorf("after shutdown: %+v", s)
	}
}

// TestBadInput: malformed messages and bad offers get a SIP answer (or
// none for garbage), never a crash; a flood over the limit gets 503.
func TestBadInput(t *testing.T) {
	checkGoroutines(t)
	hold := make(chan struct{})
	svc := startEngine(t, telephony.HandlerFunc(func(ctx context.Context, c telephony.Call) {
		select {
		case <-hold:
		case <-ctx.Done():
		}
	}), nil, func(c *Config) { c.MaxCalls = 5; c.ShutdownGrace = 100 * time.Millisecond })
	conn, err := net.Dial("udp", svc.Addr("udp"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	local := conn.LocalAddr().String()
	sdp := func(m string) string {
		return "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" + m
	}
	invite := func(n int, body string) string {
		return fmt.Sprintf("INVITE sip:96596@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-%d\r\n"+
			"From: <sip:1390000@127.0.0.1>;tag=t%d\r\nTo: <sip:96596@127.0.0.1>\r\nCall-ID: bad-%d\r\nCSeq: 1 INVITE\r\n"+
			"Contact: <sip:x@%s>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s",
			svc.Addr("udp"), local, n, n, n, local, len(body), body)
	}
	status := func(msg string) string {
		t.Helper()
		if _, err := conn.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		for {
			_ = conn.SetReadDeadline(time.Now().Add(time.Second))
			n, err := conn.Read(buf)
			if err != nil {
				return "no answer"
			}
			line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
			if strings.Contains(line, " 100 ") {
				continue
			}
			return line
		}
	}
	tests := []struct{ name, msg, want string }{
		{"garbage", "\x00\x01hello\r\n\r\n", "no answer"},
		{"broken SDP", invite(1, "this is not sdp"), "SIP/2.0 400 Bad SDP"},
		{"no common codec", invite(2, sdp("m=audio 4000 RTP/AVP 18\r\n")), "SIP/2.0 488 Not Acceptable Here"},
		{"no SDP", invite(3, ""), "SIP/2.0 488 SDP Offer Required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := status(tt.msg); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("flood over the call limit", func(t *testing.T) {
		good := sdp("m=audio 4000 RTP/AVP 0\r\n")
		counts := map[string]int{}
		for i := range 40 {
			if _, err := conn.Write([]byte(invite(100+i, good))); err != nil {
				t.Fatal(err)
			}
		}
		buf := make([]byte, 4096)
		for {
			_ = conn.SetReadDeadline(time.Now().Add(time.Second))
			n, err := conn.Read(buf)
			if err != nil {
				break
			}
			msg := string(buf[:n])
			line, _, _ := strings.Cut(msg, "\r\n")
			if strings.Contains(line, " 503 ") && !strings.Contains(msg, "Retry-After:") {
				t.Errorf("503 without Retry-After")
			}
			counts[line]++
		}
		if got := counts["SIP/2.0 503 Service Unavailable"]; got < 35 {
			t.Errorf("responses %v, want at least 35 refusals with 503", counts)
		}
		if n := svc.Stats().CallsInProgress; n > 5 {
			t.Errorf("%d calls in progress, limit 5", n)
		}
		// Let the held calls go: each gets a final response, which is
		// acknowledged as a phone would, so no transaction waits for timer H.
		close(hold)
		for acked := 0; acked < 5; {
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := conn.Read(buf)
			if err != nil {
				t.Fatalf("final responses of the held calls: %v", err)
			}
			if ack := ackFor(string(buf[:n]), svc.Addr("udp")); ack != "" {
				_, _ = conn.Write([]byte(ack))
				acked++
			}
		}
	})
}

// ackFor builds the ACK of a final non-2xx response to an INVITE.
func ackFor(res, addr string) string {
	lines := strings.Split(res, "\r\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "SIP/2.0 ") || strings.HasPrefix(lines[0], "SIP/2.0 1") {
		return ""
	}
	ack := "ACK sip:96596@" + addr + " SIP/2.0\r\n"
	for _, l := range lines[1:] {
		for _, h := range []string{"Via:", "From:", "To:", "Call-ID:"} {
			if strings.HasPrefix(l, h) {
				ack += l + "\r\n"
			}
		}
	}
	return ack + "CSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
}

// TestMediaTimeout: a caller that answers the SIP side but never sends RTP
// (gone without a BYE) is hung up with reason timeout.
func TestMediaTimeout(t *testing.T) {
	checkGoroutines(t)
	ended := make(chan telephony.End, 1)
	svc := startEngine(t, telephony.HandlerFunc(func(ctx context.Context, c telephony.Call) {
		if c.Answer(ctx) != nil {
			return
		}
		<-c.Done()
		ended <- c.End()
	}), nil, func(c *Config) { c.MediaTimeout = 400 * time.Millisecond })
	conn, err := net.Dial("udp", svc.Addr("udp"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	local := conn.LocalAddr().String()
	body := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n"
	invite := fmt.Sprintf("INVITE sip:96596@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-mt1\r\n"+
		"From: <sip:1390000@127.0.0.1>;tag=mt\r\nTo: <sip:96596@127.0.0.1>\r\nCall-ID: media-timeout\r\nCSeq: 1 INVITE\r\n"+
		"Contact: <sip:x@%s>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s",
		svc.Addr("udp"), local, local, len(body), body)
	if _, err := conn.Write([]byte(invite)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for {
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("waiting for the service: %v", err)
		}
		msg := string(buf[:n])
		switch {
		case strings.HasPrefix(msg, "SIP/2.0 200"):
			to := header(msg, "To")
			ack := fmt.Sprintf("ACK sip:96596@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-mt2\r\n"+
				"From: <sip:1390000@127.0.0.1>;tag=mt\r\nTo: %s\r\nCall-ID: media-timeout\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
				svc.Addr("udp"), local, to)
			_, _ = conn.Write([]byte(ack))
		case strings.HasPrefix(msg, "BYE "):
			ok := "SIP/2.0 200 OK\r\nVia: " + header(msg, "Via") + "\r\nFrom: " + header(msg, "From") + "\r\nTo: " + header(msg, "To") +
				"\r\nCall-ID: " + header(msg, "Call-ID") + "\r\nCSeq: " + header(msg, "CSeq") + "\r\nContent-Length: 0\r\n\r\n"
			_, _ = conn.Write([]byte(ok))
			end := recv(t, ended, 5*time.Second, "end")
			if end.Reason != telephony.ReasonTimeout || end.By != "local" {
				t.Errorf("end %+v, want timeout by local", end)
			}
			return
		}
	}
}

func header(msg, name string) string {
	for _, l := range strings.Split(msg, "\r\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
