// Package console is the web console of the hotline, in Simplified
// Chinese: the agents' screen-pop and registration form, the responsible
// units' portal, the supervisors' ledger views, and the public QR-code
// complaint form (第二条). Pages are rendered on the server from embedded
// templates; a little vanilla JavaScript drives the screen-pop.
//
// The console wraps the hotline's HTTP API (package web): every /api/
// request is authenticated, authorised by role and CSRF-checked before it
// is passed on, and /api/events is served here with replay.
package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"hotline/console/auth"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config is the console's configuration.
type Config struct {
	// SecureCookies sets Secure on cookies; set it when served behind TLS
	// (a request that arrives over TLS gets Secure cookies anyway).
	SecureCookies bool
	// MaskCaller shows callers' numbers masked (138****5678) on the
	// screen-pop and in agents' lists.
	MaskCaller bool
	// GrafanaURL is the dashboard supervisors are linked to; "" hides the link.
	GrafanaURL string
	// LineNames names the business lines by the id tickets store (e.g.
	// passenger → 客运); an unnamed id is shown as it is.
	LineNames map[string]string
	// ReplayEvents is how many recent events are kept for replay; default 512.
	ReplayEvents int
	// Heartbeat is the interval of comments on idle event streams; default 15 s.
	Heartbeat time.Duration
	// LoginAttempts failed logins per LoginWindow per client address and
	// per user name; default 5 per 15 minutes.
	LoginAttempts int
	LoginWindow   time.Duration
	// QRSubmissions per QRWindow per client address; default 5 per 10 minutes.
	QRSubmissions int
	QRWindow      time.Duration
	// SessionIdle and SessionMax bound a session's life; default 8 h and 24 h.
	SessionIdle, SessionMax time.Duration
}

func (c *Config) setDefaults() {
	if c.ReplayEvents <= 0 {
		c.ReplayEvents = 512
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 15 * time.Second
	}
	if c.LoginAttempts <= 0 {
		c.LoginAttempts = 5
	}
	if c.LoginWindow <= 0 {
		c.LoginWindow = 15 * time.Minute
	}
	if c.QRSubmissions <= 0 {
		c.QRSubmissions = 5
	}
	if c.QRWindow <= 0 {
		c.QRWindow = 10 * time.Minute
	}
}

// Deps are what the console works with.
type Deps struct {
	Ledger Ledger
	Users  auth.Store
	Events Events       // the IVR's event bus
	API    http.Handler // the hotline API (web.Server), mounted under /api/
	// Recording pauses the recording of a call in progress; optional.
	Recording RecordingControl
	Log       *slog.Logger
	Now       func() time.Time
}

// Console is the web console; it is an http.Handler. Call Start to feed it with the IVR's events.
type Console struct {
	cfg       Config
	ledger    Ledger
	users     auth.Store
	events    Events
	api       http.Handler
	recording RecordingControl
	log       *slog.Logger
	now       func() time.Time

	sessions   *auth.Sessions
	loginByIP  *auth.Limiter
	loginByKey *auth.Limiter
	qrLimit    *auth.Limiter
	hub        *popHub
	pages      map[string]*template.Template
	mux        *http.ServeMux
	units      unitNames
}

// New returns the console.
func New(cfg Config, d Deps) (*Console, error) {
	if d.Ledger == nil || d.Users == nil || d.Events == nil || d.API == nil {
		return nil, errors.New("console: ledger, users, events and API are required")
	}
	cfg.setDefaults()
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	c := &Console{
		cfg: cfg, ledger: d.Ledger, users: d.Users, events: d.Events, api: d.API, recording: d.Recording,
		log: d.Log, now: d.Now,
		sessions:   auth.NewSessions(d.Now, cfg.SessionIdle, cfg.SessionMax),
		loginByIP:  auth.NewLimiter(cfg.LoginAttempts, cfg.LoginWindow, d.Now),
		loginByKey: auth.NewLimiter(cfg.LoginAttempts, cfg.LoginWindow, d.Now),
		qrLimit:    auth.NewLimiter(cfg.QRSubmissions, cfg.QRWindow, d.Now),
		hub:        newPopHub(cfg.ReplayEvents),
		mux:        http.NewServeMux(),
	}
	pages, err := c.parseTemplates()
	if err != nil {
		return nil, err
	}
	c.pages = pages
	c.routes()
	return c, nil
}

