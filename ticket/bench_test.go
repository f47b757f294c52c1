package ticket_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"hotline/ticket"
)

// parallel8 makes RunParallel use 8 goroutines whatever GOMAXPROCS is.
func parallel8(b *testing.B) {
	b.SetParallelism((8 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
}

func perSecond(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tickets/s")
}

// benchStore opens a fresh ledger for a benchmark.
func benchStore(b *testing.B) *ticket.Store {
	s, err := ticket.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkOpenTicket opens a ticket for a call: ticket, event, deadlines
// and call row in one transaction.
func BenchmarkOpenTicket(b *testing.B) {
	serialAnd8(b, func(b *testing.B) func() {
		ctx, s := context.Background(), benchStore(b)
		var seq atomic.Int64
		return func() {
			id := seq.Add(1)
			if _, err := s.OpenForCall(ctx, ticket.CallInfo{CallID: fmt.Sprint("b", id), Caller: fmt.Sprintf("138%08d", id%5000), Dialled: "96596"}); err != nil {
				b.Error(err)
			}
		}
	})
}

// BenchmarkSetLine records the line a caller chose (with the 并单 check)
// on calls opened before, outside the timer: the write of every caller
// who presses a key. From 8 goroutines the writes share transactions.
func BenchmarkSetLine(b *testing.B) {
	serialAnd8(b, func(b *testing.B) func() {
		ctx, s := context.Background(), benchStore(b)
		// openCalls opens calls [from, to) from 8 goroutines.
		openCalls := func(from, to int) {
			var opened sync.WaitGroup
			for w := range 8 {
				opened.Go(func() {
					for i := from + w; i < to; i += 8 {
						if _, err := s.OpenForCall(ctx, ticket.CallInfo{CallID: fmt.Sprint("b", i), Caller: fmt.Sprintf("138%08d", i)}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			opened.Wait()
		}
		// b.N is known ahead for the 8 goroutines; b.Loop (serial) is
		// given calls in chunks, the timer stopped meanwhile.
		opened := b.N
		openCalls(0, opened)
		var seq atomic.Int64
		return func() {
			id := int(seq.Add(1) - 1)
			if id >= opened {
				b.StopTimer()
				openCalls(opened, opened+2000)
				opened += 2000
				b.StartTimer()
			}
			if _, err := s.SetLine(ctx, fmt.Sprint("b", id), "passenger"); err != nil {
				b.Error(err)
			}
		}
	})
}

// BenchmarkRawInsert is the floor to compare BenchmarkOpenTicket with: one
// prepared INSERT of a ticket-like row per transaction, on the same file
// settings.
func BenchmarkRawInsert(b *testing.B) {
	serialAnd8(b, func(b *testing.B) func() {
		ctx := context.Background()
		db, err := ticket.OpenRawForBench(ctx, filepath.Join(b.TempDir(), "raw.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		stmt, err := db.PrepareContext(ctx, `INSERT INTO raw (number, caller, status, created_at) VALUES (?, ?, 'registered', ?)`)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { stmt.Close() })
		var seq atomic.Int64
		return func() {
			id := seq.Add(1)
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := tx.StmtContext(ctx, stmt).ExecContext(ctx, fmt.Sprint("96596-20261130-", id),
				fmt.Sprintf("138%08d", id%5000), time.Now().UTC().Format("2006-01-02 15:04:05.000")); err != nil {
				b.Error(err)
			}
			if err := tx.Commit(); err != nil {
				b.Error(err)
			}
		}
	})
}

// serialAnd8 runs the operation that setup returns from one goroutine
// ("serial") and from eight ("8goroutines"), reporting operations per
// second, so that two benchmarks compare in one run.
func serialAnd8(b *testing.B, setup func(b *testing.B) func()) {
	for _, par := range []bool{false, true} {
		name := "serial"
		if par {
			name = "8goroutines"
		}
		b.Run(name, func(b *testing.B) {
			op := setup(b)
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			if par {
				parallel8(b)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						op()
					}
				})
			} else {
				for b.Loop() {
					op()
				}
			}
			perSecond(b)
			// CPU time (user and system, all threads) per operation: what
			// the rate would be on an idle machine, whatever else runs now.
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}
