package console_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"hotline/console"
)

func TestQRForm(t *testing.T) {
	valid := url.Values{"kind": {"complaint"}, "name": {"王女士"}, "contact": {"13812345678"}, "content": {"候车室空调不制冷"}}
	with := func(k, v string) string {
		f := url.Values{}
		for key, vals := range valid {
			f[key] = vals
		}
		f.Set(k, v)
		return f.Encode()
	}
	tests := []struct {
		name     string
		body     string
		want     int
		wantText string
		created  bool
	}{
		{"valid", valid.Encode(), http.StatusOK, "您的工单号是", true},
		{"content too long", with("content", strings.Repeat("长", 2001)), http.StatusBadRequest, "“内容”过长：最多 2000 个字", false},
		{"name too long", with("name", strings.Repeat("名", 51)), http.StatusBadRequest, "“姓名”过长", false},
		{"body over 64 KiB", with("content", strings.Repeat("x", 70<<10)), http.StatusRequestEntityTooLarge, "提交的内容过大", false},
		{"contact malformed", with("contact", "call me maybe"), http.StatusBadRequest, "联系方式应为电话号码或电子邮箱", false},
		{"content missing", with("content", "  "), http.StatusBadRequest, "请填写“内容”", false},
		{"kind unknown", with("kind", "praise"), http.StatusBadRequest, "请选择类别", false},
		{"invalid utf-8", with("content", "abc\xff\xfe"), http.StatusBadRequest, "无效字符", false},
		{"control characters", with("content", "abc\x00def"), http.StatusBadRequest, "控制字符", false},
		{"malformed encoding", "content=%zz", http.StatusBadRequest, "表单无法解析", false},
		{"honeypot filled", with("website", "http://spam.example"), http.StatusOK, "谢谢您的意见", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, console.Config{})
			c := h.client(t)
			resp := c.do("POST", "/qr", tt.body, "application/x-www-form-urlencoded", nil)
			body := readAll(t, resp)
			if resp.StatusCode != tt.want {
				t.Fatalf("got status %d, want %d: %s", resp.StatusCode, tt.want, body)
			}
			if !strings.Contains(body, tt.wantText) {
				t.Errorf("the answer lacks %q", tt.wantText)
			}
			got, err := h.ledger.Search(t.Context(), console.Filter{Channel: console.ChannelQR})
			if err != nil {
				t.Fatal(err)
			}
			if created := len(got) == 1; created != tt.created {
				t.Fatalf("got %d QR tickets, want created=%v", len(got), tt.created)
			}
			if tt.created && (got[0].Kind != "complaint" || got[0].Content != "候车室空调不制冷" || !strings.Contains(body, got[0].Number)) {
				t.Errorf("got ticket %+v, want the complaint with its number on the page", got[0])
			}
		})
	}
}

func TestQRFormKeepsInputOnError(t *testing.T) {
	h := newHarness(t, console.Config{})
	c := h.client(t)
	resp := c.do("POST", "/qr", url.Values{"kind": {"suggestion"}, "contact": {"bad"}, "content": {"<b>请增加班次</b>"}}.Encode(), "application/x-www-form-urlencoded", nil)
	body := readAll(t, resp)
	if !strings.Contains(body, "&lt;b&gt;请增加班次&lt;/b&gt;</textarea>") {
		t.Errorf("the form lost the content or did not escape it")
	}
}

func TestQRFormRateLimited(t *testing.T) {
	h := newHarness(t, console.Config{QRSubmissions: 2})
	c := h.client(t)
	body := url.Values{"kind": {"question"}, "contact": {"0571-12345678"}, "content": {"几点发车？"}}.Encode()
	for i, want := range []int{http.StatusOK, http.StatusOK, http.StatusTooManyRequests} {
		resp := c.do("POST", "/qr", body, "application/x-www-form-urlencoded", nil)
		if resp.StatusCode != want {
			t.Fatalf("submission %d: got status %d, want %d", i+1, resp.StatusCode, want)
		}
	}
	got, _ := h.ledger.Search(t.Context(), console.Filter{})
	if len(got) != 2 {
		t.Fatalf("got %d tickets, want 2", len(got))
	}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
