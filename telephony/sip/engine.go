package sip

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/diago"
	"github.com/emiago/diago/media"
	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"

	"hotline/telephony"
)

// Engine is the embedded SIP engine. Create it with New, run it with Serve.
type Engine struct {
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	prompts  map[string]*prompt
	networks []netip.Prefix
	numbers  map[string]bool
	anyNum   bool

	ua  *sipgo.UserAgent
	srv *sipgo.Server
	dg  *diago.Diago
	udp net.PacketConn
	tcp net.Listener

	pacer *pacer

	handler   atomic.Pointer[telephony.Handler]
	ready     chan struct{} // closed once Serve serves
	serving   atomic.Bool
	draining  atomic.Bool
	closeOnce sync.Once

	// callsCtx is the parent of every call's context; cancelling it ends
	// the calls that outlived the shutdown grace.
	callsCtx    context.Context
	cancelCalls context.CancelFunc

	mu     sync.Mutex
	calls  map[string]*Call // by Call-ID
	nextID atomic.Uint64

	inProgress atomic.Int64

	watchdogDone chan struct{} // closed when watchMedia has returned
}

var _ telephony.Engine = (*Engine)(nil)

// Option changes how New builds the engine.
type Option func(*options)

type options struct {
	now      func() time.Time
	prompts  map[string][]int16
	fallback fs.FS
}

// WithClock sets the clock used for call times and recordings.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithPrompt adds a prompt held in memory (8 kHz mono samples) besides the
// prompt directory's; `hotline dial --send` uses it.
func WithPrompt(name string, pcm []int16) Option {
	return func(o *options) {
		if o.prompts == nil {
			o.prompts = map[string][]int16{}
		}
		o.prompts[name] = pcm
	}
}

// WithFallbackPrompts gives the prompts (<name>.wav files) to play when the
// configured prompt directory does not exist, e.g. those built into the
// binary; a directory that exists always wins, so a site can drop in
// recorded prompts.
func WithFallbackPrompts(fsys fs.FS) Option { return func(o *options) { o.fallback = fsys } }

// rtpPorts sets diago's process-wide RTP port range once; diago has no
// per-engine setting.
var rtpPorts sync.Once

// New checks cfg and every prompt, binds the SIP addresses and returns an
// engine ready to Serve. A prompt in a wrong format is refused with its
// file named.
func New(cfg Config, logger *slog.Logger, opts ...Option) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.RecordingDir, 0o750); err != nil {
		return nil, fmt.Errorf("recording directory: %w", err)
	}
	e := &Engine{
		cfg:      cfg,
		log:      logger.With("engine", "sip"),
		now:      time.Now,
		prompts:  map[string]*prompt{},
		networks: cfg.networks(),
		numbers:  map[string]bool{},
		ready:    make(chan struct{}),
		calls:    map[string]*Call{},
	}
	for _, n := range cfg.Numbers {
		if n == "*" {
			e.anyNum = true
		}
		e.numbers[n] = true
	}
	var set options
	for _, o := range opts {
		o(&set)
	}
	switch _, err := os.Stat(cfg.PromptDir); {
	case err == nil || !errors.Is(err, os.ErrNotExist):
		if e.prompts, err = loadPrompts(os.DirFS(cfg.PromptDir), cfg.PromptDir); err != nil {
			return nil, err
		}
	case set.fallback != nil:
		logger.Info("prompt directory missing: playing the prompts built into the binary", "dir", cfg.PromptDir)
		if e.prompts, err = loadPrompts(set.fallback, "built-in prompts"); err != nil {
			return nil, err
		}
	default:
		logger.Warn("prompt directory missing: no prompts to play", "dir", cfg.PromptDir)
	}
	for name, pcm := range set.prompts {
		e.prompts[name] = newPrompt(pcm)
	}
	if set.now != nil {
		e.now = set.now
	}
	rtpPorts.Do(func() { media.RTPPortStart, media.RTPPortEnd = cfg.RTPPortMin, cfg.RTPPortMax })
	e.callsCtx, e.cancelCalls = context.WithCancel(context.Background())
	if err := e.listen(); err != nil {
		e.closeTransport()
		return nil, err
	}
	e.pacer = newPacer(e.log, e.now)
	if cfg.MediaTimeout > 0 {
		e.watchdogDone = make(chan struct{})
		go e.watchMedia()
	}
	return e, nil
}

