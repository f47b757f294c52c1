package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"hotline/telephony"
	"hotline/telephony/sip"
)

// served is `hotline serve` running in-process for a test.
type served struct {
	banner   string // "hotline: SIP on ADDR, HTTP on ADDR" or "hotline: ARI at URL, HTTP on ADDR"
	sipAddr  string // "" when Asterisk carries the calls
	httpAddr string
	exited   <-chan int
}

// startServe runs `hotline serve args...` until ctx ends, its log going to
// logW, and returns once the service has printed its banner (it is then
// listening).
func startServe(ctx context.Context, t *testing.T, logW io.Writer, args ...string) served {
	t.Helper()
	out, outW := io.Pipe()
	exited := make(chan int, 1)
	go func() {
		defer outW.Close()
		exited <- run(ctx, append([]string{"serve"}, args...), outW, logW)
	}()
	lines := bufio.NewReader(out)
	banner, err := lines.ReadString('\n')
	if err != nil {
		t.Fatalf("no banner: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, lines) }()
	head, httpAddr, ok := strings.Cut(strings.TrimSpace(banner), ", HTTP on ")
	if !ok {
		t.Fatalf("banner %q", banner)
	}
	s := served{banner: banner, httpAddr: httpAddr, exited: exited}
	s.sipAddr, _ = strings.CutPrefix(head, "hotline: SIP on ")
	if s.sipAddr == head {
		s.sipAddr = ""
	}
	return s
}

// stop cancels the service's context (as SIGINT does) and checks that it
// exits cleanly.
func (s served) stop(t *testing.T, cancel context.CancelFunc) {
	t.Helper()
	cancel()
	select {
	case code := <-s.exited:
		if code != 0 {
			t.Errorf("serve exited %d, want 0", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// callerPhone is a SIP phone on loopback that places calls into the
// service; calls offered to it are taken and left silent. It is closed when
// the test ends.
func callerPhone(ctx context.Context, t *testing.T, dir string) *sip.Engine {
	t.Helper()
	phone, err := sip.New(sip.Config{UDP: "127.0.0.1:0", Numbers: []string{"*"}, PromptDir: "-", RecordingDir: dir},
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = phone.Serve(ctx, telephony.HandlerFunc(func(context.Context, telephony.Call) {}))
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		phone.Close()
	})
	return phone
}
