package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"hotline/ivr"
	"hotline/telephony/sip"
	"hotline/tests/scenario"
)

// TestLoadIVR is the load run of the call flows (not part of `make test`):
//
//	HOTLINE_LOAD=500 go test -run TestLoadIVR -timeout 10m -v ./tests/
//
// The service runs in this process as in production: the embedded SIP
// engine with the shipped prompts, the SQLite ledger, the IVR with
// recording on. The callers are the engine load run's caller
// (tests/load -role caller) in a child process: N calls at 50 calls/s,
// each sending audio and, once all are up, the key 5 (a business line);
// all hang up together, 20 s after the last was placed. It reports the
// failed calls, the calls whose ticket or recording is missing or broken,
// p50/p99 from 200 OK to the first RTP packet (the welcome prompt), and the
// service's CPU and memory per call while all calls are up.
func TestLoadIVR(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("HOTLINE_LOAD"))
	if n <= 0 {
		t.Skip("set HOTLINE_LOAD=<concurrent calls> to run the load run")
	}
	const rate = 50
	// The caller hangs every call up at once, hold after the first was
	// placed: the last call placed stays 20 s, the first longer.
	placing := time.Duration(n) * time.Second / rate
	hold := placing + 20*time.Second
	dir := t.TempDir()
	caller := filepath.Join(dir, "loadcaller")
	if out, err := exec.Command("go", "build", "-o", caller, "./load").CombinedOutput(); err != nil {
		t.Fatalf("build the caller: %v\n%s", err, out)
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	recDir := filepath.Join(dir, "rec")
	engine, err := sip.New(sip.Config{UDP: "127.0.0.1:0", PromptDir: "../prompts/wav", RecordingDir: recDir,
		MaxCalls: 2*n + 100, RTPPortMin: 20000, RTPPortMax: 40000}, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer engine.Close()
	clock := scenario.FixedClock(scenario.OfficeTime)
	led := scenario.SQLiteLedger(t, clock, nil, nil)
	svc, err := ivr.New(ivr.Config{QueueOfferMessage: -1}, ivr.Deps{Engine: engine, Ledger: led.Ledger, Calendar: led.Calendar,
		Lines: scenario.Lines, Clock: clock, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Count the calls closed in the ledger as they end (the bus drops
	// events for a subscriber that does not keep up).
	events := svc.Bus().Subscribe(ctx)
	ended := make(chan struct{}, 4*n)
	go func() {
		for e := range events {
			if e.Type == ivr.EventCallEnded {
				ended <- struct{}{}
			}
		}
	}()
	served := make(chan error, 1)
	go func() { served <- engine.Serve(ctx, svc) }()

	runtime.GC()
	baseRSS := rss(t)
	start := time.Now()
	cmd := exec.CommandContext(ctx, caller, "-role", "caller", "-target", engine.Addr("udp"),
		"-calls", strconv.Itoa(n), "-hold", hold.String(), "-rate", strconv.Itoa(rate))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The plateau: every call placed (n/rate s) and answered, until shortly
	// before the hang-ups.
	plateau := placing + 4*time.Second
	time.Sleep(time.Until(start.Add(plateau)))
	cpu0, at0 := cpuTime(), time.Now()
	inProgress := engine.Stats().CallsInProgress
	time.Sleep(time.Until(start.Add(hold - 2*time.Second)))
	cpu1, at1 := cpuTime(), time.Now()
	plateauRSS := rss(t)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("caller: %v\n%s", err, out.String())
	}
	var rep struct {
		Calls, Failed                  int
		LossPct                        float64
		FirstPacketP50, FirstPacketP99 time.Duration
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("caller report %q: %v", out.String(), err)
	}

	// Every answered call ends in the ledger.
	closed := 0
	timeout := time.After(60 * time.Second)
	for closed < n-rep.Failed {
		select {
		case <-ended:
			closed++
		case <-timeout:
			t.Fatalf("%d of %d calls closed in the ledger", closed, n-rep.Failed)
		}
	}
	bad := checkLoadLedger(t, led, n)
	cpuPerCall := (cpu1 - cpu0).Seconds() / at1.Sub(at0).Seconds() / float64(inProgress) * 100
	t.Logf("load: %d calls at %d/s, hold %s, GOMAXPROCS %d", n, rate, hold, runtime.GOMAXPROCS(0))
	t.Logf("failed calls %d, calls with a missing or broken ticket/recording %d, RTP loss %.3f%%", rep.Failed, bad, rep.LossPct)
	t.Logf("200 OK to first RTP packet: p50 %s, p99 %s", rep.FirstPacketP50, rep.FirstPacketP99)
	t.Logf("plateau: %d calls in progress, CPU %.2f%% of a core per call (%.0f%% in all), RSS %.0f KiB per call (%d MiB in all)",
		inProgress, cpuPerCall, cpuPerCall*float64(inProgress), float64(plateauRSS-baseRSS)/1024/float64(max(inProgress, 1)), plateauRSS>>20)
	if rep.Failed > 0 || bad > 0 {
		t.Errorf("%d failed calls, %d bad records", rep.Failed, bad)
	}
	cancel()
	<-served
	svc.Wait()
}

// checkLoadLedger counts the calls whose record is incomplete: not closed,
// no line chosen (on the call and on its ticket), or a recording that is
// missing or broken.
func checkLoadLedger(t *testing.T, led scenario.Ledger, n int) int {
	t.Helper()
	calls, err := led.Inspector.CallsFrom(context.Background(), ivr.CallerUnknown)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != n {
		t.Errorf("%d calls in the ledger, want %d", len(calls), n)
	}
	bad := 0
	for _, c := range calls {
		ok := c.Closed && c.Choice == "5" && c.Recording != ""
		if ok {
			tk, err := led.Inspector.Ticket(context.Background(), c.Ticket)
			ok = err == nil && tk.Line == "automotive"
		}
		if ok {
			info, err := scenario.CheckWAV(c.Recording)
			ok = err == nil && info.Seconds > 1
		}
		if !ok {
			bad++
			if bad <= 5 {
				t.Logf("bad call record %+v", c)
			}
		}
	}
	return bad
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rss is the resident memory of this process, from /proc.
func rss(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}
