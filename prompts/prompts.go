// Package prompts holds the hotline's voice prompts: a manifest (name →
// Chinese text) and, generated from it, one WAV file per name in wav/
// (RIFF PCM, 8 kHz, mono, 16-bit: what the embedded SIP engine streams as
// G.711 and what Asterisk plays as sound files). The service reads the
// files at run time, from its prompt directory or, when there is none, from
// the copies built into the binary; it needs no speech synthesis.
//
// Regenerate the files after editing the manifest with
//
//	go generate ./prompts
//
// which needs espeak-ng (Mandarin voice "cmn") and sox on the PATH.
package prompts

//go:generate go run ./generate -manifest manifest.txt -out wav

import (
	"bufio"
	"embed"
	"fmt"
	"io/fs"
	"strings"
)

//go:embed manifest.txt
var manifest string

//go:embed wav/*.wav
var wavFiles embed.FS

// Files returns the WAV files built into the binary (<name>.wav), which
// the service plays when no prompt directory is installed beside it.
func Files() fs.FS {
	sub, err := fs.Sub(wavFiles, "wav")
	if err != nil {
		panic(fmt.Sprintf("prompts: embedded files: %v", err)) // "wav" is a fixed, valid path
	}
	return sub
}

// Entry is one prompt of the manifest.
type Entry struct {
	Name string // file name without extension, as the call flows use it
	Text string // what is said, or a tone spec "!tone <hertz> <seconds>"
}

// Tone reports whether the entry is a plain tone rather than speech.
func (e Entry) Tone() bool { return strings.HasPrefix(e.Text, "!tone") }

// Manifest returns the prompts shipped with the service, in manifest order.
func Manifest() []Entry {
	entries, err := Parse(manifest)
	if err != nil {
		// The embedded manifest is checked by the package tests.
		panic(fmt.Sprintf("prompts: embedded manifest: %v", err))
	}
	return entries
}

// Parse reads a manifest: one "name = text" per line, blank lines and lines
// starting with # ignored. Names are unique and made of a-z, 0-9 and '-'.
func Parse(src string) ([]Entry, error) {
	var entries []Entry
	seen := make(map[string]bool)
	sc := bufio.NewScanner(strings.NewReader(src))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, text, ok := strings.Cut(line, "=")
		name, text = strings.TrimSpace(name), strings.TrimSpace(text)
		if !ok || name == "" || text == "" {
			return nil, fmt.Errorf("manifest line %d: want \"name = text\"", n)
		}
		if !validName(name) {
			return nil, fmt.Errorf("manifest line %d: name %q: use a-z, 0-9 and '-'", n, name)
		}
		if seen[name] {
			return nil, fmt.Errorf("manifest line %d: duplicate name %q", n, name)
		}
		seen[name] = true
		entries = append(entries, Entry{Name: name, Text: text})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	return entries, nil
}

func validName(s string) bool {
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}
