package sip

import (
	"context"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"hotline/telephony"
	"hotline/telephony/sip/wav"
)

// tone returns d of a sine at freq Hz, 8 kHz.
func tone(freq float64, d time.Duration) []int16 {
	n := int(d.Seconds() * wav.SampleRate)
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(8000 * math.Sin(2*math.Pi*freq*float64(i)/wav.SampleRate))
	}
	return out
}

// level is the Goertzel power of freq in samples, normalised by length.
func level(samples []int16, freq float64) float64 {
	if len(samples) == 0 {
		return 0
	}
	k := 2 * math.Cos(2*math.Pi*freq/wav.SampleRate)
	var s1, s2 float64
	for _, x := range samples {
		s0 := float64(x) + k*s1 - s2
		s2, s1 = s1, s0
	}
	p := s1*s1 + s2*s2 - k*s1*s2
	return p / float64(len(samples)) / float64(len(samples))
}

// channel reads one channel of a WAV file written by a recorder.
func channel(t *testing.T, path string, ch int) []int16 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, pcm, err := wav.Parse(data)
	if err != nil {
		t.Fatalf("recording %s: %v", path, err)
	}
	if f.SampleRate != 8000 || f.BitsPerSample != 16 || f.AudioFormat != 1 {
		t.Fatalf("recording %s: %s", path, f)
	}
	// The header must tell the exact size of the data.
	if got, want := int(uint32(data[40])|uint32(data[41])<<8|uint32(data[42])<<16|uint32(data[43])<<24), len(data)-44; got != want {
		t.Errorf("recording %s: data size in header %d, file holds %d", path, got, want)
	}
	nch := int(f.Channels)
	out := make([]int16, 0, len(pcm)/2/nch)
	for i := 2 * ch; i+1 < len(pcm); i += 2 * nch {
		out = append(out, int16(uint16(pcm[i])|uint16(pcm[i+1])<<8))
	}
	return out
}

// dominant tells which of freqs is strongest in samples.
func dominant(samples []int16, freqs ...float64) float64 {
	best, bestLevel := 0.0, -1.0
	for _, f := range freqs {
		if l := level(samples, f); l > bestLevel {
			best, bestLevel = f, l
		}
	}
	return best
}

// checkGoroutines fails the test when goroutines started during it are
// still running once its cleanups (registered later, run earlier) are done.
func checkGoroutines(t *testing.T) {
	t.Helper()
	base := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= base {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutines: %d after the test, %d before\n%s", n, base, buf)
				return
			}
			runtime.Gosched()
			time.Sleep(10 * time.Millisecond) // polling: goroutine exit cannot be awaited
		}
	})
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() && os.Getenv("SIP_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type testEngine struct {
	*Engine
	recDir string
	stop   func() // ends Serve and waits for it
}

// startEngine starts an engine on a free loopback UDP port (and TCP when
// tcp), with the given prompts written to its prompt directory.
func startEngine(t *testing.T, h telephony.Handler, prompts map[string][]int16, mod func(*Config)) *testEngine {
	t.Helper()
	dir := t.TempDir()
	pdir, rdir := filepath.Join(dir, "prompts"), filepath.Join(dir, "rec")
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, pcm := range prompts {
		if err := os.WriteFile(filepath.Join(pdir, name+".wav"), wav.Encode(pcm), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Config{
		UDP: "127.0.0.1:0", PromptDir: pdir, RecordingDir: rdir,
		ShutdownGrace: 2 * time.Second, NoResponseTimeout: 2 * time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	e, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if h == nil {
		h = telephony.HandlerFunc(func(ctx context.Context, c telephony.Call) { <-ctx.Done() })
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Serve(ctx, h) }()
	<-e.ready
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}
	t.Cleanup(stop)
	return &testEngine{Engine: e, recDir: rdir, stop: stop}
}

// uri is the SIP URI of number at the engine's UDP address.
func (e *testEngine) uri(number string) string {
	return "sip:" + number + "@" + e.Addr("udp")
}

func within(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// recv waits for one value from ch.
func recv[T any](t *testing.T, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("no %s within %s", what, d)
		var zero T
		return zero
	}
}
