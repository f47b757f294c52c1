package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"hotline/config"
	"hotline/console"
	"hotline/console/ticketledger"
	"hotline/ivr"
	"hotline/ivr/callback"
	"hotline/metrics"
	"hotline/telephony/sip"
	"hotline/ticket"
	"hotline/ticket/report"
	"hotline/web"
)

// serveCommand is `hotline serve`, also what `hotline` runs without a
// command: the ledger, the embedded SIP engine, the call flows and the
// HTTP API, until SIGINT or SIGTERM.
func serveCommand() command {
	return command{summary: "run the hotline service (the default command)", run: runServe}
}

// agentFlags collects repeated -agent id=dial flags.
type agentFlags []ivr.Agent

func (a *agentFlags) String() string { return fmt.Sprint(*a) }

func (a *agentFlags) Set(v string) error {
	id, dial, ok := strings.Cut(v, "=")
	if !ok || id == "" || dial == "" {
		return errors.New("want id=dial, e.g. a1=sip:a1@127.0.0.1:5070")
	}
	*a = append(*a, ivr.Agent{ID: id, Name: id, Dial: dial})
	return nil
}

// serveShutdownTimeout bounds the HTTP server's drain at shutdown.
const serveShutdownTimeout = 5 * time.Second

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var agents agentFlags
	var (
		cfgPath    = fs.String("config", "", "configuration file (default $HOTLINE_CONFIG, else built-in defaults)")
		sipUDP     = fs.String("sip", "", "SIP listen address (UDP and TCP); port 0 picks one (default: sip.udp and sip.tcp of the configuration, 127.0.0.1:5060)")
		prompts    = fs.String("prompts", "", "directory of the prompts (<name>.wav, 8 kHz mono 16-bit) (default: sip.prompt_dir of the configuration, prompts/wav)")
		recordings = fs.String("recordings", "", "directory the recordings are written to (default: sip.recording_dir of the configuration, var/recordings)")
		httpAddr   = fs.String("http", "", "HTTP listen address (default: http.listen of the configuration)")
		ariURL     = fs.String("ari-url", "", "Asterisk ARI URL, e.g. http://127.0.0.1:8088/ari (default: ari.url of the configuration); empty runs the embedded SIP engine")
		grafana    = fs.String("grafana", "", "Grafana dashboard URL linked from the supervisors' pages")
		tlsProxy   = fs.Bool("secure-cookies", false, "mark cookies Secure (the console is served behind TLS)")
		logLevel   = fs.String("log", "info", "log level: debug, info, warn, error")
	)
	fs.Var(&agents, "agent", "an agent who may log in, as id=dial (repeatable), besides ivr.agents of the configuration")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("-log: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg, err := config.Resolve(*cfgPath)
	if err != nil {
		return err
	}
	if *httpAddr == "" {
		*httpAddr = cfg.HTTP.Listen
	}

	reg := prometheus.NewRegistry()
	obs, mcfg, err := serveMetrics(reg, cfg, serveBackend(*ariURL, cfg))
	if err != nil {
		return err
	}
	store, err := cfg.OpenLedger(ctx, logger, ticket.WithObserver(metrics.LedgerObserver(obs)))
	if err != nil {
		return fmt.Errorf("open ledger: %w", err)
	}
	defer store.Close()
	if err := serveLedgerMetrics(reg, mcfg, store, logger); err != nil {
		return err
	}
	obs.BackendUp("ledger", true)

	engine, err := newServeEngine(ctx, *ariURL, cfg, serveSIPConfig(cfg, *sipUDP, *prompts, *recordings), store, logger)
	if err != nil {
		return err
	}
	defer engine.Close()

	engine.Observe(obs)

	lines, units := ivrDirectory(cfg)
	ivrCfg := cfg.IVR
	ivrCfg.Agents = append(slices.Clone(cfg.IVR.Agents), agents...)
	ledger, err := ivr.NewTicketLedger(ctx, store, ivrCfg.Agents)
	if err != nil {
		return err
	}
	svc, err := ivr.New(ivrCfg, ivr.Deps{Engine: engine, Ledger: ledger, Calendar: store.Calendar(),
		Lines: lines, Units: units, Logger: logger, Observer: obs})
	if err != nil {
		return fmt.Errorf("ivr: %w", err)
	}
	if err := svc.RestoreAgents(ctx); err != nil {
		return err
	}
	// The callback dialer places the surveys and return calls the ledger
	// owes; return calls go through the IVR's queue to an agent.
	cbCfg := cfg.Callbacks
	if err := cbCfg.Init(); err != nil {
		return fmt.Errorf("callbacks: %w", err)
	}
	dialer, callbacks, err := callback.NewOnLedger(&cbCfg, store, engine, svc, logger,
		callbackObserver(cfg, store, obs, logger))
	if err != nil {
		return fmt.Errorf("callback dialer: %w", err)
	}

	// The console serves its pages and, behind its sessions and role
	// checks, the hotline API (/api/...).
	lineNames := map[string]string{}
	for _, l := range cfg.Lines {
		lineNames[l.ID] = l.Name
	}
	con, err := console.New(console.Config{SecureCookies: *tlsProxy, MaskCaller: true, GrafanaURL: *grafana, LineNames: lineNames}, console.Deps{
		Ledger: ticketledger.New(store, ticketledger.Reports{
			Directory: report.Directory{Lines: cfg.Lines, Units: cfg.Units},
			Rules:     cfg.Report,
		}, nil),
		Users:     ticketledger.NewUsers(store),
		Events:    svc.Bus(),
		API:       callbackAPI(web.New(svc, svc.Bus(), logger), callbacks),
		Recording: svc,
		Log:       logger,
	})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", metrics.Handler(reg, logger))
	mux.Handle("/", con)
	ln, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		return fmt.Errorf("http listen: %w", err)
	}
	// Requests (event streams above all) end when the service stops.
	reqCtx, stopRequests := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRequests()
	srv := &http.Server{Handler: mux, BaseContext: func(net.Listener) context.Context { return reqCtx },
		ReadHeaderTimeout: 10 * time.Second}

	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	consoleDone := con.Start(runCtx)
	fmt.Fprintf(stdout, "hotline: %s, HTTP on %s\n", engine, ln.Addr())
	engineDone := make(chan error, 1)
	go func() { engineDone <- engine.Serve(runCtx, svc) }()
	dialerDone := make(chan struct{})
	go func() {
		defer close(dialerDone)
		if err := dialer.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
			logger.Error("callback dialer stopped", "err", err)
		}
	}()
	httpDone := make(chan error, 1)
	go func() { httpDone <- srv.Serve(ln) }()

	var runErr error
	engineStopped := false
	select {
	case <-ctx.Done():
	case err := <-engineDone:
		runErr, engineStopped = fmt.Errorf("engine stopped: %w", err), true
	case err := <-httpDone:
		runErr = fmt.Errorf("http: %w", err)
	}
	logger.Info("shutting down")
	stopRun()
	stopRequests()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), serveShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("http shutdown", "err", err)
	}
	if !engineStopped {
		// Serve returns once the calls in progress have ended (after the
		// engine's grace period).
		if err := <-engineDone; err != nil && !errors.Is(err, context.Canceled) && runErr == nil {
			runErr = fmt.Errorf("engine: %w", err)
		}
	}
	<-consoleDone
	// The dialer returns once its calls in progress have ended.
	<-dialerDone
	svc.Wait()
	return runErr
}

