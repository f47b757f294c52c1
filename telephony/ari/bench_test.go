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
// and the fake Asterisk (both in this process). Every call runs a menu: a
// prompt plays until the caller presses a key; the key stops it (barge-in)
// and the flow starts the prompt again. Per key press: ChannelDtmfReceived,
// DELETE /playbacks, PlaybackFinished, POST /play, PlaybackStarted. Each
// call's caller presses b.N keys, each once the prompt has restarted and
// after a pause ("every"; 0 for as fast as the system goes).
//
// Reported: events/s handled by the backend; p50/p99 from a key press (the
// fake writing ChannelDtmfReceived) to the backend's next REST request for
// that call; heap per call in Stasis (backend and fake together, so an
// upper bound for the backend).
//
//	go test -run '^$' -bench ConcurrentCalls -benchtime 20x ./telephony/ari/
func BenchmarkConcurrentCalls(b *testing.B) {
	for _, tc := range []struct {
		calls int
		every time.Duration
	}{{100, 0}, {1000, 0}, {1000, 5 * time.Second}, {1000, time.Second}, {1000, 250 * time.Millisecond}, {1000, 140 * time.Millisecond}} {
		b.Run(fmt.Sprintf("calls=%d/every=%s", tc.calls, tc.every), func(b *testing.B) { benchCalls(b, tc.calls, tc.every) })
	}
}

func benchCalls(b *testing.B, n int, every time.Duration) {
	// pprof labels split a CPU profile between the two sides:
	// go tool pprof -tagfocus side=backend (or fake, callers)
	var srv *aritest.Server
	var err error
	pprof.Do(context.Background(), pprof.Labels("side", "fake"), func(context.Context) {
		srv, err = aritest.Start(aritest.Options{PlaybackLength: time.Hour})
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
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

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
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	perCall := float64(after.HeapInuse-before.HeapInuse) / float64(n)

	handled0, _, _ := eng.EventCounts()
	cpu0 := cpuTime()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for i, p := range phones {
		wg.Add(1)
		go pprof.Do(context.Background(), pprof.Labels("side", "callers"), func(context.Context) {
			defer wg.Done()
			if every > 0 { // spread the calls over the period
				time.Sleep(every * time.Duration(i) / time.Duration(n))
			}
			for range b.N {
				if err := p.Press("1"); err != nil {
					b.Error(err)
					return
				}
				if _, err := p.NextType(wctx, "PlaybackStarted"); err != nil {
					b.Errorf("call %s: %v (flow ended?)", p.ID(), err)
					return
				}
				if every > 0 {
					time.Sleep(every)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	cpu := cpuTime() - cpu0
	handled1, _, _ := eng.EventCounts()

	// latency: each press to the next request about that call
	reqs := srv.Requests()
	byChannel := map[string][]time.Time{}
	for _, r := range reqs {
		if r.Channel != "" {
			byChannel[r.Channel] = append(byChannel[r.Channel], r.At)
		}
	}
	var lat []time.Duration
	for _, p := range phones {
		at := byChannel[p.ID()]
		for _, pressed := range p.PressedAt() {
			i, _ := slices.BinarySearchFunc(at, pressed, func(a, t time.Time) int { return a.Compare(t) })
			if i < len(at) {
				lat = append(lat, at[i].Sub(pressed))
			}
		}
	}
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
	for _, p := range phones {
		p.Hangup()
	}
}

// cpuTime is the CPU time (user and system) this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
