package callback

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// MemStore is a Store kept in memory, for tests and for running the dialer
// without a ledger. It follows the same rules as the ledger's store.
type MemStore struct {
	mu       sync.Mutex
	next     int64
	nextAtt  int64
	cbs      map[int64]*Callback
	attempts map[int64]*memAttempt
}

type memAttempt struct {
	Attempt
	running bool
	result  Result
}

var _ Store = (*MemStore)(nil)

// NewMemStore returns an empty store.
func NewMemStore() *MemStore {
	return &MemStore{cbs: map[int64]*Callback{}, attempts: map[int64]*memAttempt{}}
}

// Schedule adds a callback.
func (s *MemStore) Schedule(ctx context.Context, r Request, now time.Time) (Callback, error) {
	if err := r.Validate(); err != nil {
		return Callback{}, err
	}
	if r.Number == "" {
		return Callback{}, fmt.Errorf("number is required: %w", ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Kind == KindSurvey {
		for _, cb := range s.cbs {
			if cb.TicketID == r.TicketID && cb.Kind == KindSurvey && cb.State != StateCancelled {
				return Callback{}, ErrDuplicate
			}
		}
	}
	s.next++
	nb := r.NotBefore
	if nb.IsZero() {
		nb = now
	}
	cb := &Callback{ID: s.next, TicketID: r.TicketID, TicketNo: r.TicketNo, Kind: r.Kind, Number: r.Number,
		NotBefore: nb, Due: r.Due, State: StateScheduled, Created: now, Updated: now}
	s.cbs[cb.ID] = cb
	return *cb, nil
}

// Cancel cancels a scheduled callback.
func (s *MemStore) Cancel(ctx context.Context, id int64, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cb, ok := s.cbs[id]
	if !ok {
		return ErrNotFound
	}
	if cb.State != StateScheduled {
		return ErrFinished
	}
	cb.State, cb.Updated = StateCancelled, now
	return nil
}

// Get returns one callback.
func (s *MemStore) Get(ctx context.Context, id int64) (Callback, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cb, ok := s.cbs[id]
	if !ok {
		return Callback{}, ErrNotFound
	}
	return *cb, nil
}

// List returns callbacks by deadline.
func (s *MemStore) List(ctx context.Context, f Filter) ([]Callback, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Callback
	for _, cb := range s.cbs {
		if (len(f.States) == 0 || slices.Contains(f.States, cb.State)) && (f.Ticket == 0 || f.Ticket == cb.TicketID) {
			out = append(out, *cb)
		}
	}
	slices.SortFunc(out, func(a, b Callback) int { return cmp.Or(a.Due.Compare(b.Due), cmp.Compare(a.ID, b.ID)) })
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// Claim takes due callbacks in deadline order.
func (s *MemStore) Claim(ctx context.Context, r ClaimRequest) ([]Attempt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var due []*Callback
	for _, cb := range s.cbs {
		if cb.State == StateScheduled && !cb.NotBefore.After(r.Now) && (r.DueBefore.IsZero() || cb.Due.Before(r.DueBefore)) {
			due = append(due, cb)
		}
	}
	slices.SortFunc(due, func(a, b *Callback) int { return cmp.Or(a.Due.Compare(b.Due), cmp.Compare(a.ID, b.ID)) })
	if len(due) > r.Limit {
		due = due[:r.Limit]
	}
	out := make([]Attempt, 0, len(due))
	for _, cb := range due {
		cb.State, cb.Attempts, cb.Updated = StateRunning, cb.Attempts+1, r.Now
		s.nextAtt++
		a := Attempt{ID: s.nextAtt, N: cb.Attempts, Callback: *cb, Owner: r.Owner, Claimed: r.Now, LeaseUntil: r.Now.Add(r.Lease)}
		s.attempts[a.ID] = &memAttempt{Attempt: a, running: true}
		out = append(out, a)
	}
	return out, nil
}

// Renew extends a lease.
func (s *MemStore) Renew(ctx context.Context, a Attempt, until time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.attempts[a.ID]
	if !ok || !m.running {
		return ErrLeaseLost
	}
	m.LeaseUntil = until
	return nil
}

// Finish records the result once.
func (s *MemStore) Finish(ctx context.Context, a Attempt, r Result) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.attempts[a.ID]
	if !ok || !m.running {
		return ErrLeaseLost
	}
	m.running, m.result = false, r
	cb := s.cbs[a.Callback.ID]
	cb.State, cb.Outcome, cb.Note, cb.Updated = r.Next, r.Outcome, r.Note, r.Ended
	if r.Score != 0 {
		cb.Score = r.Score
	}
	if r.Next == StateScheduled {
		cb.NotBefore = r.NotBefore
	}
	return nil
}

// Expired returns running attempts whose lease ran out.
func (s *MemStore) Expired(ctx context.Context, now time.Time, limit int) ([]Attempt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Attempt
	for _, m := range s.attempts {
		if m.running && m.LeaseUntil.Before(now) && len(out) < limit {
			out = append(out, m.Attempt)
		}
	}
	return out, nil
}

// Results returns the finished attempts' results of one callback, in order.
func (s *MemStore) Results(id int64) []Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	var as []*memAttempt
	for _, m := range s.attempts {
		if m.Callback.ID == id && !m.running {
			as = append(as, m)
		}
	}
	slices.SortFunc(as, func(a, b *memAttempt) int { return cmp.Compare(a.N, b.N) })
	out := make([]Result, len(as))
	for i, m := range as {
		out[i] = m.result
	}
	return out
}
