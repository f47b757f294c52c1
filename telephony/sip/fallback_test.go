package sip

import (
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"hotline/telephony/sip/wav"
)

// TestFallbackPrompts: without a prompt directory the engine plays the
// prompts it was given (those built into the binary); a directory that
// exists wins; a bad fallback file is refused with its name.
func TestFallbackPrompts(t *testing.T) {
	fallback := fstest.MapFS{"welcome.wav": {Data: wav.Encode(tone(440, 200*time.Millisecond))}}
	bad := fstest.MapFS{"broken.wav": {Data: []byte("RIFF....WAVE")}}
	withDir := t.TempDir()
	tests := []struct {
		name     string
		dir      string
		fallback fstest.MapFS
		want     []string
		wantErr  string
	}{
		{name: "missing directory, fallback played", dir: filepath.Join(t.TempDir(), "none"), fallback: fallback, want: []string{"welcome"}},
		{name: "directory wins", dir: withDir, fallback: fallback, want: nil},
		{name: "bad fallback refused", dir: filepath.Join(t.TempDir(), "none"), fallback: bad, wantErr: "broken.wav"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := New(Config{UDP: "127.0.0.1:0", PromptDir: tt.dir, RecordingDir: t.TempDir()}, testLogger(t),
				WithFallbackPrompts(tt.fallback))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tt.wantErr)
				}
				if err == nil {
					e.Close()
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			for _, name := range tt.want {
				if _, ok := e.prompts[name]; !ok {
					t.Errorf("prompt %q not loaded", name)
				}
			}
			if len(e.prompts) != len(tt.want) {
				t.Errorf("%d prompts loaded, want %d", len(e.prompts), len(tt.want))
			}
		})
	}
}
