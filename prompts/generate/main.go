// Command generate turns the prompt manifest into WAV files (8 kHz, mono,
// 16-bit PCM) with espeak-ng's Mandarin voice and sox. It is run by
// `go generate ./prompts`.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"hotline/prompts"
)

func main() {
	manifest := flag.String("manifest", "manifest.txt", "manifest file")
	out := flag.String("out", "wav", "output directory")
	voice := flag.String("voice", "cmn", "espeak-ng voice")
	speed := flag.Int("speed", 180, "espeak-ng words per minute")
	flag.Parse()
	if err := run(context.Background(), *manifest, *out, *voice, *speed); err != nil {
		fmt.Fprintln(os.Stderr, "generate:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, manifestPath, out, voice string, speed int) error {
	src, err := os.ReadFile(manifestPath)
	if err != nil {
		return fmt.Errorf("read manifest: %w", err)
	}
	entries, err := prompts.Parse(string(src))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("create output dir: %w", err)
	}
	tmp, err := os.MkdirTemp("", "prompts-")
	if err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	for _, e := range entries {
		dst := filepath.Join(out, e.Name+".wav")
		if err := render(ctx, e, tmp, dst, voice, speed); err != nil {
			return fmt.Errorf("prompt %s: %w", e.Name, err)
		}
		fmt.Println(dst)
	}
	return nil
}

// sox output options: RIFF PCM, 8 kHz, mono, 16-bit signed.
var pcm8k = []string{"-t", "wav", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer"}

func render(ctx context.Context, e prompts.Entry, tmp, dst, voice string, speed int) error {
	if e.Tone() {
		f := strings.Fields(e.Text)
		if len(f) != 3 {
			return fmt.Errorf("tone %q: want \"!tone <hertz> <seconds>\"", e.Text)
		}
		args := append([]string{"-n"}, pcm8k...)
		args = append(args, dst, "synth", f[2], "sine", f[1], "vol", "0.5")
		return command(ctx, "sox", args...)
	}
	raw := filepath.Join(tmp, e.Name+".wav")
	if err := command(ctx, "espeak-ng", "-v", voice, "-s", fmt.Sprint(speed), "-w", raw, e.Text); err != nil {
		return err
	}
	// Resample, leave 0.2 s of silence before the speech (the first RTP
	// packets of a call may be lost while the far end sets up) and
	// normalise the level to -3 dBFS.
	args := append([]string{raw}, pcm8k...)
	args = append(args, dst, "pad", "0.2", "0", "gain", "-n", "-3")
	return command(ctx, "sox", args...)
}

func command(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}
