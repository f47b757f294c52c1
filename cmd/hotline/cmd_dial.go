package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"hotline/telephony"
	"hotline/telephony/sip"
	"hotline/telephony/sip/wav"
)

// dialCommand is `hotline dial`: a SIP phone for people and tests, built on
// the embedded engine. It calls a URI (or, with --answer, waits for calls),
// presses keys, sends a WAV, saves what it hears, prints what happens and
// exits non-zero when the call fails.
func dialCommand() command {
	return command{summary: "place (or with --answer take) a test SIP call", run: runDial}
}

func runDial(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dial", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		answer   = fs.Bool("answer", false, "answer incoming calls instead of dialling")
		listen   = fs.String("listen", "127.0.0.1:0", "local SIP address (UDP)")
		digits   = fs.String("digits", "", "keys to press once answered; ',' pauses 0.5 s")
		press    = fs.String("press", "", "same as --digits (answering phone)")
		after    = fs.Duration("after", 500*time.Millisecond, "wait this long after answer before pressing keys")
		wait     = fs.Duration("wait", 5*time.Second, "stay on the call this long after the keys, unless the far end hangs up")
		save     = fs.String("save", "", "save what is heard to this WAV file (8 kHz mono)")
		send     = fs.String("send", "", "send this WAV (8 kHz mono 16-bit) once answered")
		from     = fs.String("from", "13800000000", "caller number presented")
		name     = fs.String("name", "", "caller name presented")
		ring     = fs.Duration("ring", 30*time.Second, "ring timeout")
		calls    = fs.Int("calls", 1, "with --answer: calls to take before exiting")
		logLevel = fs.String("log", "warn", "log level: debug, info, warn, error")
	)
	// The URI may come before the flags, as in the README's examples.
	target := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		target, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if target == "" {
		target = fs.Arg(0)
	}
	keys := *digits + *press
	if !*answer && target == "" {
		return errors.New("usage: hotline dial sip:96596@127.0.0.1:5060 [flags] | hotline dial --answer --listen addr [flags]")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	var opts []sip.Option
	if *send != "" {
		pcm, err := wav.ReadFile(*send)
		if err != nil {
			return err
		}
		opts = append(opts, sip.WithPrompt("send", pcm))
	}
	cfg := sip.Config{UDP: *listen, Numbers: []string{"*"}, PromptDir: "-", RecordingDir: "."}
	eng, err := sip.New(cfg, logger, opts...)
	if err != nil {
		return err
	}
	var sayMu sync.Mutex // events come from the call and from its digit reader
	say := func(format string, a ...any) {
		sayMu.Lock()
		defer sayMu.Unlock()
		fmt.Fprintf(stdout, format+"\n", a...)
	}

	// talk runs one answered call: send audio, press keys, listen, hang up.
	talk := func(ctx context.Context, call telephony.Call) error {
		say("answered %s", call.Info().ID)
		var saved telephony.Recording
		if *save != "" {
			c, ok := call.(*sip.Call)
			if !ok {
				return errors.New("save: not an embedded-engine call")
			}
			if saved, err = c.SaveReceived(ctx, *save); err != nil {
				return err
			}
		}
		if *send != "" {
			if _, err := call.Play(ctx, "send"); err != nil {
				return err
			}
		}
		go func() {
			for {
				select {
				case d := <-call.Digits():
					say("digit received %c", d)
				case <-call.Done():
					return
				}
			}
		}()
		hold := func(d time.Duration) bool {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				return true
			case <-call.Done():
				return false
			case <-ctx.Done():
				return false
			}
		}
		if keys != "" && hold(*after) {
			if err := call.SendDigits(ctx, keys); err != nil {
				return err
			}
			say("digits sent %s", keys)
		}
		if hold(*wait) {
			_ = call.Hangup(context.WithoutCancel(ctx), telephony.ReasonNormal)
		}
		<-call.Done()
		if saved != nil {
			res, err := saved.Stop(context.WithoutCancel(ctx))
			if err != nil {
				return err
			}
			say("saved %s (%s)", res.Path, res.Duration.Round(10*time.Millisecond))
		}
		end := call.End()
		say("hangup %s by %s cause %d", end.Reason, end.By, end.Cause)
		return nil
	}

	sctx, stop := context.WithCancel(ctx)
	defer stop()
	taken := make(chan error, *calls)
	served := make(chan error, 1)
	go func() {
		served <- eng.Serve(sctx, telephony.HandlerFunc(func(ctx context.Context, call telephony.Call) {
			info := call.Info()
			say("incoming from %s to %s", orUnknown(info.Caller), info.Dialled)
			if err := call.Answer(ctx); err != nil {
				taken <- err
				return
			}
			taken <- talk(ctx, call)
		}))
	}()
	var runErr error
	if *answer {
		say("listening on %s", eng.Addr("udp"))
		for range *calls {
			select {
			case err := <-taken:
				runErr = errors.Join(runErr, err)
			case <-ctx.Done():
				runErr = ctx.Err()
			}
			if ctx.Err() != nil {
				break
			}
		}
	} else {
		call, err := eng.Dial(ctx, telephony.DialRequest{To: target, CallerID: *from, CallerName: *name, RingTimeout: *ring})
		if err != nil {
			say("failed %s", telephony.ReasonOf(err))
			runErr = err
		} else {
			runErr = talk(ctx, call)
		}
	}
	stop()
	return errors.Join(runErr, <-served)
}

func orUnknown(s string) string {
	if strings.TrimSpace(s) == "" {
		return "unknown"
	}
	return s
}
