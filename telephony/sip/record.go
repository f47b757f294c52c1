package sip

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"hotline/telephony"
	"hotline/telephony/sip/wav"
)

// Recordings are stereo WAV files, 8 kHz 16-bit: the left channel is the
// caller (what the far end said), the right channel is the service (the
// prompts played, or in a bridge the other party). Audio is placed by its
// arrival time, so silence and gaps keep their length and both channels
// stay aligned.

const (
	chanCaller  = 0
	chanService = 1
)

// recorder writes one recording. Packets from the call's reader and from
// the prompt pacer arrive on different goroutines; the recorder keeps the
// last moments of both channels in memory and writes them out, interleaved,
// once they are older than flushDelay, so late packets still land in place.
type recorder struct {
	mu       sync.Mutex
	name     string
	path     string
	w        *wav.Writer
	channels int
	now      func() time.Time

	start    time.Time // time of sample 0, moved forward by pauses
	paused   bool
	pausedAt time.Time
	base     int64      // frame index of pend[*][0]; frames before it are written
	pend     [2][]int16 // samples not yet written, per channel, from base
	next     [2]int64   // where the next packet of each channel is expected
	closed   bool
	err      error // first write error; the recording stops there
	mix      []int16
}

const (
	flushDelay = 400 * time.Millisecond // keep this much audio for late packets
	flushEvery = wav.SampleRate / 2     // write in chunks of half a second
	resync     = wav.SampleRate / 5     // a packet this far off its expected place starts a new run
)

func newRecorder(path, name string, channels int, now func() time.Time) (*recorder, error) {
	w, err := wav.Create(path, channels)
	if err != nil {
		return nil, err
	}
	return &recorder{name: name, path: path, w: w, channels: channels, now: now, start: now()}, nil
}

// add places the samples of one packet of channel ch that arrived at t.
func (r *recorder) add(ch int, pcm []int16, t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.paused || r.err != nil || ch >= r.channels {
		return
	}
	end := int64(t.Sub(r.start).Seconds() * wav.SampleRate)
	pos := r.next[ch]
	if want := end - int64(len(pcm)); pos < want-resync || pos > want+resync {
		pos = max(want, 0)
	}
	r.next[ch] = pos + int64(len(pcm))
	if pos < r.base {
		skip := r.base - pos
		if skip >= int64(len(pcm)) {
			return
		}
		pcm, pos = pcm[skip:], r.base
	}
	off := int(pos - r.base)
	if need := off + len(pcm); need > len(r.pend[ch]) {
		r.pend[ch] = append(r.pend[ch], make([]int16, need-len(r.pend[ch]))...)
	}
	copy(r.pend[ch][off:], pcm)
	if upto := end - int64(flushDelay.Seconds()*wav.SampleRate); upto-r.base >= flushEvery {
		r.flush(upto)
	}
}

// flush writes the frames before upto.
func (r *recorder) flush(upto int64) {
	n := int(upto - r.base)
	if n <= 0 || r.err != nil {
		return
	}
	r.mix = r.mix[:0]
	for i := range n {
		for ch := range r.channels {
			var s int16
			if i < len(r.pend[ch]) {
				s = r.pend[ch][i]
			}
			r.mix = append(r.mix, s)
		}
	}
	if err := r.w.Write(r.mix); err != nil {
		r.err = err
	}
	for ch := range r.pend {
		if n >= len(r.pend[ch]) {
			r.pend[ch] = r.pend[ch][:0]
		} else {
			r.pend[ch] = append(r.pend[ch][:0], r.pend[ch][n:]...)
		}
	}
	r.base = upto
}

// Pause leaves out the audio until Resume.
func (r *recorder) Pause(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.paused && !r.closed {
		r.paused, r.pausedAt = true, r.now()
	}
	return nil
}

// Resume starts capturing again; the paused span takes no room in the file.
func (r *recorder) Resume(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.paused {
		r.paused = false
		r.start = r.start.Add(r.now().Sub(r.pausedAt))
	}
	return nil
}

// Stop writes what is left and closes the file. It may be called any
// number of times, also after the call ended.
func (r *recorder) Stop(ctx context.Context) (telephony.RecordingResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.closed = true
		last := r.base
		for ch := range r.channels {
			last = max(last, r.base+int64(len(r.pend[ch])))
		}
		r.flush(last)
		if err := r.w.Close(); err != nil && r.err == nil {
			r.err = err
		}
	}
	res := telephony.RecordingResult{
		Name:     r.name,
		Path:     r.path,
		Duration: time.Duration(r.w.Frames()) * time.Second / wav.SampleRate,
	}
	if r.err != nil {
		return res, fmt.Errorf("recording %s: %w", r.name, r.err)
	}
	return res, nil
}

var _ telephony.Recording = (*recorder)(nil)

// errRecordingName is returned for a name that would leave the recording
// directory.
var errRecordingName = errors.New("recording name must be a plain file name")
