package prompts_test

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hotline/prompts"
)

// courtesy are the ten-character courtesy phrases of 第十二条.
var courtesy = []string{"您好", "请", "谢谢", "对不起", "再见"}

func TestManifestCourtesy(t *testing.T) {
	for _, e := range prompts.Manifest() {
		if e.Tone() {
			continue
		}
		polite := false
		for _, c := range courtesy {
			if strings.Contains(e.Text, c) {
				polite = true
			}
		}
		if !polite {
			t.Errorf("prompt %s %q uses none of %v", e.Name, e.Text, courtesy)
		}
	}
}

// TestFilesMatchManifest checks that every prompt has its committed WAV
// file in the format both engines play: RIFF PCM, 8 kHz, mono, 16-bit.
func TestFilesMatchManifest(t *testing.T) {
	entries := prompts.Manifest()
	if len(entries) == 0 {
		t.Fatal("empty manifest")
	}
	names := make(map[string]bool)
	for _, e := range entries {
		names[e.Name+".wav"] = true
		t.Run(e.Name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("wav", e.Name+".wav"))
			if err != nil {
				t.Fatalf("%v (run go generate ./prompts)", err)
			}
			if len(b) < 44 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" || string(b[12:16]) != "fmt " {
				t.Fatal("not a RIFF WAVE file")
			}
			format := binary.LittleEndian.Uint16(b[20:])
			channels := binary.LittleEndian.Uint16(b[22:])
			rate := binary.LittleEndian.Uint32(b[24:])
			bits := binary.LittleEndian.Uint16(b[34:])
			if format != 1 || channels != 1 || rate != 8000 || bits != 16 {
				t.Errorf("format %d, %d channels, %d Hz, %d bits; want PCM(1), 1, 8000, 16", format, channels, rate, bits)
			}
			if len(b) < 44+1600 {
				t.Errorf("%d bytes: shorter than a tenth of a second", len(b))
			}
		})
	}
	files, err := filepath.Glob(filepath.Join("wav", "*.wav"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !names[filepath.Base(f)] {
			t.Errorf("%s is not in the manifest", f)
		}
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		want    int
		wantErr string
	}{
		{name: "entries and comments", src: "# c\n\na = 您好\nb-2 = 请 = 按\n", want: 2},
		{name: "missing text", src: "a =\n", wantErr: "line 1"},
		{name: "no equals", src: "您好\n", wantErr: "line 1"},
		{name: "bad name", src: "A b = 您好\n", wantErr: "name"},
		{name: "duplicate", src: "a = 您好\na = 请\n", wantErr: "duplicate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := prompts.Parse(tt.src)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.want {
				t.Errorf("got %d entries, want %d", len(got), tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add("a = 您好\n# x\nb = 请\n")
	f.Fuzz(func(t *testing.T, src string) {
		entries, err := prompts.Parse(src)
		if err != nil {
			return
		}
		for _, e := range entries {
			if e.Name == "" || e.Text == "" {
				t.Fatalf("empty entry %+v from %q", e, src)
			}
		}
	})
}
