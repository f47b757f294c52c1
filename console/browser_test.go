package console_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"hotline/console"
	"hotline/console/consoletest"
)

// browser is the one headless Chromium of the test binary.
var browser consoletest.Browser

func TestMain(m *testing.M) {
	code := m.Run()
	browser.Close()
	os.Exit(code)
}

var (
	do        = consoletest.Do
	markStale = consoletest.MarkStale
	fresh     = consoletest.Fresh
)

func newTab(t testing.TB) context.Context { return browser.Tab(t) }

func run[T any](t testing.TB, tab context.Context, a chromedp.Action[T]) T {
	return consoletest.Run(t, tab, a)
}

func browserLogin(t testing.TB, tab context.Context, base, name string) {
	consoletest.Login(t, tab, base, name, password)
}

// TestBrowserTicketJourney follows a ticket through the console in a real
// browser: the agent's screen-pop, registration and classification, a
// page refresh during the call, the handling-flow sheet, the transfer;
// the unit's reply and the refused second reply; the supervisor's search,
// timeline and report download. It runs over the real ledger.
func TestBrowserTicketJourney(t *testing.T) {
	h := newLedgerHarness(t, console.Config{MaskCaller: true})
	base := h.srv.URL

	agent := newTab(t)
	browserLogin(t, agent, base, "a1")
	do(t, agent,
		chromedp.WaitVisible(`#stream-state[data-state="open"]`),
		chromedp.Click("#queue-login"),
		chromedp.WaitVisible(`#queue-state`),
	)
	if got := run(t, agent, chromedp.Poll[string](`document.getElementById("queue-state").textContent || null`)); got != "已签入" {
		t.Fatalf("queue login: got %q, want 已签入", got)
	}
	if agents := h.hotline.Agents(); len(agents) != 1 || agents[0].ID != "a1" {
		t.Fatalf("got agents %+v, want a1 logged in through the API", agents)
	}

	tk := h.pop("a1", "13812345678", "客运")
	id := strconv.FormatInt(int64(tk.ID), 10)
	do(t, agent, chromedp.WaitVisible(`#pop[data-ticket="`+id+`"]`), chromedp.WaitVisible(`#work[data-ticket="`+id+`"]`))
	t.Run("pop", func(t *testing.T) {
		for sel, want := range map[string]string{"#pop-number": tk.Number, "#pop-caller": "138****5678", "#pop-line": "客运"} {
			if got := run(t, agent, chromedp.Text(sel)); got != want {
				t.Errorf("%s: got %q, want %q", sel, got, want)
			}
		}
		ms, _ := strconv.Atoi(run(t, agent, chromedp.AttributeValue("#pop", "data-latency")).Value)
		t.Logf("pop latency, bus to DOM: %d ms", ms)
	})

	do(t, agent,
		chromedp.SetValue("#reg-name", "李先生"),
		chromedp.SetValue("#reg-contact", "13812345678"),
		chromedp.SetValue("#reg-content", `候车室空调不制冷 <script>alert(1)</script>`),
		chromedp.Click("#kind-complaint"),
		markStale,
		chromedp.Click("#register"),
		chromedp.WaitVisible(fresh(`#work[data-ticket="`+id+`"]`)),
	)
	if got := run(t, agent, chromedp.Text("#work-kind")); got != "投诉" {
		t.Fatalf("after registration: kind %q, want 投诉", got)
	}
	t.Run("refresh during the call keeps the pop", func(t *testing.T) {
		do(t, agent, markStale, chromedp.Reload(), chromedp.WaitVisible(fresh(`#pop[data-ticket="`+id+`"]`)))
	})

	do(t, agent, markStale, chromedp.Click("#issue-sheet"), chromedp.WaitVisible(fresh("#sheet-ontime")))
	if got := run(t, agent, chromedp.Text("#sheet-number")); got != tk.Number {
		t.Fatalf("sheet: got number %q, want %q", got, tk.Number)
	}

	do(t, agent,
		chromedp.Navigate(base+"/agent?t="+id),
		chromedp.WaitVisible("#transfer"),
		chromedp.SetValue("#transfer-unit", "keyun"),
		chromedp.Click("#transfer"),
		chromedp.WaitVisible(`#transfer-result[data-state="connected"]`),
	)

	unit := newTab(t)
	browserLogin(t, unit, base, "u1")
	do(t, unit,
		chromedp.WaitVisible(`#unit-tickets tr[data-ticket="`+id+`"]`),
		markStale,
		chromedp.Click(`#unit-tickets tr[data-ticket="`+id+`"] a`),
		chromedp.WaitVisible(fresh("#reply-form")),
	)
	if got := run(t, unit, chromedp.Text("#ticket-content")); !strings.Contains(got, "<script>alert(1)</script>") {
		t.Errorf("the unit sees content %q, want the script as text", got)
	}
	reply := func(result string) {
		do(t, unit,
			chromedp.SetValue("#reply-result", result),
			chromedp.Click("#reply-cctv"),
			chromedp.Click("#reply-attest"),
			markStale,
			chromedp.Click("#reply"),
		)
	}
	reply("已核实，向乘客致歉并维修空调")
	do(t, unit, chromedp.WaitVisible(fresh("#replies")))
	reply("第二次回复")
	do(t, unit, chromedp.WaitVisible(fresh("#error-message")))
	if got := run(t, unit, chromedp.Text("#error-message")); !strings.Contains(got, "不能重复回复") {
		t.Errorf("second reply: got %q, want a clear refusal", got)
	}

	sup := newTab(t)
	browserLogin(t, sup, base, "s1")
	do(t, sup,
		chromedp.WaitVisible("#search-form"),
		chromedp.SetValue("#search-text", tk.Number),
		markStale,
		chromedp.Click("#search"),
		chromedp.WaitVisible(fresh(`#results tr[data-ticket="`+id+`"]`)),
		markStale,
		chromedp.Click(`#results tr[data-ticket="`+id+`"] a`),
		chromedp.WaitVisible(fresh("#timeline")),
	)
	timeline := run(t, sup, chromedp.Text("#timeline"))
	for _, want := range []string{"登记分类", "签发处理流程单", "转接单位", "单位回复"} {
		if !strings.Contains(timeline, want) {
			t.Errorf("timeline lacks %q: %s", want, timeline)
		}
	}
	month := time.Now().In(time.FixedZone("CST", 8*3600)).Format("2006-01")
	csv := run(t, sup, chromedp.Evaluate[string](
		`fetch("/reports/monthly?month=`+month+`&format=csv", {credentials: "same-origin"}).then(r => r.ok ? r.text() : "HTTP " + r.status)`,
		chromedp.EvalAwaitPromise))
	if !strings.Contains(csv, month) || !strings.Contains(csv, "keyun") {
		t.Errorf("monthly report CSV lacks the month or the unit keyun: %q", csv)
	}
}

