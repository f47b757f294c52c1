package ivr

import (
	"context"

	"hotline/telephony"
)

// menu plays the welcome and the menu and returns the caller's valid
// choice: a line key or AgentKey. An invalid key or silence replays the menu
// after a short apology; after the last failed attempt it returns
// telephony.ErrNoValidChoice.
func (f *flow) menu(ctx context.Context) (string, error) {
	collect := telephony.Collect{FirstDigit: f.s.cfg.FirstDigit, InterDigit: f.s.cfg.InterDigit, BargeIn: true}
	prompts := []string{promptWelcome, promptMenu}
	for attempt := 1; ; attempt++ {
		key, err := telephony.PlayCollect(ctx, f.call, prompts, collect)
		if err != nil {
			return "", err
		}
		if f.validChoice(key) {
			return key, nil
		}
		f.log.Info("menu: no valid choice", "attempt", attempt, "invalid", key != "")
		if attempt >= f.s.cfg.MenuAttempts {
			return "", telephony.ErrNoValidChoice
		}
		drain(f.call.Digits())
		prompts = []string{promptSorryNoInput, promptMenu}
		if key != "" {
			prompts[0] = promptSorryInvalid
		}
	}
}

func (f *flow) validChoice(key string) bool {
	if key == AgentKey {
		return true
	}
	_, ok := f.s.lines[key]
	return ok
}

// drain discards keys already pressed so that a wrong key pressed twice
// does not spill into the next attempt.
func drain(ch <-chan rune) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}
