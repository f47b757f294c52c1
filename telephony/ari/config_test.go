package ari

import (
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestConfigInit(t *testing.T) {
	t.Setenv("ARI_USERNAME", "envuser")
	t.Setenv("ARI_PASSWORD", "envpass")
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{name: "defaults from env", cfg: Config{URL: "http://127.0.0.1:8088/ari/"}},
		{name: "no url", cfg: Config{}, wantErr: true},
		{name: "not http", cfg: Config{URL: "ws://127.0.0.1:8088/ari"}, wantErr: true},
		{name: "backoff upside down", cfg: Config{URL: "http://h/ari", ReconnectMin: time.Minute, ReconnectMax: time.Second}, wantErr: true},
		{name: "bad application", cfg: Config{URL: "http://h/ari", Application: "a b"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Init()
			if gotErr := err != nil; gotErr != tc.wantErr {
				t.Fatalf("Init() = %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				if !errors.Is(err, ErrConfig) {
					t.Errorf("error %v is not ErrConfig", err)
				}
				return
			}
			c := tc.cfg
			if c.URL != "http://127.0.0.1:8088/ari" || c.Username != "envuser" || c.Password != "envpass" ||
				c.Application != "hotline" || c.PromptPrefix != "sound:hotline/" || c.RequestTimeout != 5*time.Second {
				t.Errorf("config = %+v", c)
			}
			if got, want := c.eventsURL(), "ws://127.0.0.1:8088/ari/events?app=hotline&subscribeAll=false"; got != want {
				t.Errorf("events url = %s, want %s", got, want)
			}
		})
	}
	t.Run("no credentials", func(t *testing.T) {
		t.Setenv("ARI_USERNAME", "")
		c := Config{URL: "http://h/ari"}
		if err := c.Init(); !errors.Is(err, ErrConfig) {
			t.Errorf("Init() = %v, want ErrConfig", err)
		}
	})
}

func TestMediaURI(t *testing.T) {
	e := &Engine{cfg: Config{PromptPrefix: "sound:hotline/"}}
	tests := []struct{ prompt, want string }{
		{"welcome", "sound:hotline/welcome"},
		{"sound:beep", "sound:beep"},
		{"recording:hotline/2026/ticket-1", "recording:hotline/2026/ticket-1"},
		{"digits:96596", "digits:96596"},
		{"badscheme:foo", ""},
		{"../etc/passwd", ""},
		{"", ""},
	}
	for _, tc := range tests {
		got, err := e.mediaURI(tc.prompt)
		if tc.want == "" {
			if err == nil {
				t.Errorf("mediaURI(%q) = %q, want an error", tc.prompt, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("mediaURI(%q) = %q, %v; want %q", tc.prompt, got, err, tc.want)
		}
	}
}

// The dialplan and the backend must agree on the application, its
// arguments and the fallback variable.
func TestAsteriskConfigMatchesBackend(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile("../../asterisk-config/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	var cfg Config
	cfg.URL = "http://127.0.0.1:8088/ari"
	cfg.Username, cfg.Password = "u", "p"
	if err := cfg.Init(); err != nil {
		t.Fatal(err)
	}
	ext := read("extensions.conf")
	checks := []struct {
		file, text, pattern string
	}{
		{"extensions.conf", ext, `exten => 96596,1,`},
		{"extensions.conf", ext, regexp.QuoteMeta("Stasis(" + cfg.Application + ",inbound)")},
		{"extensions.conf", ext, regexp.QuoteMeta(`"${STASISSTATUS}" = "FAILED"`)},
		{"extensions.conf", ext, regexp.QuoteMeta(`${` + cfg.FallbackVariable + `}`)},
		{"extensions.conf", ext, `(?m)^\[hotline-outbound\]`},
		{"pjsip.conf", read("pjsip.conf"), `(?m)^dtmf_mode = rfc4733`},
		{"ari.conf", read("ari.conf"), `(?m)^\[hotline\]\ntype = user`},
		{"http.conf", read("http.conf"), `(?m)^bindaddr = 127\.0\.0\.1`},
		{"modules.conf", read("modules.conf"), `(?m)^load => res_ari_events\.so`},
		{"modules.conf", read("modules.conf"), `(?m)^load => app_stasis\.so`},
	}
	for _, c := range checks {
		if !regexp.MustCompile(c.pattern).MatchString(c.text) {
			t.Errorf("%s lacks %s", c.file, c.pattern)
		}
	}
	// every prompt the dialplan and the backend play is one the service ships
	manifest := map[string]bool{}
	mb, err := os.ReadFile("../../prompts/manifest.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mb), "\n") {
		if name, _, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			manifest[strings.TrimSpace(name)] = true
		}
	}
	prompts := []string{cfg.ShutdownPrompt, cfg.OrphanPrompt}
	for _, m := range regexp.MustCompile(`Playback\(hotline/([^)]+)\)`).FindAllStringSubmatch(ext, -1) {
		prompts = append(prompts, m[1])
	}
	if len(prompts) < 4 {
		t.Errorf("found only prompts %v", prompts)
	}
	for _, p := range prompts {
		if !manifest[p] {
			t.Errorf("prompt %q is not in prompts/manifest.txt", p)
		}
	}
	for _, f := range []string{"pjsip.conf", "extensions.conf", "ari.conf", "http.conf", "modules.conf", "rtp.conf"} {
		for i, line := range strings.Split(read(f), "\n") {
			if strings.Contains(line, "\t") {
				t.Errorf("%s:%d: tab in config", f, i+1)
			}
		}
	}
}
