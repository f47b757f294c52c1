package tests

import (
	"testing"

	"hotline/tests/scenario"
	"hotline/tests/scenario/aripeer"
)

// TestScenariosARI runs the scenario table on the ARI backend against the
// fake Asterisk (telephony/ari/aritest): the same flows, checked the same
// way, as TestScenariosSIP. Recordings are files the fake writes where
// Asterisk would (complete, as long as the recording; a stand-in tone for
// the audio, as the fake carries no media).
func TestScenariosARI(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end calls")
	}
	scenario.Run(t, aripeer.Backend(), scenario.SQLiteLedger)
}
