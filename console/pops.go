package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"hotline/ivr"
	"hotline/telephony"
)

// Events is where the console hears of calls; *ivr.Bus implements it.
type Events interface {
	Subscribe(ctx context.Context) <-chan ivr.Event
}

// Pop is an event as the console streams it on /api/events: the IVR's
// event, numbered for replay, and for a screen-pop the ticket enriched
// from the ledger.
type Pop struct {
	Seq     uint64     `json:"seq"`
	Type    string     `json:"type"`
	At      time.Time  `json:"at"`
	AtMilli int64      `json:"at_ms"` // At in Unix milliseconds, for the page's latency mark
	Agent   string     `json:"agent,omitempty"`
	CallID  string     `json:"call_id,omitempty"`
	Unit    string     `json:"unit,omitempty"`
	Outcome string     `json:"outcome,omitempty"`
	Ticket  *PopTicket `json:"ticket,omitempty"`
}

// PopTicket is the ticket on a screen-pop.
type PopTicket struct {
	ID          int64         `json:"id"`
	Number      string        `json:"number"`
	Caller      string        `json:"caller"` // masked when so configured
	Line        string        `json:"line"`   // the IVR choice
	Status      string        `json:"status"`
	StatusLabel string        `json:"status_label"`
	Opened      time.Time     `json:"opened"`
	WaitSeconds int           `json:"wait_seconds"` // from the call's arrival to the agent's answer
	Earlier     []PopSummary  `json:"earlier"`
	Repeats     []PopSummary  `json:"repeats"` // earlier tickets still open
	Deadlines   []PopDeadline `json:"deadlines"`
}

// PopSummary is an earlier ticket of the caller.
type PopSummary struct {
	ID           int64  `json:"id"`
	Number       string `json:"number"`
	Line         string `json:"line"`
	Kind         string `json:"kind"`
	Status       string `json:"status"`
	Satisfaction string `json:"satisfaction"`
	Opened       string `json:"opened"`
}

// PopDeadline is an SLA countdown.
type PopDeadline struct {
	Stage  string `json:"stage"`
	Due    int64  `json:"due_ms"`
	Done   bool   `json:"done"`
	Missed bool   `json:"missed"`
}

// popHub numbers the events, keeps the recent ones for replay and fans
// them out to the open streams.
type popHub struct {
	mu     sync.Mutex
	seq    uint64
	ring   []Pop // the most recent events, oldest first
	size   int
	active map[string]uint64 // call id -> seq of its screen-pop, while the call lasts
	subs   map[chan Pop]struct{}
}

func newPopHub(size int) *popHub {
	return &popHub{size: size, active: make(map[string]uint64), subs: make(map[chan Pop]struct{})}
}

// streamBuffer is how far a stream may lag before it is dropped (the
// browser reconnects and replays).
const streamBuffer = 64

func (h *popHub) add(p Pop) Pop {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	p.Seq = h.seq
	h.ring = append(h.ring, p)
	if len(h.ring) > h.size {
		h.ring = h.ring[len(h.ring)-h.size:]
	}
	switch p.Type {
	case ivr.EventScreenPop:
		h.active[p.CallID] = p.Seq
	case ivr.EventCallEnded:
		delete(h.active, p.CallID)
	}
	for ch := range h.subs {
		select {
		case ch <- p:
		default:
			delete(h.subs, ch)
			close(ch) // too slow: the stream ends and the client replays
		}
	}
	return p
}

// subscribe returns the events to replay and a channel of the ones to
// come, with nothing lost or doubled between them. With after > 0 it
// replays every kept event after that number; otherwise the screen-pops of
// calls still in progress (a page opened or refreshed during a call).
func (h *popHub) subscribe(after uint64, keep func(Pop) bool) ([]Pop, chan Pop) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var replay []Pop
	for _, p := range h.ring {
		if !keep(p) {
			continue
		}
		if after > 0 && p.Seq > after || after == 0 && p.Type == ivr.EventScreenPop && h.active[p.CallID] == p.Seq {
			replay = append(replay, p)
		}
	}
	ch := make(chan Pop, streamBuffer)
	h.subs[ch] = struct{}{}
	return replay, ch
}

func (h *popHub) unsubscribe(ch chan Pop) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[ch]; ok {
		delete(h.subs, ch)
		close(ch)
	}
}

