package callback

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Handler serves the callbacks API. Mount it with the prefix stripped:
//
//	mux.Handle("/api/callbacks/", http.StripPrefix("/api/callbacks", h))
//	mux.Handle("/api/callbacks", http.StripPrefix("/api/callbacks", h))
//
// Routes (relative to the mount):
//
//	GET    /       list; ?state=scheduled,running  ?ticket=ID  ?limit=N
//	POST   /       schedule: a JSON Request; 201 with the Callback
//	GET    /{id}   one callback
//	DELETE /{id}   cancel a scheduled callback; 204
type Handler struct {
	store Store
	now   func() time.Time
	kick  func()
	log   *slog.Logger
}

// NewHandler returns the API over store. kick, when not nil, is called
// after a callback was scheduled (Dialer.Kick), now is the clock.
func NewHandler(store Store, now func() time.Time, kick func(), log *slog.Logger) *Handler {
	if now == nil {
		now = time.Now
	}
	if kick == nil {
		kick = func() {}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{store: store, now: now, kick: kick, log: log}
}

// maxBody bounds a request body; a callback request is tiny.
const maxBody = 64 << 10

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.Trim(r.URL.Path, "/")
	if path == "" {
		switch r.Method {
		case http.MethodGet:
			h.list(w, r)
		case http.MethodPost:
			h.schedule(w, r)
		default:
			w.Header().Set("Allow", "GET, POST")
			httpError(w, http.StatusMethodNotAllowed, "method not allowed")
		}
		return
	}
	id, err := strconv.ParseInt(path, 10, 64)
	if err != nil || id <= 0 {
		httpError(w, http.StatusNotFound, "no such callback")
		return
	}
	switch r.Method {
	case http.MethodGet:
		h.get(w, r, id)
	case http.MethodDelete:
		h.cancel(w, r, id)
	default:
		w.Header().Set("Allow", "GET, DELETE")
		httpError(w, http.StatusMethodNotAllowed, "method not allowed")
	}
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilter(r.URL.Query())
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	cbs, err := h.store.List(r.Context(), f)
	if err != nil {
		h.serverError(w, "list callbacks", err)
		return
	}
	if cbs == nil {
		cbs = []Callback{}
	}
	writeJSON(w, http.StatusOK, cbs)
}

// ParseStates reads a comma-separated list of states.
func ParseStates(s string) ([]State, error) {
	var out []State
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		st := State(p)
		switch st {
		case StateScheduled, StateRunning, StateDone, StateFailed, StateSkipped, StateCancelled:
			out = append(out, st)
		default:
			return nil, fmt.Errorf("unknown state %q", p)
		}
	}
	return out, nil
}

func parseFilter(q map[string][]string) (Filter, error) {
	var f Filter
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	var err error
	if f.States, err = ParseStates(get("state")); err != nil {
		return f, err
	}
	if s := get("ticket"); s != "" {
		if f.Ticket, err = strconv.ParseInt(s, 10, 64); err != nil || f.Ticket <= 0 {
			return f, fmt.Errorf("bad ticket %q", s)
		}
	}
	if s := get("limit"); s != "" {
		if f.Limit, err = strconv.Atoi(s); err != nil || f.Limit <= 0 {
			return f, fmt.Errorf("bad limit %q", s)
		}
	}
	f.Limit = min(max(f.Limit, 0), 10000)
	if f.Limit == 0 {
		f.Limit = 1000
	}
	return f, nil
}

func (h *Handler) schedule(w http.ResponseWriter, r *http.Request) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	var req Request
	if err := dec.Decode(&req); err != nil {
		httpError(w, http.StatusBadRequest, "bad request body: "+err.Error())
		return
	}
	if err := req.Validate(); err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	cb, err := h.store.Schedule(r.Context(), req, h.now())
	switch {
	case errors.Is(err, ErrDuplicate):
		httpError(w, http.StatusConflict, err.Error())
		return
	case errors.Is(err, ErrInvalid):
		httpError(w, http.StatusBadRequest, err.Error())
		return
	case err != nil:
		h.serverError(w, "schedule callback", err)
		return
	}
	h.kick()
	w.Header().Set("Location", strconv.FormatInt(cb.ID, 10))
	writeJSON(w, http.StatusCreated, cb)
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request, id int64) {
	cb, err := h.store.Get(r.Context(), id)
	switch {
	case errors.Is(err, ErrNotFound):
		httpError(w, http.StatusNotFound, "no such callback")
	case err != nil:
		h.serverError(w, "get callback", err)
	default:
		writeJSON(w, http.StatusOK, cb)
	}
}

func (h *Handler) cancel(w http.ResponseWriter, r *http.Request, id int64) {
	err := h.store.Cancel(r.Context(), id, h.now())
	switch {
	case errors.Is(err, ErrNotFound):
		httpError(w, http.StatusNotFound, "no such callback")
	case errors.Is(err, ErrFinished):
		httpError(w, http.StatusConflict, "callback is running or finished")
	case err != nil:
		h.serverError(w, "cancel callback", err)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func (h *Handler) serverError(w http.ResponseWriter, what string, err error) {
	h.log.Error("callbacks api: "+what, "err", err)
	httpError(w, http.StatusInternalServerError, what+" failed")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func httpError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
