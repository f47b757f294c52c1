package main

import (
	"bytes"
	"context"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"hotline/telephony/sip/wav"
)

// syncBuffer is a bytes.Buffer safe for one writer and a polling reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freePort(t *testing.T) string {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().String()
}

// TestDial: one `hotline dial` answers, another calls it; keys, audio and
// the hang-up go both ways, and the exit codes tell success from failure.
func TestDial(t *testing.T) {
	dir := t.TempDir()
	pcm := make([]int16, 16000)
	for i := range pcm {
		pcm[i] = int16(6000 * math.Sin(2*math.Pi*1000*float64(i)/8000))
	}
	toneFile := filepath.Join(dir, "tone.wav")
	if err := os.WriteFile(toneFile, wav.Encode(pcm), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	addr := freePort(t)
	var answerOut, answerErr syncBuffer
	answered := make(chan int, 1)
	go func() {
		answered <- run(ctx, []string{"dial", "--answer", "--listen", addr, "--press", "1", "--send", toneFile, "--wait", "2s"}, &answerOut, &answerErr)
	}()
	for !strings.Contains(answerOut.String(), "listening on") {
		select {
		case <-ctx.Done():
			t.Fatalf("answering phone did not start: %s %s", answerOut.String(), answerErr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	var out, errOut bytes.Buffer
	heard := filepath.Join(dir, "heard.wav")
	code := run(ctx, []string{"dial", "sip:unit@" + addr, "--digits", "2", "--save", heard, "--wait", "1500ms"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("dial exited %d: %s %s", code, out.String(), errOut.String())
	}
	for _, want := range []string{"answered", "digits sent 2", "digit received 1", "saved " + heard} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("caller output lacks %q:\n%s", want, out.String())
		}
	}
	if c := <-answered; c != 0 {
		t.Errorf("answering phone exited %d: %s", c, answerErr.String())
	}
	for _, want := range []string{"incoming from 13800000000 to unit", "digit received 2", "digits sent 1", "hangup"} {
		if !strings.Contains(answerOut.String(), want) {
			t.Errorf("answering phone output lacks %q:\n%s", want, answerOut.String())
		}
	}
	got, err := wav.ReadFile(heard)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < 4000 {
		t.Errorf("heard %d samples", len(got))
	}

	// Nobody at the address: the call fails with a non-zero exit.
	dead := freePort(t)
	out.Reset()
	if code := run(ctx, []string{"dial", "sip:unit@" + dead, "--ring", "1s"}, &out, &errOut); code == 0 {
		t.Errorf("dial to nobody exited 0: %s", out.String())
	}
	if !strings.Contains(out.String(), "failed timeout") {
		t.Errorf("output %q", out.String())
	}
}
