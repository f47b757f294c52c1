package tests

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"hotline/ivr"
	"hotline/telephony"
	"hotline/tests/scenario"
)

// freeUDPPort returns a UDP port free on loopback right now.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// TestSIPpCaller has SIPp, a SIP peer we did not write, call the service,
// press 1 with an RFC 2833 capture and stay until an agent answers: the
// ticket gets the line, the call its choice and its recording.
func TestSIPpCaller(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end calls")
	}
	sippPath, err := exec.LookPath("sipp")
	if err != nil {
		t.Skip("sipp not installed (tests/setup.sh installs it)")
	}
	h := scenario.Start(t, sipBackend, scenario.Options{Config: scenario.Config(), Clock: scenario.FixedClock(scenario.OfficeTime),
		NewLedger: scenario.SQLiteLedger})
	h.Login("a1")
	service := strings.TrimPrefix(h.Peer.ServiceTo, "sip:96596@")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, sippPath, service,
		"-sf", "sipp/press_key.xml", "-s", "96596", "-set", "prefix", "1390000",
		"-i", "127.0.0.1", "-p", strconv.Itoa(freeUDPPort(t)), "-mi", "127.0.0.1", "-mp", strconv.Itoa(freeUDPPort(t)),
		"-m", "1", "-l", "1", "-d", "3000", "-timeout", "30s", "-timeout_error", "-nostdin", "-trace_err",
		"-error_file", t.TempDir()+"/sipp_errors.log")
	cmd.Dir = "."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sipp: %v\n%s", err, tail(out, 3000))
	}
	pop := h.Event("bus", func(e ivr.Event) bool { return e.Type == ivr.EventScreenPop && e.Agent == "a1" })
	if pop.Ticket.Line != "passenger" {
		t.Errorf("screen-pop line %q, want passenger", pop.Ticket.Line)
	}
	rec := h.Ended("13900001")
	if rec.Choice != "1" || rec.Reason != string(telephony.ReasonHungUp) || rec.Agent != "a1" {
		t.Errorf("call record %+v, want choice 1, hung up by the caller, agent a1", rec)
	}
	tk := h.Ticket(rec.Ticket)
	if tk.Line != "passenger" {
		t.Errorf("ticket line %q, want passenger", tk.Line)
	}
	if info := h.CheckRecording(rec.Recording); info.Seconds < 0.2 || info.Peak == 0 {
		t.Errorf("call recording %+v: want sound", info)
	}
	talk := ""
	for _, r := range tk.Recordings {
		if r.Kind == ivr.RecordingConversation {
			talk = r.Path
		}
	}
	// SIPp stays 3 s after its key; the agent answers at once.
	if info := h.CheckRecording(talk); info.Seconds < 1 {
		t.Errorf("conversation recording %+v: want the seconds with the agent", info)
	}
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
