package ivr

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// The states of an agent, as the API shows them.
const (
	AgentOffline   = "offline"
	AgentAvailable = "available"
	AgentRinging   = "ringing"
	AgentTalking   = "talking"
)

// AgentStatus is an agent as the console lists it.
type AgentStatus struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	State     string    `json:"state"`
	IdleSince time.Time `json:"idle_since,omitzero"`
}

// queue holds the callers waiting for an agent, in arrival order, and the
// agents' availability. Calls are in memory only: after a restart they are
// gone; login state is persisted by the ledger and restored.
type queue struct {
	now     func() time.Time
	observe func(loggedIn, available int) // told the counts on every change

	mu      sync.Mutex
	agents  map[string]*agentState
	order   []string // configured order, for listing
	waiting []*waiter
	changed chan struct{} // closed and replaced on every change
}

type agentState struct {
	Agent
	loggedIn  bool
	state     string // AgentAvailable, AgentRinging or AgentTalking while logged in (or still busy)
	idleSince time.Time
}

// waiter is a caller in the queue.
type waiter struct {
	callID  string
	ringing bool // an agent is being rung for this caller
}

func newQueue(agents []Agent, now func() time.Time, observe func(loggedIn, available int)) *queue {
	q := &queue{now: now, observe: observe, agents: make(map[string]*agentState), changed: make(chan struct{})}
	for _, a := range agents {
		q.agents[a.ID] = &agentState{Agent: a, state: AgentAvailable}
		q.order = append(q.order, a.ID)
	}
	return q
}

// changes returns a channel closed at the next change of the queue. Take
// it before looking at the queue so that no change is missed.
func (q *queue) changes() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.changed
}

// notify wakes every waiter and reports the agent counts; q.mu must be
// held.
func (q *queue) notify() {
	close(q.changed)
	q.changed = make(chan struct{})
	loggedIn, available := 0, 0
	for _, a := range q.agents {
		if a.loggedIn {
			loggedIn++
			if a.state == AgentAvailable {
				available++
			}
		}
	}
	q.observe(loggedIn, available)
}

// join puts a caller at the back of the queue, or at the front when the
// caller comes back from an agent.
func (q *queue) join(callID string, front bool) *waiter {
	q.mu.Lock()
	defer q.mu.Unlock()
	w := &waiter{callID: callID}
	if front {
		q.waiting = append([]*waiter{w}, q.waiting...)
	} else {
		q.waiting = append(q.waiting, w)
	}
	q.notify()
	return w
}

// leave takes a caller out of the queue; it is a no-op when already out.
func (q *queue) leave(w *waiter) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if i := slices.Index(q.waiting, w); i >= 0 {
		q.waiting = slices.Delete(q.waiting, i, i+1)
		q.notify()
	}
}

// position is the caller's place in the queue, 1 for the next served.
func (q *queue) position(w *waiter) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Index(q.waiting, w) + 1
}

// claim gives the caller the longest-idle available agent, marked as
// ringing, when every caller ahead is already ringing one.
func (q *queue) claim(w *waiter) (Agent, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, other := range q.waiting {
		if other == w {
			break
		}
		if !other.ringing {
			return Agent{}, false
		}
	}
	if w.ringing || !slices.Contains(q.waiting, w) {
		return Agent{}, false
	}
	var best *agentState
	for _, id := range q.order {
		a := q.agents[id]
		if a.loggedIn && a.state == AgentAvailable && (best == nil || a.idleSince.Before(best.idleSince)) {
			best = a
		}
	}
	if best == nil {
		return Agent{}, false
	}
	best.state = AgentRinging
	w.ringing = true
	q.notify()
	return best.Agent, true
}

// unclaimed returns the agent of a failed ring to the pool, behind the
// others so that the next agent is tried, and lets the caller claim again.
func (q *queue) unclaimed(w *waiter, agentID string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	w.ringing = false
	q.setIdle(agentID)
	q.notify()
}

// talking marks the agent as in a conversation.
func (q *queue) talking(agentID string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if a, ok := q.agents[agentID]; ok {
		a.state = AgentTalking
	}
	q.notify()
}

// release makes the agent available again after a conversation.
func (q *queue) release(agentID string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.setIdle(agentID)
	q.notify()
}

func (q *queue) setIdle(agentID string) {
	if a, ok := q.agents[agentID]; ok {
		a.state = AgentAvailable
		a.idleSince = q.now()
	}
}

// setLogin changes an agent's login state; it reports whether it changed.
func (q *queue) setLogin(agentID string, in bool) (bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	a, ok := q.agents[agentID]
	if !ok {
		return false, fmt.Errorf("agent %q: %w", agentID, ErrUnknownAgent)
	}
	if a.loggedIn == in {
		return false, nil
	}
	a.loggedIn = in
	if in && a.state == AgentAvailable {
		a.idleSince = q.now()
	}
	q.notify()
	return true, nil
}

// list returns every configured agent with its state.
func (q *queue) list() []AgentStatus {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]AgentStatus, 0, len(q.order))
	for _, id := range q.order {
		a := q.agents[id]
		st := AgentStatus{ID: a.ID, Name: a.Name, State: a.state}
		if !a.loggedIn && a.state == AgentAvailable {
			st.State = AgentOffline
		}
		if st.State == AgentAvailable {
			st.IdleSince = a.idleSince
		}
		out = append(out, st)
	}
	return out
}

// Login logs an agent in; the state is persisted so that it survives a
// restart.
func (s *Service) Login(ctx context.Context, agentID string) error {
	return s.setLogin(ctx, agentID, true)
}

// Logout logs an agent out; a conversation in progress goes on.
func (s *Service) Logout(ctx context.Context, agentID string) error {
	return s.setLogin(ctx, agentID, false)
}

func (s *Service) setLogin(ctx context.Context, agentID string, in bool) error {
	if _, ok := s.agents[agentID]; !ok {
		return fmt.Errorf("agent %q: %w", agentID, ErrUnknownAgent)
	}
	// Persist first: a login the ledger did not keep is not a login.
	if err := s.ledger.SetAgentLogin(ctx, agentID, in, s.now()); err != nil {
		return fmt.Errorf("persist login of agent %s: %w", agentID, err)
	}
	changed, err := s.queue.setLogin(agentID, in)
	if err != nil {
		return err
	}
	if changed {
		outcome := "out"
		if in {
			outcome = "in"
		}
		s.bus.Publish(Event{Type: EventAgentState, At: s.now(), Agent: agentID, Outcome: outcome})
	}
	return nil
}

// Agents lists the configured agents and their state.
func (s *Service) Agents() []AgentStatus { return s.queue.list() }

// RestoreAgents logs in the agents the ledger remembers as logged in. Call
// it once at start-up, before serving calls.
func (s *Service) RestoreAgents(ctx context.Context) error {
	ids, err := s.ledger.LoggedInAgents(ctx)
	if err != nil {
		return fmt.Errorf("restore agent logins: %w", err)
	}
	for _, id := range ids {
		if _, err := s.queue.setLogin(id, true); err != nil {
			s.log.Warn("persisted login of an agent no longer configured", "agent", id)
		}
	}
	return nil
}
