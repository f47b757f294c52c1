package ticket_test

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"hotline/ticket"
	"hotline/ticket/report"
)

// benchLedger is a ledger of a million tickets in October 2026, built once
// per machine (in the temporary directory) and reused by later runs.
func benchLedger(b *testing.B) string {
	b.Helper()
	path := filepath.Join(os.TempDir(), "hotline-bench-report-1m-v1.db")
	if _, err := os.Stat(path); err == nil {
		return path
	}
	ctx := context.Background()
	tmp := path + ".building"
	os.Remove(tmp)
	start := time.Now()
	s, err := ticket.Open(ctx, tmp)
	if err != nil {
		b.Fatal(err)
	}
	if err := ticket.BulkLoadForBench(ctx, s, 1_000_000); err != nil {
		b.Fatal(err)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	b.Logf("built the 1,000,000-ticket ledger in %s", time.Since(start).Round(time.Millisecond))
	return path
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSS resets (when asked) and reads the process's peak resident set.
func peakRSS(b *testing.B, reset bool) float64 {
	if reset {
		os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}

// BenchmarkMonthlyReport builds the report of a month of 1,000,000
// tickets from the ledger and renders it (CSV and XLSX).
func BenchmarkMonthlyReport(b *testing.B) {
	path := benchLedger(b)
	ctx := context.Background()
	s, err := ticket.Open(ctx, path, ticket.WithClock(func() time.Time { return local(2026, 11, 2, 9, 0) }))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	dir := report.Directory{}
	peakRSS(b, true)
	cpu0 := cpuTime()
	b.ReportAllocs()
	for b.Loop() {
		r, _, err := report.Get(ctx, s, "2026-10", true, func(f ticket.MonthFigures) report.Report {
			return report.Build(f, s.Deadlines(), dir, report.DefaultRules(), shanghai)
		})
		if err != nil {
			b.Fatal(err)
		}
		if r.Tickets+r.Repeats != 1_000_000 {
			b.Fatalf("report counts %d contacts, want 1000000", r.Tickets+r.Repeats)
		}
		for _, format := range []string{"csv", "xlsx"} {
			if err := report.Render(io.Discard, r, format); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(peakRSS(b, false), "peak-RSS-MB")
	// CPU time tells the cost on a machine shared with other work, where
	// wall time mostly tells the load.
	b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}