// watchMedia hangs up answered calls whose RTP stopped for MediaTimeout:
// one goroutine for all calls, looking once a second.
func (e *Engine) watchMedia() {
	defer close(e.watchdogDone)
	t := time.NewTicker(min(time.Second, e.cfg.MediaTimeout/2))
	defer t.Stop()
	for {
		select {
		case <-e.callsCtx.Done():
			return
		case <-t.C:
		}
		limit := e.now().Add(-e.cfg.MediaTimeout).UnixNano()
		e.mu.Lock()
		var silent []*Call
		for _, c := range e.calls {
			if last := c.lastRx.Load(); last != 0 && last < limit && c.ctx.Err() == nil {
				silent = append(silent, c)
			}
		}
		e.mu.Unlock()
		for _, c := range silent {
			c.log.Warn("no media from the far end: hanging up", "timeout", e.cfg.MediaTimeout)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), hangupTimeout)
				defer cancel()
				_ = c.Hangup(ctx, telephony.ReasonTimeout)
			}()
		}
	}
}

// listen binds the sockets and builds the SIP stack on them.
func (e *Engine) listen() error {
	var err error
	e.ua, err = sipgo.NewUA(sipgo.WithUserAgent("hotline"),
		sipgo.WithUserAgentTransportLayerOptions(sipmsg.WithTransportLayerLogger(e.log.With("layer", "transport"))),
		sipgo.WithUserAgentTransactionLayerOptions(sipmsg.WithTransactionLayerLogger(e.log.With("layer", "transaction"))))
	if err != nil {
		return fmt.Errorf("sip user agent: %w", err)
	}
	e.srv, err = sipgo.NewServer(e.ua, sipgo.WithServerLogger(e.log))
	if err != nil {
		return fmt.Errorf("sip server: %w", err)
	}
	dgOpts := []diago.DiagoOption{
		diago.WithLogger(e.log),
		diago.WithServer(e.srv),
		diago.WithServerRequestMiddleware(e.admit),
	}
	if e.cfg.UDP != "" {
		e.udp, err = net.ListenPacket("udp", e.cfg.UDP)
		if err != nil {
			return fmt.Errorf("listen sip udp %s: %w", e.cfg.UDP, err)
		}
		dgOpts = append(dgOpts, diago.WithTransport(e.transport("udp", e.udp.LocalAddr())))
	}
	if e.cfg.TCP != "" {
		e.tcp, err = net.Listen("tcp", e.cfg.TCP)
		if err != nil {
			return fmt.Errorf("listen sip tcp %s: %w", e.cfg.TCP, err)
		}
		dgOpts = append(dgOpts, diago.WithTransport(e.transport("tcp", e.tcp.Addr())))
	}
	e.dg = diago.NewDiago(e.ua, dgOpts...)
	// diago answers INFO with 406; DTMF by SIP INFO is ours.
	e.srv.OnInfo(e.onInfo)
	return nil
}

func (e *Engine) transport(network string, addr net.Addr) diago.Transport {
	host, port, _ := net.SplitHostPort(addr.String())
	p, _ := strconv.Atoi(port)
	t := diago.Transport{Transport: network, BindHost: host, BindPort: p}
	if e.cfg.PublicHost != "" {
		t.ExternalHost = e.cfg.PublicHost
	}
	return t
}

// Addr returns the bound address of network "udp" or "tcp", "" when that
// transport is off. With port 0 in the config it tells the port chosen.
func (e *Engine) Addr(network string) string {
	switch network {
	case "udp":
		if e.udp != nil {
			return e.udp.LocalAddr().String()
		}
	case "tcp":
		if e.tcp != nil {
			return e.tcp.Addr().String()
		}
	}
	return ""
}