// serveSIPConfig is the sip: section, its directories relative to the
// configuration file, with what the flags (when given) override.
func serveSIPConfig(cfg *config.Config, listen, prompts, recordings string) sip.Config {
	c := cfg.SIP
	c.PromptDir, c.RecordingDir = cfg.Path(c.PromptDir), cfg.Path(c.RecordingDir)
	if listen != "" {
		c.UDP, c.TCP = listen, listen
	}
	if prompts != "" {
		c.PromptDir = prompts
	}
	if recordings != "" {
		c.RecordingDir = recordings
	}
	return c
}

// ivrDirectory turns the configured lines and units into the flows' own.
func ivrDirectory(cfg *config.Config) ([]ivr.Line, []ivr.Unit) {
	lines := make([]ivr.Line, 0, len(cfg.Lines))
	for _, l := range cfg.Lines {
		lines = append(lines, ivr.Line{Key: l.Key, ID: l.ID, Name: l.Name, Department: l.Department})
	}
	units := make([]ivr.Unit, 0, len(cfg.Units))
	for _, u := range cfg.Units {
		units = append(units, ivr.Unit{ID: u.ID, Name: u.Name, Dial: u.Phone})
	}
	return lines, units
}

// serveMetrics builds the metrics of the call path and of the ledger's
// commits, before the ledger and the engine exist. Series are labelled by menu key and unit id; the names go to
// hotline_line_info and hotline_unit_info for the dashboard and alerts.
func serveMetrics(reg *prometheus.Registry, cfg *config.Config, backend string) (*metrics.Metrics, metrics.Config, error) {
	mcfg := metrics.Config{Backends: []string{backend, "ledger"},
		LineNames: map[string]string{}, UnitNames: map[string]string{}}
	for _, l := range cfg.Lines {
		mcfg.Lines = append(mcfg.Lines, l.Key)
		mcfg.LineNames[l.Key] = l.Name
	}
	for _, u := range cfg.Units {
		mcfg.Units = append(mcfg.Units, u.ID)
		mcfg.UnitNames[u.ID] = u.Name
	}
	m, err := metrics.New(reg, mcfg)
	if err != nil {
		return nil, mcfg, err
	}
	return m, mcfg, nil
}

// serveLedgerMetrics registers the ticket gauges, read from the ledger at
// scrape time. Tickets no unit holds yet are labelled unit="none".
func serveLedgerMetrics(reg *prometheus.Registry, mcfg metrics.Config, store *ticket.Store, logger *slog.Logger) error {
	lc, err := metrics.NewLedgerCollector(metrics.TicketStats(store, time.Now), mcfg, 0, logger)
	if err != nil {
		return err
	}
	if err := reg.Register(lc); err != nil {
		return fmt.Errorf("register ledger metrics: %w", err)
	}
	return nil
}
