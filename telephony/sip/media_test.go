package sip

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emiago/diago/audio"

	"hotline/telephony/sip/wav"
)

// The hand-written G.711 decoder agrees with diago's on every byte.
func TestG711DecodeMatchesDiago(t *testing.T) {
	for _, alaw := range []bool{false, true} {
		dec := make([]byte, 2*256)
		all := make([]byte, 256)
		for i := range all {
			all[i] = byte(i)
		}
		if alaw {
			_, _ = audio.DecodeAlawTo(dec, all)
		} else {
			_, _ = audio.DecodeUlawTo(dec, all)
		}
		gotDec := decodeG711(nil, all, alaw)
		for i, s := range gotDec {
			if w := int16(uint16(dec[2*i]) | uint16(dec[2*i+1])<<8); s != w {
				t.Fatalf("alaw=%v: byte %#x decodes to %d, diago %d", alaw, i, s, w)
			}
		}
	}
}

func TestCheckOffer(t *testing.T) {
	base := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
	tests := []struct {
		name, sdp string
		want      error
	}{
		{"pcmu", base + "m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n", nil},
		{"pcma dynamic", base + "m=audio 4000 RTP/AVP 96\r\na=rtpmap:96 PCMA/8000\r\n", nil},
		{"only g729", base + "m=audio 4000 RTP/AVP 18\r\n", errNoCommonCodec},
		{"opus", base + "m=audio 4000 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n", errNoCommonCodec},
		{"no media", base, errBadSDP},
		{"garbage", "hello world", errBadSDP},
		{"bad port", base + "m=audio x RTP/AVP 0\r\n", errBadSDP},
		{"no connection", "v=0\r\nm=audio 4000 RTP/AVP 0\r\n", errBadSDP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := checkOffer([]byte(tt.sdp)); !errors.Is(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func FuzzCheckOffer(f *testing.F) {
	f.Add([]byte("v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 1 RTP/AVP 0\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) { _ = checkOffer(b) })
}

// A prompt in the wrong format stops New, naming the file.
func TestNewRefusesBadPrompt(t *testing.T) {
	dir := t.TempDir()
	good := wav.Encode(tone(440, 100*time.Millisecond))
	stereo := append([]byte(nil), good...)
	stereo[22] = 2 // channels
	rate := append([]byte(nil), good...)
	rate[24], rate[25] = 0x44, 0xac // 44100 Hz
	for name, data := range map[string][]byte{"welcome.wav": good, "menu.wav": stereo, "bye.wav": rate, "junk.wav": []byte("not a wav")} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := New(Config{UDP: "127.0.0.1:0", PromptDir: dir, RecordingDir: t.TempDir()}, testLogger(t))
	if !errors.Is(err, wav.ErrFormat) {
		t.Fatalf("New: %v, want a format error", err)
	}
	for _, f := range []string{"menu.wav", "bye.wav", "junk.wav"} {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not name %s", err, f)
		}
	}
	if strings.Contains(err.Error(), "welcome.wav") {
		t.Errorf("error %q names the good file", err)
	}
}

func TestRecorderPlacesAudioByTime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.wav")
	now := time.Unix(100, 0)
	clock := func() time.Time { return now }
	r, err := newRecorder(path, "r", 2, clock)
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]int16, 160)
	for i := range frame {
		frame[i] = 1000
	}
	// One second of caller audio, then one second of silence, then one
	// frame of service audio.
	for range 50 {
		now = now.Add(20 * time.Millisecond)
		r.add(chanCaller, frame, now)
	}
	now = now.Add(time.Second)
	r.add(chanService, frame, now)
	res, err := r.Stop(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if res.Duration != 2*time.Second {
		t.Errorf("duration %s, want 2s", res.Duration)
	}
	left, right := channel(t, path, 0), channel(t, path, 1)
	if left[100] != 1000 || left[8500] != 0 || right[100] != 0 || right[len(right)-1] != 1000 {
		t.Errorf("audio misplaced: left[100]=%d left[8500]=%d right[100]=%d right[end]=%d", left[100], left[8500], right[100], right[len(right)-1])
	}
	// Stop again is harmless.
	if _, err := r.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
}