// TestBrowserPopLatency publishes 50 screen-pops on the bus, each when
// the previous one is on screen, and reports the time from publishing to
// the pop being in the page's DOM, measured by the page against the
// event's timestamp (one machine, one clock).
func TestBrowserPopLatency(t *testing.T) {
	h := newHarness(t, console.Config{})
	agent := newTab(t)
	browserLogin(t, agent, h.srv.URL, "a1")
	do(t, agent, chromedp.WaitVisible(`#stream-state[data-state="open"]`))
	const pops = 50
	lat := make([]int, 0, pops)
	for i := range pops {
		tk := h.pop("a1", fmt.Sprintf("1390000%04d", i), "客运")
		sel := `#pop[data-ticket="` + strconv.FormatInt(int64(tk.ID), 10) + `"]`
		do(t, agent, chromedp.WaitVisible(sel, chromedp.RetryInterval(time.Millisecond)))
		ms, err := strconv.Atoi(run(t, agent, chromedp.AttributeValue(sel, "data-latency")).Value)
		if err != nil {
			t.Fatal(err)
		}
		lat = append(lat, ms)
	}
	slices.Sort(lat)
	p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
	t.Logf("screen-pop latency over %d pops, bus publish to DOM: p50 %d ms, p99 %d ms, max %d ms", pops, p50, p99, lat[len(lat)-1])
}
