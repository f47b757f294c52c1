package config_test

import (
	"strings"
	"testing"
	"time"

	"hotline/config"
)

// TestSectionsRefuseBadValues: a bad value in the sip:, ivr: or callbacks:
// section is refused at load with file, line and field.
func TestSectionsRefuseBadValues(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"sip address", "http:\n  listen: 127.0.0.1:8080\nsip:\n  udp: nohostport\n", "hotline.yaml:4: sip.udp: "},
		{"sip network", "sip:\n  allowed_networks:\n    - 10.0.0.0/8\n    - 10.0.0.0/33\n", "hotline.yaml:4: sip.allowed_networks[1]: "},
		{"sip negative max calls", "sip:\n  max_calls: -1\n", "hotline.yaml:2: sip.max_calls: "},
		{"ivr negative timeout", "ivr:\n  record: true\n  first_digit_timeout: -5s\n", "hotline.yaml:3: ivr.first_digit_timeout: "},
		{"ivr transfer code", "ivr:\n  transfer_code: \"*x\"\n", "hotline.yaml:2: ivr.transfer_code: "},
		{"ivr agent without dial", "ivr:\n  agents:\n    - id: a1\n      dial: sip:a1@127.0.0.1\n    - id: a2\n      name: 坐席二\n", "hotline.yaml:5: ivr.agents[1].dial: "},
		{"ivr duplicate agent", "ivr:\n  agents:\n    - {id: a1, dial: \"sip:a1@h\"}\n    - {id: a1, dial: \"sip:a2@h\"}\n", "hotline.yaml:4: ivr.agents[1].id: "},
		{"callbacks window", "callbacks:\n  windows:\n    - 09:00-12:00\n    - 20:00-14:00\n", "hotline.yaml:4: callbacks.windows[1]: "},
		{"callbacks dial_to", "callbacks:\n  max_attempts: 2\n  dial_to: sip:trunk\n", "hotline.yaml:3: callbacks.dial_to: "},
		{"callbacks retry rule", "callbacks:\n  retry_after:\n    busy: 10m\n    bogus: 1h\n", "hotline.yaml:4: callbacks.retry_after.bogus: "},
		{"callbacks survey", "callbacks:\n  survey:\n    attempts: -1\n", "hotline.yaml:3: callbacks.survey.attempts: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse("hotline.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("loaded, want refused with %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, want it to hold %q", err, tt.want)
			}
		})
	}
}

// TestSectionsLoad: the sections are read over the defaults; without them
// serve runs as it always did.
func TestSectionsLoad(t *testing.T) {
	def := config.Default()
	if s := def.SIP; s.UDP != "127.0.0.1:5060" || s.TCP != "127.0.0.1:5060" || s.PromptDir != "prompts/wav" || s.RecordingDir != "var/recordings" {
		t.Errorf("default sip %+v, want 127.0.0.1:5060, prompts/wav, var/recordings", s)
	}
	c, err := config.Parse("hotline.yaml", []byte(`sip:
  udp: 0.0.0.0:5080
  prompt_dir: /srv/prompts
ivr:
  first_digit_timeout: 7s
  agents:
    - {id: a1, name: 坐席一, dial: "sip:a1@10.0.0.21"}
callbacks:
  max_concurrent: 4
  dial_to: "PJSIP/{number}@trunk"
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.SIP.UDP != "0.0.0.0:5080" || c.SIP.PromptDir != "/srv/prompts" || c.SIP.RecordingDir != "var/recordings" {
		t.Errorf("sip %+v", c.SIP)
	}
	if c.IVR.FirstDigit != 7*time.Second || len(c.IVR.Agents) != 1 || c.IVR.Agents[0].Dial != "sip:a1@10.0.0.21" {
		t.Errorf("ivr %+v", c.IVR)
	}
	if c.Callbacks.MaxConcurrent != 4 || c.Callbacks.DialTo != "PJSIP/{number}@trunk" {
		t.Errorf("callbacks %+v", c.Callbacks)
	}
}
