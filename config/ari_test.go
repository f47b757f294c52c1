package config_test

import (
	"testing"
	"time"

	"hotline/config"
)

func TestARISection(t *testing.T) {
	tests := []struct {
		name, yaml string
		wantErr    bool
		wantURL    string
	}{
		{"absent: the embedded engine", "http:\n  listen: 127.0.0.1:0\n", false, ""},
		{"set", "ari:\n  url: http://10.0.0.5:8088/ari\n  ring_timeout: 20s\n  recording_dir: /srv/rec\n", false, "http://10.0.0.5:8088/ari"},
		{"a secret in the file is refused", "ari:\n  url: http://10.0.0.5:8088/ari\n  password: x\n", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Parse("hotline.yaml", []byte(tt.yaml))
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("error %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if c.ARI.URL != tt.wantURL {
				t.Errorf("ari url %q, want %q", c.ARI.URL, tt.wantURL)
			}
			if tt.wantURL != "" && (c.ARI.RingTimeout != 20*time.Second || c.ARI.RecordingDir != "/srv/rec") {
				t.Errorf("ari section %+v, want ring_timeout 20s, recording_dir /srv/rec", c.ARI)
			}
		})
	}
}
