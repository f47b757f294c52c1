package sip

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"hotline/telephony"
)

// freeUDPPort returns a loopback UDP port free at the time of the call
// (SIPp binds its own sockets, so the port must be chosen for it).
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

func scenario(t *testing.T, name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "tests", "sipp", name)
}

// runSIPp runs one call of scenario against addr and fails the test when
// SIPp reports a failed call.
func runSIPp(t *testing.T, ctx context.Context, addr, scen string, extra ...string) {
	t.Helper()
	sipp, err := exec.LookPath("sipp")
	if err != nil {
		t.Skip("sipp not installed (tests/setup.sh installs it)")
	}
	args := []string{addr, "-sf", scenario(t, scen), "-m", "1", "-l", "1", "-s", "96596",
		"-i", "127.0.0.1", "-p", strconv.Itoa(freeUDPPort(t)), "-mp", strconv.Itoa(freeUDPPort(t)),
		"-timeout", "20s", "-timeout_error", "-nostdin", "-trace_err", "-error_file", filepath.Join(t.TempDir(), "err.log")}
	cmd := exec.CommandContext(ctx, sipp, append(args, extra...)...)
	cmd.Dir = t.TempDir()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("sipp %s: %v\n%s", scen, err, out.String())
	}
}

// TestSIPpDigits: every key 0-9*# reaches the service from SIPp, over RFC
// 4733 (SIPp's own captures, whose events start with duration 0) and over
// SIP INFO.
func TestSIPpDigits(t *testing.T) {
	tests := []struct {
		name, scenario string
		root           bool
		want           string
	}{
		{name: "rfc4733 captures", scenario: "dtmf_rfc4733.xml", root: true, want: "1234567890*#"},
		{name: "sip info", scenario: "dtmf_info.xml", want: "123456789*0#"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.root && os.Geteuid() != 0 {
				t.Skip("playing RTP captures needs root")
			}
			checkGoroutines(t)
			got := make(chan result, 1)
			svc := startEngine(t, telephony.HandlerFunc(func(ctx context.Context, c telephony.Call) {
				r := result{info: c.Info()}
				defer func() { got <- r }()
				if r.err = c.Answer(ctx); r.err != nil {
					return
				}
				r.digits, r.err = telephony.PlayCollect(ctx, c, []string{"welcome"},
					telephony.Collect{MaxDigits: len(tt.want), FirstDigit: 10 * time.Second, InterDigit: 5 * time.Second})
			}), map[string][]int16{"welcome": tone(440, 300*time.Millisecond)}, nil)
			runSIPp(t, within(t, 30*time.Second), svc.Addr("udp"), tt.scenario)
			r := recv(t, got, 5*time.Second, "handler result")
			if r.err != nil {
				t.Fatal(r.err)
			}
			if r.digits != tt.want {
				t.Errorf("digits %q, want %q", r.digits, tt.want)
			}
			if r.info.Caller != "13900001111" || r.info.CallerName != "SIPp" {
				t.Errorf("caller %q %q", r.info.Caller, r.info.CallerName)
			}
		})
	}
}

// TestDialSIPp: the service's outbound calls against SIPp as the unit's
// phone: it answers (ringing first), or it is busy.
func TestDialSIPp(t *testing.T) {
	tests := []struct {
		scenario string
		want     telephony.Reason
	}{
		{"uas_answer.xml", telephony.ReasonNormal},
		{"uas_busy.xml", telephony.ReasonBusy},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			sipp, err := exec.LookPath("sipp")
			if err != nil {
				t.Skip("sipp not installed (tests/setup.sh installs it)")
			}
			checkGoroutines(t)
			svc := startEngine(t, nil, map[string][]int16{"hello": tone(440, 300*time.Millisecond)}, nil)
			ctx := within(t, 20*time.Second)
			port := freeUDPPort(t)
			cmd := exec.CommandContext(ctx, sipp, "-sf", scenario(t, tt.scenario), "-m", "1", "-i", "127.0.0.1",
				"-p", strconv.Itoa(port), "-mp", strconv.Itoa(freeUDPPort(t)), "-timeout", "15s", "-timeout_error", "-nostdin")
			cmd.Dir = t.TempDir()
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			to := "sip:unit@127.0.0.1:" + strconv.Itoa(port)
			// SIPp needs a moment to bind; a dial before that is refused, so retry.
			var call telephony.Call
			for attempt := 0; ; attempt++ {
				call, err = svc.Dial(ctx, telephony.DialRequest{To: to, CallerID: "96596", RingTimeout: 5 * time.Second})
				if telephony.ReasonOf(err) != telephony.ReasonTimeout || attempt == 3 {
					break
				}
			}
			if got := telephony.ReasonOf(err); got != tt.want {
				t.Fatalf("dial: %v (reason %s), want %s", err, got, tt.want)
			}
			if call != nil {
				pb, err := call.Play(ctx, "hello")
				if err != nil {
					t.Fatal(err)
				}
				<-pb.Done()
				if err := call.Hangup(ctx, telephony.ReasonNormal); err != nil {
					t.Fatal(err)
				}
			}
			if err := <-done; err != nil {
				t.Fatalf("sipp: %v\n%s", err, out.String())
			}
		})
	}
}

// TestSIPpBridgeTranscodes: a PCMA caller (SIPp, 30 ms packets) bridged to
// a PCMU agent is heard by the agent, and the agent's leg ends when the
// caller hangs up.
func TestSIPpBridgeTranscodes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("playing RTP captures needs root")
	}
	checkGoroutines(t)
	agentRec := make(chan string, 1)
	agent := startEngine(t, telephony.HandlerFunc(func(ctx context.Context, c telephony.Call) {
		if c.Answer(ctx) != nil {
			return
		}
		rec, err := c.Record(ctx, "agent")
		if err != nil {
			return
		}
		<-c.Done()
		res, _ := rec.Stop(ctx)
		agentRec <- res.Path
	}), nil, func(c *Config) { c.Numbers = []string{"agent"} })
	svc := startEngine(t, telephony.HandlerFunc(func(ctx context.Context, c telephony.Call) {
		if c.Answer(ctx) != nil {
			return
		}
		svcEng := c.(*Call).e // the engine serving this call
		a, err := svcEng.Dial(ctx, telephony.DialRequest{To: agent.uri("agent")})
		if err != nil {
			return
		}
		b, _ := svcEng.NewBridge(ctx)
		_ = b.Add(ctx, c)
		_ = b.Add(ctx, a)
		<-c.Done()
		<-a.Done()
	}), nil, nil)
	runSIPp(t, within(t, 20*time.Second), svc.Addr("udp"), "talk_pcma.xml")
	path := recv(t, agentRec, 10*time.Second, "agent recording")
	heard := channel(t, path, chanCaller)
	var energy float64
	for _, s := range heard {
		energy += float64(s) * float64(s)
	}
	t.Logf("agent heard %d samples, mean power %.0f", len(heard), energy/float64(max(len(heard), 1)))
	if len(heard) == 0 || energy/float64(len(heard)) < 1e4 {
		t.Errorf("agent heard %d samples of mean power %.0f: the caller's speech did not come through", len(heard), energy/float64(max(len(heard), 1)))
	}
}
