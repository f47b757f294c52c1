package aritest

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"time"
)

// spool writes a finished recording into Options.RecordingDir as
// Asterisk's format_wav does: RIFF PCM, 8 kHz, mono, 16-bit, as long as
// the recording (pauses left out). The fake carries no media, so the audio
// is a stand-in for the far end's voice: a 440 Hz tone at -12 dBFS. What
// the file proves is where the recording landed, that it is complete, and
// how long it ran; not what was said. Formats other than wav are not
// written. A write failure is in History ("spool failed ...").
func (s *Server) spool(r *recording) {
	if s.opts.RecordingDir == "" || r.format != "wav" {
		return
	}
	path := filepath.Join(s.opts.RecordingDir, filepath.FromSlash(r.name)+".wav")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		s.logf("spool failed %s: %v", r.name, err)
		return
	}
	if err := os.WriteFile(path, toneWAV(r.final), 0o644); err != nil {
		s.logf("spool failed %s: %v", r.name, err)
	}
}

// toneWAV is d of a 440 Hz tone as an 8 kHz mono 16-bit WAV file.
func toneWAV(d time.Duration) []byte {
	const rate = 8000
	n := int(d * rate / time.Second)
	b := make([]byte, 44+2*n)
	copy(b, "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+2*n))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1) // PCM
	binary.LittleEndian.PutUint16(b[22:], 1) // mono
	binary.LittleEndian.PutUint32(b[24:], rate)
	binary.LittleEndian.PutUint32(b[28:], 2*rate)
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(2*n))
	for i := range n {
		v := int16(8192 * math.Sin(2*math.Pi*440*float64(i)/rate))
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(v))
	}
	return b
}
