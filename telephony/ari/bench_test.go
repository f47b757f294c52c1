package ari_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"hotline/telephony"
	"hotline/telephony/ari"
	"hotline/telephony/ari/aritest"
)

// BenchmarkConcurrentCalls drives N calls in Stasis through the backend
// (in this process) and the fake Asterisk with its callers (in a process of
// its own, as Asterisk is; both on the same two cores). Every call runs a
// menu: a prompt plays until the caller presses a key; the key stops it
// (barge-in) and the flow starts the prompt again. Per key press:
// ChannelDtmfReceived, DELETE /playbacks, PlaybackFinished, POST /play,
// PlaybackStarted: three events and two requests. Each call's caller
// presses b.N keys, each once the prompt has restarted:
//
//   - every=0s: at once, as fast as the system goes (a closed loop: the
//     latency is then the queue of a thousand callers waiting on two
//     cores, and says little);
//   - every=d: on a fixed schedule, a key every d per call (the calls'
//     schedules spread over d), so that the load is 3 events/d per call
//     whatever the latency. A press whose prompt has not restarted by its
//     time waits for it, and the schedule goes on from there.
//
// The goal, 20,000 events/s with 1,000 calls and p99 under 5 ms, is the
// every=150ms case: 6.7 keys a second per call, far more than a caller
// can press.
//
// Reported: events/s handled by the backend; p50/p99 from a key press (the
// fake queueing ChannelDtmfReceived) to the backend's next REST request
// for that call, as the fake saw them; CPU (user and system) per event, of
// the backend and of both processes; the backend's live heap per call in
// Stasis and bytes it allocated per event. The fake keeps no history
// (Options.NoHistory). The backend's goroutines carry a pprof label:
//
//	go test -run '^$' -bench ConcurrentCalls -benchtime 20x -cpuprofile cpu.out ./telephony/ari/
//	go tool pprof -tagfocus side=backend -top cpu.out
func BenchmarkConcurrentCalls(b *testing.B) {
	for _, tc := range []struct {
		calls int
		every time.Duration
	}{{100, 0}, {1000, 0}, {1000, 5 * time.Second}, {1000, time.Second}, {1000, 250 * time.Millisecond}, {1000, 200 * time.Millisecond}, {1000, 150 * time.Millisecond}} {
		b.Run(fmt.Sprintf("calls=%d/every=%s", tc.calls, tc.every), func(b *testing.B) { benchCalls(b, tc.calls, tc.every) })
	}
}

// requestLog keeps when each channel's requests arrived, without
// pointers for the GC to follow.
type requestLog struct {
	mu sync.Mutex
	at map[string][]int64 // unix nanoseconds, by channel
}

func (l *requestLog) add(r aritest.Request) {
	if r.Channel == "" {
		return
	}
	l.mu.Lock()
	l.at[r.Channel] = append(l.at[r.Channel], r.At.UnixNano())
	l.mu.Unlock()
}

func benchCalls(b *testing.B, n int, every time.Duration) {
	fake, err := startFakeProcess(n, b.N, every)
	if err != nil {
		b.Fatal(err)
	}
	defer fake.stop()
	cfg := testConfigURL(fake.url)
	cfg.ShutdownGrace = time.Second
	cfg.RequestTimeout = 30 * time.Second // measure queueing, not give up
	eng, err := ari.New(cfg, ari.Options{Logger: testLogger(b)})
	if err != nil {
		b.Fatal(err)
	}
	h := telephony.HandlerFunc(func(ctx context.Context, call telephony.Call) {
		if err := call.Answer(ctx); err != nil {
			return
		}
		for {
			if _, err := telephony.PlayCollect(ctx, call, []string{"menu"}, telephony.Collect{BargeIn: true, FirstDigit: time.Hour}); err != nil {
				return
			}
		}
	})
	before := liveHeap()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go pprof.Do(ctx, pprof.Labels("side", "backend"), func(ctx context.Context) { served <- eng.Serve(ctx, h) })
	defer func() { cancel(); <-served }()
	if err := fake.await("ready"); err != nil {
		b.Fatal(err)
	}
	perCall := (liveHeap() - before) / float64(n)

	handled0, _, _ := eng.EventCounts()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0 := cpuTime()
	b.ResetTimer()
	start := time.Now()
	res, err := fake.run()
	if err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cpu := cpuTime() - cpu0
	handled1, _, _ := eng.EventCounts()
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)

	events := float64(handled1 - handled0)
	b.ReportMetric(res.P99, "p99-ms")
	b.ReportMetric(res.P50, "p50-ms")
	b.ReportMetric(events/elapsed.Seconds(), "events/s")
	// CPU per event, of the backend alone and of both processes (the
	// fake's HTTP and WebSocket as well): what the figures would be on an
	// idle machine, whatever else runs now
	b.ReportMetric(float64(cpu.Microseconds())/events, "backend-cpu-µs/event")
	b.ReportMetric(float64((cpu+res.CPU).Microseconds())/events, "cpu-µs/event")
	b.ReportMetric(perCall, "heap-B/call")
	// allocated by the backend per event: what drives its GC, whose
	// cycles make the tail of the latency
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/events, "alloc-B/event")
}

// fakeProcess is the fake Asterisk and its callers, run in a process of
// their own as Asterisk is: its work and its garbage are not the
// backend's. The process is this test binary running
// TestFakeAsteriskForBench; it talks over its standard input and output.
type fakeProcess struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
	url string
}

// fakeResult is what the fake measured of a run.
type fakeResult struct {
	P50, P99 float64       // ms from a key press to the backend's next request for that call
	CPU      time.Duration // the fake process's CPU during the run
}

