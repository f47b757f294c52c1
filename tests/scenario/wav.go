package scenario

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"hotline/prompts"
)

// testPromptLength gives the prompts of the test set their lengths: long
// enough to hang up or press keys during them, short enough for quick runs.
func testPromptLength(name string) float64 {
	switch name {
	case "welcome":
		return 2
	case "menu":
		return 1
	case "after-hours", "leave-message":
		return 0.6
	default:
		return 0.4
	}
}

// WriteTestPrompts writes every prompt of the manifest into dir as a short
// tone (8 kHz, mono, 16-bit PCM), so that scenarios run in seconds.
func WriteTestPrompts(dir string) error {
	for i, e := range prompts.Manifest() {
		secs := testPromptLength(e.Name)
		n := int(secs * 8000)
		pcm := make([]int16, n)
		freq := 300 + float64(i%20)*40
		for j := range pcm {
			pcm[j] = int16(8000 * math.Sin(2*math.Pi*freq*float64(j)/8000))
		}
		if err := writeWAV(filepath.Join(dir, e.Name+".wav"), pcm); err != nil {
			return err
		}
	}
	return nil
}

func writeWAV(path string, pcm []int16) error {
	data := make([]byte, 44+2*len(pcm))
	copy(data[0:], "RIFF")
	binary.LittleEndian.PutUint32(data[4:], uint32(36+2*len(pcm)))
	copy(data[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(data[16:], 16)
	binary.LittleEndian.PutUint16(data[20:], 1)
	binary.LittleEndian.PutUint16(data[22:], 1)
	binary.LittleEndian.PutUint32(data[24:], 8000)
	binary.LittleEndian.PutUint32(data[28:], 16000)
	binary.LittleEndian.PutUint16(data[32:], 2)
	binary.LittleEndian.PutUint16(data[34:], 16)
	copy(data[36:], "data")
	binary.LittleEndian.PutUint32(data[40:], uint32(2*len(pcm)))
	for i, s := range pcm {
		binary.LittleEndian.PutUint16(data[44+2*i:], uint16(s))
	}
	return os.WriteFile(path, data, 0o644)
}

// WAVInfo is what CheckWAV learnt of a recording.
type WAVInfo struct {
	Channels int
	Rate     int
	Seconds  float64
	Peak     int // largest absolute sample: 0 is silence
}

// CheckWAV reads a recording and checks that it is a complete RIFF PCM
// file: headers that agree with the file's size and a data chunk that is
// all there.
func CheckWAV(path string) (WAVInfo, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return WAVInfo{}, err
	}
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return WAVInfo{}, errors.New("not a RIFF WAVE file")
	}
	if got := int(binary.LittleEndian.Uint32(b[4:])) + 8; got != len(b) {
		return WAVInfo{}, fmt.Errorf("RIFF size says %d bytes, file has %d", got, len(b))
	}
	var info WAVInfo
	bits := 0
	for off := 12; off+8 <= len(b); {
		id, size := string(b[off:off+4]), int(binary.LittleEndian.Uint32(b[off+4:]))
		body := off + 8
		if body+size > len(b) {
			return WAVInfo{}, fmt.Errorf("chunk %q of %d bytes runs past the end", id, size)
		}
		switch id {
		case "fmt ":
			if size < 16 || binary.LittleEndian.Uint16(b[body:]) != 1 {
				return WAVInfo{}, errors.New("not PCM")
			}
			info.Channels = int(binary.LittleEndian.Uint16(b[body+2:]))
			info.Rate = int(binary.LittleEndian.Uint32(b[body+4:]))
			bits = int(binary.LittleEndian.Uint16(b[body+14:]))
		case "data":
			if bits != 16 || info.Channels == 0 || info.Rate == 0 {
				return WAVInfo{}, errors.New("data before a 16-bit fmt chunk")
			}
			frames := size / 2 / info.Channels
			info.Seconds = float64(frames) / float64(info.Rate)
			for i := body; i+1 < body+size; i += 2 {
				s := int(int16(binary.LittleEndian.Uint16(b[i:])))
				info.Peak = max(info.Peak, s, -s)
			}
			return info, nil
		}
		off = body + size + size%2
	}
	return WAVInfo{}, errors.New("no data chunk")
}
