package report_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"hotline/ticket"
	"hotline/ticket/calendar"
	"hotline/ticket/report"
)

var update = flag.Bool("update", false, "rewrite the golden files")

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

var shanghai, _ = time.LoadLocation("Asia/Shanghai")

func at(m time.Month, d, h, min int) time.Time { return time.Date(2026, m, d, h, min, 0, 0, shanghai) }

var dir = report.Directory{
	Lines: []ticket.Line{{Key: "1", ID: "passenger", Name: "客运"}, {Key: "2", ID: "freight", Name: "货运物流"}},
	Units: []ticket.Unit{
		{ID: "keyun", Name: "客运公司", Line: "passenger", Phone: "8001"},
		{ID: "wuliu", Name: "物流公司", Line: "freight", Phone: "8002"},
	},
}

// fixture writes a month of handling into a fresh ledger: made-up
// holidays, not official dates.
func fixture(t *testing.T) (*ticket.Store, *clock) {
	t.Helper()
	ctx := context.Background()
	cc := calendar.DefaultConfig()
	cc.Holidays = []string{"2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06", "2026-10-07"}
	cc.Workdays = []string{"2026-10-10"}
	cal, err := calendar.New(cc)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: at(10, 12, 9, 0)}
	s, err := ticket.Open(ctx, filepath.Join(t.TempDir(), "ledger.db"), ticket.WithClock(clk.Now), ticket.WithCalendar(cal))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.SyncUnits(ctx, dir.Units); err != nil {
		t.Fatal(err)
	}
	open := func(when time.Time, callID, caller, line string) int64 {
		clk.Set(when)
		ref, err := s.OpenForCall(ctx, ticket.CallInfo{CallID: callID, Caller: caller})
		if err != nil {
			t.Fatal(err)
		}
		r, err := s.SetLine(ctx, callID, line)
		if err != nil {
			t.Fatal(err)
		}
		if r.Repeat {
			return r.TicketID
		}
		return ref.TicketID
	}
	do := func(when time.Time, id int64, c ticket.Change) {
		clk.Set(when)
		if _, err := s.Apply(ctx, id, c); err != nil {
			t.Fatalf("%s at %s: %v", c.Action, when, err)
		}
	}
	complaint := ticket.Change{Action: ticket.ActClassify, Kind: ticket.KindComplaint, Content: "司机态度差"}
	reply := ticket.Change{Action: ticket.ActReply, Result: "已批评教育", NoPaymentAttested: true, CCTVPreserved: true}

	// 1: every stage on time, satisfied, closed.
	t1 := open(at(10, 12, 9, 0), "c1", "13800000001", "passenger")
	do(at(10, 12, 9, 10), t1, complaint)
	do(at(10, 12, 9, 30), t1, ticket.Change{Action: ticket.ActTransfer, Unit: "keyun"})
	do(at(10, 12, 10, 0), t1, ticket.Change{Action: ticket.ActSheet})
	do(at(10, 13, 15, 0), t1, reply)
	do(at(10, 14, 10, 0), t1, ticket.Change{Action: ticket.ActCallback, Satisfaction: ticket.Satisfied})
	do(at(10, 14, 10, 5), t1, ticket.Change{Action: ticket.ActClose})
	// 2: transferred late, replied late, dissatisfied: reopened.
	t2 := open(at(10, 12, 10, 0), "c2", "13800000002", "freight")
	do(at(10, 12, 10, 5), t2, complaint)
	do(at(10, 12, 14, 0), t2, ticket.Change{Action: ticket.ActTransfer, Unit: "wuliu"})
	do(at(10, 12, 14, 5), t2, ticket.Change{Action: ticket.ActSheet})
	do(at(10, 16, 9, 0), t2, reply)
	do(at(10, 19, 9, 0), t2, ticket.Change{Action: ticket.ActCallback, Satisfaction: ticket.Dissatisfied})
	// 3: a question answered on the spot.
	t3 := open(at(10, 13, 11, 0), "c3", "13800000003", "passenger")
	do(at(10, 13, 11, 5), t3, ticket.Change{Action: ticket.ActClassify, Kind: ticket.KindQuestion})
	do(at(10, 13, 11, 6), t3, ticket.Change{Action: ticket.ActAnswer, Result: "告知班次"})
	// 4: the caller of 2 again about freight: merged into 2.
	if got := open(at(10, 13, 11, 30), "c4", "13800000002", "freight"); got != t2 {
		t.Fatalf("repeat contact landed on %d, want %d", got, t2)
	}
	// 5: a suggestion by QR code, forwarded.
	clk.Set(at(10, 20, 16, 0))
	r5, err := s.Register(ctx, ticket.NewTicket{Channel: ticket.ChannelQRCode, Caller: "13800000005", Kind: ticket.KindSuggestion, Line: "passenger", Content: "建议增加班次"})
	if err != nil {
		t.Fatal(err)
	}
	do(at(10, 20, 16, 30), r5.TicketID, ticket.Change{Action: ticket.ActForward, Unit: "keyun"})
	// 6: returned by one unit, transferred to the other, never replied.
	t6 := open(at(10, 21, 8, 45), "c6", "13800000006", "passenger")
	do(at(10, 21, 9, 0), t6, complaint)
	do(at(10, 21, 9, 10), t6, ticket.Change{Action: ticket.ActTransfer, Unit: "keyun"})
	do(at(10, 21, 9, 20), t6, ticket.Change{Action: ticket.ActSheet})
	do(at(10, 21, 15, 0), t6, ticket.Change{Action: ticket.ActReturn, Note: "不属本单位"})
	do(at(10, 22, 9, 0), t6, ticket.Change{Action: ticket.ActTransfer, Unit: "wuliu"})
	clk.Set(at(11, 2, 9, 0))
	return s, clk
}

