package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"sync"
	"time"
)

// Session is a logged-in user. Sessions live in memory: a restart logs
// everyone out, which a console can afford.
type Session struct {
	ID      string
	User    string
	Role    Role
	Unit    string
	CSRF    string // token every state-changing request must carry
	Created time.Time
	Seen    time.Time
}

// ErrNoSession is returned for a missing, unknown or expired session.
var ErrNoSession = errors.New("no session")

// Sessions keeps the sessions of the console.
type Sessions struct {
	mu   sync.Mutex
	byID map[string]*Session
	now  func() time.Time
	idle time.Duration // a session unused this long expires
	max  time.Duration // and none outlives this
}

// NewSessions returns an empty session table. idle and max default to
// 8 hours and 24 hours.
func NewSessions(now func() time.Time, idle, max time.Duration) *Sessions {
	if now == nil {
		now = time.Now
	}
	if idle <= 0 {
		idle = 8 * time.Hour
	}
	if max <= 0 {
		max = 24 * time.Hour
	}
	return &Sessions{byID: make(map[string]*Session), now: now, idle: idle, max: max}
}

// Start opens a session for u.
func (s *Sessions) Start(u User) Session {
	now := s.now()
	sess := &Session{ID: RandomToken(), User: u.Name, Role: u.Role, Unit: u.Unit, CSRF: RandomToken(), Created: now, Seen: now}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneLocked(now)
	s.byID[sess.ID] = sess
	return *sess
}

// Get returns the live session with the id and marks it used.
func (s *Sessions) Get(id string) (Session, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.byID[id]
	if !ok {
		return Session{}, ErrNoSession
	}
	if s.expired(sess, now) {
		delete(s.byID, id)
		return Session{}, ErrNoSession
	}
	sess.Seen = now
	return *sess, nil
}

// End closes a session.
func (s *Sessions) End(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, id)
}

// EndUser closes every session of a user, e.g. when disabled.
func (s *Sessions) EndUser(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, sess := range s.byID {
		if sess.User == name {
			delete(s.byID, id)
		}
	}
}

func (s *Sessions) expired(sess *Session, now time.Time) bool {
	return now.Sub(sess.Seen) > s.idle || now.Sub(sess.Created) > s.max
}

func (s *Sessions) pruneLocked(now time.Time) {
	for id, sess := range s.byID {
		if s.expired(sess, now) {
			delete(s.byID, id)
		}
	}
}

// RandomToken returns 32 random bytes, base64url encoded.
func RandomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand never fails on Linux
	return base64.RawURLEncoding.EncodeToString(b)
}

// SameToken compares two tokens in constant time; empty never matches.
func SameToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
