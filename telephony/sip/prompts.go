package sip

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"

	"github.com/emiago/diago/audio"

	"hotline/telephony/sip/wav"
)

// ErrUnknownPrompt is matched by the error of Play for a prompt that is not
// in the prompt directory.
var ErrUnknownPrompt = errors.New("unknown prompt")

// frameSamples is one RTP packet of G.711 at 8 kHz: 20 ms.
const frameSamples = 160

// prompt is a prompt held in memory, already encoded for both codecs so
// that playing it costs no conversion.
type prompt struct {
	pcm  []int16
	ulaw []byte
	alaw []byte
}

func newPrompt(pcm []int16) *prompt {
	// Pad to whole frames with silence.
	if r := len(pcm) % frameSamples; r != 0 {
		pcm = append(pcm, make([]int16, frameSamples-r)...)
	}
	raw := make([]byte, 2*len(pcm))
	for i, s := range pcm {
		raw[2*i], raw[2*i+1] = byte(s), byte(uint16(s)>>8)
	}
	p := &prompt{pcm: pcm, ulaw: make([]byte, len(pcm)), alaw: make([]byte, len(pcm))}
	// The encoders cannot fail on an even-length buffer.
	_, _ = audio.EncodeUlawTo(p.ulaw, raw)
	_, _ = audio.EncodeAlawTo(p.alaw, raw)
	return p
}

func (p *prompt) frames() int { return len(p.pcm) / frameSamples }

// loadPrompts reads every <name>.wav of dir; a file in any other format is
// refused with its name. Every bad file is reported, not just the first.
func loadPrompts(fsys fs.FS, where string) (map[string]*prompt, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("prompt directory %s: %w", where, err)
	}
	prompts := make(map[string]*prompt)
	var errs []error
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if !e.IsDir() && strings.EqualFold(filepath.Ext(e.Name()), ".wav") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, n := range names {
		data, err := fs.ReadFile(fsys, n)
		if err != nil {
			errs = append(errs, fmt.Errorf("read prompt: %w", err))
			continue
		}
		pcm, err := wav.Decode(data)
		if err != nil {
			errs = append(errs, fmt.Errorf("prompt %s: %w", filepath.Join(where, n), err))
			continue
		}
		prompts[strings.TrimSuffix(n, filepath.Ext(n))] = newPrompt(pcm)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return prompts, nil
}

// decodeG711 appends the PCM of a G.711 payload to dst.
func decodeG711(dst []int16, payload []byte, alaw bool) []int16 {
	for _, b := range payload {
		if alaw {
			dst = append(dst, alawToPCM(b))
		} else {
			dst = append(dst, ulawToPCM(b))
		}
	}
	return dst
}

// encodeG711 appends the G.711 encoding of pcm to dst (bridge transcoding,
// PCMU to PCMA or back; rare, so it goes through diago's encoder).
func encodeG711(dst []byte, pcm []int16, alaw bool) []byte {
	raw := make([]byte, 2*len(pcm))
	for i, s := range pcm {
		raw[2*i], raw[2*i+1] = byte(s), byte(uint16(s)>>8)
	}
	out := make([]byte, len(pcm))
	if alaw {
		_, _ = audio.EncodeAlawTo(out, raw)
	} else {
		_, _ = audio.EncodeUlawTo(out, raw)
	}
	return append(dst, out...)
}

// G.711 decoding per ITU-T G.711, written out so that every received
// packet is converted without a byte-slice round trip.

func ulawToPCM(u byte) int16 {
	u = ^u
	t := (int(u&0x0f) << 3) + 0x84
	t <<= (u & 0x70) >> 4
	if u&0x80 != 0 {
		return int16(0x84 - t)
	}
	return int16(t - 0x84)
}

func alawToPCM(a byte) int16 {
	a ^= 0x55
	t := int(a&0x0f) << 4
	seg := int(a&0x70) >> 4
	switch seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t += 0x108
		t <<= seg - 1
	}
	if a&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}