func build(s *ticket.Store) func(ticket.MonthFigures) report.Report {
	return func(f ticket.MonthFigures) report.Report {
		return report.Build(f, s.Deadlines(), dir, report.DefaultRules(), shanghai)
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test ./ticket/report -update to accept):\n%s", name, got)
	}
}

func TestMonthlyReportGolden(t *testing.T) {
	ctx := context.Background()
	s, _ := fixture(t)
	r, frozen, err := report.Get(ctx, s, "2026-10", false, build(s))
	if err != nil {
		t.Fatal(err)
	}
	if frozen != nil {
		t.Fatal("a fresh ledger has a frozen report")
	}
	for _, format := range []string{"html", "csv"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			if err := report.Render(&buf, r, format); err != nil {
				t.Fatal(err)
			}
			golden(t, "2026-10."+format, buf.Bytes())
		})
	}
	t.Run("xlsx", func(t *testing.T) {
		var buf bytes.Buffer
		if err := report.Render(&buf, r, "xlsx"); err != nil {
			t.Fatal(err)
		}
		f, err := excelize.OpenReader(&buf)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		// The workbook holds the same rows as the CSV, sheet by sheet.
		var text bytes.Buffer
		for _, sheet := range f.GetSheetList() {
			rows, err := f.GetRows(sheet)
			if err != nil {
				t.Fatal(err)
			}
			text.WriteString("== " + sheet + "\n")
			for _, row := range rows {
				for i, c := range row {
					if i > 0 {
						text.WriteByte('\t')
					}
					text.WriteString(c)
				}
				text.WriteByte('\n')
			}
		}
		golden(t, "2026-10.xlsx.txt", text.Bytes())
	})
}

func TestPublishedReportIsFrozen(t *testing.T) {
	ctx := context.Background()
	s, clk := fixture(t)
	r, _, err := report.Get(ctx, s, "2026-10", false, build(s))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := report.Publish(ctx, s, r, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := report.Publish(ctx, s, r, false); !errors.Is(err, ticket.ErrPublished) {
		t.Errorf("second publication: %v, want ErrPublished", err)
	}
	// The ledger changes after publication: a late reply to ticket 6.
	clk.Set(at(11, 3, 10, 0))
	d, err := s.TicketForCall(ctx, "c6")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(ctx, d.ID, ticket.Change{Action: ticket.ActReply, NoPaymentAttested: true}); err != nil {
		t.Fatal(err)
	}
	got, frozen, err := report.Get(ctx, s, "2026-10", false, build(s))
	if err != nil {
		t.Fatal(err)
	}
	if frozen == nil || frozen.SHA256 != sum {
		t.Fatalf("frozen = %+v, want the published one with hash %s", frozen, sum)
	}
	if _, gotSum, _ := report.Encode(got); gotSum != sum {
		t.Errorf("the published report drifted: hash %s, want %s", gotSum, sum)
	}
	fresh, frozen, err := report.Get(ctx, s, "2026-10", true, build(s))
	if err != nil || frozen != nil {
		t.Fatalf("forced: frozen %v, err %v", frozen, err)
	}
	if _, freshSum, _ := report.Encode(fresh); freshSum == sum {
		t.Error("a forced report shows the frozen numbers, want today's")
	}
}