// Start subscribes the console to the IVR's events and feeds it with them
// until ctx is done; the subscription is live when Start returns. The
// returned channel yields ctx's error once the feeding has stopped.
func (c *Console) Start(ctx context.Context) <-chan error {
	events := c.events.Subscribe(ctx)
	done := make(chan error, 1)
	go func() {
		defer close(done)
		for e := range events { // closed once ctx is done
			c.hub.add(c.popOf(ctx, e))
		}
		done <- ctx.Err()
	}()
	return done
}

// popOf turns an IVR event into a Pop, adding to a screen-pop what the
// ledger knows of the caller.
func (c *Console) popOf(ctx context.Context, e ivr.Event) Pop {
	p := Pop{Type: e.Type, At: e.At, AtMilli: e.At.UnixMilli(), Agent: e.Agent, CallID: e.CallID, Unit: e.Unit, Outcome: e.Outcome}
	if e.Ticket == nil {
		return p
	}
	t := e.Ticket
	pt := &PopTicket{
		ID: int64(t.ID), Number: t.Number, Caller: t.Caller, Line: c.lineName(t.Line), Status: t.Status,
		StatusLabel: statusLabel(t.Status), Opened: t.Opened,
		Earlier: []PopSummary{}, Repeats: []PopSummary{}, Deadlines: []PopDeadline{},
	}
	if c.cfg.MaskCaller {
		pt.Caller = telephony.Mask(t.Caller)
	}
	if !t.Opened.IsZero() && e.At.After(t.Opened) {
		pt.WaitSeconds = int(e.At.Sub(t.Opened).Round(time.Second) / time.Second)
	}
	if e.Type != ivr.EventScreenPop {
		p.Ticket = pt
		return p
	}
	earlier, err := c.ledger.History(ctx, t.Caller, int64(t.ID))
	if err != nil {
		c.log.Warn("screen-pop history", "ticket", t.ID, "err", err)
		for _, s := range t.Earlier { // what the IVR brought
			earlier = append(earlier, Summary{ID: int64(s.ID), Number: s.Number, Line: s.Line, Status: s.Status, Opened: s.Opened})
		}
	}
	for _, s := range earlier {
		ps := PopSummary{ID: s.ID, Number: s.Number, Line: c.lineName(s.Line), Kind: kindLabel(s.Kind), Status: statusLabel(s.Status),
			Satisfaction: satisfactionLabel(s.Satisfaction), Opened: c.fmtTime(s.Opened)}
		pt.Earlier = append(pt.Earlier, ps)
		if s.Open() {
			pt.Repeats = append(pt.Repeats, ps)
		}
	}
	if full, err := c.ledger.Ticket(ctx, int64(t.ID)); err == nil {
		for _, d := range full.Deadlines {
			pt.Deadlines = append(pt.Deadlines, PopDeadline{Stage: stageLabel(d.Stage), Due: d.Due.UnixMilli(), Done: !d.Done.IsZero(), Missed: d.Missed(c.now())})
		}
	} else {
		c.log.Warn("screen-pop deadlines", "ticket", t.ID, "err", err)
	}
	p.Ticket = pt
	return p
}

// streamEvents is GET /api/events: server-sent events with ids. An agent
// gets only its own events, whatever it asks; a supervisor may filter
// with ?agent=. Last-Event-ID (sent by EventSource on reconnect) replays
// what was missed.
func (c *Console) streamEvents(w http.ResponseWriter, r *http.Request, s *session) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	agent := r.URL.Query().Get("agent")
	if !s.Role.Oversees() {
		agent = s.User // enforced: an agent sees its own pops only
	}
	var after uint64
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		after, _ = strconv.ParseUint(v, 10, 64)
	}
	keep := func(p Pop) bool { return agent == "" || p.Agent == agent }
	replay, ch := c.hub.subscribe(after, keep)
	defer c.hub.unsubscribe(ch)

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, "retry: 1000\n: subscribed\n\n"); err != nil {
		return
	}
	for _, p := range replay {
		if c.writePop(w, p) != nil {
			return
		}
	}
	flusher.Flush()
	beat := time.NewTicker(c.cfg.Heartbeat)
	defer beat.Stop()
	for {
		select {
		case p, ok := <-ch:
			if !ok {
				return
			}
			if !keep(p) {
				continue
			}
			if c.writePop(w, p) != nil {
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

func (c *Console) writePop(w http.ResponseWriter, p Pop) error {
	data, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode event %d: %w", p.Seq, err)
	}
	_, err = fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", p.Seq, p.Type, data)
	return err
}
