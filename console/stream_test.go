package console_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"hotline/console"
	"hotline/ivr"
	"hotline/web"
)

// stream opens /api/events as c and returns a function reading the next
// event.
func (c *client) stream(query string, lastID uint64) func() console.Pop {
	c.t.Helper()
	h := http.Header{}
	if lastID > 0 {
		h.Set("Last-Event-ID", strconv.FormatUint(lastID, 10))
	}
	resp := c.do("GET", "/api/events"+query, "", "", h)
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("events: got status %d, want 200", resp.StatusCode)
	}
	r := bufio.NewReader(resp.Body)
	t := c.t
	return func() console.Pop {
		t.Helper()
		typ, data, err := web.ReadEvent(r)
		if err != nil {
			t.Fatalf("read event: %v", err)
		}
		var p console.Pop
		if err := json.Unmarshal(data, &p); err != nil {
			t.Fatal(err)
		}
		if p.Type != typ {
			t.Fatalf("got data of %q under event %q", p.Type, typ)
		}
		return p
	}
}

func TestAgentSeesOnlyItsOwnPops(t *testing.T) {
	h := newHarness(t, console.Config{})
	c := h.client(t)
	c.login("a1")
	next := c.stream("?agent=a2", 0) // asks for another agent's pops
	theirs := h.pop("a2", "13900000002", "货运物流")
	mine := h.pop("a1", "13900000001", "客运")
	got := next()
	if got.Agent != "a1" || got.Ticket == nil || got.Ticket.Number != mine.Number {
		t.Fatalf("got %+v, want a1's pop of %s only", got, mine.Number)
	}

	sup := h.client(t)
	sup.login("s1")
	all := sup.stream("?agent=a2", 0)
	if got := all(); got.Ticket.Number != theirs.Number {
		t.Fatalf("supervisor filtering a2: got %s replayed, want a2's call in progress %s", got.Ticket.Number, theirs.Number)
	}
	h.pop("a1", "13900000004", "客运")
	other := h.pop("a2", "13900000003", "客运")
	if got := all(); got.Ticket.Number != other.Number {
		t.Fatalf("supervisor filtering a2: got %s, want %s", got.Ticket.Number, other.Number)
	}
}

func TestPopReplay(t *testing.T) {
	h := newHarness(t, console.Config{MaskCaller: true, LineNames: map[string]string{"passenger": "客运"}})
	c := h.client(t)
	c.login("a1")

	// An earlier ticket of the caller, still open, answered with satisfaction.
	old := h.ledger.Open("13812345678", "passenger")
	if err := h.ledger.TransferTo(int64(old.ID), "keyun"); err != nil {
		t.Fatal(err)
	}

	next := c.stream("", 0)
	first := h.pop("a1", "13812345678", "passenger")
	p1 := next()
	t.Run("enriched", func(t *testing.T) {
		pt := p1.Ticket
		if pt.Caller != "138****5678" {
			t.Errorf("got caller %q, want it masked", pt.Caller)
		}
		if len(pt.Earlier) != 1 || pt.Earlier[0].Number != old.Number || len(pt.Repeats) != 1 {
			t.Errorf("got earlier %+v repeats %+v, want the open earlier ticket in both", pt.Earlier, pt.Repeats)
		}
		if len(pt.Deadlines) == 0 || pt.Line != "客运" {
			t.Errorf("got deadlines %+v line %q, want the transfer deadline and the line", pt.Deadlines, pt.Line)
		}
	})

	t.Run("refresh during the call", func(t *testing.T) {
		next := c.stream("", 0)
		if got := next(); got.Seq != p1.Seq || got.Ticket.Number != first.Number {
			t.Fatalf("got %+v, want the pop of the call in progress", got)
		}
	})

	t.Run("reconnect with Last-Event-ID", func(t *testing.T) {
		second := h.pop("a1", "13700000000", "房产物业")
		h.bus.Publish(ivr.Event{Type: ivr.EventCallEnded, At: time.Now(), Agent: "a1", CallID: "call-" + strconv.FormatInt(int64(first.ID), 10)})
		third := h.pop("a1", "13600000000", "汽车服务")
		next := c.stream("", p1.Seq)
		want := []string{second.Number, "", third.Number}
		for i, w := range want {
			got := next()
			if w == "" {
				if got.Type != ivr.EventCallEnded {
					t.Fatalf("event %d: got %s, want call-ended", i, got.Type)
				}
				continue
			}
			if got.Ticket == nil || got.Ticket.Number != w {
				t.Fatalf("event %d: got %+v, want the pop of %s", i, got, w)
			}
		}
	})

	t.Run("refresh after the call ended", func(t *testing.T) {
		next := c.stream("", 0)
		h.pop("a1", "13500000000", "客运") // a marker: the first event must be a pop of a call in progress
		got := next()
		if got.Ticket.Number == first.Number {
			t.Fatalf("got the pop of the ended call %s replayed", first.Number)
		}
	})
}
