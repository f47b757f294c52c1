package callback

import (
	"context"
	"errors"
	"fmt"
	"time"

	"hotline/telephony"
)

// The survey's prompts (the IVR's prompt manifest holds their texts).
const (
	PromptSurveyIntro    = "survey-intro"    // 您好,这里是96596客服中心,就您反映的问题进行回访。
	PromptSurveyQuestion = "survey-question" // 请对处理结果进行评价:满意请按1,基本满意请按2,不满意请按3。
	PromptSurveyInvalid  = "survey-invalid"  // 对不起,您的输入有误。
	PromptSurveyRepeat   = "survey-repeat"   // 对不起,没有收到您的按键。
	PromptSurveyThanks   = "survey-thanks"   // 谢谢您的评价,再见。
	PromptSurveyGoodbye  = "survey-goodbye"  // 谢谢您接听,再见。
	PromptSurveyReopen   = "survey-reopen"   // 对不起,给您带来不便,我们将重新处理您的问题,谢谢,再见。
)

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