// Stats is what the service's metrics read from the engine.
type Stats struct {
	CallsInProgress int  // inbound and outbound calls up or being set up
	Listening       bool // Serve is accepting calls
}

// Stats returns the engine's current figures; it is cheap.
func (e *Engine) Stats() Stats {
	return Stats{
		CallsInProgress: int(e.inProgress.Load()),
		Listening:       e.serving.Load() && !e.draining.Load(),
	}
}

// Serve delivers inbound calls to h until ctx ends, then stops accepting
// calls (503), lets calls in progress finish for the shutdown grace, hangs
// up those left and closes the transports. It returns nil after a clean
// shutdown.
func (e *Engine) Serve(ctx context.Context, h telephony.Handler) error {
	if !e.serving.CompareAndSwap(false, true) {
		return errors.New("sip engine: Serve called twice")
	}
	e.handler.Store(&h)
	e.dg.HandleFunc(e.serveDialog)
	errc := make(chan error, 2)
	listeners := 0
	if e.udp != nil {
		listeners++
		go func() { errc <- e.srv.ServeUDP(e.udp) }()
	}
	if e.tcp != nil {
		listeners++
		go func() { errc <- e.srv.ServeTCP(e.tcp) }()
	}
	e.awaitListeners(ctx)
	close(e.ready)
	e.log.Info("sip engine listening", "udp", e.Addr("udp"), "tcp", e.Addr("tcp"))

	var serveErr error
	select {
	case <-ctx.Done():
	case err := <-errc:
		listeners--
		serveErr = fmt.Errorf("sip transport stopped: %w", err)
	}
	e.shutdown()
	for range listeners {
		<-errc
	}
	return serveErr
}

// awaitListeners returns once the transport layer holds the listening
// sockets: a request sent before that would open a socket of its own and
// its responses would miss the dialogs.
func (e *Engine) awaitListeners(ctx context.Context) {
	tp := e.ua.TransportLayer()
	for _, l := range []struct{ network, addr string }{{"udp", e.Addr("udp")}, {"tcp", e.Addr("tcp")}} {
		if l.addr == "" || l.network == "tcp" {
			continue
		}
		for ctx.Err() == nil {
			if c, err := tp.GetConnection(l.network, l.addr); err == nil && c != nil {
				break
			}
			time.Sleep(time.Millisecond) // ServeUDP registers it from its own goroutine
		}
	}
}

// shutdown drains the calls and closes everything.
func (e *Engine) shutdown() {
	e.draining.Store(true)
	if !e.awaitIdle(e.cfg.ShutdownGrace) {
		e.log.Info("shutdown grace over, hanging up calls", "calls", e.inProgress.Load())
		e.mu.Lock()
		calls := make([]*Call, 0, len(e.calls))
		for _, c := range e.calls {
			calls = append(calls, c)
		}
		e.mu.Unlock()
		for _, c := range calls {
			hctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = c.Hangup(hctx, telephony.ReasonShutdown)
			cancel()
		}
		e.cancelCalls()
		if !e.awaitIdle(hangupTimeout) {
			e.log.Error("calls still in progress after shutdown", "calls", e.inProgress.Load())
		}
	}
	e.cancelCalls()
	e.closeTransport()
}

// awaitIdle waits up to d for the calls in progress to reach zero. New
// calls are refused meanwhile, so the count only falls.
func (e *Engine) awaitIdle(d time.Duration) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for e.inProgress.Load() > 0 {
		select {
		case <-deadline.C:
			return false
		case <-tick.C:
		}
	}
	return true
}

// Close releases the sockets of an engine that is not serving. Serve
// closes them itself on return.
func (e *Engine) Close() error {
	if e.serving.Load() {
		return nil
	}
	e.cancelCalls()
	e.closeTransport()
	return nil
}

