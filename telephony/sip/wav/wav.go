// Package wav reads and writes the one audio format telephony needs:
// RIFF WAVE, PCM, 16-bit, 8 kHz. Prompts are read whole (they are short);
// recordings are written as they happen and their header is kept correct
// after every flush, so a file is playable whenever the process stops.
package wav

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
)

// SampleRate is the only rate telephony prompts and recordings use.
const SampleRate = 8000

// ErrFormat is matched by every error about a file that is not 8 kHz mono
// 16-bit PCM WAV.
var ErrFormat = errors.New("not an 8 kHz mono 16-bit PCM WAV")

// Format is what a WAV header says about its audio.
type Format struct {
	AudioFormat   uint16 // 1 is PCM
	Channels      uint16
	SampleRate    uint32
	BitsPerSample uint16
}

func (f Format) String() string {
	return fmt.Sprintf("format %d, %d channel(s), %d Hz, %d-bit", f.AudioFormat, f.Channels, f.SampleRate, f.BitsPerSample)
}

// ReadFile reads a prompt: an 8 kHz mono 16-bit PCM WAV. The error names
// the file and what is wrong with it.
func ReadFile(path string) ([]int16, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read prompt: %w", err)
	}
	samples, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("prompt %s: %w", path, err)
	}
	return samples, nil
}

// Decode parses a whole WAV file that must be 8 kHz mono 16-bit PCM.
func Decode(data []byte) ([]int16, error) {
	f, pcm, err := Parse(data)
	if err != nil {
		return nil, err
	}
	if f.AudioFormat != 1 || f.Channels != 1 || f.SampleRate != SampleRate || f.BitsPerSample != 16 {
		return nil, fmt.Errorf("%w: %s", ErrFormat, f)
	}
	samples := make([]int16, len(pcm)/2)
	for i := range samples {
		samples[i] = int16(binary.LittleEndian.Uint16(pcm[2*i:]))
	}
	return samples, nil
}

// Parse reads the header of a WAV file and returns its format and the
// bytes of its data chunk (cut to the file's end if the header claims
// more, as a recording cut short may).
func Parse(data []byte) (Format, []byte, error) {
	var f Format
	if len(data) < 12 || string(data[0:4]) != "RIFF" || string(data[8:12]) != "WAVE" {
		return f, nil, fmt.Errorf("%w: no RIFF/WAVE header", ErrFormat)
	}
	haveFmt := false
	rest := data[12:]
	for len(rest) >= 8 {
		id := string(rest[0:4])
		size := int64(binary.LittleEndian.Uint32(rest[4:8]))
		body := rest[8:]
		if size > int64(len(body)) {
			if id != "data" {
				return f, nil, fmt.Errorf("%w: chunk %q longer than the file", ErrFormat, id)
			}
			size = int64(len(body))
		}
		switch id {
		case "fmt ":
			if size < 16 {
				return f, nil, fmt.Errorf("%w: fmt chunk of %d bytes", ErrFormat, size)
			}
			f.AudioFormat = binary.LittleEndian.Uint16(body[0:])
			f.Channels = binary.LittleEndian.Uint16(body[2:])
			f.SampleRate = binary.LittleEndian.Uint32(body[4:])
			f.BitsPerSample = binary.LittleEndian.Uint16(body[14:])
			haveFmt = true
		case "data":
			if !haveFmt {
				return f, nil, fmt.Errorf("%w: data chunk before fmt chunk", ErrFormat)
			}
			return f, body[:size&^1], nil
		}
		// Chunks are padded to an even size.
		next := 8 + size + size&1
		if next > int64(len(rest)) {
			break
		}
		rest = rest[next:]
	}
	return f, nil, fmt.Errorf("%w: no data chunk", ErrFormat)
}

const headerSize = 44

// Writer writes a 16-bit 8 kHz PCM WAV file with one or two channels.
// It is not safe for concurrent use.
type Writer struct {
	f        *os.File
	channels int
	written  int64 // bytes of audio data
	buf      []byte
}

// Create creates path (truncating it) and writes a header for an empty
// file, so that even a file never written to is valid.
func Create(path string, channels int) (*Writer, error) {
	if channels != 1 && channels != 2 {
		return nil, fmt.Errorf("create %s: %d channels, want 1 or 2", path, channels)
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create recording: %w", err)
	}
	w := &Writer{f: f, channels: channels}
	if _, err := f.Write(w.header()); err != nil {
		f.Close()
		return nil, fmt.Errorf("write header of %s: %w", path, err)
	}
	return w, nil
}

func (w *Writer) header() []byte {
	h := make([]byte, headerSize)
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+w.written))
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1)
	binary.LittleEndian.PutUint16(h[22:], uint16(w.channels))
	binary.LittleEndian.PutUint32(h[24:], SampleRate)
	binary.LittleEndian.PutUint32(h[28:], uint32(SampleRate*2*w.channels))
	binary.LittleEndian.PutUint16(h[32:], uint16(2*w.channels))
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(w.written))
	return h
}

// Write appends interleaved samples (frames of Channels samples) and then
// brings the header's sizes up to date.
func (w *Writer) Write(samples []int16) error {
	if len(samples) == 0 {
		return nil
	}
	w.buf = w.buf[:0]
	for _, s := range samples {
		w.buf = binary.LittleEndian.AppendUint16(w.buf, uint16(s))
	}
	if _, err := w.f.WriteAt(w.buf, headerSize+w.written); err != nil {
		return fmt.Errorf("write recording %s: %w", w.f.Name(), err)
	}
	w.written += int64(len(w.buf))
	var sizes [4]byte
	binary.LittleEndian.PutUint32(sizes[:], uint32(36+w.written))
	if _, err := w.f.WriteAt(sizes[:], 4); err != nil {
		return fmt.Errorf("write recording header %s: %w", w.f.Name(), err)
	}
	binary.LittleEndian.PutUint32(sizes[:], uint32(w.written))
	if _, err := w.f.WriteAt(sizes[:], 40); err != nil {
		return fmt.Errorf("write recording header %s: %w", w.f.Name(), err)
	}
	return nil
}

// Frames returns the number of frames (samples per channel) written.
func (w *Writer) Frames() int64 { return w.written / int64(2*w.channels) }

// Close closes the file; its header is already correct.
func (w *Writer) Close() error {
	if err := w.f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("close recording: %w", err)
	}
	return nil
}

// Encode returns a whole mono WAV file holding samples (tests, tones).
func Encode(samples []int16) []byte {
	w := &Writer{channels: 1, written: int64(2 * len(samples))}
	out := w.header()
	for _, s := range samples {
		out = binary.LittleEndian.AppendUint16(out, uint16(s))
	}
	return out
}
