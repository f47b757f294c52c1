package console

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"hotline/console/auth"
)

var errCanceled = context.Canceled

// The cookies of the console.
const (
	sessionCookie = "hotline_session"
	loginCookie   = "hotline_login" // pre-session CSRF token of the login form
	csrfHeader    = "X-CSRF-Token"
	csrfField     = "csrf"
)

// session is the session of a request.
type session = auth.Session

// rule decides whether a role may use a route.
type rule func(auth.Role) bool

func anyRole(auth.Role) bool { return true }

func roles(rs ...auth.Role) rule {
	return func(r auth.Role) bool { return slices.Contains(rs, r) }
}

func (c *Console) session(r *http.Request) (session, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, auth.ErrNoSession
	}
	return c.sessions.Get(ck.Value)
}

// with authenticates, authorises and CSRF-checks a request before h.
func (c *Console) with(allowed rule, h func(http.ResponseWriter, *http.Request, *session)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api := strings.HasPrefix(r.URL.Path, "/api/")
		s, err := c.session(r)
		if err != nil {
			if api || r.Method != http.MethodGet {
				writeJSONError(w, http.StatusUnauthorized, "请先登录")
				return
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if !allowed(s.Role) {
			c.log.Warn("forbidden", "user", s.User, "role", s.Role, "method", r.Method, "path", r.URL.Path)
			if api {
				writeJSONError(w, http.StatusForbidden, "无权访问")
				return
			}
			c.renderStatus(w, r, &s, http.StatusForbidden, "error", errorPage{Status: http.StatusForbidden, Message: "您的账号无权访问此页面。"})
			return
		}
		if changesState(r.Method) && !c.csrfOK(r, s) {
			c.log.Warn("csrf refused", "user", s.User, "path", r.URL.Path)
			if api {
				writeJSONError(w, http.StatusForbidden, "CSRF 校验失败，请刷新页面后重试")
				return
			}
			c.renderStatus(w, r, &s, http.StatusForbidden, "error", errorPage{Status: http.StatusForbidden, Message: "安全校验失败（CSRF），请刷新页面后重试。"})
			return
		}
		h(w, r, &s)
	})
}

func changesState(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}

// csrfOK checks the session's token in the header or the form, and that
// a browser's Origin, when sent, is this host.
func (c *Console) csrfOK(r *http.Request, s session) bool {
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	token := r.Header.Get(csrfHeader)
	if token == "" {
		r.Body = http.MaxBytesReader(nil, r.Body, maxForm)
		token = r.PostFormValue(csrfField)
	}
	return auth.SameToken(token, s.CSRF)
}

// maxForm bounds a form post.
const maxForm = 64 << 10

// clientAddr is the client's address for rate limiting. The console is
// expected to face clients directly or behind a proxy that sets
// RemoteAddr; forwarded headers are not trusted.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (c *Console) secure(r *http.Request) bool { return c.cfg.SecureCookies || r.TLS != nil }

func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: c.secure(r), SameSite: http.SameSiteStrictMode,
	})
}

type loginView struct {
	Token string
	Next  string
	Error string
	Name  string
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	token := auth.RandomToken()
	c.setCookie(w, r, loginCookie, token, 3600)
	c.renderStatus(w, r, nil, http.StatusOK, "login", loginView{Token: token, Next: safeNext(r.URL.Query().Get("next"))})
}

func (c *Console) loginSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		c.renderStatus(w, r, nil, http.StatusBadRequest, "error", errorPage{Status: http.StatusBadRequest, Message: "表单无法解析。"})
		return
	}
	name, password, next := strings.TrimSpace(r.PostFormValue("name")), r.PostFormValue("password"), safeNext(r.PostFormValue("next"))
	again := func(status int, msg string) {
		token := auth.RandomToken()
		c.setCookie(w, r, loginCookie, token, 3600)
		c.renderStatus(w, r, nil, status, "login", loginView{Token: token, Next: next, Error: msg, Name: name})
	}
	ck, err := r.Cookie(loginCookie)
	if err != nil || !auth.SameToken(ck.Value, r.PostFormValue(csrfField)) {
		again(http.StatusForbidden, "安全校验失败，请重新登录。")
		return
	}
	ip := clientAddr(r)
	if c.loginByIP.Blocked(ip) || c.loginByKey.Blocked(name) {
		c.log.Warn("login rate limited", "user", name, "client", ip)
		again(http.StatusTooManyRequests, "登录失败次数过多，请稍后再试。")
		return
	}
	u, err := auth.Authenticate(r.Context(), c.users, name, password)
	if err != nil {
		if !errors.Is(err, auth.ErrBadCredential) && !errors.Is(err, auth.ErrDisabled) {
			c.log.Error("login", "user", name, "err", err)
		}
		c.loginByIP.Allow(ip)
		c.loginByKey.Allow(name)
		msg := "用户名或密码错误。"
		if errors.Is(err, auth.ErrDisabled) {
			msg = "该账号已停用。"
		}
		again(http.StatusUnauthorized, msg)
		return
	}
	c.loginByKey.Reset(name)
	s := c.sessions.Start(u)
	c.setCookie(w, r, sessionCookie, s.ID, 0)
	c.setCookie(w, r, loginCookie, "", -1)
	c.log.Info("login", "user", u.Name, "role", u.Role)
	if next == "" {
		next = homeOf(u.Role)
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, s *session) {
	c.sessions.End(s.ID)
	c.setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// safeNext keeps a redirect target on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return ""
	}
	return next
}

// proxyAPI authorises a call of the hotline API and passes it on.
func (c *Console) proxyAPI(w http.ResponseWriter, r *http.Request, s *session) {
	if !c.apiAllowed(r, s) {
		c.log.Warn("api forbidden", "user", s.User, "role", s.Role, "method", r.Method, "path", r.URL.Path)
		writeJSONError(w, http.StatusForbidden, "无权访问")
		return
	}
	c.api.ServeHTTP(w, r)
}

// apiAllowed is the authorisation of the web package's routes: agents log
// themselves in and out and transfer; supervisors and admins do anything;
// units use none of them.
func (c *Console) apiAllowed(r *http.Request, s *session) bool {
	if s.Role.Oversees() {
		return true
	}
	if s.Role != auth.RoleAgent {
		return false
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/api/agents":
		return true
	case r.Method == http.MethodPost && len(parts) == 4 && parts[1] == "agents" && (parts[3] == "login" || parts[3] == "logout"):
		return parts[2] == s.User
	case r.Method == http.MethodPost && len(parts) == 4 && parts[1] == "tickets" && parts[3] == "transfer":
		return true
	}
	return false
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"error":` + jsonString(msg) + "}\n"))
}
