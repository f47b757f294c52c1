package sip

import (
	"path/filepath"
	"testing"
	"time"
)

// Per-packet work of a call's reader: decoding 20 ms of G.711 and placing
// it in a recording.
func BenchmarkDecodeAndRecord(b *testing.B) {
	now := time.Unix(0, 0)
	r, err := newRecorder(filepath.Join(b.TempDir(), "b.wav"), "b", 2, func() time.Time { return now })
	if err != nil {
		b.Fatal(err)
	}
	defer r.Stop(b.Context())
	payload := make([]byte, frameSamples)
	var pcm []int16
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(20 * time.Millisecond)
		pcm = decodeG711(pcm[:0], payload, false)
		r.add(chanCaller, pcm, now)
	}
}

func BenchmarkDTMFDetector(b *testing.B) {
	var d dtmfDetector
	p := eventPayload(5, false, 10, 160)
	now := time.Unix(0, 0)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = d.packet(uint32(i/8), p, now)
	}
}
