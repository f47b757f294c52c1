package ticket_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"hotline/ticket"
)

// TestOpenBatch: a group commit of openings takes the one-statement-per-
// table path when it can, and the request-by-request path when a request
// needs it; either way every call gets its own ticket once.
func TestOpenBatch(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name     string
		calls    []string // call ids of the batch; "old" was opened before
		give     int      // the request given up (-1: none)
		together bool
	}{
		{"fresh calls", []string{"a", "b", "c", "d"}, -1, true},
		{"a call twice in the batch", []string{"a", "b", "a", "c"}, -1, false},
		{"a call opened before", []string{"a", "old", "b"}, -1, false},
		{"a request given up", []string{"a", "b", "c"}, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s, _ := newStore(t)
			old, err := s.OpenForCall(ctx, ticket.CallInfo{CallID: "old", Caller: "13800000000"})
			if err != nil {
				t.Fatal(err)
			}
			ctxs := make([]context.Context, len(tc.calls))
			infos := make([]ticket.CallInfo, len(tc.calls))
			for i, id := range tc.calls {
				ctxs[i] = ctx
				if i == tc.give {
					ctxs[i] = cancelled
				}
				infos[i] = ticket.CallInfo{CallID: id, Caller: fmt.Sprint(13900000000 + i), Dialled: "96596"}
			}
			refs, errs, together := ticket.OpenBatchForTest(s, ctxs, infos)
			if together != tc.together {
				t.Errorf("together = %v, want %v", together, tc.together)
			}
			byCall := map[string]ticket.Ref{"old": old}
			created := 0
			for i, id := range tc.calls {
				if i == tc.give {
					if !errors.Is(errs[i], context.Canceled) {
						t.Errorf("request given up: error %v, want context.Canceled", errs[i])
					}
					continue
				}
				if errs[i] != nil {
					t.Fatalf("call %s: %v", id, errs[i])
				}
				if refs[i].Created {
					created++
				}
				if earlier, ok := byCall[id]; ok {
					if refs[i].TicketID != earlier.TicketID || refs[i].Created {
						t.Errorf("call %s again: %+v, want ticket %d found, not created", id, refs[i], earlier.TicketID)
					}
					continue
				}
				if !refs[i].Created {
					t.Errorf("call %s: %+v, want a ticket created", id, refs[i])
				}
				byCall[id] = refs[i]
			}
			if want := len(byCall) - 1; created != want {
				t.Errorf("%d tickets created, want %d", created, want)
			}
			// Every ticket has its call, its opening event and both clocks,
			// and nothing else was written.
			for _, q := range []struct{ sql, want string }{
				{`SELECT count(*) FROM tickets`, fmt.Sprint(len(byCall))},
				{`SELECT count(*) FROM calls`, fmt.Sprint(len(byCall))},
				{`SELECT count(*) FROM ticket_events WHERE kind = 'opened'`, fmt.Sprint(len(byCall))},
				{`SELECT count(*) FROM deadlines`, fmt.Sprint(2 * len(byCall))},
				{`SELECT count(*) FROM tickets t WHERE NOT EXISTS (SELECT 1 FROM calls c WHERE c.ticket_id = t.id)`, "0"},
			} {
				rows, err := ticket.RowsForTest(ctx, s, q.sql)
				if err != nil {
					t.Fatal(err)
				}
				if rows[0] != q.want {
					t.Errorf("%s = %s, want %s", q.sql, rows[0], q.want)
				}
			}
		})
	}
}

// TestOpenBatchWritesWhatOneByOneWrites: the ledger after a batch opened
// together is row for row the ledger after the same calls opened one by
// one.
func TestOpenBatchWritesWhatOneByOneWrites(t *testing.T) {
	ctx := context.Background()
	together, _ := newStore(t)
	oneByOne, _ := newStore(t)
	var ctxs []context.Context
	var infos []ticket.CallInfo
	for i := range 12 {
		ctxs = append(ctxs, ctx)
		infos = append(infos, ticket.CallInfo{CallID: fmt.Sprint("call-", i), Caller: fmt.Sprintf("+86 138-%08d", i),
			CallerName: "张三\x07", Dialled: "96596", Direction: []string{"", "inbound"}[i%2]})
	}
	if _, _, ok := ticket.OpenBatchForTest(together, ctxs, infos); !ok {
		t.Fatal("the batch did not go together")
	}
	for _, c := range infos {
		if _, err := oneByOne.OpenForCall(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		`SELECT * FROM tickets ORDER BY id`,
		`SELECT * FROM ticket_events ORDER BY id`,
		`SELECT * FROM deadlines ORDER BY id`,
		`SELECT * FROM calls ORDER BY id`,
	} {
		a, err := ticket.RowsForTest(ctx, together, q)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ticket.RowsForTest(ctx, oneByOne, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(a) == 0 || !slices.Equal(a, b) {
			t.Errorf("%s:\ntogether   %q\none by one %q", q, a, b)
		}
	}
}
