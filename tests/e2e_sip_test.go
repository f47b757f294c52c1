package tests

import (
	"log/slog"
	"strings"
	"testing"

	"hotline/telephony"
	"hotline/telephony/sip"
	"hotline/tests/scenario"
)

// sipBackend runs the scenario table on the embedded SIP engine: the
// service and the peer (callers, agents' and units' phones) are two
// engines talking real SIP and RTP over loopback.
var sipBackend = scenario.Backend{
	Name: "sip",
	Service: func(t *testing.T, promptDir, recordingDir string) telephony.Engine {
		return newSIPEngine(t, sip.Config{UDP: "127.0.0.1:0", TCP: "", PromptDir: promptDir, RecordingDir: recordingDir})
	},
	Peer: func(t *testing.T, promptDir string, service telephony.Engine) scenario.Peer {
		peer := newSIPEngine(t, sip.Config{UDP: "127.0.0.1:0", TCP: "", Numbers: []string{"*"},
			PromptDir: promptDir, RecordingDir: t.TempDir()})
		addr := peer.Addr("udp")
		return scenario.Peer{
			Engine:    peer,
			ServiceTo: "sip:96596@" + service.(*sip.Engine).Addr("udp"),
			PhoneTo:   func(name string) string { return "sip:" + name + "@" + addr },
		}
	},
}

func newSIPEngine(t *testing.T, cfg sip.Config) *sip.Engine {
	t.Helper()
	e, err := sip.New(cfg, slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestScenariosSIP(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end calls")
	}
	scenario.Run(t, sipBackend, scenario.SQLiteLedger)
}
