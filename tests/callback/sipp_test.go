package callback_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hotline/ivr/callback"
	"hotline/telephony"
	"hotline/telephony/sip"
)

// SIPp plays the caller's phone (a third-party user agent): rings and never
// answers, busy, answers and presses a key (RFC 4733 from SIPp's captures).

const sippHeader = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="%s">
`

const sippRinging = `  <send><![CDATA[
SIP/2.0 180 Ringing
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Length: 0

]]></send>
`

// sippNoAnswer rings until the caller cancels.
var sippNoAnswer = fmt.Sprintf(sippHeader, "rings, never answers") + `  <recv request="INVITE">
    <action><ereg regexp="CSeq: *[0-9]+" search_in="msg" assign_to="cseq"/></action>
  </recv>
` + sippRinging + `  <recv request="CANCEL"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <send><![CDATA[
SIP/2.0 487 Request Terminated
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[$cseq] INVITE
Content-Length: 0

]]></send>
  <recv request="ACK"/>
</scenario>
`

// sippBusy answers 486.
var sippBusy = fmt.Sprintf(sippHeader, "busy") + `  <recv request="INVITE"/>
  <send><![CDATA[
SIP/2.0 486 Busy Here
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <recv request="ACK"/>
</scenario>
`

// sippPress answers, presses the key of the capture, and waits for BYE.
func sippPress(capture string) string {
	return fmt.Sprintf(sippHeader, "answers and presses") + `  <recv request="INVITE"/>
` + sippRinging + `  <send retrans="500"><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Type: application/sdp
Content-Length: [len]

v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 8 101
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
]]></send>
  <recv request="ACK"/>
  <pause milliseconds="300"/>
  <nop><action><exec play_pcap_audio="` + capture + `"/></action></nop>
  <recv request="BYE"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
</scenario>
`
}

// freeUDPPort returns a loopback UDP port free right now.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// freeUDPPorts returns the first of n consecutive loopback UDP ports free
// right now.
func freeUDPPorts(t *testing.T, n int) int {
	t.Helper()
	for try := 0; try < 50; try++ {
		base := freeUDPPort(t)
		var held []net.PacketConn
		ok := true
		for i := 0; i < n; i++ {
			c, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", base+i))
			if err != nil {
				ok = false
				break
			}
			held = append(held, c)
		}
		for _, c := range held {
			c.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatalf("no %d consecutive free UDP ports", n)
	return 0
}

// startSIPp runs SIPp as a UAS for one call of scenario; the returned
// channel yields its exit error once the call is over.
func startSIPp(t *testing.T, scenario string) (addr string, done <-chan error) {
	t.Helper()
	return startSIPpCalls(t, scenario, 1)
}

// startSIPpCalls is startSIPp for calls calls.
func startSIPpCalls(t *testing.T, scenario string, calls int) (addr string, done <-chan error) {
	t.Helper()
	if _, err := exec.LookPath("sipp"); err != nil {
		t.Skip("sipp not installed (tests/setup.sh)")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "uas.xml")
	if err := os.WriteFile(file, []byte(scenario), 0o644); err != nil {
		t.Fatal(err)
	}
	// SIP on the first port, media on the four above it.
	port := freeUDPPorts(t, 5)
	cmd := exec.Command("sipp", "-sf", file, "-i", "127.0.0.1", "-p", fmt.Sprint(port),
		"-mi", "127.0.0.1", "-mp", fmt.Sprint(port+1), "-m", fmt.Sprint(calls), "-timeout", fmt.Sprint(30+calls), "-timeout_error",
		"-nostdin", "-trace_err", "-error_file", filepath.Join(dir, "errors.log"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		if err != nil {
			log, _ := os.ReadFile(filepath.Join(dir, "errors.log"))
			err = fmt.Errorf("sipp: %w\n%s", err, log)
		}
		ch <- err
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
	})
	return fmt.Sprintf("127.0.0.1:%d", port), ch
}

func TestCallbacksAgainstSIPp(t *testing.T) {
	var opts []sip.Option
	for _, name := range callback.Prompts {
		opts = append(opts, sip.WithPrompt(name, tone(440, 300*time.Millisecond)))
	}
	service := startEngine(t, telephony.HandlerFunc(func(ctx context.Context, c telephony.Call) {}), []string{"96596"}, opts...)
	loc, _ := time.LoadLocation("Asia/Shanghai")
	now := time.Date(2026, 11, 30, 10, 0, 0, 0, loc)

	tests := []struct {
		name        string
		scenario    string
		wantOutcome callback.Outcome
		wantState   callback.State
		wantScore   int
	}{
		{name: "rings and never answers", scenario: sippNoAnswer, wantOutcome: callback.OutcomeNoAnswer, wantState: callback.StateScheduled},
		{name: "busy 486", scenario: sippBusy, wantOutcome: callback.OutcomeBusy, wantState: callback.StateScheduled},
		{name: "answers and presses 1", scenario: sippPress("/usr/share/sip-tester/dtmf_2833_1.pcap"),
			wantOutcome: callback.OutcomeAnswered, wantState: callback.StateDone, wantScore: 1},
		{name: "answers and presses 3", scenario: sippPress("/usr/share/sip-tester/dtmf_2833_3.pcap"),
			wantOutcome: callback.OutcomeAnswered, wantState: callback.StateDone, wantScore: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			addr, sippDone := startSIPp(t, tt.scenario)
			cfg := &callback.Config{MaxConcurrent: 1, MaxPerSecond: 10, DialTo: "sip:{number}@" + addr,
				RingTimeout: 1500 * time.Millisecond, Lease: time.Minute,
				Survey: callback.SurveyConfig{FirstDigit: 3 * time.Second}}
			if err := cfg.Init(); err != nil {
				t.Fatal(err)
			}
			store := openLedger(t)
			tk := &tickets{surveys: map[int64]callback.Survey{}, failed: map[int64]string{}}
			d, err := callback.New(cfg, callback.Deps{Store: store, Tickets: tk, Engine: service,
				Now: func() time.Time { return now }, Log: quietLog()})
			if err != nil {
				t.Fatal(err)
			}
			cb := store.survey(t, "13812345678", now)
			if n, err := d.Tick(ctx); err != nil || n != 1 {
				t.Fatalf("tick: %d, %v", n, err)
			}
			d.Wait()
			if err := <-sippDone; err != nil {
				t.Errorf("SIPp's side of the call failed: %v", err)
			}
			got, err := store.Get(ctx, cb.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Outcome != tt.wantOutcome || got.State != tt.wantState || got.Score != tt.wantScore {
				t.Errorf("outcome, state, score = %s, %s, %d; want %s, %s, %d (note %q)", got.Outcome, got.State, got.Score,
					tt.wantOutcome, tt.wantState, tt.wantScore, got.Note)
			}
			if tt.wantScore != 0 && !strings.HasSuffix(tk.surveys[cb.TicketID].Recording, ".wav") {
				t.Errorf("survey recording = %q, want a WAV file", tk.surveys[cb.TicketID].Recording)
			}
		})
	}
}
