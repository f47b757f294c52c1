package ari_test

import (
	"context"
	"fmt"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"hotline/telephony"
	"hotline/telephony/ari"
	"hotline/telephony/ari/aritest"
)

// BenchmarkConcurrentCalls drives N calls in Stasis through the backend
// and the fake Asterisk (both in this process, on the same cores). Every
// call runs a menu: a prompt plays until the caller presses a key; the key
// stops it (barge-in) and the flow starts the prompt again. Per key press:
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
// can press, for the backend and the fake together on two cores.
//
// Reported: events/s handled by the backend; p50/p99 from a key press (the
// fake queueing ChannelDtmfReceived) to the backend's next REST request
// for that call; CPU (user and system, both sides) per event; heap per
// call in Stasis (live heap) and bytes allocated per event (backend and fake
// together, so upper bounds for the backend). The fake keeps no history (Options.NoHistory): its records
// would be most of the heap and of the GC work. The goroutines carry pprof
// labels, so that a CPU profile splits the CPU between the sides:
//
//	go test -run '^$' -bench ConcurrentCalls -benchtime 20x -cpuprofile cpu.out ./telephony/ari/
//	go tool pprof -tags cpu.out                      # side=backend, fake, callers
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
	reqs := &requestLog{at: map[string][]int64{}}
	var srv *aritest.Server
	var err error
	pprof.Do(context.Background(), pprof.Labels("side", "fake"), func(context.Context) {
		srv, err = aritest.Start(aritest.Options{PlaybackLength: time.Hour, NoHistory: true, OnRequest: reqs.add})
	})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	cfg := testConfig(srv)
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
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer wcancel()
	if err := srv.AwaitConnected(wctx, true); err != nil {
		b.Fatal(err)
	}
	phones := make([]*aritest.Phone, n)
	for i := range phones {
		p, err := srv.Call(aritest.Inbound{Caller: fmt.Sprintf("138%08d", i)})
		if err != nil {
			b.Fatal(err)
		}
		phones[i] = p
	}
	for _, p := range phones {
		if _, err := p.NextType(wctx, "PlaybackStarted"); err != nil {
			b.Fatal(err)
		}
	}
	reqs.mu.Lock()
	for _, p := range phones { // room for the run: the log allocates nothing during it
		reqs.at[p.ID()] = slices.Grow(reqs.at[p.ID()], 2*b.N+4)
	}
	reqs.mu.Unlock()
	perCall := (liveHeap() - before) / float64(n)

	handled0, _, _ := eng.EventCounts()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0 := cpuTime()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for i, p := range phones {
		wg.Add(1)
		go pprof.Do(context.Background(), pprof.Labels("side", "callers"), func(context.Context) {
			defer wg.Done()
			next := start.Add(every * time.Duration(i) / time.Duration(n)) // spread over the period
			for range b.N {
				if every > 0 {
					if d := time.Until(next); d > 0 {
						time.Sleep(d)
					}
					next = next.Add(every)
				}
				if err := p.Press("1"); err != nil {
					b.Error(err)
					return
				}
				if err := p.Await(wctx, "PlaybackStarted"); err != nil {
					b.Errorf("call %s: %v (flow ended?)", p.ID(), err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	cpu := cpuTime() - cpu0
	handled1, _, _ := eng.EventCounts()
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)

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
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	}
	b.ReportMetric(float64(handled1-handled0)/elapsed.Seconds(), "events/s")
	// CPU spent (backend, fake and HTTP on both sides) per event: what the
	// figures would be on an idle machine, whatever else runs now
	b.ReportMetric(float64(cpu.Microseconds())/float64(handled1-handled0), "cpu-µs/event")
	b.ReportMetric(perCall, "heap-B/call")
	// allocated (both sides) per event: what drives the GC, whose cycles
	// make the tail of the latency
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(handled1-handled0), "alloc-B/event")
	for _, p := range phones {
		p.Hangup()
	}
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
