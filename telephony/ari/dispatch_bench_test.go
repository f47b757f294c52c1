package ari

import (
	"fmt"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"hotline/telephony"
)

// BenchmarkEventDispatch measures the backend's event path alone: decode a
// frame and apply it (digits to the call's queue, playbacks finished), as
// the reader goroutine does, for 1,000 calls in Stasis, without network.
//
//	go test -run '^$' -bench EventDispatch ./telephony/ari/
func BenchmarkEventDispatch(b *testing.B) {
	cfg := Config{URL: "http://127.0.0.1:1/ari", Username: "u", Password: "p"}
	e, err := New(cfg, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	const calls = 1000
	var frames [][]byte
	var ids []string
	for i := range calls {
		id := fmt.Sprintf("1795983202.%d", i)
		ids = append(ids, id)
		c := e.newCall(telephony.Info{ID: id, Direction: telephony.Inbound})
		e.calls[id] = c
		go func() { // a flow that reads its digits
			for {
				select {
				case <-c.Digits():
				case <-c.Done():
					return
				}
			}
		}()
		ch := fmt.Sprintf(`{"id":%q,"name":"PJSIP/sipp-%08x","state":"Up","protocol_id":"1-23608@127.0.0.1","caller":{"name":"Test Caller","number":"13800000001"},"connected":{"name":"","number":""},"accountcode":"","dialplan":{"context":"from-carrier","exten":"96596","priority":2,"app_name":"Stasis","app_data":"hotline,inbound"},"creationtime":"2026-11-29T20:13:22.830+0000","language":"zh"}`, id, i)
		pb := fmt.Sprintf(`{"id":"pb-%d","media_uri":"sound:hotline/menu","target_uri":"channel:%s","language":"zh","state":"playing"}`, i, id)
		frames = append(frames,
			[]byte(`{"type":"ChannelDtmfReceived","timestamp":"2026-11-29T20:13:26.481+0000","digit":"1","duration_ms":280,"channel":`+ch+`,"asterisk_id":"00:00:00:00:00:00","application":"hotline"}`),
			[]byte(`{"type":"PlaybackFinished","timestamp":"2026-11-29T20:13:26.490+0000","playback":`+pb+`,"asterisk_id":"00:00:00:00:00:00","application":"hotline"}`),
			[]byte(`{"type":"PlaybackStarted","timestamp":"2026-11-29T20:13:26.491+0000","playback":`+pb+`,"asterisk_id":"00:00:00:00:00:00","application":"hotline"}`),
			[]byte(`{"type":"ChannelVarset","timestamp":"2026-11-29T20:13:26.491+0000","variable":"RTPAUDIOQOS","value":"ssrc=1;themssrc=2","channel":`+ch+`,"asterisk_id":"00:00:00:00:00:00","application":"hotline"}`),
		)
	}
	b.ReportAllocs()
	var ru0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	start := time.Now()
	var ev event
	for i := range b.N {
		if err := decodeEvent(frames[i%len(frames)], &ev); err != nil {
			b.Fatal(err)
		}
		e.handle(&ev)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	var ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/event")
	b.StopTimer()
	for _, id := range ids {
		e.finishCall(e.calls[id], 0, "")
	}
}
