package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"hotline/config"
	"hotline/metrics"
	"hotline/prompts"
	"hotline/telephony"
	"hotline/telephony/ari"
	"hotline/telephony/sip"
	"hotline/ticket"
)

// serveEngine is the call engine serve runs the flows on: Asterisk over
// ARI when an ARI URL is given (flag -ari-url, else the configuration's
// ari: section), the embedded SIP engine otherwise.
type serveEngine interface {
	telephony.Engine
	// Backend names the engine for the backend metrics: "sip" or "ari".
	Backend() string
	// Observe sends the engine's connection state (now and later) and its
	// events to the metrics.
	Observe(m *metrics.Metrics)
	// String says where the engine is, for the start-up banner.
	String() string
	Close() error
}

// newServeEngine starts the engine serve runs. With ARI it connects at
// once and fails fast, with a message saying what to check, when Asterisk
// does not answer or refuses the credentials; calls found left in the
// application by an earlier run are ended and recorded in the ledger.
// serveBackend names the engine serve runs: "ari" when an ARI URL is
// given (flag or configuration), else the embedded "sip" engine.
func serveBackend(ariURL string, cfg *config.Config) string {
	if ariURL != "" || cfg.ARI.URL != "" {
		return "ari"
	}
	return "sip"
}

func newServeEngine(ctx context.Context, ariURL string, cfg *config.Config, sipCfg sip.Config,
	store *ticket.Store, logger *slog.Logger) (serveEngine, error) {
	ariCfg := cfg.ARI
	if ariURL != "" {
		ariCfg.URL = ariURL
	}
	if serveBackend(ariURL, cfg) == "sip" {
		e, err := sip.New(sipCfg, logger, sip.WithFallbackPrompts(prompts.Files()))
		if err != nil {
			return nil, fmt.Errorf("start SIP engine: %w", err)
		}
		return sipEngine{e}, nil
	}
	a := &ariEngine{}
	eng, err := ari.New(ariCfg, ari.Options{
		Logger:      logger,
		OnConnState: a.connState,
		OnEvent:     a.event,
		OnOrphan:    func(info telephony.Info, end telephony.End) { recordOrphan(store, logger, info, end) },
	})
	if err != nil {
		return nil, fmt.Errorf("ARI backend: %w", err)
	}
	a.Engine, a.url = eng, ariCfg.URL
	if err := eng.Start(ctx); err != nil {
		return nil, fmt.Errorf("ARI backend: %w%s", err, startHint(err))
	}
	return a, nil
}

// startHint tells the operator what to check when ARI does not start.
func startHint(err error) string {
	switch {
	case errors.Is(err, ari.ErrUnauthorized):
		return " (check ARI_USERNAME and ARI_PASSWORD against ari.conf)"
	case errors.Is(err, ari.ErrUnreachable):
		return " (is Asterisk running, with the URL's address in http.conf and res_ari loaded?)"
	default:
		return ""
	}
}

// orphanLedgerTimeout bounds the ledger writes for one orphaned call.
const orphanLedgerTimeout = 10 * time.Second

// recordOrphan writes what happened to a call that an earlier run left in
// the Stasis application: its record (opened if that run had not written
// it yet, so that the contact is registered) ends with how the backend
// ended it.
func recordOrphan(store *ticket.Store, logger *slog.Logger, info telephony.Info, end telephony.End) {
	ctx, cancel := context.WithTimeout(context.Background(), orphanLedgerTimeout)
	defer cancel()
	log := logger.With("call", info.ID)
	if _, err := store.OpenForCall(ctx, ticket.CallInfo{CallID: info.ID, Direction: string(info.Direction),
		Caller: info.Caller, CallerName: info.CallerName, Dialled: info.Dialled, Started: info.Started}); err != nil {
		log.Error("orphan call not recorded in the ledger", "err", err)
		return
	}
	if err := store.EndCall(ctx, info.ID, ticket.CallEnd{At: end.At, Reason: string(end.Reason), By: end.By, Cause: end.Cause}); err != nil {
		log.Error("orphan call end not recorded in the ledger", "err", err)
		return
	}
	log.Info("orphan call ended and recorded", "reason", end.Reason)
}

// sipEngine is the embedded SIP engine as a serveEngine.
type sipEngine struct{ *sip.Engine }

func (sipEngine) Backend() string            { return "sip" }
func (sipEngine) Observe(m *metrics.Metrics) { m.BackendUp("sip", true) }
func (e sipEngine) String() string           { return "SIP on " + e.Addr("udp") }

// ariEngine is the ARI backend as a serveEngine. The engine is connected
// before the metrics exist, so it keeps its connection state and hands it
// to the metrics once they are there.
type ariEngine struct {
	*ari.Engine
	url string

	mu  sync.Mutex
	up  bool
	obs *metrics.Metrics

	events atomic.Pointer[metrics.Metrics] // read on every event
}

func (*ariEngine) Backend() string  { return "ari" }
func (a *ariEngine) String() string { return "ARI at " + a.url }

// Close stops the backend; calls still in the application stay there.
func (a *ariEngine) Close() error {
	a.Engine.Close()
	return nil
}

func (a *ariEngine) Observe(m *metrics.Metrics) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.obs = m
	m.BackendUp("ari", a.up)
	a.events.Store(m)
}

func (a *ariEngine) connState(up bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.up = up
	if a.obs != nil {
		a.obs.BackendUp("ari", up)
	}
}

func (a *ariEngine) event() {
	if m := a.events.Load(); m != nil {
		m.EventHandled("ari")
	}
}
