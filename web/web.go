// Package web is the hotline's HTTP API, the seed of the agent console:
// server-sent events for screen-pops, agent login and logout, and the
// transfer of a caller to a responsible unit.
package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"hotline/ivr"
)

// Hotline is what the API drives; *ivr.Service implements it.
type Hotline interface {
	Login(ctx context.Context, agentID string) error
	Logout(ctx context.Context, agentID string) error
	Agents() []ivr.AgentStatus
	Transfer(ctx context.Context, ticket ivr.TicketID, unitID string, agentStays bool) (ivr.TransferResult, error)
}

// Events is where the API finds the events it streams; *ivr.Bus
// implements it.
type Events interface {
	Subscribe(ctx context.Context) <-chan ivr.Event
}

// Server is the HTTP API. It is an http.Handler.
type Server struct {
	hotline   Hotline
	events    Events
	log       *slog.Logger
	mux       *http.ServeMux
	heartbeat time.Duration
}

// New returns the API over the hotline and its events.
func New(h Hotline, events Events, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{hotline: h, events: events, log: log, mux: http.NewServeMux(), heartbeat: 15 * time.Second}
	s.mux.HandleFunc("GET /api/events", s.streamEvents)
	s.mux.HandleFunc("GET /api/agents", s.listAgents)
	s.mux.HandleFunc("POST /api/agents/{id}/login", s.login)
	s.mux.HandleFunc("POST /api/agents/{id}/logout", s.logout)
	s.mux.HandleFunc("POST /api/tickets/{id}/transfer", s.transfer)
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// streamEvents sends events as server-sent events: "event: <type>" and
// "data: <json>". ?agent=<id> keeps only that agent's events. A comment
// line is sent at once, so that a client knows it is subscribed.
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	agent := r.URL.Query().Get("agent")
	events := s.events.Subscribe(r.Context())
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, ": subscribed\n\n"); err != nil {
		return
	}
	flusher.Flush()
	beat := time.NewTicker(s.heartbeat)
	defer beat.Stop()
	for {
		select {
		case e, ok := <-events:
			if !ok {
				return
			}
			if agent != "" && e.Agent != agent {
				continue
			}
			data, err := json.Marshal(e)
			if err != nil {
				s.log.Error("encode event", "type", e.Type, "err", err)
				continue
			}
			if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", e.Type, data); err != nil {
				return
			}
			flusher.Flush()
		case <-beat.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
				return
			}
			flusher.Flush()
		case <-r.Context().Done():
			return
		}
	}
}

func (s *Server) listAgents(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.hotline.Agents())
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	s.agentLogin(w, r, s.hotline.Login)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	s.agentLogin(w, r, s.hotline.Logout)
}

func (s *Server) agentLogin(w http.ResponseWriter, r *http.Request, do func(context.Context, string) error) {
	if err := do(r.Context(), r.PathValue("id")); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// TransferRequest is the body of POST /api/tickets/{id}/transfer.
type TransferRequest struct {
	Unit string `json:"unit"`
	// AgentStays keeps the agent in the call with the unit; default true.
	AgentStays *bool `json:"agent_stays,omitempty"`
}

// maxBody bounds request bodies.
const maxBody = 1 << 16

func (s *Server) transfer(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, "ticket id must be a positive number")
		return
	}
	var req TransferRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad request body: "+err.Error())
		return
	}
	if req.Unit == "" {
		writeError(w, http.StatusBadRequest, "unit is required")
		return
	}
	stay := req.AgentStays == nil || *req.AgentStays
	res, err := s.hotline.Transfer(r.Context(), ivr.TicketID(id), req.Unit, stay)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// fail answers with the status that fits err.
func (s *Server) fail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ivr.ErrUnknownAgent), errors.Is(err, ivr.ErrUnknownUnit), errors.Is(err, ivr.ErrNoSuchCall):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, ivr.ErrTransferInProgress):
		writeError(w, http.StatusConflict, err.Error())
	case errors.Is(err, context.Canceled):
		// The client went away.
	default:
		s.log.Error("api request", "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