func (e *Engine) closeTransport() {
	e.closeOnce.Do(func() {
		if e.pacer != nil {
			e.pacer.close()
		}
		if e.watchdogDone != nil {
			<-e.watchdogDone
		}
		if e.udp != nil {
			_ = e.udp.Close()
		}
		if e.tcp != nil {
			_ = e.tcp.Close()
		}
		if e.ua == nil {
			return
		}
		_ = e.ua.Close()
		// sipgo may still be handling a message read just before the close
		// (an ACK racing the end of its transaction); it then opens a fresh
		// UDP socket after the pool was cleared, and its reader would run
		// forever. Sweep the pool until it stays empty.
		pool := e.ua.TransportLayer().Pool("udp")
		for quiet, rounds := 0, 0; quiet < 3 && rounds < 50; rounds++ {
			time.Sleep(10 * time.Millisecond)
			if pool.Size() > 0 {
				_ = pool.Clear()
				quiet = 0
				continue
			}
			quiet++
		}
	})
}

// admit is the gate in front of diago for new INVITEs: source network,
// number, codecs and capacity are checked before any dialog exists.
func (e *Engine) admit(next sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		if !req.IsInvite() || hasToTag(req) {
			next(req, tx)
			return
		}
		if status, reason, hdrs := e.check(req); status != 0 {
			res := sipmsg.NewResponseFromRequest(req, status, reason, nil)
			for _, h := range hdrs {
				res.AppendHeader(h)
			}
			if err := tx.Respond(res); err != nil {
				e.log.Debug("respond to refused invite", "status", status, "err", err)
			}
			return
		}
		defer e.release()
		next(req, tx)
	}
}

// check decides on a new INVITE; a non-zero status refuses it. Admitted
// calls count towards the limit until release.
func (e *Engine) check(req *sipmsg.Request) (int, string, []sipmsg.Header) {
	if !e.allowed(req.Source()) {
		e.log.Info("invite refused: source not allowed", "source", req.Source())
		return sipmsg.StatusForbidden, "Forbidden", nil
	}
	if e.draining.Load() {
		return sipmsg.StatusServiceUnavailable, "Shutting Down", []sipmsg.Header{e.retryAfter()}
	}
	if !e.anyNum && !e.numbers[req.Recipient.User] {
		return sipmsg.StatusNotFound, "Not Found", nil
	}
	if req.Body() == nil || len(req.Body()) == 0 {
		return sipmsg.StatusNotAcceptableHere, "SDP Offer Required", nil
	}
	if err := checkOffer(req.Body()); err != nil {
		if errors.Is(err, errNoCommonCodec) {
			return sipmsg.StatusNotAcceptableHere, "Not Acceptable Here", nil
		}
		return sipmsg.StatusBadRequest, "Bad SDP", nil
	}
	if !e.reserve() {
		e.log.Warn("invite refused: call limit reached", "max_calls", e.cfg.MaxCalls)
		return sipmsg.StatusServiceUnavailable, "Service Unavailable", []sipmsg.Header{e.retryAfter()}
	}
	return 0, "", nil
}

func (e *Engine) retryAfter() sipmsg.Header {
	return sipmsg.NewHeader("Retry-After", strconv.Itoa(int(e.cfg.RetryAfter.Seconds())))
}

