package callback

import (
	"context"
	"errors"
	"fmt"
	"time"

	"hotline/telephony"
)

// The prompts of callbacks; their texts are in prompts/manifest.txt.
const (
	PromptSurveyIntro    = "survey-intro"    // 您好,这里是九六五九六客服中心,就您反映的问题进行回访……
	PromptSurveyQuestion = "survey-question" // 请您对处理结果进行评价:满意请按一,基本满意请按二,不满意请按三。
	PromptSurveyInvalid  = "survey-invalid"  // 对不起,您的按键有误。
	PromptSurveyRepeat   = "survey-repeat"   // 对不起,我们没有收到您的按键。
	PromptSurveyThanks   = "survey-thanks"   // 谢谢您的评价……再见。
	PromptSurveyReopen   = "survey-reopen"   // 对不起,给您带来不便,我们将重新处理您的问题……再见。
	PromptSurveyGoodbye  = "survey-goodbye"  // 谢谢您的接听……再见。
	PromptReturnIntro    = "callback-return" // 您好……现在给您回电,请稍候,正在为您转接客服人员。
)

// Prompts lists every prompt the callbacks play.
var Prompts = []string{PromptSurveyIntro, PromptSurveyQuestion, PromptSurveyInvalid, PromptSurveyRepeat,
	PromptSurveyThanks, PromptSurveyReopen, PromptSurveyGoodbye, PromptReturnIntro}

// SurveyResult is what a survey call produced.
type SurveyResult struct {
	Score     int // 1, 2 or 3; 0 when the caller gave none
	At        time.Time
	Recording string
}

// errNoScore says the caller answered but gave no valid key.
var errNoScore = errors.New("no valid score")

// RunSurvey plays the survey on an answered call and returns the score.
// The error is errNoScore (no valid key after the repeat), a hang-up
// (*telephony.CallError) or ctx's. The recording is stopped and its path
// returned in every case where it was started.
func RunSurvey(ctx context.Context, call telephony.Call, cfg SurveyConfig, name string, now func() time.Time) (res SurveyResult, err error) {
	rec, err := call.Record(ctx, name)
	if err != nil {
		if telephony.ReasonOf(err) == telephony.ReasonHungUp {
			return res, fmt.Errorf("start survey recording: %w", err)
		}
		rec = nil
	}
	if rec != nil {
		defer func() {
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if r, err := rec.Stop(stopCtx); err == nil {
				res.Recording = r.Path
			}
		}()
	}
	// A failed recording is not a reason to lose the survey; the ticket
	// simply has no recording.

	collect := telephony.Collect{MaxDigits: 1, FirstDigit: cfg.FirstDigit, BargeIn: true}
	prompts := []string{PromptSurveyIntro, PromptSurveyQuestion}
	for try := 0; try < cfg.Attempts; try++ {
		digits, err := telephony.PlayCollect(ctx, call, prompts, collect)
		if err != nil {
			return res, err
		}
		switch digits {
		case "1", "2", "3":
			res.Score = int(digits[0] - '0')
			res.At = now()
			closing := PromptSurveyThanks
			if res.Score == 3 {
				closing = PromptSurveyReopen
			}
			// The score is taken; a hang-up during the closing words loses nothing.
			_ = telephony.PlayAll(ctx, call, closing)
			return res, nil
		case "":
			prompts = []string{PromptSurveyRepeat, PromptSurveyQuestion}
		default:
			prompts = []string{PromptSurveyInvalid, PromptSurveyQuestion}
		}
		drainDigits(call)
	}
	_ = telephony.PlayAll(ctx, call, PromptSurveyGoodbye)
	return res, errNoScore
}

func drainDigits(call telephony.Call) {
	for {
		select {
		case <-call.Digits():
		default:
			return
		}
	}
}
