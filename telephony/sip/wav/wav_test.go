package wav

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	in := []int16{0, 1, -1, 32767, -32768, 1234}
	got, err := Decode(Encode(in))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, in) {
		t.Errorf("got %v, want %v", got, in)
	}
}

func TestDecodeRefuses(t *testing.T) {
	good := Encode(make([]int16, 8))
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	tests := map[string][]byte{
		"empty":        nil,
		"not riff":     []byte("RIFX0000WAVEfmt "),
		"stereo":       mod(func(b []byte) []byte { b[22] = 2; return b }),
		"16 kHz":       mod(func(b []byte) []byte { b[24], b[25] = 0x80, 0x3e; return b }),
		"8-bit":        mod(func(b []byte) []byte { b[34] = 8; return b }),
		"a-law format": mod(func(b []byte) []byte { b[20] = 6; return b }),
		"no data":      good[:36],
		"short fmt":    mod(func(b []byte) []byte { b[16] = 8; return b }),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := Decode(data); !errors.Is(err, ErrFormat) {
				t.Errorf("err %v, want ErrFormat", err)
			}
		})
	}
}

// After every Write the file on disk is a complete WAV, so a recording cut
// short by a crash is still playable.
func TestWriterHeaderAlwaysValid(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.wav")
	w, err := Create(path, 2)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := w.Write([]int16{1, 2, 3, 4}); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path) // read while still open
		if err != nil {
			t.Fatal(err)
		}
		f, pcm, err := Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		if f.Channels != 2 || len(pcm) != len(data)-44 {
			t.Errorf("format %s, %d data bytes of %d", f, len(pcm), len(data)-44)
		}
	}
	if w.Frames() != 6 {
		t.Errorf("frames %d, want 6", w.Frames())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Encode([]int16{1, 2, 3}))
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEdata\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) { _, _, _ = Parse(b); _, _ = Decode(b) })
}
