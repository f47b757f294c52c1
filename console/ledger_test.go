package console_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"hotline/console"
	"hotline/ticket"
)

// These tests run the console over the real ledger.

func TestLedgerRecordingAccess(t *testing.T) {
	h := newLedgerHarness(t, console.Config{})
	ctx := t.Context()
	tk := h.open("13812345678", "客运")
	id := int64(tk.ID)
	if err := h.transfer(id, "keyun"); err != nil {
		t.Fatal(err)
	}
	wav := filepath.Join(t.TempDir(), "call.wav")
	audio := append([]byte("RIFF\x24\x00\x00\x00WAVE"), make([]byte, 64)...)
	if err := os.WriteFile(wav, audio, 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := h.store.Ticket(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.store.EndCall(ctx, d.Calls[0].CallID, ticket.CallEnd{Reason: "normal", RecordingPath: wav, RecordingDuration: 3 * time.Second}); err != nil {
		t.Fatal(err)
	}
	rec := fmt.Sprintf("/recordings/%d", d.Calls[0].ID)

	other := h.client(t)
	other.login("u2")
	if resp, _ := other.get(rec); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("another unit: got status %d, want 404", resp.StatusCode)
	}
	own := h.client(t)
	own.login("u1")
	resp, body := own.get(rec)
	if resp.StatusCode != http.StatusOK || body != string(audio) || resp.Header.Get("Content-Type") != "audio/wav" {
		t.Fatalf("own unit: got status %d type %q and %d bytes, want the WAV", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}
	sup := h.client(t)
	sup.login("s1")
	_, page := sup.get(fmt.Sprintf("/tickets/%d", id))
	if !strings.Contains(page, `src="`+rec+`"`) {
		t.Errorf("the ticket page lacks a player of %s", rec)
	}
	d, _ = h.store.Ticket(ctx, id)
	var notes int
	for _, e := range d.Events {
		if e.Kind == string(ticket.ActNote) && strings.Contains(e.Note, "收听通话录音") {
			notes++
		}
	}
	if notes != 1 {
		t.Fatalf("got %d listening notes in the handling process, want 1 (the own unit's)", notes)
	}
}

func TestLedgerConcurrentRepliesOneWins(t *testing.T) {
	h := newLedgerHarness(t, console.Config{})
	tk := h.open("13812345678", "客运")
	id := int64(tk.ID)
	if err := h.transfer(id, "keyun"); err != nil {
		t.Fatal(err)
	}
	c := h.client(t)
	c.login("u1")
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range codes {
		wg.Go(func() {
			v := url.Values{"result": {fmt.Sprintf("回复 %d", i)}, "attest": {"1"}, "csrf": {c.csrf}}
			req, _ := http.NewRequest("POST", c.base+fmt.Sprintf("/tickets/%d/reply", id), strings.NewReader(v.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := c.http.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes[i] = resp.StatusCode
		})
	}
	wg.Wait()
	if !(codes[0] == http.StatusSeeOther && codes[1] == http.StatusConflict || codes[0] == http.StatusConflict && codes[1] == http.StatusSeeOther) {
		t.Fatalf("got statuses %v, want one 303 and one 409", codes)
	}
}

func TestLedgerReturnAndQR(t *testing.T) {
	h := newLedgerHarness(t, console.Config{})
	tk := h.open("13812345678", "客运")
	id := int64(tk.ID)
	if err := h.transfer(id, "keyun"); err != nil {
		t.Fatal(err)
	}
	u := h.client(t)
	u.login("u1")
	if resp, _ := u.postForm(fmt.Sprintf("/tickets/%d/return", id), url.Values{"reason": {"不属于本单位业务"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("return: got status %d, want 303", resp.StatusCode)
	}
	d, _ := h.store.Ticket(t.Context(), id)
	if d.Status != ticket.StatusReturned {
		t.Fatalf("got status %s, want returned", d.Status)
	}
	if _, list := u.get("/unit"); strings.Contains(list, tk.Number) {
		t.Errorf("the returned ticket is still in the unit's queue")
	}

	q := h.client(t)
	resp := q.do("POST", "/qr", url.Values{"kind": {"suggestion"}, "contact": {"rider@example.cn"}, "content": {"请增加夜班车"}}.Encode(), "application/x-www-form-urlencoded", nil)
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("qr: got status %d: %s", resp.StatusCode, body)
	}
	got, err := h.store.Search(t.Context(), ticket.SearchFilter{Channel: ticket.ChannelQRCode})
	if err != nil || len(got) != 1 {
		t.Fatalf("got %d QR tickets (%v), want 1", len(got), err)
	}
	if qt := got[0]; qt.Kind != ticket.KindSuggestion || qt.Contact != "rider@example.cn" || !strings.Contains(body, qt.Number) {
		t.Errorf("got %+v, want the suggestion with the e-mail as its contact and its number shown", qt.Ticket)
	}
}

func TestLedgerReports(t *testing.T) {
	h := newLedgerHarness(t, console.Config{})
	tk := h.open("13812345678", "客运")
	if err := h.transfer(int64(tk.ID), "keyun"); err != nil {
		t.Fatal(err)
	}
	month := tk.Opened.In(time.FixedZone("CST", 8*3600)).Format("2006-01")
	c := h.client(t)
	c.login("s1")
	for _, format := range []string{"html", "csv", "xlsx"} {
		t.Run(format, func(t *testing.T) {
			c.t = t
			resp, body := c.get("/reports/monthly?month=" + month + "&format=" + format)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("got status %d: %s", resp.StatusCode, body)
			}
			switch format {
			case "html", "csv":
				if !strings.Contains(body, month) || !strings.Contains(body, "keyun") {
					t.Fatalf("the report lacks the month or the unit keyun:\n%s", body)
				}
			case "xlsx":
				if cd := resp.Header.Get("Content-Disposition"); !strings.Contains(cd, ".xlsx") {
					t.Errorf("got Content-Disposition %q, want an .xlsx attachment", cd)
				}
				f, err := excelize.OpenReader(bytes.NewReader([]byte(body)))
				if err != nil {
					t.Fatalf("open xlsx: %v", err)
				}
				defer f.Close()
				if sheets := f.GetSheetList(); len(sheets) == 0 {
					t.Fatal("the workbook has no sheet")
				}
			}
		})
	}
	c.t = t
	if resp, body := c.get("/reports/monthly?month=2026-13&format=csv"); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "月份格式") {
		t.Errorf("bad month: got status %d, want 400 with a clear message", resp.StatusCode)
	}
	if _, body := c.get("/assessment?month=" + month); !strings.Contains(body, "<td>客运营销部</td>") {
		t.Errorf("the assessment lacks keyun by its name")
	}
}
