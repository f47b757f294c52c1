package main

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"hotline/config"
	"hotline/ivr/callback"
	"hotline/metrics"
	"hotline/ticket"
)

// callbackAPI composes the hotline API the console delegates /api/... to:
// the web package's routes and the callback dialer's /api/callbacks.
func callbackAPI(api http.Handler, callbacks http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/api/", api)
	strip := http.StripPrefix("/api/callbacks", callbacks)
	mux.Handle("/api/callbacks", strip)
	mux.Handle("/api/callbacks/", strip)
	return mux
}

// satisfactionLookupTimeout bounds the ledger read that labels a survey's
// score with the ticket's line and unit.
const satisfactionLookupTimeout = 5 * time.Second

// callbackObserver reports each finished callback attempt to the metrics:
// how it went and, when a survey scored, the satisfaction by the ticket's
// line (menu key) and unit.
func callbackObserver(cfg *config.Config, store *ticket.Store, m *metrics.Metrics, log *slog.Logger) func(callback.Attempt, callback.Result) {
	keyOf := make(map[string]string, len(cfg.Lines))
	for _, l := range cfg.Lines {
		keyOf[l.ID] = l.Key
	}
	return func(a callback.Attempt, r callback.Result) {
		if reason, ok := r.Outcome.Reason(); ok {
			m.CallbackAttempt(reason)
		}
		if r.Score == 0 || a.Callback.Kind != callback.KindSurvey {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), satisfactionLookupTimeout)
		defer cancel()
		d, err := store.Ticket(ctx, a.Callback.TicketID)
		if err != nil {
			log.Warn("survey score not counted in the metrics", "ticket", a.Callback.TicketID, "err", err)
			return
		}
		line := keyOf[d.Line]
		if line == "" {
			line = d.Line
		}
		// A ticket no unit holds is labelled metrics.NoUnit.
		m.Satisfaction(line, d.UnitID, metrics.Score(r.Score))
	}
}
