package callback

import (
	"testing"
	"time"

	"github.com/goccy/go-yaml"
)

// sampleYAML is the `callbacks:` section as the README shows it.
const sampleYAML = `
windows: ["09:00-12:00", "14:00-20:00"]
time_zone: Asia/Shanghai
max_concurrent: 50
max_per_second: 5
caller_id: "96596"
dial_to: "sip:{number}@10.0.0.2:5060"
ring_timeout: 40s
retry_after:
  busy: 30m
  noanswer: 2h
  timeout: 1h
  interrupted: 30m
max_attempts: 3
agent_margin: 4h
lease: 2m
poll: 5s
survey:
  first_digit: 8s
  attempts: 2
do_not_call: ["13900000000", "+86 138 0000 0000"]
`

func TestConfigYAML(t *testing.T) {
	var cfg Config
	if err := yaml.Unmarshal([]byte(sampleYAML), &cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Init(); err != nil {
		t.Fatal(err)
	}
	if got := cfg.RetryAfter[OutcomeBusy]; got != 30*time.Minute {
		t.Errorf("retry after busy = %v, want 30m", got)
	}
	if _, ok := cfg.RetryAfter[OutcomeUnreachable]; ok {
		t.Error("unreachable is retried, want never")
	}
	if cfg.MaxConcurrent != 50 || cfg.MaxPerSecond != 5 || cfg.RingTimeout != 40*time.Second || cfg.Survey.FirstDigit != 8*time.Second {
		t.Errorf("decoded %+v", cfg)
	}
	for _, n := range []string{"13800000000", "+8613900000000"} {
		if !cfg.doNotCall(n) {
			t.Errorf("%s not on the do-not-call list", n)
		}
	}
	if cfg.doNotCall("13812345678") {
		t.Error("13812345678 on the do-not-call list")
	}
	if got := cfg.dialAddress("13812345678"); got != "sip:13812345678@10.0.0.2:5060" {
		t.Errorf("dial address = %q", got)
	}
}
