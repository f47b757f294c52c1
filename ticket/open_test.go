package ticket_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"hotline/ticket"
)

func TestOpenForCall(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	ref, err := s.OpenForCall(ctx, ticket.CallInfo{CallID: "c1", Caller: "13812345678", CallerName: "张三", Dialled: "96596"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ref.Number, "96596-20261130-0001"; got != want {
		t.Errorf("number = %q, want %q", got, want)
	}
	if !ref.Created {
		t.Errorf("created = false, want true")
	}
	d, err := s.Ticket(ctx, ref.TicketID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != ticket.StatusRegistered || d.Channel != ticket.ChannelHotline || d.Caller != "13812345678" || d.CallerName != "张三" {
		t.Errorf("ticket = %+v", d.Ticket)
	}
	if len(d.Events) != 1 || d.Events[0].Kind != ticket.EventOpened {
		t.Errorf("events = %+v, want one opened", d.Events)
	}
	if len(d.Calls) != 1 || d.Calls[0].CallID != "c1" || d.Calls[0].Dialled != "96596" {
		t.Errorf("calls = %+v", d.Calls)
	}
	// Transfer: 1 working hour; sheet: 2 working hours.
	due := map[ticket.Stage]string{}
	for _, dl := range d.Deadlines {
		due[dl.Stage] = dl.DueAt.In(shanghai).Format("2006-01-02 15:04")
	}
	if got, want := fmt.Sprint(due), "map[sheet:2026-11-30 12:00 transfer:2026-11-30 11:00]"; got != want {
		t.Errorf("deadlines = %s, want %s", got, want)
	}
}

func TestOpenForCallIdempotent(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	const n = 8
	refs := make([]ticket.Ref, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			refs[i], errs[i] = s.OpenForCall(ctx, ticket.CallInfo{CallID: "same", Caller: "13812345678"})
		})
	}
	wg.Wait()
	created := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if refs[i].TicketID != refs[0].TicketID {
			t.Errorf("call delivered again got ticket %d, want %d", refs[i].TicketID, refs[0].TicketID)
		}
		if refs[i].Created {
			created++
		}
	}
	if created != 1 {
		t.Errorf("%d openings created a ticket, want 1", created)
	}
	all, err := s.List(ctx, ticket.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 {
		t.Errorf("%d tickets, want 1", len(all))
	}
}

func TestCallerNormalised(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	for i, tc := range []struct{ in, want string }{
		{"", ticket.UnknownCaller},
		{"anonymous", ticket.UnknownCaller},
		{"Anonymous", ticket.UnknownCaller},
		{"12", ticket.UnknownCaller},
		{"1381234567x", ticket.UnknownCaller},
		{"<script>", ticket.UnknownCaller},
		{"138-1234-5678", "13812345678"},
		{"+8613812345678", "+8613812345678"},
		{"sip:13812345678@10.0.0.1", "13812345678"},
	} {
		t.Run(fmt.Sprintf("%q", tc.in), func(t *testing.T) {
			ref, err := s.OpenForCall(ctx, ticket.CallInfo{CallID: fmt.Sprint("n", i), Caller: tc.in})
			if err != nil {
				t.Fatal(err)
			}
			d, err := s.Ticket(ctx, ref.TicketID)
			if err != nil {
				t.Fatal(err)
			}
			if d.Caller != tc.want {
				t.Errorf("caller = %q, want %q", d.Caller, tc.want)
			}
		})
	}
}

// TestConcurrentOpeningsNumbering: concurrent openings, each call
// delivered twice, share transactions; every call gets one ticket and the
// day's numbers run 0001.. without gaps or repeats.
func TestConcurrentOpeningsNumbering(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	const calls = 40
	var wg sync.WaitGroup
	refs := make([]ticket.Ref, 2*calls)
	for i := range 2 * calls {
		wg.Go(func() {
			var err error
			refs[i], err = s.OpenForCall(ctx, ticket.CallInfo{CallID: fmt.Sprint("dup-", i%calls), Caller: "13800000000"})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	numbers := map[string]int64{}
	for i, r := range refs {
		if other := refs[(i+calls)%(2*calls)]; other.TicketID != r.TicketID {
			t.Errorf("call dup-%d got tickets %d and %d", i%calls, r.TicketID, other.TicketID)
		}
		numbers[r.Number] = r.TicketID
	}
	if len(numbers) != calls {
		t.Fatalf("%d distinct numbers, want %d", len(numbers), calls)
	}
	for n := 1; n <= calls; n++ {
		if _, ok := numbers[fmt.Sprintf("96596-20261130-%04d", n)]; !ok {
			t.Errorf("number %04d missing", n)
		}
	}
	// A later registration continues the count.
	next, err := s.Register(ctx, ticket.NewTicket{Channel: ticket.ChannelQRCode, Caller: "13800000000"})
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("96596-20261130-%04d", calls+1); next.Number != want {
		t.Errorf("next number %s, want %s", next.Number, want)
	}
}

func TestOpenAfterClose(t *testing.T) {
	s, _ := newStore(t)
	s.Close()
	if _, err := s.OpenForCall(context.Background(), ticket.CallInfo{CallID: "late"}); !errors.Is(err, ticket.ErrClosed) {
		t.Errorf("error = %v, want ErrClosed", err)
	}
}

// TestNumbersNeverReused: a day's numbers count on from the highest given
// that day, across restarts, new days, a clock set back past midnight and
// more than 9,999 tickets a day; and tickets cannot be deleted, so no
// number comes free.
func TestNumbersNeverReused(t *testing.T) {
	type open struct {
		at   time.Time
		want string
	}
	for _, tc := range []struct {
		name  string
		opens []open
		// restart after this many openings (0: never)
		restart int
		// tickets of the day registered before, as numbers
		earlier []string
	}{
		{name: "a day counts from 0001", opens: []open{
			{local(2026, 11, 30, 10, 0), "96596-20261130-0001"},
			{local(2026, 11, 30, 10, 1), "96596-20261130-0002"},
		}},
		{name: "a restart counts on", restart: 1, opens: []open{
			{local(2026, 11, 30, 10, 0), "96596-20261130-0001"},
			{local(2026, 11, 30, 10, 1), "96596-20261130-0002"},
		}},
		{name: "a new day starts again", opens: []open{
			{local(2026, 11, 30, 23, 59), "96596-20261130-0001"},
			{local(2026, 12, 1, 0, 0), "96596-20261201-0001"},
		}},
		{name: "a clock set back past midnight counts on the earlier day", opens: []open{
			{local(2026, 11, 30, 23, 0), "96596-20261130-0001"},
			{local(2026, 11, 30, 23, 1), "96596-20261130-0002"},
			{local(2026, 12, 1, 0, 1), "96596-20261201-0001"},
			{local(2026, 11, 30, 23, 59), "96596-20261130-0003"},
			{local(2026, 12, 1, 0, 2), "96596-20261201-0002"},
		}},
		{name: "past 9999 the highest by value", restart: 0,
			earlier: []string{"96596-20261130-9999", "96596-20261130-10000", "96596-20261201-0001"},
			opens:   []open{{local(2026, 11, 30, 10, 0), "96596-20261130-10001"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "ledger.db")
			clk := &clock{}
			openStore := func() *ticket.Store {
				s, err := ticket.Open(ctx, path, ticket.WithClock(clk.Now), ticket.WithCalendar(testCalendar(t)))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			}
			s := openStore()
			for i, n := range tc.earlier {
				if err := ticket.TamperForTest(ctx, s, fmt.Sprintf(`INSERT INTO tickets (number, channel, status, caller, created_at, updated_at)
					VALUES ('%s', 'hotline', 'registered', 'unknown', '2026-11-30 0%d:00:00.000', '2026-11-30 00:00:00.000')`, n, i)); err != nil {
					t.Fatal(err)
				}
			}
			for i, o := range tc.opens {
				if i > 0 && i == tc.restart {
					s.Close()
					s = openStore()
				}
				clk.Set(o.at)
				ref, err := s.OpenForCall(ctx, ticket.CallInfo{CallID: fmt.Sprint("call-", i), Caller: "13800000000"})
				if err != nil {
					t.Fatal(err)
				}
				if ref.Number != o.want {
					t.Errorf("opening %d at %s: number %s, want %s", i, o.at.Format(time.DateTime), ref.Number, o.want)
				}
			}
			if err := ticket.TamperForTest(ctx, s, `DELETE FROM tickets`); err == nil || !strings.Contains(err.Error(), "never deleted") {
				t.Errorf("deleting tickets: %v, want refused", err)
			}
		})
	}
}