const fakeEnv = "HOTLINE_ARI_BENCH_FAKE"

func startFakeProcess(calls, presses int, every time.Duration) (*fakeProcess, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "-test.run=^TestFakeAsteriskForBench$", "-test.count=1")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d %d %s", fakeEnv, calls, presses, every))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	f := &fakeProcess{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	f.out.Buffer(nil, 1<<20)
	if f.url, err = f.next("url"); err != nil {
		f.stop()
		return nil, err
	}
	return f, nil
}

// next reads the fake's lines up to the one about what, and returns the
// rest of it.
func (f *fakeProcess) next(what string) (string, error) {
	for f.out.Scan() {
		if rest, ok := strings.CutPrefix(f.out.Text(), "fake-"+what); ok && (rest == "" || rest[0] == ' ') {
			return strings.TrimPrefix(rest, " "), nil
		}
	}
	return "", fmt.Errorf("the fake Asterisk ended before saying %s: %v", what, f.out.Err())
}

func (f *fakeProcess) await(what string) error {
	_, err := f.next(what)
	return err
}

// run starts the callers' presses and waits for them to end.
func (f *fakeProcess) run() (fakeResult, error) {
	var res fakeResult
	if _, err := io.WriteString(f.in, "go\n"); err != nil {
		return res, err
	}
	line, err := f.next("result")
	if err != nil {
		return res, err
	}
	return res, json.Unmarshal([]byte(line), &res)
}

func (f *fakeProcess) stop() {
	f.in.Close() // the fake hangs up and ends; one stuck mid-way is killed
	kill := time.AfterFunc(10*time.Second, func() { f.cmd.Process.Kill() })
	defer kill.Stop()
	f.cmd.Wait()
}

// TestFakeAsteriskForBench is the fake Asterisk of BenchmarkConcurrentCalls
// in the process the benchmark starts; it is skipped otherwise. It starts
// the fake, says its URL, places the calls once the backend is connected,
// says "ready" once every call's menu plays, and on "go" has every caller
// press its keys on schedule, then says what it measured.
func TestFakeAsteriskForBench(t *testing.T) {
	spec := os.Getenv(fakeEnv)
	if spec == "" {
		t.Skip("run by BenchmarkConcurrentCalls")
	}
	var n, presses int
	var everyText string
	if _, err := fmt.Sscan(spec, &n, &presses, &everyText); err != nil {
		t.Fatalf("%s=%q: %v", fakeEnv, spec, err)
	}
	every, err := time.ParseDuration(everyText)
	if err != nil {
		t.Fatal(err)
	}
	reqs := &requestLog{at: map[string][]int64{}}
	srv, err := aritest.Start(aritest.Options{PlaybackLength: time.Hour, NoHistory: true, OnRequest: reqs.add})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	fmt.Printf("fake-url %s\n", srv.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := srv.AwaitConnected(ctx, true); err != nil {
		t.Fatal(err)
	}
	phones := make([]*aritest.Phone, n)
	for i := range phones {
		if phones[i], err = srv.Call(aritest.Inbound{Caller: fmt.Sprintf("138%08d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for _, p := range phones {
			p.Hangup()
		}
	}()
	for _, p := range phones {
		if _, err := p.NextType(ctx, "PlaybackStarted"); err != nil {
			t.Fatal(err)
		}
	}
	reqs.mu.Lock()
	for _, p := range phones { // room for the run: the log allocates nothing during it
		reqs.at[p.ID()] = slices.Grow(reqs.at[p.ID()], 2*presses+4)
	}
	reqs.mu.Unlock()
	fmt.Println("fake-ready")
	if line, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil || line != "go\n" {
		t.Fatalf("waiting for go: %q %v", line, err)
	}

	cpu0 := cpuTime()
	start := time.Now()
	var wg sync.WaitGroup
	for i, p := range phones {
		wg.Go(func() {
			next := start.Add(every * time.Duration(i) / time.Duration(n)) // spread over the period
			for range presses {
				if every > 0 {
					if d := time.Until(next); d > 0 {
						time.Sleep(d)
					}
					next = next.Add(every)
				}
				if err := p.Press("1"); err != nil {
					t.Error(err)
					return
				}
				if err := p.Await(ctx, "PlaybackStarted"); err != nil {
					t.Errorf("call %s: %v (flow ended?)", p.ID(), err)
					return
				}
			}
		})
	}
	wg.Wait()
	res := fakeResult{CPU: cpuTime() - cpu0}

	// latency: each press to the next request about that call
	reqs.mu.Lock()
	var lat []time.Duration
	for _, p := range phones {
		at := reqs.at[p.ID()]
		for _, pressed := range p.PressedAt() {
			t := pressed.UnixNano()
			if i, _ := slices.BinarySearch(at, t); i < len(at) {
				lat = append(lat, time.Duration(at[i]-t))
			}
		}
	}
	reqs.mu.Unlock()
	slices.Sort(lat)
	if len(lat) > 0 {
		res.P99 = float64(lat[len(lat)*99/100].Microseconds()) / 1000
		res.P50 = float64(lat[len(lat)/2].Microseconds()) / 1000
	}
	out, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("fake-result %s\n", out)
	// Hang up once the benchmark has read the result and closed the pipe.
	io.Copy(io.Discard, os.Stdin)
}

// liveHeap is the bytes of live objects, after collecting twice (what a
// previous benchmark left may only be unreachable after the first).
func liveHeap() float64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapAlloc)
}

// cpuTime is the CPU time (user and system) this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
