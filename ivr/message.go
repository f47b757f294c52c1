package ivr

import (
	"context"
	"errors"
	"fmt"
	"time"

	"hotline/telephony"
)

// afterHours greets the caller with the office hours and takes a message.
func (f *flow) afterHours(ctx context.Context) error {
	f.log.Info("after hours")
	if err := telephony.PlayAll(ctx, f.call, promptAfterHours); err != nil {
		return err
	}
	return f.takeMessage(ctx, "after-hours")
}

// takeMessage records a message from the caller, attaches it to the ticket
// and schedules a callback for the next working period. The message ends
// with '#', the caller hanging up or the configured bound.
func (f *flow) takeMessage(ctx context.Context, why string) error {
	f.setStage(stageMessage)
	err := f.recordMessage(ctx, why)
	if err != nil && !errors.Is(err, telephony.ErrHungUp) && !errors.Is(err, context.Canceled) {
		f.s.obs.FlowError(stepVoicemail)
	}
	return err
}

func (f *flow) recordMessage(ctx context.Context, why string) error {
	drain(f.call.Digits())
	if err := telephony.PlayAll(ctx, f.call, promptLeaveMessage, promptBeep); err != nil {
		return err
	}
	// The message is a file of its own; the call recording so far is kept
	// as well. Keys pressed during the prompts do not end the message.
	f.stopRecording(ctx)
	drain(f.call.Digits())
	rec, err := f.call.Record(ctx, recordingName("msg", f.info.ID))
	if err != nil {
		return fmt.Errorf("record message: %w", err)
	}
	f.waitMessageEnd(ctx)

	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	res, err := rec.Stop(cctx)
	if err != nil {
		return fmt.Errorf("stop message recording: %w", err)
	}
	t, err := f.currentTicket(cctx)
	if err != nil {
		return err
	}
	if err := f.s.ledger.AttachRecording(cctx, t.ID, f.info.ID, Recording{Kind: RecordingMessage, Path: res.Path, Duration: res.Duration}); err != nil {
		return fmt.Errorf("attach message: %w", err)
	}
	due := f.s.cal.NextOpen(f.s.now())
	if err := f.s.ledger.ScheduleCallback(cctx, t.ID, due, why); err != nil {
		return fmt.Errorf("schedule callback: %w", err)
	}
	f.log.Info("message left", "why", why, "callback", due)
	f.s.obs.Voicemail(f.lineLabel())
	f.s.bus.Publish(Event{Type: EventMessageLeft, At: f.s.now(), CallID: f.info.ID, Ticket: &t})
	select {
	case <-f.call.Done():
		return nil
	default:
	}
	return telephony.PlayAll(ctx, f.call, promptMessageThanks)
}

func (f *flow) waitMessageEnd(ctx context.Context) {
	limit := time.NewTimer(f.s.cfg.MessageMax)
	defer limit.Stop()
	for {
		select {
		case d := <-f.call.Digits():
			if d == '#' {
				return
			}
		case <-limit.C:
			return
		case <-f.call.Done():
			return
		case <-ctx.Done():
			return
		}
	}
}