func (c *Console) routes() {
	static, _ := fs.Sub(staticFS, "static")
	c.mux.Handle("GET /static/", http.StripPrefix("/static/", cacheStatic(http.FileServerFS(static))))

	c.mux.HandleFunc("GET /{$}", c.home)
	c.mux.HandleFunc("GET /login", c.loginPage)
	c.mux.HandleFunc("POST /login", c.loginSubmit)
	c.mux.Handle("POST /logout", c.with(anyRole, c.logout))

	c.mux.HandleFunc("GET /qr", c.qrPage)
	c.mux.HandleFunc("POST /qr", c.qrSubmit)

	agents := roles(auth.RoleAgent, auth.RoleSupervisor, auth.RoleAdmin)
	overseers := roles(auth.RoleSupervisor, auth.RoleAdmin)
	units := roles(auth.RoleUnit)

	c.mux.Handle("GET /agent", c.with(roles(auth.RoleAgent, auth.RoleAdmin), c.agentPage))
	c.mux.Handle("GET /agent/panel/{id}", c.with(agents, c.agentPanel))
	c.mux.Handle("GET /tickets/{id}", c.with(anyRole, c.ticketPage))
	c.mux.Handle("GET /tickets/{id}/sheet", c.with(anyRole, c.sheetPage))
	c.mux.Handle("POST /tickets/{id}/register", c.with(agents, c.register))
	c.mux.Handle("POST /tickets/{id}/answer", c.with(agents, c.answer))
	c.mux.Handle("POST /tickets/{id}/forward", c.with(agents, c.forward))
	c.mux.Handle("POST /tickets/{id}/sheet", c.with(agents, c.issueSheet))
	c.mux.Handle("POST /tickets/{id}/recording", c.with(agents, c.pauseRecording))
	c.mux.Handle("POST /tickets/{id}/reply", c.with(units, c.reply))
	c.mux.Handle("POST /tickets/{id}/return", c.with(units, c.returnTicket))
	c.mux.Handle("GET /unit", c.with(units, c.unitPage))
	c.mux.Handle("GET /supervisor", c.with(overseers, c.supervisorPage))
	c.mux.Handle("GET /reports/monthly", c.with(overseers, c.monthlyReport))
	c.mux.Handle("GET /assessment", c.with(overseers, c.assessmentPage))
	c.mux.Handle("GET /recordings/{id}", c.with(anyRole, c.recordingFile))

	c.mux.Handle("GET /api/events", c.with(roles(auth.RoleAgent, auth.RoleSupervisor, auth.RoleAdmin), c.streamEvents))
	c.mux.Handle("/api/", c.with(anyRole, c.proxyAPI))
}

func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	c.mux.ServeHTTP(w, r)
}

func cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

func (c *Console) home(w http.ResponseWriter, r *http.Request) {
	s, err := c.session(r)
	if err != nil {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, homeOf(s.Role), http.StatusSeeOther)
}

// lineName is the name of a business line id.
// unitName names a unit by its id, as the ledger's directory does; an
// unknown id is shown as it is.
func (c *Console) unitName(id string) string {
	if id == "" {
		return ""
	}
	if n, ok := c.units.get(c.ledger, c.now())[id]; ok && n != "" {
		return n
	}
	return id
}

// unitNames is the units' names, read from the ledger at most once a
// minute: pages name units on every row, and the directory changes only
// when the service starts.
type unitNames struct {
	mu     sync.Mutex
	names  map[string]string
	loaded time.Time
}

func (u *unitNames) get(l Ledger, now time.Time) map[string]string {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.names != nil && now.Sub(u.loaded) < time.Minute {
		return u.names
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	units, err := l.Units(ctx)
	if err != nil {
		return u.names // the last known names (nil: ids are shown)
	}
	u.names, u.loaded = make(map[string]string, len(units)), now
	for _, x := range units {
		u.names[x.ID] = x.Name
	}
	return u.names
}

func (c *Console) lineName(id string) string {
	if n, ok := c.cfg.LineNames[id]; ok {
		return n
	}
	return id
}

func homeOf(r auth.Role) string {
	switch r {
	case auth.RoleAgent:
		return "/agent"
	case auth.RoleUnit:
		return "/unit"
	default:
		return "/supervisor"
	}
}

// userError is a failure shown to the user with its status.
type userError struct {
	status int
	msg    string
}

func (e *userError) Error() string { return e.msg }

func badRequest(format string, a ...any) error {
	return &userError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, a...)}
}

// fail answers a failed request: a page for browsers, JSON for the API.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	status, msg := c.classify(err)
	if status == 0 {
		return // the client went away
	}
	if status == http.StatusInternalServerError {
		c.log.Error("console request", "path", r.URL.Path, "err", err)
	}
	c.renderStatus(w, r, s, status, "error", errorPage{Status: status, Message: msg})
}

func (c *Console) classify(err error) (int, string) {
	var ue *userError
	switch {
	case errors.As(err, &ue):
		return ue.status, ue.msg
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound, "没有找到该工单或记录。"
	case errors.Is(err, ErrAlreadyReplied):
		return http.StatusConflict, "本阶段已经回复过，不能重复回复。如需补充，请联系客服中心。"
	case errors.Is(err, ErrWrongState):
		return http.StatusConflict, "工单当前状态不允许此操作：" + err.Error()
	case errors.Is(err, ErrInvalid):
		return http.StatusBadRequest, "输入有误：" + err.Error()
	case errors.Is(err, errCanceled):
		return 0, ""
	}
	return http.StatusInternalServerError, "系统内部错误，请稍后再试。"
}

type errorPage struct {
	Status  int
	Message string
}
