package telephony_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"hotline/telephony"
	"hotline/telephony/telephonytest"
)

func TestMenuRun(t *testing.T) {
	valid := func(s string) bool { return len(s) == 1 && s[0] >= '0' && s[0] <= '5' }
	menu := telephony.Menu{
		Prompts: []string{"menu"},
		Invalid: []string{"sorry-invalid"},
		NoInput: []string{"sorry-noinput"},
		Valid:   valid,
		Collect: telephony.Collect{FirstDigit: 20 * time.Millisecond, BargeIn: true},
	}
	tests := []struct {
		name         string
		presses      []string // one entry per menu attempt, "" presses nothing
		promptLength time.Duration
		wantChoice   string
		wantFailures int
		wantErr      error
		wantPlayed   []string
		wantStops    int
	}{
		{name: "first key", presses: []string{"1"}, wantChoice: "1", wantPlayed: []string{"menu"}},
		{name: "barge-in stops the prompt", presses: []string{"2"}, promptLength: time.Hour,
			wantChoice: "2", wantPlayed: []string{"menu"}, wantStops: 1},
		{name: "wrong key then right", presses: []string{"9", "2"}, wantChoice: "2", wantFailures: 1,
			wantPlayed: []string{"menu", "sorry-invalid", "menu"}},
		{name: "silence three times", presses: []string{"", "", ""}, wantFailures: 3, wantErr: telephony.ErrNoValidChoice,
			wantPlayed: []string{"menu", "sorry-noinput", "menu", "sorry-noinput", "menu"}},
		{name: "star is not a choice", presses: []string{"*", "0"}, wantChoice: "0", wantFailures: 1,
			wantPlayed: []string{"menu", "sorry-invalid", "menu"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call := telephonytest.NewCall(telephony.Info{ID: "c1"})
			call.PromptLength = tt.promptLength
			attempt := 0
			call.OnPlay = func(c *telephonytest.Call, prompt string) {
				if prompt != "menu" {
					return
				}
				if attempt < len(tt.presses) {
					c.Press(tt.presses[attempt])
				}
				attempt++
			}
			choice, failures, err := menu.Run(context.Background(), call)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if choice != tt.wantChoice || failures != tt.wantFailures {
				t.Errorf("choice, failures = %q, %d; want %q, %d", choice, failures, tt.wantChoice, tt.wantFailures)
			}
			if got := call.Played(); !slices.Equal(got, tt.wantPlayed) {
				t.Errorf("played %v, want %v", got, tt.wantPlayed)
			}
			stops := 0
			for _, l := range call.Log() {
				if l == "stop menu" {
					stops++
				}
			}
			if stops != tt.wantStops {
				t.Errorf("stops = %d, want %d", stops, tt.wantStops)
			}
		})
	}
}

func TestPlayCollectMultiDigit(t *testing.T) {
	tests := []struct {
		name  string
		press string
		opts  telephony.Collect
		want  string
	}{
		{name: "max digits", press: "12345", opts: telephony.Collect{MaxDigits: 3}, want: "123"},
		{name: "terminator", press: "12#", opts: telephony.Collect{MaxDigits: 6, Terminator: '#'}, want: "12"},
		{name: "inter-digit timeout", press: "7", opts: telephony.Collect{MaxDigits: 4, InterDigit: 10 * time.Millisecond}, want: "7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call := telephonytest.NewCall(telephony.Info{ID: "c1"})
			call.Press(tt.press)
			got, err := telephony.PlayCollect(context.Background(), call, []string{"enter"}, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPlayCollectHangup(t *testing.T) {
	call := telephonytest.NewCall(telephony.Info{ID: "c1"})
	call.PromptLength = time.Hour
	call.OnPlay = func(c *telephonytest.Call, _ string) { c.HangupRemote() }
	_, err := telephony.PlayCollect(context.Background(), call, []string{"welcome", "menu"}, telephony.Collect{})
	if !errors.Is(err, telephony.ErrHungUp) {
		t.Fatalf("err = %v, want ErrHungUp", err)
	}
	if got := telephony.ReasonOf(err); got != telephony.ReasonHungUp {
		t.Errorf("reason = %q", got)
	}
}

func TestReasonMapping(t *testing.T) {
	sip := map[int]telephony.Reason{486: telephony.ReasonBusy, 600: telephony.ReasonBusy, 480: telephony.ReasonNoAnswer,
		487: telephony.ReasonNoAnswer, 408: telephony.ReasonTimeout, 404: telephony.ReasonUnreachable,
		503: telephony.ReasonUnreachable, 603: telephony.ReasonRejected, 403: telephony.ReasonRejected}
	for status, want := range sip {
		if got := telephony.ReasonFromSIP(status); got != want {
			t.Errorf("ReasonFromSIP(%d) = %q, want %q", status, got, want)
		}
	}
	q850 := map[int]telephony.Reason{16: telephony.ReasonNormal, 17: telephony.ReasonBusy, 19: telephony.ReasonNoAnswer,
		18: telephony.ReasonTimeout, 1: telephony.ReasonUnreachable, 21: telephony.ReasonRejected}
	for cause, want := range q850 {
		if got := telephony.ReasonFromQ850(cause); got != want {
			t.Errorf("ReasonFromQ850(%d) = %q, want %q", cause, got, want)
		}
	}
}

func TestMask(t *testing.T) {
	for in, want := range map[string]string{"": "", "110": "**10", "96596": "9***96", "13812345678": "138****5678", "+8613812345678": "+86****5678"} {
		if got := telephony.Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}