// reserve takes a place among the calls in progress, if one is free.
func (e *Engine) reserve() bool {
	for {
		n := e.inProgress.Load()
		if e.cfg.MaxCalls > 0 && n >= int64(e.cfg.MaxCalls) {
			return false
		}
		if e.inProgress.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (e *Engine) release() { e.inProgress.Add(-1) }

func (e *Engine) allowed(source string) bool {
	host, _, err := net.SplitHostPort(source)
	if err != nil {
		host = source
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, n := range e.networks {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

func hasToTag(req *sipmsg.Request) bool {
	to := req.To()
	if to == nil || to.Params == nil {
		return false
	}
	_, ok := to.Params.Get("tag")
	return ok
}

// serveDialog runs one admitted inbound call on the request's goroutine.
func (e *Engine) serveDialog(d *diago.DialogServerSession) {
	hp := e.handler.Load()
	if hp == nil {
		return
	}
	c := e.newCall(inboundInfo(d.InviteRequest, e.now()), &serverLeg{d: d})
	c.log.Info("call offered")
	e.track(c)
	defer e.untrack(c)
	// A CANCEL or BYE ends the dialog's context.
	stop := context.AfterFunc(d.Context(), func() { c.remoteEnded(sipCause(d.Context())) })
	defer stop()

	ctx, cancel := context.WithCancel(e.callsCtx)
	defer cancel()
	stopCtx := context.AfterFunc(c.ctx, cancel)
	defer stopCtx()

	func() {
		defer func() {
			if r := recover(); r != nil {
				c.log.Error("call handler panicked", "panic", r)
			}
		}()
		(*hp).HandleCall(ctx, c)
	}()
	hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer hcancel()
	_ = c.Hangup(hctx, telephony.ReasonNormal)
	c.wait()
	end := c.End()
	c.log.Info("call ended", "reason", end.Reason, "by", end.By, "cause", end.Cause)
}

func sipCause(ctx context.Context) int {
	if errors.Is(context.Cause(ctx), sipmsg.ErrTransactionCanceled) {
		return 487
	}
	return 0
}

func (e *Engine) track(c *Call) {
	e.mu.Lock()
	e.calls[c.callID] = c
	e.mu.Unlock()
}

func (e *Engine) untrack(c *Call) {
	e.mu.Lock()
	if e.calls[c.callID] == c {
		delete(e.calls, c.callID)
	}
	e.mu.Unlock()
}

func (e *Engine) lookup(callID string) *Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls[callID]
}

// onInfo takes DTMF sent as SIP INFO within a call.
func (e *Engine) onInfo(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	respond := func(code int, reason string) {
		_ = tx.Respond(sipmsg.NewResponseFromRequest(req, code, reason, nil))
	}
	var c *Call
	if id := req.CallID(); id != nil {
		c = e.lookup(id.Value())
	}
	if c == nil {
		respond(sipmsg.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = h.Value()
	}
	d, ok := infoDigit(ct, req.Body())
	if !ok {
		respond(sipmsg.StatusUnsupportedMediaType, "Unsupported Media Type")
		return
	}
	// Deliver before answering: the sender's next INFO waits for this 200,
	// so digits keep their order. A hang-up the digit brings about waits
	// for the 200 (Call.infoMu).
	c.infoMu.Lock()
	defer c.infoMu.Unlock()
	c.deliver(d)
	respond(sipmsg.StatusOK, "OK")
}

// inboundInfo builds the call info from the INVITE: caller from
// P-Asserted-Identity, else From; withheld numbers become "".
func inboundInfo(req *sipmsg.Request, now time.Time) telephony.Info {
	info := telephony.Info{Direction: telephony.Inbound, Dialled: req.Recipient.User, Started: now}
	var user, name, host string
	if h := req.GetHeader("P-Asserted-Identity"); h != nil {
		var uri sipmsg.Uri
		if dn, err := sipmsg.ParseAddressValue(h.Value(), &uri, nil); err == nil {
			user, name, host = uri.User, dn, uri.Host
		}
	}
	if from := req.From(); from != nil {
		if user == "" {
			user, name, host = from.Address.User, from.DisplayName, from.Address.Host
		} else if name == "" {
			name = from.DisplayName
		}
	}
	if isAnonymous(user, host) {
		user = ""
		if strings.EqualFold(name, "anonymous") {
			name = ""
		}
	}
	info.Caller, info.CallerName = user, name
	return info
}

func isAnonymous(user, host string) bool {
	return user == "" || strings.EqualFold(user, "anonymous") || strings.EqualFold(host, "anonymous.invalid")
}
