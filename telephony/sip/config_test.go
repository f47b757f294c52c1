package sip

import (
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
)

func TestConfigYAML(t *testing.T) {
	src := `
udp: 10.0.0.5:5060
tcp: ""
numbers: ["96596", "96597"]
allowed_networks: ["10.0.0.0/24"]
max_calls: 300
ring_timeout: 25s
media_timeout: -1s
`
	var c Config
	if err := yaml.Unmarshal([]byte(src), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.UDP != "10.0.0.5:5060" || c.TCP != "" || c.MaxCalls != 300 || c.RingTimeout != 25*time.Second || c.MediaTimeout >= 0 {
		t.Errorf("decoded %+v", c)
	}
	if c.PromptDir != "prompts" || c.ShutdownGrace != 10*time.Second || c.RetryAfter != 30*time.Second {
		t.Errorf("defaults not filled: %+v", c)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		c    Config
		want string
	}{
		{name: "defaults", c: Config{}},
		{name: "bad address", c: Config{UDP: "nohostport"}, want: "udp"},
		{name: "bad network", c: Config{AllowedNetworks: []string{"10.0.0.0/33"}}, want: "allowed_networks[0]"},
		{name: "negative limit", c: Config{MaxCalls: -1}, want: "max_calls"},
		{name: "port range", c: Config{RTPPortMin: 5000, RTPPortMax: 5001}, want: "rtp_port_min"},
		{name: "negative grace", c: Config{ShutdownGrace: -time.Second}, want: "shutdown_grace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("err %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("err %v, want one naming %s", err, tt.want)
			}
		})
	}
	d := Defaults()
	if d.UDP != "127.0.0.1:5060" || d.TCP != "127.0.0.1:5060" || d.Numbers[0] != "96596" || len(d.AllowedNetworks) != 6 {
		t.Errorf("defaults %+v", d)
	}
}
