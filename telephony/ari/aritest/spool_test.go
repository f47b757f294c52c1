package aritest

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSpoolWritesCompleteWAV(t *testing.T) {
	dir := t.TempDir()
	s := &Server{opts: Options{RecordingDir: dir}}
	s.spool(&recording{name: "hotline/call-1", format: "wav", final: 1500 * time.Millisecond})
	s.spool(&recording{name: "other", format: "gsm", final: time.Second})

	b, err := os.ReadFile(filepath.Join(dir, "hotline", "call-1.wav"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := int(binary.LittleEndian.Uint32(b[4:]))+8, len(b); got != want {
		t.Errorf("RIFF size %d, file %d bytes", got, want)
	}
	rate, channels, bits := binary.LittleEndian.Uint32(b[24:]), binary.LittleEndian.Uint16(b[22:]), binary.LittleEndian.Uint16(b[34:])
	if rate != 8000 || channels != 1 || bits != 16 {
		t.Errorf("format %d Hz, %d channels, %d bits; want 8000, 1, 16", rate, channels, bits)
	}
	if got, want := binary.LittleEndian.Uint32(b[40:]), uint32(1.5*8000*2); got != want {
		t.Errorf("data %d bytes, want %d (1.5 s)", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "other.gsm")); !os.IsNotExist(err) {
		t.Errorf("a gsm recording was written (stat: %v)", err)
	}
}
