package auth

import (
	"sync"
	"time"
)

// Limiter allows a key (a client address, a user name) at most Limit
// hits in any Window. It is used for logins and for the public QR form.
type Limiter struct {
	limit  int
	window time.Duration
	now    func() time.Time

	mu   sync.Mutex
	hits map[string][]time.Time
}

// maxKeys bounds the memory a flood of distinct keys can take; beyond it
// the oldest windows are dropped first.
const maxKeys = 100_000

// NewLimiter returns a limiter of limit hits per window.
func NewLimiter(limit int, window time.Duration, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{limit: limit, window: window, now: now, hits: make(map[string][]time.Time)}
}

// Allow records a hit for key and reports whether it is within the limit.
func (l *Limiter) Allow(key string) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	hits := l.recentLocked(key, now)
	if len(hits) >= l.limit {
		l.hits[key] = hits
		return false
	}
	if len(l.hits) >= maxKeys {
		l.pruneLocked(now)
	}
	l.hits[key] = append(hits, now)
	return true
}

// Blocked reports whether key has used up its hits, without recording one.
func (l *Limiter) Blocked(key string) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recentLocked(key, now)) >= l.limit
}

// Reset forgets key, e.g. after a successful login.
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.hits, key)
}

func (l *Limiter) recentLocked(key string, now time.Time) []time.Time {
	hits := l.hits[key]
	i := 0
	for i < len(hits) && now.Sub(hits[i]) >= l.window {
		i++
	}
	return hits[i:]
}

func (l *Limiter) pruneLocked(now time.Time) {
	for k, hits := range l.hits {
		if len(hits) == 0 || now.Sub(hits[len(hits)-1]) >= l.window {
			delete(l.hits, k)
		}
	}
	if len(l.hits) >= maxKeys { // still full: everyone is recent; start over
		clear(l.hits)
	}
}
